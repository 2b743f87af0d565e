/* fmt_mpt.c - the native .mpt container: header, streaming reader, writer, trailer.  Layout: man/mpt.5. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "traces/formats/mp__format.h"
#include "traces/formats/mp__mpt.h"
#include "traces/mp_file.h"
#include "traces/mp_text.h"

static int mpt_sniff(const unsigned char *h, size_t n) { return n >= 8 && memcmp(h, MPT_MAGIC, 8) == 0; }

/* Reads up to n bytes at off; returns the count read, or -1 on an I/O error. */
static int64_t read_at(int fd, int64_t off, void *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(fd, (char *)buf + got, n - got, (off_t)(off + (int64_t)got));
        if (r < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        if (r == 0) break;
        got += (size_t)r;
    }
    return (int64_t)got;
}

/* ================================================================ reader */

/* Where a front-to-back pass over the chunks stands, and what it has counted. */
typedef struct mpt_walk {
    int64_t pos;      /* offset of the next chunk header (or the trailer) */
    int64_t chunks, steps, tokens, assign, payload;
    int in_step;      /* the last chunk did not end its step */
    int64_t cur_step, next_token;
} mpt_walk;

typedef struct mpt_reader {
    char *path;
    int fd;
    int64_t size, data_start;
    mpt_shape shape;
    char *provenance;
    /* the index, from the footer and the trailer, checked against the chunk headers */
    int have_index;
    int64_t trailer_off;
    int64_t ix_chunks, ix_steps, ix_tokens, ix_assign, ix_payload;
    mpt_walk w; /* what the stream has shown so far */
    int skip_weights; /* leave gate weights out of chunks read from now on */
    int io_stop, io_rc;
    mp_err io_err;
    mpt_pool *pool;
    mpt_dec *slots;
    int nslots;
} mpt_reader;

static void reader_job(void *ctx, int slot)
{
    mpt_reader *r = ctx;
    mpt_dec_run(&r->slots[slot], &r->shape, r->path);
}

static void reader_close(void *state)
{
    mpt_reader *r = state;
    if (!r) return;
    mpt_pool_destroy(r->pool);
    for (int i = 0; r->slots && i < r->nslots; i++) mpt_dec_free(&r->slots[i]);
    free(r->slots);
    if (r->fd >= 0) close(r->fd);
    free(r->provenance);
    free(r->path);
    free(r);
}

/* Parses the JSON header into the model and the shape. */
static int parse_header(mpt_reader *r, const char *json, size_t len, mp_model *model, mp_err *err)
{
    const char *path = r->path;
    long long at = MPT_PREAMBLE_BYTES;
    long long nul = mp_json_nul_escape(json, len); /* a parser would cut the string there */
    if (nul >= 0)
        return mp_err_set(err, MP_EFORMAT, "%s: offset %lld: header string holds a NUL character (\\u0000)", path,
                          at + nul);
    cJSON *o = cJSON_ParseWithLength(json, len);
    int rc = 0;
    if (!o || !cJSON_IsObject(o)) {
        cJSON_Delete(o);
        return mp_err_set(err, MP_EFORMAT, "%s: offset %lld: header is not a JSON object", path, at);
    }
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(o, "model");
    const cJSON *ib = cJSON_GetObjectItemCaseSensitive(o, "id_bytes");
    const cJSON *gw = cJSON_GetObjectItemCaseSensitive(o, "gate_weights");
    const cJSON *sr = cJSON_GetObjectItemCaseSensitive(o, "source_ranks");
    const cJSON *pv = cJSON_GetObjectItemCaseSensitive(o, "provenance");
    const char *missing = !cJSON_IsObject(m) ? "model" : !cJSON_IsNumber(ib) ? "id_bytes"
                        : !cJSON_IsBool(gw) ? "gate_weights" : !cJSON_IsBool(sr) ? "source_ranks"
                        : (pv && !cJSON_IsObject(pv)) ? "provenance" : NULL;
    if (missing) {
        rc = mp_err_set(err, MP_EFORMAT, "%s: offset %lld: header lacks \"%s\" (or it has the wrong type)", path, at,
                        missing);
        goto out;
    }
    char *mtext = cJSON_PrintUnformatted(m);
    char what[300];
    snprintf(what, sizeof what, "%s: offset %lld", path, at);
    rc = mtext ? mp_model_from_json(model, mtext, strlen(mtext), what, err)
               : mp_err_set(err, MP_ENOMEM, "%s: out of memory", path);
    free(mtext);
    if (rc) goto out;
    if (ib->valuedouble != 1 && ib->valuedouble != 2) {
        rc = mp_err_set(err, MP_EFORMAT, "%s: offset %lld: id_bytes %g is neither 1 nor 2", path, at, ib->valuedouble);
        goto out;
    }
    r->shape.id_bytes = (int)ib->valuedouble;
    if (r->shape.id_bytes == 1 && model->experts > 256) {
        rc = mp_err_set(err, MP_EFORMAT, "%s: offset %lld: id_bytes 1 cannot hold %d experts", path, at,
                        model->experts);
        goto out;
    }
    r->shape.layers = model->layers;
    r->shape.top_k = model->top_k;
    r->shape.experts = model->experts;
    r->shape.has_weights = cJSON_IsTrue(gw);
    r->shape.has_src = cJSON_IsTrue(sr);
    r->provenance = pv ? cJSON_PrintUnformatted(pv) : strdup("{}");
    if (!r->provenance) rc = mp_err_set(err, MP_ENOMEM, "%s: out of memory", path);
out:
    cJSON_Delete(o);
    return rc;
}

