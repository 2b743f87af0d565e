/* bench_gen.c - generator throughput in token-layers per second for
 * deepseek-v3 (256 experts, 8 groups keep 4, top-8): the fast sampler per
 * skew and the faithful scorer, with 1 and 2 threads, in one run.
 *
 * usage: bench_gen [TOKENS] [REPEATS]   (defaults 8192 tokens, 3 repeats;
 * the best of the repeats is reported, after one warm-up fill that also
 * touches the piece's memory) */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "traces/gen/mp_gen.h"

static double clk(clockid_t id)
{
    struct timespec t;
    clock_gettime(id, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

/* wall-clock rate (what threads buy) and rate per CPU-second of the whole
 * process (per core; robust against time-slicing on a shared machine) */
typedef struct {
    double wall, cpu;
} rates;

static rates run(const char *skew, int exact, int threads, int weights, int64_t tokens, int reps)
{
    mp_gen_opts o;
    mp_gen_opts_default(&o);
    mp_skew_parse(skew, &o.skew, NULL);
    o.exact = exact;
    o.threads = threads;
    o.with_weights = weights;
    o.steps = 1;
    o.tokens_per_step = tokens;
    mp_gen *g;
    mp_err err;
    if (mp_gen_create(&g, &o, &err)) {
        fprintf(stderr, "bench_gen: %s\n", err.msg);
        exit(1);
    }
    mp_step p = {0};
    rates best = {0, 0};
    if (mp_gen_fill(g, 0, 0, tokens, &p, &err)) exit(1);
    for (int r = 0; r < reps; r++) {
        double w0 = clk(CLOCK_MONOTONIC), c0 = clk(CLOCK_PROCESS_CPUTIME_ID);
        if (mp_gen_fill(g, 0, 0, tokens, &p, &err)) exit(1);
        double n = (double)tokens * o.model.layers;
        double w = n / (clk(CLOCK_MONOTONIC) - w0), c = n / (clk(CLOCK_PROCESS_CPUTIME_ID) - c0);
        if (w > best.wall) best.wall = w;
        if (c > best.cpu) best.cpu = c;
    }
    mp_step_release(&p);
    mp_gen_destroy(g);
    return best;
}

static void row(const char *skew, const char *scorer, int w, int t, rates r, rates base)
{
    printf("%-8s %-6s %-7s %7d %11.2f %11.2f %10.2f\n", skew, scorer, w ? "yes" : "no", t, r.wall / 1e6, r.cpu / 1e6,
           r.wall / base.wall);
}

int main(int argc, char **argv)
{
    int64_t tokens = argc > 1 ? atoll(argv[1]) : 8192;
    int reps = argc > 2 ? atoi(argv[2]) : 3;
    if (tokens < 1 || reps < 1) return 2;
    printf("deepseek-v3 (58 layers, 256 experts, 8 groups keep 4, top-8), %lld tokens, best of %d\n",
           (long long)tokens, reps);
    printf("M token-layers/s: wall clock, and per CPU-second of the process\n");
    printf("%-8s %-6s %-7s %7s %11s %11s %10s\n", "skew", "scorer", "weights", "threads", "wall", "per-cpu-s",
           "wall/1thr");
    const char *skews[] = {"uniform", "mixed", "narrow"};
    for (int s = 0; s < 3; s++)
        for (int w = 1; w >= 0; w--) {
            rates r1 = run(skews[s], 0, 1, w, tokens, reps), r2 = run(skews[s], 0, 2, w, tokens, reps);
            row(skews[s], "fast", w, 1, r1, r1);
            row(skews[s], "fast", w, 2, r2, r1);
        }
    int64_t et = tokens / 16 > 0 ? tokens / 16 : 1;
    rates e1 = run("mixed", 1, 1, 1, et, reps), e2 = run("mixed", 1, 2, 1, et, reps);
    rates f1 = run("mixed", 0, 1, 1, tokens, reps);
    row("mixed", "exact", 1, 1, e1, e1);
    row("mixed", "exact", 1, 2, e2, e1);
    printf("fast / exact (mixed, weights, 1 thread, per CPU-second): %.1f\n", f1.cpu / e1.cpu);
    return 0;
}
