/* rebalance.c - static, online and oracle regimes over one trace. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "planner/mp_planner.h"
#include "sim/mp_rebalance.h"
#include "traces/stats/mp_holdout.h"

#define RING_BYTES_MAX ((int64_t)1 << 30)
#define ORACLE_STEP_MAX ((int64_t)1 << 28) /* assignments of one buffered step */

mp_rebalance_opts mp_rebalance_opts_default(void)
{
    mp_rebalance_opts o;
    memset(&o, 0, sizeof o);
    o.interval = 3000;
    o.window = 1000;
    o.threshold = 0.0;
    o.bandwidth_GBps = 50.0;
    o.oracle = 1;
    o.oracle_every = 1;
    o.shift_at = -1;
    o.holdout = MP_HOLDOUT_AUTO_FRACTION;
    o.max_moves = -1;
    o.max_bytes = -1;
    o.max_layers = -1;
    o.sim = mp_sim_opts_default();
    return o;
}

void mp_rebalance_result_destroy(mp_rebalance_result *r)
{
    if (!r) return;
    for (int i = 0; i < MP_REGIMES; i++) mp_sim_result_destroy(r->regime[i]);
    free(r->events);
    free(r->bucket_maxmean);
    free(r);
}

int64_t mp_plan_moved_copies(const mp_plan *old, const mp_plan *nw, int64_t *per_gpu_max)
{
    int32_t P = nw->topo.gpus, spg = nw->topo.slots_per_gpu;
    int32_t *cnt = calloc((size_t)nw->experts, sizeof *cnt);
    int64_t *recv = calloc((size_t)P, sizeof *recv);
    int64_t moved = 0;
    if (!cnt || !recv) {
        free(cnt);
        free(recv);
        if (per_gpu_max) *per_gpu_max = -1;
        return -1;
    }
    for (int32_t l = 0; l < nw->layers; l++) {
        const int32_t *o = mp_plan_layer(old, l), *n = mp_plan_layer(nw, l);
        for (int32_t g = 0; g < P; g++) {
            for (int32_t p = g * spg; p < (g + 1) * spg; p++) cnt[o[p]]++;
            for (int32_t p = g * spg; p < (g + 1) * spg; p++) {
                if (cnt[n[p]] > 0)
                    cnt[n[p]]--;
                else
                    recv[g]++;
            }
            for (int32_t p = g * spg; p < (g + 1) * spg; p++) cnt[o[p]] = 0;
        }
    }
    int64_t mx = 0;
    for (int32_t g = 0; g < P; g++) {
        moved += recv[g];
        mx = recv[g] > mx ? recv[g] : mx;
    }
    if (per_gpu_max) *per_gpu_max = mx;
    free(cnt);
    free(recv);
    return moved;
}

/* ---- the run ---- */

typedef struct run {
    const mp_rebalance_opts *o;
    mp_model m;
    int32_t L, E, K;
    mp_sim *sim[MP_REGIMES];
    mp_plan *static_plan, *online_plan, *oracle_plan;
    int ring_mode;    /* window > interval: windows overlap, keep per-step counts */
    uint32_t *ring;   /* ring_mode: [window][L][E] per-step counts; else [L][E] the current window's sum */
    uint32_t *stepc;  /* oracle: [L][E] counts of the current step */
    uint32_t *late;   /* non-ring mode: [L][E] the window's last `held` steps */
    int64_t held;     /* held-out steps of each window (0: judged in sample) */
    mp_loads *early, *latel; /* 1 x L x E scratch: the window's first W - held and last held steps */
    mp_loads *win;  /* 1 x L x E scratch                         */
    mp_step *buf;   /* oracle: the current step's pieces          */
    int64_t nbuf, capbuf, buf_assign;
    mp_rebalance_event *ev;
    int64_t nev, capev;
    double expert_bytes;
} run;

static int push_event(run *r, const mp_rebalance_event *e)
{
    if (r->nev == r->capev) {
        int64_t cap = r->capev ? r->capev * 2 : 16;
        mp_rebalance_event *n = realloc(r->ev, (size_t)cap * sizeof *n);
        if (!n) return MP_ENOMEM;
        r->ev = n;
        r->capev = cap;
    }
    r->ev[r->nev++] = *e;
    return 0;
}

