/* bench_report.c - wall time of the main job's computation (the built-in
 * default: generated deepseek-v3 trace, 32 GPUs on 4 nodes, 32 redundant
 * slots, five strategies planned and replayed) against a baseline measured in
 * the same run: one pass that only generates the trace.  Prints seconds and
 * ratios; median of RUNS, the three measurements interleaved.
 *
 *   bench_report [-n RUNS] [-J FILE] [STEPS] [TOKENS]     (defaults 3, 16, 4096)
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/harness.h"
#include "sim/mp_check.h"
#include "traces/gen/mp_gen.h"

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
static bh_sample gen_only(int64_t steps, int64_t tokens, int threads)
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
    bh_clock c;
    bh_clock_start(&c);
    uint64_t sum = 0;
    while (src.next(src.ctx, &pc, &err) == 1) sum += pc.ids[0];
    bh_sample t = bh_clock_stop(&c);
    mp_step_release(&pc);
    mp_gen_source_close(gs);
    if (sum == 0xFFFFFFFFFFFFull) printf(" ");
    return t;
}

static bh_sample pipeline(int64_t steps, int64_t tokens, int threads, double *best_us)
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
    bh_clock c;
    bh_clock_start(&c);
    if (mp_eval_run(&ev, &s, &src, &m, threads, NULL, NULL, NULL, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        exit(1);
    }
    bh_sample t = bh_clock_stop(&c);
    *best_us = ev->r[ev->best].metric[MP_M_STEP_US];
    mp_eval_destroy(ev);
    mp_gen_source_close(gs);
    return t;
}

int main(int argc, char **argv)
{
    bh *h;
    int rc = bh_open(&h, "bench_report", "[STEPS] [TOKENS]", 3, &argc, argv);
    if (!h) return rc;
    int reps = bh_runs_wanted(h);
    int64_t steps = argc > 1 ? atoll(argv[1]) : 16, tokens = argc > 2 ? atoll(argv[2]) : 4096;
    if (steps < 1 || tokens < 1 || argc > 3) {
        bh_usage(h);
        bh_close(h);
        return 2;
    }
    static bh_runs g1, p1, p2;
    double us = 0;
    for (int r = 0; r < reps; r++) {
        bh_runs_add(&g1, gen_only(steps, tokens, 1));
        bh_runs_add(&p1, pipeline(steps, tokens, 1, &us));
        bh_runs_add(&p2, pipeline(steps, tokens, 2, &us));
    }
    bh_param(h, "model", "deepseek-v3");
    bh_param(h, "steps", "%lld", (long long)steps);
    bh_param(h, "tokens", "%lld", (long long)tokens);
    bh_param(h, "topology", "32 GPUs / 4 nodes / 32 redundant");
    bh_param(h, "strategies", "5 (the default)");
    bh_section(h, "main job computation");
    double g = bh_runs_median(&g1, BH_WALL), t1 = bh_runs_median(&p1, BH_WALL), t2 = bh_runs_median(&p2, BH_WALL);
    bh_row *x = bh_row_begin(h, "generate only, 1 thread (baseline)", &g1);
    bh_row_num(x, "x baseline", "%.2f", NAN);
    bh_row_num(x, "x 1 thread", "%.2f", NAN);
    bh_row_end(x);
    x = bh_row_begin(h, "plan + replay, 1 thread", &p1);
    bh_row_num(x, "x baseline", "%.2f", t1 / g);
    bh_row_num(x, "x 1 thread", "%.2f", NAN);
    bh_row_end(x);
    x = bh_row_begin(h, "plan + replay, 2 threads", &p2);
    bh_row_num(x, "x baseline", "%.2f", t2 / g);
    bh_row_num(x, "x 1 thread", "%.2f", t1 / t2);
    bh_row_end(x);
    bh_note(h, "x baseline: time over generate-only's; x 1 thread: speed-up over 1 thread");
    bh_note(h, "best strategy's predicted step time %.1f us", us);
    return bh_close(h);
}
