/* sim_rebalance_test.c - static vs online vs oracle across a popularity
 * shift; migration counting; threshold skipping. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "sim/mp_rebalance.h"
#include "tests/unit/sim_helpers.h"

/* Test planner: one copy per expert (E = R), experts by load descending
 * (lowest id on ties) each onto the lightest GPU with a free slot. */
static int lpt_plan(void *ctx, const mp_loads *ld, mp_plan **out, mp_err *err)
{
    const mp_topology *t = ctx;
    mp_plan *p;
    int rc = mp_plan_create(&p, ld->layers, ld->experts, t, err);
    if (rc) return rc;
    int32_t E = ld->experts, spg = t->slots_per_gpu;
    for (int32_t l = 0; l < ld->layers; l++) {
        const double *w = mp_loads_row(ld, 0, l);
        int32_t order[64], fill[16] = {0};
        double load[16] = {0};
        for (int32_t e = 0; e < E; e++) order[e] = e;
        for (int32_t i = 1; i < E; i++) /* insertion sort: stable, total */
            for (int32_t j = i; j > 0 && w[order[j]] > w[order[j - 1]]; j--) {
                int32_t x = order[j];
                order[j] = order[j - 1];
                order[j - 1] = x;
            }
        for (int32_t i = 0; i < E; i++) {
            int32_t best = -1;
            for (int32_t g = 0; g < t->gpus; g++)
                if (fill[g] < spg && (best < 0 || load[g] < load[best])) best = g;
            mp_plan_layer(p, l)[best * spg + fill[best]++] = order[i];
            load[best] += w[order[i]];
        }
    }
    if ((rc = mp_plan_derive(p, err))) {
        mp_plan_destroy(p);
        return rc;
    }
    *out = p;
    return 0;
}

/* In-memory trace: 200 steps of 1024 tokens, top-1 of 8 experts; 80% of
 * tokens go to four hot experts, 20% anywhere.  Hot before step 100: 0..3
 * (the plan pairs each with a cold one: 0+4, 1+5, 2+6, 3+7); after: 0, 4, 1, 5,
 * which that plan keeps two by two on GPUs 0 and 1 (max/mean 1.8). */
typedef struct gen {
    int64_t step, steps, T, shift;
    uint64_t seed;
} gen;

static int gen_next(void *ctx, mp_step *pc, mp_err *err)
{
    gen *g = ctx;
    if (g->step >= g->steps) return 0;
    mp_step_reserve(pc, g->T, 1, 1, 0, 0, err);
    pc->step = g->step;
    pc->first_token = 0;
    pc->end_of_step = 1;
    uint64_t x = g->seed + (uint64_t)g->step * 7919;
    static const int before[4] = {0, 1, 2, 3}, after[4] = {0, 4, 1, 5};
    const int *hot = g->step < g->shift ? before : after;
    for (int64_t t = 0; t < g->T; t++) {
        uint64_t r = test_rng(&x) % 100;
        pc->ids[t] = (mp_expert_id)(r < 80 ? (uint64_t)hot[r / 20] : test_rng(&x) % 8);
    }
    g->step++;
    return 1;
}

static int gen_rewind(void *ctx, mp_err *err)
{
    (void)err;
    ((gen *)ctx)->step = 0;
    return 0;
}

static mp_rebalance_result *run_shift_iw(double threshold, int relabel, int64_t interval, int64_t window)
{
    static mp_topology topo = {4, 2, 2};
    gen g = {0, 200, 1024, 100, 12345};
    mp_piece_source src = {&g, gen_next, gen_rewind};
    mp_model m = tiny_model(1, 8, 1);
    mp_rebalance_opts o = mp_rebalance_opts_default();
    o.interval = interval;
    o.window = window;
    o.threshold = threshold;
    o.relabel = relabel;
    o.shift_at = 100;
    o.holdout = 0; /* judged in sample: these cases test the regimes, held_out_skips the held-out rule */
    o.replan = lpt_plan;
    o.replan_ctx = &topo;
    o.sim.cost.hidden = 100;
    o.sim.cost.intermediate = 50; /* 3*100*50*2 = 30,000 B per expert */
    o.bandwidth_GBps = 0.03;      /* 30,000 B in 1 ms */
    mp_rebalance_result *r = NULL;
    mp_err err = {0};
    int rc = mp_rebalance_run(&r, &src, &m, &o, NULL, NULL, &err);
    if (rc) fprintf(stderr, "%s\n", err.msg);
    assert_int_equal(rc, 0);
    return r;
}

