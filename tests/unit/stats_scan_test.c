/* stats_scan_test.c - one pass over tests/data/small.mpt: sums against
 * mp_loads_count per step, step ranges, threads, and the per-step figures
 * against a brute-force computation from the per-step matrices. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "traces/stats/mp_loads_read.h"
#include "traces/stats/mp_stats.h"

#define SMALL MP_TEST_DATA "/small.mpt"

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static mp_loads *per_step(void)
{
    mp_trace *t;
    mp_loads *l;
    assert_int_equal(mp_trace_open(&t, SMALL, NULL, NULL), 0);
    assert_int_equal(mp_loads_count(&l, t, 0, -1, 1, NULL), 0);
    mp_trace_close(t);
    return l;
}

static void scan(int threads, int64_t b, int64_t e, mp_loads **sum, mp_stepvar **sv, mp_scan_totals *tot)
{
    mp_trace *t;
    mp_read_opts ro;
    memset(&ro, 0, sizeof ro);
    ro.threads = threads;
    assert_int_equal(mp_trace_open(&t, SMALL, &ro, NULL), 0);
    mp_scan_opts o = {b, e, threads, 1, NULL, NULL};
    mp_err err = {0};
    int rc = mp_stats_scan(t, &o, sum, sv, tot, &err);
    if (rc) fprintf(stderr, "%s\n", err.msg);
    assert_int_equal(rc, 0);
    mp_trace_close(t);
}

static void test_sum_and_threads(void **state)
{
    (void)state;
    mp_loads *ps = per_step(), *a, *b;
    mp_stepvar *sa, *sb;
    mp_scan_totals ta, tb;
    scan(1, 0, -1, &a, &sa, &ta);
    scan(2, 0, -1, &b, &sb, &tb);
    assert_int_equal(ta.steps, ps->steps);
    assert_int_equal(ta.steps, 3);
    assert_int_equal(ta.tokens, 224);
    assert_int_equal(tb.tokens, 224);
    int64_t cells = (int64_t)ps->layers * ps->experts;
    for (int64_t i = 0; i < cells; i++) {
        double s = 0;
        for (int32_t st = 0; st < ps->steps; st++) s += ps->count[st * cells + i];
        assert_float_equal(a->count[i], s, 0);
        assert_float_equal(b->count[i], s, 0);
    }
    /* every layer's load is tokens * K */
    for (int32_t l = 0; l < a->layers; l++) {
        double s = 0;
        for (int32_t e = 0; e < a->experts; e++) s += mp_loads_row(a, 0, l)[e];
        assert_float_equal(s, 224.0 * a->model.top_k, 0);
    }
    for (int32_t l = 0; l < ps->layers; l++)
        for (int m = 0; m < MP_STEPVAR_METRICS; m++) {
            mp_dist x, y;
            mp_stepvar_get(sa, l, m, &x);
            mp_stepvar_get(sb, l, m, &y);
            assert_memory_equal(&x, &y, sizeof x);
            /* brute force over the per-step matrices */
            double v[8];
            int64_t n = 0;
            for (int32_t st = 0; st < ps->steps; st++) {
                const double *row = mp_loads_row(ps, st, l);
                int32_t P = m == MP_STEPVAR_MAXMEAN ? ps->experts : m == MP_STEPVAR_EP8 ? 8 : 32;
                v[n++] = mp_stats_gpu_imbalance(row, ps->experts, P);
            }
            qsort(v, (size_t)n, sizeof *v, cmp_d);
            assert_int_equal(x.n, n);
            assert_float_equal(x.p50, v[1], 1e-12);
            assert_float_equal(x.p90, v[2], 1e-12);
            assert_float_equal(x.max, v[2], 1e-12);
            assert_float_equal(x.mean, (v[0] + v[1] + v[2]) / 3, 1e-12);
        }
    mp_loads_destroy(ps);
    mp_loads_destroy(a);
    mp_loads_destroy(b);
    mp_stepvar_destroy(sa);
    mp_stepvar_destroy(sb);
}

static void test_range(void **state)
{
    (void)state;
    mp_loads *ps = per_step(), *a;
    mp_stepvar *sv;
    mp_scan_totals t;
    scan(1, 1, 2, &a, &sv, &t);
    assert_int_equal(t.steps, 1);
    int64_t cells = (int64_t)ps->layers * ps->experts;
    for (int64_t i = 0; i < cells; i++) assert_float_equal(a->count[i], ps->count[cells + i], 0);
    mp_loads_destroy(a);
    mp_stepvar_destroy(sv);
    /* a range past the end */
    mp_trace *tr;
    mp_err err = {0};
    assert_int_equal(mp_trace_open(&tr, SMALL, NULL, NULL), 0);
    mp_scan_opts o = {7, -1, 1, 1, NULL, NULL};
    assert_int_equal(mp_stats_scan(tr, &o, &a, &sv, &t, &err), MP_ERANGE);
    assert_null(a);
    assert_null(sv);
    mp_trace_close(tr);
    mp_loads_destroy(ps);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sum_and_threads),
        cmocka_unit_test(test_range),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
