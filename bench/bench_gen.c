/* bench_gen.c - generator throughput in token-layers per second for
 * deepseek-v3 (256 experts, 8 groups keep 4, top-8): the fast sampler per
 * skew and the faithful scorer, with 1 and 2 threads, in one run.
 *
 *   bench_gen [-n RUNS] [-J FILE] [TOKENS]   (defaults 8192 tokens, 3 runs;
 *   the median of the runs is reported, after one warm-up fill that also
 *   touches the piece's memory; the faithful scorer gets TOKENS / 16)
 *
 * Rates: wall clock (what threads buy) and per CPU-second of the whole
 * process (per core; robust against time-slicing on a shared machine). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "bench/harness.h"
#include "traces/gen/mp_gen.h"

typedef struct {
    bh_runs runs;
    double wall, cpu; /* token-layers per second at the medians */
} rates;

static void run(rates *out, const char *skew, int exact, int threads, int weights, int64_t tokens, int reps)
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
    out->runs.n = 0;
    if (mp_gen_fill(g, 0, 0, tokens, &p, &err)) exit(1);
    for (int r = 0; r < reps; r++) {
        bh_clock c;
        bh_clock_start(&c);
        if (mp_gen_fill(g, 0, 0, tokens, &p, &err)) exit(1);
        bh_runs_add(&out->runs, bh_clock_stop(&c));
    }
    double n = (double)tokens * o.model.layers;
    out->wall = n / bh_runs_median(&out->runs, BH_WALL);
    out->cpu = n / bh_runs_median(&out->runs, BH_CPU);
    mp_step_release(&p);
    mp_gen_destroy(g);
}

static void row(bh *h, const char *skew, const char *scorer, int w, int t, const rates *r, const rates *base)
{
    char name[96];
    snprintf(name, sizeof name, "%s %s, %s, %d thread%s", skew, scorer, w ? "weights" : "no weights", t,
             t > 1 ? "s" : "");
    bh_row *x = bh_row_begin(h, name, &r->runs);
    bh_row_num(x, "M tl/s wall", "%.2f", r->wall / 1e6);
    bh_row_num(x, "M tl/s per cpu-s", "%.2f", r->cpu / 1e6);
    bh_row_num(x, "wall x 1 thread", "%.2f", r == base ? NAN : r->wall / base->wall);
    bh_row_end(x);
}

int main(int argc, char **argv)
{
    bh *h;
    int rc = bh_open(&h, "bench_gen", "[TOKENS]", 3, &argc, argv);
    if (!h) return rc;
    int64_t tokens = argc > 1 ? atoll(argv[1]) : 8192;
    if (tokens < 1 || argc > 2) {
        bh_usage(h);
        bh_close(h);
        return 2;
    }
    int reps = bh_runs_wanted(h);
    bh_param(h, "model", "deepseek-v3 (58 layers, 256 experts, 8 groups keep 4, top-8)");
    bh_param(h, "tokens", "%lld", (long long)tokens);
    bh_param(h, "unit", "M token-layers/s");
    static rates r1, r2, e1, e2, f1;
    const char *skews[] = {"uniform", "mixed", "narrow"};
    bh_section(h, "fast sampler");
    for (int s = 0; s < 3; s++)
        for (int w = 1; w >= 0; w--) {
            run(&r1, skews[s], 0, 1, w, tokens, reps);
            run(&r2, skews[s], 0, 2, w, tokens, reps);
            row(h, skews[s], "fast", w, 1, &r1, &r1);
            row(h, skews[s], "fast", w, 2, &r2, &r1);
        }
    int64_t et = tokens / 16 > 0 ? tokens / 16 : 1;
    bh_section(h, "faithful scorer (--exact)");
    run(&e1, "mixed", 1, 1, 1, et, reps);
    run(&e2, "mixed", 1, 2, 1, et, reps);
    run(&f1, "mixed", 0, 1, 1, tokens, reps);
    row(h, "mixed", "exact", 1, 1, &e1, &e1);
    row(h, "mixed", "exact", 1, 2, &e2, &e1);
    bh_note(h, "fast / exact (mixed, weights, 1 thread, per CPU-second): %.1f", f1.cpu / e1.cpu);
    return bh_close(h);
}
