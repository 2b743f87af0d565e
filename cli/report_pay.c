/* report_pay.c - the report's "will it pay?" figures: for a prefill and a
 * decode batch size, the predicted step time of linear placement, of static
 * EPLB-style placement with 0..R redundant experts per GPU, of per-batch
 * replica routing (sglang-lp) over the setup's plan and of online
 * rebalancing, with the GPU memory the replicas take.
 *
 * The trace's tokens are replayed in steps of the regime's batch (a source
 * that re-cuts the trace's token stream into steps of B tokens, in order);
 * the plans are made once, from the loads the report's strategies plan from
 * (the planning steps when steps are held out). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli/report.h"
#include "planner/mp_planner.h"

/* ---- a source re-cut into steps of `batch` tokens ---- */

typedef struct rebatch {
    const mp_piece_source *in;
    int64_t batch, max_steps;
    mp_step cur;      /* the input piece being cut                       */
    int64_t pos;      /* its next token                                  */
    int have, eof;    /* cur holds tokens from pos; the input has ended  */
    int64_t step, filled; /* output step and its tokens so far           */
} rebatch;

/* makes cur hold a token at pos, or sets eof; 0 or < 0 */
static int fill(rebatch *b, mp_err *err)
{
    while (!b->eof && (!b->have || b->pos >= b->cur.tokens)) {
        int rc = b->in->next(b->in->ctx, &b->cur, err);
        if (rc < 0) return rc;
        b->have = rc == 1;
        b->eof = rc == 0;
        b->pos = 0;
    }
    return 0;
}

static int rebatch_next(void *ctx, mp_step *out, mp_err *err)
{
    rebatch *b = ctx;
    int rc = fill(b, err);
    if (rc) return rc;
    if (b->eof || b->step >= b->max_steps) return 0;
    int64_t n = b->cur.tokens - b->pos;
    if (n > b->batch - b->filled) n = b->batch - b->filled;
    int32_t L = b->cur.layers, K = b->cur.top_k;
    if ((rc = mp_step_reserve(out, n, L, K, b->cur.weights != NULL, b->cur.src_rank != NULL, err))) return rc;
    size_t per = (size_t)L * K;
    memcpy(out->ids, b->cur.ids + (size_t)b->pos * per, (size_t)n * per * sizeof *out->ids);
    if (b->cur.weights) memcpy(out->weights, b->cur.weights + (size_t)b->pos * per, (size_t)n * per * sizeof *out->weights);
    if (b->cur.src_rank) memcpy(out->src_rank, b->cur.src_rank + b->pos, (size_t)n * sizeof *out->src_rank);
    out->step = b->step;
    out->first_token = b->filled;
    b->pos += n;
    b->filled += n;
    if ((rc = fill(b, err))) return rc; /* look ahead: does the input end here? */
    out->end_of_step = b->filled == b->batch || b->eof;
    if (out->end_of_step) {
        b->step++;
        b->filled = 0;
    }
    return 1;
}

static int rebatch_rewind(void *ctx, mp_err *err)
{
    rebatch *b = ctx;
    b->have = b->eof = 0;
    b->pos = b->step = b->filled = 0;
    return b->in->rewind(b->in->ctx, err);
}

/* ---- the figures ---- */

/* plans `strategy` on `from` with `redundant` extra slots over all GPUs */
static int plan_one(const mp_eval *ev, const mp_loads *from, const char *strategy, int32_t redundant, mp_plan **out,
                    mp_err *err)
{
    mp_eval_setup s = ev->setup;
    s.redundant = redundant;
    const mp_strategy *st = mp_strategy_find(strategy);
    mp_plan_request req;
    memset(&req, 0, sizeof req);
    req.strategy = st->name;
    req.locality = s.locality;
    int rc = mp_eval_topology(&req.topo, &s, st, ev->model.experts, err);
    return rc ? rc : mp_planner_run(out, from, &req, err);
}

typedef struct replan_ctx {
    const mp_eval *ev;
    int32_t redundant;
} replan_ctx;

static int replan(void *ctx, const mp_loads *loads, mp_plan **out, mp_err *err)
{
    const replan_ctx *c = ctx;
    return plan_one(c->ev, loads, REPORT_PAY_STRATEGY, c->redundant, out, err);
}

void report_pay_destroy(report_pay *p) { free(p); }

/* bytes of one expert's weights: 3 matrices of H x I at the model's weight bits (else the cost model's) */
static double expert_bytes(const mp_eval *ev, const mp_cost *c)
{
    double bytes = ev->model.weight_bits > 0 ? ev->model.weight_bits / 8.0 : c->weight_bytes;
    return 3.0 * (double)mp_cost_hidden(c, &ev->model) * (double)mp_cost_intermediate(c, &ev->model) * bytes;
}

