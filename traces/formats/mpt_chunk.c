/* mpt_chunk.c - one .mpt chunk: its fixed header, and its payload compressed and decompressed. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "traces/formats/mp__mpt.h"

#define WIDEN_BLOCK 65536 /* 1-byte ids are inflated through a block this size */

static int host_is_le(void)
{
    const uint16_t one = 1;
    unsigned char b;
    memcpy(&b, &one, 1);
    return b == 1;
}

/* Reverses the bytes of n elements of `size` bytes (big-endian hosts only). */
static void swap_bytes(void *p, size_t n, size_t size)
{
    unsigned char *b = p;
    for (size_t i = 0; i < n; i++, b += size)
        for (size_t j = 0; j < size / 2; j++) {
            unsigned char t = b[j];
            b[j] = b[size - 1 - j];
            b[size - 1 - j] = t;
        }
}

int64_t mpt_raw_size(const mpt_shape *s, int64_t tokens)
{
    if (tokens < 0) return -1;
    int64_t per_token = (int64_t)s->layers * s->top_k;
    if (per_token < 1 || tokens > MPT_CHUNK_ASSIGN_MAX / per_token) return -1;
    int64_t a = tokens * per_token;
    return a * s->id_bytes + (s->has_weights ? a * 4 : 0) + (s->has_src ? tokens * 4 : 0);
}

int64_t mpt_stream_raw(const mpt_shape *s, int64_t tokens, int i)
{
    int64_t a = tokens * s->layers * s->top_k;
    if (i == MPT_S_IDS) return a * s->id_bytes;
    if (i == MPT_S_RANKS) return s->has_src ? tokens * 4 : 0;
    return s->has_weights ? a : 0;
}

void mpt_chunk_head_encode(const mpt_chunk_head *h, unsigned char *out)
{
    memcpy(out, MPT_CHUNK_TAG, 4);
    mpt_put32(out + 4, h->flags);
    mpt_put64(out + 8, (uint64_t)h->step);
    mpt_put64(out + 16, (uint64_t)h->first_token);
    mpt_put32(out + 24, (uint32_t)h->tokens);
    mpt_put32(out + 28, 0);
    for (int i = 0; i < MPT_STREAMS; i++) {
        unsigned char *d = out + 32 + 16 * i;
        mpt_put32(d, h->s[i].method);
        mpt_put32(d + 4, h->s[i].raw);
        mpt_put32(d + 8, h->s[i].size);
        mpt_put32(d + 12, h->s[i].crc);
    }
    mpt_put32(out + 128, 0);
    mpt_put32(out + 132, mpt_crc32(0, out, 132));
}

int mpt_chunk_head_decode(const unsigned char *in, mpt_chunk_head *h)
{
    if (memcmp(in, MPT_CHUNK_TAG, 4) != 0 || MPT_CRC_BAD(mpt_get32(in + 132), mpt_crc32(0, in, 132))) return 1;
    h->flags = mpt_get32(in + 4);
    h->step = (int64_t)mpt_get64(in + 8);
    h->first_token = (int64_t)mpt_get64(in + 16);
    h->tokens = mpt_get32(in + 24);
    for (int i = 0; i < MPT_STREAMS; i++) {
        const unsigned char *d = in + 32 + 16 * i;
        h->s[i].method = mpt_get32(d);
        h->s[i].raw = mpt_get32(d + 4);
        h->s[i].size = mpt_get32(d + 8);
        h->s[i].crc = mpt_get32(d + 12);
    }
    if (h->flags & ~MPT_FLAGS_KNOWN) return 2;
    if (mpt_get32(in + 28) != 0 || mpt_get32(in + 128) != 0) return 3;
    return 0;
}

/* ---- encoding ---- */

