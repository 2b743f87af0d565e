/* check_eval.c - plans and replays several placements over one trace and
 * reduces each to the named metrics of mp_check.h. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/mp_check.h"
#include "traces/stats/mp_holdout.h"

/* the baseline metrics, in MP_M_* order: their units, directions and
 * decimals are the vocabulary's (traces/mp_vocab.h) */
static const char *const metric_name[MP_METRICS] = {
    "plan_max_over_mean", "plan_worst_max_over_mean", "sim_max_over_mean", "sim_max_over_mean_p99",
    "vllm_balancedness",  "step_time_us",             "net_MB_per_step",   "nvlink_MB_per_step",
};

const mp_vocab *mp_metric_at(int i) { return i >= 0 && i < MP_METRICS ? mp_vocab_find(metric_name[i]) : NULL; }

int mp_metric_find(const char *name)
{
    for (int i = 0; i < MP_METRICS; i++)
        if (strcmp(metric_name[i], name) == 0) return i;
    return -1;
}

mp_eval_setup mp_eval_setup_default(void)
{
    mp_eval_setup s;
    memset(&s, 0, sizeof s);
    s.gpus = 32;
    s.nodes = 4;
    s.redundant = 32;
    snprintf(s.policy, sizeof s.policy, "%s", mp_policy_default()->name);
    s.seed = 1;
    return s;
}

int mp_eval_add_strategies(mp_eval_setup *s, const char *list, mp_err *err)
{
    const char *p = list;
    for (;;) {
        const char *c = strchr(p, ',');
        size_t n = c ? (size_t)(c - p) : strlen(p);
        char name[MP_EVAL_NAME_MAX];
        if (n == 0 || n >= sizeof name) return mp_err_set(err, MP_EINVAL, "strategies: bad name in '%s'", list);
        memcpy(name, p, n);
        name[n] = 0;
        if (!mp_strategy_find(name)) return mp_err_set(err, MP_EINVAL, "strategies: unknown strategy '%s'", name);
        for (int i = 0; i < s->nentries; i++)
            if (strcmp(s->entry[i].name, name) == 0)
                return mp_err_set(err, MP_EINVAL, "strategies: '%s' given twice", name);
        if (s->nentries >= MP_EVAL_ENTRIES_MAX)
            return mp_err_set(err, MP_EINVAL, "strategies: more than %d", MP_EVAL_ENTRIES_MAX);
        mp_eval_entry *e = &s->entry[s->nentries++];
        memset(e, 0, sizeof *e);
        memcpy(e->name, name, n + 1);
        memcpy(e->strategy, name, n + 1);
        if (!c) return 0;
        p = c + 1;
    }
}

int mp_eval_setup_validate(const mp_eval_setup *s, mp_err *err)
{
    if (s->gpus < 1 || s->nodes < 1 || s->gpus % s->nodes)
        return mp_err_set(err, MP_EINVAL, "setup: %d GPUs do not split over %d nodes", s->gpus, s->nodes);
    if (s->gpus > 65536) return mp_err_set(err, MP_EINVAL, "setup: %d GPUs is more than 65536", s->gpus);
    if (s->redundant < 0 || s->redundant > (1 << 20))
        return mp_err_set(err, MP_EINVAL, "setup: redundant slots %d out of range", s->redundant);
    if (!(s->locality >= 0 && s->locality <= 1))
        return mp_err_set(err, MP_EINVAL, "setup: locality must lie in [0, 1]");
    if (!mp_policy_find(s->policy)) return mp_err_set(err, MP_EINVAL, "setup: unknown policy '%s'", s->policy);
    if (s->nentries < 1) return mp_err_set(err, MP_EINVAL, "setup: no strategy or plan to evaluate");
    for (int i = 0; i < s->nentries; i++) {
        const mp_eval_entry *e = &s->entry[i];
        if (!e->name[0]) return mp_err_set(err, MP_EINVAL, "setup: entry %d has no name", i);
        if (!e->plan[0] && !mp_strategy_find(e->strategy))
            return mp_err_set(err, MP_EINVAL, "setup: unknown strategy '%s'", e->strategy);
        for (int j = 0; j < i; j++)
            if (strcmp(s->entry[j].name, e->name) == 0)
                return mp_err_set(err, MP_EINVAL, "setup: entry name '%s' given twice", e->name);
    }
    return 0;
}

void mp_eval_destroy(mp_eval *e)
{
    if (!e) return;
    for (int i = 0; i < e->n; i++) {
        mp_plan_result_destroy(e->r[i].placed);
        mp_sim_result_destroy(e->r[i].sim);
    }
    free(e->r);
    mp_loads_destroy(e->loads);
    mp_loads_destroy(e->train);
    mp_loads_destroy(e->held);
    free(e);
}