int report_pay_run(report_pay **out, const mp_eval *ev, const mp_piece_source *src, int threads,
                   mp_progress_fn progress, void *pctx, mp_err *err)
{
    *out = NULL;
    const mp_eval_setup *s = &ev->setup;
    int32_t P = s->gpus, E = ev->model.experts;
    report_pay *p = calloc(1, sizeof *p);
    if (!p) return mp_err_set(err, MP_ENOMEM, "report: out of memory");
    mp_sim_opts so = mp_sim_opts_default();
    so.policy = mp_policy_find(s->policy);
    so.seed = s->seed;
    so.threads = threads;
    /* redundant slots per GPU: the setup's (rounded down), and rows up to at least 2 */
    p->r_setup = s->redundant / P;
    p->r_max = p->r_setup > 2 ? p->r_setup : 2;
    if (p->r_max > REPORT_PAY_R_MAX) p->r_max = REPORT_PAY_R_MAX;
    if (p->r_setup > p->r_max) p->r_setup = p->r_max;
    p->replica_bytes = expert_bytes(ev, &so.cost) * ev->model.layers; /* one more expert per MoE layer */
    /* KV-cache tokens the replicas' memory would hold: bf16 cache (2 bytes per element), all decoder layers */
    p->kv_bytes_per_token = (double)mp_model_kv_bytes_per_token(&ev->model, 2.0);
    const mp_loads *from = ev->train ? ev->train : ev->loads;
    int64_t tokens = ev->tokens;

    /* the plans: [0] linear, [1 + r] eplb with r redundant per GPU; the sims: those, then sglang-lp on r_setup */
    enum { NPLAN = REPORT_PAY_R_MAX + 2 };
    mp_plan *plan[NPLAN] = {0};
    int nplan = p->r_max + 2, rc = 0;
    int32_t base = (E + P - 1) / P * P - E; /* slots eplb needs beyond E to split over the GPUs */
    if ((rc = plan_one(ev, from, "linear", 0, &plan[0], err))) goto done;
    for (int r = 0; r <= p->r_max; r++)
        if ((rc = plan_one(ev, from, REPORT_PAY_STRATEGY, base + r * P, &plan[1 + r], err))) goto done;

    int64_t done_tok = 0, total_tok = 0;
    for (int g = 0; g < REPORT_PAY_REGIMES; g++) {
        int64_t per_gpu = g == 0 ? REPORT_PAY_PREFILL_PER_GPU : REPORT_PAY_DECODE_PER_GPU;
        int64_t B = per_gpu * P;
        if (B > tokens) B = tokens > 0 ? tokens : 1;
        int64_t steps = (tokens + B - 1) / B;
        if (steps > REPORT_PAY_STEPS_MAX) steps = REPORT_PAY_STEPS_MAX;
        p->reg[g].batch = B;
        p->reg[g].steps = steps;
        p->reg[g].online_steps_us = p->reg[g].online_stall_us = p->reg[g].online_static_us = NAN;
        p->reg[g].online_verdict = -1;
        int64_t t = B * steps < tokens ? B * steps : tokens;
        total_tok += t > total_tok ? t - total_tok : 0; /* the one pass reads as far as the longest regime */
        if (steps >= 3) total_tok += 2 * t;            /* the rebalancer's two passes */
    }
    /* one pass over the source feeds every regime: each input piece is cut
     * into views at the regime's step boundaries (the source's token count
     * is known, so the last step ends with the last token) */
    const mp_policy *lp = mp_policy_find("sglang-lp");
    mp_sim *sim[REPORT_PAY_REGIMES][NPLAN + 1];
    memset(sim, 0, sizeof sim);
    for (int g = 0; g < REPORT_PAY_REGIMES && !rc; g++) {
        for (int i = 0; i < nplan && !rc; i++) rc = mp_sim_create(&sim[g][i], plan[i], &ev->model, &so, err);
        if (!rc) {
            mp_sim_opts lo = so;
            lo.policy = lp;
            rc = mp_sim_create(&sim[g][nplan], plan[1 + p->r_setup], &ev->model, &lo, err);
        }
    }
    int64_t step[REPORT_PAY_REGIMES] = {0}, filled[REPORT_PAY_REGIMES] = {0}, seen = 0;
    mp_step pc = {0};
    if (!rc) rc = src->rewind(src->ctx, err);
    while (!rc && (rc = src->next(src->ctx, &pc, err)) == 1) {
        rc = 0;
        size_t per = (size_t)pc.layers * pc.top_k;
        int more = 0;
        for (int g = 0; g < REPORT_PAY_REGIMES && !rc; g++) {
            report_pay_regime *x = &p->reg[g];
            for (int64_t pos = 0; pos < pc.tokens && step[g] < x->steps && !rc;) {
                int64_t n = pc.tokens - pos;
                if (n > x->batch - filled[g]) n = x->batch - filled[g];
                mp_step v = pc; /* a view: the sims only read it */
                v.ids = pc.ids + (size_t)pos * per;
                v.weights = pc.weights ? pc.weights + (size_t)pos * per : NULL;
                v.src_rank = pc.src_rank ? pc.src_rank + pos : NULL;
                v.tokens = n;
                v.step = step[g];
                v.first_token = filled[g];
                pos += n;
                filled[g] += n;
                v.end_of_step = filled[g] == x->batch || seen + pos == tokens;
                for (int i = 0; i <= nplan && !rc; i++) rc = mp_sim_feed(sim[g][i], &v, err);
                if (v.end_of_step) step[g]++, filled[g] = 0;
            }
            more |= step[g] < x->steps;
        }
        seen += pc.tokens;
        if (progress) progress(pctx, seen, total_tok);
        if (!more) break; /* every regime has its steps */
    }
    if (rc > 0) rc = 0;
    mp_step_release(&pc);
    for (int g = 0; g < REPORT_PAY_REGIMES; g++)
        for (int i = 0; i <= nplan; i++) {
            mp_sim_result *res = NULL;
            if (!rc && !(rc = mp_sim_finish(sim[g][i], &res, err))) {
                report_pay_regime *x = &p->reg[g];
                double t = res->time_us.mean;
                if (i == 0)
                    x->linear_us = t;
                else if (i < nplan)
                    x->static_us[i - 1] = t, x->static_maxmean[i - 1] = res->maxmean.mean;
                else
                    x->lp_us = t, x->lp_maxmean = res->maxmean.mean;
                mp_sim_result_destroy(res);
            }
            mp_sim_destroy(sim[g][i]);
        }
    done_tok = seen;
    for (int g = 0; g < REPORT_PAY_REGIMES && !rc; g++) {
        report_pay_regime *x = &p->reg[g];
        if (x->steps < 3) continue; /* too few steps to rebalance between: no online row */
        /* online rebalancing from the setup's plan, every steps/8 steps (at least 2) from as many (no oracle) */
        rebatch b;
        memset(&b, 0, sizeof b);
        b.in = src;
        b.batch = x->batch;
        b.max_steps = x->steps;
        mp_piece_source rs = {&b, rebatch_next, rebatch_rewind};
        mp_rebalance_opts o = mp_rebalance_opts_default();
        o.interval = x->steps >= 16 ? x->steps / 8 : 2;
        o.window = o.interval;
        o.oracle = 0;
        o.sim = so;
        replan_ctx c = {ev, base + p->r_setup * P};
        o.replan = replan;
        o.replan_ctx = &c;
        mp_rebalance_result *rb = NULL;
        if (!(rc = rs.rewind(rs.ctx, err)) && !(rc = mp_rebalance_run(&rb, &rs, &ev->model, &o, NULL, NULL, err))) {
            double n = rb->steps > 0 ? (double)rb->steps : 1;
            x->online_steps_us = rb->regime[MP_REGIME_ONLINE]->total_time_us / n;
            x->online_stall_us = rb->total_us[MP_REGIME_ONLINE] / n;
            x->online_static_us = rb->regime[MP_REGIME_STATIC]->total_time_us / n;
            x->online_interval = rb->interval;
            x->online_verdict = rb->verdict;
            x->online_moved_bytes = rb->moved_bytes;
            mp_rebalance_verdict_text(rb, x->online_text, sizeof x->online_text);
        }
        mp_rebalance_result_destroy(rb);
        mp_step_release(&b.cur);
        done_tok += 2 * (x->batch * x->steps < tokens ? x->batch * x->steps : tokens);
        if (progress) progress(pctx, done_tok < total_tok ? done_tok : total_tok, total_tok);
    }
done:
    for (int i = 0; i < NPLAN; i++) mp_plan_destroy(plan[i]);
    if (rc) {
        free(p);
        return rc;
    }
    *out = p;
    return 0;
}

