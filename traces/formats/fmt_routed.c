/*
 * fmt_routed.c - routed-experts API responses, JSON lines: a token-level
 * routing trace recorded from a running server.
 *
 * SGLang (PR #12162, `--enable-return-routed-experts`, request field
 * "return_routed_experts": true) puts into each /generate response
 *   meta_info.routed_experts: base64 of a little-endian int32 C-order array
 *   of shape [prompt_tokens + completion_tokens - 1, num_layers, top_k]
 * (python/sglang/srt/managers/tokenizer_manager.py; the last sampled token
 * was never forwarded).  The response does not say num_layers and top_k
 * apart: they come from the model given to the reader (layers or top-k),
 * else the row count prompt_tokens + completion_tokens - 1 of meta_info
 * gives their product only, which is not enough.
 * vLLM (PR #28284, `--enable-return-routed-experts`) puts into each
 * /v1/completions and /v1/chat/completions choice
 *   choices[i].routed_experts: base64 of a .npy file (numpy's own format,
 *   shape [tokens - 1, num_layers, top_k], uint8, uint16 or int32)
 * (vllm/entrypoints/openai/completion/protocol.py), and older versions the
 * prompt's part apart in a top-level "prompt_routed_experts".
 *
 * Read: one response object per line (a line holding a JSON array, as
 * /generate answers a batch, gives one response per element); each payload
 * found (meta_info.routed_experts, prompt_routed_experts,
 * choices[i].routed_experts; null ones skipped) becomes one step, in order,
 * its rows the step's tokens.  A payload may also be a nested JSON array
 * [tokens][layers][top_k] of integers.  Every payload must have the same
 * layers and top-k; ids must be in [0, E) with E the model's, else the
 * largest id plus one.  Lines without any payload are an error (the server
 * was not started with the flag).  Errors name the file, the line and the
 * JSON path.
 *
 * The file is read twice, one line at a time (each at most LINE_MAX_BYTES):
 * at open to check it and count steps, tokens and E, then piece by piece.
 */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "traces/formats/mp__fmtutil.h"
#include "traces/formats/mp__format.h"
#include "traces/formats/mp__lines.h"

#define LINE_MAX_BYTES ((size_t)512 << 20)
#define PAYLOADS_MAX 4096 /* payloads per line */

static int routed_sniff(const unsigned char *h, size_t n)
{
    return mp__first_line_has(h, n, "\"routed_experts\"");
}

/* ---- base64 (RFC 4648 standard alphabet; padding optional) ---- */

