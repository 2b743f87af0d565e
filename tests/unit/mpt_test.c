/* mpt_test.c - the native .mpt format: round trips, threads, edge cases, every bad input, and small.mpt. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "traces/formats/mp__mpt.h"
#include "traces/formats/mp_trace.h"

static char tmpdir[256];
static int read_all(const char *path, int threads, mp_err *err);

static const char *tpath(const char *name)
{
    static char buf[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", tmpdir, name);
    return buf[k];
}

static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/mpt_test.XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[600];
    if (getenv("MPT_TEST_KEEP")) return fprintf(stderr, "kept %s\n", tmpdir) < 0; /* to seed the fuzz corpus */
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

/* ---- a tiny deterministic RNG (splitmix64) ---- */
static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
static double rng_unit(uint64_t *s) { return (double)(rng_next(s) >> 11) * (1.0 / 9007199254740992.0); }

static mp_model shape(int L, int E, int K)
{
    mp_model m = mp_model_default();
    strcpy(m.name, "test");
    m.layers = L;
    m.experts = E;
    m.top_k = K;
    return m;
}

/* Fills a piece with pseudo-random content that depends only on (seed, step, token). */
static void fill_piece(mp_step *p, const mp_model *m, int64_t step, int64_t first, int64_t tokens, int eos, int w,
                       int r, uint64_t seed)
{
    assert_int_equal(mp_step_reserve(p, tokens, m->layers, m->top_k, w, r, NULL), 0);
    p->step = step;
    p->first_token = first;
    p->end_of_step = eos;
    int64_t per = (int64_t)m->layers * m->top_k;
    for (int64_t t = 0; t < tokens; t++) {
        uint64_t s = seed * 1000003u + (uint64_t)step * 7919u + (uint64_t)(first + t);
        for (int64_t j = 0; j < per; j++) {
            uint64_t x = rng_next(&s);
            p->ids[t * per + j] = (mp_expert_id)((x % 4 == 0 ? x >> 8 : (x >> 8) % 8) % (uint64_t)m->experts);
            if (w) p->weights[t * per + j] = (float)((x >> 40) % 1000) / 1000.0f;
        }
        if (r) p->src_rank[t] = (int32_t)(s % 16);
    }
}

typedef struct spec {
    int L, E, K, w, r;
    int steps;
    const int64_t *tokens; /* per step */
    int64_t piece;         /* tokens per written piece */
    int64_t chunk_assign;
    int threads;
    const char *prov;
} spec;

static void write_trace(const char *path, const spec *s)
{
    mp_model m = shape(s->L, s->E, s->K);
    mp_write_opts wo = {0};
    wo.with_weights = s->w;
    wo.with_src_rank = s->r;
    wo.threads = s->threads;
    wo.chunk_assignments = s->chunk_assign;
    wo.provenance = s->prov;
    mp_writer *w;
    mp_err err = {0};
    assert_int_equal(mp_writer_open(&w, path, &m, &wo, &err), 0);
    mp_step p = {0};
    for (int st = 0; st < s->steps; st++) {
        int64_t T = s->tokens[st];
        if (T == 0) {
            fill_piece(&p, &m, st, 0, 0, 1, s->w, s->r, 1);
            assert_int_equal(mp_writer_put(w, &p, &err), 0);
        }
        for (int64_t t = 0; t < T; t += s->piece) {
            int64_t n = T - t < s->piece ? T - t : s->piece;
            fill_piece(&p, &m, st, t, n, t + n == T, s->w, s->r, 1);
            int rc = mp_writer_put(w, &p, &err);
            if (rc) fprintf(stderr, "%s\n", err.msg);
            assert_int_equal(rc, 0);
        }
    }
    mp_step_release(&p);
    int rc = mp_writer_commit(w, &err);
    if (rc) fprintf(stderr, "%s\n", err.msg);
    assert_int_equal(rc, 0);
}

/* Reads the trace back and checks every token against fill_piece; returns the piece count. */
static int64_t verify_trace(const char *path, const spec *s, int threads)
{
    mp_read_opts ro = {0};
    ro.threads = threads;
    mp_trace *t;
    mp_err err = {0};
    int rc = mp_trace_open(&t, path, &ro, &err);
    if (rc) fprintf(stderr, "%s\n", err.msg);
    assert_int_equal(rc, 0);
    mp_model m = shape(s->L, s->E, s->K);
    mp_trace_info in = mp_trace_get_info(t);
    int64_t total = 0;
    for (int i = 0; i < s->steps; i++) total += s->tokens[i];
    assert_int_equal(in.steps, s->steps);
    assert_int_equal(in.tokens, total);
    assert_int_equal(in.assignments, total * s->L * s->K);
    assert_int_equal(in.has_weights, s->w);
    assert_int_equal(in.has_src_rank, s->r);
    mp_step p = {0}, q = {0};
    int64_t step = 0, tok = 0, pieces = 0;
    while ((rc = mp_trace_next(t, &p, &err)) == 1) {
        pieces++;
        assert_int_equal(p.step, step);
        assert_int_equal(p.first_token, tok);
        fill_piece(&q, &m, step, tok, p.tokens, 0, s->w, s->r, 1);
        int64_t a = mp_step_assignments(&p);
        assert_memory_equal(p.ids, q.ids, (size_t)a * sizeof *p.ids);
        if (s->w) assert_memory_equal(p.weights, q.weights, (size_t)a * sizeof(float));
        else assert_null(p.weights);
        if (s->r) assert_memory_equal(p.src_rank, q.src_rank, (size_t)p.tokens * sizeof(int32_t));
        else assert_null(p.src_rank);
        tok += p.tokens;
        if (p.end_of_step) {
            assert_int_equal(tok, s->tokens[step]);
            step++;
            tok = 0;
        }
    }
    if (rc) fprintf(stderr, "%s\n", err.msg);
    assert_int_equal(rc, 0);
    assert_int_equal(step, s->steps);
    mp_step_release(&p);
    mp_step_release(&q);
    mp_trace_close(t);
    return pieces;
}

static unsigned char *slurp(const char *path, size_t *n)
{
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    fseek(fp, 0, SEEK_END);
    long len = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)len + 1);
    assert_int_equal(fread(b, 1, (size_t)len, fp), (size_t)len);
    fclose(fp);
    *n = (size_t)len;
    return b;
}

static void spit(const char *path, const void *b, size_t n)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(b, 1, n, fp), n);
    fclose(fp);
}

/* ---------------------------------------------------------------- CRC */

/* mpt_crc32 (PCLMULQDQ where the CPU has it) equals zlib's crc32 for every length, alignment and seed. */
static void test_crc_matches_zlib(void **state)
{
    (void)state;
    size_t N = 1 << 16;
    unsigned char *b = malloc(N + 64);
    uint64_t s = 7;
    for (size_t i = 0; i < N + 64; i++) b[i] = (unsigned char)rng_next(&s);
    for (size_t n = 0; n < 700; n++) assert_int_equal(mpt_crc32(0, b, n), (uint32_t)crc32(0, b, (uInt)n));
    for (int it = 0; it < 3000; it++) {
        size_t n = rng_next(&s) % 5000, o = rng_next(&s) % 64;
        uint32_t seed = it % 3 ? (uint32_t)rng_next(&s) : 0;
        assert_int_equal(mpt_crc32(seed, b + o, n), (uint32_t)crc32(seed, b + o, (uInt)n));
    }
    assert_int_equal(mpt_crc32(0, b, N), (uint32_t)crc32(0, b, (uInt)N));
    assert_int_equal(mpt_crc32(0, (const unsigned char *)"123456789", 9), 0xcbf43926u); /* the check value */
    free(b);
}

