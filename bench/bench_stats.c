/* bench_stats.c - how fast `moeplace stats` counts.
 *
 *   bench_stats [-n RUNS] [-J FILE] count [TOKENS]
 *                                     counting alone from in-memory pieces
 *   bench_stats [-n RUNS] [-J FILE] e2e [TOKENS] [FILE] [zipf|hot]
 *                                     end to end on an .mpt trace (written
 *                                     first when FILE does not exist, with
 *                                     Zipf-like ids (default) or the hot-32
 *                                     ids of the counting bench)
 *
 * Shape: TOKENS (default 1M) x 58 layers x top-8 of 256 experts, skewed ids.
 * Every figure is the median of RUNS (default 5; end to end: 3); baselines are
 * measured in the same run and results are reported as ratios to them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <sys/stat.h>

#include "bench/harness.h"
#include "traces/stats/mp__stats.h"
#include "traces/stats/mp_stats.h"
#include "traces/formats/mp_trace.h"

#define L 58
#define K 8
#define E 256
#define PIECE_TOKENS 8192
#define NPIECES 4
#define REPS 5     /* counting runs: median of (-n) */
#define E2E_REPS 3 /* end-to-end runs: median of (-n) */

static uint64_t rng = 0x243F6A8885A308D3ull;
static uint32_t next_u32(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 32);
}

/* skewed, distinct ids per token and layer: half the picks from a hot 32 */
static void fill_ids(mp_expert_id *ids, int64_t tokens)
{
    for (int64_t t = 0; t < tokens * L; t++) {
        mp_expert_id *r = ids + t * K;
        for (int k = 0; k < K; k++) {
            for (;;) {
                uint32_t x = next_u32();
                mp_expert_id id = (mp_expert_id)((x & 1) ? (x >> 1) % 32 * 7 % E : (x >> 1) % E);
                int dup = 0;
                for (int j = 0; j < k; j++) dup |= r[j] == id;
                if (!dup) {
                    r[k] = id;
                    break;
                }
            }
        }
    }
}

/* per-layer Zipf-like popularity 1/(rank + c), c = 1 + layer % 16, over a
 * per-layer permutation of the experts; distinct ids per token (the mpt
 * bench's shape: nearly incompressible, so the writer stores it raw) */
static void fill_ids_zipf(mp_expert_id *ids, int64_t tokens)
{
    static double cdf[L][E];
    static mp_expert_id perm[L][E];
    static int ready;
    if (!ready) {
        for (int l = 0; l < L; l++) {
            double c = 1 + l % 16, s = 0;
            for (int r = 0; r < E; r++) s += 1.0 / (r + c);
            double acc = 0;
            for (int r = 0; r < E; r++) {
                acc += 1.0 / (r + c) / s;
                cdf[l][r] = acc;
                perm[l][r] = (mp_expert_id)r;
            }
            cdf[l][E - 1] = 1.0;
            for (int r = E - 1; r > 0; r--) {
                int j = (int)(next_u32() % (uint32_t)(r + 1));
                mp_expert_id t = perm[l][r];
                perm[l][r] = perm[l][j];
                perm[l][j] = t;
            }
        }
        ready = 1;
    }
    for (int64_t t = 0; t < tokens; t++)
        for (int l = 0; l < L; l++) {
            mp_expert_id *r = ids + (t * L + l) * K;
            for (int k = 0; k < K; k++) {
                for (;;) {
                    double u = next_u32() / 4294967296.0;
                    int lo = 0, hi = E - 1;
                    while (lo < hi) {
                        int mid = (lo + hi) / 2;
                        if (cdf[l][mid] > u) hi = mid;
                        else lo = mid + 1;
                    }
                    mp_expert_id id = perm[l][lo];
                    int dup = 0;
                    for (int j = 0; j < k; j++) dup |= r[j] == id;
                    if (!dup) {
                        r[k] = id;
                        break;
                    }
                }
            }
        }
}

