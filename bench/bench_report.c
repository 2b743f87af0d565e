/* bench_report.c - wall time of the main job's computation (the built-in
 * default: generated deepseek-v3 trace, 32 GPUs on 4 nodes, 32 redundant
 * slots, five strategies planned and replayed) against a baseline measured in
 * the same run: one pass that only generates the trace.  Prints seconds and
 * ratios; best of N repetitions.
 *
 *   bench_report [REPS] [STEPS] [TOKENS]     (defaults 3, 16, 4096)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sim/mp_check.h"
#include "traces/gen/mp_gen.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void opts(mp_gen_opts *go, int64_t steps, int64_t tokens, int threads)
{
    mp_gen_opts_default(go);
    go->steps = steps;
    go->tokens_per_step = tokens;
    go->dp_ranks = 32;
    go->threads = threads;
    go->with_weights = 0;
}

/* generation only: every piece of every step once */
static double gen_only(int64_t steps, int64_t tokens, int threads)
{
    mp_gen_opts go;
    opts(&go, steps, tokens, threads);
    mp_gen_source *gs;
    mp_piece_source src;
    mp_model m;
    mp_err err;
    if (mp_gen_source_open(&gs, &go, &src, &m, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        exit(1);
    }
    mp_step pc;
    memset(&pc, 0, sizeof pc);
    double t0 = now();
    uint64_t sum = 0;
    while (src.next(src.ctx, &pc, &err) == 1) sum += pc.ids[0];
    double t = now() - t0;
    mp_step_release(&pc);
    mp_gen_source_close(gs);
    if (sum == 0xFFFFFFFFFFFFull) printf(" ");
    return t;
}

static double pipeline(int64_t steps, int64_t tokens, int threads, double *best_us)
{
    mp_gen_opts go;
    opts(&go, steps, tokens, threads);
    mp_gen_source *gs;
    mp_piece_source src;
    mp_model m;
    mp_err err;
    if (mp_gen_source_open(&gs, &go, &src, &m, &err)) exit(1);
    mp_eval_setup s = mp_eval_setup_default();
    mp_eval_add_strategies(&s, MP_EVAL_DEFAULT_STRATEGIES, NULL);
    mp_eval *ev;
    double t0 = now();
    if (mp_eval_run(&ev, &s, &src, &m, threads, NULL, NULL, NULL, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        exit(1);
    }
    double t = now() - t0;
    *best_us = ev->r[ev->best].metric[MP_M_STEP_US];
    mp_eval_destroy(ev);
    mp_gen_source_close(gs);
    return t;
}

int main(int argc, char **argv)
{
    int reps = argc > 1 ? atoi(argv[1]) : 3;
    int64_t steps = argc > 2 ? atoll(argv[2]) : 16, tokens = argc > 3 ? atoll(argv[3]) : 4096;
    if (reps < 1 || steps < 1 || tokens < 1) return 2;
    double g1 = 1e30, p1 = 1e30, p2 = 1e30, us = 0;
    for (int r = 0; r < reps; r++) {
        double t = gen_only(steps, tokens, 1);
        if (t < g1) g1 = t;
        t = pipeline(steps, tokens, 1, &us);
        if (t < p1) p1 = t;
        t = pipeline(steps, tokens, 2, &us);
        if (t < p2) p2 = t;
    }
    printf("main job computation: deepseek-v3, %lld steps x %lld tokens, 32 GPUs / 4 nodes / 32 redundant, "
           "5 strategies (best of %d)\n",
           (long long)steps, (long long)tokens, reps);
    printf("  generate only (1 thread, baseline)  %8.3f s\n", g1);
    printf("  plan + replay, 1 thread             %8.3f s   %.2fx the baseline\n", p1, p1 / g1);
    printf("  plan + replay, 2 threads            %8.3f s   %.2fx the baseline, %.2fx faster than 1 thread\n", p2,
           p2 / g1, p1 / p2);
    printf("  (best strategy's predicted step time %.1f us)\n", us);
    return 0;
}