static int b64v(unsigned char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

/* Decodes s[0..n) into a new buffer; *bad_at is the first bad character's index (or -1). */
static unsigned char *b64_decode(const char *s, size_t n, size_t *out_len, long long *bad_at)
{
    *bad_at = -1;
    size_t m = n;
    while (m > 0 && n - m < 2 && s[m - 1] == '=') m--;
    if ((n != m && n % 4 != 0) || m % 4 == 1) {
        *bad_at = (long long)m;
        return NULL;
    }
    unsigned char *out = malloc(m / 4 * 3 + 3);
    if (!out) return NULL;
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < m; i++) {
        int v = b64v((unsigned char)s[i]);
        if (v < 0) {
            *bad_at = (long long)i;
            free(out);
            return NULL;
        }
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    if (acc != 0) { /* non-zero leftover bits: not canonical base64 */
        *bad_at = (long long)m - 1;
        free(out);
        return NULL;
    }
    *out_len = o;
    return out;
}

/* ---- one payload, decoded ---- */

typedef struct payload {
    int64_t rows;
    int32_t layers, top_k;
    int32_t *ids; /* [rows][layers][top_k] */
} payload;

typedef struct rreader {
    const char *path;
    mp__lines lines;
    mp_model hint; /* zeroed when none */
    int32_t layers, top_k, experts;
    /* the line being handed out */
    cJSON *doc;
    const cJSON *items[PAYLOADS_MAX];
    char where[PAYLOADS_MAX][40]; /* JSON path of each item */
    int nitems, next_item;
    payload cur;
    int64_t cur_row, step;
} rreader;

static int at(const rreader *r, const char *where, mp_err *err, int code, const char *what)
{
    return mp_err_set(err, code, "%s: line %lld: %s: %s", r->path, (long long)r->lines.line, where, what);
}

/* .npy bytes: header checked, ids converted. */
static int from_npy(const rreader *r, const char *where, const unsigned char *b, size_t n, payload *p, mp_err *err)
{
    if (n < 10 || b[6] < 1 || b[6] > 3) return at(r, where, err, MP_EFORMAT, "a .npy payload with a bad header");
    size_t hl = b[6] == 1 ? (size_t)(b[8] | b[9] << 8) : n >= 12 ? (size_t)b[8] | (size_t)b[9] << 8 | (size_t)b[10] << 16 | (size_t)b[11] << 24 : SIZE_MAX;
    size_t h0 = b[6] == 1 ? 10 : 12;
    if (hl > n - h0) return at(r, where, err, MP_EFORMAT, "a .npy payload whose header runs past its end");
    char hdr[512];
    if (hl >= sizeof hdr) return at(r, where, err, MP_ELIMIT, "a .npy payload with an over-long header");
    memcpy(hdr, b + h0, hl);
    hdr[hl] = 0;
    if (memchr(hdr, 0, hl)) return at(r, where, err, MP_EFORMAT, "a .npy payload with a bad header");
    const char *d = strstr(hdr, "'descr'"), *f = strstr(hdr, "'fortran_order'"), *s = strstr(hdr, "'shape'");
    if (!d || !f || !s) return at(r, where, err, MP_EFORMAT, "a .npy payload without descr, fortran_order and shape");
    d = strchr(d + 7, '\'');
    static const struct {
        const char *descr;
        int size, sign;
    } types[] = {{"|u1", 1, 0}, {"<u1", 1, 0}, {"|i1", 1, 1}, {"<u2", 2, 0}, {"<i2", 2, 1},
                 {"<u4", 4, 0}, {"<i4", 4, 1}, {"<u8", 8, 0}, {"<i8", 8, 1}};
    int ti = -1;
    for (int i = 0; d && i < (int)(sizeof types / sizeof types[0]); i++)
        if (strncmp(d + 1, types[i].descr, 3) == 0 && d[4] == '\'') ti = i;
    if (ti < 0) return at(r, where, err, MP_EUNSUPPORTED, "a .npy payload whose dtype is not a little-endian integer");
    f += 15;
    while (*f == ' ' || *f == ':') f++;
    if (strncmp(f, "False", 5) != 0) return at(r, where, err, MP_EUNSUPPORTED, "a Fortran-order .npy payload");
    s += 7;
    while (*s == ' ' || *s == ':') s++;
    if (*s != '(') return at(r, where, err, MP_EFORMAT, "a .npy payload with a bad shape");
    int64_t dim[3];
    int nd = 0;
    for (s++;;) {
        while (*s == ' ' || *s == ',') s++;
        if (*s == ')') break;
        if (*s < '0' || *s > '9' || nd == 3) return at(r, where, err, MP_ESHAPE, "a .npy payload that is not [tokens, layers, top_k]");
        char *e;
        long long v = strtoll(s, &e, 10);
        if (v > INT32_MAX) return at(r, where, err, MP_ELIMIT, "a .npy payload dimension too large");
        dim[nd++] = v;
        s = e;
    }
    if (nd != 3) return at(r, where, err, MP_ESHAPE, "a .npy payload that is not [tokens, layers, top_k]");
    size_t cnt;
    if (mp_mul_size((size_t)dim[0], (size_t)dim[1], SIZE_MAX / 16, &cnt) ||
        mp_mul_size(cnt, (size_t)dim[2], SIZE_MAX / 16, &cnt) || cnt * (size_t)types[ti].size != n - h0 - hl)
        return at(r, where, err, MP_ESHAPE, "a .npy payload whose data does not match its shape");
    p->rows = dim[0];
    p->layers = (int32_t)dim[1];
    p->top_k = (int32_t)dim[2];
    p->ids = malloc((cnt ? cnt : 1) * sizeof *p->ids);
    if (!p->ids) return at(r, where, err, MP_ENOMEM, "out of memory");
    const unsigned char *q = b + h0 + hl;
    int sz = types[ti].size;
    for (size_t i = 0; i < cnt; i++, q += sz) {
        uint64_t u = 0;
        for (int k = sz - 1; k >= 0; k--) u = u << 8 | q[k];
        int neg = types[ti].sign && (u >> (8 * sz - 1)) != 0;
        p->ids[i] = neg ? -1 : u > INT32_MAX ? INT32_MAX : (int32_t)u;
    }
    return 0;
}

/* The layers x top-k split of `per` ids per token: from the model given, or the payload itself. */
static int split(const rreader *r, const char *where, int64_t per, int32_t *L, int32_t *K, mp_err *err)
{
    int32_t hl = r->hint.layers, hk = r->hint.top_k;
    if (hl <= 0 && hk <= 0 && r->layers > 0) hl = r->layers, hk = r->top_k; /* as the earlier payloads */
    if (hk > 0 && per % hk == 0 && (hl <= 0 || per == (int64_t)hl * hk)) *K = hk, *L = (int32_t)(per / hk);
    else if (hl > 0 && hk <= 0 && per % hl == 0) *L = hl, *K = (int32_t)(per / hl);
    else if (hl <= 0 && hk <= 0)
        return mp_err_set(err, MP_ESHAPE,
                          "%s: line %lld: %s: %lld ids per token, but the response does not say its layers and top-k "
                          "apart: give the model",
                          r->path, (long long)r->lines.line, where, (long long)per);
    else if (hl <= 0)
        return mp_err_set(err, MP_ESHAPE, "%s: line %lld: %s: %lld ids per token do not split into top-%d choices",
                          r->path, (long long)r->lines.line, where, (long long)per, hk);
    else
        return mp_err_set(err, MP_ESHAPE, "%s: line %lld: %s: %lld ids per token do not split into %d layers%s",
                          r->path, (long long)r->lines.line, where, (long long)per, hl, hk > 0 ? " x the model's top-k" : "");
    return 0;
}

/* Raw little-endian int32 [rows][L][K] (SGLang). */
static int from_raw(const rreader *r, const char *where, const cJSON *resp, const unsigned char *b, size_t n,
                    payload *p, mp_err *err)
{
    if (n % 4) return at(r, where, err, MP_EFORMAT, "not a whole number of int32 values");
    int64_t cnt = (int64_t)(n / 4);
    int32_t L = 0, K = 0;
    int64_t rows = -1;
    const cJSON *mi = cJSON_GetObjectItemCaseSensitive(resp, "meta_info");
    const cJSON *pt = cJSON_GetObjectItemCaseSensitive(mi, "prompt_tokens");
    const cJSON *ct = cJSON_GetObjectItemCaseSensitive(mi, "completion_tokens");
    if (cJSON_IsNumber(pt) && cJSON_IsNumber(ct) && pt->valuedouble >= 0 && ct->valuedouble >= 0 &&
        pt->valuedouble + ct->valuedouble >= 2 && pt->valuedouble + ct->valuedouble < 1e15)
        rows = (int64_t)(pt->valuedouble + ct->valuedouble) - 1;
    int64_t per;
    if (r->hint.layers > 0 && r->hint.top_k > 0) per = (int64_t)r->hint.layers * r->hint.top_k;
    else if (rows > 0 && cnt % rows == 0) per = cnt / rows;
    else if (r->layers > 0) per = (int64_t)r->layers * r->top_k;
    else
        return at(r, where, err, MP_ESHAPE,
                  "cannot tell ids per token (no prompt_tokens + completion_tokens - 1 rows; give the model's layers and top-k)");
    int rc = split(r, where, per, &L, &K, err);
    if (rc) return rc;
    if (per <= 0 || cnt % per)
        return at(r, where, err, MP_ESHAPE, "its int32 count is not a whole number of tokens x layers x top-k");
    p->rows = cnt / per;
    p->layers = L;
    p->top_k = K;
    p->ids = malloc((size_t)(cnt ? cnt : 1) * sizeof *p->ids);
    if (!p->ids) return at(r, where, err, MP_ENOMEM, "out of memory");
    for (int64_t i = 0; i < cnt; i++) {
        const unsigned char *q = b + 4 * i;
        p->ids[i] = (int32_t)((uint32_t)q[0] | (uint32_t)q[1] << 8 | (uint32_t)q[2] << 16 | (uint32_t)q[3] << 24);
    }
    return 0;
}

/* A nested JSON array [tokens][layers][top_k]. */
static int from_list(const rreader *r, const char *where, const cJSON *a, payload *p, mp_err *err)
{
    int64_t T = cJSON_GetArraySize(a), L = -1, K = -1;
    for (const cJSON *t = a->child; t; t = t->next) {
        if (!cJSON_IsArray(t)) return at(r, where, err, MP_ESHAPE, "not a [tokens][layers][top_k] array");
        int64_t nl = cJSON_GetArraySize(t);
        if (L >= 0 && nl != L) return at(r, where, err, MP_ESHAPE, "ragged: tokens with different layer counts");
        L = nl;
        for (const cJSON *y = t->child; y; y = y->next) {
            if (!cJSON_IsArray(y)) return at(r, where, err, MP_ESHAPE, "not a [tokens][layers][top_k] array");
            int64_t nk = cJSON_GetArraySize(y);
            if (K >= 0 && nk != K) return at(r, where, err, MP_ESHAPE, "ragged: rows with different top-k");
            K = nk;
        }
    }
    if (T == 0 || L <= 0 || K <= 0) return at(r, where, err, MP_ESHAPE, "empty");
    p->rows = T;
    p->layers = (int32_t)(L < MP_LAYERS_MAX ? L : MP_LAYERS_MAX + 1);
    p->top_k = (int32_t)(K < MP_TOPK_MAX ? K : MP_TOPK_MAX + 1);
    p->ids = malloc((size_t)(T * L * K) * sizeof *p->ids);
    if (!p->ids) return at(r, where, err, MP_ENOMEM, "out of memory");
    int64_t i = 0;
    for (const cJSON *t = a->child; t; t = t->next)
        for (const cJSON *y = t->child; y; y = y->next)
            for (const cJSON *v = y->child; v; v = v->next) {
                double d = cJSON_IsNumber(v) ? v->valuedouble : -1;
                p->ids[i++] = d >= 0 && d == floor(d) && d <= INT32_MAX ? (int32_t)d : -1;
            }
    return 0;
}

static int decode(const rreader *r, const char *where, const cJSON *resp, const cJSON *v, payload *p, mp_err *err)
{
    memset(p, 0, sizeof *p);
    if (cJSON_IsArray(v)) return from_list(r, where, v, p, err);
    if (!cJSON_IsString(v)) return at(r, where, err, MP_EFORMAT, "not a base64 string or an array");
    size_t n = strlen(v->valuestring), len = 0;
    long long bad;
    unsigned char *b = b64_decode(v->valuestring, n, &len, &bad);
    if (!b) {
        if (bad < 0) return at(r, where, err, MP_ENOMEM, "out of memory");
        return mp_err_set(err, MP_EFORMAT, "%s: line %lld: %s: bad base64 at character %lld", r->path,
                          (long long)r->lines.line, where, bad);
    }
    int rc = len >= 6 && memcmp(b, "\x93NUMPY", 6) == 0 ? from_npy(r, where, b, len, p, err)
                                                          : from_raw(r, where, resp, b, len, p, err);
    free(b);
    if (rc) {
        free(p->ids);
        p->ids = NULL;
    }
    return rc;
}

/* Finds the payloads of one response object into r->items. */
static int add_item(rreader *r, const cJSON *v, const char *fmt, long a, long b, mp_err *err)
{
    if (!v || cJSON_IsNull(v)) return 0;
    if (r->nitems == PAYLOADS_MAX)
        return mp_err_set(err, MP_ELIMIT, "%s: line %lld: more than %d payloads", r->path, (long long)r->lines.line,
                          PAYLOADS_MAX);
    snprintf(r->where[r->nitems], sizeof r->where[0], fmt, a, b);
    r->items[r->nitems++] = v;
    return 0;
}

static int find_items(rreader *r, const cJSON *resp, long idx, mp_err *err)
{
    if (!cJSON_IsObject(resp))
        return mp_err_set(err, MP_EFORMAT, "%s: line %lld: %s not a JSON object", r->path, (long long)r->lines.line,
                          idx < 0 ? "the line is" : "an array element is");
    int before = r->nitems, rc;
    const cJSON *mi = cJSON_GetObjectItemCaseSensitive(resp, "meta_info");
    const char *pre = idx < 0 ? "" : "[%ld].";
    char f[48];
    snprintf(f, sizeof f, "%smeta_info.routed_experts", pre);
    if ((rc = add_item(r, cJSON_GetObjectItemCaseSensitive(mi, "routed_experts"), f, idx, 0, err))) return rc;
    snprintf(f, sizeof f, "%sprompt_routed_experts", pre);
    if ((rc = add_item(r, cJSON_GetObjectItemCaseSensitive(resp, "prompt_routed_experts"), f, idx, 0, err))) return rc;
    const cJSON *ch = cJSON_GetObjectItemCaseSensitive(resp, "choices");
    long i = 0;
    snprintf(f, sizeof f, idx < 0 ? "choices[%%ld].routed_experts" : "[%%ld].choices[%%ld].routed_experts");
    for (const cJSON *c = cJSON_IsArray(ch) ? ch->child : NULL; c; c = c->next, i++)
        if ((rc = add_item(r, cJSON_GetObjectItemCaseSensitive(c, "routed_experts"), f, idx < 0 ? i : idx, i, err)))
            return rc;
    if (r->nitems == before)
        return mp_err_set(err, MP_EFORMAT,
                          "%s: line %lld: %sno routed experts (meta_info.routed_experts or choices[].routed_experts; "
                          "was the server started with --enable-return-routed-experts?)",
                          r->path, (long long)r->lines.line, idx < 0 ? "" : "an array element has ");
    return 0;
}

/* Reads lines until one with payloads; 1, 0 at the end, or < 0. */
static int load_line(rreader *r, mp_err *err)
{
    cJSON_Delete(r->doc);
    r->doc = NULL;
    r->nitems = r->next_item = 0;
    char *line;
    size_t n;
    int rc;
    while ((rc = mp__lines_next(&r->lines, &line, &n, err)) == 1) {
        if (mp__blank(line, n)) continue;
        rc = 0;
        r->doc = cJSON_ParseWithLength(line, n);
        if (!r->doc) return mp_err_set(err, MP_EFORMAT, "%s: line %lld: invalid JSON", r->path, (long long)r->lines.line);
        if (cJSON_IsArray(r->doc)) {
            long i = 0;
            for (const cJSON *e = r->doc->child; e && !rc; e = e->next, i++) rc = find_items(r, e, i, err);
            if (!rc && r->nitems == 0)
                rc = mp_err_set(err, MP_EFORMAT, "%s: line %lld: an empty array", r->path, (long long)r->lines.line);
        } else {
            rc = find_items(r, r->doc, -1, err);
        }
        return rc ? rc : 1;
    }
    return rc;
}

/* Decodes item k of the line into r->cur and checks it against the trace's shape. */
static int take_item(rreader *r, int k, mp_err *err)
{
    free(r->cur.ids);
    const cJSON *resp = r->doc;
    if (cJSON_IsArray(r->doc)) { /* the element the item belongs to: parse its index back from the path */
        long idx = strtol(r->where[k] + 1, NULL, 10);
        resp = cJSON_GetArrayItem(r->doc, (int)idx);
    }
    int rc = decode(r, r->where[k], resp, r->items[k], &r->cur, err);
    if (rc) return rc;
    const payload *p = &r->cur;
    if (p->layers < 1 || p->layers > MP_LAYERS_MAX || p->top_k < 1 || p->top_k > MP_TOPK_MAX)
        return at(r, r->where[k], err, MP_ESHAPE, "layers or top-k out of range");
    if (r->layers > 0 && (p->layers != r->layers || p->top_k != r->top_k))
        return mp_err_set(err, MP_ESHAPE, "%s: line %lld: %s: %d layers x top-%d, earlier payloads have %d x %d", r->path,
                          (long long)r->lines.line, r->where[k], p->layers, p->top_k, r->layers, r->top_k);
    int64_t per = (int64_t)p->layers * p->top_k;
    for (int64_t i = 0; i < p->rows * per; i++)
        if (p->ids[i] < 0 || p->ids[i] >= MP_EXPERTS_MAX || (r->experts > 0 && p->ids[i] >= r->experts))
            return mp_err_set(err, MP_ERANGE, "%s: line %lld: %s: token %lld layer %lld: expert id %lld %s", r->path,
                              (long long)r->lines.line, r->where[k], (long long)(i / per), (long long)(i % per / p->top_k),
                              (long long)p->ids[i], p->ids[i] < 0 ? "is negative (or not an integer)" : "is out of range");
    return 0;
}

static void routed_close(void *state)
{
    rreader *r = state;
    if (!r) return;
    mp__lines_close(&r->lines);
    cJSON_Delete(r->doc);
    free(r->cur.ids);
    free(r);
}

static int routed_open(void **state, const char *path, const mp_read_opts *opts, mp_model *model, mp_trace_info *info,
                       mp_err *err)
{
    rreader *r = calloc(1, sizeof *r);
    if (!r) return mp_err_set(err, MP_ENOMEM, "%s: out of memory", path);
    *state = r;
    r->path = path;
    if (opts->model) r->hint = *opts->model; /* else the configuration's shape (--model), as for .npy */
    else if (opts->config) r->hint = *opts->config;
    r->experts = r->hint.experts > 0 ? r->hint.experts : 0;
    int rc = mp__lines_open(&r->lines, path, LINE_MAX_BYTES, err);
    int64_t steps = 0, tokens = 0;
    int32_t max_id = -1;
    while (!rc && (rc = load_line(r, err)) == 1) { /* pass 1: check everything, count */
        rc = 0;
        for (int k = 0; k < r->nitems && !rc; k++) {
            if ((rc = take_item(r, k, err))) break;
            if (r->cur.rows == 0) continue; /* an empty payload: no step */
            r->layers = r->cur.layers;
            r->top_k = r->cur.top_k;
            int64_t n = r->cur.rows * r->layers * r->top_k;
            for (int64_t i = 0; i < n; i++) max_id = r->cur.ids[i] > max_id ? r->cur.ids[i] : max_id;
            steps++;
            tokens += r->cur.rows;
        }
    }
    if (rc < 0) return rc;
    if (steps == 0) return mp_err_set(err, MP_EFORMAT, "%s: no responses with routed experts", path);
    mp__lines_close(&r->lines);
    cJSON_Delete(r->doc);
    r->doc = NULL;
    r->nitems = r->next_item = 0;
    free(r->cur.ids);
    memset(&r->cur, 0, sizeof r->cur);
    if ((rc = mp__lines_open(&r->lines, path, LINE_MAX_BYTES, err))) return rc;
    model->layers = r->layers;
    model->top_k = r->top_k;
    model->experts = r->experts > 0 ? r->experts : max_id + 1;
    if ((rc = mp__model_apply_hint(model, opts->model, path, err))) return rc;
    r->experts = model->experts;
    info->steps = steps;
    info->tokens = tokens;
    info->assignments = tokens * r->layers * r->top_k;
    info->raw_bytes = info->assignments * 2;
    FILE *fp = fopen(path, "rb");
    if (fp) {
        if (fseeko(fp, 0, SEEK_END) == 0) info->file_bytes = (int64_t)ftello(fp);
        fclose(fp);
    }
    return 0;
}

static int routed_next(void *state, mp_step *piece, mp_trace_info *info, mp_err *err)
{
    (void)info;
    rreader *r = state;
    while (!r->cur.ids || r->cur_row >= r->cur.rows) { /* the next non-empty payload */
        if (r->next_item >= r->nitems) {
            int rc = load_line(r, err);
            if (rc <= 0) return rc;
        }
        int rc = take_item(r, r->next_item++, err);
        if (rc) return rc;
        r->cur_row = 0;
    }
    int64_t n = mp__piece_tokens(r->layers, r->top_k);
    if (n > r->cur.rows - r->cur_row) n = r->cur.rows - r->cur_row;
    int rc = mp_step_reserve(piece, n, r->layers, r->top_k, 0, 0, err);
    if (rc) return rc;
    int64_t per = (int64_t)r->layers * r->top_k;
    const int32_t *src = r->cur.ids + r->cur_row * per;
    for (int64_t i = 0; i < n * per; i++) piece->ids[i] = (mp_expert_id)src[i];
    piece->step = r->step;
    piece->first_token = r->cur_row;
    r->cur_row += n;
    piece->end_of_step = r->cur_row == r->cur.rows;
    if (piece->end_of_step) r->step++;
    return 1;
}

static const mp__reader_ops routed_reader_ops = {routed_open, routed_next, routed_close};

const mp__format mp__format_routed = {MP_FMT_ROUTED, "routed", "", &routed_reader_ops, NULL, routed_sniff, NULL, NULL};
