/* plan_result_test.c - the planner's results: mp_topology_resolve's rules,
 * mp_plan_evaluate against the calls it replaces, mp_plan_result_of (and
 * of_load, update), mp_plan_metrics_of and the linear baseline. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "planner/mp_planner.h"
#include "tests/unit/plan_helpers.h"

static int resolve(mp_topology *t, int32_t P, int32_t N, int32_t S, int32_t X, int32_t F, int exact, int32_t E,
                   mp_err *err)
{
    mp_topology_request q = {P, N, S, X, F, exact};
    memset(t, 0, sizeof *t);
    return mp_topology_resolve(t, &q, E, err);
}

static void test_topology_rules(void **state)
{
    (void)state;
    mp_topology t;
    mp_err err = {0};
    /* R = E + F + X: the fused shared expert's replicas take slots of their own */
    assert_int_equal(resolve(&t, 8, 0, 0, 8, 8, 0, 256, &err), 0);
    assert_int_equal(t.gpus, 8);
    assert_int_equal(t.nodes, 1);
    assert_int_equal(t.slots_per_gpu, 34);
    assert_int_equal(resolve(&t, 8, 2, 0, -1, 8, 0, 256, &err), 0);
    assert_int_equal(t.slots_per_gpu, 33);
    assert_int_equal(t.nodes, 2);
    assert_int_equal(resolve(&t, 8, 1, 0, 0, 0, 0, 256, &err), 0);
    assert_int_equal(t.slots_per_gpu, 32);
    /* S given outright */
    assert_int_equal(resolve(&t, 4, 1, 40, -1, 4, 0, 12, &err), 0);
    assert_int_equal(t.slots_per_gpu, 40);
    /* exact: no redundant slots, whatever S and X say */
    assert_int_equal(resolve(&t, 4, 1, 0, 4, 0, 1, 12, &err), 0);
    assert_int_equal(t.slots_per_gpu, 3);
    assert_int_equal(resolve(&t, 4, 1, 9, -1, 0, 1, 12, &err), 0);
    assert_int_equal(t.slots_per_gpu, 3);
    assert_int_equal(resolve(&t, 4, 1, 0, 8, 4, 1, 12, &err), 0);
    assert_int_equal(t.slots_per_gpu, 4);
    /* errors name fields, never flags */
    assert_int_equal(resolve(&t, 4, 1, 4, 4, 0, 0, 12, &err), MP_EINVAL);
    assert_string_equal(err.msg, "give redundant or slots_per_gpu, not both");
    assert_int_equal(resolve(&t, 5, 1, 0, -1, 0, 0, 12, &err), MP_EINVAL);
    assert_string_equal(err.msg, "12 slots (12 experts + 0 redundant) do not split over 5 GPUs");
    assert_int_equal(resolve(&t, 8, 1, 0, 4, 8, 0, 256, &err), MP_EINVAL);
    assert_string_equal(err.msg, "268 slots (256 experts + 4 redundant + 8 fused shared) do not split over 8 GPUs");
    assert_int_equal(resolve(&t, 4, 3, 0, -1, 0, 0, 12, &err), MP_EINVAL);
    assert_string_equal(err.msg, "4 GPUs do not split over 3 nodes");
    assert_int_equal(resolve(&t, 0, 1, 0, -1, 0, 0, 12, &err), MP_EINVAL);
    assert_non_null(strstr(err.msg, "gpus"));
    assert_int_equal(resolve(&t, 4, 1, 0, -2, 0, 0, 12, &err), MP_EINVAL);
    assert_non_null(strstr(err.msg, "redundant"));
    assert_int_equal(resolve(&t, 4, 1, 0, -1, -1, 0, 12, &err), MP_EINVAL);
    assert_non_null(strstr(err.msg, "shared_fusion"));
    assert_int_equal(resolve(&t, 4, 1, 1 << 23, -1, 0, 0, 12, &err), MP_EINVAL); /* beyond 2^24 slots */
    assert_null(strstr(err.msg, "--"));
    /* a refused request leaves *out as it was */
    mp_topology keep = {3, 1, 7};
    mp_topology_request bad = {4, 1, 4, 4, 0, 0};
    assert_int_equal(mp_topology_resolve(&keep, &bad, 12, &err), MP_EINVAL);
    assert_int_equal(keep.gpus, 3);
    assert_int_equal(keep.slots_per_gpu, 7);
}

