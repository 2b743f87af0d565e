/* mpt_chunk.c - one .mpt chunk: its fixed header, and its payload compressed and decompressed. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "traces/mp__mpt.h"

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

void mpt_chunk_head_encode(const mpt_chunk_head *h, unsigned char *out)
{
    memcpy(out, MPT_CHUNK_TAG, 4);
    mpt_put32(out + 4, h->flags);
    mpt_put64(out + 8, (uint64_t)h->step);
    mpt_put64(out + 16, (uint64_t)h->first_token);
    mpt_put32(out + 24, (uint32_t)h->tokens);
    mpt_put32(out + 28, h->raw_size);
    mpt_put32(out + 32, h->stored_size);
    mpt_put32(out + 36, h->crc);
    mpt_put32(out + 40, 0);
    mpt_put32(out + 44, mpt_crc32(0, out, 44));
}

int mpt_chunk_head_decode(const unsigned char *in, mpt_chunk_head *h)
{
    if (memcmp(in, MPT_CHUNK_TAG, 4) != 0 || MPT_CRC_BAD(mpt_get32(in + 44), mpt_crc32(0, in, 44))) return 1;
    h->flags = mpt_get32(in + 4);
    h->step = (int64_t)mpt_get64(in + 8);
    h->first_token = (int64_t)mpt_get64(in + 16);
    h->tokens = mpt_get32(in + 24);
    h->raw_size = mpt_get32(in + 28);
    h->stored_size = mpt_get32(in + 32);
    h->crc = mpt_get32(in + 36);
    if ((h->flags & ~MPT_FLAGS_KNOWN) || mpt_get32(in + 40) != 0) return 2;
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
    e->weights = s->has_weights ? malloc(n * sizeof(float)) : NULL;
    e->src = s->has_src ? malloc((cap_tokens ? (size_t)cap_tokens : 1) * sizeof(int32_t)) : NULL;
    e->out_cap = MPT_CHUNK_HEADER_BYTES + (size_t)compressBound((uLong)raw) + 64;
    e->out = malloc(e->out_cap);
    if (!e->ids || (s->has_weights && !e->weights) || (s->has_src && !e->src) || !e->out) {
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
    free(e->weights);
    free(e->src);
    free(e->out);
    memset(e, 0, sizeof *e);
}

#define PROBE_BYTES 65536
#define PROBE_MIN_RAW (4 * PROBE_BYTES)

/* 1 when deflate at `level` makes the first PROBE_BYTES of p[0..n) at least 3% smaller. */
static int probe_compresses(const unsigned char *p, size_t n, int level)
{
    unsigned char out[PROBE_BYTES];
    size_t m = n < PROBE_BYTES ? n : PROBE_BYTES;
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit(&z, level) != Z_OK) return 1; /* let the full attempt decide */
    z.next_in = (unsigned char *)p;
    z.avail_in = (uInt)m;
    z.next_out = out;
    z.avail_out = (uInt)(m - m / 32);
    int zr = deflate(&z, Z_FINISH);
    deflateEnd(&z);
    return zr == Z_STREAM_END;
}