static mp_rebalance_result *run_shift(double threshold, int relabel) { return run_shift_iw(threshold, relabel, 20, 10); }

static double mean_range(const mp_sim_result *r, int64_t a, int64_t b)
{
    double s = 0;
    for (int64_t i = a; i < b; i++) s += r->series[i].maxmean;
    return s / (double)(b - a);
}

static void online_recovers_static_does_not(void **state)
{
    (void)state;
    mp_rebalance_result *r = run_shift(0.0, 0);
    assert_int_equal(r->steps, 200);
    const mp_sim_result *st = r->regime[MP_REGIME_STATIC], *on = r->regime[MP_REGIME_ONLINE],
                        *or = r->regime[MP_REGIME_ORACLE];
    assert_non_null(or);
    /* before the shift all three are balanced: hot experts on different GPUs */
    assert_true(mean_range(st, 0, 100) < 1.2);
    /* after: the static plan keeps 0+4 and 1+5 together (45% on one GPU: 1.8x) */
    assert_true(mean_range(st, 140, 200) > 1.6);
    /* online re-plans at step 120 from steps 110..119 */
    assert_true(mean_range(on, 120, 200) < 1.2);
    assert_true(mean_range(on, 100, 120) > 1.6);
    assert_true(mean_range(or, 100, 200) < 1.2);
    /* rebalances at 20, 40, ..., 180: nine events */
    assert_int_equal(r->nevents, 9);
    assert_int_equal(r->events[0].step, 20);
    assert_int_equal(r->events[5].step, 120);
    assert_true(r->events[5].old_pred > 1.6 && r->events[5].new_pred < 1.2);
    assert_true(r->events[5].experts_moved > 0);
    assert_float_equal(r->events[5].bytes, r->events[5].experts_moved * 30000.0, 1e-6);
    /* recovery: the online regime is back within 5% by the bucket at 120 */
    assert_int_equal(r->bucket, 20);
    assert_int_equal(r->recovery_steps[MP_REGIME_ONLINE], 20);
    assert_int_equal(r->recovery_steps[MP_REGIME_STATIC], -1);
    assert_int_equal(r->recovery_steps[MP_REGIME_ORACLE], 0);
    mp_rebalance_result_destroy(r);
}

static void threshold_skips_small_gains(void **state)
{
    (void)state;
    mp_rebalance_result *r = run_shift(0.5, 0);
    /* only the rebalance after the shift gains more than 50% */
    assert_int_equal(r->applied, 1);
    for (int64_t i = 0; i < r->nevents; i++) assert_int_equal(r->events[i].applied, r->events[i].step == 120);
    assert_true(mean_range(r->regime[MP_REGIME_ONLINE], 120, 200) < 1.2);
    mp_rebalance_result_destroy(r);
}

static void relabel_moves_no_more(void **state)
{
    (void)state;
    mp_rebalance_result *a = run_shift(0.0, 0), *b = run_shift(0.0, 1);
    assert_true(b->events[5].experts_moved <= a->events[5].experts_moved);
    assert_true(b->moved_bytes <= a->moved_bytes);
    /* balance is unchanged by renaming GPUs */
    assert_float_equal(mean_range(a->regime[MP_REGIME_ONLINE], 0, 200),
                       mean_range(b->regime[MP_REGIME_ONLINE], 0, 200), 1e-12);
    mp_rebalance_result_destroy(a);
    mp_rebalance_result_destroy(b);
}

/* Overlapping windows (window > interval) keep per-step counts in a ring. */
static void overlapping_windows(void **state)
{
    (void)state;
    mp_rebalance_result *r = run_shift_iw(0.0, 0, 10, 30);
    assert_int_equal(r->nevents, 17); /* 30, 40, ..., 190 */
    assert_int_equal(r->events[0].step, 30);
    /* the window of step 130 is 100..129: all after the shift */
    assert_int_equal(r->events[10].step, 130);
    assert_true(r->events[10].new_pred < 1.2);
    assert_true(mean_range(r->regime[MP_REGIME_ONLINE], 140, 200) < 1.2);
    mp_rebalance_result_destroy(r);
}

/* Every load matrix a re-plan sees carries the trace's model (its groups):
 * a grouped strategy plans online as it does from the trace's loads (eplb
 * stays hierarchical; before, the window had no model and eplb fell back to
 * EPLB's global policy). */
typedef struct checking {
    mp_topology topo; /* first: lpt_plan reads the context as a topology */
    int bad;          /* re-plans that saw loads without the model's groups */
} checking;