/* ---------------------------------------------------------------- round trips */

static void test_roundtrip_weights_ranks(void **state)
{
    (void)state;
    static const int64_t tok[] = {100, 37, 250};
    spec s = {6, 256, 8, 1, 1, 3, tok, 64, 0, 1, "{\"tool\": \"test\", \"n\": [1, 2]}"};
    write_trace(tpath("a.mpt"), &s);
    assert_int_equal(verify_trace(tpath("a.mpt"), &s, 1), 3); /* the default chunk holds a whole step */
    mp_trace *t;
    assert_int_equal(mp_trace_open(&t, tpath("a.mpt"), NULL, NULL), 0);
    assert_string_equal(mp_trace_get_info(t).provenance, "{\"tool\":\"test\",\"n\":[1,2]}");
    assert_string_equal(mp_trace_model(t)->name, "test");
    mp_trace_info in = mp_trace_get_info(t);
    assert_int_equal(in.raw_bytes, 387 * 48 * (2 + 4) + 387 * 4);
    assert_true(in.file_bytes > 0);
    mp_trace_close(t);
}

static void test_roundtrip_wide_ids_bare(void **state)
{
    (void)state;
    static const int64_t tok[] = {10, 20};
    spec s = {3, 300, 4, 0, 0, 2, tok, 7, 0, 1, NULL};
    write_trace(tpath("b.mpt"), &s);
    verify_trace(tpath("b.mpt"), &s, 1);
    mp_trace *t;
    assert_int_equal(mp_trace_open(&t, tpath("b.mpt"), NULL, NULL), 0);
    assert_string_equal(mp_trace_get_info(t).provenance, "{}");
    mp_trace_close(t);
}

static void test_pieces_span_chunks(void **state)
{
    (void)state;
    static const int64_t tok[] = {1000, 3, 501};
    /* 4*2 = 8 assignments per token; 800 per chunk = 100 tokens */
    spec s = {4, 64, 2, 1, 1, 3, tok, 333, 800, 1, NULL};
    write_trace(tpath("c.mpt"), &s);
    assert_int_equal(verify_trace(tpath("c.mpt"), &s, 1), 10 + 1 + 6);
    /* the same trace written in other piece sizes gives the same bytes */
    spec s2 = s;
    s2.piece = 1;
    write_trace(tpath("c2.mpt"), &s2);
    size_t n1, n2;
    unsigned char *b1 = slurp(tpath("c.mpt"), &n1), *b2 = slurp(tpath("c2.mpt"), &n2);
    assert_int_equal(n1, n2);
    assert_memory_equal(b1, b2, n1);
    free(b1);
    free(b2);
}

static void test_threads_same_bytes_and_pieces(void **state)
{
    (void)state;
    static const int64_t tok[] = {700, 1, 0, 450, 999};
    spec s = {5, 256, 6, 1, 1, 5, tok, 101, 3000, 1, "{\"x\":1}"};
    write_trace(tpath("t1.mpt"), &s);
    spec s2 = s;
    s2.threads = 2;
    write_trace(tpath("t2.mpt"), &s2);
    s2.threads = 4;
    write_trace(tpath("t4.mpt"), &s2);
    size_t n1, n2, n4;
    unsigned char *b1 = slurp(tpath("t1.mpt"), &n1), *b2 = slurp(tpath("t2.mpt"), &n2),
                  *b4 = slurp(tpath("t4.mpt"), &n4);
    assert_int_equal(n1, n2);
    assert_int_equal(n1, n4);
    assert_memory_equal(b1, b2, n1);
    assert_memory_equal(b1, b4, n1);
    free(b1);
    free(b2);
    free(b4);
    int64_t p1 = verify_trace(tpath("t1.mpt"), &s, 1);
    assert_int_equal(verify_trace(tpath("t1.mpt"), &s, 2), p1);
    assert_int_equal(verify_trace(tpath("t1.mpt"), &s, 3), p1);
}

static void test_many_tiny_and_empty_steps(void **state)
{
    (void)state;
    static int64_t tok[1200];
    for (int i = 0; i < 1200; i++) tok[i] = i % 7 == 3 ? 0 : 1 + i % 3;
    spec s = {2, 16, 2, 1, 0, 1200, tok, 1, 0, 2, NULL};
    write_trace(tpath("tiny.mpt"), &s);
    assert_int_equal(verify_trace(tpath("tiny.mpt"), &s, 2), 1200);
    verify_trace(tpath("tiny.mpt"), &s, 1);
}

static void test_empty_trace(void **state)
{
    (void)state;
    spec s = {2, 16, 2, 0, 0, 0, NULL, 1, 0, 1, NULL};
    write_trace(tpath("empty.mpt"), &s);
    assert_int_equal(verify_trace(tpath("empty.mpt"), &s, 1), 0);
}

static void test_sniff_without_extension(void **state)
{
    (void)state;
    static const int64_t tok[] = {5};
    spec s = {2, 16, 2, 0, 0, 1, tok, 5, 0, 1, NULL};
    write_trace(tpath("noext.mpt"), &s);
    assert_int_equal(rename(tpath("noext.mpt"), tpath("noext")), 0);
    mp_trace *t;
    assert_int_equal(mp_trace_open(&t, tpath("noext"), NULL, NULL), 0);
    assert_int_equal(mp_trace_get_info(t).format, MP_FMT_MPT);
    mp_trace_close(t);
}

/* Writes one 10000-token step of ids-only data made by `kind` and returns the method of the first chunk's ids. */
static uint32_t first_ids_method(const char *name, int kind)
{
    mp_model m = shape(4, 256, 8);
    mp_writer *w;
    assert_int_equal(mp_writer_open(&w, tpath(name), &m, NULL, NULL), 0);
    mp_step p = {0};
    assert_int_equal(mp_step_reserve(&p, 10000, 4, 8, 0, 0, NULL), 0);
    p.end_of_step = 1;
    uint64_t s = 3;
    for (int64_t i = 0; i < 10000 * 32; i++)
        p.ids[i] = kind == 0 ? (mp_expert_id)(rng_next(&s) & 255) : kind == 1 ? (mp_expert_id)(i % 7)
                                                               : (mp_expert_id)(i < 70000 ? rng_next(&s) & 255 : 3);
    assert_int_equal(mp_writer_put(w, &p, NULL), 0);
    assert_int_equal(mp_writer_commit(w, NULL), 0);
    mp_step_release(&p);
    size_t n;
    unsigned char *b = slurp(tpath(name), &n);
    size_t c0 = 16 + mpt_get32(b + 12) + 4;
    assert_int_equal(mpt_get32(b + c0 + 4), MPT_FLAG_END_OF_STEP);
    uint32_t method = mpt_get32(b + c0 + 32);
    free(b);
    return method;
}