/* Adds b to *a unless the sum would pass MPT_COUNT_MAX; returns 0, or -1. */
static int count_add(int64_t *a, int64_t b)
{
    if (b < 0 || b > MPT_COUNT_MAX - *a) return -1;
    *a += b;
    return 0;
}

/* Checks the chunk header hb (got bytes read at w->pos) against the shape,
 * the chunks before it (w) and the end of the chunk area (limit).  Returns 1
 * with *h and *total (its payload bytes) for a chunk, 0 when hb is the
 * trailer's tag, or a negative code. */
static int check_head(const mpt_reader *r, const mpt_walk *w, const unsigned char *hb, int64_t got, int64_t limit,
                      mpt_chunk_head *h, int64_t *total, mp_err *err)
{
    const char *path = r->path;
    long long at = (long long)w->pos, ci = (long long)w->chunks;
    if (got == 0) return mp_err_set(err, MP_EFORMAT, "%s: offset %lld: truncated file: the trailer is missing", path, at);
    if (got >= 4 && memcmp(hb, MPT_TRAILER_TAG, 4) == 0) return 0;
    if (got < 4)
        return mp_err_set(err, MP_EFORMAT, "%s: offset %lld: truncated in chunk %lld's header", path, at, ci);
    if (memcmp(hb, MPT_CHUNK_TAG, 4) != 0)
        return mp_err_set(err, MP_EFORMAT,
                          "%s: offset %lld: expected chunk %lld or the trailer, found bytes %02x %02x %02x %02x", path,
                          at, ci, hb[0], hb[1], hb[2], hb[3]);
    if (got < MPT_CHUNK_HEADER_BYTES || w->pos + MPT_CHUNK_HEADER_BYTES > limit)
        return mp_err_set(err, MP_EFORMAT, "%s: offset %lld: truncated in chunk %lld's header", path, at, ci);
    int hr = mpt_chunk_head_decode(hb, h);
    if (hr == 1) return mp_err_set(err, MP_ECRC, "%s: offset %lld: chunk %lld: header CRC mismatch", path, at, ci);
    if (hr == 2)
        return mp_err_set(err, MP_EFORMAT, "%s: offset %lld: chunk %lld: unknown flags %08x", path, at, ci,
                          (unsigned)h->flags);
    if (hr == 3)
        return mp_err_set(err, MP_EFORMAT, "%s: offset %lld: chunk %lld: a reserved field is not 0", path, at, ci);
    int64_t want_step = w->in_step ? w->cur_step : w->steps, want_tok = w->in_step ? w->next_token : 0;
    if (h->step != want_step || h->first_token != want_tok)
        return mp_err_set(err, MP_EFORMAT,
                          "%s: offset %lld: chunk %lld: piece (step %lld, token %lld) out of order, expected (%lld, %lld)",
                          path, at, ci, (long long)h->step, (long long)h->first_token, (long long)want_step,
                          (long long)want_tok);
    if (mpt_raw_size(&r->shape, h->tokens) < 0)
        return mp_err_set(err, MP_ELIMIT,
                          "%s: offset %lld: chunk %lld: %lld tokens x %d x %d exceed the %lld-assignment chunk limit",
                          path, at, ci, (long long)h->tokens, r->shape.layers, r->shape.top_k,
                          (long long)MPT_CHUNK_ASSIGN_MAX);
    int64_t sum = 0;
    for (int i = 0; i < MPT_STREAMS; i++) {
        const mpt_stream *sd = &h->s[i];
        int64_t want = mpt_stream_raw(&r->shape, h->tokens, i);
        if ((int64_t)sd->raw != want)
            return mp_err_set(err, MP_EFORMAT,
                              "%s: offset %lld: chunk %lld: stream %d holds %u raw bytes, %lld tokens need %lld", path,
                              at, ci, i, (unsigned)sd->raw, (long long)h->tokens, (long long)want);
        if (sd->method != MPT_METHOD_STORED && sd->method != MPT_METHOD_ZLIB)
            return mp_err_set(err, MP_EFORMAT, "%s: offset %lld: chunk %lld: stream %d: unknown method %u", path, at,
                              ci, i, (unsigned)sd->method);
        /* zlib inflates S bytes to at most MPT_ZLIB_RATIO_MAX x S */
        if (sd->method == MPT_METHOD_STORED ? sd->size != sd->raw
                                            : sd->raw == 0 || sd->size == 0 || sd->size > compressBound(sd->raw) ||
                                                  sd->raw > (uint64_t)MPT_ZLIB_RATIO_MAX * sd->size)
            return mp_err_set(err, MP_EFORMAT,
                              "%s: offset %lld: chunk %lld: stream %d: size %u is impossible for %u raw bytes", path,
                              at, ci, i, (unsigned)sd->size, (unsigned)sd->raw);
        sum += sd->size;
    }
    int64_t pay = w->pos + MPT_CHUNK_HEADER_BYTES;
    if (sum > limit - pay)
        return mp_err_set(err, MP_EFORMAT,
                          "%s: offset %lld: chunk %lld: truncated payload (%lld bytes announced, %lld left)", path,
                          (long long)pay, ci, (long long)sum, (long long)(limit - pay));
    *total = sum;
    return 1;
}

