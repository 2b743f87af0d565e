/* check_json.c - a small recursive-descent JSON parser into a tree (for
 * baseline files). */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sim/mp__json.h"

typedef struct parser {
    const char *s;
    size_t len, pos;
    const char *what;
    mp_err *err;
} parser;

static int fail(parser *p, int code, const char *msg)
{
    return mp_err_set(p->err, code, "%s: offset %zu: %s", p->what, p->pos, msg);
}

static void skip_ws(parser *p)
{
    while (p->pos < p->len) {
        char c = p->s[p->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
        p->pos++;
    }
}

static void free_kids(mp__json *j)
{
    for (int i = 0; i < j->n; i++) {
        if (j->keys) free(j->keys[i]);
        free_kids(&j->kid[i]);
    }
    free(j->keys);
    free(j->kid);
    free(j->str);
}

void mp__json_free(mp__json *j)
{
    if (!j) return;
    free_kids(j);
    free(j);
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static int parse_string(parser *p, char **out)
{
    /* at the opening quote */
    p->pos++;
    char buf[MP__JSON_STR_MAX + 8];
    size_t n = 0;
    for (;;) {
        if (p->pos >= p->len) return fail(p, MP_EFORMAT, "unterminated string");
        unsigned char c = (unsigned char)p->s[p->pos++];
        if (c == '"') break;
        if (c < 0x20) return fail(p, MP_EFORMAT, "control character in string");
        if (c == '\\') {
            if (p->pos >= p->len) return fail(p, MP_EFORMAT, "unterminated string");
            char e = p->s[p->pos++];
            switch (e) {
            case '"': c = '"'; break;
            case '\\': c = '\\'; break;
            case '/': c = '/'; break;
            case 'b': c = '\b'; break;
            case 'f': c = '\f'; break;
            case 'n': c = '\n'; break;
            case 'r': c = '\r'; break;
            case 't': c = '\t'; break;
            case 'u': {
                if (p->len - p->pos < 4) return fail(p, MP_EFORMAT, "bad \\u escape");
                int v = 0;
                for (int i = 0; i < 4; i++) {
                    int h = hexval(p->s[p->pos + i]);
                    if (h < 0) return fail(p, MP_EFORMAT, "bad \\u escape");
                    v = v * 16 + h;
                }
                p->pos += 4;
                if (v >= 0x80 || v == 0) return fail(p, MP_EFORMAT, "only ASCII \\u escapes are accepted");
                c = (unsigned char)v;
                break;
            }
            default: return fail(p, MP_EFORMAT, "bad escape in string");
            }
        }
        if (n >= MP__JSON_STR_MAX) return fail(p, MP_ELIMIT, "string longer than 4096 bytes");
        buf[n++] = (char)c;
    }
    char *s = malloc(n + 1);
    if (!s) return fail(p, MP_ENOMEM, "out of memory");
    memcpy(s, buf, n);
    s[n] = 0;
    *out = s;
    return 0;
}

static int parse_number(parser *p, mp__json *j)
{
    size_t b = p->pos;
    if (p->pos < p->len && p->s[p->pos] == '-') p->pos++;
    size_t digits = p->pos;
    while (p->pos < p->len && p->s[p->pos] >= '0' && p->s[p->pos] <= '9') p->pos++;
    if (p->pos == digits) return fail(p, MP_EFORMAT, "bad number");
    if (p->pos < p->len && p->s[p->pos] == '.') {
        p->pos++;
        size_t f = p->pos;
        while (p->pos < p->len && p->s[p->pos] >= '0' && p->s[p->pos] <= '9') p->pos++;
        if (p->pos == f) return fail(p, MP_EFORMAT, "bad number");
    }
    if (p->pos < p->len && (p->s[p->pos] == 'e' || p->s[p->pos] == 'E')) {
        p->pos++;
        if (p->pos < p->len && (p->s[p->pos] == '+' || p->s[p->pos] == '-')) p->pos++;
        size_t f = p->pos;
        while (p->pos < p->len && p->s[p->pos] >= '0' && p->s[p->pos] <= '9') p->pos++;
        if (p->pos == f) return fail(p, MP_EFORMAT, "bad number");
    }
    char tmp[64];
    size_t n = p->pos - b;
    if (n >= sizeof tmp) {
        p->pos = b;
        return fail(p, MP_EFORMAT, "number too long");
    }
    memcpy(tmp, p->s + b, n);
    tmp[n] = 0;
    j->type = MP__J_NUM;
    j->num = strtod(tmp, NULL);
    if (!isfinite(j->num)) {
        p->pos = b;
        return fail(p, MP_ERANGE, "number out of range");
    }
    return 0;
}

static int lit(parser *p, const char *w)
{
    size_t n = strlen(w);
    if (p->len - p->pos >= n && memcmp(p->s + p->pos, w, n) == 0) {
        p->pos += n;
        return 1;
    }
    return 0;
}

static int parse_value(parser *p, mp__json *j, int depth);

/* appends one member; grows geometrically */
static int grow(parser *p, mp__json *j, int *cap, int obj)
{
    if (j->n < *cap) return 0;
    int nc = *cap ? *cap * 2 : 4;
    mp__json *k = realloc(j->kid, (size_t)nc * sizeof *k);
    if (!k) return fail(p, MP_ENOMEM, "out of memory");
    j->kid = k;
    if (obj) {
        char **ks = realloc(j->keys, (size_t)nc * sizeof *ks);
        if (!ks) return fail(p, MP_ENOMEM, "out of memory");
        j->keys = ks;
    }
    *cap = nc;
    return 0;
}

/* The keys of one object seen so far, as an open-addressing hash set of
 * indices into j->keys (slot = index + 1, 0 = empty), so that duplicate
 * detection stays linear in the number of keys.  Small objects (the usual
 * case) are scanned directly and need no table. */
#define KEYSET_MIN 16

typedef struct keyset {
    int *slot;
    size_t size; /* a power of two, or 0 */
} keyset;

static size_t key_hash(const char *s)
{
    size_t h = (size_t)14695981039346656037ull; /* FNV-1a */
    for (; *s; s++) h = (h ^ (unsigned char)*s) * (size_t)1099511628211ull;
    return h;
}

static void keyset_put(keyset *ks, char *const *keys, int i)
{
    size_t m = ks->size - 1, h = key_hash(keys[i]) & m;
    while (ks->slot[h]) h = (h + 1) & m;
    ks->slot[h] = i + 1;
}

/* 1 when `key` is among keys[0..n-1], 0 when not, MP_ENOMEM */
static int key_seen(keyset *ks, char *const *keys, int n, const char *key)
{
    if (n < KEYSET_MIN) {
        for (int i = 0; i < n; i++)
            if (strcmp(keys[i], key) == 0) return 1;
        return 0;
    }
    if ((size_t)n * 2 >= ks->size) { /* (re)build at load <= 1/2 */
        size_t size = ks->size ? ks->size : 4 * KEYSET_MIN;
        while ((size_t)n * 2 >= size) size *= 2;
        int *slot = calloc(size, sizeof *slot);
        if (!slot) return MP_ENOMEM;
        free(ks->slot);
        ks->slot = slot;
        ks->size = size;
        for (int i = 0; i < n; i++) keyset_put(ks, keys, i);
    }
    size_t m = ks->size - 1;
    for (size_t h = key_hash(key) & m; ks->slot[h]; h = (h + 1) & m)
        if (strcmp(keys[ks->slot[h] - 1], key) == 0) return 1;
    return 0;
}

static int parse_members(parser *p, mp__json *j, int depth, int obj, keyset *ks)
{
    char close = obj ? '}' : ']';
    int cap = 0, rc;
    for (;;) {
        skip_ws(p);
        if ((rc = grow(p, j, &cap, obj))) return rc;
        mp__json *k = &j->kid[j->n];
        memset(k, 0, sizeof *k);
        if (obj) {
            if (p->pos >= p->len || p->s[p->pos] != '"') return fail(p, MP_EFORMAT, "expected a key string");
            char *key;
            size_t at = p->pos;
            if ((rc = parse_string(p, &key))) return rc;
            int seen = key_seen(ks, j->keys, j->n, key);
            if (seen) {
                free(key);
                if (seen < 0) return fail(p, MP_ENOMEM, "out of memory");
                p->pos = at;
                return fail(p, MP_EFORMAT, "duplicate key");
            }
            j->keys[j->n] = key;
            if (ks->size) keyset_put(ks, j->keys, j->n);
            j->n++; /* owned from here on, value empty */
            skip_ws(p);
            if (p->pos >= p->len || p->s[p->pos] != ':') return fail(p, MP_EFORMAT, "expected ':'");
            p->pos++;
        } else {
            j->n++;
        }
        if ((rc = parse_value(p, k, depth + 1))) return rc;
        skip_ws(p);
        if (p->pos >= p->len) return fail(p, MP_EFORMAT, obj ? "unterminated object" : "unterminated array");
        char c = p->s[p->pos++];
        if (c == close) return 0;
        if (c != ',') {
            p->pos--;
            return fail(p, MP_EFORMAT, obj ? "expected ',' or '}'" : "expected ',' or ']'");
        }
    }
}

static int parse_container(parser *p, mp__json *j, int depth, int obj)
{
    if (depth >= MP__JSON_DEPTH_MAX) return fail(p, MP_ELIMIT, "nesting deeper than 32");
    j->type = obj ? MP__J_OBJ : MP__J_ARR;
    p->pos++;
    skip_ws(p);
    char close = obj ? '}' : ']';
    if (p->pos < p->len && p->s[p->pos] == close) {
        p->pos++;
        return 0;
    }
    keyset ks = {NULL, 0};
    int rc = parse_members(p, j, depth, obj, &ks);
    free(ks.slot);
    return rc;
}

static int parse_value(parser *p, mp__json *j, int depth)
{
    skip_ws(p);
    j->offset = p->pos;
    if (p->pos >= p->len) return fail(p, MP_EFORMAT, "unexpected end of input");
    char c = p->s[p->pos];
    if (c == '{') return parse_container(p, j, depth, 1);
    if (c == '[') return parse_container(p, j, depth, 0);
    if (c == '"') {
        j->type = MP__J_STR;
        return parse_string(p, &j->str);
    }
    if (c == '-' || (c >= '0' && c <= '9')) return parse_number(p, j);
    if (lit(p, "true")) {
        j->type = MP__J_BOOL;
        j->num = 1;
        return 0;
    }
    if (lit(p, "false")) {
        j->type = MP__J_BOOL;
        return 0;
    }
    if (lit(p, "null")) {
        j->type = MP__J_NULL;
        return 0;
    }
    return fail(p, MP_EFORMAT, "unexpected character");
}

int mp__json_parse(mp__json **out, const char *text, size_t len, const char *what, mp_err *err)
{
    *out = NULL;
    parser p = {text, len, 0, what, err};
    mp__json *j = calloc(1, sizeof *j);
    if (!j) return mp_err_set(err, MP_ENOMEM, "%s: out of memory", what);
    int rc = parse_value(&p, j, 0);
    if (!rc) {
        skip_ws(&p);
        if (p.pos != p.len) rc = fail(&p, MP_EFORMAT, "trailing text after the JSON value");
    }
    if (rc) {
        mp__json_free(j);
        return rc;
    }
    *out = j;
    return 0;
}

const mp__json *mp__json_get(const mp__json *obj, const char *key)
{
    if (!obj || obj->type != MP__J_OBJ) return NULL;
    for (int i = 0; i < obj->n; i++)
        if (strcmp(obj->keys[i], key) == 0) return &obj->kid[i];
    return NULL;
}
