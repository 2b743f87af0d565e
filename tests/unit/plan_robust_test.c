/* plan_robust_test.c - the robust strategy: its guarantees on awkward shapes
 * (one GPU, slots == experts, many replicas, zero loads, ties, a fused shared
 * expert), determinism, the input checks of its window and batch fields, and
 * what its uncertainty model does (variation earns replicas; sampling noise of
 * a small batch does not). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "planner/mp_planner.h"
#include "tests/unit/plan_helpers.h"

static const mp_strategy *robust(void)
{
    const mp_strategy *s = mp_strategy_find("robust");
    assert_non_null(s);
    return s;
}

/* Every row: ids in range, every expert at least once, no expert twice on a
 * GPU (by identity) where that can be (R <= E x P: no expert needs more
 * copies than there are GPUs), exactly S slots per GPU (the row's length). */
static void check_rows(const int32_t *phy, int32_t L, int32_t E, int32_t P, int32_t S, const int32_t *ident)
{
    int dupfree = (int64_t)P * S <= (int64_t)E * P;
    int32_t R = P * S;
    int32_t *seen = calloc((size_t)E, sizeof *seen);
    assert_non_null(seen);
    for (int32_t l = 0; l < L; l++) {
        const int32_t *row = phy + (int64_t)l * R;
        memset(seen, 0, (size_t)E * sizeof *seen);
        for (int32_t i = 0; i < R; i++) {
            assert_true(row[i] >= 0 && row[i] < E);
            seen[row[i]]++;
        }
        for (int32_t e = 0; e < E; e++) assert_true(seen[e] >= 1);
        for (int32_t g = 0; g < P; g++)
            for (int32_t i = 0; i < S; i++)
                for (int32_t j = i + 1; j < S; j++) {
                    int32_t a = row[g * S + i], b = row[g * S + j];
                    if (dupfree) assert_true((ident ? ident[a] : a) != (ident ? ident[b] : b));
                }
    }
    free(seen);
}

static int32_t *run_input(const mp_strategy_input *in)
{
    int32_t R = in->topo.gpus * in->topo.slots_per_gpu;
    int32_t *phy = malloc((size_t)in->layers * R * sizeof *phy);
    assert_non_null(phy);
    mp_err err = {0};
    assert_int_equal(robust()->run(in, phy, &err), 0);
    check_rows(phy, in->layers, in->experts, in->topo.gpus, in->topo.slots_per_gpu, in->ident);
    return phy;
}

static void shapes(const mp_loads *l, const int32_t (*cfg)[2], int n)
{
    for (int c = 0; c < n; c++) {
        mp_strategy_input in = {l->layers, l->experts, l->count, NULL, 1, {cfg[c][0], 1, cfg[c][1]}, 0, 0, 0, NULL, 0};
        free(run_input(&in));
    }
}

static void test_awkward_shapes(void **state)
{
    (void)state;
    mp_loads *z = th_zipf(3, 16, 1.2, 1e5, 3);
    assert_non_null(z);
    /* one GPU; slots == experts; 64 slots per expert (the most allowed); P == E */
    static const int32_t cfg[][2] = {{1, 16}, {1, 40}, {4, 4}, {16, 1}, {16, 64}, {8, 3}, {16, 2}, {3, 6}};
    shapes(z, cfg, (int)(sizeof cfg / sizeof cfg[0]));
    mp_loads_destroy(z);
}

static void test_zero_and_ties(void **state)
{
    (void)state;
    mp_loads *l;
    assert_int_equal(mp_loads_create(&l, 1, 3, 12, NULL), 0);
    for (int32_t e = 0; e < 12; e++) {
        mp_loads_row(l, 0, 0)[e] = 0;           /* an empty layer  */
        mp_loads_row(l, 0, 1)[e] = 7;           /* all tied        */
        mp_loads_row(l, 0, 2)[e] = e < 2 ? 1e6 : 0; /* two hot, rest dead */
    }
    static const int32_t cfg[][2] = {{4, 3}, {4, 5}, {6, 4}, {2, 12}, {12, 2}};
    shapes(l, cfg, (int)(sizeof cfg / sizeof cfg[0]));
    mp_loads_destroy(l);
}