int mpt_enc_reserve(mpt_enc *e, const mpt_shape *s, int64_t cap_tokens, mp_err *err)
{
    int64_t raw = mpt_raw_size(s, cap_tokens);
    if (raw < 0) return mp_err_set(err, MP_ELIMIT, "mpt: chunk of %lld tokens is too large", (long long)cap_tokens);
    size_t a = (size_t)(cap_tokens * s->layers * s->top_k);
    size_t n = a ? a : 1;
    e->ids = malloc(n * (size_t)s->id_bytes);
    e->planes = s->has_weights ? malloc(n * 4) : NULL;
    e->src = s->has_src ? malloc((cap_tokens ? (size_t)cap_tokens : 1) * sizeof(int32_t)) : NULL;
    /* each stream may take up to compressBound of its raw size */
    e->out_cap = MPT_CHUNK_HEADER_BYTES + 64;
    for (int i = 0; i < MPT_STREAMS; i++) e->out_cap += (size_t)compressBound((uLong)mpt_stream_raw(s, cap_tokens, i));
    e->out = malloc(e->out_cap);
    if (!e->ids || (s->has_weights && !e->planes) || (s->has_src && !e->src) || !e->out) {
        mpt_enc_free(e);
        return mp_err_set(err, MP_ENOMEM, "mpt: out of memory for a chunk of %lld tokens", (long long)cap_tokens);
    }
    e->cap_tokens = cap_tokens;
    e->tokens = 0;
    return 0;
}

void mpt_enc_free(mpt_enc *e)
{
    if (!e) return;
    free(e->ids);
    free(e->planes);
    free(e->src);
    free(e->out);
    if (e->z) {
        deflateEnd(e->z);
        free(e->z);
    }
    memset(e, 0, sizeof *e);
}

#define PROBE_BYTES 65536
#define PROBE_MIN_RAW (4 * PROBE_BYTES)

/* Deflates p[0..n) into out[0..room) as one zlib stream; returns its size, or
 * 0 when it does not fit (deflate did not pay) or deflate failed. */
static size_t deflate_into(z_stream *z, const unsigned char *p, size_t n, unsigned char *out, size_t room)
{
    if (deflateReset(z) != Z_OK) return 0;
    z->next_in = (unsigned char *)p;
    z->avail_in = (uInt)n;
    z->next_out = out;
    z->avail_out = (uInt)room;
    int zr = deflate(z, Z_FINISH);
    return zr == Z_STREAM_END ? (size_t)z->total_out : 0;
}

/* Splits n float32 values into their four little-endian byte planes.  Four
 * restrict planes and fixed-length inner loops let GCC vectorise it at -O2. */
static void split4(unsigned char *restrict p0, unsigned char *restrict p1, unsigned char *restrict p2,
                   unsigned char *restrict p3, const float *restrict w, size_t n)
{
    size_t i = 0;
    for (; i + 64 <= n; i += 64)
        for (int j = 0; j < 64; j++) {
            uint32_t v;
            memcpy(&v, &w[i + j], 4);
            p0[i + j] = (unsigned char)v;
            p1[i + j] = (unsigned char)(v >> 8);
            p2[i + j] = (unsigned char)(v >> 16);
            p3[i + j] = (unsigned char)(v >> 24);
        }
    for (; i < n; i++) {
        uint32_t v;
        memcpy(&v, &w[i], 4);
        p0[i] = (unsigned char)v;
        p1[i] = (unsigned char)(v >> 8);
        p2[i] = (unsigned char)(v >> 16);
        p3[i] = (unsigned char)(v >> 24);
    }
}

/* The same into planes `stride` bytes apart. */
static void shuffle(unsigned char *planes, size_t stride, const float *w, size_t n)
{
    split4(planes, planes + stride, planes + 2 * stride, planes + 3 * stride, w, n);
}

void mpt_enc_put_weights(mpt_enc *e, const mpt_shape *s, size_t at, const float *w, size_t n)
{
    shuffle(e->planes + at, (size_t)(e->cap_tokens * s->layers * s->top_k), w, n);
}

