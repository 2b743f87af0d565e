/* plan_strategy_test.c - golden cases for every strategy: the EPLB README
 * vector, hand-checked small cases (ties, k == 1 packing, G == N, one GPU,
 * one expert per GPU) and the preconditions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "planner/mp_planner.h"
#include "tests/unit/plan_helpers.h"

static mp_loads *loads_of(int32_t L, int32_t E, const double *w)
{
    mp_loads *l;
    assert_int_equal(mp_loads_create(&l, 1, L, E, NULL), 0);
    memcpy(l->count, w, (size_t)L * E * sizeof *w);
    return l;
}

static mp_plan *plan_of(const mp_loads *l, const char *strategy, int32_t P, int32_t N, int32_t S, int32_t G)
{
    mp_plan_request rq = {strategy, {P, N, S}, G, 0, 0, 0, 0};
    mp_plan *p = NULL;
    mp_err err = {0};
    int rc = mp_planner_run(&p, l, &rq, &err);
    if (rc) fprintf(stderr, "%s\n", err.msg);
    assert_int_equal(rc, 0);
    return p;
}

static void expect_row(const mp_plan *p, int32_t layer, const int32_t *want)
{
    for (int32_t s = 0; s < p->slots; s++) {
        if (mp_plan_layer(p, layer)[s] != want[s]) fprintf(stderr, "layer %d slot %d: %d != %d\n", layer, s, mp_plan_layer(p, layer)[s], want[s]);
        assert_int_equal(mp_plan_layer(p, layer)[s], want[s]);
    }
}

static void test_eplb_readme_vector(void **state)
{
    (void)state;
    const double w[24] = {90, 132, 40, 61, 104, 165, 39, 4, 73, 56, 183, 86,
                          20, 107, 104, 64, 19, 197, 187, 157, 172, 86, 16, 27};
    const int32_t phy[2][16] = {{5, 6, 5, 7, 8, 4, 3, 4, 10, 9, 10, 2, 0, 1, 11, 1},
                                {7, 10, 6, 8, 6, 11, 8, 9, 2, 4, 5, 1, 5, 0, 3, 1}};
    const int32_t cnt[2][12] = {{1, 2, 1, 1, 2, 2, 1, 1, 1, 1, 2, 1}, {1, 2, 1, 1, 1, 2, 2, 1, 2, 1, 1, 1}};
    mp_loads *l = loads_of(2, 12, w);
    mp_plan *p = plan_of(l, "eplb", 8, 2, 2, 4);
    for (int k = 0; k < 2; k++) {
        expect_row(p, k, phy[k]);
        for (int e = 0; e < 12; e++) assert_int_equal(mp_plan_count(p, k, e), cnt[k][e]);
    }
    /* log2phy lists each expert's slots in ascending order, -1 padded */
    assert_int_equal(p->max_replicas, 2);
    assert_int_equal(mp_plan_replicas(p, 0, 5)[0], 0);
    assert_int_equal(mp_plan_replicas(p, 0, 5)[1], 2);
    assert_int_equal(mp_plan_replicas(p, 0, 0)[1], -1);
    mp_plan_destroy(p);
    mp_loads_destroy(l);
}

/* w = [10, 1, 1, 8], 6 slots on 2 GPUs: D'Hondt gives 0 and 3 a second
 * replica; packing [5,1,1,4,5,4] meets ties at 5 and 4 (lower index first,
 * lowest pack on equal loads): GPU0 = {0,3,1}, GPU1 = {0,3,2}. */
