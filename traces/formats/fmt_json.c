/*
 * fmt_json.c - JSON load files: expert load counts, not per-token routing.
 *
 * Read (mp_loads_read_json), any of:
 *   - SGLang: {"logical_count": [X][L][E] or [L][E], ...other keys ignored}
 *   - shares: {"logical_count": null, "load_share": [L][E]} (rows sum to 1)
 *   - vLLM-style per-layer arrays: a bare [L][E] (or [X][L][E]) array, or an
 *     object holding one under "expert_load", "expert_load_window",
 *     "expert_load_pass", "load", "loads" or "counts"; vLLM's EplbState
 *     counts per physical slot (expert_load_pass [L][P], expert_load_window
 *     [W][L][P]): with "physical_to_logical_map" [L][P] beside them the slots
 *     are summed into logical experts
 *   - ours: {"format": "moeplace-loads", "version": 1, "model": {...},
 *            "logical_count": ...}
 * Counts must be finite, non-negative and below 2^53, and so must the sum of
 * every row (one layer of one step), so that the planner's sums are exact
 * (MP_LOADS_SUM_MAX); rows must all have E entries.  The file is read as a
 * stream: memory is the matrix of counts plus a 64 KiB buffer.
 *
 * Write: mp_loads_write_json, and a trace writer that counts the pieces it
 * is given and writes the loads at commit.
 */
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <string.h>

#include "traces/formats/mp__format.h"
#include "traces/formats/mp_loadfile.h"
#include "traces/mp_file.h"
#include "traces/mp_text.h"

#define JSON_FILE_MAX ((long long)128 << 20) /* bytes of JSON text accepted */
#define JSON_DEPTH_MAX 1000                   /* nesting accepted (cJSON's limit) */
#define JSON_MODEL_MAX (1 << 20)              /* bytes of the "model" object kept */
#define JSON_NUMBER_MAX 400                   /* characters of one number         */
#define TWO53 MP_LOADS_SUM_MAX                /* 2^53                             */

static int json_sniff(const unsigned char *h, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (h[i] != ' ' && h[i] != '\n' && h[i] != '\t' && h[i] != '\r') return h[i] == '{' || h[i] == '[';
    return 0;
}

static const char *const load_keys[] = {"logical_count", "load_share", "expert_load", "expert_load_window",
                                        "expert_load_pass", "load", "loads", "counts"};
#define N_LOAD_KEYS ((int)(sizeof load_keys / sizeof load_keys[0]))

/* ---- a streaming reader: the file through a 64 KiB buffer, never a tree ----
 *
 * Memory is the load matrix itself (and the physical_to_logical_map when
 * there is one) plus the buffer: the count arrays are read number by number
 * into a growing array of doubles, every other value is checked and skipped.
 * Syntax errors stop the reader at once ("offset N: invalid JSON"); errors in
 * what a load array holds (shapes, values) are kept, the array is skipped to
 * its end, and the first such error of the array that is used is reported
 * once the whole file has proved to be JSON. */
typedef struct jrd {
    FILE *fp;
    const char *path;
    mp_err *err;
    unsigned char buf[1 << 16];
    size_t pos, len;
    long long base; /* file offset of buf[0] */
    char *cap;      /* capture of the consumed bytes (the model object) */
    size_t cap_len, cap_max;
    int capturing, cap_over;
} jrd;

static int jr_fill(jrd *r)
{
    if (r->pos < r->len) return 1;
    r->base += (long long)r->len;
    r->pos = 0;
    r->len = fread(r->buf, 1, sizeof r->buf, r->fp);
    return r->len > 0;
}

static inline int jr_peek(jrd *r) { return r->pos < r->len || jr_fill(r) ? r->buf[r->pos] : -1; }

static inline int jr_get(jrd *r)
{
    int c = jr_peek(r);
    if (c < 0) return c;
    r->pos++;
    if (r->capturing) {
        if (r->cap_len + 1 >= r->cap_max) r->cap_over = 1;
        else r->cap[r->cap_len++] = (char)c;
    }
    return c;
}

static inline long long jr_off(const jrd *r) { return r->base + (long long)r->pos; }

static void jr_ws(jrd *r)
{
    for (int c = jr_peek(r); c == ' ' || c == '\n' || c == '\r' || c == '\t'; c = jr_peek(r)) jr_get(r);
}

/* Invalid JSON at the current offset (a read error when the stream failed). */
static int jr_syntax(jrd *r)
{
    if (ferror(r->fp)) return mp_err_set(r->err, MP_EIO, "%s: read failed", r->path);
    return mp_err_set(r->err, MP_EFORMAT, "%s: offset %lld: invalid JSON", r->path, jr_off(r));
}