int mpt_enc_finish(mpt_enc *e, const mpt_shape *s, int level)
{
    size_t a = (size_t)(e->tokens * s->layers * s->top_k), cap_a = (size_t)(e->cap_tokens * s->layers * s->top_k);
    if (!host_is_le()) {
        if (s->id_bytes == 2) swap_bytes(e->ids, a, 2);
        if (s->has_src) swap_bytes(e->src, (size_t)e->tokens, 4);
    }
    const unsigned char *part[MPT_STREAMS] = {e->ids, NULL, NULL, NULL, NULL, (const unsigned char *)e->src};
    for (int j = 0; j < 4; j++) part[MPT_S_PLANE0 + j] = e->planes ? e->planes + (size_t)j * cap_a : NULL;
    if (e->z && e->zlevel != level) {
        deflateEnd(e->z);
        free(e->z);
        e->z = NULL;
    }
    mpt_chunk_head h;
    memset(&h, 0, sizeof h);
    h.flags = e->end_of_step ? MPT_FLAG_END_OF_STEP : 0;
    h.step = e->step;
    h.first_token = e->first_token;
    h.tokens = e->tokens;
    size_t o = MPT_CHUNK_HEADER_BYTES;
    for (int i = 0; i < MPT_STREAMS; i++) {
        size_t n = (size_t)mpt_stream_raw(s, e->tokens, i);
        unsigned char *dst = e->out + o;
        size_t got = 0;
        /* a stream is deflated when it pays: a large one only when deflate
         * makes its first 64 KiB 1/32 smaller (the ids of a model with many
         * experts, and the low mantissa bytes of the weights, seldom
         * compress); the decision depends on the bytes only, never on threads */
        if (n > 0) {
            if (!e->z) {
                e->z = calloc(1, sizeof(z_stream));
                if (!e->z) return MP_ENOMEM;
                if (deflateInit(e->z, level) != Z_OK) {
                    free(e->z);
                    e->z = NULL;
                    return MP_ENOMEM;
                }
                e->zlevel = level;
            }
            size_t m = n < PROBE_BYTES ? n : PROBE_BYTES;
            int worth = n < PROBE_MIN_RAW || deflate_into(e->z, part[i], m, dst, m - m / 32) > 0;
            if (worth) got = deflate_into(e->z, part[i], n, dst, n - n / 32 - 1);
        }
        /* a stored stream is written from where it lies (no copy into out) */
        const unsigned char *src = got ? dst : part[i];
        mpt_stream *d = &h.s[i];
        d->method = got ? MPT_METHOD_ZLIB : MPT_METHOD_STORED;
        d->raw = (uint32_t)n;
        d->size = (uint32_t)(got ? got : n);
        d->crc = mpt_crc32(0, src, d->size);
        e->seg[i] = src;
        e->seg_len[i] = d->size;
        o += got;
    }
    mpt_chunk_head_encode(&h, e->out);
    return 0;
}

/* ---- decoding ---- */

/* Copies or inflates `n` payload bytes into dst; widen: dst holds uint16 ids made from bytes. */
typedef struct src_state {
    z_stream *z;  /* NULL for a stored payload, read from the file here */
    int fd;
    int64_t off;  /* stored: file offset of the next byte */
    uint32_t crc; /* stored: CRC-32 of the bytes taken so far */
} src_state;

/* Reads n bytes at off; returns 0, or 4 when the file ends early or fails. */
static int pread_all(int fd, int64_t off, unsigned char *dst, size_t n)
{
    while (n > 0) {
        ssize_t r = pread(fd, dst, n, (off_t)off);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return 4;
        dst += r;
        off += r;
        n -= (size_t)r;
    }
    return 0;
}