/* The calls mp_plan_evaluate replaces. */
static void expect_same(const mp_plan_result *r, const mp_loads *l, const mp_plan_request *q)
{
    mp_plan *p;
    mp_plan_metrics *m;
    mp_err err = {0};
    assert_int_equal(mp_planner_run(&p, l, q, &err), 0);
    double *w = mp_plan_expert_loads(p, l);
    assert_non_null(w);
    assert_int_equal(mp_plan_metrics_compute(&m, p, w, &err), 0);
    assert_int_equal(r->plan->slots, p->slots);
    assert_int_equal(r->plan->experts, p->experts);
    assert_int_equal(r->plan->shared_id, p->shared_id);
    assert_memory_equal(r->plan->phy2log, p->phy2log, (size_t)p->layers * p->slots * sizeof(int32_t));
    assert_memory_equal(r->load, w, (size_t)p->layers * p->experts * sizeof(double));
    assert_memory_equal(r->metrics->gpu_load, m->gpu_load, (size_t)p->layers * p->topo.gpus * sizeof(double));
    assert_memory_equal(r->metrics->max_over_mean, m->max_over_mean, (size_t)p->layers * sizeof(double));
    assert_true(r->metrics->mean_max_over_mean == m->mean_max_over_mean);
    assert_true(r->metrics->vllm_balancedness == m->vllm_balancedness);
    assert_true(r->metrics->gap_lb_rep == m->gap_lb_rep);
    assert_int_equal(r->metrics->total_duplicates, m->total_duplicates);
    mp_plan_metrics *m2;
    assert_int_equal(mp_plan_metrics_of(&m2, p, l, &err), 0);
    assert_memory_equal(m2->max, m->max, (size_t)p->layers * sizeof(double));
    assert_true(m2->worst_max_over_mean == m->worst_max_over_mean);
    mp_plan_metrics_destroy(m2);
    mp_plan_metrics_destroy(m);
    free(w);
    mp_plan_destroy(p);
}

static void test_evaluate(void **state)
{
    (void)state;
    mp_loads *l = th_zipf(3, 32, 1.2, 500, 7);
    assert_non_null(l);
    const char *names[] = {"eplb", "balanced", "round-robin", "eplb-global"};
    mp_err err = {0};
    for (int i = 0; i < 4; i++) {
        mp_plan_request q = {names[i], {4, 2, 10}, 0, 0.5, 0, 0, 0};
        mp_plan_result *r = NULL;
        int rc = mp_plan_evaluate(&r, l, &q, &err);
        if (!strcmp(names[i], "round-robin")) { /* places no redundant experts: R must be E */
            assert_int_equal(rc, MP_EINVAL);
            assert_null(r);
            q.topo.slots_per_gpu = 8;
            assert_int_equal(mp_plan_evaluate(&r, l, &q, &err), 0);
        } else {
            assert_int_equal(rc, 0);
        }
        expect_same(r, l, &q);
        mp_plan_result_destroy(r);
    }
    /* shared fusion: the result's loads carry the shared expert's column */
    mp_plan_request q = {"balanced", {4, 1, 10}, 0, 0, 4, 4, 0};
    mp_plan_result *r = NULL;
    assert_int_equal(mp_plan_evaluate(&r, l, &q, &err), 0);
    assert_int_equal(r->plan->experts, 33);
    expect_same(r, l, &q);
    double tot = 0;
    for (int32_t e = 0; e < 32; e++) tot += r->load[e];
    assert_true(fabs(r->load[32] - tot / 4) < 1e-9 * tot);
    mp_plan_result_destroy(r);
    /* unknown strategy */
    q.strategy = "nope";
    assert_int_equal(mp_plan_evaluate(&r, l, &q, &err), MP_ENOTFOUND);
    assert_null(r);
    mp_plan_result_destroy(NULL);
    mp_loads_destroy(l);
}

