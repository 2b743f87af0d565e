/* simrun.c - mp_sim_evaluate: count, plan, evaluate, baseline, replay,
 * speedup (see sim/mp_simrun.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/mp_simrun.h"
#include "traces/stats/mp_holdout.h"
#include "traces/stats/mp_loads_read.h"

mp_simrun_opts mp_simrun_opts_default(void)
{
    mp_simrun_opts o;
    memset(&o, 0, sizeof o);
    o.plan_end = -1;
    o.baseline = 1;
    o.sim = mp_sim_opts_default();
    return o;
}

void mp_simrun_destroy(mp_simrun *r)
{
    if (!r) return;
    for (int i = 0; i < r->n; i++) mp_sim_result_destroy(r->lane[i].res);
    mp_plan_result_destroy(r->placed);
    mp_plan_result_destroy(r->linear);
    mp_sweep_result_destroy(r->sweep);
    mp_loads_destroy(r->loads);
    mp_loads_destroy(r->held);
    free(r);
}

/* Lanes and the baseline of a run whose plan is placed. */
static int add_lanes(mp_simrun *r, const mp_simrun_opts *o, mp_err *err)
{
    const mp_plan *plan = r->placed->plan;
    double pmm = r->placed->metrics->mean_max_over_mean;
    int all = o->policy == NULL, np = all ? mp_policy_count() : 1;
    if (np > MP_SIMRUN_LANES_MAX - 1) return mp_err_set(err, MP_ELIMIT, "sim: %d replica policies: too many lanes", np);
    for (int i = 0; i < np; i++) {
        mp_simrun_lane *l = &r->lane[r->n++];
        snprintf(l->label, sizeof l->label, "%s", plan->strategy);
        l->plan = plan;
        l->pol = all ? &mp_policy_table()[i] : o->policy;
        l->plan_maxmean = pmm;
    }
    r->baseline = -1;
    if (!o->baseline) return 0;
    if (!strcmp(plan->strategy, "linear")) {
        r->baseline = 0;
        return 0;
    }
    mp_plan *lin;
    mp_err sub = {0};
    int rc = mp_plan_linear_baseline(&lin, &r->model, plan->topo.gpus, plan->topo.nodes, &sub);
    if (rc == MP_EINVAL) return 0; /* the experts do not split over the GPUs: no linear placement */
    if (rc) return mp_err_set(err, rc, "%s", sub.msg);
    if ((rc = mp_plan_result_of(&r->linear, lin, r->loads, err))) return rc;
    mp_simrun_lane *l = &r->lane[r->n];
    snprintf(l->label, sizeof l->label, "linear");
    l->plan = r->linear->plan;
    l->pol = mp_policy_default();
    l->plan_maxmean = r->linear->metrics->mean_max_over_mean;
    r->baseline = r->n++;
    return 0;
}

/* Held out: counts the trace per step, keeps the training steps summed in
 * r->loads and the held-out ones in r->held. */
static int split_loads(mp_simrun *r, mp_trace *t, double fraction, mp_err *err)
{
    mp_loads *all = NULL, *train = NULL, *held = NULL;
    int rc = mp_loads_count(&all, t, 0, -1, 1, err);
    if (rc == 0) rc = mp_loads_split_time(&train, &held, all, fraction, err);
    if (rc == 0) {
        r->holdout = fraction;
        r->train_steps = train->steps;
        r->holdout_steps = held->steps;
        rc = mp_loads_sum_steps(&r->loads, train, err);
    }
    if (rc == 0) rc = mp_loads_sum_steps(&r->held, held, err);
    mp_loads_destroy(all);
    mp_loads_destroy(train);
    mp_loads_destroy(held);
    return rc;
}

/* Held out by source rank: counts the training ranks' tokens into r->loads
 * and the held-out ranks' into r->held. */
