/* stats_holdout_test.c - the held-out split in time (traces/stats/mp_holdout.h):
 * the held-out step count (rounding, clamping to one step on each side,
 * refusals), the split's two parts (contents, model, order) and windows. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "traces/stats/mp_holdout.h"

static int64_t held_of(int64_t steps, double f)
{
    int64_t h = -7;
    mp_err err = {0};
    assert_int_equal(mp_holdout_steps(steps, f, &h, &err), 0);
    return h;
}

static void test_steps_rounding(void **state)
{
    (void)state;
    assert_int_equal(held_of(10, 0.25), 3);  /* 2.5 rounds up */
    assert_int_equal(held_of(10, 0.24), 2);  /* 2.4 rounds down */
    assert_int_equal(held_of(8, 0.25), 2);
    assert_int_equal(held_of(100, 0.05), 5);
    assert_int_equal(held_of(3, 0.5), 2);    /* 1.5 rounds up */
    /* at least one step held out, at least one step to plan from */
    assert_int_equal(held_of(2, 0.25), 1);   /* 0.5 -> 1 */
    assert_int_equal(held_of(2, 0.01), 1);   /* 0.02 -> 0 -> clamped to 1 */
    assert_int_equal(held_of(2, 0.9), 1);    /* 1.8 -> 2 -> clamped to 1 */
    assert_int_equal(held_of(1000, 0.001), 1);
    assert_int_equal(held_of(5, 0.99), 4);
}

static void refused(int64_t steps, double f, const char *needle)
{
    int64_t h = 99;
    mp_err err = {0};
    assert_int_equal(mp_holdout_steps(steps, f, &h, &err), MP_EINVAL);
    assert_int_equal(h, 0);
    assert_non_null(strstr(err.msg, needle));
}

static void test_steps_refused(void **state)
{
    (void)state;
    refused(1, 0.25, "a single matrix cannot be split in time");
    refused(0, 0.25, "0 steps");
    refused(10, 0, "not in (0, 1)");
    refused(10, 1, "not in (0, 1)");
    refused(10, -0.5, "not in (0, 1)");
    refused(10, NAN, "not in (0, 1)");
}

/* S steps x L x E with count = 1000 * step + 10 * layer + expert */
static mp_loads *steps_loads(int32_t S, int32_t L, int32_t E)
{
    mp_loads *l = NULL;
    assert_int_equal(mp_loads_create(&l, S, L, E, NULL), 0);
    for (int32_t s = 0; s < S; s++)
        for (int32_t k = 0; k < L; k++)
            for (int32_t e = 0; e < E; e++) mp_loads_row(l, s, k)[e] = 1000.0 * s + 10.0 * k + e;
    l->has_model = 1;
    l->model.layers = L;
    l->model.experts = E;
    l->model.top_k = 2;
    snprintf(l->model.name, sizeof l->model.name, "%s", "tiny");
    return l;
}

static void check_part(const mp_loads *part, int32_t first, int32_t n, const mp_loads *in)
{
    assert_non_null(part);
    assert_int_equal(part->steps, n);
    assert_int_equal(part->layers, in->layers);
    assert_int_equal(part->experts, in->experts);
    assert_int_equal(part->has_model, 1);
    assert_string_equal(part->model.name, "tiny");
    assert_int_equal(part->model.top_k, 2);
    for (int32_t s = 0; s < n; s++)
        for (int32_t k = 0; k < in->layers; k++)
            for (int32_t e = 0; e < in->experts; e++)
                assert_true(mp_loads_row(part, s, k)[e] == 1000.0 * (first + s) + 10.0 * k + e);
}

static void test_split_two_steps(void **state)
{
    (void)state;
    mp_loads *in = steps_loads(2, 3, 4), *tr = NULL, *ho = NULL;
    mp_err err = {0};
    assert_int_equal(mp_loads_split_time(&tr, &ho, in, 0.5, &err), 0);
    check_part(tr, 0, 1, in);
    check_part(ho, 1, 1, in);
    mp_loads_destroy(tr);
    mp_loads_destroy(ho);
    mp_loads_destroy(in);
}

static void test_split_fractions(void **state)
{
    (void)state;
    mp_loads *in = steps_loads(7, 2, 3);
    const double f[] = {0.1, 0.25, 0.3, 0.5, 0.75, 0.9};
    const int32_t want[] = {1, 2, 2, 4, 5, 6}; /* round(7 f), clamped to 1..6: 0.7, 1.75, 2.1, 3.5, 5.25, 6.3 */
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
        mp_loads *tr = NULL, *ho = NULL;
        mp_err err = {0};
        assert_int_equal(mp_loads_split_time(&tr, &ho, in, f[i], &err), 0);
        check_part(tr, 0, 7 - want[i], in);
        check_part(ho, 7 - want[i], want[i], in);
        mp_loads_destroy(tr);
        mp_loads_destroy(ho);
    }
    mp_loads_destroy(in);
}

static void test_split_one_step_refused(void **state)
{
    (void)state;
    mp_loads *in = steps_loads(1, 2, 3), *tr = (mp_loads *)1, *ho = (mp_loads *)1;
    mp_err err = {0};
    assert_int_equal(mp_loads_split_time(&tr, &ho, in, 0.25, &err), MP_EINVAL);
    assert_null(tr);
    assert_null(ho);
    assert_non_null(strstr(err.msg, "cannot be split in time"));
    mp_loads_destroy(in);
}

static void test_window(void **state)
{
    (void)state;
    mp_loads *in = steps_loads(5, 2, 2), *w = NULL;
    mp_err err = {0};
    assert_int_equal(mp_loads_window(&w, in, 1, 4, &err), 0);
    check_part(w, 1, 3, in);
    mp_loads_destroy(w);
    const int32_t bad[][2] = {{2, 2}, {3, 2}, {-1, 2}, {0, 6}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        w = (mp_loads *)1;
        assert_int_equal(mp_loads_window(&w, in, bad[i][0], bad[i][1], &err), MP_EINVAL);
        assert_null(w);
        assert_non_null(strstr(err.msg, "not a window of 5 steps"));
    }
    mp_loads_destroy(in);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_steps_rounding),     cmocka_unit_test(test_steps_refused),
        cmocka_unit_test(test_split_two_steps),    cmocka_unit_test(test_split_fractions),
        cmocka_unit_test(test_split_one_step_refused), cmocka_unit_test(test_window),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
