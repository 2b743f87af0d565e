/* error_test.c - the error convention and the model header. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "traces/mp_error.h"
#include "traces/mp_model.h"

static void test_strerror_all_codes(void **state)
{
    (void)state;
    for (int c = 0; c >= MP_ECODE_MIN; c--) {
        assert_non_null(mp_strerror(c));
        assert_string_not_equal(mp_strerror(c), "unknown error");
    }
    assert_string_equal(mp_strerror(-999), "unknown error");
}

/* one list: every code from 0 down to MP_ECODE_MIN has a distinct name and
 * description, the names spell the constants, and the list has no gap */
static void test_errno_map(void **state)
{
    (void)state;
    assert_string_equal(mp_err_name(MP_OK), "MP_OK");
    assert_string_equal(mp_err_name(MP_EFORMAT), "MP_EFORMAT");
    assert_string_equal(mp_err_name(MP_ENOTFOUND), "MP_ENOTFOUND");
    assert_string_equal(mp_strerror(MP_EFORMAT), "malformed input");
    assert_int_equal(MP_ECODE_MIN, MP_ENOTFOUND);
    assert_string_equal(mp_err_name(MP_ECODE_MIN - 1), "MP_E_UNKNOWN");
    assert_string_equal(mp_err_name(1), "MP_E_UNKNOWN");
    int seen = 0;
#define XX(name, val, desc)                                   \
    assert_int_equal(MP_##name, val);                         \
    assert_string_equal(mp_err_name(val), "MP_" #name);       \
    assert_string_equal(mp_strerror(val), desc);              \
    assert_true(val < 0 && val >= MP_ECODE_MIN);              \
    seen++;
    MP_ERRNO_MAP(XX)
#undef XX
    assert_int_equal(seen, -MP_ECODE_MIN);
    for (int a = 0; a >= MP_ECODE_MIN; a--)
        for (int b = a - 1; b >= MP_ECODE_MIN; b--) {
            assert_string_not_equal(mp_err_name(a), mp_err_name(b));
            assert_string_not_equal(mp_strerror(a), mp_strerror(b));
        }
}

static void test_err_set_one_line(void **state)
{
    (void)state;
    mp_err e;
    assert_int_equal(mp_err_set(&e, MP_EFORMAT, "a.mpt: offset %d:\nbad", 12), MP_EFORMAT);
    assert_int_equal(e.code, MP_EFORMAT);
    assert_string_equal(e.msg, "a.mpt: offset 12: bad");
    assert_int_equal(mp_err_set(NULL, MP_EIO, "ignored"), MP_EIO);
    mp_err_clear(&e);
    assert_int_equal(e.code, 0);
}

static void test_mul_size(void **state)
{
    (void)state;
    size_t out;
    assert_int_equal(mp_mul_size(1000, 1000, 1u << 30, &out), 0);
    assert_int_equal(out, 1000000);
    assert_int_equal(mp_mul_size(SIZE_MAX / 2, 3, SIZE_MAX, &out), MP_ELIMIT);
    assert_int_equal(mp_mul_size(1 << 20, 1 << 20, 1u << 30, &out), MP_ELIMIT);
}

static void test_model_roundtrip(void **state)
{
    (void)state;
    mp_model m = mp_model_default();
    strcpy(m.name, "deepseek-v3");
    m.layers = 58;
    m.experts = 256;
    m.top_k = 8;
    m.groups = 8;
    m.topk_group = 4;
    m.shared = 1;
    m.hidden = 7168;
    m.intermediate = 2048;
    m.scoring = MP_SCORING_SIGMOID;
    m.routed_scaling = 2.5;
    char *js = mp_model_to_json(&m);
    assert_non_null(js);
    mp_model b;
    mp_err e;
    assert_int_equal(mp_model_from_json(&b, js, strlen(js), "x", &e), 0);
    assert_memory_equal(&m, &b, sizeof m);
    free(js);
}

static void test_model_rejects(void **state)
{
    (void)state;
    mp_model m;
    mp_err e;
    const char *bad[] = {
        "{\"layers\": 0, \"experts\": 8, \"top_k\": 2}",
        "{\"layers\": 2, \"experts\": 70000, \"top_k\": 2}",
        "{\"layers\": 2, \"experts\": 8, \"top_k\": 9}",
        "{\"layers\": 2, \"experts\": 8, \"top_k\": 2, \"groups\": 3}",
        "{\"layers\": 2, \"experts\": 8, \"top_k\": 5, \"groups\": 4, \"topk_group\": 2}",
        "{\"layers\": 2.5, \"experts\": 8, \"top_k\": 2}",
        "{\"experts\": 8, \"top_k\": 2}",
        "[1, 2]",
        "{\"layers\": 1e300, \"experts\": 8, \"top_k\": 2}",
        "{\"layers\": 2, \"experts\": 8, \"top_k\": 2, \"scoring\": \"tanh\"}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        int rc = mp_model_from_json(&m, bad[i], strlen(bad[i]), "hdr", &e);
        assert_true(rc < 0);
        assert_non_null(strstr(e.msg, "hdr"));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_strerror_all_codes), cmocka_unit_test(test_errno_map), cmocka_unit_test(test_err_set_one_line),
        cmocka_unit_test(test_mul_size),           cmocka_unit_test(test_model_roundtrip),
        cmocka_unit_test(test_model_rejects),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
