/* planner.c - mp_planner_run: checks a request against the loads and the
 * strategy, sums the steps, fuses the shared expert and builds the plan. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "planner/mp_planner.h"

double *mp_plan_expert_loads(const mp_plan *p, const mp_loads *loads)
{
    int32_t L = p->layers, E = p->experts, Er = loads->experts;
    if (loads->layers != L) return NULL;
    double *w = calloc((size_t)L * E, sizeof *w);
    if (!w) return NULL;
    for (int32_t s = 0; s < loads->steps; s++)
        for (int32_t l = 0; l < L; l++) {
            const double *src = mp_loads_row(loads, s, l);
            for (int32_t e = 0; e < Er && e < E; e++) w[(int64_t)l * E + e] += src[e];
        }
    if (p->shared_id >= 0) {
        int32_t k = p->model.top_k > 0 ? p->model.top_k : 1;
        for (int32_t l = 0; l < L; l++) {
            double t = 0;
            for (int32_t e = 0; e < Er; e++) t += w[(int64_t)l * E + e];
            w[(int64_t)l * E + p->shared_id] = t / k;
        }
    }
    return w;
}

int mp_strategy_input_check(const mp_strategy_input *in, int redundant, const char *who, mp_err *err)
{
    if (!in || !in->load) return mp_err_set(err, MP_EINVAL, "%s: no input", who);
    int32_t L = in->layers, E = in->experts;
    if (L < 1 || L > MP_LAYERS_MAX || E < 1 || E > MP_EXPERTS_MAX + MP_PLAN_GPUS_MAX)
        return mp_err_set(err, MP_EINVAL, "%s: bad shape %d layers x %d experts", who, L, E);
    int rc = mp_topology_validate(&in->topo, err);
    if (rc) return rc;
    int32_t P = in->topo.gpus;
    int64_t R = (int64_t)P * in->topo.slots_per_gpu;
    if (P > MP_PLAN_GPUS_MAX)
        return mp_err_set(err, MP_EINVAL, "%s: %d GPUs is more than the %d a plan may have", who, P, MP_PLAN_GPUS_MAX);
    if (R < E) return mp_err_set(err, MP_EINVAL, "%s: %lld slots cannot hold %d experts", who, (long long)R, E);
    if (!redundant && R != E)
        return mp_err_set(err, MP_EINVAL, "%s: places no redundant experts: it needs exactly %d slots, not %lld", who, E,
                          (long long)R);
    if (R > 64 * (int64_t)E)
        return mp_err_set(err, MP_EINVAL, "%s: %lld slots for %d experts: more than 64 slots per expert", who,
                          (long long)R, E);
    if ((double)L * (double)R * (double)P > MP_PLAN_WORK_MAX)
        return mp_err_set(err, MP_EINVAL, "%s: %d layers x %lld slots x %d GPUs is too large to plan", who, L,
                          (long long)R, P);
    if (in->fixed < 0 || in->fixed > E)
        return mp_err_set(err, MP_EINVAL, "%s: %d fixed experts of %d", who, in->fixed, E);
    if (in->groups < 0) return mp_err_set(err, MP_EINVAL, "%s: %d groups", who, in->groups);
    if (!(in->locality >= 0 && in->locality <= 1)) /* NaN fails too */
        return mp_err_set(err, MP_EINVAL, "%s: locality %g is outside [0, 1]", who, in->locality);
    if (in->ident)
        for (int32_t e = 0; e < E; e++)
            if (in->ident[e] < 0 || in->ident[e] >= E)
                return mp_err_set(err, MP_EINVAL, "%s: identity %d of expert %d is outside 0..%d", who, in->ident[e], e,
                                  E - 1);
    if (in->windows != 0 && (in->windows < 2 || in->windows > MP_PLAN_WINDOWS_MAX || !in->step_load))
        return mp_err_set(err, MP_EINVAL, "%s: %d windows (2..%d with their loads, or 0)", who, in->windows,
                          MP_PLAN_WINDOWS_MAX);
    if (!(in->batch_load >= 0) || !isfinite(in->batch_load))
        return mp_err_set(err, MP_ERANGE, "%s: served batch load %g", who, in->batch_load);
    for (int32_t k = -1; k < in->windows; k++) {
        const double *m = k < 0 ? in->load : in->step_load + (int64_t)k * L * E;
        for (int32_t l = 0; l < L; l++) {
            const double *w = m + (int64_t)l * E;
            double t = 0;
            for (int32_t e = 0; e < E; e++) {
                if (!(w[e] >= 0) || !isfinite(w[e])) { /* NaN, negative or infinite */
                    if (k < 0) return mp_err_set(err, MP_ERANGE, "%s: load of layer %d expert %d is %g", who, l, e, w[e]);
                    return mp_err_set(err, MP_ERANGE, "%s: load of window %d layer %d expert %d is %g", who, k, l, e,
                                      w[e]);
                }
                t += w[e];
            }
            if (!(t <= MP_PLAN_LOAD_MAX))
                return mp_err_set(err, MP_ERANGE, "%s: the loads of layer %d sum to %g, beyond 2^64", who, l, t);
        }
    }
    return 0;
}

