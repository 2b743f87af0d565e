/* stats_test.c - load-vector statistics against hand-computed values. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>

#include "traces/stats/mp_stats.h"

static void test_uniform(void **state)
{
    (void)state;
    double v[10];
    for (int i = 0; i < 10; i++) v[i] = 5;
    mp_layer_stats s;
    assert_int_equal(mp_stats_layer(v, 10, &s, NULL), 0);
    assert_float_equal(s.max_over_mean, 1.0, 1e-12);
    assert_float_equal(s.gini, 0.0, 1e-12);
    assert_float_equal(s.cv, 0.0, 1e-12);
    assert_float_equal(s.entropy_norm, 1.0, 1e-12);
    assert_float_equal(s.top10_share, 0.1, 1e-12);
    assert_int_equal(s.dead, 0);
    assert_int_equal(s.hottest[0], 0); /* ties: lower id first */
}

static void test_one_hot(void **state)
{
    (void)state;
    double v[4] = {0, 0, 8, 0};
    mp_layer_stats s;
    assert_int_equal(mp_stats_layer(v, 4, &s, NULL), 0);
    assert_float_equal(s.max_over_mean, 4.0, 1e-12);
    assert_float_equal(s.gini, 0.75, 1e-12); /* 1 - 1/n for all mass on one */
    assert_float_equal(s.entropy_norm, 0.0, 1e-12);
    assert_int_equal(s.dead, 3);
    assert_int_equal(s.hottest[0], 2);
    assert_float_equal(s.hottest_share[0], 1.0, 1e-12);
    assert_float_equal(s.cv, sqrt(3.0), 1e-12);
}

static void test_hand_values(void **state)
{
    (void)state;
    double v[4] = {1, 2, 3, 4}; /* Gini = (sum_i sum_j |xi-xj|) / (2 n^2 mean) = 20 / (2*16*2.5) = 0.25 */
    mp_layer_stats s;
    assert_int_equal(mp_stats_layer(v, 4, &s, NULL), 0);
    assert_float_equal(s.gini, 0.25, 1e-12);
    assert_float_equal(s.top10_share, 0.4, 1e-12);
    assert_int_equal(s.hottest[0], 3);
    assert_int_equal(s.hottest[3], 0);
    double g[2];
    mp_stats_groups(v, 4, 2, g);
    assert_float_equal(g[0], 3, 0);
    assert_float_equal(g[1], 7, 0);
}

static void test_rank_corr(void **state)
{
    (void)state;
    double a[5] = {1, 2, 3, 4, 5}, b[5] = {10, 20, 30, 40, 50}, c[5] = {5, 4, 3, 2, 1};
    assert_float_equal(mp_stats_rank_corr(a, b, 5), 1.0, 1e-12);
    assert_float_equal(mp_stats_rank_corr(a, c, 5), -1.0, 1e-12);
    double t[4] = {1, 1, 2, 2}, u[4] = {1, 1, 2, 2};
    assert_float_equal(mp_stats_rank_corr(t, u, 4), 1.0, 1e-12);
}

static void test_zero_and_bad(void **state)
{
    (void)state;
    double v[3] = {0, 0, 0};
    mp_layer_stats s;
    assert_int_equal(mp_stats_layer(v, 3, &s, NULL), 0);
    assert_float_equal(s.max_over_mean, 0.0, 0);
    assert_int_equal(s.dead, 3);
    assert_int_equal(mp_stats_layer(v, 0, &s, NULL), MP_EINVAL);
}

static void test_gpu_imbalance(void **state)
{
    (void)state;
    /* 16 experts on 8 GPUs: blocks {0,1} {2,3} ... ; block 0 holds 10 + 6, the rest 2 each */
    double v[16];
    for (int i = 0; i < 16; i++) v[i] = 1;
    v[0] = 10;
    v[1] = 6;
    /* total 16 + 14 = 30, mean GPU 30/8 = 3.75, hottest 16 */
    assert_float_equal(mp_stats_gpu_imbalance(v, 16, 8), 16 / 3.75, 1e-12);
    /* P = E: expert max/mean */
    assert_float_equal(mp_stats_gpu_imbalance(v, 16, 16), 10 / (30.0 / 16), 1e-12);
    assert_float_equal(mp_stats_gpu_imbalance(v, 16, 1), 1.0, 1e-12);
    assert_float_equal(mp_stats_gpu_imbalance(v, 16, 32), 0.0, 0); /* P > E */
    /* uneven split: E = 5 on P = 2: blocks [0,2) and [2,5) */
    double w[5] = {1, 1, 1, 1, 1};
    assert_float_equal(mp_stats_gpu_imbalance(w, 5, 2), 3 / 2.5, 1e-12);
    mp_layer_stats s;
    assert_int_equal(mp_stats_layer(v, 16, &s, NULL), 0);
    assert_float_equal(s.ep8, 16 / 3.75, 1e-12);
    assert_float_equal(s.ep32, 0.0, 0);
    double z[16] = {0};
    assert_float_equal(mp_stats_gpu_imbalance(z, 16, 8), 0.0, 0);
}

static void test_rank_and_summary(void **state)
{
    (void)state;
    double v[6] = {3, 7, 3, 0, 9, 7};
    int32_t order[6];
    assert_int_equal(mp_stats_rank(v, 6, order, NULL), 0);
    const int32_t want[6] = {4, 1, 5, 0, 2, 3}; /* ties: lower id first */
    for (int i = 0; i < 6; i++) assert_int_equal(order[i], want[i]);
    mp_summary sm;
    mp_stats_summarize(v, 6, &sm);
    assert_float_equal(sm.mean, 29 / 6.0, 1e-12);
    assert_float_equal(sm.min, 0, 0);
    assert_float_equal(sm.max, 9, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_uniform), cmocka_unit_test(test_one_hot), cmocka_unit_test(test_hand_values),
        cmocka_unit_test(test_rank_corr), cmocka_unit_test(test_zero_and_bad), cmocka_unit_test(test_gpu_imbalance),
        cmocka_unit_test(test_rank_and_summary),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
