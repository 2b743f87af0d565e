/* sweep.c - several lanes over one reading, the locality sweep. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/mp_sweep.h"

/* ---- lanes ---- */

int mp_sim_run_many(mp_sim_result **out, const mp_piece_source *src, const mp_model *model,
                    const mp_plan *const *plans, const mp_policy *const *policies, int n, const mp_sim_opts *base,
                    mp_progress_fn progress, void *pctx, mp_err *err)
{
    for (int i = 0; i < n; i++) out[i] = NULL;
    mp_sim **sims = calloc((size_t)(n > 0 ? n : 1), sizeof *sims);
    if (!sims) return mp_err_set(err, MP_ENOMEM, "sim: out of memory");
    int rc = 0;
    for (int i = 0; i < n && !rc; i++) {
        mp_sim_opts o = *base;
        o.policy = policies[i];
        rc = mp_sim_create(&sims[i], plans[i], model, &o, err);
    }
    mp_step pc = {0};
    int64_t done = 0;
    while (!rc) {
        int r = src->next(src->ctx, &pc, err);
        if (r <= 0) {
            rc = r;
            break;
        }
        for (int i = 0; i < n && !rc; i++) rc = mp_sim_feed(sims[i], &pc, err);
        done += mp_step_assignments(&pc);
        if (progress) progress(pctx, done, -1);
    }
    for (int i = 0; i < n && !rc; i++) rc = mp_sim_finish(sims[i], &out[i], err);
    if (rc)
        for (int i = 0; i < n; i++) {
            mp_sim_result_destroy(out[i]);
            out[i] = NULL;
        }
    for (int i = 0; i < n; i++) mp_sim_destroy(sims[i]);
    free(sims);
    mp_step_release(&pc);
    return rc;
}

/* ---- the locality sweep ---- */

void mp_sweep_result_destroy(mp_sweep_result *r)
{
    if (!r) return;
    free(r->pt);
    free(r);
}

static int dominates(const mp_sweep_point *a, const mp_sweep_point *b)
{
    return a->plan_maxmean <= b->plan_maxmean && a->net_bytes <= b->net_bytes &&
           (a->plan_maxmean < b->plan_maxmean || a->net_bytes < b->net_bytes);
}

int mp_sweep_locality(mp_sweep_result **out, const mp_piece_source *src, const mp_model *model, const mp_loads *loads,
                      const mp_plan_request *base, const double *loc, int nloc, const mp_sim_opts *so,
                      mp_progress_fn progress, void *pctx, mp_err *err)
{
    *out = NULL;
    int cap = nloc + 3, n = 0, rc = 0;
    mp_plan_result **pr = calloc((size_t)cap, sizeof *pr);
    const mp_plan **plans = calloc((size_t)cap, sizeof *plans);
    const mp_policy **pols = calloc((size_t)cap, sizeof *pols);
    mp_sim_result **res = calloc((size_t)cap, sizeof *res);
    mp_sweep_result *r = calloc(1, sizeof *r);
    mp_sweep_point *pt = calloc((size_t)cap, sizeof *pt);
    if (!pr || !plans || !pols || !res || !r || !pt) {
        rc = mp_err_set(err, MP_ENOMEM, "sweep: out of memory");
        goto done;
    }
    int linear = -1;
    for (int i = 0; i < cap; i++) {
        mp_plan_request q = *base;
        mp_sweep_point *p = &pt[n];
        p->locality = -1;
        if (i < nloc) {
            q.strategy = "balanced";
            q.locality = loc[i];
            p->locality = loc[i];
            snprintf(p->label, sizeof p->label, "balanced@%.2f", loc[i]);
        } else if (i == nloc) {
            q.strategy = "eplb";
            p->is_eplb = 1;
        } else if (i == nloc + 1) {
            q.strategy = "eplb-global";
            p->is_eplb = 1;
        } else {
            q.strategy = "linear";
        }
        if (i >= nloc) snprintf(p->label, sizeof p->label, "%s", q.strategy);
        snprintf(p->strategy, sizeof p->strategy, "%s", q.strategy);
        mp_err e2 = {0};
        if (i == nloc + 2) {
            mp_plan *lin;
            if ((rc = mp_plan_linear_baseline(&lin, model, q.topo.gpus, q.topo.nodes, &e2)) == 0)
                rc = mp_plan_result_of(&pr[n], lin, loads, &e2);
        } else {
            rc = mp_plan_evaluate(&pr[n], loads, &q, &e2);
        }
        if (rc) {
            if (e2.code == MP_EINVAL) { /* the strategy's preconditions do not hold */
                rc = 0;
                continue;
            }
            rc = mp_err_set(err, e2.code, "%s", e2.msg);
            goto done;
        }
        plans[n] = pr[n]->plan;
        p->plan_maxmean = pr[n]->metrics->mean_max_over_mean;
        pols[n] = so->policy ? so->policy : mp_policy_default();
        if (i == nloc + 2) linear = n;
        n++;
    }
    if ((rc = mp_sim_run_many(res, src, model, plans, pols, n, so, progress, pctx, err)))
        goto done;
    for (int i = 0; i < n; i++) {
        pt[i].maxmean = res[i]->run_maxmean;
        pt[i].step_maxmean = res[i]->maxmean.mean;
        pt[i].net_bytes = res[i]->total_net_bytes;
        pt[i].nvl_bytes = res[i]->total_nvl_bytes;
        pt[i].time_us = res[i]->total_time_us;
    }
    for (int i = 0; i < n; i++) {
        pt[i].speedup = linear >= 0 && pt[i].time_us > 0 ? pt[linear].time_us / pt[i].time_us : 0.0;
        pt[i].pareto = 1;
        for (int j = 0; j < n; j++)
            if (j != i && dominates(&pt[j], &pt[i])) pt[i].pareto = 0;
    }
    int n_eplb = 0, n_dom = 0;
    for (int i = 0; i < n; i++) {
        if (!pt[i].is_eplb) continue;
        n_eplb++;
        for (int j = 0; j < n; j++)
            if (pt[j].locality >= 0 && dominates(&pt[j], &pt[i])) {
                pt[i].dominated = 1;
                n_dom++;
                break;
            }
    }
    for (int j = 0; j < n; j++) {
        if (pt[j].locality < 0) continue;
        int all = n_eplb > 0;
        for (int i = 0; i < n; i++)
            if (pt[i].is_eplb && !dominates(&pt[j], &pt[i])) all = 0;
        pt[j].beats_eplb = all;
    }
    r->eplb_dominated = n_eplb > 0 && n_dom == n_eplb;
    r->n = n;
    r->pt = pt;
    pt = NULL;
    *out = r;
    r = NULL;
done:
    for (int i = 0; i < cap && pr; i++) mp_plan_result_destroy(pr[i]);
    free(pr);
    for (int i = 0; i < cap && res; i++) mp_sim_result_destroy(res[i]);
    free(plans);
    free(pols);
    free(res);
    free(pt);
    mp_sweep_result_destroy(r);
    return rc;
}
