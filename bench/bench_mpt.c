/*
 * bench_mpt.c - .mpt write and decode speed against plain zlib inflate of the
 * same payloads, measured in the same run.
 *
 *   bench_mpt [TOKENS [REPS [LEVEL [weights]]]]   (defaults: 1048576 tokens, 3 repetitions, level 1, ids only)
 *   bench_mpt file TRACE.mpt [REPS]               (a trace from `moeplace gen`, rewritten at levels 1, 3, 6)
 *
 * The first form builds a trace of TOKENS tokens x 58 layers x top-8 over 256
 * experts with skewed ids (per-layer Zipf-like popularity, 16384-token steps)
 * and, with `weights`, gate weights of bf16 precision.  The second reads
 * TRACE.mpt into memory (ids, weights, ranks as it holds them).  Either is
 * written to a temporary .mpt file with 1 and 2 threads (the bytes must
 * match; median of REPS writes each, interleaved; the file form writes at
 * levels 1, 3 and 6 and decodes the level-LEVEL file), then times, as the
 * median of REPS runs:
 *   (a) plain zlib: inflate() of every stream of every chunk as a zlib
 *       stream, already in memory, into one buffer.  A stream the writer
 *       stored raw (deflate did not pay) is compressed here with compress2 at
 *       the same level, so (a) inflates the zlib stream of the very same
 *       bytes that the writer tried and set aside;
 *   (b) mpt: mp_trace_next over the file, every array, with 1 and 2 threads
 *       (CRC checks, inflate, un-shuffling weights, widening ids to 16 bits,
 *       id/weight/shape checks included);
 *   (c) mpt ids only: the same after mp_trace_skip_weights (what stats, plan
 *       and sim need).
 * Prints MB/s of ids (1 byte each, as stored), assignments/s, and (b)/(a).
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "traces/formats/mp_trace.h"

#define L 58
#define K 8
#define E 256
#define STEP_TOKENS 16384
#define POOL_TOKENS 65536

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static uint64_t rng(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* A pool of POOL_TOKENS tokens of skewed routing; the trace cycles through it. */
static mp_expert_id *make_pool(void)
{
    static uint8_t table[L][65536];
    uint64_t s = 42;
    for (int l = 0; l < L; l++) {
        double pop[E], sum = 0, c = (double)(1 << (l % 5));
        int perm[E];
        for (int e = 0; e < E; e++) perm[e] = e;
        for (int e = E - 1; e > 0; e--) {
            int j = (int)(rng(&s) % (uint64_t)(e + 1)), t = perm[e];
            perm[e] = perm[j];
            perm[j] = t;
        }
        for (int r = 0; r < E; r++) sum += pop[perm[r]] = 1.0 / (r + c);
        double acc = 0;
        int e = 0;
        for (int i = 0; i < 65536; i++) {
            while (e < E - 1 && (acc + pop[e]) / sum * 65536 <= i) acc += pop[e++];
            table[l][i] = (uint8_t)e;
        }
    }
    mp_expert_id *ids = malloc((size_t)POOL_TOKENS * L * K * sizeof *ids);
    for (size_t t = 0; t < POOL_TOKENS; t++)
        for (int l = 0; l < L; l++) {
            mp_expert_id *o = ids + (t * L + l) * K;
            for (int k = 0; k < K;) {
                uint64_t x = rng(&s);
                for (int q = 0; q < 4 && k < K; q++, x >>= 16) {
                    mp_expert_id v = table[l][x & 0xffff];
                    int dup = 0;
                    for (int j = 0; j < k; j++) dup |= o[j] == v;
                    if (!dup) o[k++] = v;
                }
            }
        }
    return ids;
}

/* With weights: gate weights of bf16 precision (what bf16 routers produce), from a 4096-token pool. */
static float *g_weights;
#define WPOOL_TOKENS 4096

static void make_weights(void)
{
    uint64_t s = 7;
    g_weights = malloc((size_t)WPOOL_TOKENS * L * K * sizeof *g_weights);
    for (size_t i = 0; i < (size_t)WPOOL_TOKENS * L; i++) {
        float raw[K], sum = 0;
        for (int k = 0; k < K; k++) sum += raw[k] = (float)(1 + (rng(&s) >> 40) % 1000) / (float)(k + 1);
        for (int k = 0; k < K; k++) {
            float v = raw[k] / sum;
            uint32_t u;
            memcpy(&u, &v, 4);
            u = (u + 0x8000u) & 0xffff0000u;
            memcpy(&g_weights[i * K + k], &u, 4);
        }
    }
}

/* With `file`: the pieces of the input trace, held in memory. */
static mp_step *g_pieces;
static int g_npieces;
static mp_model g_model;
static int g_w, g_r;