/* Large chunks: random ids are stored raw, regular ids are compressed; both read back. */
static void test_stored_or_compressed(void **state)
{
    (void)state;
    assert_int_equal(first_ids_method("rand.mpt", 0), MPT_METHOD_STORED);
    assert_int_equal(first_ids_method("regular.mpt", 1), MPT_METHOD_ZLIB);
    /* the probe sees only the first 64 KiB: random there, constant after, stored */
    assert_int_equal(first_ids_method("mixed.mpt", 2), MPT_METHOD_STORED);
    mp_err err = {0};
    assert_int_equal(read_all(tpath("rand.mpt"), 1, &err), 0);
    assert_int_equal(read_all(tpath("regular.mpt"), 2, &err), 0);
    assert_int_equal(read_all(tpath("mixed.mpt"), 1, &err), 0);
}

/* ---------------------------------------------------------------- gate weights as byte planes */

/* Full-precision weights (what a float32 router writes) and a few edge values. */
static void fill_weights(mp_step *p, uint64_t seed)
{
    static const uint32_t edge[] = {0x00000000u, 0x00000001u /* subnormal */, 0x007fffffu, 0x3f800000u /* 1 */,
                                    0x7f7fffffu /* FLT_MAX */, 0x00800000u /* FLT_MIN */};
    int64_t a = mp_step_assignments(p);
    for (int64_t i = 0; i < a; i++) {
        uint32_t v;
        if (i < 6) {
            v = edge[i];
        } else {
            float f = (float)rng_unit(&seed);
            memcpy(&v, &f, 4);
        }
        memcpy(&p->weights[i], &v, 4);
    }
    for (int64_t t = 0; t < p->tokens; t++) p->src_rank[t] = (int32_t)(t % 5);
}

/* Weights are stored as four byte planes, each deflated only when it pays;
 * they come back bit for bit, and a reader that skips them gets the rest. */
static void test_weight_planes(void **state)
{
    (void)state;
    mp_model m = shape(4, 256, 8);
    mp_write_opts wo = {0};
    wo.with_weights = wo.with_src_rank = 1;
    mp_step p = {0}, q = {0};
    int64_t T = 10000;
    assert_int_equal(mp_step_reserve(&p, T, 4, 8, 1, 1, NULL), 0);
    p.end_of_step = 1;
    uint64_t s = 11;
    for (int64_t i = 0; i < T * 32; i++) p.ids[i] = (mp_expert_id)(rng_next(&s) & 255);
    fill_weights(&p, 5);
    for (int threads = 1; threads <= 2; threads++) {
        wo.threads = threads;
        mp_writer *w;
        assert_int_equal(mp_writer_open(&w, tpath("planes.mpt"), &m, &wo, NULL), 0);
        assert_int_equal(mp_writer_put(w, &p, NULL), 0);
        assert_int_equal(mp_writer_commit(w, NULL), 0);
    }
    size_t n;
    unsigned char *b = slurp(tpath("planes.mpt"), &n);
    size_t c0 = 16 + mpt_get32(b + 12) + 4;
    /* ids (random bytes) and the low mantissa planes are stored; the plane of
     * sign and exponent bits is deflated to a fraction */
    assert_int_equal(mpt_get32(b + c0 + 32), MPT_METHOD_STORED);
    assert_int_equal(mpt_get32(b + c0 + 32 + 16 * MPT_S_PLANE0), MPT_METHOD_STORED);
    assert_int_equal(mpt_get32(b + c0 + 32 + 16 * (MPT_S_PLANE0 + 3)), MPT_METHOD_ZLIB);
    assert_true(mpt_get32(b + c0 + 32 + 16 * (MPT_S_PLANE0 + 3) + 8) < (uint32_t)(T * 32) / 2);
    assert_int_equal(mpt_get32(b + c0 + 32 + 16 * MPT_S_RANKS + 4), T * 4);
    free(b);
    for (int skip = 0; skip <= 1; skip++) {
        mp_read_opts ro = {0};
        ro.threads = 2 - skip;
        mp_trace *t;
        mp_err err = {0};
        assert_int_equal(mp_trace_open(&t, tpath("planes.mpt"), &ro, &err), 0);
        if (skip) mp_trace_skip_weights(t);
        assert_int_equal(mp_trace_get_info(t).has_weights, 1);
        int64_t tok = 0;
        int rc;
        while ((rc = mp_trace_next(t, &q, &err)) == 1) {
            size_t a = (size_t)mp_step_assignments(&q), off = (size_t)tok * 32;
            assert_memory_equal(q.ids, p.ids + off, a * sizeof *q.ids);
            if (skip) assert_null(q.weights);
            else assert_memory_equal(q.weights, p.weights + off, a * sizeof(float));
            assert_memory_equal(q.src_rank, p.src_rank + tok, (size_t)q.tokens * sizeof(int32_t));
            tok += q.tokens;
        }
        assert_int_equal(rc, 0);
        assert_int_equal(tok, T);
        mp_trace_close(t);
    }
    mp_trace_skip_weights(NULL);
    mp_step_release(&p);
    mp_step_release(&q);
}

/* Formats that keep weights inline (csv) read them and drop them for a caller that skips them. */
static void test_skip_weights_other_formats(void **state)
{
    (void)state;
    static const int64_t tok[] = {5, 3};
    spec s = {2, 16, 2, 1, 0, 2, tok, 4, 0, 1, NULL};
    write_trace(tpath("w.csv"), &s);
    for (int skip = 0; skip <= 1; skip++) {
        mp_trace *t;
        mp_err err = {0};
        assert_int_equal(mp_trace_open(&t, tpath("w.csv"), NULL, &err), 0);
        if (skip) mp_trace_skip_weights(t);
        mp_step p = {0};
        int rc, n = 0;
        while ((rc = mp_trace_next(t, &p, &err)) == 1) {
            n++;
            if (skip) assert_null(p.weights);
            else assert_non_null(p.weights);
        }
        assert_int_equal(rc, 0);
        assert_true(n >= 2);
        mp_step_release(&p);
        mp_trace_close(t);
    }
}

/* ---------------------------------------------------------------- writer refusals */

static void test_writer_rejects_bad_pieces(void **state)
{
    (void)state;
    mp_model m = shape(2, 16, 2);
    mp_write_opts wo = {0};
    wo.with_weights = wo.with_src_rank = 1;
    mp_writer *w;
    mp_err err = {0};
    mp_step p = {0};
    const char *path = tpath("rej.mpt");

    assert_int_equal(mp_writer_open(&w, path, &m, &wo, &err), 0);
    fill_piece(&p, &m, 0, 0, 3, 1, 1, 1, 1);
    p.ids[5] = 16;
    assert_int_equal(mp_writer_put(w, &p, &err), MP_ERANGE);
    assert_non_null(strstr(err.msg, "expert id 16 >= experts 16"));
    p.ids[5] = 1;
    p.weights[2] = NAN;
    assert_int_equal(mp_writer_put(w, &p, &err), MP_ERANGE);
    p.weights[2] = -1;
    assert_int_equal(mp_writer_put(w, &p, &err), MP_ERANGE);
    p.weights[2] = 0.5f;
    p.src_rank[1] = -3;
    assert_int_equal(mp_writer_put(w, &p, &err), MP_ERANGE);
    assert_non_null(strstr(err.msg, "negative source rank -3"));
    fill_piece(&p, &m, 0, 0, 3, 1, 0, 0, 1);
    assert_int_equal(mp_writer_put(w, &p, &err), MP_EINVAL); /* no weights, file promises them */
    mp_writer_abort(w);
    assert_int_equal(access(path, F_OK), -1);

    wo.provenance = "[1,2]";
    assert_int_equal(mp_writer_open(&w, path, &m, &wo, &err), MP_EINVAL);
    wo.provenance = "{\"a\":1} x";
    assert_int_equal(mp_writer_open(&w, path, &m, &wo, &err), MP_EINVAL);
    mp_step_release(&p);
}