static void count_piece(run *r, const mp_step *pc, uint32_t *dst)
{
    int64_t n = pc->tokens;
    for (int64_t t = 0; t < n; t++)
        for (int32_t l = 0; l < r->L; l++) {
            const mp_expert_id *id = pc->ids + (t * r->L + l) * r->K;
            uint32_t *row = dst + (int64_t)l * r->E;
            for (int32_t k = 0; k < r->K; k++)
                if (id[k] < r->E) row[id[k]]++;
        }
}

static int replan(run *r, mp_plan **out, mp_err *err)
{
    int rc = r->o->replan(r->o->replan_ctx, r->win, out, err);
    if (rc) return rc;
    if ((*out)->layers != r->L || (*out)->routed != r->E) {
        mp_plan_destroy(*out);
        *out = NULL;
        return mp_err_set(err, MP_ESHAPE, "rebalance: the planner returned a plan of another shape");
    }
    return 0;
}

static int online_rebalance(run *r, int64_t s, mp_err *err)
{
    const mp_rebalance_opts *o = r->o;
    int64_t cells = (int64_t)r->L * r->E;
    memset(r->win->count, 0, (size_t)cells * sizeof(double));
    if (r->held) memset(r->latel->count, 0, (size_t)cells * sizeof(double));
    if (r->ring_mode) {
        for (int64_t j = s - o->window; j < s; j++) { /* window order: deterministic sums */
            const uint32_t *src = r->ring + (j % o->window) * cells;
            for (int64_t c = 0; c < cells; c++) r->win->count[c] += src[c];
            if (r->held && j >= s - r->held)
                for (int64_t c = 0; c < cells; c++) r->latel->count[c] += src[c];
        }
    } else {
        for (int64_t c = 0; c < cells; c++) r->win->count[c] = r->ring[c];
        memset(r->ring, 0, (size_t)cells * sizeof *r->ring);
        if (r->held) {
            for (int64_t c = 0; c < cells; c++) r->latel->count[c] = r->late[c];
            memset(r->late, 0, (size_t)cells * sizeof *r->late);
        }
    }
    mp_rebalance_event e;
    memset(&e, 0, sizeof e);
    e.step = s;
    e.holdout_gain = NAN;
    int rc;
    if (r->held) { /* the held-out decision: a trial plan from the window's first steps, judged on its last */
        for (int64_t c = 0; c < cells; c++) r->early->count[c] = r->win->count[c] - r->latel->count[c];
        mp_plan *trial = NULL;
        if ((rc = r->o->replan(r->o->replan_ctx, r->early, &trial, err))) return rc;
        double a = mp_plan_even_maxmean(r->online_plan, r->latel, NULL), b = mp_plan_even_maxmean(trial, r->latel, NULL);
        mp_plan_destroy(trial);
        e.holdout_gain = b > 0 ? a / b - 1.0 : 0.0;
    }
    mp_plan *np = NULL;
    if ((rc = replan(r, &np, err))) return rc;
    if (o->relabel) { /* the planner's migration-aware relabelling */
        mp_migration mg;
        if ((rc = mp_plan_migrate(np, r->online_plan, 0, &mg, err))) {
            mp_plan_destroy(np);
            return rc;
        }
    }
    e.old_pred = mp_plan_even_maxmean(r->online_plan, r->win, NULL);
    double full = mp_plan_even_maxmean(np, r->win, NULL);
    double gain = r->held ? e.holdout_gain : full > 0 ? e.old_pred / full - 1.0 : 0.0;
    e.new_pred = e.old_pred;
    if (gain >= o->threshold) { /* the moves that pay: the planner's move path */
        double *w = mp_plan_expert_loads(np, r->win);
        mp_move_path *mp = NULL;
        if (!w) rc = mp_err_set(err, MP_ENOMEM, "rebalance: out of memory");
        else rc = mp_move_path_build(&mp, r->online_plan, np, w, (int64_t)llround(r->expert_bytes), err);
        free(w);
        if (!rc) {
            mp_move_path_choose(mp, o->max_moves, o->max_bytes, o->max_layers);
            e.layers_moved = mp->chosen_layers;
            rc = mp_move_path_apply(np, r->online_plan, mp, err);
        }
        mp_move_path_destroy(mp);
        if (rc) {
            mp_plan_destroy(np);
            return rc;
        }
        e.applied = e.layers_moved > 0;
        e.new_pred = mp_plan_even_maxmean(np, r->win, NULL);
    }
    if (e.applied) {
        int64_t gmax = 0;
        e.experts_moved = mp_plan_moved_copies(r->online_plan, np, &gmax);
        e.bytes = (double)e.experts_moved * r->expert_bytes;
        e.transfer_ms = (double)gmax * r->expert_bytes / (o->bandwidth_GBps * 1e6);
        if ((rc = mp_sim_set_plan(r->sim[MP_REGIME_ONLINE], np, err))) {
            mp_plan_destroy(np);
            return rc;
        }
        mp_plan_destroy(r->online_plan);
        r->online_plan = np;
    } else {
        mp_plan_destroy(np);
    }
    if (push_event(r, &e)) return mp_err_set(err, MP_ENOMEM, "rebalance: out of memory");
    return 0;
}