static int jr_expect(jrd *r, int want)
{
    jr_ws(r);
    if (jr_peek(r) != want) return jr_syntax(r);
    jr_get(r);
    return 0;
}

static int jr_literal(jrd *r, const char *word)
{
    for (const char *p = word; *p; p++) {
        if (jr_peek(r) != (unsigned char)*p) return jr_syntax(r);
        jr_get(r);
    }
    return 0;
}

static int is_hex(int c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

/* A string (the opening quote next); its first cap-1 raw bytes into out
 * (escapes kept as written: keys are compared plainly), *whole = 0 when it
 * was longer or held an escape. */
static int jr_string(jrd *r, char *out, size_t cap, int *whole)
{
    size_t n = 0;
    int ok = 1;
    if (jr_peek(r) != '"') return jr_syntax(r);
    jr_get(r);
    for (;;) {
        int c = jr_peek(r);
        if (c < 0x20) return jr_syntax(r); /* end of file or a control character */
        jr_get(r);
        if (c == '"') break;
        if (c == '\\') {
            ok = 0;
            int e = jr_peek(r);
            if (e == 'u') {
                jr_get(r);
                for (int i = 0; i < 4; i++) {
                    if (!is_hex(jr_peek(r))) return jr_syntax(r);
                    jr_get(r);
                }
            } else if (e >= 0 && strchr("\"\\/bfnrt", e)) {
                jr_get(r);
            } else {
                return jr_syntax(r);
            }
            continue;
        }
        if (n + 1 < cap) out[n++] = (char)c;
        else ok = 0;
    }
    if (cap) out[n] = '\0';
    if (whole) *whole = ok;
    return 0;
}

/* A number (its first character next), by JSON's grammar, into *out. */
static int jr_number(jrd *r, double *out)
{
    char t[JSON_NUMBER_MAX + 1];
    size_t n = 0;
#define TAKE()                                                                                                        \
    do {                                                                                                              \
        if (n >= JSON_NUMBER_MAX) return jr_syntax(r);                                                                \
        t[n++] = (char)jr_get(r);                                                                                     \
    } while (0)
#define DIGIT(c) ((c) >= '0' && (c) <= '9')
    if (jr_peek(r) == '-') TAKE();
    if (jr_peek(r) == '0') TAKE();
    else if (DIGIT(jr_peek(r)))
        while (DIGIT(jr_peek(r))) TAKE();
    else return jr_syntax(r);
    if (jr_peek(r) == '.') {
        TAKE();
        if (!DIGIT(jr_peek(r))) return jr_syntax(r);
        while (DIGIT(jr_peek(r))) TAKE();
    }
    if (jr_peek(r) == 'e' || jr_peek(r) == 'E') {
        TAKE();
        if (jr_peek(r) == '+' || jr_peek(r) == '-') TAKE();
        if (!DIGIT(jr_peek(r))) return jr_syntax(r);
        while (DIGIT(jr_peek(r))) TAKE();
    }
#undef TAKE
#undef DIGIT
    t[n] = '\0';
    *out = strtod(t, NULL);
    return 0;
}

/* Skips one value (whitespace before it too), checking its syntax; arrays and
 * objects with an explicit stack, so that deep nesting costs no C stack. */
static int jr_skip(jrd *r)
{
    char stack[JSON_DEPTH_MAX];
    int depth = 0, rc;
    double d;
    for (;;) {
        /* a value */
        jr_ws(r);
        int c = jr_peek(r);
        if (c == '{' || c == '[') {
            if (depth >= JSON_DEPTH_MAX) return jr_syntax(r);
            jr_get(r);
            stack[depth++] = (char)c;
            jr_ws(r);
            if (jr_peek(r) == (c == '{' ? '}' : ']')) {
                jr_get(r);
                depth--;
            } else {
                if (c == '{') {
                    if ((rc = jr_string(r, NULL, 0, NULL)) || (rc = jr_expect(r, ':'))) return rc;
                }
                continue; /* the first member's value */
            }
        } else if (c == '"') {
            if ((rc = jr_string(r, NULL, 0, NULL))) return rc;
        } else if (c == 't') {
            if ((rc = jr_literal(r, "true"))) return rc;
        } else if (c == 'f') {
            if ((rc = jr_literal(r, "false"))) return rc;
        } else if (c == 'n') {
            if ((rc = jr_literal(r, "null"))) return rc;
        } else if (c == '-' || (c >= '0' && c <= '9')) {
            if ((rc = jr_number(r, &d))) return rc;
        } else {
            return jr_syntax(r);
        }
        /* after a value: a comma and the next member, or closers */
        for (;;) {
            if (depth == 0) return 0;
            jr_ws(r);
            int e = jr_peek(r);
            if (e == ',') {
                jr_get(r);
                if (stack[depth - 1] == '{') {
                    jr_ws(r);
                    if ((rc = jr_string(r, NULL, 0, NULL)) || (rc = jr_expect(r, ':'))) return rc;
                }
                break;
            }
            if (e != (stack[depth - 1] == '{' ? '}' : ']')) return jr_syntax(r);
            jr_get(r);
            depth--;
        }
    }
}

/* Having consumed a value inside `open` arrays, consumes the rest of them. */
static int jr_skip_rest(jrd *r, int open)
{
    while (open > 0) {
        jr_ws(r);
        int c = jr_get(r);
        if (c == ']') open--;
        else if (c == ',') {
            int rc = jr_skip(r);
            if (rc) return rc;
        } else {
            if (c >= 0) r->pos--; /* report the offset of the culprit */
            return jr_syntax(r);
        }
    }
    return 0;
}

static const char *kind_of(int c)
{
    return c == 'n' ? "null" : c == '-' || (c >= '0' && c <= '9') ? "a number" : c == '"' ? "a string"
         : c == '{' ? "an object" : "another value";
}

/* A count array being read: [S][L][E] (depth 3) or [L][E] (depth 2) numbers. */
typedef struct counts {
    const char *name; /* key ("" at the top level)                                */
    int ids;          /* 1: a physical_to_logical_map (expert ids, depth 2 only)    */
    int depth;
    int64_t S, L, E;  /* S and L: as counted; E: of the first row (-1: none yet)   */
    int64_t n, cap;   /* stored values                                              */
    double *v;
    int over;         /* more than a load matrix may hold: stop storing            */
    int bad;          /* 1: err holds the first error of what the array holds       */
    mp_err err;
    int nomem;
} counts;

static void counts_free(counts *c)
{
    free(c->v);
    c->v = NULL;
}

/* Records the array's first content error. */
#if defined(__GNUC__)
__attribute__((format(printf, 4, 5)))
#endif
static void cbad(counts *c, const jrd *r, int code, const char *fmt, ...)
{
    if (c->bad) return;
    c->bad = 1;
    char msg[MP_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    mp_err_set(&c->err, code, "%s: %s", r->path, msg);
}

static void where_of(const counts *c, char *w, size_t n, int64_t s, int64_t l)
{
    if (c->depth == 3) snprintf(w, n, "%s[%lld][%lld]", c->name, (long long)s, (long long)l);
    else snprintf(w, n, "%s[%lld]", c->name, (long long)l);
}

static void store(counts *c, double d)
{
    if (c->n >= MP_LOADS_CELLS_MAX) c->over = 1;
    if (c->over || c->nomem) return;
    if (c->n >= c->cap) {
        int64_t ncap = c->cap ? c->cap * 2 : 4096;
        if (ncap > MP_LOADS_CELLS_MAX) ncap = MP_LOADS_CELLS_MAX;
        double *nv = realloc(c->v, (size_t)ncap * sizeof *nv);
        if (!nv) {
            c->nomem = 1;
            return;
        }
        c->v = nv;
        c->cap = ncap;
    }
    c->v[c->n++] = d;
}

/* One row, its '[' consumed, inside `open` arrays (the row counted).  Returns
 * 0 (row read), 1 (content error: the whole array consumed) or < 0 (syntax). */
static int read_row(jrd *r, counts *c, int64_t s, int64_t l, int open)
{
    char where[160];
    where_of(c, where, sizeof where, s, l);
    int64_t i = 0;
    double sum = 0;
    int rc;
    jr_ws(r);
    if (jr_peek(r) == ']') {
        jr_get(r);
        cbad(c, r, MP_ESHAPE, "%s: empty array", where);
        return (rc = jr_skip_rest(r, open - 1)) ? rc : 1;
    }
    for (;; i++) {
        jr_ws(r);
        int ch = jr_peek(r);
        if (ch == '-' || (ch >= '0' && ch <= '9')) {
            double d;
            if ((rc = jr_number(r, &d))) return rc;
            if (c->ids) {
                if (d != floor(d) || d < 0 || d >= MP_EXPERTS_MAX) {
                    cbad(c, r, MP_ERANGE, "%s[%lld]: not an expert id 0..%d", where, (long long)i, MP_EXPERTS_MAX - 1);
                    return (rc = jr_skip_rest(r, open)) ? rc : 1;
                }
            } else {
                int code = 0;
                if (!isfinite(d)) code = 1;
                else if (d < 0) code = 2;
                else if (d >= TWO53) code = 3;
                if (code) {
                    if (code == 1) cbad(c, r, MP_ERANGE, "%s[%lld]: count is not finite", where, (long long)i);
                    else if (code == 2) cbad(c, r, MP_ERANGE, "%s[%lld]: count %g is negative", where, (long long)i, d);
                    else cbad(c, r, MP_ERANGE, "%s[%lld]: count %.17g is not below 2^53", where, (long long)i, d);
                    return (rc = jr_skip_rest(r, open)) ? rc : 1;
                }
                sum += d;
            }
            if (c->E < 0 && i >= MP_EXPERTS_MAX) c->over = 1; /* reported at the row's end */
            if (c->E < 0 || i < c->E) store(c, d + 0.0);        /* -0 becomes 0; a longer row: reported at its end */
        } else if (ch == '[' || ch == '{' || ch == '"' || ch == 't' || ch == 'f' || ch == 'n') {
            if ((rc = jr_skip(r))) return rc;
            if (i == 0 && ch == '[' && c->depth == 2 && !c->ids && l > 0)
                cbad(c, r, MP_ESHAPE, "%s: nested deeper than the first row", where);
            else if (c->ids)
                cbad(c, r, MP_ERANGE, "%s[%lld]: not an expert id 0..%d", where, (long long)i, MP_EXPERTS_MAX - 1);
            else cbad(c, r, MP_EFORMAT, "%s[%lld]: not a number", where, (long long)i);
            return (rc = jr_skip_rest(r, open)) ? rc : 1;
        } else {
            return jr_syntax(r);
        }
        jr_ws(r);
        int e = jr_get(r);
        if (e == ']') break;
        if (e != ',') {
            if (e >= 0) r->pos--;
            return jr_syntax(r);
        }
    }
    int64_t n = i + 1;
    if (c->E < 0) {
        c->E = n;
        if (n > MP_EXPERTS_MAX) {
            cbad(c, r, MP_ELIMIT, "%s: %lld experts (limit %d)", c->name, (long long)n, MP_EXPERTS_MAX);
            return (rc = jr_skip_rest(r, open - 1)) ? rc : 1;
        }
    } else if (n != c->E) {
        cbad(c, r, MP_ESHAPE, "%s: %lld entries, the first row has %lld", where, (long long)n, (long long)c->E);
        return (rc = jr_skip_rest(r, open - 1)) ? rc : 1;
    }
    if (!c->ids && sum >= TWO53) {
        cbad(c, r, MP_ERANGE, "%s: the layer's counts sum to %.17g, not below 2^53", where, sum);
        return (rc = jr_skip_rest(r, open - 1)) ? rc : 1;
    }
    return 0;
}

/* The rows of one matrix, its '[' consumed (and, when first_open, the first
 * row's '[' too), inside `open` arrays.  Sets c->L from the first matrix and
 * checks the later ones against it.  Returns as read_row. */
static int read_matrix(jrd *r, counts *c, int64_t s, int open, int first_open)
{
    char where[160];
    int rc;
    int64_t l = 0;
    for (;; l++) {
        if (!(l == 0 && first_open)) {
            jr_ws(r);
            int ch = jr_peek(r);
            if (l == 0 && ch == ']') {
                jr_get(r);
                if (c->depth == 3) snprintf(where, sizeof where, "%s[%lld]", c->name, (long long)s);
                else snprintf(where, sizeof where, "%s", c->name[0] ? c->name : "(top level)");
                cbad(c, r, MP_ESHAPE, "%s: empty array", where);
                return (rc = jr_skip_rest(r, open - 1)) ? rc : 1;
            }
            if (ch != '[' || l >= MP_LAYERS_MAX) {
                if ((rc = jr_skip(r))) return rc;
                where_of(c, where, sizeof where, s, l);
                if (ch != '[') cbad(c, r, MP_EFORMAT, "%s: expected an array, found %s", where, kind_of(ch));
                else cbad(c, r, MP_ELIMIT, "%s: more than %d layers (the limit)", c->name, MP_LAYERS_MAX);
                return (rc = jr_skip_rest(r, open)) ? rc : 1;
            }
            jr_get(r);
        }
        if ((rc = read_row(r, c, s, l, open + 1))) return rc;
        jr_ws(r);
        int e = jr_get(r);
        if (e == ']') break;
        if (e != ',') {
            if (e >= 0) r->pos--;
            return jr_syntax(r);
        }
    }
    int64_t n = l + 1;
    if (c->depth == 2 || s == 0) c->L = n;
    else if (n != c->L) {
        snprintf(where, sizeof where, "%s[%lld]", c->name, (long long)s);
        cbad(c, r, MP_ESHAPE, "%s: %lld layers, the first has %lld", where, (long long)n, (long long)c->L);
        return (rc = jr_skip_rest(r, open - 1)) ? rc : 1;
    }
    return 0;
}

/* A count array (the value next, whitespace before it allowed).  Returns 0
 * (read, or a content error kept in c) or < 0 (syntax: r->err set). */
static int read_counts(jrd *r, counts *c)
{
    const char *top = c->name[0] ? c->name : "(top level)";
    char where[160];
    int rc;
    c->E = -1;
    jr_ws(r);
    int ch = jr_peek(r);
    if (ch != '[') {
        if ((rc = jr_skip(r))) return rc;
        cbad(c, r, MP_EFORMAT, "%s: expected an array, found %s", top, kind_of(ch));
        return 0;
    }
    jr_get(r);
    jr_ws(r);
    ch = jr_peek(r);
    if (ch == ']') {
        jr_get(r);
        cbad(c, r, MP_ESHAPE, "%s: empty array", top);
        return 0;
    }
    if (ch != '[') {
        if ((rc = jr_skip(r))) return rc;
        cbad(c, r, MP_EFORMAT, "%s[0]: expected an array, found %s", c->name, kind_of(ch));
        return (rc = jr_skip_rest(r, 1)) < 0 ? rc : 0;
    }
    jr_get(r);
    jr_ws(r);
    c->depth = jr_peek(r) == '[' && !c->ids ? 3 : 2;
    if (c->depth == 2) {
        c->S = 1;
        rc = read_matrix(r, c, 0, 1, 1);
        return rc < 0 ? rc : 0;
    }
    for (int64_t s = 0;; s++) {
        if (s > 0) {
            jr_ws(r);
            ch = jr_peek(r);
            if (ch != '[') {
                if ((rc = jr_skip(r))) return rc;
                snprintf(where, sizeof where, "%s[%lld]", c->name, (long long)s);
                cbad(c, r, MP_EFORMAT, "%s: expected an array, found %s", where, kind_of(ch));
                return (rc = jr_skip_rest(r, 1)) < 0 ? rc : 0;
            }
            jr_get(r);
        }
        if ((rc = read_matrix(r, c, s, 2, 0))) return rc < 0 ? rc : 0;
        c->S = s + 1;
        if (c->S * c->L * c->E > MP_LOADS_CELLS_MAX) c->over = 1;
        jr_ws(r);
        int e = jr_get(r);
        if (e == ']') break;
        if (e != ',') {
            if (e >= 0) r->pos--;
            return jr_syntax(r);
        }
    }
    return 0;
}

/* The model object's text, kept while it is skipped. */
static int read_model(jrd *r, char **text)
{
    jr_ws(r);
    r->cap_max = JSON_MODEL_MAX;
    r->cap = malloc(r->cap_max);
    if (!r->cap) return mp_err_set(r->err, MP_ENOMEM, "%s: out of memory", r->path);
    r->cap_len = 0;
    r->cap_over = 0;
    r->capturing = 1;
    int rc = jr_skip(r);
    r->capturing = 0;
    if (rc || r->cap_over) {
        free(r->cap);
        r->cap = NULL;
        if (!rc)
            rc = mp_err_set(r->err, MP_ELIMIT, "%s: model: larger than %d bytes", r->path, JSON_MODEL_MAX);
        return rc;
    }
    r->cap[r->cap_len] = '\0';
    *text = r->cap;
    r->cap = NULL;
    return 0;
}

/* Builds the loads from a count array read without error. */
static int counts_to_loads(mp_loads **out, counts *c, const char *path, mp_err *err)
{
    if (c->bad) return mp_err_set(err, c->err.code, "%s", c->err.msg);
    if (c->nomem) return mp_err_set(err, MP_ENOMEM, "%s: out of memory", path);
    if (c->L > MP_LAYERS_MAX)
        return mp_err_set(err, MP_ELIMIT, "%s: %s: %lld layers (limit %d)", path, c->name, (long long)c->L, MP_LAYERS_MAX);
    if (c->over || c->S > INT32_MAX || c->S * c->L * c->E > MP_LOADS_CELLS_MAX)
        return mp_err_set(err, MP_ELIMIT, "%s: %s: %lld x %lld x %lld counts exceed the limit of %lld", path, c->name,
                          (long long)c->S, (long long)c->L, (long long)c->E, (long long)MP_LOADS_CELLS_MAX);
    mp_loads *l = calloc(1, sizeof *l);
    if (!l) return mp_err_set(err, MP_ENOMEM, "%s: out of memory", path);
    double *v = realloc(c->v, (size_t)c->n * sizeof *v); /* give back the slack */
    l->count = v ? v : c->v;
    c->v = NULL;
    l->steps = (int32_t)c->S;
    l->layers = (int32_t)c->L;
    l->experts = (int32_t)c->E;
    l->model = mp_model_default();
    l->model.layers = l->layers;
    l->model.experts = l->experts;
    *out = l;
    return 0;
}

/* vLLM counts per physical slot; with the object's physical_to_logical_map
 * [L][P] the slots are folded into logical experts (E = largest id + 1). */
static int fold_physical(mp_loads **io, counts *map, const char *path, mp_err *err)
{
    mp_loads *in = *io;
    if (map->bad) return mp_err_set(err, map->err.code, "%s", map->err.msg);
    if (map->nomem) return mp_err_set(err, MP_ENOMEM, "%s: out of memory", path);
    if (map->L != in->layers)
        return mp_err_set(err, MP_ESHAPE, "%s: physical_to_logical_map: %lld layers, the loads have %d", path,
                          (long long)map->L, in->layers);
    if (map->E != in->experts)
        return mp_err_set(err, MP_ESHAPE, "%s: physical_to_logical_map[0]: %lld slots, the loads have %d", path,
                          (long long)map->E, in->experts);
    int32_t E = 0;
    for (int64_t i = 0; i < map->n; i++)
        if ((int32_t)map->v[i] + 1 > E) E = (int32_t)map->v[i] + 1;
    mp_loads *outl = NULL;
    mp_err sub;
    if (mp_loads_create(&outl, in->steps, in->layers, E, &sub)) return mp_err_set(err, sub.code, "%s: %s", path, sub.msg);
    for (int32_t s = 0; s < in->steps; s++)
        for (int32_t l = 0; l < in->layers; l++) {
            const double *src = mp_loads_row(in, s, l);
            double *dst = mp_loads_row(outl, s, l);
            for (int32_t p = 0; p < in->experts; p++) dst[(int32_t)map->v[(int64_t)l * in->experts + p]] += src[p];
        }
    mp_loads_destroy(in);
    *io = outl;
    return 0;
}

/* The members of the top-level object ('{' consumed). */
static int read_object(jrd *r, counts *best, int *best_key, counts *map, int *have_map, char **model, int *model_seen)
{
    char key[64];
    int rc, whole;
    jr_ws(r);
    if (jr_peek(r) == '}') {
        jr_get(r);
        return 0;
    }
    for (;;) {
        jr_ws(r);
        if ((rc = jr_string(r, key, sizeof key, &whole)) || (rc = jr_expect(r, ':'))) return rc;
        int k = -1;
        for (int i = 0; whole && i < N_LOAD_KEYS && k < 0; i++)
            if (!strcmp(key, load_keys[i])) k = i;
        jr_ws(r);
        int ch = jr_peek(r);
        if (k >= 0 && ch != 'n' && k < *best_key) { /* a better load array than the one kept (null: absent) */
            counts c = {load_keys[k], 0, 0, 0, 0, -1, 0, 0, NULL, 0, 0, {0, {0}}, 0};
            if ((rc = read_counts(r, &c))) {
                counts_free(&c);
                return rc;
            }
            counts_free(best);
            *best = c;
            *best_key = k;
        } else if (whole && !strcmp(key, "physical_to_logical_map") && !*have_map) {
            counts c = {"physical_to_logical_map", 1, 0, 0, 0, -1, 0, 0, NULL, 0, 0, {0, {0}}, 0};
            if ((rc = read_counts(r, &c))) {
                counts_free(&c);
                return rc;
            }
            *map = c;
            *have_map = 1;
        } else if (whole && !strcmp(key, "model") && !*model_seen) {
            *model_seen = 1; /* the first "model" counts; a string there describes, it is no shape */
            if (ch == '{') {
                if ((rc = read_model(r, model))) return rc;
            } else if ((rc = jr_skip(r))) {
                return rc;
            }
        } else if ((rc = jr_skip(r))) {
            return rc;
        }
        jr_ws(r);
        int e = jr_get(r);
        if (e == '}') return 0;
        if (e != ',') {
            if (e >= 0) r->pos--;
            return jr_syntax(r);
        }
    }
}

int mp_loads_read_json(mp_loads **out, const char *path, mp_err *err)
{
    *out = NULL;
    FILE *fp = fopen(path, "rb");
    if (!fp) return mp_err_set(err, MP_EIO, "%s: cannot open", path);
    long long size = mp_file_size(fp);
    if (size < 0) {
        fclose(fp);
        return mp_err_set(err, MP_EIO, "%s: not a regular file", path);
    }
    if (size > JSON_FILE_MAX) {
        fclose(fp);
        return mp_err_set(err, MP_ELIMIT, "%s: %lld bytes of JSON exceed the limit of %lld", path, size, JSON_FILE_MAX);
    }
    jrd *r = calloc(1, sizeof *r);
    if (!r) {
        fclose(fp);
        return mp_err_set(err, MP_ENOMEM, "%s: out of memory", path);
    }
    r->fp = fp;
    r->path = path;
    r->err = err;
    counts best = {"", 0, 0, 0, 0, -1, 0, 0, NULL, 0, 0, {0, {0}}, 0};
    counts map = {"physical_to_logical_map", 1, 0, 0, 0, -1, 0, 0, NULL, 0, 0, {0, {0}}, 0};
    int best_key = N_LOAD_KEYS, have_map = 0, model_seen = 0, rc;
    char *model = NULL;
    mp_loads *l = NULL;
    /* a UTF-8 byte order mark is allowed */
    if (jr_peek(r) == 0xEF) {
        const char bom[] = "\xEF\xBB\xBF";
        if ((rc = jr_literal(r, bom))) goto done;
    }
    jr_ws(r);
    int ch = jr_peek(r), is_obj = ch == '{';
    if (ch == '{') {
        jr_get(r);
        rc = read_object(r, &best, &best_key, &map, &have_map, &model, &model_seen);
    } else if (ch == '[') {
        best_key = 0;
        rc = read_counts(r, &best);
    } else {
        rc = jr_skip(r);
        if (!rc) rc = mp_err_set(err, MP_EFORMAT, "%s: the top level is neither an object nor an array", path);
    }
    if (rc) goto done;
    jr_ws(r);
    if (jr_peek(r) >= 0) {
        rc = mp_err_set(err, MP_EFORMAT, "%s: offset %lld: text after the JSON value", path, jr_off(r));
        goto done;
    }
    if (ferror(fp)) {
        rc = mp_err_set(err, MP_EIO, "%s: read failed", path);
        goto done;
    }
    if (is_obj && best_key == N_LOAD_KEYS) {
        rc = mp_err_set(err, MP_EFORMAT,
                        "%s: no load array (looked for logical_count, load_share, expert_load, expert_load_window, "
                        "expert_load_pass, load, loads, counts)", path);
        goto done;
    }
    if ((rc = counts_to_loads(&l, &best, path, err))) goto done;
    const char *name = best.name;
    if (have_map && strcmp(name, "logical_count") != 0 && strcmp(name, "load_share") != 0 &&
        (rc = fold_physical(&l, &map, path, err)))
        goto done;
    if (model) {
        int32_t L = l->layers, E = l->experts;
        char what[600];
        snprintf(what, sizeof what, "%s: model", path);
        rc = mp_model_from_json(&l->model, model, strlen(model), what, err);
        if (rc == 0 && (l->model.layers != L || l->model.experts != E))
            rc = mp_err_set(err, MP_ESHAPE, "%s: model says %d layers x %d experts, %s is %d x %d", path, l->model.layers,
                            l->model.experts, name, L, E);
        l->has_model = rc == 0;
    }
done:
    if (rc) {
        mp_loads_destroy(l);
        l = NULL;
    }
    *out = l;
    counts_free(&best);
    counts_free(&map);
    free(model);
    free(r->cap);
    free(r);
    fclose(fp);
    return rc;
}

/* ---------------------------------------------------------------- writing */

static int put_num(FILE *fp, double v)
{
    if (v == floor(v) && fabs(v) < 9007199254740992.0) return fprintf(fp, "%.0f", v) < 0;
    return fprintf(fp, "%.17g", v) < 0;
}

int mp_loads_write_json(const mp_loads *l, const char *path, int keep_steps, mp_err *err)
{
    mp_ofile *of;
    int rc = mp_ofile_open(&of, path, err);
    if (rc) return rc;
    FILE *fp = mp_ofile_stream(of);
    int bad = fputs("{\"format\": \"moeplace-loads\", \"version\": 1,", fp) < 0;
    if (!bad && l->has_model) {
        char *js = mp_model_to_json(&l->model);
        bad = !js || fprintf(fp, "\n \"model\": %s,", js) < 0;
        free(js);
    }
    int three = keep_steps || l->steps != 1;
    if (!bad) bad = fputs("\n \"logical_count\": [", fp) < 0;
    for (int32_t s = 0; !bad && s < (three ? l->steps : 1); s++) {
        if (three) bad = fprintf(fp, "%s\n  [", s ? "," : "") < 0;
        for (int32_t li = 0; !bad && li < l->layers; li++) {
            bad = fprintf(fp, "%s\n  %s[", li ? "," : "", three ? " " : "") < 0;
            const double *row = mp_loads_row(l, s, li);
            for (int32_t e = 0; !bad && e < l->experts; e++) {
                if (e) bad = fputs(", ", fp) < 0;
                if (!bad) bad = put_num(fp, row[e]);
            }
            if (!bad) bad = fputc(']', fp) < 0;
        }
        if (three && !bad) bad = fputc(']', fp) < 0;
    }
    if (!bad) bad = fputs("\n ]\n}\n", fp) < 0;
    if (bad) {
        int e = errno;
        rc = mp_err_set(err, MP_EIO, "%s: write error: %s", mp_ofile_path(of), strerror(e));
        mp_ofile_abort(of);
        return rc;
    }
    return mp_ofile_commit(of, err);
}

/* The trace writer: counts assignments per (step,) layer and expert. */
typedef struct json_writer {
    char *path;
    mp_model model;
    int per_step;
    int64_t cells, nmat, cap;
    double *acc;
} json_writer;

static void jsonw_abort(void *state)
{
    json_writer *w = state;
    if (!w) return;
    free(w->acc);
    free(w->path);
    free(w);
}

static int jsonw_open(void **state, const char *path, const mp_model *m, const mp_write_opts *opts, mp_err *err)
{
    *state = NULL;
    json_writer *w = calloc(1, sizeof *w);
    if (!w || !(w->path = strdup(path))) {
        free(w);
        return mp_err_set(err, MP_ENOMEM, "%s: out of memory", path);
    }
    w->model = *m;
    w->per_step = opts->loads_per_step;
    w->cells = (int64_t)m->layers * m->experts;
    w->cap = 1;
    w->nmat = w->per_step ? 0 : 1;
    if (!(w->acc = calloc((size_t)w->cells, sizeof *w->acc))) {
        jsonw_abort(w);
        return mp_err_set(err, MP_ENOMEM, "%s: out of memory", path);
    }
    *state = w;
    return 0;
}

static int jsonw_put(void *state, const mp_step *p, mp_err *err)
{
    json_writer *w = state;
    if (w->per_step && p->first_token == 0) {
        if (w->nmat == w->cap) {
            int64_t ncap = w->cap * 2;
            if (ncap * w->cells > MP_LOADS_CELLS_MAX) ncap = MP_LOADS_CELLS_MAX / w->cells;
            if (w->nmat >= ncap || ncap > INT32_MAX)
                return mp_err_set(err, MP_ELIMIT, "%s: too many steps to keep per step (%lld)", w->path, (long long)w->nmat);
            double *na = realloc(w->acc, (size_t)(ncap * w->cells) * sizeof *na);
            if (!na) return mp_err_set(err, MP_ENOMEM, "%s: out of memory", w->path);
            w->acc = na;
            w->cap = ncap;
        }
        memset(w->acc + w->nmat * w->cells, 0, (size_t)w->cells * sizeof *w->acc);
        w->nmat++;
    }
    double *dst = w->acc + (w->nmat - 1) * w->cells;
    int32_t L = p->layers, K = p->top_k, E = w->model.experts;
    for (int64_t t = 0; t < p->tokens; t++)
        for (int32_t l = 0; l < L; l++) {
            const mp_expert_id *ids = p->ids + (t * L + l) * K;
            double *row = dst + (int64_t)l * E;
            for (int32_t k = 0; k < K; k++) row[ids[k]] += 1;
        }
    return 0;
}

static int jsonw_commit(void *state, mp_err *err)
{
    json_writer *w = state;
    int rc;
    if (w->nmat == 0) {
        rc = mp_err_set(err, MP_EFORMAT, "%s: no steps to count (the input is empty)", w->path);
    } else {
        mp_loads l = {(int32_t)w->nmat, w->model.layers, w->model.experts, 1, w->model, w->acc};
        rc = mp_loads_write_json(&l, w->path, w->per_step, err);
    }
    jsonw_abort(w);
    return rc;
}

static const mp__writer_ops json_writer_ops = {jsonw_open, jsonw_put, jsonw_commit, jsonw_abort};

static int json_read_loads(mp_loads **out, const char *path, const mp_read_opts *opts, mp_err *err)
{
    (void)opts;
    return mp_loads_read_json(out, path, err);
}

const mp__format mp__format_json = {MP_FMT_JSON, "json", ".json", NULL, &json_writer_ops, json_sniff, json_read_loads, NULL};