/* ---------------------------------------------------------------- crafted files */

typedef struct craft_chunk {
    int64_t step, first, tokens;
    int eos;
    int stored;
    const unsigned char *ids; /* id_bytes per assignment */
    const float *weights;
    const int32_t *src;
} craft_chunk;

typedef struct craft_file {
    const char *json;
    int major;
    int nchunks;
    const craft_chunk *c;
    int64_t steps_delta; /* added to the trailer's step count */
    int no_footer;
} craft_file;

typedef struct buf {
    unsigned char *p;
    size_t n, cap;
} buf;

static void put(buf *b, const void *p, size_t n)
{
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2;
        b->p = realloc(b->p, b->cap);
    }
    memcpy(b->p + b->n, p, n);
    b->n += n;
}

/* Builds an .mpt file by hand, following man/mpt.5; L=2, K=2, 1-byte ids. */
static buf craft(const craft_file *f, int w, int r)
{
    buf b = {0};
    unsigned char pre[16], x[8];
    memcpy(pre, MPT_MAGIC, 8);
    pre[8] = (unsigned char)f->major, pre[9] = 0, pre[10] = 0, pre[11] = 0;
    size_t hl = strlen(f->json);
    mpt_put32(pre + 12, (uint32_t)hl);
    put(&b, pre, 16);
    put(&b, f->json, hl);
    mpt_put32(x, (uint32_t)crc32(0, (const unsigned char *)f->json, (uInt)hl));
    put(&b, x, 4);
    uint64_t offs[16];
    int64_t tokens = 0, steps = 0, payload = 0;
    for (int i = 0; i < f->nchunks; i++) {
        const craft_chunk *c = &f->c[i];
        size_t a = (size_t)c->tokens * 4, raw = a + (w ? a * 4 : 0) + (r ? (size_t)c->tokens * 4 : 0);
        /* the six streams: ids, the weights' byte planes, ranks */
        unsigned char *part[MPT_STREAMS] = {0};
        size_t len[MPT_STREAMS] = {a, w ? a : 0, w ? a : 0, w ? a : 0, w ? a : 0, r ? (size_t)c->tokens * 4 : 0};
        for (int k = 0; k < MPT_STREAMS; k++) part[k] = malloc(len[k] + 1);
        memcpy(part[0], c->ids, a);
        for (size_t j = 0; w && j < a; j++) {
            uint32_t v;
            memcpy(&v, &c->weights[j], 4);
            for (int q = 0; q < 4; q++) part[1 + q][j] = (unsigned char)(v >> (8 * q));
        }
        for (int64_t t = 0; r && t < c->tokens; t++) mpt_put32(part[5] + 4 * t, (uint32_t)c->src[t]);
        mpt_chunk_head h;
        memset(&h, 0, sizeof h);
        h.flags = c->eos ? MPT_FLAG_END_OF_STEP : 0;
        h.step = c->step;
        h.first_token = c->first;
        h.tokens = c->tokens;
        unsigned char *pay[MPT_STREAMS];
        for (int k = 0; k < MPT_STREAMS; k++) {
            uLongf cl = compressBound(len[k]);
            pay[k] = malloc(cl + 1);
            if (c->stored || len[k] == 0) {
                memcpy(pay[k], part[k], len[k]);
                cl = len[k];
            } else {
                assert_int_equal(compress2(pay[k], &cl, part[k], len[k], 6), Z_OK);
            }
            h.s[k].method = c->stored || len[k] == 0 ? MPT_METHOD_STORED : MPT_METHOD_ZLIB;
            h.s[k].raw = (uint32_t)len[k];
            h.s[k].size = (uint32_t)cl;
            h.s[k].crc = (uint32_t)crc32(0, pay[k], (uInt)cl);
        }
        unsigned char hb[MPT_CHUNK_HEADER_BYTES];
        mpt_chunk_head_encode(&h, hb);
        offs[i] = b.n;
        put(&b, hb, sizeof hb);
        for (int k = 0; k < MPT_STREAMS; k++) {
            put(&b, pay[k], h.s[k].size);
            free(pay[k]);
            free(part[k]);
        }
        tokens += c->tokens;
        steps += c->eos;
        payload += (int64_t)raw;
    }
    size_t toff = b.n;
    unsigned char t[MPT_TRAILER_FIXED_BYTES];
    memcpy(t, MPT_TRAILER_TAG, 4);
    mpt_put32(t + 4, 0);
    mpt_put64(t + 8, (uint64_t)f->nchunks);
    mpt_put64(t + 16, (uint64_t)(steps + f->steps_delta));
    mpt_put64(t + 24, (uint64_t)tokens);
    mpt_put64(t + 32, (uint64_t)(tokens * 4));
    mpt_put64(t + 40, (uint64_t)payload);
    put(&b, t, sizeof t);
    for (int i = 0; i < f->nchunks; i++) {
        mpt_put64(x, offs[i]);
        put(&b, x, 8);
    }
    if (!f->no_footer) {
        unsigned char ft[16];
        mpt_put64(ft, toff);
        mpt_put32(ft + 8, (uint32_t)crc32(0, b.p + toff, (uInt)(b.n - toff)));
        memcpy(ft + 12, MPT_FOOTER_TAG, 4);
        put(&b, ft, 16);
    }
    return b;
}

#define HDR(extra) "{\"model\":{\"layers\":2,\"experts\":16,\"top_k\":2},\"id_bytes\":1,\"gate_weights\":" extra "}"
static const char *hdr_wr = HDR("true,\"source_ranks\":true");

static const unsigned char ids8[8] = {1, 2, 3, 4, 5, 6, 7, 8};
static const float w8[8] = {.5f, .5f, .25f, .75f, 1, 0, .1f, .9f};
static const int32_t r2[2] = {0, 3};

/* Opens and reads `path` through; returns the first error code (0 when clean) and its message in *err. */
static int read_all(const char *path, int threads, mp_err *err)
{
    mp_read_opts ro = {0};
    ro.threads = threads;
    mp_trace *t;
    int rc = mp_trace_open(&t, path, &ro, err);
    if (rc) return rc;
    mp_step p = {0};
    while ((rc = mp_trace_next(t, &p, err)) == 1) {
    }
    mp_step_release(&p);
    mp_trace_close(t);
    return rc;
}