/* The fused shared expert: the last `fixed` items share one identity and keep
 * one replica each; none two on a GPU. */
static void test_fixed_identity(void **state)
{
    (void)state;
    mp_loads *z = th_zipf(2, 12, 1.0, 1e4, 5);
    int32_t E = 12, F = 4, items = E + F;
    double *w = malloc((size_t)2 * items * sizeof *w);
    int32_t ident[16];
    for (int32_t l = 0; l < 2; l++)
        for (int32_t e = 0; e < items; e++) w[l * items + e] = e < E ? mp_loads_row(z, 0, l)[e] : 5e3;
    for (int32_t e = 0; e < items; e++) ident[e] = e < E ? e : E;
    mp_strategy_input in = {2, items, w, ident, 1, {4, 1, 5}, 0, F, 0, NULL, 0};
    int32_t *phy = run_input(&in);
    for (int32_t l = 0; l < 2; l++) {
        int32_t n = 0;
        for (int32_t i = 0; i < 20; i++) n += ident[phy[l * 20 + i]] == E;
        assert_int_equal(n, F);
    }
    free(phy), free(w);
    mp_loads_destroy(z);
}

/* Same input, same plan; windows too. */
static void test_deterministic(void **state)
{
    (void)state;
    mp_loads *a = th_lognormal(4, 64, 1.0, 0.05, 9);
    int32_t W = 6, L = 4, E = 64;
    double *win = malloc((size_t)W * L * E * sizeof *win), *sum = calloc((size_t)L * E, sizeof *sum);
    th_seed(77);
    for (int64_t i = 0; i < (int64_t)W * L * E; i++) {
        win[i] = floor(a->count[i % (L * E)] * (0.5 + th_unif()));
        sum[i % (L * E)] += win[i];
    }
    mp_strategy_input in = {L, E, sum, NULL, 1, {8, 1, 10}, 0, 0, W, win, 256 * 8};
    int32_t *p1 = run_input(&in), *p2 = run_input(&in);
    assert_memory_equal(p1, p2, (size_t)L * 80 * sizeof *p1);
    free(p1), free(p2), free(win), free(sum);
    mp_loads_destroy(a);
}

/* The window and batch fields are checked like the loads. */
static void test_input_checks(void **state)
{
    (void)state;
    double w[8] = {1, 2, 3, 4, 5, 6, 7, 8}, win[16];
    for (int i = 0; i < 16; i++) win[i] = w[i % 8] / 2;
    int32_t phy[8];
    mp_err err = {0};
    mp_strategy_input in = {1, 8, w, NULL, 1, {4, 1, 2}, 0, 0, 2, win, 0};
    assert_int_equal(robust()->run(&in, phy, &err), 0);
    in.windows = 1;
    assert_int_equal(robust()->run(&in, phy, &err), MP_EINVAL);
    in.windows = MP_PLAN_WINDOWS_MAX + 1;
    assert_int_equal(robust()->run(&in, phy, &err), MP_EINVAL);
    in.windows = 2, in.step_load = NULL;
    assert_int_equal(robust()->run(&in, phy, &err), MP_EINVAL);
    in.step_load = win;
    win[13] = -1;
    assert_int_equal(robust()->run(&in, phy, &err), MP_ERANGE);
    assert_non_null(strstr(err.msg, "window 1"));
    win[13] = 1;
    in.batch_load = -1;
    assert_int_equal(robust()->run(&in, phy, &err), MP_ERANGE);
    in.batch_load = 1.0 / 0.0;
    assert_int_equal(robust()->run(&in, phy, &err), MP_ERANGE);
}

/* A swinging expert and a steady one 3% hotter: the swinging one gets the
 * spare replica; when the served batch is so small that the swing is lost in
 * its sampling noise, the steady, hotter one does. */