static int buffer_piece(run *r, const mp_step *pc, mp_err *err)
{
    r->buf_assign += mp_step_assignments(pc);
    if (r->buf_assign > ORACLE_STEP_MAX)
        return mp_err_set(err, MP_ELIMIT, "rebalance: step %lld is too large for the oracle to hold",
                          (long long)pc->step);
    if (r->nbuf == r->capbuf) {
        int64_t cap = r->capbuf ? r->capbuf * 2 : 4;
        mp_step *n = realloc(r->buf, (size_t)cap * sizeof *n);
        if (!n) return mp_err_set(err, MP_ENOMEM, "rebalance: out of memory");
        memset(n + r->capbuf, 0, (size_t)(cap - r->capbuf) * sizeof *n);
        r->buf = n;
        r->capbuf = cap;
    }
    mp_step *b = &r->buf[r->nbuf];
    int rc = mp_step_reserve(b, pc->tokens, pc->layers, pc->top_k, 0, pc->src_rank != NULL, err);
    if (rc) return rc;
    b->step = pc->step;
    b->first_token = pc->first_token;
    b->end_of_step = pc->end_of_step;
    memcpy(b->ids, pc->ids, (size_t)mp_step_assignments(pc) * sizeof *b->ids);
    if (pc->src_rank) memcpy(b->src_rank, pc->src_rank, (size_t)pc->tokens * sizeof *b->src_rank);
    r->nbuf++;
    return 0;
}

static int oracle_step(run *r, int64_t s, const uint32_t *counts, mp_err *err)
{
    int rc;
    if (s % r->o->oracle_every == 0) {
        int64_t cells = (int64_t)r->L * r->E;
        for (int64_t c = 0; c < cells; c++) r->win->count[c] = counts[c];
        mp_plan *np = NULL;
        if ((rc = replan(r, &np, err))) return rc;
        if ((rc = mp_sim_set_plan(r->sim[MP_REGIME_ORACLE], np, err))) {
            mp_plan_destroy(np);
            return rc;
        }
        mp_plan_destroy(r->oracle_plan);
        r->oracle_plan = np;
    }
    for (int64_t i = 0; i < r->nbuf; i++)
        if ((rc = mp_sim_feed(r->sim[MP_REGIME_ORACLE], &r->buf[i], err))) return rc;
    r->nbuf = 0;
    r->buf_assign = 0;
    return 0;
}

static void run_free(run *r)
{
    for (int i = 0; i < MP_REGIMES; i++) mp_sim_destroy(r->sim[i]);
    mp_plan_destroy(r->static_plan);
    mp_plan_destroy(r->online_plan);
    mp_plan_destroy(r->oracle_plan);
    free(r->ring);
    free(r->stepc);
    free(r->late);
    mp_loads_destroy(r->win);
    mp_loads_destroy(r->early);
    mp_loads_destroy(r->latel);
    for (int64_t i = 0; i < r->capbuf; i++) mp_step_release(&r->buf[i]);
    free(r->buf);
    free(r->ev);
}