/* Counts the chunk h of `total` payload bytes that check_head accepted at w->pos. */
static int walk_take(const mpt_reader *r, mpt_walk *w, const mpt_chunk_head *h, int64_t total, mp_err *err)
{
    int64_t a = h->tokens * r->shape.layers * r->shape.top_k;
    if (count_add(&w->tokens, h->tokens) || count_add(&w->assign, a) ||
        count_add(&w->payload, mpt_raw_size(&r->shape, h->tokens)) || count_add(&w->chunks, 1) ||
        count_add(&w->steps, (h->flags & MPT_FLAG_END_OF_STEP) != 0))
        return mp_err_set(err, MP_ELIMIT, "%s: offset %lld: chunk %lld: the counts pass the %lld limit", r->path,
                          (long long)w->pos, (long long)w->chunks, (long long)MPT_COUNT_MAX);
    if (h->flags & MPT_FLAG_END_OF_STEP) {
        w->in_step = 0;
    } else {
        w->in_step = 1;
        w->cur_step = h->step;
        w->next_token = h->first_token + h->tokens;
    }
    w->pos += MPT_CHUNK_HEADER_BYTES + total;
    return 0;
}

/* Checks what a walk that reached the trailer (at w->pos) counted against the trailer's counts. */
static int walk_end(const mpt_reader *r, const mpt_walk *w, mp_err *err)
{
    const char *path = r->path;
    long long at = (long long)w->pos;
    if (w->pos != r->trailer_off)
        return mp_err_set(err, MP_EFORMAT, "%s: offset %lld: a trailer here, but the footer points to offset %lld",
                          path, at, (long long)r->trailer_off);
    if (w->in_step)
        return mp_err_set(err, MP_EFORMAT, "%s: offset %lld: step %lld never ends (no chunk has its end-of-step flag)",
                          path, at, (long long)w->cur_step);
    static const char *const what[5] = {"chunks", "steps", "tokens", "assignments", "payload bytes"};
    int64_t ix[5] = {r->ix_chunks, r->ix_steps, r->ix_tokens, r->ix_assign, r->ix_payload};
    int64_t seen[5] = {w->chunks, w->steps, w->tokens, w->assign, w->payload};
    for (int i = 0; i < 5; i++)
        if (ix[i] != seen[i])
            return mp_err_set(err, MP_EFORMAT, "%s: offset %lld: trailer says %lld %s, the chunks hold %lld", path, at,
                              (long long)ix[i], what[i], (long long)seen[i]);
    return 0;
}

/* Walks the chunk headers the trailer lists (reading no payload) and checks
 * that they follow each other from the end of the header to the trailer,
 * each where the trailer says, and that they hold the trailer's counts. */
static int verify_index(mpt_reader *r, mp_err *err)
{
    const char *path = r->path;
    mpt_walk w = {.pos = r->data_start};
    enum { BLOCK = 1024 };
    unsigned char ob[8 * BLOCK], hb[MPT_CHUNK_HEADER_BYTES];
    int64_t list = r->trailer_off + MPT_TRAILER_FIXED_BYTES;
    for (int64_t i = 0; i < r->ix_chunks; i++) {
        if (i % BLOCK == 0) {
            size_t n = (size_t)(r->ix_chunks - i < BLOCK ? r->ix_chunks - i : BLOCK);
            if (read_at(r->fd, list + 8 * i, ob, 8 * n) != (int64_t)(8 * n))
                return mp_err_set(err, MP_EIO, "%s: offset %lld: cannot read the trailer", path, (long long)(list + 8 * i));
        }
        uint64_t off = mpt_get64(ob + 8 * (i % BLOCK));
        if (off != (uint64_t)w.pos)
            return mp_err_set(err, MP_EFORMAT, "%s: offset %lld: the trailer puts chunk %lld at offset %llu, it is at %lld",
                              path, (long long)(list + 8 * i), (long long)i, (unsigned long long)off, (long long)w.pos);
        int64_t got = read_at(r->fd, w.pos, hb, sizeof hb), total = 0;
        if (got < 0)
            return mp_err_set(err, MP_EIO, "%s: offset %lld: read error: %s", path, (long long)w.pos, strerror(errno));
        mpt_chunk_head h;
        int rc = check_head(r, &w, hb, got, r->trailer_off, &h, &total, err);
        if (rc == 0)
            return mp_err_set(err, MP_EFORMAT, "%s: offset %lld: the trailer lists %lld chunks, the file holds %lld",
                              path, (long long)w.pos, (long long)r->ix_chunks, (long long)i);
        if (rc < 0 || (rc = walk_take(r, &w, &h, total, err)) != 0) return rc;
    }
    if (w.pos != r->trailer_off)
        return mp_err_set(err, MP_EFORMAT, "%s: offset %lld: chunk %lld is not in the trailer's %lld chunks", path,
                          (long long)w.pos, (long long)w.chunks, (long long)r->ix_chunks);
    return walk_end(r, &w, err);
}

/* Reads the footer and the trailer when they are there and checks them
 * against the chunk headers (verify_index).  A file without a footer
 * (truncated) is still streamed, to say where it ends. */
