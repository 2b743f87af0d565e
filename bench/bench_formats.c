/* bench_formats.c - how fast the npy and csv readers and writers go.
 *
 *   bench_formats [TOKENS]     (default 100000)
 *
 * Shape: TOKENS x 16 layers x top-8 of 256 experts.  Files go to /tmp and
 * are removed.  Baseline: plain fread of the same file (from the page
 * cache) in 4 MiB blocks, measured in the same run; each figure
 * is the best of 3 and is reported as M assignments/s and as a ratio to the
 * baseline over the same file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "traces/formats/mp_trace.h"

#define L 16
#define K 8
#define E 256
#define REPS 3

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void die(const char *what, const mp_err *err)
{
    fprintf(stderr, "bench_formats: %s: %s\n", what, err ? err->msg : "failed");
    exit(1);
}

/* Writes TOKENS tokens of deterministic ids through the trace writer; returns seconds. */
static double write_trace(const char *path, int64_t tokens, int with_weights)
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
    double t0 = now();
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
    return now() - t0;
}

static double read_trace(const char *path, mp_npy_layout layout, int64_t *assignments)
{
    mp_read_opts o = {0};
    o.npy_layout = layout;
    mp_model hint = {0};
    hint.experts = E; /* no first pass for the largest id */
    o.model = &hint;
    mp_trace *t;
    mp_err err = {0};
    mp_step p = {0};
    double t0 = now();
    if (mp_trace_open(&t, path, &o, &err)) die(path, &err);
    int64_t n = 0;
    int rc;
    while ((rc = mp_trace_next(t, &p, &err)) == 1) n += mp_step_assignments(&p);
    if (rc < 0) die(path, &err);
    mp_trace_close(t);
    mp_step_release(&p);
    *assignments = n;
    return now() - t0;
}

static unsigned sink;

static double read_raw(const char *path)
{
    static unsigned char buf[4 << 20];
    double t0 = now();
    FILE *fp = fopen(path, "rb");
    if (!fp) die(path, NULL);
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, fp)) > 0) sink += buf[n - 1];
    fclose(fp);
    return now() - t0;
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

static double best(double a, double b) { return a < b ? a : b; }

int main(int argc, char **argv)
{
    int64_t tokens = argc > 1 ? atoll(argv[1]) : 100000;
    int64_t A = tokens * L * K;
    char npy[64], ltk[64], csv[64];
    snprintf(npy, sizeof npy, "/tmp/bench_formats.%ld.npy", (long)getpid());
    snprintf(ltk, sizeof ltk, "/tmp/bench_formats.%ld.ltk.npy", (long)getpid());
    snprintf(csv, sizeof csv, "/tmp/bench_formats.%ld.csv", (long)getpid());
    printf("shape: %lld tokens x %d layers x top-%d of %d experts = %.1f M assignments\n", (long long)tokens, L, K, E,
           A / 1e6);
    double tw_npy = 1e9, tw_csv = 1e9, raw_npy = 1e9, raw_ltk = 1e9, raw_csv = 1e9, r_npy = 1e9, r_ltk = 1e9, r_csv = 1e9;
    int64_t n = 0;
    for (int r = 0; r < REPS; r++) tw_npy = best(tw_npy, write_trace(npy, tokens, 0));
    make_ltk_i64(npy, ltk, tokens);
    for (int r = 0; r < REPS; r++) tw_csv = best(tw_csv, write_trace(csv, tokens, 0));
    for (int r = 0; r < REPS; r++) {
        raw_npy = best(raw_npy, read_raw(npy));
        r_npy = best(r_npy, read_trace(npy, MP_NPY_TLK, &n));
        if (n != A) die("npy count", NULL);
        raw_ltk = best(raw_ltk, read_raw(ltk));
        r_ltk = best(r_ltk, read_trace(ltk, MP_NPY_LTK, &n));
        if (n != A) die("ltk count", NULL);
        raw_csv = best(raw_csv, read_raw(csv));
        r_csv = best(r_csv, read_trace(csv, MP_NPY_AUTO, &n));
        if (n != A) die("csv count", NULL);
    }
    printf("%-34s %10s %12s %10s\n", "case", "seconds", "M assign/s", "vs fread");
    printf("%-34s %10.3f %12.1f %10s\n", "fread npy int32 [T,L,K]", raw_npy, A / raw_npy / 1e6, "1.00");
    printf("%-34s %10.3f %12.1f %10.2f\n", "npy read int32 [T,L,K]", r_npy, A / r_npy / 1e6, raw_npy / r_npy);
    printf("%-34s %10.3f %12.1f %10s\n", "fread npy int64 [L,T,K]", raw_ltk, A / raw_ltk / 1e6, "1.00");
    printf("%-34s %10.3f %12.1f %10.2f\n", "npy read int64 [L,T,K]", r_ltk, A / r_ltk / 1e6, raw_ltk / r_ltk);
    printf("%-34s %10.3f %12.1f %10s\n", "fread csv", raw_csv, A / raw_csv / 1e6, "1.00");
    printf("%-34s %10.3f %12.1f %10.2f\n", "csv read", r_csv, A / r_csv / 1e6, raw_csv / r_csv);
    printf("%-34s %10.3f %12.1f %10s\n", "npy write int32", tw_npy, A / tw_npy / 1e6, "-");
    printf("%-34s %10.3f %12.1f %10s\n", "csv write", tw_csv, A / tw_csv / 1e6, "-");
    remove(npy);
    remove(ltk);
    remove(csv);
    return sink == 0xFFFFFFFFu; /* keeps the baseline's sum alive */
}