static void expect_bad(const char *path, int code, const char *needle)
{
    for (int th = 1; th <= 2; th++) {
        mp_err err = {0};
        int rc = read_all(path, th, &err);
        if (rc != code || !strstr(err.msg, needle) || !strstr(err.msg, path))
            fprintf(stderr, "got %d '%s', wanted %d '%s'\n", rc, err.msg, code, needle);
        assert_int_equal(rc, code);
        assert_non_null(strstr(err.msg, needle));
        assert_non_null(strstr(err.msg, path));
    }
}

static void craft_write(const char *name, const craft_file *f, int w, int r)
{
    buf b = craft(f, w, r);
    spit(tpath(name), b.p, b.n);
    free(b.p);
}

static void test_crafted_valid(void **state)
{
    (void)state;
    craft_chunk c[2] = {{0, 0, 1, 0, 0, ids8, w8, r2}, {0, 1, 1, 1, 1, ids8 + 4, w8 + 4, r2 + 1}};
    craft_file f = {hdr_wr, 1, 2, c, 0, 0};
    craft_write("ok.mpt", &f, 1, 1);
    mp_err err = {0};
    assert_int_equal(read_all(tpath("ok.mpt"), 1, &err), 0);
}

static void test_bad_sequence_and_values(void **state)
{
    (void)state;
    mp_err err = {0};
    (void)err;
    /* a step that never ends */
    craft_chunk c1[1] = {{0, 0, 2, 0, 0, ids8, w8, r2}};
    craft_file f = {hdr_wr, 1, 1, c1, 0, 0};
    craft_write("noend.mpt", &f, 1, 1);
    expect_bad(tpath("noend.mpt"), MP_EFORMAT, "step 0 never ends");
    /* pieces out of order */
    craft_chunk c2[2] = {{0, 0, 1, 0, 0, ids8, w8, r2}, {0, 2, 1, 1, 0, ids8, w8, r2}};
    f.nchunks = 2;
    f.c = c2;
    craft_write("order.mpt", &f, 1, 1);
    expect_bad(tpath("order.mpt"), MP_EFORMAT, "out of order, expected (0, 1)");
    craft_chunk c3[1] = {{1, 0, 1, 1, 0, ids8, w8, r2}};
    f.nchunks = 1;
    f.c = c3;
    craft_write("order2.mpt", &f, 1, 1);
    expect_bad(tpath("order2.mpt"), MP_EFORMAT, "(step 1, token 0) out of order");
    /* expert id >= E */
    static const unsigned char bad_ids[4] = {1, 2, 16, 4};
    craft_chunk c4[1] = {{0, 0, 1, 1, 0, bad_ids, w8, r2}};
    f.c = c4;
    craft_write("id.mpt", &f, 1, 1);
    expect_bad(tpath("id.mpt"), MP_ERANGE, "offset 118: chunk 0: step 0 token 0 layer 1: expert id 16 >= experts 16");
    /* NaN, infinite and negative gate weights */
    float bw[4] = {.5f, .5f, NAN, .5f};
    craft_chunk c5[1] = {{0, 0, 1, 1, 1, ids8, bw, r2}};
    f.c = c5;
    craft_write("nan.mpt", &f, 1, 1);
    expect_bad(tpath("nan.mpt"), MP_ERANGE, "gate weight nan");
    bw[2] = INFINITY;
    craft_write("inf.mpt", &f, 1, 1);
    expect_bad(tpath("inf.mpt"), MP_ERANGE, "gate weight inf");
    bw[2] = -0.25f;
    craft_write("neg.mpt", &f, 1, 1);
    expect_bad(tpath("neg.mpt"), MP_ERANGE, "gate weight -0.25");
    /* negative source rank */
    static const int32_t br[1] = {-2};
    craft_chunk c6[1] = {{0, 0, 1, 1, 0, ids8, w8, br}};
    f.c = c6;
    craft_write("rank.mpt", &f, 1, 1);
    expect_bad(tpath("rank.mpt"), MP_ERANGE, "negative source rank -2");
    /* a trailer that disagrees with the chunks */
    craft_chunk c7[1] = {{0, 0, 1, 1, 0, ids8, w8, r2}};
    f.c = c7;
    f.steps_delta = -1;
    craft_write("trail.mpt", &f, 1, 1);
    expect_bad(tpath("trail.mpt"), MP_EFORMAT, "trailer says 0 steps, the chunks hold 1");
    /* no footer at all: streamed, then reported */
    f.steps_delta = 0;
    f.no_footer = 1;
    craft_write("nofoot.mpt", &f, 1, 1);
    expect_bad(tpath("nofoot.mpt"), MP_EFORMAT, "footer at the end is missing or damaged");
}

static void test_bad_headers(void **state)
{
    (void)state;
    craft_chunk c[1] = {{0, 0, 1, 1, 0, ids8, w8, r2}};
    craft_file f = {hdr_wr, 1, 1, c, 0, 0};
    f.major = 2;
    craft_write("ver.mpt", &f, 1, 1);
    expect_bad(tpath("ver.mpt"), MP_EVERSION, "offset 8: unsupported .mpt version 2.0");
    f.major = 1;
    f.json = "{\"model\":{\"layers\":2,\"experts\":16,\"top_k\":2},\"id_bytes\":1,\"gate_weights\":true,";
    craft_write("json.mpt", &f, 1, 1);
    expect_bad(tpath("json.mpt"), MP_EFORMAT, "offset 16: header is not a JSON object");
    f.json = "{\"model\":{\"layers\":2,\"experts\":16,\"top_k\":2},\"id_bytes\":1,\"gate_weights\":true}";
    craft_write("key.mpt", &f, 1, 1);
    expect_bad(tpath("key.mpt"), MP_EFORMAT, "lacks \"source_ranks\"");
    f.json = "{\"model\":{\"layers\":2000000000,\"experts\":16,\"top_k\":2},\"id_bytes\":1,\"gate_weights\":true,"
             "\"source_ranks\":true}";
    craft_write("dims.mpt", &f, 1, 1);
    mp_err err = {0};
    int rc = read_all(tpath("dims.mpt"), 1, &err);
    assert_true(rc == MP_ERANGE || rc == MP_EFORMAT);
    assert_non_null(strstr(err.msg, "offset 16"));
    f.json = "{\"model\":{\"layers\":2,\"experts\":300,\"top_k\":2},\"id_bytes\":1,\"gate_weights\":true,"
             "\"source_ranks\":true}";
    craft_write("width.mpt", &f, 1, 1);
    expect_bad(tpath("width.mpt"), MP_EFORMAT, "id_bytes 1 cannot hold 300 experts");
    /* header length over the limit, wrong magic, header CRC */
    f.json = hdr_wr;
    buf b = craft(&f, 1, 1);
    mpt_put32(b.p + 12, MPT_HEADER_MAX + 1);
    spit(tpath("hlen.mpt"), b.p, b.n);
    expect_bad(tpath("hlen.mpt"), MP_ELIMIT, "offset 12: header of 1048577 bytes exceeds");
    mpt_put32(b.p + 12, (uint32_t)strlen(hdr_wr));
    b.p[20] ^= 1;
    spit(tpath("hcrc.mpt"), b.p, b.n);
    expect_bad(tpath("hcrc.mpt"), MP_ECRC, "offset 16: header CRC mismatch");
    b.p[20] ^= 1;
    b.p[1] = 'X';
    spit(tpath("magic.mpt"), b.p, b.n);
    expect_bad(tpath("magic.mpt"), MP_EFORMAT, "offset 0: not an .mpt file (bad magic)");
    free(b.p);
}