/* Pass 1: summed loads, steps and tokens. */
static int count_pass(mp_eval *ev, const mp_piece_source *src, mp_step *pc, mp_progress_fn progress, void *pctx,
                      mp_err *err)
{
    int32_t L = ev->model.layers, E = ev->model.experts, K = ev->model.top_k;
    int rc = mp_loads_create(&ev->loads, 1, L, E, err);
    if (rc) return rc;
    ev->loads->has_model = 1;
    ev->loads->model = ev->model;
    while ((rc = src->next(src->ctx, pc, err)) == 1) {
        if (pc->layers != L || pc->top_k != K) return mp_err_set(err, MP_ESHAPE, "eval: piece shape differs from the model");
        for (int64_t t = 0; t < pc->tokens; t++)
            for (int32_t l = 0; l < L; l++) {
                double *row = mp_loads_row(ev->loads, 0, l);
                const mp_expert_id *id = pc->ids + (t * L + l) * K;
                for (int32_t k = 0; k < K; k++)
                    if (id[k] < E) row[id[k]] += 1;
            }
        ev->tokens += pc->tokens;
        if (pc->end_of_step) {
            ev->steps++;
            if (progress) progress(pctx, ev->steps, -1);
        }
    }
    if (rc < 0) return rc;
    if (ev->steps == 0) return mp_err_set(err, MP_EFORMAT, "eval: the trace has no complete step");
    return 0;
}

/* Pass 1b (held out): the loads of steps [0, cut) and [cut, end) summed. */
static int split_pass(mp_eval *ev, const mp_piece_source *src, mp_step *pc, mp_err *err)
{
    int32_t L = ev->model.layers, E = ev->model.experts, K = ev->model.top_k;
    int rc;
    if ((rc = mp_loads_create(&ev->train, 1, L, E, err)) || (rc = mp_loads_create(&ev->held, 1, L, E, err))) return rc;
    ev->train->has_model = ev->held->has_model = 1;
    ev->train->model = ev->held->model = ev->model;
    if ((rc = src->rewind(src->ctx, err))) return rc;
    int64_t step = 0;
    while ((rc = src->next(src->ctx, pc, err)) == 1) {
        mp_loads *dst = step < ev->train_steps ? ev->train : ev->held;
        for (int64_t t = 0; t < pc->tokens; t++)
            for (int32_t l = 0; l < L; l++) {
                double *row = mp_loads_row(dst, 0, l);
                const mp_expert_id *id = pc->ids + (t * L + l) * K;
                for (int32_t k = 0; k < K; k++)
                    if (id[k] < E) row[id[k]] += 1;
            }
        if (pc->end_of_step) step++;
    }
    return rc < 0 ? rc : 0;
}

/* The topology of a strategy entry: exactly E slots for a strategy that
 * places no redundant experts, E + redundant for the others. */
int mp_eval_topology(mp_topology *out, const mp_eval_setup *s, const mp_strategy *st, int32_t experts, mp_err *err)
{
    mp_topology_request t = {.gpus = s->gpus, .nodes = s->nodes, .redundant = s->redundant, .exact = !st->redundant};
    mp_err sub = {0};
    int rc = mp_topology_resolve(out, &t, experts, &sub);
    return rc ? mp_err_set(err, rc, "%s: %s", st->name, sub.msg) : 0;
}

static int make_plan(mp_eval *ev, mp_eval_result *r, const char *base_dir, mp_err *err)
{
    const mp_eval_setup *s = &ev->setup;
    const mp_loads *from = ev->train ? ev->train : ev->loads;
    int rc;
    if (r->entry.plan[0]) {
        char path[2 * MP_EVAL_PATH_MAX + 2];
        if (base_dir && base_dir[0] && r->entry.plan[0] != '/')
            snprintf(path, sizeof path, "%s/%s", base_dir, r->entry.plan);
        else
            snprintf(path, sizeof path, "%s", r->entry.plan);
        mp_plan *p;
        if ((rc = mp_plan_read_json(&p, NULL, path, err))) return rc;
        if (p->layers != ev->model.layers || p->routed != ev->model.experts) {
            rc = mp_err_set(err, MP_ESHAPE, "%s: plan of %d layers x %d experts, trace has %d x %d", path, p->layers,
                            p->routed, ev->model.layers, ev->model.experts);
            mp_plan_destroy(p);
            return rc;
        }
        return mp_plan_result_of(&r->placed, p, from, err);
    }
    const mp_strategy *st = mp_strategy_find(r->entry.strategy);
    mp_plan_request req;
    memset(&req, 0, sizeof req);
    req.strategy = st->name;
    req.locality = s->locality;
    if ((rc = mp_eval_topology(&req.topo, s, st, ev->model.experts, err))) return rc;
    if ((rc = mp_plan_evaluate(&r->placed, from, &req, err))) return rc;
    if (ev->held) { /* the oracle: the same request on the held-out steps themselves */
        mp_plan_result *o = NULL;
        if ((rc = mp_plan_evaluate(&o, ev->held, &req, err))) return rc;
        r->oracle_plan_maxmean = o->metrics->mean_max_over_mean;
        mp_plan_result_destroy(o);
    }
    return 0;
}

