/* rng_test.c - the counter-based splittable generator: determinism, stream
 * independence, exact ranges and the moments of its deviates. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <string.h>

#include "traces/mp_rng.h"

static void test_pinned_values(void **state)
{
    (void)state;
    /* pinned outputs: any change of the construction changes every trace */
    mp_rng r = mp_rng_stream(1, 2, 3, 4);
    uint64_t a = mp_rng_u64(&r), b = mp_rng_u64(&r);
    mp_rng s = mp_rng_stream(1, 2, 3, 4);
    assert_true(mp_rng_u64(&s) == a);
    assert_true(mp_rng_u64(&s) == b);
    /* SplitMix64 of key + gamma: the first output of stream k equals the finaliser */
    assert_true(a == mp_rng_mix(r.key + MP_RNG_GAMMA));
    assert_true(mp_rng_mix(0) == 0);
    assert_true(mp_rng_mix(MP_RNG_GAMMA) == 0xe220a8397b1dcdafULL); /* SplitMix64(seed 0) first output */
}

static void test_streams_differ(void **state)
{
    (void)state;
    uint64_t first[4];
    for (int i = 0; i < 4; i++) {
        mp_rng r = mp_rng_stream(7, (uint64_t)(i == 1), (uint64_t)(i == 2), (uint64_t)(i == 3));
        first[i] = mp_rng_u64(&r);
    }
    for (int i = 0; i < 4; i++)
        for (int j = i + 1; j < 4; j++) assert_true(first[i] != first[j]);
    mp_rng a = mp_rng_stream(1, 0, 0, 0), b = mp_rng_stream(2, 0, 0, 0);
    assert_true(mp_rng_u64(&a) != mp_rng_u64(&b));
}

static void test_below_uniform(void **state)
{
    (void)state;
    enum { N = 7, DRAWS = 70000 };
    int count[N] = {0};
    mp_rng r = mp_rng_stream(3, 0, 0, 0);
    for (int i = 0; i < DRAWS; i++) {
        uint32_t v = mp_rng_below(&r, N);
        assert_true(v < N);
        count[v]++;
    }
    /* chi-square with 6 degrees of freedom: P(> 22.46) = 0.001 */
    double chi = 0, e = (double)DRAWS / N;
    for (int i = 0; i < N; i++) chi += (count[i] - e) * (count[i] - e) / e;
    assert_true(chi < 22.46);
    assert_true(mp_rng_below(&r, 1) == 0);
    for (int i = 0; i < 1000; i++) assert_true(mp_rng_below(&r, 3000000000ULL) < 3000000000U);
}

static void test_moments(void **state)
{
    (void)state;
    enum { N = 200000 };
    mp_rng r = mp_rng_stream(5, 1, 2, 3);
    double su = 0, sn = 0, sn2 = 0, sg = 0, se = 0;
    for (int i = 0; i < N; i++) {
        double u = mp_rng_double(&r);
        assert_true(u >= 0 && u < 1);
        su += u;
        double z = mp_rng_normal(&r);
        sn += z;
        sn2 += z * z;
        sg += mp_rng_gumbel(&r);
        se += mp_rng_exp(&r);
    }
    /* 5 standard errors: uniform sd 0.289, normal 1, Gumbel 1.28, exponential 1 */
    double k = 5 / sqrt((double)N);
    assert_true(fabs(su / N - 0.5) < 0.289 * k);
    assert_true(fabs(sn / N) < k);
    assert_true(fabs(sn2 / N - 1) < sqrt(2.0) * k);
    assert_true(fabs(sg / N - 0.5772156649) < 1.283 * k);
    assert_true(fabs(se / N - 1) < k);
}

static void test_shuffle(void **state)
{
    (void)state;
    int32_t p[50];
    int seen[50];
    for (int i = 0; i < 50; i++) p[i] = i;
    mp_rng r = mp_rng_stream(9, 0, 0, 0);
    mp_rng_shuffle(&r, p, 50);
    memset(seen, 0, sizeof seen);
    int moved = 0;
    for (int i = 0; i < 50; i++) {
        seen[p[i]]++;
        moved += p[i] != i;
    }
    for (int i = 0; i < 50; i++) assert_int_equal(seen[i], 1);
    assert_true(moved > 30);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pinned_values), cmocka_unit_test(test_streams_differ), cmocka_unit_test(test_below_uniform),
        cmocka_unit_test(test_moments), cmocka_unit_test(test_shuffle),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