static void over_time(mp_rebalance_result *res, const mp_rebalance_opts *o)
{
    int64_t B = res->bucket;
    for (int g = 0; g < MP_REGIMES; g++) {
        res->recovery_steps[g] = -1;
        res->pre_shift[g] = NAN;
        const mp_sim_result *sr = res->regime[g];
        for (int64_t b = 0; b < res->nbuckets; b++) res->bucket_maxmean[b * MP_REGIMES + g] = NAN;
        if (!sr) continue;
        double pre = 0;
        int64_t npre = 0;
        for (int64_t b = 0; b < res->nbuckets; b++) {
            double sum = 0;
            int64_t n = 0;
            for (int64_t i = b * B; i < (b + 1) * B && i < sr->steps; i++) {
                sum += sr->series[i].maxmean;
                n++;
            }
            res->bucket_maxmean[b * MP_REGIMES + g] = n ? sum / (double)n : NAN;
        }
        if (o->shift_at < 0) continue;
        for (int64_t i = 0; i < sr->steps && sr->series[i].step < o->shift_at; i++) {
            pre += sr->series[i].maxmean;
            npre++;
        }
        if (!npre) continue;
        pre /= (double)npre;
        res->pre_shift[g] = pre;
        for (int64_t b = 0; b < res->nbuckets; b++) {
            int64_t start = b * B;
            if (start < o->shift_at) continue;
            if (res->bucket_maxmean[b * MP_REGIMES + g] <= pre * 1.05) {
                res->recovery_steps[g] = start - o->shift_at;
                break;
            }
        }
    }
}

