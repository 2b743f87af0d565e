/*
 * fmt_json.c - JSON load files: expert load counts, not per-token routing.
 *
 * Read (mp__json_read_loads), any of:
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
 * Counts must be finite and non-negative; rows must all have E entries.
 *
 * Write: mp_loads_write_json, and a trace writer that counts the pieces it
 * is given and writes the loads at commit.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "traces/mp__format.h"
#include "traces/mp_file.h"
#include "traces/mp_text.h"

#define JSON_FILE_MAX ((long long)128 << 20) /* bytes of JSON text accepted (parsed, it takes many times that in memory) */

static int json_sniff(const unsigned char *h, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (h[i] != ' ' && h[i] != '\n' && h[i] != '\t' && h[i] != '\r') return h[i] == '{' || h[i] == '[';
    return 0;
}

static const char *const load_keys[] = {"logical_count", "load_share", "expert_load", "expert_load_window",
                                        "expert_load_pass", "load", "loads", "counts"};

/* Size of a non-empty array, or an error naming `where`. */
static int array_size(const cJSON *a, const char *path, const char *where, int *n, mp_err *err)
{
    if (!cJSON_IsArray(a))
        return mp_err_set(err, MP_EFORMAT, "%s: %s: expected an array, found %s", path, where,
                          cJSON_IsNull(a) ? "null" : cJSON_IsNumber(a) ? "a number" : cJSON_IsString(a) ? "a string"
                                                   : cJSON_IsObject(a) ? "an object" : "another value");
    *n = cJSON_GetArraySize(a);
    if (*n == 0) return mp_err_set(err, MP_ESHAPE, "%s: %s: empty array", path, where);
    return 0;
}

/* Copies row `a` (E numbers) into dst. */
static int read_row(const cJSON *a, int32_t E, double *dst, const char *path, const char *where, mp_err *err)
{
    int n, rc = array_size(a, path, where, &n, err);
    if (rc) return rc;
    if (n != E) return mp_err_set(err, MP_ESHAPE, "%s: %s: %d entries, the first row has %d", path, where, n, E);
    int i = 0;
    for (const cJSON *v = a->child; v; v = v->next, i++) {
        if (!cJSON_IsNumber(v))
            return mp_err_set(err, MP_EFORMAT, "%s: %s[%d]: not a number", path, where, i);
        double d = v->valuedouble;
        if (!isfinite(d)) return mp_err_set(err, MP_ERANGE, "%s: %s[%d]: count is not finite", path, where, i);
        if (d < 0) return mp_err_set(err, MP_ERANGE, "%s: %s[%d]: count %g is negative", path, where, i, d);
        dst[i] = d;
    }
    return 0;
}

/* vLLM counts per physical slot; with the object's physical_to_logical_map
 * [L][P] the slots are folded into logical experts (E = largest id + 1). */