int mpt_enc_finish(mpt_enc *e, const mpt_shape *s, int level)
{
    size_t a = (size_t)(e->tokens * s->layers * s->top_k);
    const unsigned char *part[3] = {e->ids, (const unsigned char *)e->weights, (const unsigned char *)e->src};
    size_t len[3] = {a * (size_t)s->id_bytes, s->has_weights ? a * 4 : 0, s->has_src ? (size_t)e->tokens * 4 : 0};
    if (!host_is_le()) {
        if (s->id_bytes == 2) swap_bytes(e->ids, a, 2);
        if (s->has_weights) swap_bytes(e->weights, a, 4);
        if (s->has_src) swap_bytes(e->src, (size_t)e->tokens, 4);
    }
    size_t raw = len[0] + len[1] + len[2];
    unsigned char *pay = e->out + MPT_CHUNK_HEADER_BYTES;
    size_t room = e->out_cap - MPT_CHUNK_HEADER_BYTES;
    size_t stored = raw; /* compressed size, or raw when stored */
    int is_stored = 1;
    /* a large chunk none of whose arrays starts compressibly is stored without
     * trying (the ids of a model with many experts, in token order, seldom
     * compress); the decision depends on the bytes only, never on threads */
    int worth = raw > 0;
    if (raw >= PROBE_MIN_RAW) {
        worth = 0;
        for (int i = 0; i < 3 && !worth; i++) worth = len[i] > 0 && probe_compresses(part[i], len[i], level);
    }
    if (worth) {
        z_stream z;
        memset(&z, 0, sizeof z);
        if (deflateInit(&z, level) != Z_OK) return MP_ENOMEM;
        z.next_out = pay;
        z.avail_out = (uInt)(raw - 1 < room ? raw - 1 : room); /* pays only when smaller */
        int zr = Z_OK;
        for (int i = 0; i < 3 && zr == Z_OK; i++) {
            z.next_in = (unsigned char *)part[i];
            z.avail_in = (uInt)len[i];
            while (zr == Z_OK && (z.avail_in > 0 || i == 2)) {
                zr = deflate(&z, i == 2 ? Z_FINISH : Z_NO_FLUSH);
                if (zr == Z_BUF_ERROR || (zr == Z_OK && z.avail_out == 0)) zr = Z_BUF_ERROR;
            }
        }
        if (zr == Z_STREAM_END) {
            stored = z.total_out;
            is_stored = 0;
        }
        deflateEnd(&z);
    }
    uint32_t crc;
    if (is_stored) {
        size_t o = 0;
        for (int i = 0; i < 3; i++) {
            if (len[i]) memcpy(pay + o, part[i], len[i]);
            o += len[i];
        }
    }
    crc = mpt_crc32(0, pay, (uInt)stored);
    mpt_chunk_head h = {(e->end_of_step ? MPT_FLAG_END_OF_STEP : 0) | (is_stored ? MPT_FLAG_STORED : 0),
                        e->step,
                        e->first_token,
                        e->tokens,
                        (uint32_t)raw,
                        (uint32_t)stored,
                        crc};
    mpt_chunk_head_encode(&h, e->out);
    e->out_len = MPT_CHUNK_HEADER_BYTES + stored;
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

int mpt_dec_run(mpt_dec *d, const mpt_shape *s, const char *path)
{
    mp_err_clear(&d->err);
    const mpt_chunk_head *h = &d->head;
    int stored = (h->flags & MPT_FLAG_STORED) != 0;
    if (!stored) { /* compressed: read whole and check before inflating; stored: check while reading */
        if (h->stored_size > d->payload_cap) {
            unsigned char *b = realloc(d->payload, h->stored_size);
            if (!b)
                return mp_err_set(&d->err, MP_ENOMEM, "%s: out of memory for a chunk of %u bytes", path,
                                  (unsigned)h->stored_size);
            d->payload = b;
            d->payload_cap = h->stored_size;
        }
        if (pread_all(d->fd, d->offset + MPT_CHUNK_HEADER_BYTES, d->payload, h->stored_size))
            return mp_err_set(&d->err, MP_EIO, "%s: offset %lld: chunk %lld: cannot read the payload (did the file change?)",
                              path, (long long)(d->offset + MPT_CHUNK_HEADER_BYTES), (long long)d->index);
        uint32_t crc = mpt_crc32(0, d->payload, h->stored_size);
        if (MPT_CRC_BAD(h->crc, crc))
            return mp_err_set(&d->err, MP_ECRC, "%s: offset %lld: chunk %lld: CRC mismatch (stored %08x, computed %08x)",
                              path, (long long)d->offset, (long long)d->index, (unsigned)h->crc, (unsigned)crc);
    }
    mp_step *p = &d->piece;
    int rc = mp_step_reserve(p, h->tokens, s->layers, s->top_k, s->has_weights, s->has_src, &d->err);
    if (rc) return rc;
    p->step = h->step;
    p->first_token = h->first_token;
    p->end_of_step = (h->flags & MPT_FLAG_END_OF_STEP) != 0;
    size_t a = (size_t)mp_step_assignments(p);

    z_stream z;
    memset(&z, 0, sizeof z);
    src_state st = {NULL, d->fd, d->offset + MPT_CHUNK_HEADER_BYTES, 0};
    if (!stored) {
        if (inflateInit(&z) != Z_OK) return mp_err_set(&d->err, MP_ENOMEM, "%s: out of memory", path);
        z.next_in = d->payload;
        z.avail_in = h->stored_size;
        st.z = &z;
    }
    unsigned maxid = 0;
    int r;
    if (s->id_bytes == 1) {
        r = widen_ids(&st, p->ids, a, &maxid);
    } else {
        r = take(&st, (unsigned char *)p->ids, a * 2);
        if (!r && !host_is_le()) swap_bytes(p->ids, a, 2);
        if (!r) maxid = mpt_max_id(p->ids, a);
    }
    if (!r && s->has_weights) {
        r = take(&st, (unsigned char *)p->weights, a * 4);
        if (!r && !host_is_le()) swap_bytes(p->weights, a, 4);
    }
    if (!r && s->has_src) {
        r = take(&st, (unsigned char *)p->src_rank, (size_t)h->tokens * 4);
        if (!r && !host_is_le()) swap_bytes(p->src_rank, (size_t)h->tokens, 4);
    }
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
            rc = mp_err_set(&d->err, MP_EFORMAT, "%s: offset %lld: chunk %lld: bad zlib stream (%s)", path,
                            (long long)(d->offset + MPT_CHUNK_HEADER_BYTES), (long long)d->index, zmsg(&z));
        else if (r)
            rc = mp_err_set(&d->err, MP_EFORMAT, "%s: offset %lld: chunk %lld: payload inflates to %s the %u bytes the header says",
                            path, (long long)(d->offset + MPT_CHUNK_HEADER_BYTES), (long long)d->index,
                            r == 1 ? "fewer than" : r == 2 ? "more than" : "data after", (unsigned)h->raw_size);
        inflateEnd(&z);
        if (rc) return rc;
    }
    if (r == 4)
        return mp_err_set(&d->err, MP_EIO, "%s: offset %lld: chunk %lld: cannot read the payload (did the file change?)",
                          path, (long long)(d->offset + MPT_CHUNK_HEADER_BYTES), (long long)d->index);
    if (stored && MPT_CRC_BAD(h->crc, (uint32_t)st.crc))
        return mp_err_set(&d->err, MP_ECRC, "%s: offset %lld: chunk %lld: CRC mismatch (stored %08x, computed %08x)",
                          path, (long long)d->offset, (long long)d->index, (unsigned)h->crc, (unsigned)st.crc);
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
    if (s->has_weights) {
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
    mp_step_release(&d->piece);
    memset(d, 0, sizeof *d);
}