static int read_index(mpt_reader *r, mp_err *err)
{
    const char *path = r->path;
    unsigned char f[MPT_FOOTER_BYTES], t[MPT_TRAILER_FIXED_BYTES];
    int64_t foot = r->size - MPT_FOOTER_BYTES;
    if (foot < r->data_start + MPT_TRAILER_FIXED_BYTES) return 0;
    if (read_at(r->fd, foot, f, sizeof f) != (int64_t)sizeof f)
        return mp_err_set(err, MP_EIO, "%s: offset %lld: cannot read the footer", path, (long long)foot);
    if (memcmp(f + 12, MPT_FOOTER_TAG, 4) != 0) return 0;
    uint64_t toff = mpt_get64(f);
    if (toff < (uint64_t)r->data_start || toff > (uint64_t)(foot - MPT_TRAILER_FIXED_BYTES))
        return mp_err_set(err, MP_EFORMAT, "%s: offset %lld: footer points to offset %llu, outside the file", path,
                          (long long)foot, (unsigned long long)toff);
    r->trailer_off = (int64_t)toff;
    if (read_at(r->fd, r->trailer_off, t, sizeof t) != (int64_t)sizeof t)
        return mp_err_set(err, MP_EIO, "%s: offset %lld: cannot read the trailer", path, (long long)r->trailer_off);
    if (memcmp(t, MPT_TRAILER_TAG, 4) != 0 || mpt_get32(t + 4) != 0)
        return mp_err_set(err, MP_EFORMAT, "%s: offset %lld: the footer does not point to a trailer", path,
                          (long long)r->trailer_off);
    uint64_t chunks = mpt_get64(t + 8);
    uint64_t room = (uint64_t)(foot - r->trailer_off - MPT_TRAILER_FIXED_BYTES);
    if (chunks > room / 8 || chunks * 8 != room)
        return mp_err_set(err, MP_EFORMAT, "%s: offset %lld: trailer lists %llu chunks but has room for %llu offsets",
                          path, (long long)r->trailer_off, (unsigned long long)chunks, (unsigned long long)(room / 8));
    /* CRC over the whole trailer, read in blocks */
    uint32_t crc = 0;
    unsigned char buf[65536];
    for (int64_t o = r->trailer_off; o < foot;) {
        size_t n = foot - o < (int64_t)sizeof buf ? (size_t)(foot - o) : sizeof buf;
        if (read_at(r->fd, o, buf, n) != (int64_t)n)
            return mp_err_set(err, MP_EIO, "%s: offset %lld: cannot read the trailer", path, (long long)o);
        crc = mpt_crc32(crc, buf, n);
        o += (int64_t)n;
    }
    if (MPT_CRC_BAD(mpt_get32(f + 8), (uint32_t)crc))
        return mp_err_set(err, MP_ECRC, "%s: offset %lld: trailer CRC mismatch (stored %08x, computed %08x)", path,
                          (long long)r->trailer_off, (unsigned)mpt_get32(f + 8), (unsigned)crc);
    uint64_t v[5];
    for (int i = 0; i < 5; i++) v[i] = mpt_get64(t + 8 + 8 * i);
    static const char *const what[5] = {"chunks", "steps", "tokens", "assignments", "payload bytes"};
    for (int i = 1; i < 5; i++)
        if (v[i] > (uint64_t)MPT_COUNT_MAX)
            return mp_err_set(err, MP_ELIMIT, "%s: offset %lld: trailer claims %llu %s, more than the limit of %lld",
                              path, (long long)(r->trailer_off + 8 + 8 * i), (unsigned long long)v[i], what[i],
                              (long long)MPT_COUNT_MAX);
    uint64_t per_tok = (uint64_t)r->shape.layers * (uint64_t)r->shape.top_k;
    if (v[1] > v[0] || v[2] > (uint64_t)MPT_COUNT_MAX / per_tok || v[3] != v[2] * per_tok)
        return mp_err_set(err, MP_EFORMAT,
                          "%s: offset %lld: trailer counts do not fit together (%llu chunks, %llu steps, %llu tokens, "
                          "%llu assignments)",
                          path, (long long)r->trailer_off, (unsigned long long)v[0], (unsigned long long)v[1],
                          (unsigned long long)v[2], (unsigned long long)v[3]);
    r->ix_chunks = (int64_t)v[0];
    r->ix_steps = (int64_t)v[1];
    r->ix_tokens = (int64_t)v[2];
    r->ix_assign = (int64_t)v[3];
    r->ix_payload = (int64_t)v[4];
    int rc = verify_index(r, err);
    if (rc) return rc;
    r->have_index = 1;
    return 0;
}

/* Counts into info; every product is at most 10 x MPT_COUNT_MAX, far below INT64_MAX. */
static void fill_counts(const mpt_reader *r, mp_trace_info *info, int64_t steps, int64_t tokens, int64_t assign)
{
    info->steps = steps;
    info->tokens = tokens;
    info->assignments = assign;
    info->raw_bytes = assign * 2 + (r->shape.has_weights ? assign * 4 : 0) + (r->shape.has_src ? tokens * 4 : 0);
}