/* File offset of stream i of the chunk whose header is at c (i = MPT_STREAMS: the chunk's end). */
static size_t stream_at(const unsigned char *b, size_t c, int i)
{
    size_t o = c + MPT_CHUNK_HEADER_BYTES;
    for (int j = 0; j < i; j++) o += mpt_get32(b + c + 32 + 16 * j + 8);
    return o;
}

/* "<base><i>.mpt": one file per stream, so that each seeds the fuzz corpus. */
static const char *sname(const char *base, int i)
{
    static char buf[4][64];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s%d.mpt", base, i);
    return buf[k];
}

/* Rewrites the CRC of the chunk header at c. */
static void rehead(unsigned char *m, size_t c) { mpt_put32(m + c + 132, (uint32_t)crc32(0, m + c, 132)); }

static const char *const stream_names[MPT_STREAMS] = {"ids", "weights byte 0", "weights byte 1", "weights byte 2",
                                                      "weights byte 3", "source ranks"};

/* Reads `path` through with mp_trace_skip_weights; returns the first error code. */
static int read_all_skip(const char *path, int threads, mp_err *err)
{
    mp_read_opts ro = {0};
    ro.threads = threads;
    mp_trace *t;
    int rc = mp_trace_open(&t, path, &ro, err);
    if (rc) return rc;
    mp_trace_skip_weights(t);
    assert_true(mp_trace_get_info(t).has_weights);
    mp_step p = {0};
    while ((rc = mp_trace_next(t, &p, err)) == 1) assert_null(p.weights);
    mp_step_release(&p);
    mp_trace_close(t);
    return rc;
}