static int take(src_state *st, unsigned char *dst, size_t n)
{
    if (!st->z) {
        /* block by block, so that the CRC reads what the copy just wrote */
        for (size_t o = 0; o < n; o += WIDEN_BLOCK) {
            size_t m = n - o < WIDEN_BLOCK ? n - o : WIDEN_BLOCK;
            if (pread_all(st->fd, st->off, dst + o, m)) return 4;
            st->crc = mpt_crc32(st->crc, dst + o, (uInt)m);
            st->off += (int64_t)m;
        }
        return 0;
    }
    while (n > 0) {
        uInt step = n > (1u << 30) ? (1u << 30) : (uInt)n;
        st->z->next_out = dst;
        st->z->avail_out = step;
        int zr = inflate(st->z, Z_NO_FLUSH);
        size_t got = step - st->z->avail_out;
        dst += got;
        n -= got;
        if (n == 0) break;
        if (zr == Z_STREAM_END) return 1; /* too short */
        if (zr != Z_OK) return zr == Z_BUF_ERROR ? 1 : -1;
    }
    return 0;
}

/* Widens m one-byte ids to 16 bits; returns their maximum.  restrict and
 * fixed-length inner loops let GCC vectorise it at -O2. */
static unsigned widen(mp_expert_id *restrict o, const unsigned char *restrict b, size_t m)
{
    unsigned char bm = 0;
    size_t i = 0;
    for (; i + 64 <= m; i += 64)
        for (int j = 0; j < 64; j++) {
            o[i + j] = b[i + j];
            bm = b[i + j] > bm ? b[i + j] : bm;
        }
    for (; i < m; i++) {
        o[i] = b[i];
        bm = b[i] > bm ? b[i] : bm;
    }
    return bm;
}

unsigned mpt_max_id(const mp_expert_id *restrict v, size_t n)
{
    mp_expert_id m = 0;
    size_t i = 0;
    for (; i + 64 <= n; i += 64)
        for (int j = 0; j < 64; j++) m = v[i + j] > m ? v[i + j] : m;
    for (; i < n; i++) m = v[i] > m ? v[i] : m;
    return m;
}

int mpt_weights_bad(const float *restrict w, size_t n)
{
    int bad = 0;
    size_t i = 0;
    for (; i + 64 <= n; i += 64)
        for (int j = 0; j < 64; j++) bad |= !(w[i + j] >= 0.0f) | !(w[i + j] <= 3.402823466e38f);
    for (; i < n; i++) bad |= !(w[i] >= 0.0f) | !(w[i] <= 3.402823466e38f);
    return bad;
}

static int widen_ids(src_state *st, mp_expert_id *ids, size_t n, unsigned *maxid)
{
    unsigned char blk[WIDEN_BLOCK];
    unsigned mx = 0;
    for (size_t done = 0; done < n;) {
        size_t m = n - done < WIDEN_BLOCK ? n - done : WIDEN_BLOCK;
        int r = take(st, blk, m);
        if (r) return r;
        unsigned bm = widen(ids + done, blk, m);
        mx = bm > mx ? bm : mx;
        done += m;
    }
    *maxid = mx;
    return 0;
}

static const char *zmsg(const z_stream *z) { return z->msg ? z->msg : "the stream ends early"; }

static const char *const stream_name[MPT_STREAMS] = {"ids", "weights byte 0", "weights byte 1", "weights byte 2",
                                                     "weights byte 3", "source ranks"};

/* Grows *buf to n bytes; returns 0 or -1. */
static int grow(unsigned char **buf, size_t *cap, size_t n)
{
    if (n <= *cap) return 0;
    unsigned char *b = realloc(*buf, n);
    if (!b) return -1;
    *buf = b;
    *cap = n;
    return 0;
}

/* Decodes stream i (at file offset off) into dst: raw bytes, or with widen
 * 1-byte ids into 16-bit ones (dst is then mp_expert_id *, *maxid their
 * maximum).  Returns 0 or a negative code (in d->err). */
