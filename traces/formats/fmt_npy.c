/*
 * fmt_npy.c - NumPy .npy top-k id arrays (what np.save of a torch topk_ids
 * tensor gives), with an optional matching gate-weights array.
 *
 * Read: shapes [T, K] (one layer), [L, T, K] or [T, L, K]; integer dtypes
 * int8..int64 and uint8..uint64, little-endian ('<', '|' or '='), C order;
 * header versions 1.0, 2.0 and 3.0.  Weights: float16, float32 or float64 of
 * the same shape.  Pieces are read straight from the file (one seek per layer
 * for [L, T, K]), so memory stays bounded whatever the array size.
 *
 * Write: ids as int32 [T, L, K] ([T, K] when L == 1), steps concatenated
 * along T; weights as float32 of the same shape to a second file.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "traces/formats/mp__fmtutil.h"
#include "traces/formats/mp__format.h"
#include "traces/mp_file.h"

#define NPY_HEADER_MAX (1 << 20) /* bytes of header dict accepted      */
#define NPY_DIM_MAX ((int64_t)1 << 40)
#define NPY_NDIM_MAX 8

typedef struct npy_hdr {
    char kind;      /* 'i', 'u' or 'f'                */
    int size;       /* bytes per element              */
    int ndim;
    int64_t dim[NPY_NDIM_MAX];
    int64_t data_off; /* first data byte               */
    int64_t elems;
} npy_hdr;

static int npy_sniff(const unsigned char *h, size_t n) { return n >= 6 && memcmp(h, "\x93NUMPY", 6) == 0; }

/* ---------------------------------------------------------------- header */

typedef struct dict_parser {
    const char *s;
    size_t n, i;
    int64_t base; /* file offset of s[0] */
    const char *path;
    mp_err *err;
} dict_parser;

static void dp_ws(dict_parser *p)
{
    while (p->i < p->n && (p->s[p->i] == ' ' || p->s[p->i] == '\t' || p->s[p->i] == '\n' || p->s[p->i] == '\r'))
        p->i++;
}

static int dp_fail(dict_parser *p, const char *what)
{
    return mp_err_set(p->err, MP_EFORMAT, "%s: offset %lld: npy header: %s", p->path, (long long)(p->base + p->i),
                      what);
}

static int dp_string(dict_parser *p, char *out, size_t cap)
{
    dp_ws(p);
    if (p->i >= p->n || (p->s[p->i] != '\'' && p->s[p->i] != '"')) return dp_fail(p, "expected a quoted string");
    char q = p->s[p->i++];
    size_t len = 0;
    while (p->i < p->n && p->s[p->i] != q) {
        if (len + 1 >= cap) return dp_fail(p, "string too long");
        out[len++] = p->s[p->i++];
    }
    if (p->i >= p->n) return dp_fail(p, "unterminated string");
    p->i++;
    out[len] = '\0';
    return 0;
}

static int dp_expect(dict_parser *p, char c, const char *what)
{
    dp_ws(p);
    if (p->i >= p->n || p->s[p->i] != c) return dp_fail(p, what);
    p->i++;
    return 0;
}

static int dp_bool(dict_parser *p, int *out)
{
    dp_ws(p);
    if (p->n - p->i >= 4 && memcmp(p->s + p->i, "True", 4) == 0) {
        p->i += 4;
        *out = 1;
        return 0;
    }
    if (p->n - p->i >= 5 && memcmp(p->s + p->i, "False", 5) == 0) {
        p->i += 5;
        *out = 0;
        return 0;
    }
    return dp_fail(p, "expected True or False");
}

static int dp_shape(dict_parser *p, npy_hdr *h)
{
    int rc = dp_expect(p, '(', "shape is not a tuple");
    if (rc) return rc;
    h->ndim = 0;
    for (;;) {
        dp_ws(p);
        if (p->i < p->n && p->s[p->i] == ')') {
            p->i++;
            return 0;
        }
        if (p->i >= p->n || p->s[p->i] < '0' || p->s[p->i] > '9') return dp_fail(p, "shape holds a non-integer");
        int64_t v = 0;
        while (p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9') {
            v = v * 10 + (p->s[p->i++] - '0');
            if (v > NPY_DIM_MAX) return mp_err_set(p->err, MP_ELIMIT, "%s: offset %lld: npy header: dimension too large",
                                                  p->path, (long long)(p->base + p->i));
        }
        if (p->i < p->n && p->s[p->i] == 'L') p->i++; /* Python 2 long: (10L, 3L) */
        if (h->ndim >= NPY_NDIM_MAX) return dp_fail(p, "too many dimensions");
        h->dim[h->ndim++] = v;
        dp_ws(p);
        if (p->i < p->n && p->s[p->i] == ',') p->i++;
        else if (p->i >= p->n || p->s[p->i] != ')') return dp_fail(p, "bad shape tuple");
    }
}

