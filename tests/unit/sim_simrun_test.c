/* sim_simrun_test.c - mp_sim_evaluate, the `sim` pipeline as one call,
 * against the calls it strings together (count, plan, evaluate, linear
 * baseline, replay, speedup), on the test trace. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>
#include <string.h>

#include "sim/mp_simrun.h"
#include "traces/stats/mp_loads_read.h"

#define TRACE MP_TEST_DATA "/small.mpt"

static mp_trace_source *open_trace(void)
{
    mp_trace_source *ts = NULL;
    mp_err err = {0};
    int rc = mp_trace_source_open(&ts, TRACE, NULL, &err);
    if (rc) fprintf(stderr, "%s\n", err.msg);
    assert_int_equal(rc, 0);
    return ts;
}

static mp_simrun_opts opts_for(const char *strategy, int32_t P, int32_t N, int32_t X)
{
    mp_simrun_opts o = mp_simrun_opts_default();
    o.request.strategy = strategy;
    mp_topology_request t = {P, N, 0, X, 0, 0};
    assert_int_equal(mp_topology_resolve(&o.request.topo, &t, 256, NULL), 0);
    o.policy = mp_policy_find("modulo");
    return o;
}

/* The same lanes, replayed by hand. */
static void expect_lanes(const mp_simrun *r, const mp_simrun_opts *o)
{
    mp_trace_source *ts = open_trace();
    mp_err err = {0};
    mp_loads *ld;
    assert_int_equal(mp_loads_count(&ld, ts->trace, o->plan_begin, o->plan_end, 0, &err), 0);
    assert_int_equal(ts->src.rewind(ts->src.ctx, &err), 0);
    assert_memory_equal(ld->count, r->loads->count, (size_t)ld->layers * ld->experts * sizeof(double));
    const mp_plan *plans[MP_SIMRUN_LANES_MAX];
    const mp_policy *pols[MP_SIMRUN_LANES_MAX];
    mp_sim_result *res[MP_SIMRUN_LANES_MAX];
    for (int i = 0; i < r->n; i++) {
        plans[i] = r->lane[i].plan;
        pols[i] = r->lane[i].pol;
        mp_plan_metrics *m;
        assert_int_equal(mp_plan_metrics_of(&m, plans[i], ld, &err), 0);
        assert_true(m->mean_max_over_mean == r->lane[i].plan_maxmean);
        mp_plan_metrics_destroy(m);
    }
    assert_int_equal(mp_sim_run_many(res, &ts->src, &r->model, plans, pols, r->n, &o->sim, NULL, NULL, &err), 0);
    for (int i = 0; i < r->n; i++) {
        assert_int_equal(res[i]->steps, r->lane[i].res->steps);
        assert_true(res[i]->total_time_us == r->lane[i].res->total_time_us);
        assert_true(res[i]->run_maxmean == r->lane[i].res->run_maxmean);
        assert_true(res[i]->total_net_bytes == r->lane[i].res->total_net_bytes);
        if (r->baseline >= 0)
            assert_true(r->lane[i].speedup == res[r->baseline]->total_time_us / res[i]->total_time_us);
        else
            assert_true(isnan(r->lane[i].speedup));
    }
    for (int i = 0; i < r->n; i++) mp_sim_result_destroy(res[i]);
    mp_loads_destroy(ld);
    mp_trace_source_close(ts);
}

static void test_plan_and_baseline(void **state)
{
    (void)state;
    mp_simrun_opts o = opts_for("eplb", 8, 2, 8);
    mp_trace_source *ts = open_trace();
    mp_simrun *r = NULL;
    mp_err err = {0};
    assert_int_equal(mp_sim_evaluate(&r, ts, NULL, &o, NULL, NULL, &err), 0);
    assert_int_equal(r->n, 2);
    assert_string_equal(r->lane[0].label, "eplb");
    assert_string_equal(r->lane[1].label, "linear");
    assert_int_equal(r->baseline, 1);
    assert_ptr_equal(r->lane[0].plan, r->placed->plan);
    assert_ptr_equal(r->lane[1].plan, r->linear->plan);
    assert_int_equal(r->lane[0].plan->topo.slots_per_gpu, 33);
    assert_int_equal(r->lane[1].plan->topo.slots_per_gpu, 32);
    assert_int_equal(r->lane[1].plan->topo.nodes, 2);
    assert_string_equal(r->lane[1].pol->name, "vllm-modulo");
    assert_true(r->lane[1].speedup == 1.0);
    assert_null(r->sweep);
    /* the plan is the planner's on the counted loads */
    mp_plan_result *pr;
    assert_int_equal(mp_plan_evaluate(&pr, r->loads, &o.request, &err), 0);
    assert_memory_equal(pr->plan->phy2log, r->placed->plan->phy2log,
                        (size_t)pr->plan->layers * pr->plan->slots * sizeof(int32_t));
    mp_plan_result_destroy(pr);
    expect_lanes(r, &o);
    mp_simrun_destroy(r);
    mp_trace_source_close(ts);
}

static void test_policies_steps_threads(void **state)
{
    (void)state;
    mp_simrun_opts o = opts_for("balanced", 8, 1, 16);
    o.policy = NULL; /* every policy */
    o.plan_begin = 1;
    o.plan_end = 2;
    o.sim.threads = 2;
    o.sim.keep_series = 1;
    mp_trace_source *ts = open_trace();
    mp_simrun *r = NULL;
    mp_err err = {0};
    assert_int_equal(mp_sim_evaluate(&r, ts, NULL, &o, NULL, NULL, &err), 0);
    assert_int_equal(r->n, mp_policy_count() + 1);
    for (int i = 0; i < mp_policy_count(); i++) {
        assert_ptr_equal(r->lane[i].pol, &mp_policy_table()[i]);
        assert_non_null(r->lane[i].res->series);
    }
    assert_int_equal(r->baseline, mp_policy_count());
    expect_lanes(r, &o);
    mp_simrun_destroy(r);
    mp_trace_source_close(ts);
}