static int reader_open(void **state, const char *path, const mp_read_opts *opts, mp_model *model, mp_trace_info *info,
                       mp_err *err)
{
    *state = NULL;
    mpt_reader *r = calloc(1, sizeof *r);
    if (!r || !(r->path = strdup(path))) {
        free(r);
        return mp_err_set(err, MP_ENOMEM, "%s: out of memory", path);
    }
    r->fd = -1;
    *state = r;
    r->fd = open(path, O_RDONLY);
    if (r->fd < 0) return mp_err_set(err, MP_EIO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(r->fd, &st) != 0) return mp_err_set(err, MP_EIO, "%s: cannot stat: %s", path, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return mp_err_set(err, MP_EUNSUPPORTED, "%s: an .mpt trace must be a regular file, not a pipe or device", path);
    r->size = (int64_t)st.st_size;

    unsigned char pre[MPT_PREAMBLE_BYTES];
    int64_t got = read_at(r->fd, 0, pre, sizeof pre);
    if (got < 0) return mp_err_set(err, MP_EIO, "%s: read error: %s", path, strerror(errno));
    if (got == 0) return mp_err_set(err, MP_EFORMAT, "%s: offset 0: empty file, not an .mpt trace", path);
    if (got < 8 || memcmp(pre, MPT_MAGIC, 8) != 0) {
        if (got >= 4 && memcmp(pre + 1, "MPT", 3) == 0 && got < 8)
            return mp_err_set(err, MP_EFORMAT, "%s: offset %lld: truncated in the preamble", path, (long long)got);
        return mp_err_set(err, MP_EFORMAT, "%s: offset 0: not an .mpt file (bad magic)", path);
    }
    if (got < MPT_PREAMBLE_BYTES)
        return mp_err_set(err, MP_EFORMAT, "%s: offset %lld: truncated in the preamble", path, (long long)got);
    unsigned major = pre[8] | pre[9] << 8, minor = pre[10] | pre[11] << 8;
    if (major != MPT_VERSION_MAJOR)
        return mp_err_set(err, MP_EVERSION, "%s: offset 8: unsupported .mpt version %u.%u (this reader reads %d.x)",
                          path, major, minor, MPT_VERSION_MAJOR);
    uint32_t hlen = mpt_get32(pre + 12);
    if (hlen > MPT_HEADER_MAX)
        return mp_err_set(err, MP_ELIMIT, "%s: offset 12: header of %u bytes exceeds the %u-byte limit", path,
                          (unsigned)hlen, (unsigned)MPT_HEADER_MAX);
    if ((int64_t)MPT_PREAMBLE_BYTES + hlen + 4 > r->size)
        return mp_err_set(err, MP_EFORMAT, "%s: offset %lld: truncated in the header (%u bytes announced)", path,
                          (long long)r->size, (unsigned)hlen);
    char *hdr = malloc((size_t)hlen + 4);
    if (!hdr) return mp_err_set(err, MP_ENOMEM, "%s: out of memory", path);
    if (read_at(r->fd, MPT_PREAMBLE_BYTES, hdr, (size_t)hlen + 4) != (int64_t)hlen + 4) {
        free(hdr);
        return mp_err_set(err, MP_EIO, "%s: offset %d: cannot read the header", path, MPT_PREAMBLE_BYTES);
    }
    uint32_t stored = mpt_get32((unsigned char *)hdr + hlen), crc = mpt_crc32(0, (unsigned char *)hdr, hlen);
    int rc = 0;
    if (MPT_CRC_BAD(stored, crc))
        rc = mp_err_set(err, MP_ECRC, "%s: offset %d: header CRC mismatch (stored %08x, computed %08x)", path,
                        MPT_PREAMBLE_BYTES, (unsigned)stored, (unsigned)crc);
    else
        rc = parse_header(r, hdr, hlen, model, err);
    free(hdr);
    if (rc) return rc;
    r->data_start = r->w.pos = MPT_PREAMBLE_BYTES + (int64_t)hlen + 4;
    if ((rc = read_index(r, err)) != 0) return rc;

    info->file_bytes = r->size;
    info->has_weights = r->shape.has_weights;
    info->has_src_rank = r->shape.has_src;
    info->provenance = r->provenance;
    if (r->have_index) {
        fill_counts(r, info, r->ix_steps, r->ix_tokens, r->ix_assign);
    }

    int threads = opts && opts->threads > 1 ? opts->threads : 1;
    if (threads > 64) threads = 64;
    r->nslots = threads > 1 ? 2 * threads : 1;
    r->slots = calloc((size_t)r->nslots, sizeof *r->slots);
    if (!r->slots) return mp_err_set(err, MP_ENOMEM, "%s: out of memory", path);
    return mpt_pool_create(&r->pool, threads, r->nslots, reader_job, r, err);
}

/* Reads the next chunk's header into d and checks it (its payload is read by
 * the decoding job).  Returns 1 for a chunk, 0 at a valid trailer, or a
 * negative code. */
static int read_chunk(mpt_reader *r, mpt_dec *d, mp_err *err)
{
    const char *path = r->path;
    unsigned char hb[MPT_CHUNK_HEADER_BYTES];
    int64_t at = r->w.pos, total = 0;
    int64_t got = read_at(r->fd, at, hb, sizeof hb);
    if (got < 0) return mp_err_set(err, MP_EIO, "%s: offset %lld: read error: %s", path, (long long)at, strerror(errno));
    mpt_chunk_head h;
    int rc = check_head(r, &r->w, hb, got, r->have_index ? r->trailer_off : r->size, &h, &total, err);
    if (rc < 0) return rc;
    if (rc == 0) {
        if (!r->have_index)
            return mp_err_set(err, MP_EFORMAT,
                              "%s: offset %lld: trailer found but the footer at the end is missing or damaged", path,
                              (long long)(r->size - MPT_FOOTER_BYTES));
        return walk_end(r, &r->w, err);
    }
    if (r->have_index && r->w.chunks >= r->ix_chunks) /* verify_index rules it out; kept for a file changed under us */
        return mp_err_set(err, MP_EFORMAT, "%s: offset %lld: chunk %lld is not in the trailer's %lld chunks", path,
                          (long long)at, (long long)r->w.chunks, (long long)r->ix_chunks);
    d->head = h;
    d->fd = r->fd;
    d->index = r->w.chunks;
    d->offset = at;
    d->want_weights = !r->skip_weights;
    rc = walk_take(r, &r->w, &h, total, err);
    return rc ? rc : 1;
}

static int reader_next(void *state, mp_step *piece, mp_trace_info *info, mp_err *err)
{
    mpt_reader *r = state;
    while (!r->io_stop) {
        int slot = mpt_pool_free_slot(r->pool);
        if (slot < 0) break;
        int rc = read_chunk(r, &r->slots[slot], &r->io_err);
        if (rc == 1) {
            mpt_pool_submit(r->pool);
            continue;
        }
        r->io_stop = 1;
        r->io_rc = rc;
        int64_t end = r->w.pos + MPT_TRAILER_FIXED_BYTES + 8 * r->w.chunks + MPT_FOOTER_BYTES;
        if (rc == 0 && end != r->size)
            r->io_rc = mp_err_set(&r->io_err, MP_EFORMAT, "%s: offset %lld: the file does not end after the footer",
                                  r->path, (long long)end);
    }
    if (mpt_pool_pending(r->pool) > 0) {
        int slot = mpt_pool_wait_oldest(r->pool);
        mpt_dec *d = &r->slots[slot];
        if (d->err.code) {
            int code = d->err.code;
            if (err) *err = d->err;
            mpt_pool_release_oldest(r->pool);
            return code;
        }
        mp_step tmp = *piece;
        *piece = d->piece;
        d->piece = tmp;
        mpt_pool_release_oldest(r->pool);
        return 1;
    }
    if (r->io_rc) {
        if (err) *err = r->io_err;
        return r->io_rc;
    }
    fill_counts(r, info, r->w.steps, r->w.tokens, r->w.assign);
    return 0;
}

void mp__mpt_skip_weights(void *reader_state)
{
    mpt_reader *r = reader_state;
    if (r) r->skip_weights = 1;
}

static const mp__reader_ops mpt_reader_ops = {reader_open, reader_next, reader_close};

/* ================================================================ writer */

typedef struct mpt_writer {
    mp_ofile *of;
    FILE *fp;
    mpt_shape shape;
    int level;
    int64_t chunk_tokens;
    mpt_pool *pool;
    mpt_enc *slots;
    int *slot_rc;
    int nslots;
    int cur; /* slot being filled, or -1 */
    int64_t pos;
    int64_t chunks, steps, tokens, assign, payload;
    uint64_t *offsets;
    size_t offsets_cap;
} mpt_writer;

static void writer_job(void *ctx, int slot)
{
    mpt_writer *w = ctx;
    w->slot_rc[slot] = mpt_enc_finish(&w->slots[slot], &w->shape, w->level);
}

static void writer_free(mpt_writer *w)
{
    if (!w) return;
    mpt_pool_destroy(w->pool);
    for (int i = 0; w->slots && i < w->nslots; i++) mpt_enc_free(&w->slots[i]);
    free(w->slots);
    free(w->slot_rc);
    free(w->offsets);
    free(w);
}

static void writer_abort(void *state)
{
    mpt_writer *w = state;
    if (!w) return;
    mp_ofile_abort(w->of);
    writer_free(w);
}

static int write_bytes(mpt_writer *w, const void *p, size_t n, mp_err *err)
{
    if (n && fwrite(p, 1, n, w->fp) != n)
        return mp_err_set(err, MP_EIO, "%s: write error: %s", mp_ofile_path(w->of), strerror(errno));
    w->pos += (int64_t)n;
    return 0;
}

/* Builds the JSON header: fixed keys, then the provenance text verbatim. */
static char *header_json(const mp_model *m, const mpt_shape *s, int64_t chunk_assign, const char *prov)
{
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    char *mtext = mp_model_to_json(m);
    cJSON *mj = mtext ? cJSON_Parse(mtext) : NULL;
    free(mtext);
    if (!mj) {
        cJSON_Delete(o);
        return NULL;
    }
    cJSON_AddStringToObject(o, "format", "moeplace-trace");
    cJSON_AddItemToObject(o, "model", mj);
    cJSON_AddNumberToObject(o, "id_bytes", s->id_bytes);
    cJSON_AddBoolToObject(o, "gate_weights", s->has_weights);
    cJSON_AddBoolToObject(o, "source_ranks", s->has_src);
    cJSON_AddNumberToObject(o, "chunk_assignments", (double)chunk_assign);
    char *base = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!base) return NULL;
    size_t bl = strlen(base), pl = strlen(prov);
    char *out = malloc(bl + pl + 32);
    if (out) {
        memcpy(out, base, bl - 1); /* without the closing brace */
        snprintf(out + bl - 1, pl + 32, ",\"provenance\":%s}", prov);
    }
    free(base);
    return out;
}