/* Checks descr ("<i8") and fills kind and size. */
static int npy_descr(const char *d, npy_hdr *h, const char *path, int64_t off, mp_err *err)
{
    size_t n = strlen(d);
    if (n < 3 || n > 4 || !strchr("<>|=", d[0]) || !strchr("iuf", d[1]) || d[2] < '1' || d[2] > '9' ||
        (n == 4 && (d[3] < '0' || d[3] > '9')))
        return mp_err_set(err, MP_EUNSUPPORTED, "%s: offset %lld: unsupported dtype '%s' (want int8..int64, uint8..uint64)",
                          path, (long long)off, d);
    h->kind = d[1];
    h->size = atoi(d + 2);
    int ok = h->kind == 'f' ? (h->size == 2 || h->size == 4 || h->size == 8)
                            : (h->size == 1 || h->size == 2 || h->size == 4 || h->size == 8);
    if (!ok)
        return mp_err_set(err, MP_EUNSUPPORTED, "%s: offset %lld: unsupported dtype '%s'", path, (long long)off, d);
    if (d[0] == '>' && h->size > 1)
        return mp_err_set(err, MP_EUNSUPPORTED,
                          "%s: offset %lld: big-endian dtype '%s' is not supported (save it with .astype('<%c%d'))",
                          path, (long long)off, d, h->kind, h->size);
    return 0;
}