static void reduce(mp_eval_result *r)
{
    const mp_sim_result *x = r->sim;
    double steps = x->steps > 0 ? (double)x->steps : 1;
    r->metric[MP_M_PLAN_MAXMEAN] = r->pm->mean_max_over_mean;
    r->metric[MP_M_PLAN_WORST] = r->pm->worst_max_over_mean;
    r->metric[MP_M_SIM_MAXMEAN] = x->maxmean.mean;
    r->metric[MP_M_SIM_MAXMEAN_P99] = x->maxmean.p99;
    r->metric[MP_M_VLLM_BAL] = x->vllm_bal_run;
    r->metric[MP_M_STEP_US] = x->time_us.mean;
    r->metric[MP_M_NET_MB] = x->total_net_bytes / steps / 1e6;
    r->metric[MP_M_NVL_MB] = x->total_nvl_bytes / steps / 1e6;
    double b = 0;
    for (int64_t i = 0; i < x->steps; i++) {
        const mp_sim_stepm *m = &x->series[i];
        b += m->comm_us + (m->maxmean > 0 ? m->expert_us / m->maxmean : m->expert_us);
    }
    r->bound_us = b / steps;
}

static void reduce_holdout(const mp_eval *ev, mp_eval_result *r, mp_err *err)
{
    const mp_sim_result *x = r->sim;
    double a = 0, b = 0;
    int64_t na = 0, nb = 0;
    for (int64_t i = 0; i < x->steps; i++) {
        if (i < ev->train_steps) a += x->series[i].maxmean, na++;
        else b += x->series[i].maxmean, nb++;
    }
    r->insample_sim_maxmean = na ? a / (double)na : NAN;
    r->holdout_sim_maxmean = nb ? b / (double)nb : NAN;
    mp_plan_metrics *m = NULL;
    r->holdout_plan_maxmean = mp_plan_metrics_of(&m, r->plan, ev->held, err) ? NAN : m->mean_max_over_mean;
    mp_plan_metrics_destroy(m);
}

int mp_eval_run(mp_eval **out, const mp_eval_setup *s, const mp_piece_source *src, const mp_model *model,
                int threads, const char *base_dir, mp_progress_fn progress, void *pctx, mp_err *err)
{
    *out = NULL;
    int rc = mp_eval_setup_validate(s, err);
    if (rc) return rc;
    mp_eval *ev = calloc(1, sizeof *ev);
    if (!ev) return mp_err_set(err, MP_ENOMEM, "eval: out of memory");
    ev->setup = *s;
    ev->model = *model;
    ev->r = calloc((size_t)s->nentries, sizeof *ev->r);
    mp_sim **sims = calloc((size_t)s->nentries, sizeof *sims);
    mp_step pc;
    memset(&pc, 0, sizeof pc);
    if (!ev->r || !sims) {
        rc = mp_err_set(err, MP_ENOMEM, "eval: out of memory");
        goto done;
    }
    ev->n = s->nentries;
    if ((rc = count_pass(ev, src, &pc, progress, pctx, err))) goto done;
    ev->train_steps = ev->steps;
    ev->holdout = s->holdout < 0 ? (ev->steps >= MP_HOLDOUT_AUTO_STEPS ? MP_HOLDOUT_AUTO_FRACTION : 0) : s->holdout;
    if (ev->holdout > 0) {
        int64_t h;
        if ((rc = mp_holdout_steps(ev->steps, ev->holdout, &h, err))) goto done;
        ev->holdout_steps = h;
        ev->train_steps = ev->steps - h;
        if ((rc = split_pass(ev, src, &pc, err))) goto done;
    }
    for (int i = 0; i < ev->n; i++) {
        ev->r[i].holdout_plan_maxmean = ev->r[i].oracle_plan_maxmean = NAN;
        ev->r[i].insample_sim_maxmean = ev->r[i].holdout_sim_maxmean = NAN;
    }

    mp_sim_opts so = mp_sim_opts_default();
    so.policy = mp_policy_find(s->policy);
    so.seed = s->seed;
    so.threads = threads;
    so.keep_series = 1;
    for (int i = 0; i < ev->n; i++) {
        mp_eval_result *r = &ev->r[i];
        r->entry = s->entry[i];
        if ((rc = make_plan(ev, r, base_dir, err))) goto done;
        r->plan = r->placed->plan;
        r->pm = r->placed->metrics;
        if ((rc = mp_sim_create(&sims[i], r->plan, &ev->model, &so, err))) goto done;
    }

    if ((rc = src->rewind(src->ctx, err))) goto done;
    int64_t done_steps = 0;
    while ((rc = src->next(src->ctx, &pc, err)) == 1) {
        for (int i = 0; i < ev->n; i++)
            if ((rc = mp_sim_feed(sims[i], &pc, err))) goto done;
        if (pc.end_of_step && progress) progress(pctx, ev->steps + ++done_steps, 2 * ev->steps);
    }
    if (rc < 0) goto done;
    ev->best = 0;
    for (int i = 0; i < ev->n; i++) {
        if ((rc = mp_sim_finish(sims[i], &ev->r[i].sim, err))) goto done;
        reduce(&ev->r[i]);
        if (ev->held) reduce_holdout(ev, &ev->r[i], err);
        if (ev->r[i].metric[MP_M_STEP_US] < ev->r[ev->best].metric[MP_M_STEP_US]) ev->best = i;
    }
    rc = 0;
done:
    if (sims)
        for (int i = 0; i < s->nentries; i++) mp_sim_destroy(sims[i]);
    free(sims);
    mp_step_release(&pc);
    if (rc) {
        mp_eval_destroy(ev);
        return rc;
    }
    *out = ev;
    return 0;
}

