/* stats_steps_test.c - the per-step variation accumulator against a
 * brute-force computation (sorted values, nearest rank), exact and
 * histogram modes, and fed from the counter's integer windows. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "traces/stats/mp__stats.h"
#include "traces/stats/mp_stats.h"

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint32_t next_u32(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 32);
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* brute force: figure of one row */
static double figure(const double *row, int32_t E, int metric)
{
    if (metric == MP_STEPVAR_MAXMEAN) return mp_stats_gpu_imbalance(row, E, E);
    return mp_stats_gpu_imbalance(row, E, metric == MP_STEPVAR_EP8 ? 8 : 32);
}

static double nearest_rank(const double *sorted, int64_t n, double q)
{
    int64_t r = (int64_t)ceil(q * (double)n);
    return sorted[(r < 1 ? 1 : r) - 1];
}

/* S steps of L x E random integer loads (some layers empty now and then) */
static double *random_steps(int64_t S, int32_t L, int32_t E)
{
    double *m = calloc((size_t)(S * L * E), sizeof *m);
    assert_non_null(m);
    for (int64_t s = 0; s < S; s++)
        for (int32_t l = 0; l < L; l++) {
            double *row = m + (s * L + l) * E;
            if (next_u32() % 50 == 0) continue; /* an empty layer in this step */
            int n = 1 + (int)(next_u32() % 200);
            for (int i = 0; i < n; i++) {
                uint32_t r = next_u32();
                row[(r & 3) ? r % (uint32_t)E : (r >> 8) % 3] += 1;
            }
        }
    return m;
}

static void check_against_brute(mp_stepvar *sv, const double *m, int64_t S, int32_t L, int32_t E, double rel)
{
    double *v = malloc((size_t)S * sizeof *v);
    assert_non_null(v);
    for (int32_t l = 0; l < L; l++)
        for (int metric = 0; metric < MP_STEPVAR_METRICS; metric++) {
            int64_t n = 0;
            double sum = 0;
            for (int64_t s = 0; s < S; s++) {
                const double *row = m + (s * L + l) * E;
                double tot = 0;
                for (int32_t e = 0; e < E; e++) tot += row[e];
                if (tot == 0) continue;
                if ((metric == MP_STEPVAR_EP8 && E < 8) || (metric == MP_STEPVAR_EP32 && E < 32)) continue;
                v[n] = figure(row, E, metric);
                sum += v[n++];
            }
            mp_dist d;
            mp_stepvar_get(sv, l, metric, &d);
            assert_int_equal(d.n, n);
            if (n == 0) continue;
            qsort(v, (size_t)n, sizeof *v, cmp_d);
            assert_float_equal(d.mean, sum / (double)n, 1e-9 * d.mean);
            assert_float_equal(d.max, v[n - 1], 1e-12 * d.max);
            assert_int_equal(d.exact, rel == 0);
            double q[3] = {0.5, 0.9, 0.99}, got[3] = {d.p50, d.p90, d.p99};
            for (int i = 0; i < 3; i++) {
                double w = nearest_rank(v, n, q[i]);
                assert_float_equal(got[i], w, rel ? rel * w : 1e-12 * w);
            }
        }
    free(v);
}

static void test_exact(void **state)
{
    (void)state;
    int64_t S = 700;
    int32_t L = 3, E = 64;
    double *m = random_steps(S, L, E);
    mp_stepvar *sv;
    assert_int_equal(mp_stepvar_create(&sv, L, E, NULL), 0);
    for (int64_t s = 0; s < S; s++) assert_int_equal(mp_stepvar_add(sv, m + s * L * E, NULL), 0);
    assert_int_equal(mp_stepvar_steps(sv), S);
    check_against_brute(sv, m, S, L, E, 0);
    mp_stepvar_destroy(sv);
    free(m);
}

static void test_histogram(void **state)
{
    (void)state;
    /* beyond MP_STEPVAR_EXACT: quantiles within one bin (2^(1/1024) - 1 < 0.07%) */
    int64_t S = MP_STEPVAR_EXACT + 1500;
    int32_t L = 1, E = 16;
    double *m = random_steps(S, L, E);
    mp_stepvar *sv;
    assert_int_equal(mp_stepvar_create(&sv, L, E, NULL), 0);
    for (int64_t s = 0; s < S; s++) assert_int_equal(mp_stepvar_add(sv, m + s * L * E, NULL), 0);
    check_against_brute(sv, m, S, L, E, 7e-4);
    mp_stepvar_destroy(sv);
    free(m);
}

