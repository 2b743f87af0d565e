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

#include "traces/mp_gen.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

static double run(const char *skew, int exact, int threads, int weights, int64_t tokens, int reps)
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
    double best = 0;
    if (mp_gen_fill(g, 0, 0, tokens, &p, &err)) exit(1);
    for (int r = 0; r < reps; r++) {
        double t0 = now();
        if (mp_gen_fill(g, 0, 0, tokens, &p, &err)) exit(1);
        double rate = (double)tokens * o.model.layers / (now() - t0);
        if (rate > best) best = rate;
    }
    mp_step_release(&p);
    mp_gen_destroy(g);
    return best;
}

int main(int argc, char **argv)
{
    int64_t tokens = argc > 1 ? atoll(argv[1]) : 8192;
    int reps = argc > 2 ? atoi(argv[2]) : 3;
    if (tokens < 1 || reps < 1) return 2;
    printf("deepseek-v3 (58 layers, 256 experts, 8 groups keep 4, top-8), %lld tokens, best of %d\n",
           (long long)tokens, reps);
    printf("%-10s %-6s %-8s %7s %16s %8s\n", "skew", "scorer", "weights", "threads", "Mtoken-layers/s", "vs 1 thr");
    const char *skews[] = {"uniform", "mixed", "narrow"};
    for (int s = 0; s < 3; s++)
        for (int w = 1; w >= 0; w--) {
            double r1 = run(skews[s], 0, 1, w, tokens, reps), r2 = run(skews[s], 0, 2, w, tokens, reps);
            printf("%-10s %-6s %-8s %7d %16.2f %8s\n", skews[s], "fast", w ? "yes" : "no", 1, r1 / 1e6, "1.00");
            printf("%-10s %-6s %-8s %7d %16.2f %8.2f\n", skews[s], "fast", w ? "yes" : "no", 2, r2 / 1e6, r2 / r1);
        }
    int64_t et = tokens / 16 > 0 ? tokens / 16 : 1;
    double e1 = run("mixed", 1, 1, 1, et, reps), e2 = run("mixed", 1, 2, 1, et, reps);
    double f1 = run("mixed", 0, 1, 1, tokens, reps);
    printf("%-10s %-6s %-8s %7d %16.3f %8s\n", "mixed", "exact", "yes", 1, e1 / 1e6, "1.00");
    printf("%-10s %-6s %-8s %7d %16.3f %8.2f\n", "mixed", "exact", "yes", 2, e2 / 1e6, e2 / e1);
    printf("fast / exact (mixed, weights, 1 thread): %.1f\n", f1 / e1);
    return 0;
}