/* ---- online rebalancing with one of the strategies ---- */

typedef struct replan_ctx {
    const mp_eval_setup *s;
    const char *strategy;
    int32_t experts;
} replan_ctx;

static int replan(void *ctx, const mp_loads *loads, mp_plan **out, mp_err *err)
{
    replan_ctx *c = ctx;
    const mp_strategy *st = mp_strategy_find(c->strategy);
    mp_plan_request req;
    memset(&req, 0, sizeof req);
    req.strategy = st->name;
    req.locality = c->s->locality;
    int rc = mp_eval_topology(&req.topo, c->s, st, c->experts, err);
    return rc ? rc : mp_planner_run(out, loads, &req, err);
}

int mp_eval_rebalance(mp_rebalance_result **out, const mp_eval *ev, const char *strategy, int64_t interval,
                      int64_t window, const mp_piece_source *src, int threads, mp_progress_fn progress, void *pctx,
                      mp_err *err)
{
    *out = NULL;
    const mp_strategy *st = mp_strategy_find(strategy ? strategy : "");
    if (!st) return mp_err_set(err, MP_EINVAL, "rebalance: unknown strategy '%s'", strategy ? strategy : "");
    mp_topology topo;
    mp_err sub = {0};
    if (mp_eval_topology(&topo, &ev->setup, st, ev->model.experts, &sub))
        return mp_err_set(err, sub.code, "rebalance: %s", sub.msg);
    replan_ctx c = {&ev->setup, st->name, ev->model.experts};
    mp_rebalance_opts o = mp_rebalance_opts_default();
    o.interval = interval;
    o.window = window;
    o.sim.policy = mp_policy_find(ev->setup.policy);
    o.sim.seed = ev->setup.seed;
    o.sim.threads = threads;
    o.replan = replan;
    o.replan_ctx = &c;
    int rc = src->rewind(src->ctx, err);
    if (rc) return rc;
    return mp_rebalance_run(out, src, &ev->model, &o, progress, pctx, err);
}

int mp_eval_sweep(mp_sweep_result **out, const mp_eval *ev, const mp_piece_source *src, int threads,
                  mp_progress_fn progress, void *pctx, mp_err *err)
{
    *out = NULL;
    mp_plan_request base;
    memset(&base, 0, sizeof base);
    base.strategy = "balanced";
    mp_err sub = {0};
    if (mp_eval_topology(&base.topo, &ev->setup, mp_strategy_find("balanced"), ev->model.experts, &sub))
        return mp_err_set(err, sub.code, "sweep: %s", sub.msg);
    static const double loc[] = {0, 0.25, 0.5, 0.75, 1};
    mp_sim_opts so = mp_sim_opts_default();
    so.policy = mp_policy_find(ev->setup.policy);
    so.seed = ev->setup.seed;
    so.threads = threads;
    int rc = src->rewind(src->ctx, err);
    if (rc) return rc;
    return mp_sweep_locality(out, src, &ev->model, ev->loads, &base, loc, 5, &so, progress, pctx, err);
}