static int writer_open(void **state, const char *path, const mp_model *m, const mp_write_opts *opts, mp_err *err)
{
    *state = NULL;
    const char *prov = opts->provenance ? opts->provenance : "{}";
    const char *end = NULL;
    cJSON *pj = cJSON_ParseWithOpts(prov, &end, 1);
    int ok = pj && cJSON_IsObject(pj);
    cJSON_Delete(pj);
    if (!ok) return mp_err_set(err, MP_EINVAL, "%s: provenance is not one JSON object", path);
    if (opts->level < 0 || opts->level > 9)
        return mp_err_set(err, MP_EINVAL, "%s: zlib level %d is not in 1..9", path, opts->level);
    mpt_writer *w = calloc(1, sizeof *w);
    if (!w) return mp_err_set(err, MP_ENOMEM, "%s: out of memory", path);
    w->cur = -1;
    w->shape.layers = m->layers;
    w->shape.top_k = m->top_k;
    w->shape.experts = m->experts;
    w->shape.id_bytes = m->experts <= 256 ? 1 : 2;
    w->shape.has_weights = opts->with_weights != 0;
    w->shape.has_src = opts->with_src_rank != 0;
    w->level = opts->level ? opts->level : MPT_LEVEL_DEFAULT;
    int64_t ca = opts->chunk_assignments > 0 ? opts->chunk_assignments : MPT_CHUNK_ASSIGN_DEFAULT;
    if (ca > MPT_CHUNK_ASSIGN_MAX) ca = MPT_CHUNK_ASSIGN_MAX;
    int64_t per_tok = (int64_t)m->layers * m->top_k;
    w->chunk_tokens = ca / per_tok > 0 ? ca / per_tok : 1;
    int threads = opts->threads > 1 ? opts->threads : 1;
    if (threads > 64) threads = 64;
    w->nslots = threads > 1 ? 2 * threads : 1;
    w->slots = calloc((size_t)w->nslots, sizeof *w->slots);
    w->slot_rc = calloc((size_t)w->nslots, sizeof *w->slot_rc);
    if (!w->slots || !w->slot_rc) {
        writer_free(w);
        return mp_err_set(err, MP_ENOMEM, "%s: out of memory", path);
    }
    int rc = mpt_pool_create(&w->pool, threads, w->nslots, writer_job, w, err);
    if (rc) {
        writer_free(w);
        return rc;
    }
    char *hj = header_json(m, &w->shape, w->chunk_tokens * per_tok, prov);
    if (!hj) {
        writer_free(w);
        return mp_err_set(err, MP_ENOMEM, "%s: out of memory", path);
    }
    size_t hl = strlen(hj);
    if (hl > MPT_HEADER_MAX) {
        free(hj);
        writer_free(w);
        return mp_err_set(err, MP_ELIMIT, "%s: header of %zu bytes exceeds the %u-byte limit (provenance too large)",
                          path, hl, (unsigned)MPT_HEADER_MAX);
    }
    if ((rc = mp_ofile_open(&w->of, path, err)) != 0) {
        free(hj);
        writer_free(w);
        return rc;
    }
    w->fp = mp_ofile_stream(w->of);
    unsigned char pre[MPT_PREAMBLE_BYTES], crc[4];
    memcpy(pre, MPT_MAGIC, 8);
    pre[8] = MPT_VERSION_MAJOR, pre[9] = 0, pre[10] = MPT_VERSION_MINOR, pre[11] = 0;
    mpt_put32(pre + 12, (uint32_t)hl);
    mpt_put32(crc, mpt_crc32(0, (const unsigned char *)hj, (uInt)hl));
    rc = write_bytes(w, pre, sizeof pre, err);
    if (!rc) rc = write_bytes(w, hj, hl, err);
    if (!rc) rc = write_bytes(w, crc, 4, err);
    free(hj);
    if (rc) {
        writer_abort(w);
        return rc;
    }
    *state = w;
    return 0;
}

