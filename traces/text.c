/* text.c - UTF-8 decoding, control characters and the JSON string escaper. */
#include "traces/mp_text.h"

#include <stdlib.h>
#include <string.h>

size_t mp_utf8_decode(const char *str, size_t n, uint32_t *cp)
{
    const unsigned char *s = (const unsigned char *)str;
    unsigned char c = s[0];
    size_t len;
    uint32_t v, min;
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xC2 && c <= 0xDF) len = 2, v = c & 0x1F, min = 0x80;
    else if (c >= 0xE0 && c <= 0xEF) len = 3, v = c & 0x0F, min = 0x800;
    else if (c >= 0xF0 && c <= 0xF4) len = 4, v = c & 0x07, min = 0x10000;
    else goto bad; /* continuation byte, C0/C1 (overlong) or F5..FF */
    if (n < len) goto bad;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) goto bad;
        v = v << 6 | (s[i] & 0x3F);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) goto bad;
    *cp = v;
    return len;
bad:
    *cp = MP_TEXT_REPLACEMENT;
    return 1;
}

size_t mp_utf8_encode(uint32_t cp, char *out)
{
    unsigned char *o = (unsigned char *)out;
    if (cp < 0x80) {
        o[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (unsigned char)(0xC0 | cp >> 6);
        o[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (unsigned char)(0xE0 | cp >> 12);
        o[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
        o[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (unsigned char)(0xF0 | cp >> 18);
    o[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3F));
    o[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
    o[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

int mp_text_is_control(uint32_t cp)
{
    return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F) || cp == 0x2028 || cp == 0x2029 ||
           (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069);
}

const char *mp_text_name_problem(const char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t k = mp_utf8_decode(s + i, n - i, &cp);
        if (cp == MP_TEXT_REPLACEMENT && k == 1 && (unsigned char)s[i] >= 0x80) return "is not valid UTF-8";
        if (cp < 0x20 || cp == 0x7F) return "holds a control character";
        i += k;
    }
    return NULL;
}

long long mp_json_nul_escape(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        const char *b = memchr(s + i, '\\', n - i);
        if (!b) break;
        i = (size_t)(b - s);
        if (i + 5 < n && s[i + 1] == 'u' && memcmp(s + i + 2, "0000", 4) == 0) return (long long)i;
        i += 2; /* past the backslash and the character it escapes: "\\\\u0000" is no NUL */
    }
    return -1;
}

/* ---- the JSON escaper, written once against a sink: a stream or a buffer ---- */

typedef struct sink {
    FILE *fp;  /* or NULL: count into n, copy into buf when it is set */
    char *buf;
    size_t n;
} sink;

static void put(sink *k, const char *s, size_t n)
{
    if (k->fp) fwrite(s, 1, n, k->fp);
    else if (k->buf) memcpy(k->buf + k->n, s, n);
    k->n += n;
}

static void json_escape(sink *k, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    put(k, "\"", 1);
    size_t run = 0; /* characters copied as they are, written in one go */
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t len = mp_utf8_decode(s + i, n - i, &cp);
        int bad = cp == MP_TEXT_REPLACEMENT && len == 1;
        if (!bad && cp != '"' && cp != '\\' && !mp_text_is_control(cp)) {
            run += len;
            i += len;
            continue;
        }
        put(k, s + i - run, run);
        run = 0;
        char e[8];
        size_t el = 2;
        e[0] = '\\';
        switch (cp) {
        case '"': e[1] = '"'; break;
        case '\\': e[1] = '\\'; break;
        case '\b': e[1] = 'b'; break;
        case '\f': e[1] = 'f'; break;
        case '\n': e[1] = 'n'; break;
        case '\r': e[1] = 'r'; break;
        case '\t': e[1] = 't'; break;
        default:
            e[1] = 'u';
            for (int d = 0; d < 4; d++) e[2 + d] = hex[cp >> (12 - 4 * d) & 0xF];
            el = 6;
        }
        put(k, e, el);
        i += len;
    }
    put(k, s + n - run, run);
    put(k, "\"", 1);
}

int mp_json_fput(FILE *fp, const char *s, size_t n)
{
    sink k = {fp, NULL, 0};
    json_escape(&k, s, n);
    return ferror(fp) ? -1 : 0;
}

char *mp_json_quote(const char *s, size_t n, size_t *len)
{
    sink k = {NULL, NULL, 0};
    json_escape(&k, s, n);
    char *out = malloc(k.n + 1);
    if (!out) return NULL;
    k.buf = out;
    k.n = 0;
    json_escape(&k, s, n);
    out[k.n] = 0;
    if (len) *len = k.n;
    return out;
}