static int read_stream(mpt_dec *d, int i, int64_t off, void *dst, int widen_to, unsigned *maxid, const char *path)
{
    const mpt_stream *sd = &d->head.s[i];
    long long at = (long long)off, ci = (long long)d->index;
    z_stream z;
    memset(&z, 0, sizeof z);
    src_state st = {NULL, d->fd, off, 0};
    if (sd->method == MPT_METHOD_ZLIB) { /* read whole and check before inflating */
        if (grow(&d->payload, &d->payload_cap, sd->size))
            return mp_err_set(&d->err, MP_ENOMEM, "%s: out of memory for a stream of %u bytes", path, (unsigned)sd->size);
        if (pread_all(d->fd, off, d->payload, sd->size))
            return mp_err_set(&d->err, MP_EIO, "%s: offset %lld: chunk %lld: cannot read the %s (did the file change?)",
                              path, at, ci, stream_name[i]);
        uint32_t crc = mpt_crc32(0, d->payload, sd->size);
        if (MPT_CRC_BAD(sd->crc, crc))
            return mp_err_set(&d->err, MP_ECRC, "%s: offset %lld: chunk %lld: %s: CRC mismatch (stored %08x, computed %08x)",
                              path, at, ci, stream_name[i], (unsigned)sd->crc, (unsigned)crc);
        if (inflateInit(&z) != Z_OK) return mp_err_set(&d->err, MP_ENOMEM, "%s: out of memory", path);
        z.next_in = d->payload;
        z.avail_in = sd->size;
        st.z = &z;
    }
    int r;
    if (widen_to) {
        r = widen_ids(&st, dst, sd->raw, maxid);
    } else {
        r = take(&st, dst, sd->raw);
    }
    int rc = 0;
    if (st.z) {
        if (!r) {
            /* the stream must end exactly here, with no input left over */
            unsigned char extra;
            z.next_out = &extra;
            z.avail_out = 1;
            int zr = inflate(&z, Z_FINISH);
            if (z.avail_out == 0) r = 2;
            else if (zr != Z_STREAM_END) r = -1;
            else if (z.avail_in != 0) r = 3;
        }
        if (r < 0)
            rc = mp_err_set(&d->err, MP_EFORMAT, "%s: offset %lld: chunk %lld: %s: bad zlib stream (%s)", path, at, ci,
                            stream_name[i], zmsg(&z));
        else if (r)
            rc = mp_err_set(&d->err, MP_EFORMAT, "%s: offset %lld: chunk %lld: %s: stream inflates to %s the %u bytes the header says",
                            path, at, ci, stream_name[i],
                            r == 1 ? "fewer than" : r == 2 ? "more than" : "data after", (unsigned)sd->raw);
        inflateEnd(&z);
        return rc;
    }
    if (r)
        return mp_err_set(&d->err, MP_EIO, "%s: offset %lld: chunk %lld: cannot read the %s (did the file change?)", path,
                          at, ci, stream_name[i]);
    if (MPT_CRC_BAD(sd->crc, st.crc))
        return mp_err_set(&d->err, MP_ECRC, "%s: offset %lld: chunk %lld: %s: CRC mismatch (stored %08x, computed %08x)",
                          path, at, ci, stream_name[i], (unsigned)sd->crc, (unsigned)st.crc);
    return 0;
}

/* Joins four byte planes of n values into little-endian float32 values. */
static void unshuffle(float *restrict w, const unsigned char *restrict planes, size_t n)
{
    const unsigned char *p0 = planes, *p1 = planes + n, *p2 = planes + 2 * n, *p3 = planes + 3 * n;
    for (size_t i = 0; i < n; i++) {
        uint32_t v = (uint32_t)p0[i] | (uint32_t)p1[i] << 8 | (uint32_t)p2[i] << 16 | (uint32_t)p3[i] << 24;
        memcpy(&w[i], &v, 4);
    }
}