static int split_ranks(mp_simrun *r, const mp_piece_source *src, double fraction, mp_err *err)
{
    int32_t R, H;
    int rc = mp_source_ranks(src, &R, err);
    if (rc) return rc;
    if (R == 0) return mp_err_set(err, MP_EINVAL, "holdout: the trace records no source ranks to split by");
    if ((rc = mp_holdout_ranks(R, fraction, &H, err))) return rc;
    r->holdout = fraction;
    r->by_rank = 1;
    r->train_ranks = R - H;
    r->holdout_ranks = H;
    return mp_loads_split_rank(&r->loads, &r->held, src, &r->model, R - H, err);
}

/* By rank: the replay figures of each part, its ranks' tokens replayed alone. */
static int held_rank_replay(mp_simrun *r, const mp_piece_source *src, const mp_plan *const *plans,
                            const mp_policy *const *pols, const mp_sim_opts *o, mp_err *err)
{
    mp_sim_opts so = *o;
    so.keep_series = 0;
    for (int part = 0; part < 2; part++) {
        mp_rank_filter f;
        mp_rank_filter_init(&f, src, part ? r->train_ranks : 0, part ? INT32_MAX : r->train_ranks);
        mp_sim_result *res[MP_SIMRUN_LANES_MAX];
        int rc = src->rewind(src->ctx, err);
        if (rc || (rc = mp_sim_run_many(res, &f.src, &r->model, plans, pols, r->n, &so, NULL, NULL, err))) return rc;
        for (int i = 0; i < r->n; i++) {
            mp_simrun_lane *l = &r->lane[i];
            *(part ? &l->holdout_sim_maxmean : &l->insample_sim_maxmean) = res[i]->maxmean.mean;
            *(part ? &l->holdout_step_us : &l->insample_step_us) = res[i]->time_us.mean;
            mp_sim_result_destroy(res[i]);
        }
    }
    return 0;
}

/* The oracle: the run's strategy (a given plan's when the registry has it)
 * and topology planned on the held-out steps themselves. */
static int held_oracle(mp_simrun *r, const mp_simrun_opts *o, mp_err *err)
{
    const mp_plan *p = r->placed->plan;
    mp_plan_request q = o->request;
    if (!q.strategy) {
        if (!mp_strategy_find(p->strategy)) return 0;
        q.strategy = p->strategy;
        q.topo = p->topo;
        q.top_k = p->model.top_k > 0 ? p->model.top_k : r->model.top_k;
        q.shared_fusion = p->shared_id >= 0 ? mp_plan_count(p, 0, p->shared_id) : 0;
    }
    mp_plan_result *or = NULL;
    int rc = mp_plan_evaluate(&or, r->held, &q, err);
    if (rc == 0) r->oracle_maxmean = or->metrics->mean_max_over_mean;
    mp_plan_result_destroy(or);
    return rc;
}

/* A lane's held-out figures: its plan on the held-out loads, its replay
 * series split at train_steps. */
static int held_lane(const mp_simrun *r, mp_simrun_lane *l, int keep_series, mp_err *err)
{
    mp_plan_metrics *m = NULL;
    int rc = mp_plan_metrics_of(&m, l->plan, r->held, err);
    if (rc) return rc;
    l->holdout_plan_maxmean = m->mean_max_over_mean;
    mp_plan_metrics_destroy(m);
    if (r->by_rank) return 0; /* the parts' replays come from held_rank_replay */
    double mm[2] = {0, 0}, us[2] = {0, 0};
    int64_t n[2] = {0, 0};
    mp_sim_result *x = l->res;
    for (int64_t i = 0; i < x->steps; i++) {
        int h = i >= r->train_steps;
        mm[h] += x->series[i].maxmean;
        us[h] += x->series[i].time_us;
        n[h]++;
    }
    l->insample_sim_maxmean = n[0] ? mm[0] / (double)n[0] : NAN;
    l->holdout_sim_maxmean = n[1] ? mm[1] / (double)n[1] : NAN;
    l->insample_step_us = n[0] ? us[0] / (double)n[0] : NAN;
    l->holdout_step_us = n[1] ? us[1] / (double)n[1] : NAN;
    if (!keep_series) {
        free(x->series);
        x->series = NULL;
    }
    return 0;
}