static void test_corruption_and_truncation(void **state)
{
    (void)state;
    craft_chunk c[2] = {{0, 0, 1, 0, 0, ids8, w8, r2}, {0, 1, 1, 1, 0, ids8 + 4, w8 + 4, r2 + 1}};
    craft_file f = {hdr_wr, 1, 2, c, 0, 0};
    buf b = craft(&f, 1, 1);
    size_t c0 = 16 + strlen(hdr_wr) + 4; /* first chunk header */
    size_t c1 = stream_at(b.p, c0, MPT_STREAMS);
    size_t toff = stream_at(b.p, c1, MPT_STREAMS);
    size_t pl1 = toff - c1 - MPT_CHUNK_HEADER_BYTES;
    char want[160];
    /* truncated in the header, in a chunk header, in a payload, in the trailer, in the footer */
    spit(tpath("tr_hdr.mpt"), b.p, 40);
    expect_bad(tpath("tr_hdr.mpt"), MP_EFORMAT, "truncated in the header");
    spit(tpath("tr_pre.mpt"), b.p, 10);
    expect_bad(tpath("tr_pre.mpt"), MP_EFORMAT, "offset 10: truncated in the preamble");
    spit(tpath("tr_ch.mpt"), b.p, c1 + 20);
    snprintf(want, sizeof want, "offset %zu: truncated in chunk 1's header", c1);
    expect_bad(tpath("tr_ch.mpt"), MP_EFORMAT, want);
    spit(tpath("tr_pay.mpt"), b.p, c1 + MPT_CHUNK_HEADER_BYTES + pl1 / 2);
    snprintf(want, sizeof want, "offset %zu: chunk 1: truncated payload", c1 + MPT_CHUNK_HEADER_BYTES);
    expect_bad(tpath("tr_pay.mpt"), MP_EFORMAT, want);
    spit(tpath("tr_tr.mpt"), b.p, toff + 10);
    expect_bad(tpath("tr_tr.mpt"), MP_EFORMAT, "footer at the end is missing or damaged");
    spit(tpath("tr_end.mpt"), b.p, toff);
    snprintf(want, sizeof want, "offset %zu: truncated file: the trailer is missing", toff);
    expect_bad(tpath("tr_end.mpt"), MP_EFORMAT, want);
    spit(tpath("tr_ft.mpt"), b.p, b.n - 3);
    expect_bad(tpath("tr_ft.mpt"), MP_EFORMAT, "footer");
    unsigned char *m = malloc(b.n);
    mp_err err = {0};
    for (int i = 0; i < MPT_STREAMS; i++) {
        size_t so = stream_at(b.p, c0, i);
        uint32_t sl = mpt_get32(b.p + c0 + 32 + 16 * i + 8);
        int is_w = i >= MPT_S_PLANE0 && i < MPT_S_RANKS;
        /* a stream's CRC; a reader that skips the weights does not see damage there */
        memcpy(m, b.p, b.n);
        m[so + sl - 1] ^= 0x40;
        spit(tpath(sname("pcrc", i)), m, b.n);
        snprintf(want, sizeof want, "offset %zu: chunk 0: %s: CRC mismatch", so, stream_names[i]);
        expect_bad(tpath(sname("pcrc", i)), MP_ECRC, want);
        assert_int_equal(read_all_skip(tpath(sname("pcrc", i)), 1, &err), is_w ? 0 : MP_ECRC);
        /* a broken zlib stream with a matching CRC */
        memcpy(m, b.p, b.n);
        m[so] = 0x00; /* not a zlib header */
        mpt_put32(m + c0 + 32 + 16 * i + 12, (uint32_t)crc32(0, m + so, sl));
        rehead(m, c0);
        spit(tpath(sname("zlib", i)), m, b.n);
        snprintf(want, sizeof want, "offset %zu: chunk 0: %s: bad zlib stream", so, stream_names[i]);
        expect_bad(tpath(sname("zlib", i)), MP_EFORMAT, want);
        assert_int_equal(read_all_skip(tpath(sname("zlib", i)), 2, &err), is_w ? 0 : MP_EFORMAT);
        /* a raw size that does not match the token count */
        memcpy(m, b.p, b.n);
        mpt_put32(m + c0 + 32 + 16 * i + 4, 99);
        rehead(m, c0);
        spit(tpath(sname("raw", i)), m, b.n);
        snprintf(want, sizeof want, "offset %zu: chunk 0: stream %d holds 99 raw bytes, 1 tokens need 4", c0, i);
        expect_bad(tpath(sname("raw", i)), MP_EFORMAT, want);
        /* a size beyond the file: never allocated, never read */
        memcpy(m, b.p, b.n);
        mpt_put32(m + c0 + 32 + 16 * i + 8, 0xfffffff0u);
        rehead(m, c0);
        spit(tpath(sname("big", i)), m, b.n);
        snprintf(want, sizeof want, "stream %d: size 4294967280 is impossible", i);
        expect_bad(tpath(sname("big", i)), MP_EFORMAT, want);
        /* an unknown method */
        memcpy(m, b.p, b.n);
        mpt_put32(m + c0 + 32 + 16 * i, 7);
        rehead(m, c0);
        spit(tpath(sname("meth", i)), m, b.n);
        snprintf(want, sizeof want, "stream %d: unknown method 7", i);
        expect_bad(tpath(sname("meth", i)), MP_EFORMAT, want);
    }
    /* a stored stream whose size is not its raw size */
    craft_chunk cs[1] = {{0, 0, 1, 1, 1, ids8, w8, r2}};
    craft_file fs = {hdr_wr, 1, 1, cs, 0, 0};
    buf bs = craft(&fs, 1, 1);
    mpt_put32(bs.p + c0 + 32 + 8, 3);
    rehead(bs.p, c0);
    spit(tpath("ssz.mpt"), bs.p, bs.n);
    expect_bad(tpath("ssz.mpt"), MP_EFORMAT, "stream 0: size 3 is impossible for 4 raw bytes");
    free(bs.p);
    /* zlib streams that inflate to too few or too many bytes */
    static const unsigned char ids3[4] = {1, 2, 3, 4};
    for (int extra = 0; extra < 2; extra++) {
        craft_chunk cz[1] = {{0, 0, 1, 1, 0, ids3, w8, r2}};
        craft_file fz = {hdr_wr, 1, 1, cz, 0, 0};
        buf bz = craft(&fz, 1, 1);
        /* rebuild with the ids stream holding 3 or 5 bytes, its descriptor saying 4 */
        unsigned char five[5] = {1, 2, 3, 4, 5}, z[64];
        uLongf zl = sizeof z;
        assert_int_equal(compress2(z, &zl, five, extra ? 5 : 3, 6), Z_OK);
        size_t s0 = stream_at(bz.p, c0, 0), s1 = stream_at(bz.p, c0, 1);
        buf o = {0};
        put(&o, bz.p, s0);
        put(&o, z, zl);
        put(&o, bz.p + s1, bz.n - s1);
        mpt_put32(o.p + c0 + 32 + 8, (uint32_t)zl);
        mpt_put32(o.p + c0 + 32 + 12, (uint32_t)crc32(0, z, (uInt)zl));
        rehead(o.p, c0);
        /* the trailer and footer moved: fix the footer's offset and CRC */
        size_t nt = o.n - MPT_FOOTER_BYTES - (MPT_TRAILER_FIXED_BYTES + 8);
        mpt_put64(o.p + nt + MPT_TRAILER_FIXED_BYTES, c0);
        mpt_put64(o.p + o.n - 16, nt);
        mpt_put32(o.p + o.n - 8, (uint32_t)crc32(0, o.p + nt, (uInt)(MPT_TRAILER_FIXED_BYTES + 8)));
        spit(tpath("zlen.mpt"), o.p, o.n);
        expect_bad(tpath("zlen.mpt"), MP_EFORMAT, extra ? "ids: stream inflates to more than the 4 bytes" : "ids: stream inflates to fewer than the 4 bytes");
        free(o.p);
        free(bz.p);
    }
    /* the chunk header's CRC */
    memcpy(m, b.p, b.n);
    m[c0 + 40] ^= 1;
    spit(tpath("hdcrc.mpt"), m, b.n);
    snprintf(want, sizeof want, "offset %zu: chunk 0: header CRC mismatch", c0);
    expect_bad(tpath("hdcrc.mpt"), MP_ECRC, want);
    mpt_chunk_head h;
    rehead(m, c0);
    assert_int_equal(mpt_chunk_head_decode(m + c0, &h), 0);
    /* tokens over the chunk limit */
    memcpy(m, b.p, b.n);
    mpt_put32(m + c0 + 24, 0xfffffff0u);
    rehead(m, c0);
    spit(tpath("limit.mpt"), m, b.n);
    expect_bad(tpath("limit.mpt"), MP_ELIMIT, "exceed the 16777216-assignment chunk limit");
    /* unknown flags, reserved fields */
    memcpy(m, b.p, b.n);
    mpt_put32(m + c0 + 4, 0x80);
    rehead(m, c0);
    spit(tpath("flags.mpt"), m, b.n);
    expect_bad(tpath("flags.mpt"), MP_EFORMAT, "unknown flags 00000080");
    for (int at = 28; at <= 128; at += 100) {
        memcpy(m, b.p, b.n);
        mpt_put32(m + c0 + at, 1);
        rehead(m, c0);
        spit(tpath("resv.mpt"), m, b.n);
        expect_bad(tpath("resv.mpt"), MP_EFORMAT, "chunk 0: a reserved field is not 0");
    }
    /* trailer damage: its CRC, a footer pointing elsewhere, a wrong chunk offset */
    memcpy(m, b.p, b.n);
    m[toff + 20] ^= 1;
    spit(tpath("tcrc.mpt"), m, b.n);
    expect_bad(tpath("tcrc.mpt"), MP_ECRC, "trailer CRC mismatch");
    memcpy(m, b.p, b.n);
    mpt_put64(m + b.n - 16, 5);
    spit(tpath("fptr.mpt"), m, b.n);
    expect_bad(tpath("fptr.mpt"), MP_EFORMAT, "footer points to offset 5, outside the file");
    memcpy(m, b.p, b.n);
    mpt_put64(m + toff + 48 + 8, c1 + 1);
    mpt_put32(m + b.n - 8, (uint32_t)crc32(0, m + toff, (uInt)(b.n - 16 - toff)));
    spit(tpath("offs.mpt"), m, b.n);
    snprintf(want, sizeof want, "the trailer puts chunk 1 at offset %zu, it is at %zu", c1 + 1, c1);
    expect_bad(tpath("offs.mpt"), MP_EFORMAT, want);
    /* the index is checked when the file is opened, before its counts are shown */
    {
        mp_trace *t = NULL;
        assert_int_equal(mp_trace_open(&t, tpath("offs.mpt"), NULL, &err), MP_EFORMAT);
        assert_null(t);
    }
    /* garbage appended after the footer */
    memcpy(m, b.p, b.n);
    buf g = {0};
    put(&g, b.p, b.n);
    put(&g, "junk", 4);
    spit(tpath("junk.mpt"), g.p, g.n);
    assert_true(read_all(tpath("junk.mpt"), 1, &err) < 0);
    free(g.p);
    free(m);
    free(b.p);
}

static void test_not_regular_file(void **state)
{
    (void)state;
    mp_err err = {0};
    mp_read_opts ro = {0};
    ro.format = MP_FMT_MPT;
    mp_trace *t;
    assert_int_equal(mp_trace_open(&t, tmpdir, &ro, &err), MP_EUNSUPPORTED);
    assert_int_equal(mp_trace_open(&t, tpath("absent.mpt"), &ro, &err), MP_EIO);
}

/* ---------------------------------------------------------------- tests/data/small.mpt */

/* The generator of tests/data/small.mpt: deepseek-v3 shape, 3 steps, skewed
 * ids drawn with group-limited routing, bf16-precision normalised gate
 * weights, 8 source ranks.  Pure integer and IEEE arithmetic: no libm. */
#define SMALL_STEPS 3
static const int64_t small_tokens[SMALL_STEPS] = {64, 96, 64};

static mp_model small_model(void)
{
    mp_model m = mp_model_default();
    strcpy(m.name, "deepseek-v3");
    m.layers = 58;
    m.experts = 256;
    m.top_k = 8;
    m.groups = 8;
    m.topk_group = 4;
    m.shared = 1;
    m.hidden = 7168;
    m.intermediate = 2048;
    m.scoring = MP_SCORING_SIGMOID;
    m.normalize_topk = 1;
    m.routed_scaling = 2.5;
    return m;
}