static int checking_plan(void *ctx, const mp_loads *ld, mp_plan **out, mp_err *err)
{
    checking *c = ctx;
    if (!ld->has_model || ld->model.groups != 4 || ld->model.top_k != 1) c->bad++;
    return lpt_plan(&c->topo, ld, out, err);
}

static void windows_carry_the_model(void **state)
{
    (void)state;
    checking c = {{4, 2, 2}, 0};
    gen g = {0, 60, 256, 30, 7};
    mp_piece_source src = {&g, gen_next, gen_rewind};
    mp_model m = tiny_model(1, 8, 1);
    m.groups = 4;
    m.topk_group = 2;
    mp_rebalance_opts o = mp_rebalance_opts_default();
    o.interval = 10;
    o.window = 10; /* held-out decision on: early and late loads too */
    o.replan = checking_plan;
    o.replan_ctx = &c;
    o.sim.cost.hidden = 100;
    o.sim.cost.intermediate = 50;
    mp_rebalance_result *r = NULL;
    mp_err err = {0};
    assert_int_equal(mp_rebalance_run(&r, &src, &m, &o, NULL, NULL, &err), 0);
    assert_true(r->nevents > 0);
    assert_int_equal(c.bad, 0);
    mp_rebalance_result_destroy(r);
}

/* The online total includes the transfers; the verdict follows the totals. */
static void totals_and_verdict(void **state)
{
    (void)state;
    mp_rebalance_result *r = run_shift(0.0, 0);
    double n = (double)r->steps;
    assert_true(r->applied > 0 && r->transfer_ms > 0);
    assert_float_equal(r->total_us[MP_REGIME_ONLINE],
                       r->regime[MP_REGIME_ONLINE]->time_us.mean * n + r->transfer_ms * 1e3, 1e-6 * r->total_us[MP_REGIME_ONLINE]);
    assert_float_equal(r->total_us[MP_REGIME_STATIC], r->regime[MP_REGIME_STATIC]->total_time_us, 1e-9);
    assert_float_equal(r->gain, r->total_us[MP_REGIME_STATIC] / r->total_us[MP_REGIME_ONLINE] - 1, 1e-12);
    assert_int_equal(r->verdict, r->gain > 0 ? MP_REB_PAYS : MP_REB_COSTS);
    char buf[512];
    const char *t = mp_rebalance_verdict_text(r, buf, sizeof buf);
    assert_non_null(strstr(t, r->verdict == MP_REB_PAYS ? "pays: " : "does not pay: "));
    assert_null(strstr(t, "--")); /* the library names no flag */
    mp_rebalance_result_destroy(r);
    /* a threshold no rebalance reaches: none applied, the static plan stands */
    r = run_shift(100.0, 0);
    assert_int_equal(r->applied, 0);
    assert_int_equal(r->verdict, MP_REB_NONE_PAID);
    assert_non_null(strstr(mp_rebalance_verdict_text(r, buf, sizeof buf), "the static plan stands"));
    mp_rebalance_result_destroy(r);
    /* a trace that ends before the first rebalance */
    r = run_shift_iw(0.0, 0, 500, 10);
    assert_int_equal(r->nevents, 0);
    assert_int_equal(r->verdict, MP_REB_NONE_DUE);
    assert_non_null(strstr(mp_rebalance_verdict_text(r, buf, sizeof buf), "step 500"));
    mp_rebalance_result_destroy(r);
}

static void moved_copies_by_hand(void **state)
{
    (void)state;
    const int32_t r1[4] = {0, 1, 2, 3}, r2[4] = {1, 0, 3, 2}, r3[4] = {2, 1, 0, 3};
    mp_plan *a = make_plan(2, 4, 2, 1, 2, r1), *b = make_plan(2, 4, 2, 1, 2, r2), *c = make_plan(2, 4, 2, 1, 2, r3);
    int64_t mx;
    assert_int_equal(mp_plan_moved_copies(a, b, &mx), 0); /* same sets per GPU */
    assert_int_equal(mx, 0);
    assert_int_equal(mp_plan_moved_copies(a, c, &mx), 4); /* 0 and 2 swap GPUs, 2 layers */
    assert_int_equal(mx, 2);
    mp_plan_destroy(a);
    mp_plan_destroy(b);
    mp_plan_destroy(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(online_recovers_static_does_not),
        cmocka_unit_test(threshold_skips_small_gains),
        cmocka_unit_test(relabel_moves_no_more),
        cmocka_unit_test(moved_copies_by_hand),
        cmocka_unit_test(overlapping_windows),
        cmocka_unit_test(windows_carry_the_model),
        cmocka_unit_test(totals_and_verdict),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