static int fold_physical(mp_loads **io, const cJSON *map, const char *path, mp_err *err)
{
    mp_loads *in = *io;
    int n, rc = array_size(map, path, "physical_to_logical_map", &n, err);
    if (rc) return rc;
    if (n != in->layers)
        return mp_err_set(err, MP_ESHAPE, "%s: physical_to_logical_map: %d layers, the loads have %d", path, n, in->layers);
    int32_t *ids = malloc((size_t)in->layers * (size_t)in->experts * sizeof *ids);
    if (!ids) return mp_err_set(err, MP_ENOMEM, "%s: out of memory", path);
    int32_t E = 0, li = 0;
    char where[64];
    for (const cJSON *row = map->child; row && rc == 0; row = row->next, li++) {
        snprintf(where, sizeof where, "physical_to_logical_map[%d]", li);
        int m;
        if ((rc = array_size(row, path, where, &m, err))) break;
        if (m != in->experts) {
            rc = mp_err_set(err, MP_ESHAPE, "%s: %s: %d slots, the loads have %d", path, where, m, in->experts);
            break;
        }
        int p = 0;
        for (const cJSON *v = row->child; v; v = v->next, p++) {
            if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || v->valuedouble < 0 ||
                v->valuedouble >= MP_EXPERTS_MAX) {
                rc = mp_err_set(err, MP_ERANGE, "%s: %s[%d]: not an expert id 0..%d", path, where, p, MP_EXPERTS_MAX - 1);
                break;
            }
            int32_t id = (int32_t)v->valuedouble;
            ids[(int64_t)li * in->experts + p] = id;
            if (id + 1 > E) E = id + 1;
        }
    }
    mp_loads *outl = NULL;
    mp_err sub;
    if (rc == 0 && mp_loads_create(&outl, in->steps, in->layers, E, &sub))
        rc = mp_err_set(err, sub.code, "%s: %s", path, sub.msg);
    if (rc == 0) {
        for (int32_t s = 0; s < in->steps; s++)
            for (int32_t l = 0; l < in->layers; l++) {
                const double *src = mp_loads_row(in, s, l);
                double *dst = mp_loads_row(outl, s, l);
                for (int32_t p = 0; p < in->experts; p++) dst[ids[(int64_t)l * in->experts + p]] += src[p];
            }
        mp_loads_destroy(in);
        *io = outl;
    }
    free(ids);
    return rc;
}

static int parse_loads(mp_loads **out, const cJSON *root, const char *path, mp_err *err)
{
    const cJSON *arr = root, *model = NULL;
    const char *name = "";
    if (cJSON_IsObject(root)) {
        arr = NULL;
        for (size_t i = 0; i < sizeof load_keys / sizeof load_keys[0] && !arr; i++) {
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, load_keys[i]);
            if (v && !cJSON_IsNull(v)) {
                arr = v;
                name = load_keys[i];
            }
        }
        if (!arr)
            return mp_err_set(err, MP_EFORMAT,
                              "%s: no load array (looked for logical_count, load_share, expert_load, expert_load_window, "
                              "expert_load_pass, load, loads, counts)", path);
        model = cJSON_GetObjectItemCaseSensitive(root, "model");
        if (model && !cJSON_IsObject(model)) model = NULL; /* SGLang dumps may hold a model description string */
    } else if (!cJSON_IsArray(root)) {
        return mp_err_set(err, MP_EFORMAT, "%s: the top level is neither an object nor an array", path);
    }
    char where[96];
    snprintf(where, sizeof where, "%s", name[0] ? name : "(top level)");
    int n0, n1, n2 = 0, rc;
    if ((rc = array_size(arr, path, where, &n0, err))) return rc;
    snprintf(where, sizeof where, "%s[0]", name);
    if ((rc = array_size(arr->child, path, where, &n1, err))) return rc;
    int depth = cJSON_IsArray(arr->child->child) ? 3 : 2;
    if (depth == 3) {
        snprintf(where, sizeof where, "%s[0][0]", name);
        if ((rc = array_size(arr->child->child, path, where, &n2, err))) return rc;
    }
    int32_t S = depth == 3 ? n0 : 1, L = depth == 3 ? n1 : n0, E = depth == 3 ? n2 : n1;
    if (L > MP_LAYERS_MAX)
        return mp_err_set(err, MP_ELIMIT, "%s: %s: %d layers (limit %d)", path, name, L, MP_LAYERS_MAX);
    if (E > MP_EXPERTS_MAX)
        return mp_err_set(err, MP_ELIMIT, "%s: %s: %d experts (limit %d)", path, name, E, MP_EXPERTS_MAX);
    mp_loads *l;
    mp_err sub;
    if (mp_loads_create(&l, S, L, E, &sub))
        return mp_err_set(err, sub.code, "%s: %s: %d x %d x %d counts: %s", path, name, S, L, E, sub.msg);
    int s = 0;
    for (const cJSON *sv = depth == 3 ? arr->child : arr; sv && rc == 0; sv = depth == 3 ? sv->next : NULL, s++) {
        const cJSON *layers = depth == 3 ? sv : arr;
        int nl;
        if (depth == 3) {
            snprintf(where, sizeof where, "%s[%d]", name, s);
            if ((rc = array_size(layers, path, where, &nl, err))) break;
            if (nl != L) {
                rc = mp_err_set(err, MP_ESHAPE, "%s: %s: %d layers, the first has %d", path, where, nl, L);
                break;
            }
        }
        int li = 0;
        for (const cJSON *row = layers->child; row && rc == 0; row = row->next, li++) {
            if (depth == 3) snprintf(where, sizeof where, "%s[%d][%d]", name, s, li);
            else snprintf(where, sizeof where, "%s[%d]", name, li);
            if (depth == 2 && cJSON_IsArray(row) && row->child && cJSON_IsArray(row->child))
                rc = mp_err_set(err, MP_ESHAPE, "%s: %s: nested deeper than the first row", path, where);
            else rc = read_row(row, E, mp_loads_row(l, s, li), path, where, err);
        }
    }
    const cJSON *map = cJSON_IsObject(root) ? cJSON_GetObjectItemCaseSensitive(root, "physical_to_logical_map") : NULL;
    if (rc == 0 && map && strcmp(name, "logical_count") != 0 && strcmp(name, "load_share") != 0)
        rc = fold_physical(&l, map, path, err);
    if (rc == 0 && model) {
        char *txt = cJSON_PrintUnformatted(model);
        char what[600];
        snprintf(what, sizeof what, "%s: model", path);
        rc = txt ? mp_model_from_json(&l->model, txt, strlen(txt), what, err) : mp_err_set(err, MP_ENOMEM, "%s: out of memory", path);
        free(txt);
        if (rc == 0 && (l->model.layers != L || l->model.experts != E))
            rc = mp_err_set(err, MP_ESHAPE, "%s: model says %d layers x %d experts, %s is %d x %d", path, l->model.layers,
                            l->model.experts, name, L, E);
        l->has_model = rc == 0;
    }
    if (rc) {
        mp_loads_destroy(l);
        return rc;
    }
    *out = l;
    return 0;
}