int mp_sim_evaluate(mp_simrun **out, mp_trace_source *ts, mp_plan *plan, const mp_simrun_opts *o,
                    mp_progress_fn progress, void *pctx, mp_err *err)
{
    *out = NULL;
    mp_simrun *r = calloc(1, sizeof *r);
    if (!r) {
        mp_plan_destroy(plan);
        return mp_err_set(err, MP_ENOMEM, "sim: out of memory");
    }
    r->model = *mp_trace_model(ts->trace);
    r->baseline = -1;
    r->oracle_maxmean = NAN;
    for (int i = 0; i < MP_SIMRUN_LANES_MAX; i++) {
        mp_simrun_lane *l = &r->lane[i];
        l->holdout_plan_maxmean = l->insample_sim_maxmean = l->holdout_sim_maxmean = NAN;
        l->insample_step_us = l->holdout_step_us = NAN;
    }
    int rc = 0;
    if (o->holdout > 0 && (o->nsweep > 0 || o->plan_begin != 0 || o->plan_end >= 0)) {
        rc = mp_err_set(err, MP_EINVAL, "sim: a held-out split takes the whole trace and no locality sweep");
        mp_plan_destroy(plan);
        goto fail;
    }
    if (plan && (plan->layers != r->model.layers || plan->routed != r->model.experts)) {
        rc = mp_err_set(err, MP_ESHAPE, "sim: a plan for %d layers x %d experts, but the trace has %d x %d",
                        (int)plan->layers, (int)plan->routed, (int)r->model.layers, (int)r->model.experts);
        mp_plan_destroy(plan);
        goto fail;
    }
    /* the loads for the plan(s): one reading, then rewind */
    if ((rc = o->holdout > 0 ? (o->holdout_by_rank ? split_ranks(r, &ts->src, o->holdout, err)
                                                   : split_loads(r, ts->trace, o->holdout, err))
                             : mp_loads_count(&r->loads, ts->trace, o->plan_begin, o->plan_end, 0, err)) ||
        (rc = ts->src.rewind(ts->src.ctx, err))) {
        mp_plan_destroy(plan);
        goto fail;
    }
    if (o->nsweep > 0) {
        mp_plan_destroy(plan);
        mp_sim_opts so = o->sim;
        so.policy = o->policy ? o->policy : mp_policy_default();
        rc = mp_sweep_locality(&r->sweep, &ts->src, &r->model, r->loads, &o->request, o->sweep, o->nsweep, &so,
                               progress, pctx, err);
        if (rc) goto fail;
        *out = r;
        return 0;
    }
    rc = plan ? mp_plan_result_of(&r->placed, plan, r->loads, err)
              : mp_plan_evaluate(&r->placed, r->loads, &o->request, err);
    if (rc || (rc = add_lanes(r, o, err))) goto fail;
    if (r->held && (rc = held_oracle(r, o, err))) goto fail;
    mp_sim_opts sim = o->sim;
    if (r->held && !r->by_rank) sim.keep_series = 1;
    const mp_plan *plans[MP_SIMRUN_LANES_MAX];
    const mp_policy *pols[MP_SIMRUN_LANES_MAX];
    mp_sim_result *res[MP_SIMRUN_LANES_MAX];
    for (int i = 0; i < r->n; i++) plans[i] = r->lane[i].plan, pols[i] = r->lane[i].pol;
    if ((rc = mp_sim_run_many(res, &ts->src, &r->model, plans, pols, r->n, &sim, progress, pctx, err)))
        goto fail;
    for (int i = 0; i < r->n; i++) r->lane[i].res = res[i];
    for (int i = 0; r->held && i < r->n; i++)
        if ((rc = held_lane(r, &r->lane[i], o->sim.keep_series, err))) goto fail;
    if (r->by_rank && (rc = held_rank_replay(r, &ts->src, plans, pols, &o->sim, err))) goto fail;
    double base = r->baseline >= 0 ? r->lane[r->baseline].res->total_time_us : 0;
    for (int i = 0; i < r->n; i++) {
        double t = r->lane[i].res->total_time_us;
        r->lane[i].speedup = r->baseline >= 0 && t > 0 ? base / t : NAN;
    }
    *out = r;
    return 0;
fail:
    mp_simrun_destroy(r);
    return rc;
}