static void test_no_baseline(void **state)
{
    (void)state;
    mp_err err = {0};
    mp_simrun *r = NULL;
    /* asked for none */
    mp_simrun_opts o = opts_for("eplb", 8, 1, 8);
    o.baseline = 0;
    mp_trace_source *ts = open_trace();
    assert_int_equal(mp_sim_evaluate(&r, ts, NULL, &o, NULL, NULL, &err), 0);
    assert_int_equal(r->n, 1);
    assert_int_equal(r->baseline, -1);
    assert_null(r->linear);
    expect_lanes(r, &o);
    mp_simrun_destroy(r);
    mp_trace_source_close(ts);
    /* none exists: 256 experts do not split over 6 GPUs */
    o = opts_for("eplb", 6, 1, 8);
    ts = open_trace();
    assert_int_equal(mp_sim_evaluate(&r, ts, NULL, &o, NULL, NULL, &err), 0);
    assert_int_equal(r->n, 1);
    assert_int_equal(r->baseline, -1);
    assert_true(isnan(r->lane[0].speedup));
    mp_simrun_destroy(r);
    mp_trace_source_close(ts);
}

static void test_given_plan(void **state)
{
    (void)state;
    mp_err err = {0};
    mp_simrun *r = NULL;
    mp_simrun_opts o = mp_simrun_opts_default();
    o.policy = mp_policy_find("local");
    mp_trace_source *ts = open_trace();
    mp_model m = *mp_trace_model(ts->trace);
    /* a linear plan is its own baseline */
    mp_plan *p;
    assert_int_equal(mp_plan_linear_baseline(&p, &m, 8, 2, &err), 0);
    assert_int_equal(mp_sim_evaluate(&r, ts, p, &o, NULL, NULL, &err), 0);
    assert_int_equal(r->n, 1);
    assert_int_equal(r->baseline, 0);
    assert_ptr_equal(r->placed->plan, p);
    assert_true(r->lane[0].speedup == 1.0);
    assert_string_equal(r->lane[0].pol->name, "local");
    expect_lanes(r, &o);
    mp_simrun_destroy(r);
    mp_trace_source_close(ts);
    /* a plan of another shape: refused, and freed (ASan) */
    m.layers = 3;
    assert_int_equal(mp_plan_linear_baseline(&p, &m, 8, 1, &err), 0);
    ts = open_trace();
    assert_int_equal(mp_sim_evaluate(&r, ts, p, &o, NULL, NULL, &err), MP_ESHAPE);
    assert_null(r);
    assert_non_null(strstr(err.msg, "3 layers"));
    mp_trace_source_close(ts);
}

static void test_sweep(void **state)
{
    (void)state;
    mp_err err = {0};
    mp_simrun *r = NULL;
    mp_simrun_opts o = opts_for("balanced", 8, 2, 8);
    const double loc[2] = {0, 1};
    o.sweep = loc;
    o.nsweep = 2;
    mp_trace_source *ts = open_trace();
    assert_int_equal(mp_sim_evaluate(&r, ts, NULL, &o, NULL, NULL, &err), 0);
    assert_non_null(r->sweep);
    assert_int_equal(r->n, 0);
    assert_null(r->placed);
    assert_int_equal(r->sweep->n, 5);
    assert_string_equal(r->sweep->pt[0].label, "balanced@0.00");
    assert_string_equal(r->sweep->pt[4].label, "linear");
    assert_true(r->sweep->pt[4].speedup == 1.0);
    /* the same as the sweep called on its own */
    mp_trace_source *t2 = open_trace();
    mp_sweep_result *s;
    mp_sim_opts so = o.sim;
    so.policy = o.policy;
    assert_int_equal(mp_sweep_locality(&s, &t2->src, &r->model, r->loads, &o.request, loc, 2, &so, NULL, NULL, &err), 0);
    for (int i = 0; i < 5; i++) {
        assert_string_equal(s->pt[i].label, r->sweep->pt[i].label);
        assert_true(s->pt[i].plan_maxmean == r->sweep->pt[i].plan_maxmean);
        assert_true(s->pt[i].time_us == r->sweep->pt[i].time_us);
    }
    mp_sweep_result_destroy(s);
    mp_trace_source_close(t2);
    mp_simrun_destroy(r);
    mp_simrun_destroy(NULL);
    mp_trace_source_close(ts);
}

static void test_planner_refuses(void **state)
{
    (void)state;
    mp_err err = {0};
    mp_simrun *r = (mp_simrun *)&err;
    mp_simrun_opts o = opts_for("linear", 8, 1, 8); /* linear places no redundant experts */
    mp_trace_source *ts = open_trace();
    assert_int_equal(mp_sim_evaluate(&r, ts, NULL, &o, NULL, NULL, &err), MP_EINVAL);
    assert_null(r);
    assert_non_null(strstr(err.msg, "linear places no redundant experts"));
    mp_trace_source_close(ts);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plan_and_baseline), cmocka_unit_test(test_policies_steps_threads),
        cmocka_unit_test(test_no_baseline),       cmocka_unit_test(test_given_plan),
        cmocka_unit_test(test_sweep),             cmocka_unit_test(test_planner_refuses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
