/* bench_sim.c - throughput of the CPU replay (`moeplace sim`) and of online
 * rebalancing, on DeepSeek-V3-shaped synthetic routing.
 *
 *   bench_sim [-n RUNS] [-J FILE] [--tokens N] [--step T] [--gpus P]
 *             [--nodes N] [--slots S] [--replica NAME] [--threads LIST]
 *             [--rebalance-steps S] [--rebalance-tokens T] [--oracle-every K]
 *             [--rebalance-threads N]
 *
 * Routing: 58 layers x 256 experts, top-8 without repeats from a per-layer
 * Zipf(1) popularity over a shuffled expert order; a pool of 16 distinct steps
 * is generated once and replayed with rising step indices, so generation is
 * not timed.  The plan is a round-robin layout over P*S slots (hot experts
 * replicated in turn) built here, so that the planner is not timed either.
 * Prints assignments per second for each thread count, the scaling, and a
 * checksum that must not change with the thread count.  Because wall-clock
 * scaling needs free cores, it also prints the CPU time of the calling thread
 * and of the busiest thread: the first thread count's CPU time over the
 * busiest thread's is the scaling on free cores (the "cpu-bound scaling";
 * with more than 2 threads the pool threads' CPU time is taken as evenly shared,
 * since only the process and the calling thread are measured).  With -n RUNS
 * (default 1) the replays run RUNS times, the thread counts interleaved, and
 * each row gives the medians.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/harness.h"
#include "sim/mp_rebalance.h"
#include "sim/mp_sim.h"

enum { L = 58, E = 256, K = 8, POOL = 16 };

static uint64_t rng(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

static double cdf[L][E];
static int order[L][E];

static void make_popularity(uint64_t seed)
{
    uint64_t x = seed;
    for (int l = 0; l < L; l++) {
        for (int e = 0; e < E; e++) order[l][e] = e;
        for (int e = E - 1; e > 0; e--) {
            int j = (int)(rng(&x) % (uint64_t)(e + 1)), t = order[l][e];
            order[l][e] = order[l][j];
            order[l][j] = t;
        }
        double s = 0;
        for (int e = 0; e < E; e++) s += 1.0 / (e + 1);
        double c = 0;
        for (int e = 0; e < E; e++) cdf[l][e] = (c += 1.0 / (e + 1) / s);
    }
}

static int draw(int l, uint64_t *x)
{
    double u = (double)(rng(x) >> 11) / 9007199254740992.0;
    int lo = 0, hi = E - 1;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (cdf[l][mid] < u) lo = mid + 1;
        else hi = mid;
    }
    return order[l][lo];
}

static void fill_step(mp_step *s, int64_t T, uint64_t seed)
{
    mp_step_reserve(s, T, L, K, 0, 0, NULL);
    uint64_t x = seed * 2654435761u + 1;
    for (int64_t t = 0; t < T; t++)
        for (int l = 0; l < L; l++) {
            mp_expert_id *id = s->ids + (t * L + l) * K;
            for (int k = 0; k < K; k++) {
                int e, dup;
                do {
                    e = draw(l, &x);
                    dup = 0;
                    for (int j = 0; j < k; j++) dup |= id[j] == e;
                } while (dup);
                id[k] = (mp_expert_id)e;
            }
        }
}

/* Round-robin placement of E experts plus R-E replicas of the hottest. */
static mp_plan *make_plan(int gpus, int nodes, int spg)
{
    mp_topology t = {gpus, nodes, spg};
    mp_plan *p;
    if (mp_plan_create(&p, L, E, &t, NULL)) return NULL;
    for (int l = 0; l < L; l++) {
        int32_t *row = mp_plan_layer(p, l);
        for (int32_t s = 0; s < p->slots; s++) {
            int32_t gpu = s % gpus, j = s / gpus; /* slot index across GPUs */
            int32_t e = j * gpus + gpu < E ? j * gpus + gpu : order[l][(j * gpus + gpu - E) % E];
            row[gpu * spg + j] = e;
        }
    }
    if (mp_plan_derive(p, NULL)) {
        mp_plan_destroy(p);
        return NULL;
    }
    return p;
}

