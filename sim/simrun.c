/* simrun.c - mp_sim_evaluate: count, plan, evaluate, baseline, replay,
 * speedup (see sim/mp_simrun.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/mp_simrun.h"
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
    int rc = 0;
    if (plan && (plan->layers != r->model.layers || plan->routed != r->model.experts)) {
        rc = mp_err_set(err, MP_ESHAPE, "sim: a plan for %d layers x %d experts, but the trace has %d x %d",
                        (int)plan->layers, (int)plan->routed, (int)r->model.layers, (int)r->model.experts);
        mp_plan_destroy(plan);
        goto fail;
    }
    /* the loads for the plan(s): one reading, then rewind */
    if ((rc = mp_loads_count(&r->loads, ts->trace, o->plan_begin, o->plan_end, 0, err)) ||
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
    const mp_plan *plans[MP_SIMRUN_LANES_MAX];
    const mp_policy *pols[MP_SIMRUN_LANES_MAX];
    mp_sim_result *res[MP_SIMRUN_LANES_MAX];
    for (int i = 0; i < r->n; i++) plans[i] = r->lane[i].plan, pols[i] = r->lane[i].pol;
    if ((rc = mp_sim_run_many(res, &ts->src, &r->model, plans, pols, r->n, &o->sim, progress, pctx, err)))
        goto fail;
    for (int i = 0; i < r->n; i++) r->lane[i].res = res[i];
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
