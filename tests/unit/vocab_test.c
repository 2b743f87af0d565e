/* vocab_test.c - the output vocabulary: one entry per name, sorted (the
 * lookup is a binary search), families, old spellings, and the baseline
 * metrics being entries of it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "sim/mp_check.h"
#include "traces/mp_vocab.h"

static void test_table_sorted_and_complete(void **state)
{
    (void)state;
    int n;
    const mp_vocab *v = mp_vocab_table(&n);
    assert_true(n > 150);
    for (int i = 0; i < n; i++) {
        assert_non_null(v[i].name);
        assert_true(v[i].name[0] != '\0');
        assert_non_null(v[i].unit);
        assert_true(v[i].unit[0] != '\0');
        assert_non_null(v[i].desc);
        assert_true(strlen(v[i].desc) > 3);
        assert_true(v[i].direction >= MP_DIR_NONE && v[i].direction <= MP_DIR_HIGHER);
        assert_true(v[i].decimals >= -1 && v[i].decimals <= 9);
        if (i) assert_true(strcmp(v[i - 1].name, v[i].name) < 0); /* sorted, no name twice */
        /* every entry is found by its own name, and only by it */
        assert_ptr_equal(mp_vocab_find(v[i].name), &v[i]);
        /* an old spelling is not a current name */
        if (v[i].was) {
            assert_null(mp_vocab_find(v[i].was));
            assert_ptr_equal(mp_vocab_find_was(v[i].was), &v[i]);
        }
    }
}

static void test_lookups(void **state)
{
    (void)state;
    const mp_vocab *m = mp_vocab_find("max_over_mean");
    assert_non_null(m);
    assert_int_equal(m->direction, MP_DIR_LOWER);
    assert_string_equal(m->was, "max_mean");
    assert_ptr_equal(mp_vocab_find("max_over_mean_p99"), m);
    assert_ptr_equal(mp_vocab_find("max_over_mean_mean"), m);
    assert_null(mp_vocab_find("max_over_mean_p42"));
    assert_null(mp_vocab_find("vllm_balancedness_p99")); /* not a distribution */
    assert_int_equal(mp_vocab_find("vllm_balancedness")->direction, MP_DIR_HIGHER);
    assert_string_equal(mp_vocab_find("to_12")->name, "to_");
    assert_null(mp_vocab_find("to_"  "x"));
    assert_null(mp_vocab_find("gpus3")); /* not indexed */
    assert_null(mp_vocab_find("max_mean"));
    assert_null(mp_vocab_find("vllm_bal"));
    assert_null(mp_vocab_find("trtllm_imb"));
    assert_null(mp_vocab_find("sglang_bal"));
    assert_null(mp_vocab_find(""));
    assert_null(mp_vocab_find(NULL));
    assert_string_equal(mp_vocab_find_was("vllm_bal")->name, "vllm_balancedness");
    assert_string_equal(mp_vocab_find_was("plan_max_mean")->name, "plan_max_over_mean");
    assert_string_equal(mp_vocab_find_was("shared")->name, "shared_experts");
    assert_null(mp_vocab_find_was("max_over_mean"));
    assert_string_equal(mp_vocab_direction_name(MP_DIR_LOWER), "lower");
    assert_string_equal(mp_vocab_direction_name(MP_DIR_HIGHER), "higher");
    assert_string_equal(mp_vocab_direction_name(MP_DIR_NONE), "none");
}

/* the baseline metrics are entries of the vocabulary, with a direction */
static void test_metrics_are_words(void **state)
{
    (void)state;
    for (int m = 0; m < MP_METRICS; m++) {
        const mp_vocab *v = mp_metric_at(m);
        assert_non_null(v);
        assert_ptr_equal(mp_vocab_find(v->name), v);
        assert_int_not_equal(v->direction, MP_DIR_NONE);
        assert_true(v->decimals >= 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_sorted_and_complete),
        cmocka_unit_test(test_lookups),
        cmocka_unit_test(test_metrics_are_words),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