/* The steps of `loads` as nw windows of consecutive steps, each with the
 * items' columns of mp_planner_run (E routed, then F copies of the shared
 * expert's load split F ways): [nw][L][items]. */
static double *windows_of(const mp_loads *loads, int32_t nw, int64_t items, int32_t F, int32_t K)
{
    int32_t L = loads->layers, E = loads->experts, S = loads->steps;
    double *out = calloc((size_t)nw * L * items, sizeof *out);
    if (!out) return NULL;
    for (int32_t s = 0; s < S; s++) {
        int32_t k = (int32_t)((int64_t)s * nw / S);
        for (int32_t l = 0; l < L; l++) {
            const double *src = mp_loads_row(loads, s, l);
            double *dst = out + ((int64_t)k * L + l) * items, t = 0;
            for (int32_t e = 0; e < E; e++) dst[e] += src[e], t += src[e];
            for (int32_t f = 0; f < F; f++) dst[E + f] += t / K / F;
        }
    }
    return out;
}

int mp_planner_run(mp_plan **out, const mp_loads *loads, const mp_plan_request *req, mp_err *err)
{
    *out = NULL;
    const mp_strategy *st = mp_strategy_find(req->strategy ? req->strategy : "");
    if (!st) return mp_err_set(err, MP_ENOTFOUND, "plan: unknown strategy '%s'", req->strategy ? req->strategy : "");
    int rc = mp_topology_validate(&req->topo, err);
    if (rc) return rc;
    int32_t L = loads->layers, E = loads->experts, P = req->topo.gpus, S = req->topo.slots_per_gpu;
    int64_t R = (int64_t)P * S;
    int32_t F = req->shared_fusion > 0 ? req->shared_fusion : 0;
    int32_t G = req->groups > 0 ? req->groups : (loads->has_model ? loads->model.groups : 1);
    if (G < 1) G = 1;
    int32_t K = req->top_k > 0 ? req->top_k : (loads->has_model ? loads->model.top_k : 0);
    if (F > 0 && K < 1)
        return mp_err_set(err, MP_EINVAL, "plan: shared_fusion needs the model's top_k");
    if (F > P) return mp_err_set(err, MP_EINVAL, "plan: shared_fusion %d is more than the %d GPUs", F, P);
    int64_t items = (int64_t)E + F;
    /* bounds that keep every strategy's work finite and small (the packings
     * are O(L * R * P) at worst): far beyond any deployment */
    if (P > MP_PLAN_GPUS_MAX)
        return mp_err_set(err, MP_EINVAL, "plan: %d GPUs is more than the %d a plan may have", P, MP_PLAN_GPUS_MAX);
    if (R > 64 * items)
        return mp_err_set(err, MP_EINVAL, "plan: %lld slots for %lld experts: more than 64 slots per expert", (long long)R,
                          (long long)items);
    if ((double)L * (double)R * (double)P > MP_PLAN_WORK_MAX)
        return mp_err_set(err, MP_EINVAL, "plan: %d layers x %lld slots x %d GPUs is too large to plan", L, (long long)R, P);
    if (R < items)
        return mp_err_set(err, MP_EINVAL, "plan: %lld slots (%d GPUs x %d) cannot hold %lld experts", (long long)R, P, S,
                          (long long)items);
    if (!st->redundant && R != items)
        return mp_err_set(err, MP_EINVAL, "plan: %s places no redundant experts: it needs exactly %lld slots, not %lld",
                          st->name, (long long)items, (long long)R);
    if (F > 0 && !st->redundant)
        return mp_err_set(err, MP_EINVAL, "plan: shared_fusion needs a strategy with redundant slots, not %s", st->name);
    if (F > 0) G = 1; /* fused replicas do not belong to a group */
    if (E % G != 0) return mp_err_set(err, MP_EINVAL, "plan: %d experts do not split into %d groups", E, G);

    mp_plan *p;
    if ((rc = mp_plan_create(&p, L, F > 0 ? E + 1 : E, &req->topo, err))) return rc;
    p->routed = E;
    p->shared_id = F > 0 ? E : -1;
    if (loads->has_model) p->model = loads->model;
    p->model.layers = L;
    p->model.experts = E;
    if (K > 0) p->model.top_k = K;
    if (req->groups > 0) p->model.groups = req->groups;
    snprintf(p->strategy, sizeof p->strategy, "%s", st->name);

    double *w = mp_plan_expert_loads(p, loads);
    double *items_w = malloc((size_t)L * items * sizeof *items_w);
    int32_t *ident = malloc((size_t)items * sizeof *ident);
    if (!w || !items_w || !ident) {
        free(w), free(items_w), free(ident);
        mp_plan_destroy(p);
        return mp_err_set(err, MP_ENOMEM, "plan: out of memory");
    }
    for (int32_t l = 0; l < L; l++) {
        for (int32_t e = 0; e < E; e++) items_w[(int64_t)l * items + e] = w[(int64_t)l * p->experts + e];
        for (int32_t f = 0; f < F; f++) items_w[(int64_t)l * items + E + f] = w[(int64_t)l * p->experts + E] / F;
    }
    for (int64_t e = 0; e < items; e++) ident[e] = e < E ? (int32_t)e : E;
    mp_strategy_input in = {L, (int32_t)items, items_w, F > 0 ? ident : NULL, G, req->topo, req->locality, F, 0, NULL, 0};
    /* the variation the input records: windows of its steps, the served batch */
    int32_t nw = loads->steps < MP_PLAN_WINDOWS_MAX ? loads->steps : MP_PLAN_WINDOWS_MAX;
    double *win = NULL, tot = 0;
    for (int64_t i = 0; i < (int64_t)L * items; i++) tot += items_w[i];
    if (req->batch_tokens > 0 && isfinite(req->batch_tokens)) in.batch_load = req->batch_tokens * (K > 0 ? K : 1);
    else if (loads->steps >= 2) in.batch_load = tot / L / loads->steps;
    if (nw >= 2 && !(win = windows_of(loads, nw, items, F, K > 0 ? K : 1))) rc = MP_ENOMEM;
    else if (nw >= 2) in.windows = nw, in.step_load = win;
    if (rc) rc = mp_err_set(err, rc, "plan: out of memory");
    else if (!(rc = mp_strategy_input_check(&in, st->redundant, "plan", err))) rc = st->run(&in, p->phy2log, err);
    free(win);
    if (!rc && F > 0)
        for (int64_t i = 0; i < (int64_t)L * R; i++)
            if (p->phy2log[i] >= E) p->phy2log[i] = E;
    if (!rc) rc = mp_plan_derive(p, err);
    free(w), free(items_w), free(ident);
    if (rc) {
        mp_plan_destroy(p);
        return rc;
    }
    *out = p;
    return 0;
}