const char *report_pay_verdict(const report_pay *p, int g, char *buf, size_t cap)
{
    const report_pay_regime *x = &p->reg[g];
    int best = 0;
    for (int r = 1; r <= p->r_max; r++)
        if (x->static_us[r] < x->static_us[best]) best = r;
    double lin = x->linear_us, gain = lin > 0 ? 1 - x->static_us[best] / lin : 0;
    size_t n = 0;
#define ADD(...) (n += (size_t)snprintf(buf + n, n < cap ? cap - n : 0, __VA_ARGS__), n = n < cap ? n : cap)
    buf[0] = 0;
    if (gain >= REPORT_NOISE)
        ADD("static %s with %d redundant per GPU pays: %.1f%% faster than linear. ", REPORT_PAY_STRATEGY, best, 100 * gain);
    else if (gain > 0)
        ADD("no change pays: the best static placement (%s, %d redundant per GPU) is %.1f%% faster than linear, within "
            "the model's uncertainty (%.0f%%). ", REPORT_PAY_STRATEGY, best, 100 * gain, 100 * REPORT_NOISE);
    else
        ADD("no change pays: no static placement is predicted faster than linear (the best, %s with %d redundant "
            "per GPU, is %.1f%% slower). ", REPORT_PAY_STRATEGY, best, -100 * gain);
    double one = x->static_us[0] > 0 ? x->static_us[1] / x->static_us[0] - 1 : 0;
    if (best == 0)
        ADD("Redundant experts do not pay at this batch: one per GPU is %+.1f%% against none (each adds a weight read "
            "and a copy of an expert in GPU memory). ", 100 * one);
    else
        ADD("Redundant experts pay up to %d per GPU (%.2f GB of weights each). ", best, p->replica_bytes / 1e9);
    double lp = x->static_us[p->r_setup] > 0 ? x->lp_us / x->static_us[p->r_setup] - 1 : 0;
    ADD("Per-batch routing (sglang-lp) changes the step by %+.1f%% over the same static plan.", 100 * lp);
    if (x->online_verdict >= 0) ADD(" Online rebalancing %s.", x->online_text);
#undef ADD
    return buf;
}