typedef struct small_gen {
    uint64_t rng;
    double pop[58][256]; /* popularity per layer and expert */
} small_gen;

static void small_init(small_gen *g)
{
    g->rng = 20261124;
    for (int l = 0; l < 58; l++) {
        int perm[256];
        for (int e = 0; e < 256; e++) perm[e] = e;
        for (int e = 255; e > 0; e--) {
            int j = (int)(rng_next(&g->rng) % (uint64_t)(e + 1)), t = perm[e];
            perm[e] = perm[j];
            perm[j] = t;
        }
        double c = (double)(1 << (l % 5)); /* 1..16: very skewed to mild */
        for (int rank = 0; rank < 256; rank++)
            g->pop[l][perm[rank]] = (l % 3 == 0 && rank >= 250) ? 0.0 : 1.0 / (rank + c);
    }
}

/* Draws one index in [0, n) in proportion to w (entries already taken have w = 0). */
static int draw(uint64_t *rng, const double *w, int n)
{
    double sum = 0;
    for (int i = 0; i < n; i++) sum += w[i];
    double x = rng_unit(rng) * sum;
    int last = 0;
    for (int i = 0; i < n; i++) {
        if (w[i] <= 0) continue;
        last = i;
        if (x < w[i]) return i;
        x -= w[i];
    }
    return last;
}

static void small_step(small_gen *g, mp_step *p, int64_t step)
{
    int64_t T = small_tokens[step];
    assert_int_equal(mp_step_reserve(p, T, 58, 8, 1, 1, NULL), 0);
    p->step = step;
    p->first_token = 0;
    p->end_of_step = 1;
    for (int64_t t = 0; t < T; t++) {
        p->src_rank[t] = (int32_t)(rng_next(&g->rng) % 8);
        for (int l = 0; l < 58; l++) {
            double gw[8] = {0}, ew[256];
            for (int e = 0; e < 256; e++) gw[e / 32] += g->pop[l][e];
            int keep[8] = {0};
            for (int k = 0; k < 4; k++) {
                int gi = draw(&g->rng, gw, 8);
                keep[gi] = 1;
                gw[gi] = 0;
            }
            for (int e = 0; e < 256; e++) ew[e] = keep[e / 32] ? g->pop[l][e] + 1e-6 : 0;
            float raw[8], sum = 0;
            for (int k = 0; k < 8; k++) {
                int e = draw(&g->rng, ew, 256);
                ew[e] = 0;
                p->ids[(t * 58 + l) * 8 + k] = (mp_expert_id)e;
                raw[k] = (float)(1.0 + 3.0 * rng_unit(&g->rng)) / (float)(k + 1);
                sum += raw[k];
            }
            for (int k = 0; k < 8; k++) {
                float v = raw[k] / sum;
                uint32_t u;
                memcpy(&u, &v, 4);
                u = (u + 0x8000u) & 0xffff0000u; /* round to bf16 precision */
                memcpy(&v, &u, 4);
                p->weights[(t * 58 + l) * 8 + k] = v;
            }
        }
    }
}

static void small_write(const char *path)
{
    mp_model m = small_model();
    mp_write_opts wo = {0};
    wo.with_weights = wo.with_src_rank = 1;
    wo.chunk_assignments = 16384; /* 35 tokens a chunk: steps span chunks */
    wo.level = 9;
    wo.provenance = "{\"generator\":\"tests/unit/mpt_test.c small_write\",\"seed\":20261124,"
                    "\"note\":\"synthetic skewed routing for tests\"}";
    mp_writer *w;
    assert_int_equal(mp_writer_open(&w, path, &m, &wo, NULL), 0);
    small_gen *g = malloc(sizeof *g);
    small_init(g);
    mp_step p = {0};
    for (int s = 0; s < SMALL_STEPS; s++) {
        small_step(g, &p, s);
        assert_int_equal(mp_writer_put(w, &p, NULL), 0);
    }
    mp_step_release(&p);
    free(g);
    assert_int_equal(mp_writer_commit(w, NULL), 0);
}

/* small.mpt holds exactly what the generator makes (set MP_REGEN_SMALL=1 to rewrite it). */
static void test_small_mpt_matches_generator(void **state)
{
    (void)state;
    const char *path = MP_TEST_DATA "/small.mpt";
    if (getenv("MP_REGEN_SMALL")) small_write(path);
    mp_trace *t;
    mp_err err = {0};
    int rc = mp_trace_open(&t, path, NULL, &err);
    if (rc) fprintf(stderr, "%s\n", err.msg);
    assert_int_equal(rc, 0);
    mp_model m = small_model();
    const mp_model *tm = mp_trace_model(t);
    assert_string_equal(tm->name, "deepseek-v3");
    assert_int_equal(tm->layers, 58);
    assert_int_equal(tm->experts, 256);
    assert_int_equal(tm->groups, 8);
    assert_int_equal(tm->topk_group, 4);
    assert_int_equal(tm->scoring, m.scoring);
    mp_trace_info in = mp_trace_get_info(t);
    assert_int_equal(in.steps, 3);
    assert_int_equal(in.tokens, 224);
    assert_true(in.file_bytes < 300 * 1024);
    small_gen *g = malloc(sizeof *g);
    small_init(g);
    mp_step p = {0}, q = {0};
    int64_t step = -1, tok = 0;
    while ((rc = mp_trace_next(t, &p, &err)) == 1) {
        if (p.first_token == 0) {
            step++;
            small_step(g, &q, step);
            tok = 0;
        }
        assert_int_equal(p.step, step);
        assert_int_equal(p.first_token, tok);
        size_t per = 58 * 8, off = (size_t)tok * per, a = (size_t)p.tokens * per;
        assert_memory_equal(p.ids, q.ids + off, a * sizeof *p.ids);
        assert_memory_equal(p.weights, q.weights + off, a * sizeof(float));
        assert_memory_equal(p.src_rank, q.src_rank + tok, (size_t)p.tokens * sizeof(int32_t));
        tok += p.tokens;
    }
    assert_int_equal(rc, 0);
    assert_int_equal(step, 2);
    mp_step_release(&p);
    mp_step_release(&q);
    free(g);
    mp_trace_close(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc_matches_zlib),
        cmocka_unit_test(test_roundtrip_weights_ranks),
        cmocka_unit_test(test_roundtrip_wide_ids_bare),
        cmocka_unit_test(test_pieces_span_chunks),
        cmocka_unit_test(test_threads_same_bytes_and_pieces),
        cmocka_unit_test(test_many_tiny_and_empty_steps),
        cmocka_unit_test(test_empty_trace),
        cmocka_unit_test(test_sniff_without_extension),
        cmocka_unit_test(test_writer_rejects_bad_pieces),
        cmocka_unit_test(test_stored_or_compressed),
        cmocka_unit_test(test_weight_planes),
        cmocka_unit_test(test_skip_weights_other_formats),
        cmocka_unit_test(test_crafted_valid),
        cmocka_unit_test(test_bad_sequence_and_values),
        cmocka_unit_test(test_bad_headers),
        cmocka_unit_test(test_corruption_and_truncation),
        cmocka_unit_test(test_not_regular_file),
        cmocka_unit_test(test_small_mpt_matches_generator),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