/* Reads and checks the header; positions nothing.  Checks the data size against the file size. */
static int npy_read_header(FILE *fp, const char *path, npy_hdr *h, mp_err *err)
{
    memset(h, 0, sizeof *h);
    unsigned char pre[12];
    size_t got = fread(pre, 1, sizeof pre, fp);
    if (got < 10 || memcmp(pre, "\x93NUMPY", 6) != 0) {
        if (got >= 6 && memcmp(pre, "\x93NUMPY", 6) == 0)
            return mp_err_set(err, MP_EFORMAT, "%s: offset %zu: truncated npy header", path, got);
        return mp_err_set(err, MP_EFORMAT, "%s: offset 0: not a NumPy .npy file (bad magic)", path);
    }
    int major = pre[6], minor = pre[7];
    int64_t hlen, start;
    if (major == 1) {
        hlen = pre[8] | (pre[9] << 8);
        start = 10;
    } else if (major == 2 || major == 3) {
        if (got < 12) return mp_err_set(err, MP_EFORMAT, "%s: offset %zu: truncated npy header", path, got);
        hlen = (int64_t)pre[8] | ((int64_t)pre[9] << 8) | ((int64_t)pre[10] << 16) | ((int64_t)pre[11] << 24);
        start = 12;
    } else {
        return mp_err_set(err, MP_EVERSION, "%s: offset 6: unsupported npy version %d.%d (know 1.0, 2.0, 3.0)", path,
                          major, minor);
    }
    if (hlen > NPY_HEADER_MAX)
        return mp_err_set(err, MP_ELIMIT, "%s: offset 8: npy header length %lld is absurd", path, (long long)hlen);
    char *text = malloc((size_t)hlen + 1);
    if (!text) return mp_err_set(err, MP_ENOMEM, "%s: out of memory", path);
    if (fseeko(fp, (off_t)start, SEEK_SET) != 0 || fread(text, 1, (size_t)hlen, fp) != (size_t)hlen) {
        free(text);
        return mp_err_set(err, MP_EFORMAT, "%s: offset %lld: truncated npy header (%lld bytes announced)", path,
                          (long long)start, (long long)hlen);
    }
    text[hlen] = '\0';
    dict_parser p = {text, (size_t)hlen, 0, start, path, err};
    char key[32], descr[32] = "";
    int have_descr = 0, have_fo = 0, have_shape = 0, fortran = 0, rc = dp_expect(&p, '{', "not a dict");
    int64_t descr_off = start;
    while (rc == 0) {
        dp_ws(&p);
        if (p.i < p.n && p.s[p.i] == '}') break;
        if ((rc = dp_string(&p, key, sizeof key)) != 0) break;
        if ((rc = dp_expect(&p, ':', "expected ':'")) != 0) break;
        if (strcmp(key, "descr") == 0) {
            dp_ws(&p);
            descr_off = start + (int64_t)p.i;
            if (p.i < p.n && p.s[p.i] == '[') {
                rc = mp_err_set(err, MP_EUNSUPPORTED, "%s: offset %lld: structured dtypes are not supported", path,
                                (long long)descr_off);
                break;
            }
            rc = dp_string(&p, descr, sizeof descr);
            have_descr = 1;
        } else if (strcmp(key, "fortran_order") == 0) {
            rc = dp_bool(&p, &fortran);
            have_fo = 1;
        } else if (strcmp(key, "shape") == 0) {
            rc = dp_shape(&p, h);
            have_shape = 1;
        } else {
            rc = dp_fail(&p, "unknown key");
        }
        if (rc) break;
        dp_ws(&p);
        if (p.i < p.n && p.s[p.i] == ',') p.i++;
        else if (p.i >= p.n || p.s[p.i] != '}') rc = dp_fail(&p, "expected ',' or '}'");
    }
    free(text);
    if (rc) return rc;
    if (!have_descr || !have_fo || !have_shape)
        return mp_err_set(err, MP_EFORMAT, "%s: offset %lld: npy header lacks '%s'", path, (long long)start,
                          !have_descr ? "descr" : !have_fo ? "fortran_order" : "shape");
    if ((rc = npy_descr(descr, h, path, descr_off, err)) != 0) return rc;
    if (fortran && h->ndim > 1)
        return mp_err_set(err, MP_EUNSUPPORTED,
                          "%s: offset %lld: Fortran-order arrays are not supported (save np.ascontiguousarray(a))",
                          path, (long long)start);
    h->data_off = start + hlen;
    int64_t elems = 1;
    for (int d = 0; d < h->ndim; d++) {
        if (h->dim[d] != 0 && elems > (INT64_MAX / 16) / h->dim[d])
            return mp_err_set(err, MP_ELIMIT, "%s: offset %lld: npy shape overflows", path, (long long)start);
        elems *= h->dim[d];
    }
    h->elems = elems;
    if (fseeko(fp, 0, SEEK_END) != 0) return mp_err_set(err, MP_EIO, "%s: cannot seek (not a regular file?)", path);
    int64_t fsize = (int64_t)ftello(fp);
    int64_t need = elems * h->size;
    if (fsize - h->data_off < need)
        return mp_err_set(err, MP_EFORMAT,
                          "%s: offset %lld: truncated: the shape needs %lld data bytes, the file has %lld", path,
                          (long long)h->data_off, (long long)need, (long long)(fsize - h->data_off));
    if (fsize - h->data_off > need)
        return mp_err_set(err, MP_EFORMAT, "%s: offset %lld: %lld bytes of trailing data after the array", path,
                          (long long)(h->data_off + need), (long long)(fsize - h->data_off - need));
    return 0;
}

static void shape_str(const npy_hdr *h, char *buf, size_t cap)
{
    size_t n = 0;
    buf[n++] = '(';
    for (int d = 0; d < h->ndim && n < cap; d++)
        n += (size_t)snprintf(buf + n, cap - n, d ? ", %lld" : "%lld", (long long)h->dim[d]);
    if (n < cap - 1) {
        buf[n++] = ')';
        buf[n] = '\0';
    } else {
        buf[cap - 1] = '\0';
    }
}

/* ---------------------------------------------------------------- reader */

typedef struct npy_reader {
    char *path, *wpath;
    FILE *fp, *wfp;
    npy_hdr h, wh;
    int ltk; /* 1: [L, T, K] */
    int32_t L, K, E;
    int64_t T, tps, step, in_step, done;
    unsigned char *buf;
    size_t bufcap;
} npy_reader;

/* One element as a signed value; returns 1 for a uint64 beyond INT64_MAX. */
static inline int get_int(const unsigned char *p, char kind, int size, int64_t *v)
{
    uint64_t u = 0;
    for (int b = 0; b < size; b++) u |= (uint64_t)p[b] << (8 * b);
    if (kind == 'i' && size < 8 && (u >> (8 * size - 1)) & 1) u |= ~(uint64_t)0 << (8 * size);
    if (kind == 'u' && size == 8 && u > (uint64_t)INT64_MAX) return 1;
    *v = (int64_t)u;
    return 0;
}