static void test_result_of(void **state)
{
    (void)state;
    mp_loads *l = th_lognormal(2, 16, 1.0, 0.1, 3);
    mp_err err = {0};
    mp_plan_request q = {"eplb", {4, 1, 5}, 0, 0, 0, 0, 0};
    mp_plan *p;
    assert_int_equal(mp_planner_run(&p, l, &q, &err), 0);
    mp_plan_result *r = NULL;
    assert_int_equal(mp_plan_result_of(&r, p, l, &err), 0);
    assert_ptr_equal(r->plan, p); /* taken over, not copied */
    expect_same(r, l, &q);
    /* update: after the plan changes in place, the metrics follow it */
    double before = r->metrics->gpu_load[0];
    int32_t *row = mp_plan_layer(r->plan, 0), S = r->plan->topo.slots_per_gpu, tmp[5];
    memcpy(tmp, row, sizeof tmp);
    memcpy(row, row + S, (size_t)S * sizeof *row); /* swap GPUs 0 and 1 of layer 0 */
    memcpy(row + S, tmp, (size_t)S * sizeof *row);
    assert_int_equal(mp_plan_derive(r->plan, &err), 0);
    double max_before = r->metrics->max[0];
    assert_int_equal(mp_plan_result_update(r, &err), 0);
    assert_true(r->metrics->gpu_load[1] == before);
    assert_true(r->metrics->max[0] == max_before);
    mp_plan_result_destroy(r);

    /* loads of other layers: MP_ESHAPE, the plan freed all the same (ASan) */
    mp_loads *l3 = th_lognormal(3, 16, 1.0, 0.1, 4);
    assert_int_equal(mp_planner_run(&p, l, &q, &err), 0);
    r = (mp_plan_result *)&err; /* overwritten with NULL */
    assert_int_equal(mp_plan_result_of(&r, p, l3, &err), MP_ESHAPE);
    assert_null(r);
    mp_plan_metrics *m = NULL;
    assert_int_equal(mp_planner_run(&p, l, &q, &err), 0);
    assert_int_equal(mp_plan_metrics_of(&m, p, l3, &err), MP_ESHAPE);
    assert_null(m);

    /* of_load: a plan file's matrix, or none */
    double *w = mp_plan_expert_loads(p, l);
    assert_int_equal(mp_plan_result_of_load(&r, p, w, &err), 0);
    assert_ptr_equal(r->load, w);
    assert_non_null(r->metrics);
    expect_same(r, l, &q);
    mp_plan_result_destroy(r);
    assert_int_equal(mp_planner_run(&p, l, &q, &err), 0);
    assert_int_equal(mp_plan_result_of_load(&r, p, NULL, &err), 0);
    assert_null(r->metrics);
    assert_int_equal(mp_plan_result_update(r, &err), 0);
    mp_plan_result_destroy(r);
    mp_loads_destroy(l3);
    mp_loads_destroy(l);
}

static void test_linear_baseline(void **state)
{
    (void)state;
    mp_model m = mp_model_default();
    m.layers = 3;
    m.experts = 32;
    m.top_k = 4;
    mp_err err = {0};
    mp_plan *p = NULL;
    assert_int_equal(mp_plan_linear_baseline(&p, &m, 8, 2, &err), 0);
    assert_string_equal(p->strategy, "linear");
    assert_int_equal(p->topo.gpus, 8);
    assert_int_equal(p->topo.nodes, 2);
    assert_int_equal(p->topo.slots_per_gpu, 4);
    assert_int_equal(p->experts, 32);
    assert_int_equal(p->routed, 32);
    assert_int_equal(p->shared_id, -1);
    assert_int_equal(p->max_replicas, 1);
    for (int32_t l = 0; l < 3; l++)
        for (int32_t s = 0; s < 32; s++) assert_int_equal(mp_plan_layer(p, l)[s], s);
    /* the same placement as the linear strategy */
    mp_loads *ld = th_zipf(3, 32, 1.0, 100, 1);
    mp_plan_request q = {"linear", {8, 2, 4}, 0, 0, 0, 0, 0};
    mp_plan *lp;
    assert_int_equal(mp_planner_run(&lp, ld, &q, &err), 0);
    assert_memory_equal(lp->phy2log, p->phy2log, (size_t)3 * 32 * sizeof(int32_t));
    mp_plan_destroy(lp);
    mp_plan_result *r;
    assert_int_equal(mp_plan_result_of(&r, p, ld, &err), 0);
    expect_same(r, ld, &q);
    mp_plan_result_destroy(r);
    mp_loads_destroy(ld);
    /* none when the experts do not split over the GPUs */
    p = (mp_plan *)&err;
    assert_int_equal(mp_plan_linear_baseline(&p, &m, 6, 1, &err), MP_EINVAL);
    assert_null(p);
    assert_string_equal(err.msg, "linear: 32 slots (32 experts + 0 redundant) do not split over 6 GPUs");
    assert_int_equal(mp_plan_linear_baseline(&p, &m, 4, 3, &err), MP_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_topology_rules),
        cmocka_unit_test(test_evaluate),
        cmocka_unit_test(test_result_of),
        cmocka_unit_test(test_linear_baseline),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