/* Waits for the oldest chunk, writes it, and frees its slot. */
static int write_oldest(mpt_writer *w, mp_err *err)
{
    int slot = mpt_pool_wait_oldest(w->pool);
    mpt_enc *e = &w->slots[slot];
    int rc = w->slot_rc[slot];
    if (rc) return mp_err_set(err, rc, "%s: out of memory compressing a chunk", mp_ofile_path(w->of));
    if ((size_t)w->chunks >= w->offsets_cap) {
        size_t cap = w->offsets_cap ? 2 * w->offsets_cap : 256;
        uint64_t *o = realloc(w->offsets, cap * sizeof *o);
        if (!o) return mp_err_set(err, MP_ENOMEM, "%s: out of memory", mp_ofile_path(w->of));
        w->offsets = o;
        w->offsets_cap = cap;
    }
    w->offsets[w->chunks++] = (uint64_t)w->pos;
    w->tokens += e->tokens;
    w->assign += e->tokens * w->shape.layers * w->shape.top_k;
    w->payload += mpt_raw_size(&w->shape, e->tokens);
    w->steps += e->end_of_step != 0;
    rc = write_bytes(w, e->out, MPT_CHUNK_HEADER_BYTES, err);
    for (int i = 0; !rc && i < MPT_STREAMS; i++) rc = write_bytes(w, e->seg[i], e->seg_len[i], err);
    mpt_pool_release_oldest(w->pool);
    return rc;
}

/* Hands the chunk being filled to the pool. */
static void submit_cur(mpt_writer *w, int end_of_step)
{
    w->slots[w->cur].end_of_step = end_of_step;
    mpt_pool_submit(w->pool);
    w->cur = -1;
}

/* Makes a fresh chunk current for (step, first_token). */
static int start_chunk(mpt_writer *w, int64_t step, int64_t first_token, mp_err *err)
{
    int slot;
    while ((slot = mpt_pool_free_slot(w->pool)) < 0) {
        int rc = write_oldest(w, err);
        if (rc) return rc;
    }
    mpt_enc *e = &w->slots[slot];
    if (!e->ids) {
        int rc = mpt_enc_reserve(e, &w->shape, w->chunk_tokens, err);
        if (rc) return rc;
    }
    e->tokens = 0;
    e->step = step;
    e->first_token = first_token;
    e->end_of_step = 0;
    w->cur = slot;
    return 0;
}