static float half_to_float(uint16_t h)
{
    int s = h >> 15, e = (h >> 10) & 31, m = h & 1023;
    float v;
    if (e == 0) v = ldexpf((float)m, -24);
    else if (e == 31) v = m ? NAN : INFINITY;
    else v = ldexpf((float)(m | 1024), e - 25);
    return s ? -v : v;
}

static inline double get_float(const unsigned char *p, int size)
{
    if (size == 2) return half_to_float((uint16_t)(p[0] | (p[1] << 8)));
    if (size == 4) {
        float f;
        memcpy(&f, p, 4);
        return f;
    }
    double d;
    memcpy(&d, p, 8);
    return d;
}

/* Which token, layer and choice element `idx` of the ids array holds. */
static void elem_where(const npy_reader *r, int64_t idx, int64_t *t, int32_t *l, int32_t *k)
{
    *k = (int32_t)(idx % r->K);
    int64_t row = idx / r->K;
    if (r->ltk) {
        *t = row % r->T;
        *l = (int32_t)(row / r->T);
    } else {
        *t = row / r->L;
        *l = (int32_t)(row % r->L);
    }
}

static int bad_id(const npy_reader *r, int64_t idx, int64_t v, int neg_or_big, mp_err *err)
{
    int64_t t;
    int32_t l, k;
    elem_where(r, idx, &t, &l, &k);
    long long off = (long long)(r->h.data_off + idx * r->h.size);
    if (neg_or_big == 2)
        return mp_err_set(err, MP_ERANGE, "%s: offset %lld: element %lld (token %lld, layer %d, choice %d): expert id too large",
                          r->path, off, (long long)idx, (long long)t, l, k);
    if (v < 0)
        return mp_err_set(err, MP_ERANGE, "%s: offset %lld: element %lld (token %lld, layer %d, choice %d): expert id %lld is negative",
                          r->path, off, (long long)idx, (long long)t, l, k, (long long)v);
    return mp_err_set(err, MP_ERANGE, "%s: offset %lld: element %lld (token %lld, layer %d, choice %d): expert id %lld >= experts %d",
                      r->path, off, (long long)idx, (long long)t, l, k, (long long)v, r->E);
}

static int grow(npy_reader *r, size_t bytes, mp_err *err)
{
    if (bytes <= r->bufcap) return 0;
    unsigned char *nb = realloc(r->buf, bytes);
    if (!nb) return mp_err_set(err, MP_ENOMEM, "%s: out of memory", r->path);
    r->buf = nb;
    r->bufcap = bytes;
    return 0;
}

static int read_at(FILE *fp, const char *path, int64_t off, void *dst, size_t bytes, mp_err *err)
{
    if (fseeko(fp, (off_t)off, SEEK_SET) != 0 || fread(dst, 1, bytes, fp) != bytes)
        return mp_err_set(err, MP_EIO, "%s: offset %lld: read failed (file changed while reading?)", path, (long long)off);
    return 0;
}

/* First pass: the largest id (checking for negatives) when E is not given. */
static int scan_max(npy_reader *r, int64_t *max_out, mp_err *err)
{
    const int64_t block = (int64_t)1 << 20;
    int64_t mx = -1;
    int rc = grow(r, (size_t)(block * r->h.size), err);
    for (int64_t i0 = 0; rc == 0 && i0 < r->h.elems; i0 += block) {
        int64_t n = r->h.elems - i0 < block ? r->h.elems - i0 : block;
        if ((rc = read_at(r->fp, r->path, r->h.data_off + i0 * r->h.size, r->buf, (size_t)(n * r->h.size), err)))
            break;
        for (int64_t i = 0; i < n; i++) {
            int64_t v = 0;
            int big = get_int(r->buf + i * r->h.size, r->h.kind, r->h.size, &v);
            if (big || v < 0) return bad_id(r, i0 + i, v, big ? 2 : 1, err);
            if (v > mx) mx = v;
        }
    }
    *max_out = mx;
    return rc;
}

static void npy_close(void *state)
{
    npy_reader *r = state;
    if (!r) return;
    if (r->fp) fclose(r->fp);
    if (r->wfp) fclose(r->wfp);
    free(r->buf);
    free(r->path);
    free(r->wpath);
    free(r);
}