/* the counting loop as it was before stats_count.c: 64-bit histograms, generic K */
static void naive_count(const mp_step *p, uint64_t *hist)
{
    for (int64_t tok = 0; tok < p->tokens; tok++) {
        const mp_expert_id *row = p->ids + tok * L * K;
        for (int32_t l = 0; l < p->layers; l++) {
            uint64_t *h = hist + (int64_t)l * E;
            for (int32_t k = 0; k < p->top_k; k++) h[row[l * p->top_k + k]]++;
        }
    }
}

/* A row: the runs, M assignments/s at the median, and the speed relative to base (NULL: none). */
static void report(bh *h, const char *name, const bh_runs *r, double assignments, const bh_runs *base)
{
    double t = bh_runs_median(r, BH_WALL);
    bh_row *x = bh_row_begin(h, name, r);
    bh_row_num(x, "M assign/s", "%.1f", assignments / t / 1e6);
    bh_row_num(x, "M assign/cpu-s", "%.1f", assignments / bh_runs_median(r, BH_CPU) / 1e6);
    bh_row_num(x, "x baseline", "%.2f", base ? bh_runs_median(base, BH_WALL) / t : NAN);
    bh_row_end(x);
}

static int bench_count(bh *h, int64_t tokens)
{
    int reps = bh_runs_wanted(h);
    mp_step p[NPIECES];
    memset(p, 0, sizeof p);
    for (int i = 0; i < NPIECES; i++) {
        if (mp_step_reserve(&p[i], PIECE_TOKENS, L, K, 0, 0, NULL)) return 1;
        p[i].end_of_step = 1;
        fill_ids(p[i].ids, PIECE_TOKENS);
    }
    int64_t npieces = (tokens + PIECE_TOKENS - 1) / PIECE_TOKENS;
    double assignments = (double)npieces * PIECE_TOKENS * L * K;
    bh_param(h, "pieces", "%lld", (long long)npieces);
    bh_param(h, "piece tokens", "%d", PIECE_TOKENS);
    bh_param(h, "layers", "%d", L);
    bh_param(h, "top_k", "%d", K);
    bh_param(h, "experts", "%d", E);
    bh_param(h, "M assignments", "%.0f", assignments / 1e6);
    bh_section(h, "counting from in-memory pieces (x baseline: speed relative to the naive loop)");

    /* baseline 1: read every id once (memory bandwidth bound) */
    static bh_runs read_base, naive, counter[2], small[2];
    uint64_t sink = 0;
    for (int r = 0; r < reps; r++) {
        bh_clock c;
        bh_clock_start(&c);
        for (int64_t i = 0; i < npieces; i++) {
            const mp_expert_id *ids = p[i % NPIECES].ids;
            uint64_t s = 0;
            for (int64_t j = 0; j < (int64_t)PIECE_TOKENS * L * K; j++) s += ids[j];
            sink += s;
        }
        bh_runs_add(&read_base, bh_clock_stop(&c));
    }
    report(h, "baseline: sum of ids (read only)", &read_base, assignments, NULL);

    /* baseline 2: the naive counting loop */
    uint64_t *hist = calloc((size_t)L * E, sizeof *hist);
    for (int r = 0; r < reps; r++) {
        memset(hist, 0, (size_t)L * E * sizeof *hist);
        bh_clock c;
        bh_clock_start(&c);
        for (int64_t i = 0; i < npieces; i++) naive_count(&p[i % NPIECES], hist);
        bh_runs_add(&naive, bh_clock_stop(&c));
    }
    report(h, "baseline: naive loop (uint64, generic K)", &naive, assignments, NULL);

    double *want = malloc((size_t)L * E * sizeof *want), *got = malloc((size_t)L * E * sizeof *got);
    for (int64_t i = 0; i < (int64_t)L * E; i++) want[i] = (double)hist[i]; /* the last run's counts */
    int bad = 0;
    for (int threads = 1; threads <= 2; threads++) {
        for (int r = 0; r < reps; r++) {
            mp_counter *c;
            if (mp_counter_create(&c, L, E, K, threads, NULL)) return 1;
            bh_clock ck;
            bh_clock_start(&ck);
            for (int64_t i = 0; i < npieces; i++) mp_counter_add(c, &p[i % NPIECES], NULL);
            mp_counter_end_window(c);
            bh_runs_add(&counter[threads - 1], bh_clock_stop(&ck));
            mp_counter_totals(c, got);
            bad |= memcmp(want, got, (size_t)L * E * sizeof *got) != 0;
            mp_counter_destroy(c);
        }
        char name[64];
        snprintf(name, sizeof name, "mp_counter, %d thread%s", threads, threads > 1 ? "s" : "");
        report(h, name, &counter[threads - 1], assignments, &naive);
    }

    /* per-step variation with decode-sized steps of 64 tokens */
    for (int steps = 0; steps <= 1; steps++) {
        for (int r = 0; r < reps; r++) {
            mp_counter *c;
            mp_stepvar *sv = NULL;
            if (mp_counter_create(&c, L, E, K, 1, NULL) || mp_stepvar_create(&sv, L, E, NULL)) return 1;
            bh_clock ck;
            bh_clock_start(&ck);
            for (int64_t i = 0; i < npieces; i++) {
                mp_step v = p[i % NPIECES];
                for (int64_t a = 0; a < PIECE_TOKENS; a += 64) {
                    v.ids = p[i % NPIECES].ids + a * L * K;
                    v.tokens = 64;
                    mp_counter_add(c, &v, NULL);
                    if (steps) mp__counter_end_step(c, sv, NULL);
                }
            }
            mp_counter_end_window(c);
            bh_runs_add(&small[steps], bh_clock_stop(&ck));
            mp_counter_totals(c, got);
            bad |= memcmp(want, got, (size_t)L * E * sizeof *got) != 0;
            mp_counter_destroy(c);
            mp_stepvar_destroy(sv);
        }
        report(h, steps ? "pieces of 64 tokens + per-step variation" : "pieces of 64 tokens, counting only",
               &small[steps], assignments, &naive);
    }
    bh_note(h, "read-only baseline is x%.2f the naive loop (checksum %llu)",
            bh_runs_median(&naive, BH_WALL) / bh_runs_median(&read_base, BH_WALL), (unsigned long long)sink);
    bh_check(h, "counts agree with the naive loop", !bad);
    free(want);
    free(got);
    free(hist);
    for (int i = 0; i < NPIECES; i++) mp_step_release(&p[i]);
    return 0;
}