static int check_piece(const mpt_writer *w, const mp_step *p, mp_err *err)
{
    const char *path = mp_ofile_path(w->of);
    if (p->layers != w->shape.layers || p->top_k != w->shape.top_k)
        return mp_err_set(err, MP_ESHAPE, "%s: step %lld has %d layers x %d choices, the model says %d x %d", path,
                          (long long)p->step, p->layers, p->top_k, w->shape.layers, w->shape.top_k);
    if (w->shape.has_weights && !p->weights)
        return mp_err_set(err, MP_EINVAL, "%s: step %lld carries no gate weights, the file promises them", path,
                          (long long)p->step);
    if (w->shape.has_src && !p->src_rank)
        return mp_err_set(err, MP_EINVAL, "%s: step %lld carries no source ranks, the file promises them", path,
                          (long long)p->step);
    int64_t a = mp_step_assignments(p), per_tok = (int64_t)p->layers * p->top_k;
    int clean = (int)mpt_max_id(p->ids, (size_t)a) < w->shape.experts &&
                !(w->shape.has_weights && mpt_weights_bad(p->weights, (size_t)a));
    for (int64_t i = 0; !clean && i < a; i++) { /* find the culprit */
        if (p->ids[i] >= w->shape.experts)
            return mp_err_set(err, MP_ERANGE, "%s: step %lld token %lld: expert id %u >= experts %d", path,
                              (long long)p->step, (long long)(p->first_token + i / per_tok), (unsigned)p->ids[i],
                              w->shape.experts);
        if (w->shape.has_weights && !(p->weights[i] >= 0.0f && p->weights[i] <= 3.402823466e38f))
            return mp_err_set(err, MP_ERANGE, "%s: step %lld token %lld: gate weight %g is not a finite non-negative number",
                              path, (long long)p->step, (long long)(p->first_token + i / per_tok),
                              (double)p->weights[i]);
    }
    for (int64_t t = 0; w->shape.has_src && t < p->tokens; t++)
        if (p->src_rank[t] < 0)
            return mp_err_set(err, MP_ERANGE, "%s: step %lld token %lld: negative source rank %d", path,
                              (long long)p->step, (long long)(p->first_token + t), (int)p->src_rank[t]);
    return 0;
}

/* Narrows n ids (all < 256) to bytes; restrict and fixed-length inner loops let GCC vectorise it at -O2. */
static void narrow(unsigned char *restrict o, const mp_expert_id *restrict s, size_t n)
{
    size_t i = 0;
    for (; i + 64 <= n; i += 64)
        for (int j = 0; j < 64; j++) o[i + j] = (unsigned char)s[i + j];
    for (; i < n; i++) o[i] = (unsigned char)s[i];
}

static int writer_put(void *state, const mp_step *p, mp_err *err)
{
    mpt_writer *w = state;
    int rc = check_piece(w, p, err);
    if (rc) return rc;
    int64_t per_tok = (int64_t)p->layers * p->top_k;
    for (int64_t done = 0; done < p->tokens;) {
        if (w->cur >= 0 && w->slots[w->cur].tokens == w->chunk_tokens) submit_cur(w, 0);
        if (w->cur < 0 && (rc = start_chunk(w, p->step, p->first_token + done, err)) != 0) return rc;
        mpt_enc *e = &w->slots[w->cur];
        int64_t n = w->chunk_tokens - e->tokens;
        if (n > p->tokens - done) n = p->tokens - done;
        size_t a = (size_t)(n * per_tok), at = (size_t)(e->tokens * per_tok), from = (size_t)(done * per_tok);
        if (w->shape.id_bytes == 1) {
            narrow(e->ids + at, p->ids + from, a);
        } else {
            memcpy(e->ids + 2 * at, p->ids + from, a * 2);
        }
        if (w->shape.has_weights) mpt_enc_put_weights(e, &w->shape, at, p->weights + from, a);
        if (w->shape.has_src) memcpy(e->src + e->tokens, p->src_rank + done, (size_t)n * sizeof(int32_t));
        e->tokens += n;
        done += n;
    }
    if (p->end_of_step) {
        if (w->cur < 0 && (rc = start_chunk(w, p->step, p->first_token, err)) != 0) return rc;
        submit_cur(w, 1);
    }
    return 0;
}

static int writer_commit(void *state, mp_err *err)
{
    mpt_writer *w = state;
    int rc = 0;
    if (w->cur >= 0) rc = mp_err_set(err, MP_EINVAL, "%s: the last step was not finished", mp_ofile_path(w->of));
    while (!rc && mpt_pool_pending(w->pool) > 0) rc = write_oldest(w, err);
    if (rc) {
        writer_abort(w);
        return rc;
    }
    /* trailer: fixed part, chunk offsets; then the footer */
    size_t tl = MPT_TRAILER_FIXED_BYTES + 8 * (size_t)w->chunks;
    unsigned char *t = malloc(tl);
    if (!t) {
        rc = mp_err_set(err, MP_ENOMEM, "%s: out of memory", mp_ofile_path(w->of));
        writer_abort(w);
        return rc;
    }
    memcpy(t, MPT_TRAILER_TAG, 4);
    mpt_put32(t + 4, 0);
    int64_t v[5] = {w->chunks, w->steps, w->tokens, w->assign, w->payload};
    for (int i = 0; i < 5; i++) mpt_put64(t + 8 + 8 * i, (uint64_t)v[i]);
    for (int64_t i = 0; i < w->chunks; i++) mpt_put64(t + MPT_TRAILER_FIXED_BYTES + 8 * i, w->offsets[i]);
    unsigned char f[MPT_FOOTER_BYTES];
    mpt_put64(f, (uint64_t)w->pos);
    mpt_put32(f + 8, mpt_crc32(0, t, (uInt)tl));
    memcpy(f + 12, MPT_FOOTER_TAG, 4);
    rc = write_bytes(w, t, tl, err);
    free(t);
    if (!rc) rc = write_bytes(w, f, sizeof f, err);
    if (rc) {
        writer_abort(w);
        return rc;
    }
    mp_ofile *of = w->of;
    w->of = NULL;
    writer_free(w);
    return mp_ofile_commit(of, err);
}

static const mp__writer_ops mpt_writer_ops = {writer_open, writer_put, writer_commit, writer_abort};

/* The reader checks ids < E itself (naming the chunk's offset); trace.c relies on that. */
const mp__format mp__format_mpt = {MP_FMT_MPT, "mpt", ".mpt", &mpt_reader_ops, &mpt_writer_ops, mpt_sniff, NULL, NULL};