int mp__json_read_loads(mp_loads **out, const char *path, mp_err *err)
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
    char *buf = malloc((size_t)size + 1);
    if (!buf) {
        fclose(fp);
        return mp_err_set(err, MP_ENOMEM, "%s: out of memory", path);
    }
    size_t got = fread(buf, 1, (size_t)size, fp);
    fclose(fp);
    if (got != (size_t)size) {
        free(buf);
        return mp_err_set(err, MP_EIO, "%s: read failed", path);
    }
    buf[size] = '\0';
    const char *end = NULL;
    long long nul = mp_json_nul_escape(buf, (size_t)size); /* a parser would cut the string there */
    cJSON *root = nul >= 0 ? NULL : cJSON_ParseWithLengthOpts(buf, (size_t)size, &end, 0);
    int rc;
    if (nul >= 0) {
        rc = mp_err_set(err, MP_EFORMAT, "%s: offset %lld: a string holds a NUL character (\\u0000)", path, nul);
    } else if (!root) {
        long long off = end && end >= buf && end <= buf + size ? (long long)(end - buf) : 0;
        rc = mp_err_set(err, MP_EFORMAT, "%s: offset %lld: invalid JSON", path, off);
    } else {
        while (end && end < buf + size && (*end == ' ' || *end == '\n' || *end == '\r' || *end == '\t')) end++;
        if (end && end < buf + size)
            rc = mp_err_set(err, MP_EFORMAT, "%s: offset %lld: text after the JSON value", path, (long long)(end - buf));
        else rc = parse_loads(out, root, path, err);
    }
    cJSON_Delete(root);
    free(buf);
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
        mp_ofile_abort(of);
        return mp_err_set(err, MP_EIO, "%s: write failed", path);
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

const mp__format mp__format_json = {MP_FMT_JSON, "json", ".json", 0, NULL, &json_writer_ops, json_sniff};