static int npy_open(void **state, const char *path, const mp_read_opts *opts, mp_model *model, mp_trace_info *info,
                    mp_err *err)
{
    *state = NULL;
    npy_reader *r = calloc(1, sizeof *r);
    if (!r || !(r->path = strdup(path))) {
        free(r);
        return mp_err_set(err, MP_ENOMEM, "%s: out of memory", path);
    }
    *state = r;
    if (!(r->fp = fopen(path, "rb"))) return mp_err_set(err, MP_EIO, "%s: cannot open", path);
    int rc = npy_read_header(r->fp, path, &r->h, err);
    if (rc) return rc;
    char sh[128];
    shape_str(&r->h, sh, sizeof sh);
    if (r->h.kind == 'f')
        return mp_err_set(err, MP_EUNSUPPORTED, "%s: offset %lld: dtype is floating point; expert ids need an integer dtype",
                          path, (long long)r->h.data_off);
    const mp_model *hint = opts->model ? opts->model : opts->config; /* the array has no shape of its own */
    int32_t hl = hint && hint->layers > 0 ? hint->layers : 0;
    int64_t *d = r->h.dim;
    if (r->h.ndim == 2) {
        r->L = 1;
        r->T = d[0];
        r->K = (int32_t)(d[1] <= MP_TOPK_MAX ? d[1] : 0);
        r->ltk = 0;
    } else if (r->h.ndim == 3) {
        int ltk;
        if (opts->npy_layout == MP_NPY_LTK) ltk = 1;
        else if (opts->npy_layout == MP_NPY_TLK) ltk = 0;
        else if (hl && d[0] == hl && d[1] != hl) ltk = 1;
        else if (hl && d[1] == hl && d[0] != hl) ltk = 0;
        else if (hl && d[0] != hl && d[1] != hl)
            return mp_err_set(err, MP_ESHAPE, "%s: array %s has no axis of %d layers", path, sh, hl);
        else if (!hl && d[0] > MP_LAYERS_MAX && d[1] <= MP_LAYERS_MAX) ltk = 0;
        else if (!hl && d[1] > MP_LAYERS_MAX && d[0] <= MP_LAYERS_MAX) ltk = 1;
        else
            return mp_err_set(err, MP_ESHAPE, "%s: a 3-D array %s may be [L,T,K] or [T,L,K]: the layout must be given", path,
                              sh);
        r->ltk = ltk;
        int64_t l = ltk ? d[0] : d[1];
        r->T = ltk ? d[1] : d[0];
        r->K = (int32_t)(d[2] <= MP_TOPK_MAX ? d[2] : 0);
        if (l < 1 || l > MP_LAYERS_MAX)
            return mp_err_set(err, MP_ELIMIT, "%s: array %s: %lld layers (want 1..%d)", path, sh, (long long)l, MP_LAYERS_MAX);
        r->L = (int32_t)l;
    } else {
        return mp_err_set(err, MP_ESHAPE, "%s: array %s: want 2 dimensions [T,K] or 3 [L,T,K] / [T,L,K]", path, sh);
    }
    if (r->K < 1)
        return mp_err_set(err, MP_ESHAPE, "%s: array %s: the last axis (top-k) must be 1..%d", path, sh, MP_TOPK_MAX);
    /* T == 0 is an empty trace (what the writer gives for one) */

    /* weights */
    if (opts->weights_path) {
        if (!(r->wpath = strdup(opts->weights_path))) return mp_err_set(err, MP_ENOMEM, "%s: out of memory", path);
        if (!(r->wfp = fopen(r->wpath, "rb"))) return mp_err_set(err, MP_EIO, "%s: cannot open", r->wpath);
        if ((rc = npy_read_header(r->wfp, r->wpath, &r->wh, err))) return rc;
        if (r->wh.kind != 'f')
            return mp_err_set(err, MP_EUNSUPPORTED, "%s: gate weights need a float16 or float32 dtype", r->wpath);
        int same = r->wh.ndim == r->h.ndim;
        for (int i = 0; same && i < r->h.ndim; i++) same = r->wh.dim[i] == r->h.dim[i];
        if (!same) {
            char wsh[128];
            shape_str(&r->wh, wsh, sizeof wsh);
            return mp_err_set(err, MP_ESHAPE, "%s: weights shape %s differs from the ids shape %s", r->wpath, wsh, sh);
        }
    }

    mp_model m = mp_model_default();
    m.layers = r->L;
    m.top_k = r->K;
    if (hint && hint->experts > 0) {
        m.experts = hint->experts;
    } else {
        int64_t mx = -1;
        if ((rc = scan_max(r, &mx, err))) return rc;
        if (mx + 1 > MP_EXPERTS_MAX)
            return mp_err_set(err, MP_ERANGE, "%s: expert id %lld is beyond the largest supported (%d experts)", path,
                              (long long)mx, MP_EXPERTS_MAX);
        m.experts = (int32_t)(mx + 1);
        if (m.experts < m.top_k) m.experts = m.top_k;
    }
    if ((rc = mp__model_apply_hint(&m, hint, path, err))) return rc;
    r->E = m.experts;
    *model = m;
    r->tps = opts->tokens_per_step > 0 ? opts->tokens_per_step : r->T;
    info->steps = r->T > 0 ? (r->T + r->tps - 1) / r->tps : 0;
    info->tokens = r->T;
    info->assignments = r->h.elems;
    info->has_weights = r->wfp != NULL;
    info->has_src_rank = 0;
    info->raw_bytes = r->h.elems * (r->wfp ? 6 : 2);
    info->file_bytes = r->h.data_off + r->h.elems * r->h.size;
    return 0;
}