static void load_file(const char *path)
{
    mp_trace *t;
    mp_err err = {0};
    if (mp_trace_open(&t, path, NULL, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        exit(1);
    }
    g_model = *mp_trace_model(t);
    g_w = mp_trace_get_info(t).has_weights;
    g_r = mp_trace_get_info(t).has_src_rank;
    int rc;
    for (;;) {
        g_pieces = realloc(g_pieces, (size_t)(g_npieces + 1) * sizeof *g_pieces);
        memset(&g_pieces[g_npieces], 0, sizeof *g_pieces);
        if ((rc = mp_trace_next(t, &g_pieces[g_npieces], &err)) != 1) break;
        g_npieces++;
    }
    mp_step_release(&g_pieces[g_npieces]);
    if (rc) {
        fprintf(stderr, "%s\n", err.msg);
        exit(1);
    }
    mp_trace_close(t);
}

static double write_trace(const char *path, int64_t tokens, const mp_expert_id *pool, int threads, int level)
{
    mp_model m = mp_model_default();
    strcpy(m.name, "deepseek-v3");
    m.layers = L;
    m.experts = E;
    m.top_k = K;
    m.groups = 8;
    m.topk_group = 4;
    mp_write_opts wo = {0};
    wo.threads = threads;
    wo.level = level;
    wo.with_weights = g_weights != NULL;
    if (g_pieces) {
        m = g_model;
        wo.with_weights = g_w;
        wo.with_src_rank = g_r;
    }
    mp_writer *w;
    mp_err err = {0};
    double t0 = now();
    if (mp_writer_open(&w, path, &m, &wo, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        exit(1);
    }
    mp_step p = {0};
    int64_t piece = 4096;
    for (int i = 0; i < g_npieces; i++)
        if (mp_writer_put(w, &g_pieces[i], &err)) {
            fprintf(stderr, "%s\n", err.msg);
            exit(1);
        }
    for (int64_t done = 0, step = 0; !g_pieces && done < tokens; step++) {
        int64_t T = tokens - done < STEP_TOKENS ? tokens - done : STEP_TOKENS;
        for (int64_t t = 0; t < T; t += piece) {
            int64_t n = T - t < piece ? T - t : piece;
            mp_step_reserve(&p, n, L, K, g_weights != NULL, 0, NULL);
            if (g_weights) memcpy(p.weights, g_weights, (size_t)n * L * K * sizeof *p.weights);
            p.step = step;
            p.first_token = t;
            p.end_of_step = t + n == T;
            size_t from = (size_t)((done + t) % POOL_TOKENS) * L * K;
            memcpy(p.ids, pool + from, (size_t)n * L * K * sizeof *p.ids); /* piece divides the pool */
            if (mp_writer_put(w, &p, &err)) {
                fprintf(stderr, "%s\n", err.msg);
                exit(1);
            }
        }
        done += T;
    }
    mp_step_release(&p);
    if (mp_writer_commit(w, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        exit(1);
    }
    return now() - t0;
}

/* Every stream of every chunk as stored, found by walking the file per man/mpt.5. */
typedef struct payloads {
    int n; /* streams */
    unsigned char **p;
    uint32_t *len, *raw;
    int *stored, *is_ids;
    size_t max_raw;
    int chunks;
} payloads;

static uint32_t g32(const unsigned char *p) { return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24; }

static payloads load_payloads(const char *path, int level)
{
    payloads P = {0};
    FILE *fp = fopen(path, "rb");
    unsigned char pre[16], h[136];
    if (!fp || fread(pre, 1, 16, fp) != 16) exit(1);
    fseek(fp, 16 + g32(pre + 12) + 4, SEEK_SET);
    while (fread(h, 1, sizeof h, fp) == sizeof h && memcmp(h, "MPTC", 4) == 0) {
        P.chunks++;
        for (int i = 0; i < 6; i++) {
            const unsigned char *d = h + 32 + 16 * i;
            uint32_t raw = g32(d + 4), len = g32(d + 8);
            int stored = g32(d) == 0;
            unsigned char *b = malloc(len + 1);
            if (fread(b, 1, len, fp) != len) exit(1);
            if (raw == 0) {
                free(b);
                continue;
            }
            P.p = realloc(P.p, (P.n + 1) * sizeof *P.p);
            P.len = realloc(P.len, (P.n + 1) * sizeof *P.len);
            P.raw = realloc(P.raw, (P.n + 1) * sizeof *P.raw);
            P.stored = realloc(P.stored, (P.n + 1) * sizeof *P.stored);
            P.is_ids = realloc(P.is_ids, (P.n + 1) * sizeof *P.is_ids);
            P.raw[P.n] = raw;
            P.stored[P.n] = stored;
            P.is_ids[P.n] = i == 0;
            if (stored) {
                uLongf cl = compressBound(len);
                unsigned char *c = malloc(cl);
                if (compress2(c, &cl, b, len, level) != Z_OK) exit(1);
                free(b);
                b = c;
                len = (uint32_t)cl;
            }
            P.p[P.n] = b;
            P.len[P.n] = len;
            if (raw > P.max_raw) P.max_raw = raw;
            P.n++;
        }
    }
    fclose(fp);
    return P;
}

/* Inflates every stream (ids_only: the ids streams only). */
static double plain_inflate(const payloads *P, unsigned char *out, int ids_only)
{
    double t0 = now();
    z_stream z;
    memset(&z, 0, sizeof z);
    inflateInit(&z);
    for (int i = 0; i < P->n; i++) {
        if (ids_only && !P->is_ids[i]) continue;
        inflateReset(&z);
        z.next_in = P->p[i];
        z.avail_in = P->len[i];
        z.next_out = out;
        z.avail_out = P->raw[i];
        if (inflate(&z, Z_FINISH) != Z_STREAM_END) {
            fprintf(stderr, "inflate failed in stream %d\n", i);
            exit(1);
        }
    }
    inflateEnd(&z);
    return now() - t0;
}

static double mpt_decode(const char *path, int threads, int skip, int64_t *assign)
{
    double t0 = now();
    mp_read_opts ro = {0};
    ro.threads = threads;
    mp_trace *t;
    mp_err err = {0};
    if (mp_trace_open(&t, path, &ro, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        exit(1);
    }
    if (skip) mp_trace_skip_weights(t);
    mp_step p = {0};
    int rc;
    *assign = 0;
    while ((rc = mp_trace_next(t, &p, &err)) == 1) *assign += mp_step_assignments(&p);
    if (rc) {
        fprintf(stderr, "%s\n", err.msg);
        exit(1);
    }
    mp_step_release(&p);
    mp_trace_close(t);
    return now() - t0;
}

static void flush_file(const char *path)
{
    int fd = open(path, O_RDONLY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

static long fsize(const char *path)
{
    FILE *fp = fopen(path, "rb");
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    fclose(fp);
    return n;
}

/* Writes with 1 and 2 threads, interleaved, REPS times; prints the medians; leaves the 1-thread file at p1. */
static long time_writes(const char *p1, const char *p2, int64_t tokens, const mp_expert_id *pool, int level,
                        int reps, double a_total, double ids_mb)
{
    /* each file is flushed to disk (untimed) so that no write is throttled
     * by the write-back of the one before */
    double tw1[50], tw2[50];
    int same = 1;
    long n1 = 0;
    for (int r = 0; r < reps; r++) {
        tw1[r] = write_trace(p1, tokens, pool, 1, level);
        flush_file(p1);
        tw2[r] = write_trace(p2, tokens, pool, 2, level);
        flush_file(p2);
        n1 = fsize(p1);
        long n2 = fsize(p2);
        int eq = n1 == n2;
        if (eq) {
            FILE *a = fopen(p1, "rb"), *b = fopen(p2, "rb");
            int ca, cb;
            do {
                ca = getc(a);
                cb = getc(b);
            } while (ca == cb && ca != EOF);
            eq = ca == cb;
            fclose(a);
            fclose(b);
        }
        same &= eq;
        unlink(p2);
    }
    double w1 = median(tw1, reps), w2 = median(tw2, reps);
    printf("level %d: file %ld bytes (%.3f bytes/assignment); 1- and 2-thread files identical: %s\n", level, n1,
           n1 / a_total, same ? "yes" : "NO");
    printf("  write 1 thread : %8.1f MB/s of ids  %8.1f M assignments/s\n", ids_mb / w1, a_total / w1 / 1e6);
    printf("  write 2 threads: %8.1f MB/s of ids  %8.1f M assignments/s\n", ids_mb / w2, a_total / w2 / 1e6);
    return n1;
}

int main(int argc, char **argv)
{
    int from_file = argc > 2 && strcmp(argv[1], "file") == 0;
    int64_t tokens = 0;
    int reps, level, weights = 0;
    if (from_file) {
        reps = argc > 3 ? atoi(argv[3]) : 3;
        level = 1;
        if (reps < 1 || reps > 50 || argc > 4) {
            fprintf(stderr, "usage: bench_mpt file TRACE.mpt [REPS]\n");
            return 2;
        }
        load_file(argv[2]);
        for (int i = 0; i < g_npieces; i++) tokens += g_pieces[i].tokens;
    } else {
        tokens = argc > 1 ? atoll(argv[1]) : 1048576;
        reps = argc > 2 ? atoi(argv[2]) : 3;
        level = argc > 3 ? atoi(argv[3]) : 1;
        weights = argc > 4 && strcmp(argv[4], "weights") == 0;
        if (tokens < 4096 || tokens % 4096 || reps < 1 || reps > 50 || level < 1 || level > 9 ||
            (argc > 4 && !weights)) {
            fprintf(stderr, "usage: bench_mpt [TOKENS (multiple of 4096) [REPS [LEVEL [weights]]]]\n");
            return 2;
        }
        if (weights) make_weights();
    }
    char p1[64], p2[64];
    snprintf(p1, sizeof p1, "/tmp/bench_mpt.%ld.1.mpt", (long)getpid());
    snprintf(p2, sizeof p2, "/tmp/bench_mpt.%ld.2.mpt", (long)getpid());
    int32_t nl = from_file ? g_model.layers : L, nk = from_file ? g_model.top_k : K;
    mp_expert_id *pool = from_file ? NULL : make_pool();
    double ids_mb = (double)tokens * nl * nk / 1e6; /* 1 byte per id as stored */
    double a_total = (double)tokens * nl * nk;
    if (from_file)
        printf("trace: %s: %lld tokens x %d layers x top-%d, %d experts, weights %s, ranks %s, %d repetitions\n",
               argv[2], (long long)tokens, nl, nk, g_model.experts, g_w ? "yes" : "no", g_r ? "yes" : "no", reps);
    else
        printf("trace: %lld tokens x %d layers x top-%d, %d experts, %s, level %d, %d repetitions\n", (long long)tokens,
               L, K, E, weights ? "with bf16-precision gate weights" : "ids only", level, reps);

    if (from_file) {
        static const int levels[3] = {6, 3, 1}; /* the decoded file is the last one written: level 1 */
        for (int i = 0; i < 3; i++) time_writes(p1, p2, tokens, pool, levels[i], reps, a_total, ids_mb);
    } else {
        time_writes(p1, p2, tokens, pool, level, reps, a_total, ids_mb);
    }
    free(pool);

    payloads P = load_payloads(p1, level);
    unsigned char *out = malloc(P.max_raw + 1);
    double ta[50], tai[50], tb1[50], tb2[50], tc1[50], tc2[50];
    int64_t got = 0, got_c = 0;
    /* interleave them so that drift in machine load hits them alike */
    for (int r = 0; r < reps; r++) {
        ta[r] = plain_inflate(&P, out, 0);
        tai[r] = plain_inflate(&P, out, 1);
        tb1[r] = mpt_decode(p1, 1, 0, &got);
        tb2[r] = mpt_decode(p1, 2, 0, &got);
        tc1[r] = mpt_decode(p1, 1, 1, &got_c);
        tc2[r] = mpt_decode(p1, 2, 1, &got_c);
    }
    if (got != (int64_t)a_total || got_c != (int64_t)a_total) {
        fprintf(stderr, "decoded %lld / %lld assignments, wrote %.0f\n", (long long)got, (long long)got_c, a_total);
        return 1;
    }
    double a = median(ta, reps), ai = median(tai, reps), b1 = median(tb1, reps), b2 = median(tb2, reps);
    double c1 = median(tc1, reps), c2 = median(tc2, reps);
    int nstored = 0;
    for (int i = 0; i < P.n; i++) nstored += P.stored[i];
    printf("decoding the level-%d file: %d chunks, %d non-empty streams, of which stored raw: %d\n", level, P.chunks,
           P.n, nstored);
    printf("(a) plain inflate, all streams : %8.1f MB/s of ids  %8.1f M assignments/s\n", ids_mb / a, a_total / a / 1e6);
    printf("(a) plain inflate, ids streams : %8.1f MB/s of ids  %8.1f M assignments/s\n", ids_mb / ai,
           a_total / ai / 1e6);
    printf("(b) mpt all arrays, 1 thread   : %8.1f MB/s of ids  %8.1f M assignments/s  ratio (b)/(a) %.2f\n", ids_mb / b1,
           a_total / b1 / 1e6, a / b1);
    printf("(b) mpt all arrays, 2 threads  : %8.1f MB/s of ids  %8.1f M assignments/s  ratio (b)/(a) %.2f\n", ids_mb / b2,
           a_total / b2 / 1e6, a / b2);
    printf("(c) mpt skip weights, 1 thread : %8.1f MB/s of ids  %8.1f M assignments/s  ratio (c)/(a ids) %.2f\n",
           ids_mb / c1, a_total / c1 / 1e6, ai / c1);
    printf("(c) mpt skip weights, 2 threads: %8.1f MB/s of ids  %8.1f M assignments/s  ratio (c)/(a ids) %.2f\n",
           ids_mb / c2, a_total / c2 / 1e6, ai / c2);
    for (int i = 0; i < P.n; i++) free(P.p[i]);
    free(P.p);
    free(P.len);
    free(P.raw);
    free(P.stored);
    free(P.is_ids);
    free(out);
    free(g_weights);
    for (int i = 0; i < g_npieces; i++) mp_step_release(&g_pieces[i]);
    free(g_pieces);
    unlink(p1);
    return 0;
}