int mp_rebalance_run(mp_rebalance_result **out, const mp_piece_source *src, const mp_model *model,
                     const mp_rebalance_opts *o, mp_progress_fn progress, void *pctx, mp_err *err)
{
    *out = NULL;
    if (o->interval < 1 || o->window < 1 || o->oracle_every < 1 || !(o->bandwidth_GBps > 0) || !o->replan ||
        !(o->threshold >= 0) || !(o->holdout >= 0 && o->holdout < 1))
        return mp_err_set(err, MP_EINVAL, "rebalance: interval, window and oracle period must be >= 1, "
                                          "bandwidth > 0, threshold >= 0, holdout in [0, 1)");
    run r;
    memset(&r, 0, sizeof r);
    r.o = o;
    r.m = *model;
    r.L = model->layers;
    r.E = model->experts;
    r.K = model->top_k;
    int64_t cells = (int64_t)r.L * r.E;
    if (o->window > RING_BYTES_MAX / 4 / cells)
        return mp_err_set(err, MP_ELIMIT, "rebalance: a window of %lld steps x %d layers x %d experts is too large",
                          (long long)o->window, (int)r.L, (int)r.E);
    double h = (double)mp_cost_hidden(&o->sim.cost, model), in = (double)mp_cost_intermediate(&o->sim.cost, model);
    r.expert_bytes = 3.0 * h * in * o->sim.cost.weight_bytes;
    mp_step pc = {0};
    mp_sim_opts so = o->sim;
    so.keep_series = 1;
    int rc;
    int64_t done = 0;
    r.ring_mode = o->window > o->interval;
    r.ring = calloc((size_t)((r.ring_mode ? o->window : 1) * cells), sizeof *r.ring);
    r.stepc = o->oracle ? calloc((size_t)cells, sizeof *r.stepc) : NULL;
    if (!r.ring || (o->oracle && !r.stepc)) {
        rc = mp_err_set(err, MP_ENOMEM, "rebalance: out of memory");
        goto fail;
    }
    if ((rc = mp_loads_create(&r.win, 1, r.L, r.E, err))) goto fail;
    /* the window's loads carry the model (its groups and top-k), so that a
     * strategy plans as it does from a trace's loads: eplb stays hierarchical
     * where the groups split over the nodes, not EPLB's global policy */
    r.win->has_model = 1;
    r.win->model = *model;
    if (o->holdout > 0 && o->window >= MP_HOLDOUT_MIN_STEPS) {
        mp_err sub = {0};
        if (mp_holdout_steps(o->window, o->holdout, &r.held, &sub)) r.held = 0;
    }
    if (r.held) {
        if ((rc = mp_loads_create(&r.early, 1, r.L, r.E, err)) || (rc = mp_loads_create(&r.latel, 1, r.L, r.E, err)))
            goto fail;
        r.early->has_model = r.latel->has_model = 1;
        r.early->model = r.latel->model = *model;
        if (!r.ring_mode && !(r.late = calloc((size_t)cells, sizeof *r.late))) {
            rc = mp_err_set(err, MP_ENOMEM, "rebalance: out of memory");
            goto fail;
        }
    }
    /* pass 1: the first window's loads make the static plan */
    uint32_t *first = r.ring; /* borrowed as a [L][E] sum before streaming */
    while ((rc = src->next(src->ctx, &pc, err)) == 1 && pc.step < o->window) count_piece(&r, &pc, first);
    if (rc < 0) goto fail;
    for (int64_t c = 0; c < cells; c++) r.win->count[c] = first[c];
    memset(first, 0, (size_t)cells * sizeof *first);
    if ((rc = replan(&r, &r.static_plan, err))) goto fail;
    if ((rc = replan(&r, &r.online_plan, err))) goto fail;
    if ((rc = src->rewind(src->ctx, err))) goto fail;
    if ((rc = mp_sim_create(&r.sim[MP_REGIME_STATIC], r.static_plan, model, &so, err))) goto fail;
    if ((rc = mp_sim_create(&r.sim[MP_REGIME_ONLINE], r.online_plan, model, &so, err))) goto fail;
    if (o->oracle) {
        if ((rc = replan(&r, &r.oracle_plan, err))) goto fail;
        if ((rc = mp_sim_create(&r.sim[MP_REGIME_ORACLE], r.oracle_plan, model, &so, err))) goto fail;
    }
    /* pass 2: stream */
    int in_step = 0;
    int64_t cur = -1;
    while ((rc = src->next(src->ctx, &pc, err)) == 1) {
        if (!in_step) {
            cur = pc.step;
            in_step = 1;
            if (cur > 0 && cur % o->interval == 0 && cur >= o->window && (rc = online_rebalance(&r, cur, err)))
                goto fail;
            if (r.ring_mode) memset(r.ring + (cur % o->window) * cells, 0, (size_t)cells * sizeof *r.ring);
            if (r.stepc) memset(r.stepc, 0, (size_t)cells * sizeof *r.stepc);
        }
        if ((rc = mp_sim_feed(r.sim[MP_REGIME_STATIC], &pc, err))) goto fail;
        if ((rc = mp_sim_feed(r.sim[MP_REGIME_ONLINE], &pc, err))) goto fail;
        /* the window of the next rebalance (k*I) is [k*I - W, k*I) */
        if (r.ring_mode)
            count_piece(&r, &pc, r.ring + (cur % o->window) * cells);
        else if (cur % o->interval >= o->interval - o->window)
            count_piece(&r, &pc, r.ring);
        if (r.late && cur % o->interval >= o->interval - r.held) count_piece(&r, &pc, r.late);
        if (r.stepc) count_piece(&r, &pc, r.stepc);
        if (o->oracle && (rc = buffer_piece(&r, &pc, err))) goto fail;
        if (pc.end_of_step) {
            in_step = 0;
            if (o->oracle && (rc = oracle_step(&r, cur, r.stepc, err))) goto fail;
        }
        done += mp_step_assignments(&pc);
        if (progress) progress(pctx, done, -1);
    }
    if (rc < 0) goto fail;
    if (o->oracle && r.nbuf && (rc = oracle_step(&r, cur, r.stepc, err))) goto fail;

    mp_rebalance_result *res = calloc(1, sizeof *res);
    if (!res) {
        rc = mp_err_set(err, MP_ENOMEM, "rebalance: out of memory");
        goto fail;
    }
    for (int g = 0; g < MP_REGIMES; g++)
        if (r.sim[g] && (rc = mp_sim_finish(r.sim[g], &res->regime[g], err))) {
            mp_rebalance_result_destroy(res);
            goto fail;
        }
    res->steps = res->regime[MP_REGIME_STATIC]->steps;
    res->events = r.ev;
    res->nevents = r.nev;
    r.ev = NULL;
    for (int64_t i = 0; i < res->nevents; i++)
        if (res->events[i].applied) {
            res->applied++;
            res->moved_bytes += res->events[i].bytes;
            res->transfer_ms += res->events[i].transfer_ms;
        }
    res->bucket = o->bucket > 0 ? o->bucket : o->interval;
    res->nbuckets = (res->steps + res->bucket - 1) / res->bucket;
    res->bucket_maxmean = malloc((size_t)(res->nbuckets > 0 ? res->nbuckets : 1) * MP_REGIMES * sizeof(double));
    if (!res->bucket_maxmean) {
        mp_rebalance_result_destroy(res);
        rc = mp_err_set(err, MP_ENOMEM, "rebalance: out of memory");
        goto fail;
    }
    over_time(res, o);
    res->interval = o->interval;
    res->window = o->window;
    for (int g = 0; g < MP_REGIMES; g++) res->total_us[g] = res->regime[g] ? res->regime[g]->total_time_us : NAN;
    res->total_us[MP_REGIME_ONLINE] += res->transfer_ms * 1e3;
    if (res->nevents == 0)
        res->verdict = MP_REB_NONE_DUE;
    else if (res->applied == 0)
        res->verdict = MP_REB_NONE_PAID;
    else {
        res->gain = res->total_us[MP_REGIME_STATIC] / res->total_us[MP_REGIME_ONLINE] - 1.0;
        res->verdict = res->gain > 0 ? MP_REB_PAYS : MP_REB_COSTS;
    }
    mp_step_release(&pc);
    run_free(&r);
    *out = res;
    return 0;
fail:
    mp_step_release(&pc);
    run_free(&r);
    return rc;
}