static int write_trace(const char *path, int64_t tokens, int zipf)
{
    mp_model m = mp_model_default();
    snprintf(m.name, sizeof m.name, "bench");
    m.layers = L;
    m.experts = E;
    m.top_k = K;
    mp_writer *w;
    mp_err err = {0};
    mp_write_opts wo;
    memset(&wo, 0, sizeof wo);
    wo.level = 1;
    wo.threads = 2;
    if (mp_writer_open(&w, path, &m, &wo, &err)) {
        fprintf(stderr, "bench_stats: %s\n", err.msg);
        return 1;
    }
    mp_step p = {0};
    /* steps of 4096 tokens */
    if (mp_step_reserve(&p, 4096, L, K, 0, 0, NULL)) return 1;
    for (int64_t s = 0, done = 0; done < tokens; s++) {
        int64_t n = tokens - done < 4096 ? tokens - done : 4096;
        if (zipf) fill_ids_zipf(p.ids, n);
        else fill_ids(p.ids, n);
        p.tokens = n;
        p.step = s;
        p.first_token = 0;
        p.end_of_step = 1;
        if (mp_writer_put(w, &p, &err)) {
            fprintf(stderr, "bench_stats: %s\n", err.msg);
            mp_writer_abort(w);
            mp_step_release(&p);
            return 1;
        }
        done += n;
    }
    mp_step_release(&p);
    if (mp_writer_commit(w, &err)) {
        fprintf(stderr, "bench_stats: %s\n", err.msg);
        return 1;
    }
    return 0;
}

