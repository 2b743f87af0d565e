/* plan_migrate_test.c - the assignment solver and migration-aware
 * relabelling: optimal on small cases, loads unchanged, staying experts keep
 * their slots. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "planner/mp_planner.h"
#include "tests/unit/plan_helpers.h"

static void test_assignment_bruteforce(void **state)
{
    (void)state;
    for (uint64_t seed = 1; seed <= 40; seed++) {
        th_seed(seed);
        int32_t n = 1 + (int32_t)(seed % 6);
        int64_t cost[36];
        for (int i = 0; i < n * n; i++) cost[i] = (int64_t)(th_next() % 21) - 10;
        int32_t col[6];
        assert_int_equal(mp_assign_min_cost(cost, n, col), 0);
        int64_t got = 0;
        int used[6] = {0};
        for (int i = 0; i < n; i++) {
            assert_false(used[col[i]]);
            used[col[i]] = 1;
            got += cost[i * n + col[i]];
        }
        /* brute force over all permutations (n <= 6) */
        int32_t perm[6];
        for (int i = 0; i < n; i++) perm[i] = i;
        int64_t best = INT64_MAX;
        for (;;) {
            int64_t c = 0;
            for (int i = 0; i < n; i++) c += cost[i * n + perm[i]];
            if (c < best) best = c;
            int i = n - 2;
            while (i >= 0 && perm[i] > perm[i + 1]) i--;
            if (i < 0) break;
            int j = n - 1;
            while (perm[j] < perm[i]) j--;
            int32_t t = perm[i];
            perm[i] = perm[j], perm[j] = t;
            for (int a = i + 1, b = n - 1; a < b; a++, b--) t = perm[a], perm[a] = perm[b], perm[b] = t;
        }
        assert_int_equal(got, best);
    }
}

static mp_plan *run(const mp_loads *l, const char *s)
{
    mp_plan_request rq = {s, {8, 2, 5}, 1, 0, 0, 0, 0};
    mp_plan *p = NULL;
    assert_int_equal(mp_planner_run(&p, l, &rq, NULL), 0);
    return p;
}

static void test_migration(void **state)
{
    (void)state;
    mp_loads *a = th_zipf(6, 32, 1.0, 1000, 1), *b = th_zipf(6, 32, 1.0, 1000, 1);
    /* b: the same popularity with some experts' loads changed */
    for (int k = 0; k < 6; k++) {
        double *r = mp_loads_row(b, 0, k);
        for (int e = 0; e < 32; e += 5) r[e] = r[e] * 1.5 + 3;
    }
    mp_plan *old = run(a, "balanced"), *neu = run(b, "balanced"), *raw = run(b, "balanced");
    double *w = mp_plan_expert_loads(neu, b);
    mp_plan_metrics *m0, *m1;
    assert_int_equal(mp_plan_metrics_compute(&m0, neu, w, NULL), 0);
    mp_migration mig;
    mp_err err = {0};
    assert_int_equal(mp_plan_migrate(neu, old, 1000, &mig, &err), 0);
    assert_int_equal(mp_plan_metrics_compute(&m1, neu, w, NULL), 0);
    int64_t raw_moved = 0;
    for (int k = 0; k < 6; k++) {
        assert_float_equal(m1->max[k], m0->max[k], 1e-9 * m0->max[k]); /* never increases max load */
        for (int s = 0; s < 40; s++) { /* a staying expert keeps its slot */
            int e = mp_plan_layer(neu, k)[s], g = s / 5, on_old = 0;
            for (int q = g * 5; q < g * 5 + 5; q++) on_old |= mp_plan_layer(old, k)[q] == e;
            if (on_old) assert_int_equal(mp_plan_layer(old, k)[s], e);
        }
        for (int s = 0; s < 40; s++) {
            int e = mp_plan_layer(raw, k)[s], g = s / 5, on = 0;
            for (int q = g * 5; q < g * 5 + 5; q++) on |= mp_plan_layer(old, k)[q] == e;
            raw_moved += !on;
        }
    }
    assert_true(mig.moved_experts <= raw_moved);
    assert_int_equal(mig.moved_experts + mig.kept_experts, 6 * 40);
    assert_int_equal(mig.moved_bytes, mig.moved_experts * 1000);
    /* a plan migrated from itself moves nothing; so does a GPU permutation of it */
    mp_plan *same = run(a, "balanced");
    for (int k = 0; k < 6; k++) { /* swap GPUs 0 and 3 */
        int32_t *r = mp_plan_layer(same, k), t[5];
        memcpy(t, r, sizeof t);
        memcpy(r, r + 15, sizeof t);
        memcpy(r + 15, t, sizeof t);
    }
    assert_int_equal(mp_plan_derive(same, NULL), 0);
    assert_int_equal(mp_plan_migrate(same, old, 1000, &mig, NULL), 0);
    assert_int_equal(mig.moved_experts, 0);
    assert_memory_equal(same->phy2log, old->phy2log, 6 * 40 * sizeof(int32_t));
    /* shapes must match */
    mp_plan_request rq = {"balanced", {4, 1, 10}, 1, 0, 0, 0, 0};
    mp_plan *other;
    assert_int_equal(mp_planner_run(&other, a, &rq, NULL), 0);
    assert_int_equal(mp_plan_migrate(other, old, 0, &mig, &err), MP_ESHAPE);
    mp_plan_destroy(other);
    mp_plan_destroy(same);
    mp_plan_metrics_destroy(m0);
    mp_plan_metrics_destroy(m1);
    free(w);
    mp_plan_destroy(old);
    mp_plan_destroy(neu);
    mp_plan_destroy(raw);
    mp_loads_destroy(a);
    mp_loads_destroy(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_assignment_bruteforce),
        cmocka_unit_test(test_migration),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