/* ---- the verdict ---- */

static void bytes_text(double b, char *buf, size_t cap)
{
    if (b >= 1e12)
        snprintf(buf, cap, "%.2f TB", b / 1e12);
    else if (b >= 1e9)
        snprintf(buf, cap, "%.2f GB", b / 1e9);
    else
        snprintf(buf, cap, "%.1f MB", b / 1e6);
}

const char *mp_rebalance_verdict_text(const mp_rebalance_result *r, char *buf, size_t cap)
{
    char moved[32];
    bytes_text(r->moved_bytes, moved, sizeof moved);
    int64_t first = r->interval > r->window ? r->interval : r->window;
    first = (first + r->interval - 1) / r->interval * r->interval; /* the first multiple of the interval >= window */
    switch (r->verdict) {
    case MP_REB_NONE_DUE:
        snprintf(buf, cap, "no rebalance: the trace's %lld steps end before the first one is due (step %lld: every "
                 "%lld steps, once a window of %lld steps is seen); the static plan stands",
                 (long long)r->steps, (long long)first, (long long)r->interval, (long long)r->window);
        break;
    case MP_REB_NONE_PAID:
        snprintf(buf, cap, "does not pay: none of the %lld rebalances considered was applied (each one's gain on "
                 "steps its trial plan had not seen was below the threshold, or no move was worth its bytes); "
                 "the static plan stands",
                 (long long)r->nevents);
        break;
    case MP_REB_PAYS:
        snprintf(buf, cap, "pays: %.2f%% less predicted time than the static plan over the trace, transfers "
                 "included (%lld of %lld rebalances applied, %s moved, %.2f ms of transfer)",
                 100 * r->gain / (1 + r->gain), (long long)r->applied, (long long)r->nevents, moved, r->transfer_ms);
        break;
    default:
        snprintf(buf, cap, "does not pay: %.2f%% more predicted time than the static plan over the trace, transfers "
                 "included (%lld of %lld rebalances applied, %s moved, %.2f ms of transfer)",
                 -100 * r->gain / (1 + r->gain), (long long)r->applied, (long long)r->nevents, moved, r->transfer_ms);
        break;
    }
    return buf;
}
