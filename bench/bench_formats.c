/* bench_formats.c - how fast the npy and csv readers and writers go.
 *
 *   bench_formats [-n RUNS] [-J FILE] [TOKENS]     (default 100000 tokens, 3 runs)
 *
 * Shape: TOKENS x 16 layers x top-8 of 256 experts.  Files go to /tmp and
 * are removed.  Baseline: plain fread of the same file (from the page
 * cache) in 4 MiB blocks, measured in the same run, interleaved with the
 * reads; each figure is the median of RUNS and is reported as M
 * assignments/s and as a ratio to the baseline over the same file. */
#include <stdio.h>
#include <stdlib.h>
#include <math.h>
#include <string.h>
#include <unistd.h>

#include "bench/harness.h"
#include "traces/formats/mp_trace.h"

#define L 16
#define K 8
#define E 256

static void die(const char *what, const mp_err *err)
{
    fprintf(stderr, "bench_formats: %s: %s\n", what, err ? err->msg : "failed");
    exit(1);
}

/* Writes TOKENS tokens of deterministic ids through the trace writer; returns its time. */
static bh_sample write_trace(const char *path, int64_t tokens, int with_weights)
{
    mp_model m = mp_model_default();
    m.layers = L;
    m.experts = E;
    m.top_k = K;
    mp_write_opts wo = {0};
    wo.with_weights = with_weights;
    mp_writer *w;
    mp_err err = {0};
    mp_step p = {0};
    uint64_t x = 88172645463325252ull;
    bh_clock c;
    bh_clock_start(&c);
    if (mp_writer_open(&w, path, &m, &wo, &err)) die(path, &err);
    for (int64_t t = 0; t < tokens; t += 8192) {
        int64_t n = tokens - t < 8192 ? tokens - t : 8192;
        if (mp_step_reserve(&p, n, L, K, with_weights, 0, &err)) die("reserve", &err);
        p.step = 0;
        p.first_token = t;
        p.end_of_step = t + n == tokens;
        for (int64_t i = 0; i < n * L * K; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            p.ids[i] = (mp_expert_id)(x % E);
            if (with_weights) p.weights[i] = (float)(x % 1000) / 1000.0f;
        }
        if (mp_writer_put(w, &p, &err)) die(path, &err);
    }
    if (mp_writer_commit(w, &err)) die(path, &err);
    mp_step_release(&p);
    return bh_clock_stop(&c);
}

static bh_sample read_trace(const char *path, mp_npy_layout layout, int64_t *assignments)
{
    mp_read_opts o = {0};
    o.npy_layout = layout;
    mp_model hint = {0};
    hint.experts = E; /* no first pass for the largest id */
    o.model = &hint;
    mp_trace *t;
    mp_err err = {0};
    mp_step p = {0};
    bh_clock c;
    bh_clock_start(&c);
    if (mp_trace_open(&t, path, &o, &err)) die(path, &err);
    int64_t n = 0;
    int rc;
    while ((rc = mp_trace_next(t, &p, &err)) == 1) n += mp_step_assignments(&p);
    if (rc < 0) die(path, &err);
    mp_trace_close(t);
    mp_step_release(&p);
    *assignments = n;
    return bh_clock_stop(&c);
}

static unsigned sink;

static bh_sample read_raw(const char *path)
{
    static unsigned char buf[4 << 20];
    bh_clock c;
    bh_clock_start(&c);
    FILE *fp = fopen(path, "rb");
    if (!fp) die(path, NULL);
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, fp)) > 0) sink += buf[n - 1];
    fclose(fp);
    return bh_clock_stop(&c);
}

/* Rewrites a [T, L, K] int32 npy as [L, T, K] int64 (torch's topk index dtype). */
static void make_ltk_i64(const char *src, const char *dst, int64_t tokens)
{
    FILE *in = fopen(src, "rb"), *out = fopen(dst, "wb");
    if (!in || !out) die(dst, NULL);
    int32_t *all = malloc((size_t)(tokens * L * K) * sizeof *all);
    if (!all || fseek(in, 128, SEEK_SET) || fread(all, sizeof *all, (size_t)(tokens * L * K), in) != (size_t)(tokens * L * K))
        die(src, NULL);
    char dict[118];
    int n = snprintf(dict, sizeof dict, "{'descr': '<i8', 'fortran_order': False, 'shape': (%d, %lld, %d), }", L,
                     (long long)tokens, K);
    memset(dict + n, ' ', sizeof dict - (size_t)n);
    dict[117] = '\n';
    fwrite("\x93NUMPY\x01\x00\x76\x00", 1, 10, out);
    fwrite(dict, 1, sizeof dict, out);
    int64_t *row = malloc((size_t)(tokens * K) * sizeof *row);
    for (int l = 0; l < L; l++) {
        for (int64_t t = 0; t < tokens; t++)
            for (int k = 0; k < K; k++) row[t * K + k] = all[(t * L + l) * K + k];
        fwrite(row, sizeof *row, (size_t)(tokens * K), out);
    }
    free(row);
    free(all);
    fclose(in);
    fclose(out);
}