static int bench_e2e(bh *h, int64_t tokens, const char *path, int zipf)
{
    int reps = bh_runs_wanted(h);
    struct stat st;
    bh_param(h, "trace", "%s", path);
    if (stat(path, &st) != 0) {
        bh_note(h, "writing %s (%lld tokens, %s ids)", path, (long long)tokens, zipf ? "zipf" : "hot-32");
        if (write_trace(path, tokens, zipf)) return 1;
        stat(path, &st);
    }
    bh_param(h, "MB", "%.1f", st.st_size / 1e6);
    bh_section(h, "end to end on an .mpt file (x baseline: speed relative to decode only, 1 thread)");
    static bh_runs runs[5];
    for (int mode = 0; mode < 5; mode++) {
        /* 0: decode only, 1 thread; 1: stats, 1 thread; 2: decode only, 2 threads; 3: stats, 2 threads;
           4: stats with per-step variation, 2 threads */
        int threads = mode < 2 ? 1 : 2, stats = mode % 2 == 1 || mode == 4;
        double assignments = 0;
        for (int r = 0; r < reps; r++) {
            mp_trace *t;
            mp_err err = {0};
            mp_read_opts ro;
            memset(&ro, 0, sizeof ro);
            ro.threads = threads;
            bh_clock ck;
            bh_clock_start(&ck);
            if (mp_trace_open(&t, path, &ro, &err)) {
                fprintf(stderr, "bench_stats: %s\n", err.msg);
                return 1;
            }
            int rc = 0;
            if (!stats) {
                mp_step p = {0};
                assignments = 0;
                while ((rc = mp_trace_next(t, &p, &err)) == 1) assignments += (double)mp_step_assignments(&p);
                mp_step_release(&p);
            } else {
                mp_scan_opts so = {0, -1, threads, mode == 4, NULL, NULL};
                mp_loads *sum;
                mp_stepvar *sv;
                mp_scan_totals tot;
                rc = mp_stats_scan(t, &so, &sum, &sv, &tot, &err);
                if (rc == 0) {
                    for (int32_t l = 0; l < L; l++) {
                        mp_layer_stats ls;
                        mp_stats_layer(mp_loads_row(sum, 0, l), E, &ls, NULL);
                    }
                    assignments = (double)tot.tokens * L * K;
                }
                mp_loads_destroy(sum);
                mp_stepvar_destroy(sv);
            }
            bh_sample smp = bh_clock_stop(&ck);
            mp_trace_close(t);
            if (rc < 0) {
                fprintf(stderr, "bench_stats: %s\n", err.msg);
                return 1;
            }
            bh_runs_add(&runs[mode], smp);
        }
        static const char *const names[5] = {"decode only, 1 thread (baseline)", "stats, 1 thread",
                                             "decode only, 2 threads", "stats, 2 threads",
                                             "stats + per-step variation, 2 threads"};
        report(h, names[mode], &runs[mode], assignments, mode ? &runs[0] : NULL);
    }
    return 0;
}

int main(int argc, char **argv)
{
    int e2e = 0;
    for (int i = 1; i < argc; i++) e2e |= strcmp(argv[i], "e2e") == 0; /* its default runs */
    bh *h;
    int rc = bh_open(&h, "bench_stats", "count [TOKENS] | e2e [TOKENS] [FILE] [zipf|hot]", e2e ? E2E_REPS : REPS,
                     &argc, argv);
    if (!h) return rc;
    const char *what = argc > 1 ? argv[1] : "count";
    int64_t tokens = argc > 2 ? atoll(argv[2]) : 1000000;
    if (tokens < 1) tokens = 1000000;
    if (strcmp(what, "count") == 0 && argc <= 3) rc = bench_count(h, tokens);
    else if (strcmp(what, "e2e") == 0 && argc <= 5)
        rc = bench_e2e(h, tokens, argc > 3 ? argv[3] : "/tmp/bench_stats_1M.mpt",
                       !(argc > 4 && strcmp(argv[4], "hot") == 0));
    else {
        bh_usage(h);
        bh_close(h);
        return 2;
    }
    int crc = bh_close(h);
    return rc ? rc : crc;
}
