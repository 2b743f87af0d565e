/* bench_sim.c - throughput of the CPU replay (`moeplace sim`) and of online
 * rebalancing, on DeepSeek-V3-shaped synthetic routing.
 *
 *   bench_sim [--tokens N] [--step T] [--gpus P] [--nodes N] [--slots S]
 *             [--policy NAME] [--threads LIST] [--rebalance-steps S]
 *             [--rebalance-tokens T] [--oracle-every K] [--rebalance-threads N]
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
 * since only the process and the calling thread are measured).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sim/mp_rebalance.h"
#include "sim/mp_sim.h"

enum { L = 58, E = 256, K = 8, POOL = 16 };

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double thread_cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

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

int main(int argc, char **argv)
{
    int64_t tokens = 1000000, step = 4096, rb_steps = 100000, rb_tokens = 16, oracle_every = 0;
    int gpus = 32, nodes = 4, spg = 9, rb_threads = 1;
    const char *policy = "modulo", *threads = "1,2";
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *a = argv[i], *v = argv[i + 1];
        if (!strcmp(a, "--tokens")) tokens = atoll(v);
        else if (!strcmp(a, "--step")) step = atoll(v);
        else if (!strcmp(a, "--gpus")) gpus = atoi(v);
        else if (!strcmp(a, "--nodes")) nodes = atoi(v);
        else if (!strcmp(a, "--slots")) spg = atoi(v);
        else if (!strcmp(a, "--policy")) policy = v;
        else if (!strcmp(a, "--threads")) threads = v;
        else if (!strcmp(a, "--rebalance-steps")) rb_steps = atoll(v);
        else if (!strcmp(a, "--rebalance-tokens")) rb_tokens = atoll(v);
        else if (!strcmp(a, "--oracle-every")) oracle_every = atoll(v);
        else if (!strcmp(a, "--rebalance-threads")) rb_threads = atoi(v);
        else {
            fprintf(stderr, "bench_sim: unknown option %s\n", a);
            return 2;
        }
    }
    make_popularity(7);
    mp_model m = ds_model();
    mp_plan *plan = make_plan(gpus, nodes, spg);
    if (!plan) {
        fprintf(stderr, "bench_sim: bad topology\n");
        return 1;
    }
    static mp_step pool[POOL];
    double t0 = now();
    for (int i = 0; i < POOL; i++) fill_step(&pool[i], step, (uint64_t)i + 1);
    printf("generated %d steps of %lld tokens in %.2f s\n", POOL, (long long)step, now() - t0);
    int64_t nsteps = (tokens + step - 1) / step;
    printf("sim: deepseek-v3 shape (%d layers, %d experts, top-%d), %lld tokens in %lld steps of %lld, "
           "%d GPUs / %d nodes / %d slots, policy %s\n",
           L, E, K, (long long)(nsteps * step), (long long)nsteps, (long long)step, gpus, nodes, spg, policy);
    double base_rate = 0, base_cpu = 0;
    const char *p = threads;
    while (*p) {
        int th = atoi(p);
        mp_sim_opts o = mp_sim_opts_default();
        o.policy = mp_policy_find(policy);
        o.threads = th;
        mp_sim *s;
        mp_err err = {0};
        if (!o.policy || mp_sim_create(&s, plan, &m, &o, &err)) {
            fprintf(stderr, "bench_sim: %s\n", err.msg);
            return 1;
        }
        double t1 = now(), c1 = cpu_now(), m1 = thread_cpu_now();
        for (int64_t i = 0; i < nsteps; i++) {
            mp_step *pc = &pool[i % POOL];
            pc->step = i;
            pc->first_token = 0;
            pc->end_of_step = 1;
            if (mp_sim_feed(s, pc, &err)) {
                fprintf(stderr, "bench_sim: %s\n", err.msg);
                return 1;
            }
        }
        mp_sim_result *r;
        mp_sim_finish(s, &r, &err);
        double dt = now() - t1, dc = cpu_now() - c1, dm = thread_cpu_now() - m1;
        double rate = (double)r->assignments / dt;
        if (base_rate == 0) base_rate = rate;
        /* The calling thread plays its share of the layers and does the serial
         * part; the pool's threads share the rest.  On free cores the run takes
         * about as long as the busiest thread's CPU time, whatever the load. */
        double crit = th > 1 ? (dm > (dc - dm) / (th - 1) ? dm : (dc - dm) / (th - 1)) : dc;
        if (base_cpu == 0) base_cpu = dc;
        double sum = 0;
        for (int32_t g = 0; g < r->gpus; g++) sum += (double)r->gpu_rows[g] * (g + 1);
        printf("threads %d: wall %.3f s, %.1f M assignments/s, scaling %.2fx; cpu %.3f s, %.1f M assignments per "
               "cpu-second; calling thread cpu %.3f s, busiest thread %.3f s, cpu-bound scaling %.2fx; "
               "max/mean %.6f, time %.3f ms, checksum %.0f\n",
               th, dt, rate / 1e6, rate / base_rate, dc, (double)r->assignments / dc / 1e6, dm, crit,
               base_cpu / crit, r->maxmean.mean, r->total_time_us / 1e3, sum);
        mp_sim_result_destroy(r);
        mp_sim_destroy(s);
        while (*p && *p != ',') p++;
        if (*p == ',') p++;
    }
    if (rb_steps > 0) {
        static mp_step small[POOL];
        for (int i = 0; i < POOL; i++) fill_step(&small[i], rb_tokens, (uint64_t)i + 101);
        pool_src ps = {small, rb_steps, 0};
        mp_piece_source src = {&ps, pool_next, pool_rewind};
        rr_ctx rc = {gpus, nodes, spg};
        mp_rebalance_opts o = mp_rebalance_opts_default();
        o.replan = bench_replan;
        o.replan_ctx = &rc;
        o.oracle = oracle_every > 0;
        o.oracle_every = oracle_every > 0 ? oracle_every : 1;
        o.sim.threads = rb_threads;
        mp_rebalance_result *r;
        mp_err err = {0};
        double t1 = now(), c1 = cpu_now();
        if (mp_rebalance_run(&r, &src, &m, &o, NULL, NULL, &err)) {
            fprintf(stderr, "bench_sim: %s\n", err.msg);
            return 1;
        }
        double dt = now() - t1, dc = cpu_now() - c1;
        printf("rebalance: %lld steps of %lld tokens (interval 3000, window 1000%s, %d threads): wall %.2f s, "
               "cpu %.2f s, %d rebalances, %.1f M assignments per cpu-second over the regimes\n",
               (long long)rb_steps, (long long)rb_tokens, o.oracle ? ", oracle" : ", no oracle", rb_threads, dt, dc,
               (int)r->nevents, (double)rb_steps * rb_tokens * L * K * (o.oracle ? 3 : 2) / dc / 1e6);
        mp_rebalance_result_destroy(r);
        for (int i = 0; i < POOL; i++) mp_step_release(&small[i]);
    }
    for (int i = 0; i < POOL; i++) mp_step_release(&pool[i]);
    mp_plan_destroy(plan);
    return 0;
}
