/* result.c - the planner's results: a plan with the expert loads it is
 * evaluated on and its metrics (mp_plan_evaluate, mp_plan_result_of), and the
 * linear baseline (see planner/mp_planner.h). */
#include <stdio.h>
#include <stdlib.h>

#include "planner/mp_planner.h"

void mp_plan_result_destroy(mp_plan_result *r)
{
    if (!r) return;
    mp_plan_destroy(r->plan);
    free(r->load);
    mp_plan_metrics_destroy(r->metrics);
    free(r);
}

int mp_plan_result_update(mp_plan_result *r, mp_err *err)
{
    if (!r->load) return 0;
    mp_plan_metrics *m = NULL;
    int rc = mp_plan_metrics_compute(&m, r->plan, r->load, err);
    if (rc) return rc;
    mp_plan_metrics_destroy(r->metrics);
    r->metrics = m;
    return 0;
}

int mp_plan_result_of_load(mp_plan_result **out, mp_plan *plan, double *load, mp_err *err)
{
    *out = NULL;
    mp_plan_result *r = calloc(1, sizeof *r);
    if (!r) {
        mp_plan_destroy(plan);
        free(load);
        return mp_err_set(err, MP_ENOMEM, "plan: out of memory");
    }
    r->plan = plan;
    r->load = load;
    int rc = mp_plan_result_update(r, err);
    if (rc) {
        mp_plan_result_destroy(r);
        return rc;
    }
    *out = r;
    return 0;
}

int mp_plan_result_of(mp_plan_result **out, mp_plan *plan, const mp_loads *loads, mp_err *err)
{
    *out = NULL;
    if (loads->layers != plan->layers) {
        int32_t L = plan->layers;
        mp_plan_destroy(plan);
        return mp_err_set(err, MP_ESHAPE, "plan: a plan of %d layers evaluated on loads of %d", L, loads->layers);
    }
    double *w = mp_plan_expert_loads(plan, loads);
    if (!w) {
        mp_plan_destroy(plan);
        return mp_err_set(err, MP_ENOMEM, "plan: out of memory");
    }
    return mp_plan_result_of_load(out, plan, w, err);
}

int mp_plan_evaluate(mp_plan_result **out, const mp_loads *loads, const mp_plan_request *req, mp_err *err)
{
    *out = NULL;
    mp_plan *p;
    int rc = mp_planner_run(&p, loads, req, err);
    return rc ? rc : mp_plan_result_of(out, p, loads, err);
}

int mp_plan_metrics_of(mp_plan_metrics **out, const mp_plan *p, const mp_loads *loads, mp_err *err)
{
    *out = NULL;
    if (loads->layers != p->layers)
        return mp_err_set(err, MP_ESHAPE, "plan: a plan of %d layers evaluated on loads of %d", p->layers,
                          loads->layers);
    double *w = mp_plan_expert_loads(p, loads);
    if (!w) return mp_err_set(err, MP_ENOMEM, "plan: out of memory");
    int rc = mp_plan_metrics_compute(out, p, w, err);
    free(w);
    return rc;
}

int mp_plan_linear_baseline(mp_plan **out, const mp_model *m, int32_t gpus, int32_t nodes, mp_err *err)
{
    *out = NULL;
    int32_t L = m->layers, E = m->experts;
    mp_topology_request t = {.gpus = gpus, .nodes = nodes, .redundant = -1, .exact = 1};
    mp_topology topo;
    mp_err sub = {0};
    int rc = mp_topology_resolve(&topo, &t, E, &sub);
    if (rc) return mp_err_set(err, rc, "linear: %s", sub.msg);
    mp_plan *p;
    if ((rc = mp_plan_create(&p, L, E, &topo, err))) return rc;
    for (int32_t l = 0; l < L; l++)
        for (int32_t s = 0; s < E; s++) mp_plan_layer(p, l)[s] = s;
    p->routed = E;
    p->shared_id = -1;
    p->model = *m;
    snprintf(p->strategy, sizeof p->strategy, "linear");
    if ((rc = mp_plan_derive(p, err))) {
        mp_plan_destroy(p);
        return rc;
    }
    *out = p;
    return 0;
}