static int32_t replicas_of(const int32_t *row, int32_t R, int32_t e)
{
    int32_t n = 0;
    for (int32_t i = 0; i < R; i++) n += row[i] == e;
    return n;
}

static void test_variation_gets_replicas(void **state)
{
    (void)state;
    enum { E = 8, W = 8 };
    double sum[E] = {0}, win[W * E];
    for (int32_t k = 0; k < W; k++)
        for (int32_t e = 0; e < E; e++) {
            double v = 1000;
            if (e == 0) v = k % 2 ? 1900 : 100; /* swings: mean 1000 */
            if (e == 1) v = 1030;               /* steady, 3% hotter */
            win[k * E + e] = v;
            sum[e] += v;
        }
    int32_t phy[9];
    mp_err err = {0};
    /* 3 GPUs x 3 slots: one spare slot */
    mp_strategy_input in = {1, E, sum, NULL, 1, {3, 1, 3}, 0, 0, W, win, 0};
    assert_int_equal(robust()->run(&in, phy, &err), 0);
    assert_int_equal(replicas_of(phy, 9, 0), 2);
    assert_int_equal(replicas_of(phy, 9, 1), 1);
    in.batch_load = 1e-3;
    assert_int_equal(robust()->run(&in, phy, &err), 0);
    assert_int_equal(replicas_of(phy, 9, 0), 1);
    assert_int_equal(replicas_of(phy, 9, 1), 2);
}

/* Through the planner: a loads file with steps reaches robust as windows, and
 * the registry's strategies all accept the windowed input. */
static void test_planner_windows(void **state)
{
    (void)state;
    mp_loads *l;
    assert_int_equal(mp_loads_create(&l, 100, 2, 16, NULL), 0);
    th_seed(4);
    for (int64_t i = 0; i < (int64_t)100 * 2 * 16; i++) l->count[i] = floor(100 * th_unif() * (1 + (i % 16 == 3) * 9));
    for (int i = 0; i < mp_strategy_count(); i++) {
        const mp_strategy *s = mp_strategy_at(i);
        mp_plan_request rq = {s->name, {4, 1, s->redundant ? 5 : 4}, 1, 0, 0, 0, 64};
        mp_plan *p = NULL;
        mp_err err = {0};
        assert_int_equal(mp_planner_run(&p, l, &rq, &err), 0);
        if (!strcmp(s->name, "robust") || !strcmp(s->name, "balanced"))
            check_rows(p->phy2log, 2, 16, 4, rq.topo.slots_per_gpu, NULL);
        mp_plan_destroy(p);
    }
    mp_loads_destroy(l);
}

/* In-sample: one matrix of Zipf loads is packed as tightly as balanced packs
 * it (within 0.1%). */
static void test_in_sample(void **state)
{
    (void)state;
    mp_loads *z = th_zipf(8, 64, 1.0, 1e6, 21);
    const char *names[] = {"robust", "balanced"};
    double mm[2];
    for (int i = 0; i < 2; i++) {
        mp_plan_request rq = {names[i], {16, 1, 5}, 1, 0, 0, 0, 0};
        mp_plan *p;
        mp_plan_metrics *m;
        assert_int_equal(mp_planner_run(&p, z, &rq, NULL), 0);
        assert_int_equal(mp_plan_metrics_of(&m, p, z, NULL), 0);
        mm[i] = m->mean_max_over_mean;
        assert_int_equal(m->total_duplicates, 0);
        mp_plan_metrics_destroy(m);
        mp_plan_destroy(p);
    }
    print_message("in-sample max/mean: robust %.6f, balanced %.6f\n", mm[0], mm[1]);
    assert_true(mm[0] <= 1.001);
    assert_true(mm[0] <= mm[1] * 1.001);
    mp_loads_destroy(z);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_awkward_shapes),   cmocka_unit_test(test_zero_and_ties),
        cmocka_unit_test(test_fixed_identity),   cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_input_checks),     cmocka_unit_test(test_variation_gets_replicas),
        cmocka_unit_test(test_planner_windows),  cmocka_unit_test(test_in_sample),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