/* Converts n elements of the ids array starting at element idx0 into ids:
 * element j goes to dst[(j / G) * S + j % G]. */
static int convert_ids_slow(npy_reader *r, int64_t idx0, int64_t n, int64_t G, int64_t S, mp_expert_id *dst, mp_err *err)
{
    int size = r->h.size;
    char kind = r->h.kind;
    for (int64_t j = 0; j < n; j++) {
        int64_t v = 0;
        int big = get_int(r->buf + j * size, kind, size, &v);
        if (big || v < 0 || v >= r->E) return bad_id(r, idx0 + j, v, big ? 2 : 1, err);
        dst[(j / G) * S + j % G] = (mp_expert_id)v;
    }
    return 0;
}

/* Typed fast path (little-endian hosts): a value is bad when, widened to
 * uint64 (negatives become huge), it is >= E; a run holding a bad value is
 * converted again by the slow path, which names the element. */
#define CONVERT_TYPED(T)                                                  \
    do {                                                                  \
        const unsigned char *src = r->buf;                                \
        uint64_t bad = 0;                                                 \
        for (int64_t row = 0; row < n / G; row++, src += G * sizeof(T)) { \
            mp_expert_id *d = dst + row * S;                              \
            for (int64_t g = 0; g < G; g++) {                             \
                T v;                                                      \
                memcpy(&v, src + g * sizeof(T), sizeof v);                \
                uint64_t u = (uint64_t)(int64_t)v;                        \
                bad |= u >= E;                                            \
                d[g] = (mp_expert_id)u;                                   \
            }                                                             \
        }                                                                 \
        if (bad) return convert_ids_slow(r, idx0, n, G, S, dst, err);     \
        return 0;                                                         \
    } while (0)

static int convert_ids(npy_reader *r, int64_t idx0, int64_t n, int64_t G, int64_t S, mp_expert_id *dst, mp_err *err)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    const uint64_t E = (uint64_t)r->E;
    if (G == S) G = S = n; /* contiguous: one long run */
    switch (r->h.kind == 'u' ? r->h.size : -r->h.size) {
    case 1: CONVERT_TYPED(uint8_t);
    case 2: CONVERT_TYPED(uint16_t);
    case 4: CONVERT_TYPED(uint32_t);
    case -1: CONVERT_TYPED(int8_t);
    case -2: CONVERT_TYPED(int16_t);
    case -4: CONVERT_TYPED(int32_t);
    case -8: CONVERT_TYPED(int64_t);
    default: break; /* uint64: values above INT64_MAX need the slow path's care */
    }
#endif
    return convert_ids_slow(r, idx0, n, G, S, dst, err);
}