static mp_model ds_model(void)
{
    mp_model m = mp_model_default();
    snprintf(m.name, sizeof m.name, "deepseek-v3");
    m.layers = L;
    m.experts = E;
    m.top_k = K;
    m.groups = 8;
    m.topk_group = 4;
    m.shared = 1;
    m.hidden = 7168;
    m.intermediate = 2048;
    return m;
}

/* ---- rebalance source: the pool replayed as many small steps ---- */
typedef struct pool_src {
    mp_step *pool;
    int64_t steps, at;
} pool_src;

static int pool_next(void *ctx, mp_step *pc, mp_err *err)
{
    pool_src *s = ctx;
    if (s->at >= s->steps) return 0;
    const mp_step *src = &s->pool[s->at % POOL];
    int rc = mp_step_reserve(pc, src->tokens, L, K, 0, 0, err);
    if (rc) return rc;
    memcpy(pc->ids, src->ids, (size_t)mp_step_assignments(src) * sizeof *pc->ids);
    pc->step = s->at++;
    pc->first_token = 0;
    pc->end_of_step = 1;
    return 1;
}

static int pool_rewind(void *ctx, mp_err *err)
{
    (void)err;
    ((pool_src *)ctx)->at = 0;
    return 0;
}

typedef struct rr_ctx {
    int gpus, nodes, spg;
} rr_ctx;

/* A cheap replanner for the rebalance benchmark: replicas to the hottest by
 * D'Hondt-like rounds would be the planner's job; here the round-robin layout
 * with hot replicas chosen from the window's loads. */
static int bench_replan(void *ctx, const mp_loads *ld, mp_plan **out, mp_err *err)
{
    const rr_ctx *c = ctx;
    mp_topology t = {c->gpus, c->nodes, c->spg};
    mp_plan *p;
    int rc = mp_plan_create(&p, L, E, &t, err);
    if (rc) return rc;
    for (int l = 0; l < L; l++) {
        const double *w = mp_loads_row(ld, 0, l);
        int32_t hot[E];
        for (int e = 0; e < E; e++) hot[e] = e;
        /* partial selection of the R-E hottest (ties: lower id) */
        int extra = p->slots - E;
        for (int i = 0; i < extra && i < E; i++) {
            int b = i;
            for (int j = i + 1; j < E; j++)
                if (w[hot[j]] > w[hot[b]]) b = j;
            int32_t x = hot[i];
            hot[i] = hot[b];
            hot[b] = x;
        }
        int32_t *row = mp_plan_layer(p, l);
        for (int32_t s = 0; s < p->slots; s++) {
            int32_t gpu = s % c->gpus, j = s / c->gpus, idx = j * c->gpus + gpu;
            row[gpu * c->spg + j] = idx < E ? idx : hot[(idx - E) % E];
        }
    }
    if ((rc = mp_plan_derive(p, err))) {
        mp_plan_destroy(p);
        return rc;
    }
    *out = p;
    return 0;
}

/* One replay of nsteps steps of the pool with th threads; returns its time,
 * the result's assignments, max/mean, time and the checksum of its rows. */
typedef struct replay_out {
    double assignments, maxmean, time_ms, checksum;
} replay_out;

static int replay(const mp_plan *plan, const mp_model *m, const char *policy, int th, mp_step *pool, int64_t nsteps,
                  bh_sample *t, replay_out *out)
{
    mp_sim_opts o = mp_sim_opts_default();
    o.policy = mp_policy_find(policy);
    o.threads = th;
    mp_sim *s;
    mp_err err = {0};
    if (!o.policy || mp_sim_create(&s, plan, m, &o, &err)) {
        fprintf(stderr, "bench_sim: %s\n", o.policy ? err.msg : "unknown policy");
        return 1;
    }
    bh_clock c;
    bh_clock_start(&c);
    for (int64_t i = 0; i < nsteps; i++) {
        mp_step *pc = &pool[i % POOL];
        pc->step = i;
        pc->first_token = 0;
        pc->end_of_step = 1;
        if (mp_sim_feed(s, pc, &err)) {
            fprintf(stderr, "bench_sim: %s\n", err.msg);
            mp_sim_destroy(s);
            return 1;
        }
    }
    mp_sim_result *r;
    if (mp_sim_finish(s, &r, &err)) {
        fprintf(stderr, "bench_sim: %s\n", err.msg);
        mp_sim_destroy(s);
        return 1;
    }
    *t = bh_clock_stop(&c);
    double sum = 0;
    for (int32_t g = 0; g < r->gpus; g++) sum += (double)r->gpu_rows[g] * (g + 1);
    out->assignments = (double)r->assignments;
    out->maxmean = r->maxmean.mean;
    out->time_ms = r->total_time_us / 1e3;
    out->checksum = sum;
    mp_sim_result_destroy(r);
    mp_sim_destroy(s);
    return 0;
}