/* steps counted from pieces (two pieces per step) give the same figures;
 * E a multiple of 32 takes the fused one-pass route, other E the general one */
static void from_counter(int32_t L, int32_t E, int32_t K)
{
    int64_t S = 300, T = 12;
    mp_counter *c;
    mp_stepvar *a, *b;
    mp_step p = {0};
    double *m = calloc((size_t)(S * L * E), sizeof *m);
    assert_non_null(m);
    assert_int_equal(mp_counter_create(&c, L, E, K, 1, NULL), 0);
    assert_int_equal(mp_stepvar_create(&a, L, E, NULL), 0);
    assert_int_equal(mp_stepvar_create(&b, L, E, NULL), 0);
    assert_int_equal(mp_step_reserve(&p, T, L, K, 0, 0, NULL), 0);
    for (int64_t s = 0; s < S; s++) {
        for (int half = 0; half < 2; half++) {
            for (int64_t i = 0; i < T * L * K; i++) {
                uint32_t r = next_u32();
                p.ids[i] = (mp_expert_id)((r & 1) ? r % (uint32_t)E : (r >> 4) % 5);
                m[(s * L + (i / K) % L) * E + p.ids[i]] += 1;
            }
            assert_int_equal(mp_counter_add(c, &p, NULL), 0);
        }
        assert_int_equal(mp__counter_end_step(c, a, NULL), 0);
        assert_int_equal(mp_stepvar_add(b, m + s * L * E, NULL), 0);
    }
    check_against_brute(a, m, S, L, E, 0);
    for (int32_t l = 0; l < L; l++)
        for (int metric = 0; metric < MP_STEPVAR_METRICS; metric++) {
            mp_dist x, y;
            mp_stepvar_get(a, l, metric, &x);
            mp_stepvar_get(b, l, metric, &y);
            assert_memory_equal(&x, &y, sizeof x);
        }
    mp_step_release(&p);
    mp_counter_destroy(c);
    mp_stepvar_destroy(a);
    mp_stepvar_destroy(b);
    free(m);
}

static void test_from_counter(void **state)
{
    (void)state;
    from_counter(2, 32, 4);
    from_counter(3, 64, 6);
    from_counter(2, 24, 4);
    from_counter(1, 40, 2);
}

static void test_scan_loads(void **state)
{
    (void)state;
    mp_loads *in, *sum;
    mp_stepvar *sv;
    mp_err err = {0};
    assert_int_equal(mp_loads_create(&in, 4, 1, 8, NULL), 0);
    for (int s = 0; s < 4; s++)
        for (int e = 0; e < 8; e++) mp_loads_row(in, s, 0)[e] = e == s ? 9 : 1; /* max/mean = 9 / 2 */
    assert_int_equal(mp_stats_scan_loads(in, 1, 3, &sum, &sv, NULL), 0);
    assert_int_equal(sum->steps, 1);
    assert_float_equal(sum->count[1], 10, 0);
    assert_float_equal(sum->count[2], 10, 0);
    assert_float_equal(sum->count[0], 2, 0);
    mp_dist d;
    mp_stepvar_get(sv, 0, MP_STEPVAR_MAXMEAN, &d);
    assert_int_equal(d.n, 2);
    assert_float_equal(d.p50, 4.5, 1e-12);
    mp_stepvar_get(sv, 0, MP_STEPVAR_EP8, &d);
    assert_float_equal(d.max, 4.5, 1e-12); /* one expert per GPU */
    mp_stepvar_get(sv, 0, MP_STEPVAR_EP32, &d);
    assert_int_equal(d.n, 0); /* E < 32 */
    mp_stepvar_destroy(sv);
    mp_loads_destroy(sum);
    /* one step: no variation */
    assert_int_equal(mp_stats_scan_loads(in, 2, 3, &sum, &sv, NULL), 0);
    assert_null(sv);
    mp_loads_destroy(sum);
    assert_int_equal(mp_stats_scan_loads(in, 4, -1, &sum, &sv, &err), MP_ERANGE);
    assert_null(sum);
    mp_loads_destroy(in);
    mp_stepvar_destroy(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exact),
        cmocka_unit_test(test_histogram),
        cmocka_unit_test(test_from_counter),
        cmocka_unit_test(test_scan_loads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