void report_advise(const mp_eval *ev, report_advice *a)
{
    memset(a, 0, sizeof *a);
    a->best = ev->best;
    a->linear = -1;
    for (int i = 0; i < ev->n; i++)
        if (strcmp(ev->r[i].entry.strategy, "linear") == 0) a->linear = i;
    const mp_eval_result *b = &ev->r[a->best];
    double tb = b->metric[MP_M_STEP_US];
    a->deploy = a->best;
    a->pays = 1;
    if (a->linear >= 0) {
        const mp_eval_result *l = &ev->r[a->linear];
        double tl = l->metric[MP_M_STEP_US];
        a->gain = tl > 0 ? 1 - tb / tl : 0;
        a->pays = a->best != a->linear && a->gain >= REPORT_NOISE;
        if (!a->pays) a->deploy = a->linear;
        if (a->best == a->linear)
            snprintf(a->why, sizeof a->why, "no placement change pays: linear placement (the engines' default) has the "
                     "lowest predicted step time, %.1f us", tl);
        else if (!a->pays)
            snprintf(a->why, sizeof a->why, "no placement change pays: %s is predicted only %.1f%% faster than linear "
                     "(%.1f vs %.1f us), within the model's uncertainty of %.0f%%; keep the engines' default",
                     b->entry.name, 100 * a->gain, tb, tl, 100 * REPORT_NOISE);
        else
            snprintf(a->why, sizeof a->why, "%s has the lowest predicted step time, %.1f us: %.1f%% faster than linear "
                     "(%.1f us), more than the model's uncertainty of %.0f%%; busiest GPU %.3fx the mean load "
                     "(linear %.3fx)",
                     b->entry.name, tb, 100 * a->gain, tl, 100 * REPORT_NOISE, b->metric[MP_M_SIM_MAXMEAN],
                     l->metric[MP_M_SIM_MAXMEAN]);
    } else {
        snprintf(a->why, sizeof a->why, "%s has the lowest predicted step time of the strategies compared, %.1f us "
                 "(linear was not compared, so its gain over the engines' default is unknown)",
                 b->entry.name, tb);
    }
    char stem[MP_EVAL_NAME_MAX * 3];
    report_plan_stem(ev->r[a->deploy].entry.name, stem, sizeof stem);
    snprintf(a->plan_file, sizeof a->plan_file, "plans/%s.json", stem);
}

void report_breakdown(const mp_eval_result *x, double out[4])
{
    const mp_sim_result *s = x->sim;
    mp_cost c = mp_cost_default();
    double ex = 0, cm = 0, t = 0, fixed = 0;
    int64_t n = s->steps;
    for (int64_t i = 0; i < n; i++) {
        ex += s->series[i].expert_us;
        cm += s->series[i].comm_us;
        t += s->series[i].time_us;
    }
    double d = n > 0 ? (double)n : 1;
    ex /= d, cm /= d, t /= d;
    if (cm > 0) fixed = (double)s->layers * (c.dispatch_fixed_us + c.combine_fixed_us);
    double link = cm > fixed ? (cm - fixed) / 2 : 0;
    out[0] = ex;
    out[1] = cm > 0 ? link + (double)s->layers * c.dispatch_fixed_us : 0;
    out[2] = cm - out[1];
    out[3] = t - ex - cm > 1e-9 * t ? t - ex - cm : 0; /* not rounding noise */
}