#define MAX_THREAD_COUNTS 16

int main(int argc, char **argv)
{
    bh *h;
    int brc = bh_open(&h, "bench_sim",
                      "[--tokens N] [--step T] [--gpus P] [--nodes N] [--slots S] [--replica NAME] [--threads LIST] "
                      "[--rebalance-steps S] [--rebalance-tokens T] [--oracle-every K] [--rebalance-threads N]",
                      1, &argc, argv);
    if (!h) return brc;
    int64_t tokens = 1000000, step = 4096, rb_steps = 100000, rb_tokens = 16, oracle_every = 0;
    int gpus = 32, nodes = 4, spg = 9, rb_threads = 1;
    const char *policy = "modulo", *threads = "1,2";
    for (int i = 1; i < argc; i += 2) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) a = "";
        if (!strcmp(a, "--tokens")) tokens = atoll(v);
        else if (!strcmp(a, "--step")) step = atoll(v);
        else if (!strcmp(a, "--gpus")) gpus = atoi(v);
        else if (!strcmp(a, "--nodes")) nodes = atoi(v);
        else if (!strcmp(a, "--slots")) spg = atoi(v);
        else if (!strcmp(a, "--replica")) policy = v;
        else if (!strcmp(a, "--threads")) threads = v;
        else if (!strcmp(a, "--rebalance-steps")) rb_steps = atoll(v);
        else if (!strcmp(a, "--rebalance-tokens")) rb_tokens = atoll(v);
        else if (!strcmp(a, "--oracle-every")) oracle_every = atoll(v);
        else if (!strcmp(a, "--rebalance-threads")) rb_threads = atoi(v);
        else {
            bh_usage(h);
            bh_close(h);
            return 2;
        }
    }
    int ths[MAX_THREAD_COUNTS], nth = 0;
    for (const char *p = threads; *p && nth < MAX_THREAD_COUNTS;) {
        int th = atoi(p), seen = 0;
        for (int i = 0; i < nth; i++) seen |= ths[i] == th;
        if (th >= 1 && !seen) ths[nth++] = th;
        while (*p && *p != ',') p++;
        if (*p == ',') p++;
    }
    if (step < 1 || tokens < 0 || rb_steps < 0 || rb_tokens < 1 || (tokens > 0 && nth == 0)) {
        bh_usage(h);
        bh_close(h);
        return 2;
    }
    make_popularity(7);
    mp_model m = ds_model();
    mp_plan *plan = make_plan(gpus, nodes, spg);
    if (!plan) {
        fprintf(stderr, "bench_sim: bad topology\n");
        bh_close(h);
        return 1;
    }
    int64_t nsteps = tokens > 0 ? (tokens + step - 1) / step : 0;
    bh_param(h, "shape", "deepseek-v3 (%d layers, %d experts, top-%d)", L, E, K);
    bh_param(h, "tokens", "%lld", (long long)(nsteps * step));
    bh_param(h, "steps", "%lld", (long long)nsteps);
    bh_param(h, "step tokens", "%lld", (long long)step);
    bh_param(h, "topology", "%d GPUs / %d nodes / %d slots", gpus, nodes, spg);
    bh_param(h, "policy", "%s", policy);
    static mp_step pool[POOL];
    int rc = 0;
    if (nsteps > 0) {
        bh_clock c;
        bh_clock_start(&c);
        for (int i = 0; i < POOL; i++) fill_step(&pool[i], step, (uint64_t)i + 1);
        bh_note(h, "generated %d steps of %lld tokens in %.2f s (not timed below)", POOL, (long long)step,
                bh_clock_stop(&c).wall);
        static bh_runs runs[MAX_THREAD_COUNTS];
        replay_out out[MAX_THREAD_COUNTS];
        for (int r = 0; r < bh_runs_wanted(h) && !rc; r++)
            for (int i = 0; i < nth && !rc; i++) {
                bh_sample t;
                rc = replay(plan, &m, policy, ths[i], pool, nsteps, &t, &out[i]);
                bh_runs_add(&runs[i], t);
            }
        if (!rc) {
            bh_section(h, "replay (scaling: over the first thread count; cpu-bound: its cpu over the busiest thread's)");
            double base_rate = 0, base_cpu = 0;
            int same = 1;
            for (int i = 0; i < nth; i++) {
                int th = ths[i];
                double dt = bh_runs_median(&runs[i], BH_WALL), dc = bh_runs_median(&runs[i], BH_CPU);
                double dm = bh_runs_median(&runs[i], BH_THREAD_CPU);
                double rate = out[i].assignments / dt;
                /* The calling thread plays its share of the layers and does the serial
                 * part; the pool's threads share the rest.  On free cores the run takes
                 * about as long as the busiest thread's CPU time, whatever the load. */
                double crit = th > 1 ? (dm > (dc - dm) / (th - 1) ? dm : (dc - dm) / (th - 1)) : dc;
                if (i == 0) base_rate = rate, base_cpu = dc;
                same &= out[i].checksum == out[0].checksum;
                char name[32];
                snprintf(name, sizeof name, "threads %d", th);
                bh_row *x = bh_row_begin(h, name, &runs[i]);
                bh_row_num(x, "M assign/s", "%.1f", rate / 1e6);
                bh_row_num(x, "scaling", "%.2f", rate / base_rate);
                bh_row_num(x, "M assign/cpu-s", "%.1f", out[i].assignments / dc / 1e6);
                bh_row_num(x, "calling cpu s", "%.3f", dm);
                bh_row_num(x, "busiest cpu s", "%.3f", crit);
                bh_row_num(x, "cpu-bound scaling", "%.2f", base_cpu / crit);
                bh_row_num(x, "max/mean", "%.6f", out[i].maxmean);
                bh_row_num(x, "time ms", "%.3f", out[i].time_ms);
                bh_row_num(x, "checksum", "%.0f", out[i].checksum);
                bh_row_end(x);
            }
            bh_check(h, "the checksum does not change with the thread count", same);
        }
    }
    if (rb_steps > 0 && !rc) {
        static mp_step small[POOL];
        for (int i = 0; i < POOL; i++) fill_step(&small[i], rb_tokens, (uint64_t)i + 101);
        pool_src ps = {small, rb_steps, 0};
        mp_piece_source src = {&ps, pool_next, pool_rewind};
        rr_ctx rcx = {gpus, nodes, spg};
        mp_rebalance_opts o = mp_rebalance_opts_default();
        o.replan = bench_replan;
        o.replan_ctx = &rcx;
        o.oracle = oracle_every > 0;
        o.oracle_every = oracle_every > 0 ? oracle_every : 1;
        o.sim.threads = rb_threads;
        mp_rebalance_result *r;
        mp_err err = {0};
        bh_clock c;
        bh_clock_start(&c);
        if (mp_rebalance_run(&r, &src, &m, &o, NULL, NULL, &err)) {
            fprintf(stderr, "bench_sim: %s\n", err.msg);
            rc = 1;
        } else {
            static bh_runs one;
            bh_runs_add(&one, bh_clock_stop(&c));
            char title[160];
            snprintf(title, sizeof title, "rebalance: %lld steps of %lld tokens (interval 3000, window 1000%s, %d threads)",
                     (long long)rb_steps, (long long)rb_tokens, o.oracle ? ", oracle" : ", no oracle", rb_threads);
            bh_section(h, title);
            bh_row *x = bh_row_begin(h, "rebalance run", &one);
            bh_row_num(x, "rebalances", "%.0f", (double)r->nevents);
            bh_row_num(x, "M assign/cpu-s over the regimes", "%.1f",
                       (double)rb_steps * rb_tokens * L * K * (o.oracle ? 3 : 2) / bh_runs_median(&one, BH_CPU) / 1e6);
            bh_row_end(x);
            mp_rebalance_result_destroy(r);
        }
        for (int i = 0; i < POOL; i++) mp_step_release(&small[i]);
    }
    for (int i = 0; i < POOL; i++) mp_step_release(&pool[i]);
    mp_plan_destroy(plan);
    int crc = bh_close(h);
    return rc ? rc : crc;
}