static void row(bh *h, const char *name, const bh_runs *r, int64_t A, const bh_runs *base)
{
    double t = bh_runs_median(r, BH_WALL);
    bh_row *x = bh_row_begin(h, name, r);
    bh_row_num(x, "M assign/s", "%.1f", A / t / 1e6);
    bh_row_num(x, "x fread", "%.2f", base ? bh_runs_median(base, BH_WALL) / t : NAN);
    bh_row_end(x);
}

int main(int argc, char **argv)
{
    bh *h;
    int rc = bh_open(&h, "bench_formats", "[TOKENS]", 3, &argc, argv);
    if (!h) return rc;
    int64_t tokens = argc > 1 ? atoll(argv[1]) : 100000;
    if (tokens < 1 || argc > 2) {
        bh_usage(h);
        bh_close(h);
        return 2;
    }
    int reps = bh_runs_wanted(h);
    int64_t A = tokens * L * K;
    char npy[64], ltk[64], csv[64];
    snprintf(npy, sizeof npy, "/tmp/bench_formats.%ld.npy", (long)getpid());
    snprintf(ltk, sizeof ltk, "/tmp/bench_formats.%ld.ltk.npy", (long)getpid());
    snprintf(csv, sizeof csv, "/tmp/bench_formats.%ld.csv", (long)getpid());
    bh_param(h, "tokens", "%lld", (long long)tokens);
    bh_param(h, "layers", "%d", L);
    bh_param(h, "top_k", "%d", K);
    bh_param(h, "experts", "%d", E);
    bh_param(h, "M assignments", "%.1f", A / 1e6);
    static bh_runs tw_npy, tw_csv, raw_npy, raw_ltk, raw_csv, r_npy, r_ltk, r_csv;
    int64_t n = 0;
    int counts_ok = 1;
    for (int r = 0; r < reps; r++) bh_runs_add(&tw_npy, write_trace(npy, tokens, 0));
    make_ltk_i64(npy, ltk, tokens);
    for (int r = 0; r < reps; r++) bh_runs_add(&tw_csv, write_trace(csv, tokens, 0));
    for (int r = 0; r < reps; r++) {
        bh_runs_add(&raw_npy, read_raw(npy));
        bh_runs_add(&r_npy, read_trace(npy, MP_NPY_TLK, &n));
        counts_ok &= n == A;
        bh_runs_add(&raw_ltk, read_raw(ltk));
        bh_runs_add(&r_ltk, read_trace(ltk, MP_NPY_LTK, &n));
        counts_ok &= n == A;
        bh_runs_add(&raw_csv, read_raw(csv));
        bh_runs_add(&r_csv, read_trace(csv, MP_NPY_AUTO, &n));
        counts_ok &= n == A;
    }
    bh_section(h, "read (x fread: speed relative to fread of the same file)");
    row(h, "fread npy int32 [T,L,K]", &raw_npy, A, NULL);
    row(h, "npy read int32 [T,L,K]", &r_npy, A, &raw_npy);
    row(h, "fread npy int64 [L,T,K]", &raw_ltk, A, NULL);
    row(h, "npy read int64 [L,T,K]", &r_ltk, A, &raw_ltk);
    row(h, "fread csv", &raw_csv, A, NULL);
    row(h, "csv read", &r_csv, A, &raw_csv);
    bh_section(h, "write");
    row(h, "npy write int32", &tw_npy, A, NULL);
    row(h, "csv write", &tw_csv, A, NULL);
    bh_check(h, "every reader returned every assignment", counts_ok);
    remove(npy);
    remove(ltk);
    remove(csv);
    if (sink == 0xFFFFFFFFu) bh_note(h, " "); /* keeps the baseline's sum alive */
    return bh_close(h);
}