static void test_eplb_global_ties(void **state)
{
    (void)state;
    const double w[4] = {10, 1, 1, 8};
    mp_loads *l = loads_of(1, 4, w);
    mp_plan *p = plan_of(l, "eplb-global", 2, 1, 3, 1);
    const int32_t want[6] = {0, 3, 1, 0, 3, 2};
    expect_row(p, 0, want);
    mp_plan_destroy(p);
    /* eplb with G = 1 chooses the global policy: the same */
    p = plan_of(l, "eplb", 2, 1, 3, 1);
    expect_row(p, 0, want);
    mp_plan_destroy(p);
    /* balanced reaches the lower bound 10 on both GPUs, no duplicate */
    p = plan_of(l, "balanced", 2, 1, 3, 1);
    mp_plan_metrics *m;
    assert_int_equal(mp_plan_metrics_compute(&m, p, w, NULL), 0);
    assert_float_equal(m->max[0], 10.0, 1e-12);
    assert_int_equal(m->total_duplicates, 0);
    mp_plan_metrics_destroy(m);
    mp_plan_destroy(p);
    mp_loads_destroy(l);
}

static void test_pack_k1_and_dhondt(void **state)
{
    (void)state;
    const double w[3] = {1, 5, 3};
    int32_t pack[3], place[3];
    assert_int_equal(mp_eplb_pack(w, 3, 3, pack, place), 0);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(pack[i], i); /* n/m == 1: no balancing at all */
        assert_int_equal(place[i], 0);
    }
    /* D'Hondt with ties: first index wins */
    const double v[3] = {6, 6, 3};
    int32_t cnt[3], extra[3];
    assert_int_equal(mp_dhondt(v, 3, 6, 0, cnt, extra), 0);
    assert_int_equal(extra[0], 0); /* 6 vs 6: index 0 */
    assert_int_equal(extra[1], 1); /* 3, 6, 3: expert 1 */
    assert_int_equal(extra[2], 0); /* 3, 3, 3: index 0 */
    assert_int_equal(cnt[0], 3);
    assert_int_equal(cnt[1], 2);
    assert_int_equal(cnt[2], 1);
    /* the cap: nobody above 2 */
    assert_int_equal(mp_dhondt(v, 3, 6, 2, cnt, extra), 0);
    assert_int_equal(cnt[0], 2);
    assert_int_equal(cnt[1], 2);
    assert_int_equal(cnt[2], 2);
}

/* G == N: the node packing does nothing (group g on node g). */
static void test_eplb_g_equals_n(void **state)
{
    (void)state;
    const double w[4] = {1, 3, 5, 2};
    mp_loads *l = loads_of(1, 4, w);
    mp_plan *p = plan_of(l, "eplb", 2, 2, 2, 2);
    const int32_t want[4] = {1, 0, 2, 3};
    expect_row(p, 0, want);
    mp_plan_destroy(p);
    mp_loads_destroy(l);
}

static void test_one_gpu_and_one_expert_per_gpu(void **state)
{
    (void)state;
    const double w[4] = {7, 1, 2, 3};
    mp_loads *l = loads_of(1, 4, w);
    const char *names[] = {"eplb", "eplb-global", "balanced"};
    for (int i = 0; i < 3; i++) { /* one GPU, 6 slots */
        mp_plan *p = plan_of(l, names[i], 1, 1, 6, 1);
        assert_int_equal(mp_plan_count(p, 0, 0), 3); /* D'Hondt: 7, 3.5 > 3 */
        assert_int_equal(mp_plan_count(p, 0, 3), 1);
        mp_plan_destroy(p);
    }
    const char *all[] = {"linear", "round-robin", "group-aware", "eplb", "eplb-global", "balanced"};
    for (int i = 0; i < 6; i++) { /* one expert per GPU */
        mp_plan *p = plan_of(l, all[i], 4, 1, 1, 1);
        for (int e = 0; e < 4; e++) assert_int_equal(mp_plan_count(p, 0, e), 1);
        if (i != 5) {
            const int32_t id[4] = {0, 1, 2, 3};
            expect_row(p, 0, id);
        }
        mp_plan_destroy(p);
    }
    mp_loads_destroy(l);
}

