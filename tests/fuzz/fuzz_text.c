/* fuzz_text.c - the JSON string escaper and the name check (traces/mp_text.h)
 * on arbitrary bytes: the escaped text is one JSON string of valid UTF-8 with
 * no control character in it, and it reads back as the input wherever the
 * input was text. */
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "traces/mp_text.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    size_t n;
    char *q = mp_json_quote(s, size, &n);
    if (!q) return 0;
    if (n != strlen(q) || n < 2 || q[0] != '"' || q[n - 1] != '"') abort();
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t k = mp_utf8_decode(q + i, n - i, &cp);
        if (k == 1 && (unsigned char)q[i] >= 0x80) abort(); /* not UTF-8 */
        if (mp_text_is_control(cp)) abort();
        i += k;
    }
    cJSON *j = cJSON_ParseWithLength(q, n);
    if (!cJSON_IsString(j)) abort();
    /* valid UTF-8 without NUL (which a C string cannot hold) comes back byte for byte */
    int text = memchr(s, 0, size) == NULL;
    for (size_t i = 0; text && i < size;) {
        uint32_t cp;
        size_t k = mp_utf8_decode(s + i, size - i, &cp);
        if (k == 1 && data[i] >= 0x80) text = 0;
        i += k;
    }
    if (text && (strlen(j->valuestring) != size || memcmp(j->valuestring, s, size) != 0)) abort();
    /* a name the check accepts has no C0 control and is UTF-8 */
    if (!mp_text_name_problem(s, size)) {
        if (!text) abort();
        for (size_t i = 0; i < size; i++)
            if (data[i] < 0x20 || data[i] == 0x7F) abort();
    }
    cJSON_Delete(j);
    free(q);
    return 0;
}
