/*
 * bench_mpt.c - .mpt write and decode speed against plain zlib inflate of the
 * same payloads, measured in the same run.
 *
 *   bench_mpt [-n RUNS] [TOKENS [LEVEL [weights]]]   (defaults: 1048576 tokens, 3 runs, level 1, ids only)
 *   bench_mpt [-n RUNS] file TRACE.mpt                (a trace from `moeplace gen`, rewritten at levels 1, 3, 6)
 *
 * The first form builds a trace of TOKENS tokens x 58 layers x top-8 over 256
 * experts with skewed ids (per-layer Zipf-like popularity, 16384-token steps)
 * and, with `weights`, gate weights of bf16 precision.  The second reads
 * TRACE.mpt into memory (ids, weights, ranks as it holds them).  Either is
 * written to a temporary .mpt file with 1 and 2 threads (the bytes must
 * match; median of RUNS writes each, interleaved; the file form writes at
 * levels 1, 3 and 6 and decodes the level-LEVEL file), then times, as the
 * median of RUNS runs (interleaved, so that drift in load hits all alike):
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
 * Prints MB/s of ids (1 byte each, as stored), assignments/s, and (b)/(a),
 * through bench/harness.h (-J FILE for JSON).
 */
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "bench/harness.h"
#include "traces/formats/mp_trace.h"

#define L 58
#define K 8
#define E 256
#define STEP_TOKENS 16384
#define POOL_TOKENS 65536