static void test_linear_round_robin_group_aware(void **state)
{
    (void)state;
    double w[8];
    for (int e = 0; e < 8; e++) w[e] = e + 1;
    mp_loads *l = loads_of(1, 8, w);
    mp_plan *p = plan_of(l, "linear", 4, 1, 2, 1);
    const int32_t lin[8] = {0, 1, 2, 3, 4, 5, 6, 7};
    expect_row(p, 0, lin);
    mp_plan_destroy(p);
    p = plan_of(l, "round-robin", 4, 1, 2, 1);
    const int32_t rr[8] = {0, 4, 1, 5, 2, 6, 3, 7};
    expect_row(p, 0, rr);
    mp_plan_destroy(p);
    p = plan_of(l, "group-aware", 4, 1, 2, 4);
    const int32_t ga[8] = {0, 2, 4, 6, 1, 3, 5, 7};
    expect_row(p, 0, ga);
    mp_plan_destroy(p);
    mp_loads_destroy(l);
    /* DeepSeek shape: 256 experts in 8 groups on 32 GPUs: every GPU holds 8 groups, none a whole group */
    mp_loads *z = th_zipf(2, 256, 1.0, 1e4, 3);
    p = plan_of(z, "group-aware", 32, 4, 8, 8);
    for (int g = 0; g < 32; g++) {
        int seen[8] = {0}, n = 0;
        for (int s = 0; s < 8; s++) {
            int grp = mp_plan_layer(p, 0)[g * 8 + s] / 32;
            n += !seen[grp];
            seen[grp]++;
        }
        assert_int_equal(n, 8);
    }
    mp_plan_destroy(p);
    mp_loads_destroy(z);
}

static void test_preconditions(void **state)
{
    (void)state;
    double w[12] = {0};
    for (int e = 0; e < 12; e++) w[e] = e;
    mp_loads *l = loads_of(1, 12, w);
    mp_err err = {0};
    mp_plan *p = NULL;
    mp_plan_request rq = {"linear", {4, 1, 4}, 1, 0, 0, 0, 0};
    assert_int_equal(mp_planner_run(&p, l, &rq, &err), MP_EINVAL); /* redundant slots */
    assert_non_null(strstr(err.msg, "no redundant"));
    rq.strategy = "eplb";
    rq.groups = 5;
    assert_int_equal(mp_planner_run(&p, l, &rq, &err), MP_EINVAL); /* 12 % 5 */
    rq.groups = 4;
    rq.topo.slots_per_gpu = 2;
    assert_int_equal(mp_planner_run(&p, l, &rq, &err), MP_EINVAL); /* 8 slots < 12 experts */
    rq.strategy = "nope";
    assert_int_equal(mp_planner_run(&p, l, &rq, &err), MP_ENOTFOUND);
    rq.strategy = "eplb";
    rq.topo = (mp_topology){4, 3, 3};
    assert_int_equal(mp_planner_run(&p, l, &rq, &err), MP_EINVAL); /* 4 GPUs over 3 nodes */
    /* G % N != 0: EPLB falls back to the global policy */
    rq.topo = (mp_topology){4, 4, 3};
    rq.groups = 2;
    assert_int_equal(mp_planner_run(&p, l, &rq, &err), 0);
    mp_plan *g = plan_of(l, "eplb-global", 4, 4, 3, 2);
    assert_memory_equal(p->phy2log, g->phy2log, 12 * sizeof(int32_t));
    mp_plan_destroy(g);
    mp_plan_destroy(p);
    /* registry */
    assert_int_equal(mp_strategy_count(), 7);
    assert_non_null(mp_strategy_find("robust"));
    assert_non_null(mp_strategy_find("balanced"));
    assert_null(mp_strategy_find("Balanced"));
    mp_loads_destroy(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_eplb_readme_vector), cmocka_unit_test(test_eplb_global_ties),
        cmocka_unit_test(test_pack_k1_and_dhondt), cmocka_unit_test(test_eplb_g_equals_n),
        cmocka_unit_test(test_one_gpu_and_one_expert_per_gpu), cmocka_unit_test(test_linear_round_robin_group_aware),
        cmocka_unit_test(test_preconditions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