static int convert_weights(npy_reader *r, int64_t idx0, int64_t n, int64_t G, int64_t S, float *dst, mp_err *err)
{
    int size = r->wh.size;
    for (int64_t j = 0; j < n; j++) {
        double v = get_float(r->buf + j * size, size);
        if (!(v >= 0) || isinf(v)) {
            int64_t t;
            int32_t l, k;
            elem_where(r, idx0 + j, &t, &l, &k);
            char what[48];
            if (isnan(v)) snprintf(what, sizeof what, "is NaN");
            else snprintf(what, sizeof what, "%g is %s", v, isinf(v) ? "infinite" : "negative");
            return mp_err_set(err, MP_ERANGE, "%s: offset %lld: element %lld (token %lld, layer %d, choice %d): gate weight %s",
                              r->wpath, (long long)(r->wh.data_off + (idx0 + j) * size), (long long)(idx0 + j),
                              (long long)t, l, k, what);
        }
        dst[(j / G) * S + j % G] = (float)v;
    }
    return 0;
}

static int npy_next(void *state, mp_step *piece, mp_trace_info *info, mp_err *err)
{
    (void)info;
    npy_reader *r = state;
    if (r->done >= r->T) return 0;
    int64_t left = r->tps - r->in_step;
    if (r->T - r->done < left) left = r->T - r->done;
    int64_t n = mp__piece_tokens(r->L, r->K);
    if (n > left) n = left;
    int rc = mp_step_reserve(piece, n, r->L, r->K, r->wfp != NULL, 0, err);
    if (rc) return rc;
    piece->step = r->step;
    piece->first_token = r->in_step;
    piece->tokens = n;
    piece->end_of_step = n == left;
    int64_t LK = (int64_t)r->L * r->K;
    for (int pass = 0; pass < (r->wfp ? 2 : 1); pass++) {
        FILE *fp = pass ? r->wfp : r->fp;
        const char *path = pass ? r->wpath : r->path;
        const npy_hdr *h = pass ? &r->wh : &r->h;
        int nruns = r->ltk ? r->L : 1;
        int64_t run = r->ltk ? n * r->K : n * LK;
        if ((rc = grow(r, (size_t)(run * h->size), err))) return rc;
        for (int l = 0; l < nruns; l++) {
            int64_t idx0 = r->ltk ? ((int64_t)l * r->T + r->done) * r->K : r->done * LK;
            if ((rc = read_at(fp, path, h->data_off + idx0 * h->size, r->buf, (size_t)(run * h->size), err))) return rc;
            int64_t G = r->ltk ? r->K : LK, off = r->ltk ? (int64_t)l * r->K : 0;
            rc = pass ? convert_weights(r, idx0, run, G, LK, piece->weights + off, err)
                      : convert_ids(r, idx0, run, G, LK, piece->ids + off, err);
            if (rc) return rc;
        }
    }
    r->done += n;
    r->in_step += n;
    if (piece->end_of_step) {
        r->step++;
        r->in_step = 0;
    }
    return 1;
}

/* ---------------------------------------------------------------- writer */

#define NPY_OUT_HEADER 128 /* bytes: magic, version 1.0, length, padded dict */

typedef struct npy_writer {
    mp_ofile *of, *wof;
    int32_t L, K;
    int64_t T;
    unsigned char *buf;
    size_t bufcap;
} npy_writer;

static int write_header(FILE *fp, const char *descr, int64_t T, int32_t L, int32_t K)
{
    char dict[NPY_OUT_HEADER - 10 + 1];
    int n = L == 1 ? snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (%lld, %d), }", descr,
                              (long long)T, K)
                   : snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (%lld, %d, %d), }",
                              descr, (long long)T, L, K);
    if (n < 0 || n >= (int)sizeof dict - 1) return -1;
    memset(dict + n, ' ', sizeof dict - 1 - (size_t)n);
    dict[sizeof dict - 2] = '\n';
    unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (NPY_OUT_HEADER - 10) & 255, (NPY_OUT_HEADER - 10) >> 8};
    if (fwrite(pre, 1, 10, fp) != 10 || fwrite(dict, 1, NPY_OUT_HEADER - 10, fp) != NPY_OUT_HEADER - 10) return -1;
    return 0;
}

static void npyw_abort(void *state)
{
    npy_writer *w = state;
    if (!w) return;
    mp_ofile_abort(w->of);
    mp_ofile_abort(w->wof);
    free(w->buf);
    free(w);
}