static uint64_t rng(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
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

static bh_sample write_trace(const char *path, int64_t tokens, const mp_expert_id *pool, int threads, int level)
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
    bh_clock c;
    bh_clock_start(&c);
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
    return bh_clock_stop(&c);
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
static bh_sample plain_inflate(const payloads *P, unsigned char *out, int ids_only)
{
    bh_clock c;
    bh_clock_start(&c);
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
    return bh_clock_stop(&c);
}

static bh_sample mpt_decode(const char *path, int threads, int skip, int64_t *assign)
{
    bh_clock c;
    bh_clock_start(&c);
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
    return bh_clock_stop(&c);
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

/* One row: the runs' statistics, MB/s of ids and M assignments/s at the median, and
 * the speed relative to the baseline measured in the same run (NAN: none). */
static void rate_row(bh *h, const char *name, const bh_runs *r, double ids_mb, double a_total, double ratio)
{
    double t = bh_runs_median(r, BH_WALL);
    bh_row *row = bh_row_begin(h, name, r);
    bh_row_num(row, "MB/s ids", "%.1f", ids_mb / t);
    bh_row_num(row, "M assign/s", "%.1f", a_total / t / 1e6);
    bh_row_num(row, "x baseline", "%.2f", ratio);
    bh_row_end(row);
}

/* Writes with 1 and 2 threads, interleaved, RUNS times; prints the medians; leaves the 1-thread file at p1. */
static long time_writes(bh *h, const char *p1, const char *p2, int64_t tokens, const mp_expert_id *pool, int level,
                        int reps, double a_total, double ids_mb)
{
    /* each file is flushed to disk (untimed) so that no write is throttled
     * by the write-back of the one before */
    static bh_runs tw1, tw2;
    tw1.n = tw2.n = 0;
    int same = 1;
    long n1 = 0;
    for (int r = 0; r < reps; r++) {
        bh_runs_add(&tw1, write_trace(p1, tokens, pool, 1, level));
        flush_file(p1);
        bh_runs_add(&tw2, write_trace(p2, tokens, pool, 2, level));
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
    char title[64];
    snprintf(title, sizeof title, "write, level %d", level);
    bh_section(h, title);
    rate_row(h, "write 1 thread", &tw1, ids_mb, a_total, NAN);
    rate_row(h, "write 2 threads", &tw2, ids_mb, a_total, NAN);
    bh_note(h, "level %d: file %ld bytes (%.3f bytes/assignment)", level, n1, n1 / a_total);
    snprintf(title, sizeof title, "level %d: 1- and 2-thread files identical", level);
    bh_check(h, title, same);
    return n1;
}

int main(int argc, char **argv)
{
    bh *h;
    int rc = bh_open(&h, "bench_mpt", "[TOKENS (multiple of 4096) [LEVEL [weights]]] | file TRACE.mpt", 3, &argc, argv);
    if (!h) return rc;
    int from_file = argc > 2 && strcmp(argv[1], "file") == 0;
    int64_t tokens = 0;
    int reps = bh_runs_wanted(h), level, weights = 0;
    if (from_file) {
        level = 1;
        if (argc > 3) {
            bh_usage(h);
            bh_close(h);
            return 2;
        }
        load_file(argv[2]);
        for (int i = 0; i < g_npieces; i++) tokens += g_pieces[i].tokens;
    } else {
        tokens = argc > 1 ? atoll(argv[1]) : 1048576;
        level = argc > 2 ? atoi(argv[2]) : 1;
        weights = argc > 3 && strcmp(argv[3], "weights") == 0;
        if (tokens < 4096 || tokens % 4096 || level < 1 || level > 9 || (argc > 3 && !weights) || argc > 4) {
            bh_usage(h);
            bh_close(h);
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
    if (from_file) {
        bh_param(h, "trace", "%s", argv[2]);
        bh_param(h, "weights", "%s", g_w ? "yes" : "no");
        bh_param(h, "ranks", "%s", g_r ? "yes" : "no");
        bh_param(h, "experts", "%d", g_model.experts);
    } else {
        bh_param(h, "experts", "%d", E);
        bh_param(h, "content", "%s", weights ? "with bf16-precision gate weights" : "ids only");
        bh_param(h, "level", "%d", level);
    }
    bh_param(h, "tokens", "%lld", (long long)tokens);
    bh_param(h, "layers", "%d", nl);
    bh_param(h, "top_k", "%d", nk);

    if (from_file) {
        static const int levels[3] = {6, 3, 1}; /* the decoded file is the last one written: level 1 */
        for (int i = 0; i < 3; i++) time_writes(h, p1, p2, tokens, pool, levels[i], reps, a_total, ids_mb);
    } else {
        time_writes(h, p1, p2, tokens, pool, level, reps, a_total, ids_mb);
    }
    free(pool);

    payloads P = load_payloads(p1, level);
    unsigned char *out = malloc(P.max_raw + 1);
    static bh_runs ta, tai, tb1, tb2, tc1, tc2;
    int64_t got = 0, got_c = 0;
    /* interleave them so that drift in machine load hits them alike */
    for (int r = 0; r < reps; r++) {
        bh_runs_add(&ta, plain_inflate(&P, out, 0));
        bh_runs_add(&tai, plain_inflate(&P, out, 1));
        bh_runs_add(&tb1, mpt_decode(p1, 1, 0, &got));
        bh_runs_add(&tb2, mpt_decode(p1, 2, 0, &got));
        bh_runs_add(&tc1, mpt_decode(p1, 1, 1, &got_c));
        bh_runs_add(&tc2, mpt_decode(p1, 2, 1, &got_c));
    }
    char title[96];
    snprintf(title, sizeof title, "decode the level-%d file", level);
    bh_section(h, title);
    double a = bh_runs_median(&ta, BH_WALL), ai = bh_runs_median(&tai, BH_WALL);
    rate_row(h, "(a) plain inflate, all streams", &ta, ids_mb, a_total, NAN);
    rate_row(h, "(a) plain inflate, ids streams", &tai, ids_mb, a_total, NAN);
    rate_row(h, "(b) mpt all arrays, 1 thread", &tb1, ids_mb, a_total, a / bh_runs_median(&tb1, BH_WALL));
    rate_row(h, "(b) mpt all arrays, 2 threads", &tb2, ids_mb, a_total, a / bh_runs_median(&tb2, BH_WALL));
    rate_row(h, "(c) mpt skip weights, 1 thread", &tc1, ids_mb, a_total, ai / bh_runs_median(&tc1, BH_WALL));
    rate_row(h, "(c) mpt skip weights, 2 threads", &tc2, ids_mb, a_total, ai / bh_runs_median(&tc2, BH_WALL));
    int nstored = 0;
    for (int i = 0; i < P.n; i++) nstored += P.stored[i];
    bh_note(h, "x baseline: speed relative to (a) all streams for (b), to (a) ids streams for (c)");
    bh_note(h, "%d chunks, %d non-empty streams, of which stored raw: %d", P.chunks, P.n, nstored);
    bh_check(h, "every assignment decoded", got == (int64_t)a_total && got_c == (int64_t)a_total);
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
    return bh_close(h);
}