int mpt_dec_run(mpt_dec *d, const mpt_shape *s, const char *path)
{
    mp_err_clear(&d->err);
    const mpt_chunk_head *h = &d->head;
    mp_step *p = &d->piece;
    int want_w = s->has_weights && d->want_weights;
    int rc = mp_step_reserve(p, h->tokens, s->layers, s->top_k, want_w, s->has_src, &d->err);
    if (rc) return rc;
    p->step = h->step;
    p->first_token = h->first_token;
    p->end_of_step = (h->flags & MPT_FLAG_END_OF_STEP) != 0;
    size_t a = (size_t)mp_step_assignments(p);

    int64_t off[MPT_STREAMS];
    off[0] = d->offset + MPT_CHUNK_HEADER_BYTES;
    for (int i = 1; i < MPT_STREAMS; i++) off[i] = off[i - 1] + h->s[i - 1].size;
    unsigned maxid = 0;
    if (s->id_bytes == 1) {
        rc = read_stream(d, MPT_S_IDS, off[0], p->ids, 1, &maxid, path);
    } else {
        rc = read_stream(d, MPT_S_IDS, off[0], p->ids, 0, NULL, path);
        if (!rc && !host_is_le()) swap_bytes(p->ids, a, 2);
        if (!rc) maxid = mpt_max_id(p->ids, a);
    }
    if (rc) return rc;
    if (want_w) {
        if (grow(&d->planes, &d->planes_cap, 4 * a + 1))
            return mp_err_set(&d->err, MP_ENOMEM, "%s: out of memory for %zu gate weights", path, a);
        for (int j = 0; j < 4; j++)
            if ((rc = read_stream(d, MPT_S_PLANE0 + j, off[MPT_S_PLANE0 + j], d->planes + (size_t)j * a, 0, NULL, path)))
                return rc;
        unshuffle(p->weights, d->planes, a);
    }
    if (s->has_src) {
        if ((rc = read_stream(d, MPT_S_RANKS, off[MPT_S_RANKS], p->src_rank, 0, NULL, path))) return rc;
        if (!host_is_le()) swap_bytes(p->src_rank, (size_t)h->tokens, 4);
    }
    int64_t per_tok = (int64_t)s->layers * s->top_k;
    if ((int)maxid >= s->experts) {
        for (size_t i = 0; i < a; i++)
            if (p->ids[i] >= s->experts)
                return mp_err_set(&d->err, MP_ERANGE,
                                  "%s: offset %lld: chunk %lld: step %lld token %lld layer %lld: expert id %u >= experts %d",
                                  path, (long long)d->offset, (long long)d->index, (long long)p->step,
                                  (long long)(p->first_token + (int64_t)i / per_tok),
                                  (long long)((int64_t)i % per_tok / s->top_k), (unsigned)p->ids[i], s->experts);
    }
    if (want_w) {
        const float *w = p->weights;
        int bad = mpt_weights_bad(w, a);
        for (size_t i = 0; bad && i < a; i++)
            if (!(w[i] >= 0.0f && w[i] <= 3.402823466e38f))
                return mp_err_set(&d->err, MP_ERANGE,
                                  "%s: offset %lld: chunk %lld: step %lld token %lld layer %lld: gate weight %g is not a finite non-negative number",
                                  path, (long long)d->offset, (long long)d->index, (long long)p->step,
                                  (long long)(p->first_token + (int64_t)i / per_tok),
                                  (long long)((int64_t)i % per_tok / s->top_k), (double)w[i]);
    }
    if (s->has_src) {
        for (int64_t t = 0; t < h->tokens; t++)
            if (p->src_rank[t] < 0)
                return mp_err_set(&d->err, MP_ERANGE,
                                  "%s: offset %lld: chunk %lld: step %lld token %lld: negative source rank %d", path,
                                  (long long)d->offset, (long long)d->index, (long long)p->step,
                                  (long long)(p->first_token + t), (int)p->src_rank[t]);
    }
    return 0;
}

void mpt_dec_free(mpt_dec *d)
{
    if (!d) return;
    free(d->payload);
    free(d->planes);
    mp_step_release(&d->piece);
    memset(d, 0, sizeof *d);
}