static int npyw_open(void **state, const char *path, const mp_model *m, const mp_write_opts *opts, mp_err *err)
{
    *state = NULL;
    if (strcmp(path, "-") == 0 || (opts->weights_path && strcmp(opts->weights_path, "-") == 0))
        return mp_err_set(err, MP_EUNSUPPORTED, "%s: npy output must be a regular file", path);
    if (opts->weights_path && !opts->with_weights)
        return mp_err_set(err, MP_EUNSUPPORTED, "%s: no gate weights to write (the input has none)", opts->weights_path);
    npy_writer *w = calloc(1, sizeof *w);
    if (!w) return mp_err_set(err, MP_ENOMEM, "%s: out of memory", path);
    w->L = m->layers;
    w->K = m->top_k;
    int rc = mp_ofile_open(&w->of, path, err);
    if (rc == 0 && opts->weights_path) rc = mp_ofile_open(&w->wof, opts->weights_path, err);
    if (rc == 0 && write_header(mp_ofile_stream(w->of), "<i4", 0, w->L, w->K))
        rc = mp_err_set(err, MP_EIO, "%s: write failed", path);
    if (rc == 0 && w->wof && write_header(mp_ofile_stream(w->wof), "<f4", 0, w->L, w->K))
        rc = mp_err_set(err, MP_EIO, "%s: write failed", opts->weights_path);
    if (rc) {
        npyw_abort(w);
        return rc;
    }
    *state = w;
    return 0;
}

static int npyw_put(void *state, const mp_step *p, mp_err *err)
{
    npy_writer *w = state;
    int64_t n = mp_step_assignments(p);
    if ((size_t)n * 4 > w->bufcap) {
        unsigned char *nb = realloc(w->buf, (size_t)n * 4);
        if (!nb) return mp_err_set(err, MP_ENOMEM, "%s: out of memory", mp_ofile_path(w->of));
        w->buf = nb;
        w->bufcap = (size_t)n * 4;
    }
    for (int64_t i = 0; i < n; i++) {
        uint32_t v = p->ids[i];
        unsigned char *q = w->buf + 4 * i;
        q[0] = (unsigned char)v;
        q[1] = (unsigned char)(v >> 8);
        q[2] = q[3] = 0;
    }
    if (fwrite(w->buf, 4, (size_t)n, mp_ofile_stream(w->of)) != (size_t)n)
        return mp_err_set(err, MP_EIO, "%s: write failed", mp_ofile_path(w->of));
    if (w->wof) {
        if (!p->weights)
            return mp_err_set(err, MP_EINVAL, "%s: step %lld carries no gate weights", mp_ofile_path(w->wof),
                              (long long)p->step);
        for (int64_t i = 0; i < n; i++) {
            uint32_t u;
            memcpy(&u, &p->weights[i], 4);
            unsigned char *q = w->buf + 4 * i;
            q[0] = (unsigned char)u;
            q[1] = (unsigned char)(u >> 8);
            q[2] = (unsigned char)(u >> 16);
            q[3] = (unsigned char)(u >> 24);
        }
        if (fwrite(w->buf, 4, (size_t)n, mp_ofile_stream(w->wof)) != (size_t)n)
            return mp_err_set(err, MP_EIO, "%s: write failed", mp_ofile_path(w->wof));
    }
    w->T += p->tokens;
    return 0;
}

static int finish(mp_ofile *of, const char *descr, const npy_writer *w, mp_err *err)
{
    FILE *fp = mp_ofile_stream(of);
    if (fseeko(fp, 0, SEEK_SET) != 0 || write_header(fp, descr, w->T, w->L, w->K) != 0)
        return mp_err_set(err, MP_EIO, "%s: cannot rewrite the npy header", mp_ofile_path(of));
    return 0;
}

static int npyw_commit(void *state, mp_err *err)
{
    npy_writer *w = state;
    int rc = finish(w->of, "<i4", w, err);
    if (rc == 0 && w->wof) rc = finish(w->wof, "<f4", w, err);
    if (rc == 0 && w->wof) {
        rc = mp_ofile_commit(w->wof, err);
        w->wof = NULL;
    }
    if (rc == 0) {
        rc = mp_ofile_commit(w->of, err);
        w->of = NULL;
    }
    npyw_abort(w);
    return rc;
}

static const mp__reader_ops npy_reader_ops = {npy_open, npy_next, npy_close};
static const mp__writer_ops npy_writer_ops = {npyw_open, npyw_put, npyw_commit, npyw_abort};

const mp__format mp__format_npy = {MP_FMT_NPY, "npy", ".npy", &npy_reader_ops, &npy_writer_ops, npy_sniff, NULL, NULL};
