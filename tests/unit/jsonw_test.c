/* jsonw_test.c - the one JSON writer: escaping, numbers, layout left to the
 * caller, both sinks, and what it writes parses back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "traces/mp_jsonw.h"

static void test_string_sink(void **state)
{
    (void)state;
    mp_jw w;
    mp_jw_string(&w);
    mp_jw_raw(&w, "{");
    mp_jw_key(&w, "name");
    mp_jw_str(&w, "a\"b\\c\n\x1b[31m");
    mp_jw_raw(&w, ", ");
    mp_jw_key(&w, "n");
    mp_jw_int(&w, -9007199254740993LL);
    mp_jw_raw(&w, ", ");
    mp_jw_key(&w, "x");
    mp_jw_num(&w, 0.1);
    mp_jw_raw(&w, ", ");
    mp_jw_key(&w, "f");
    mp_jw_fixed(&w, 2.0 / 3.0, 4);
    mp_jw_raw(&w, ", ");
    mp_jw_key(&w, "nan");
    mp_jw_num(&w, NAN);
    mp_jw_raw(&w, ", ");
    mp_jw_key(&w, "inf");
    mp_jw_fixed(&w, INFINITY, 2);
    mp_jw_raw(&w, "}");
    assert_int_equal(mp_jw_status(&w), 0);
    char *s = mp_jw_take(&w);
    assert_non_null(s);
    assert_string_equal(s, "{\"name\": \"a\\\"b\\\\c\\n\\u001b[31m\", \"n\": -9007199254740993, "
                           "\"x\": 0.10000000000000001, \"f\": 0.6667, \"nan\": null, \"inf\": null}");
    cJSON *j = cJSON_Parse(s);
    assert_non_null(j);
    assert_string_equal(cJSON_GetObjectItem(j, "name")->valuestring, "a\"b\\c\n\x1b[31m");
    assert_true(cJSON_GetObjectItem(j, "x")->valuedouble == 0.1); /* 17 digits read back exactly */
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(j, "nan")));
    cJSON_Delete(j);
    free(s);
    mp_jw_free(&w); /* after take: nothing left */
}

/* text longer than the writer's stack buffer, and an empty document */
static void test_long_and_empty(void **state)
{
    (void)state;
    char big[1000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = 0;
    mp_jw w;
    mp_jw_string(&w);
    for (int i = 0; i < 50; i++) mp_jw_raw(&w, "%s", big);
    char *s = mp_jw_take(&w);
    assert_non_null(s);
    assert_int_equal(strlen(s), 50 * (sizeof big - 1));
    free(s);
    mp_jw_string(&w);
    s = mp_jw_take(&w);
    assert_non_null(s);
    assert_string_equal(s, "");
    free(s);
}

static void test_file_sink(void **state)
{
    (void)state;
    FILE *fp = tmpfile();
    assert_non_null(fp);
    mp_jw w;
    mp_jw_file(&w, fp);
    mp_jw_raw(&w, "[");
    mp_jw_str(&w, "\xff");
    mp_jw_raw(&w, "]");
    assert_int_equal(mp_jw_status(&w), 0);
    assert_null(mp_jw_take(&w)); /* a stream writer has no string */
    rewind(fp);
    char buf[64] = {0};
    assert_true(fread(buf, 1, sizeof buf - 1, fp) > 0);
    assert_string_equal(buf, "[\"\\ufffd\"]");
    fclose(fp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_string_sink),
        cmocka_unit_test(test_long_and_empty),
        cmocka_unit_test(test_file_sink),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
