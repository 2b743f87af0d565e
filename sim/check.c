/* check.c - baseline files (read, validate, write) and the comparison of an
 * evaluation with a baseline under a relative tolerance. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "sim/mp_check.h"
#include "traces/mp_file.h"
#include "traces/mp_jsonw.h"
#include "traces/mp_text.h"

void mp_baseline_destroy(mp_baseline *b) { free(b); }

/* "WHAT: " and the message, which starts with the JSON path at fault */
#if defined(__GNUC__)
__attribute__((format(printf, 4, 5)))
#endif
static int bad(mp_err *err, int code, const char *what, const char *fmt, ...)
{
    char msg[MP_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return mp_err_set(err, code, "%s: %s", what, msg);
}

/* a comma-separated list of names into buf (truncated to fit) */
static const char *name_list(char *buf, size_t cap, int n, const char *(*name)(int))
{
    size_t k = 0;
    buf[0] = 0;
    for (int i = 0; i < n && k < cap; i++) {
        int w = snprintf(buf + k, cap - k, "%s%s", i ? ", " : "", name(i));
        if (w < 0) break;
        k += (size_t)w;
    }
    return buf;
}

static const char *metric_name(int i) { return mp_metric_at(i)->name; }
static const char *strategy_name(int i) { return mp_strategy_at(i)->name; }
static const char *policy_name(int i) { return mp_policy_table()[i].name; }

/* ---- what the hand-written parser guaranteed, checked on cJSON's tree ---- */

#define BASELINE_DEPTH_MAX 32  /* nesting of arrays and objects */
#define BASELINE_STR_MAX 4096  /* bytes of one string or key   */

static int cmp_key(const void *a, const void *b)
{
    return strcmp((*(const cJSON *const *)a)->string, (*(const cJSON *const *)b)->string);
}

/* PATH.KEY (or KEY at the top, PATH[i] in arrays) into buf */
static void sub_path(char *buf, size_t cap, const char *path, const cJSON *parent, const cJSON *kid, int i)
{
    if (cJSON_IsArray(parent)) snprintf(buf, cap, "%s[%d]", path, i);
    else snprintf(buf, cap, "%s%s%s", path, path[0] ? "." : "", kid->string);
}

/* Refuses duplicate keys (each object's keys sorted: O(n log n)), nesting
 * deeper than BASELINE_DEPTH_MAX, strings longer than BASELINE_STR_MAX or
 * holding a raw control character, and numbers out of range, naming the JSON
 * path. */
static int check_tree(const cJSON *j, const char *path, int depth, const char *what, mp_err *err)
{
    if (cJSON_IsString(j)) {
        size_t n = strlen(j->valuestring);
        if (n > BASELINE_STR_MAX)
            return bad(err, MP_ELIMIT, what, "%s: string longer than %d bytes", path[0] ? path : "(top)",
                       BASELINE_STR_MAX);
        for (size_t i = 0; i < n; i++) /* JSON has no raw control characters in strings */
            if ((unsigned char)j->valuestring[i] < 0x20)
                return bad(err, MP_EFORMAT, what, "%s: control character in a string", path[0] ? path : "(top)");
    }
    if (cJSON_IsNumber(j) && !isfinite(j->valuedouble))
        return bad(err, MP_ERANGE, what, "%s: number out of range", path[0] ? path : "(top)");
    if (!cJSON_IsArray(j) && !cJSON_IsObject(j)) return 0;
    if (depth >= BASELINE_DEPTH_MAX)
        return bad(err, MP_ELIMIT, what, "%s: nesting deeper than %d", path[0] ? path : "(top)", BASELINE_DEPTH_MAX);
    size_t n = 0;
    for (const cJSON *k = j->child; k; k = k->next) n++;
    if (cJSON_IsObject(j) && n > 1) {
        const cJSON **keys = malloc(n * sizeof *keys);
        if (!keys) return bad(err, MP_ENOMEM, what, "out of memory");
        size_t i = 0;
        for (const cJSON *k = j->child; k; k = k->next) keys[i++] = k;
        qsort(keys, n, sizeof *keys, cmp_key);
        for (i = 1; i < n && strcmp(keys[i - 1]->string, keys[i]->string) != 0; i++) {}
        if (i < n) {
            char p[256];
            sub_path(p, sizeof p, path, j, keys[i], 0);
            free(keys);
            return bad(err, MP_EFORMAT, what, "%s: duplicate key", p);
        }
        free(keys);
    }
    int i = 0;
    for (const cJSON *k = j->child; k; k = k->next, i++) {
        if (k->string && strlen(k->string) > BASELINE_STR_MAX)
            return bad(err, MP_ELIMIT, what, "%s: a key longer than %d bytes", path[0] ? path : "(top)",
                       BASELINE_STR_MAX);
        char p[256];
        sub_path(p, sizeof p, path, j, k, i);
        int rc = check_tree(k, p, depth + 1, what, err);
        if (rc) return rc;
    }
    return 0;
}

/* a required integer member PATH.KEY of o, in [lo, hi] */
static int get_int(const cJSON *o, const char *path, const char *key, int64_t lo, int64_t hi, int64_t *out,
                   const char *what, mp_err *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v) return bad(err, MP_EFORMAT, what, "%s.%s: missing", path, key);
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble))
        return bad(err, MP_EFORMAT, what, "%s.%s: must be an integer", path, key);
    if (v->valuedouble < (double)lo || v->valuedouble > (double)hi)
        return bad(err, MP_ERANGE, what, "%s.%s: %.17g is outside %lld..%lld", path, key, v->valuedouble,
                   (long long)lo, (long long)hi);
    *out = (int64_t)v->valuedouble;
    return 0;
}

/* a string value at PATH: 1..cap-1 bytes, no control characters */
static int get_name(const cJSON *v, char *dst, size_t cap, const char *path, const char *what, mp_err *err)
{
    if (!cJSON_IsString(v)) return bad(err, MP_EFORMAT, what, "%s: must be a string", path);
    size_t n = strlen(v->valuestring);
    if (n == 0 || n >= cap) return bad(err, MP_ERANGE, what, "%s: is empty or longer than %zu bytes", path, cap - 1);
    const char *why = mp_text_name_problem(v->valuestring, n);
    if (why) return bad(err, MP_ERANGE, what, "%s: %s", path, why);
    memcpy(dst, v->valuestring, n + 1);
    return 0;
}

/* every key of o is one of keys; path names o ("" for the top level) */
static int only_keys(const cJSON *o, const char *const *keys, const char *path, const char *what, mp_err *err)
{
    for (const cJSON *k = o->child; k; k = k->next) {
        int ok = 0;
        for (int i = 0; keys[i]; i++) ok |= strcmp(k->string, keys[i]) == 0;
        if (!ok) return bad(err, MP_EFORMAT, what, "%s%s%s: unknown key", path, path[0] ? "." : "", k->string);
    }
    return 0;
}

/* a required object member; *out NULL when it is absent and may be */
static int get_obj(const cJSON *root, const char *key, int required, const cJSON **out, const char *what, mp_err *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);
    *out = NULL;
    if (!v || (cJSON_IsNull(v) && !required)) {
        if (required) return bad(err, MP_EFORMAT, what, "%s: missing", key);
        return 0;
    }
    if (!cJSON_IsObject(v)) return bad(err, MP_EFORMAT, what, "%s: must be an object", key);
    *out = v;
    return 0;
}

/* Every setup key is required: a default could change between versions and
 * silently change what the gate measures. */
static int parse_setup(mp_baseline *b, const cJSON *s, const char *what, mp_err *err)
{
    static const char *const keys[] = {"gpus", "nodes", "redundant", "policy", "seed", "locality", NULL};
    int rc = only_keys(s, keys, "setup", what, err);
    if (rc) return rc;
    int64_t gpus, nodes, red, seed;
    if ((rc = get_int(s, "setup", "gpus", 1, 65536, &gpus, what, err)) ||
        (rc = get_int(s, "setup", "nodes", 1, 65536, &nodes, what, err)) ||
        (rc = get_int(s, "setup", "redundant", 0, 1 << 20, &red, what, err)) ||
        (rc = get_int(s, "setup", "seed", 0, (int64_t)1 << 53, &seed, what, err)))
        return rc;
    if (gpus % nodes)
        return bad(err, MP_ERANGE, what, "setup.nodes: %lld GPUs do not split over %lld nodes", (long long)gpus,
                   (long long)nodes);
    b->setup.gpus = (int32_t)gpus;
    b->setup.nodes = (int32_t)nodes;
    b->setup.redundant = (int32_t)red;
    b->setup.seed = (uint64_t)seed;
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(s, "policy");
    if (!p) return bad(err, MP_EFORMAT, what, "setup.policy: missing");
    if ((rc = get_name(p, b->setup.policy, sizeof b->setup.policy, "setup.policy", what, err))) return rc;
    if (!mp_policy_find(b->setup.policy)) {
        char known[256];
        return bad(err, MP_ERANGE, what, "setup.policy: unknown policy '%s' (known: %s)", b->setup.policy,
                   name_list(known, sizeof known, mp_policy_count(), policy_name));
    }
    const cJSON *w = cJSON_GetObjectItemCaseSensitive(s, "locality");
    if (!w) return bad(err, MP_EFORMAT, what, "setup.locality: missing");
    if (!cJSON_IsNumber(w)) return bad(err, MP_EFORMAT, what, "setup.locality: must be a number");
    if (!(w->valuedouble >= 0 && w->valuedouble <= 1))
        return bad(err, MP_ERANGE, what, "setup.locality: %g is outside 0..1", w->valuedouble);
    b->setup.locality = w->valuedouble;
    return 0;
}

static int parse_entries(mp_baseline *b, const cJSON *root, const char *what, mp_err *err)
{
    static const char *const keys[] = {"name", "strategy", "plan", NULL};
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(root, "entries");
    if (!a) return bad(err, MP_EFORMAT, what, "entries: missing");
    if (!cJSON_IsArray(a)) return bad(err, MP_EFORMAT, what, "entries: must be an array");
    int n = cJSON_GetArraySize(a);
    if (n < 1) return bad(err, MP_EFORMAT, what, "entries: empty (a gate must check something)");
    if (n > MP_EVAL_ENTRIES_MAX) return bad(err, MP_ELIMIT, what, "entries: more than %d", MP_EVAL_ENTRIES_MAX);
    int rc, i = 0;
    char path[64], sub[80];
    for (const cJSON *o = a->child; o; o = o->next, i++) {
        mp_eval_entry *e = &b->setup.entry[i];
        snprintf(path, sizeof path, "entries[%d]", i);
        if (!cJSON_IsObject(o)) return bad(err, MP_EFORMAT, what, "%s: must be an object", path);
        if ((rc = only_keys(o, keys, path, what, err))) return rc;
        const cJSON *st = cJSON_GetObjectItemCaseSensitive(o, "strategy"),
                    *pl = cJSON_GetObjectItemCaseSensitive(o, "plan"), *nm = cJSON_GetObjectItemCaseSensitive(o, "name");
        if (!st == !pl) return bad(err, MP_EFORMAT, what, "%s: needs exactly one of \"strategy\" and \"plan\"", path);
        snprintf(sub, sizeof sub, "%s.%s", path, st ? "strategy" : "plan");
        if (st && (rc = get_name(st, e->strategy, sizeof e->strategy, sub, what, err))) return rc;
        if (pl && (rc = get_name(pl, e->plan, sizeof e->plan, sub, what, err))) return rc;
        if (st && !mp_strategy_find(e->strategy)) {
            char known[256];
            return bad(err, MP_ERANGE, what, "%s: unknown strategy '%s' (known: %s)", sub, e->strategy,
                       name_list(known, sizeof known, mp_strategy_count(), strategy_name));
        }
        if (nm) {
            snprintf(sub, sizeof sub, "%s.name", path);
            if ((rc = get_name(nm, e->name, sizeof e->name, sub, what, err))) return rc;
        } else if (st) {
            memcpy(e->name, e->strategy, sizeof e->name);
        } else {
            return bad(err, MP_EFORMAT, what, "%s: a plan entry needs a \"name\"", path);
        }
        for (int j = 0; j < i; j++) {
            const mp_eval_entry *f = &b->setup.entry[j];
            if (strcmp(f->name, e->name) == 0)
                return bad(err, MP_EFORMAT, what, "%s: name '%s' given twice (also entries[%d])", path, e->name, j);
            if (st && strcmp(f->strategy, e->strategy) == 0)
                return bad(err, MP_EFORMAT, what, "%s: strategy '%s' given twice (also entries[%d])", path,
                           e->strategy, j);
            if (pl && strcmp(f->plan, e->plan) == 0)
                return bad(err, MP_EFORMAT, what, "%s: plan '%s' given twice (also entries[%d])", path, e->plan, j);
        }
        b->setup.nentries = i + 1;
    }
    return 0;
}

/* the metric a baseline of schema_version `version` names `key`: version 1
 * spelled some metrics otherwise (traces/mp_vocab.h keeps the old spelling) */
static int metric_of_key(const char *key, int version)
{
    int id = mp_metric_find(key);
    if (id < 0 && version < 2) {
        const mp_vocab *v = mp_vocab_find_was(key);
        if (v) id = mp_metric_find(v->name);
    }
    return id;
}

/* "metrics" may be absent (a baseline to fill); mp_baseline_gate refuses
 * to gate on one that is incomplete. */
static int parse_metrics(mp_baseline *b, const cJSON *root, int version, const char *what, mp_err *err)
{
    const cJSON *m;
    int rc = get_obj(root, "metrics", 0, &m, what, err);
    if (rc || !m) return rc;
    b->metrics_given = 1;
    char known[256];
    for (const cJSON *o = m->child; o; o = o->next) {
        int e = -1;
        for (int k = 0; k < b->setup.nentries; k++)
            if (strcmp(b->setup.entry[k].name, o->string) == 0) e = k;
        if (e < 0) return bad(err, MP_EFORMAT, what, "metrics.%s: not the name of an entry", o->string);
        if (!cJSON_IsObject(o)) return bad(err, MP_EFORMAT, what, "metrics.%s: must be an object", o->string);
        for (const cJSON *v = o->child; v; v = v->next) {
            int id = metric_of_key(v->string, version);
            if (id < 0)
                return bad(err, MP_EFORMAT, what, "metrics.%s.%s: unknown metric (known: %s)", o->string, v->string,
                           name_list(known, sizeof known, MP_METRICS, metric_name));
            if (!cJSON_IsNumber(v))
                return bad(err, MP_EFORMAT, what, "metrics.%s.%s: must be a number", o->string, v->string);
            if (!(v->valuedouble >= 0)) /* every metric is >= 0; a negative one could never regress */
                return bad(err, MP_ERANGE, what, "metrics.%s.%s: %g is negative", o->string, v->string,
                           v->valuedouble);
            if (!isnan(b->metric[e][id])) /* an old and a new spelling of one metric */
                return bad(err, MP_EFORMAT, what, "metrics.%s.%s: %s given twice", o->string, v->string,
                           mp_metric_at(id)->name);
            b->metric[e][id] = v->valuedouble;
        }
        b->has_metrics[e] = 1;
    }
    return 0;
}

/* the optional "trace" the baseline was recorded on */
static int parse_trace(mp_baseline *b, const cJSON *root, const char *what, mp_err *err)
{
    static const char *const keys[] = {"model", "layers", "experts", "top_k", "steps", "tokens", NULL};
    const cJSON *t;
    int rc = get_obj(root, "trace", 0, &t, what, err);
    if (rc || !t) return rc;
    if ((rc = only_keys(t, keys, "trace", what, err))) return rc;
    mp_baseline_trace *bt = &b->trace;
    bt->given = 1;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(t, "model");
    if (v && (rc = get_name(v, bt->model, sizeof bt->model, "trace.model", what, err))) return rc;
    static const char *const ints[] = {"layers", "experts", "top_k", "steps", "tokens"};
    const int64_t hi[] = {MP_LAYERS_MAX, MP_EXPERTS_MAX, MP_TOPK_MAX, (int64_t)1 << 53, (int64_t)1 << 53};
    int64_t val[5] = {0, 0, 0, -1, -1};
    for (int i = 0; i < 5; i++) {
        if (!cJSON_GetObjectItemCaseSensitive(t, ints[i])) continue;
        if ((rc = get_int(t, "trace", ints[i], i < 3 ? 1 : 0, hi[i], &val[i], what, err))) return rc;
    }
    bt->layers = (int32_t)val[0];
    bt->experts = (int32_t)val[1];
    bt->top_k = (int32_t)val[2];
    bt->steps = val[3];
    bt->tokens = val[4];
    return 0;
}

/* cJSON's tree of the text, or an error at the byte offset of the fault */
static int parse_json(cJSON **out, const char *text, size_t len, const char *what, mp_err *err)
{
    *out = NULL;
    long long nul = mp_json_nul_escape(text, len); /* a parser would cut the string there */
    if (nul >= 0)
        return mp_err_set(err, MP_EFORMAT, "%s: offset %lld: a string holds a NUL character (\\u0000)", what, nul);
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    size_t off = end && end >= text && end <= text + len ? (size_t)(end - text) : 0;
    if (!j) {
        /* cJSON puts an error at the end of the input on its last byte: a
         * blank added after the text tells a cut-off value from a bad last byte */
        if (len > 0 && off + 1 >= len) {
            char *more = malloc(len + 1);
            if (!more) return mp_err_set(err, MP_ENOMEM, "%s: out of memory", what);
            memcpy(more, text, len);
            more[len] = ' ';
            const char *e2 = NULL;
            cJSON *again = cJSON_ParseWithLengthOpts(more, len + 1, &e2, 0);
            int cut = !again && e2 && e2 >= more + len;
            cJSON_Delete(again);
            free(more);
            if (cut) off = len;
        }
        if (off >= len) return mp_err_set(err, MP_EFORMAT, "%s: offset %zu: unexpected end of input", what, len);
        return mp_err_set(err, MP_EFORMAT, "%s: offset %zu: malformed JSON", what, off);
    }
    while (off < len && (text[off] == ' ' || text[off] == '\t' || text[off] == '\n' || text[off] == '\r')) off++;
    if (off < len) {
        cJSON_Delete(j);
        return mp_err_set(err, MP_EFORMAT, "%s: offset %zu: trailing text after the JSON value", what, off);
    }
    *out = j;
    return 0;
}

int mp_baseline_parse(mp_baseline **out, const char *text, size_t len, const char *what, mp_err *err)
{
    *out = NULL;
    if (len > MP_BASELINE_FILE_MAX) return mp_err_set(err, MP_ELIMIT, "%s: larger than 1 MiB", what);
    cJSON *j;
    int rc = parse_json(&j, text, len, what, err);
    if (rc) return rc;
    if ((rc = check_tree(j, "", 0, what, err))) {
        cJSON_Delete(j);
        return rc;
    }
    mp_baseline *b = calloc(1, sizeof *b);
    if (!b) {
        cJSON_Delete(j);
        return mp_err_set(err, MP_ENOMEM, "%s: out of memory", what);
    }
    b->setup = mp_eval_setup_default();
    snprintf(b->what, sizeof b->what, "%s", what);
    for (int e = 0; e < MP_EVAL_ENTRIES_MAX; e++)
        for (int i = 0; i < MP_METRICS; i++) b->metric[e][i] = NAN;
    static const char *const keys[] = {"schema", "schema_version", "setup", "entries", "metrics", "trace", NULL};
    const cJSON *sc = cJSON_GetObjectItemCaseSensitive(j, "schema"),
                *ver = cJSON_GetObjectItemCaseSensitive(j, "schema_version"), *setup = NULL;
    if (!cJSON_IsObject(j)) {
        rc = bad(err, MP_EFORMAT, what, "a baseline must be a JSON object");
    } else if (!cJSON_IsString(sc) || strcmp(sc->valuestring, MP_BASELINE_SCHEMA) != 0) {
        rc = bad(err, MP_EFORMAT, what, "schema: must be \"" MP_BASELINE_SCHEMA "\"");
    } else if (!cJSON_IsNumber(ver)) {
        rc = bad(err, MP_EFORMAT, what, "schema_version: must be a number");
    } else if (ver->valuedouble != 1 && ver->valuedouble != MP_BASELINE_SCHEMA_VERSION) {
        rc = bad(err, MP_EVERSION, what, "schema_version: %g is not supported (1 and %d are)", ver->valuedouble,
                 MP_BASELINE_SCHEMA_VERSION);
    } else if (!(rc = only_keys(j, keys, "", what, err)) && !(rc = get_obj(j, "setup", 1, &setup, what, err)) &&
               !(rc = parse_setup(b, setup, what, err)) && !(rc = parse_entries(b, j, what, err)) &&
               !(rc = parse_metrics(b, j, (int)ver->valuedouble, what, err)) && !(rc = parse_trace(b, j, what, err))) {
        mp_err e2;
        if (mp_eval_setup_validate(&b->setup, &e2)) rc = mp_err_set(err, MP_ERANGE, "%s: %s", what, e2.msg);
    }
    cJSON_Delete(j);
    if (rc) {
        free(b);
        return rc;
    }
    *out = b;
    return 0;
}

/* ---- fitness for a run ---- */

int mp_baseline_fit(const mp_baseline *b, const mp_model *model, mp_err *err)
{
    const mp_eval_setup *s = &b->setup;
    for (int i = 0; i < s->nentries; i++) {
        const mp_strategy *st = s->entry[i].plan[0] ? NULL : mp_strategy_find(s->entry[i].strategy);
        if (!st) continue;
        mp_topology topo;
        mp_err sub = {0};
        if (mp_eval_topology(&topo, s, st, model->experts, &sub))
            return bad(err, MP_ERANGE, b->what, "setup: %s", sub.msg);
    }
    return 0;
}

int mp_baseline_gate(const mp_baseline *b, const mp_model *model, mp_err *err)
{
    const char *what = b->what;
    if (!b->metrics_given)
        return bad(err, MP_EFORMAT, what, "metrics: missing (the baseline has no figures to gate on)");
    int any = 0;
    for (int e = 0; e < b->setup.nentries; e++) any |= b->has_metrics[e];
    if (!any) return bad(err, MP_EFORMAT, what, "metrics: empty (the baseline has no figures to gate on)");
    for (int e = 0; e < b->setup.nentries; e++) {
        const char *name = b->setup.entry[e].name;
        if (!b->has_metrics[e])
            return bad(err, MP_EFORMAT, what, "metrics.%s: missing (entry '%s' has no figures)",
                          name, name);
        for (int m = 0; m < MP_METRICS; m++)
            if (isnan(b->metric[e][m]))
                return bad(err, MP_EFORMAT, what, "metrics.%s.%s: missing", name,
                              mp_metric_at(m)->name);
    }
    const mp_baseline_trace *t = &b->trace;
    if (!model || !t->given) return 0;
    if (t->model[0] && strcmp(t->model, "-") != 0 && model->name[0] && strcmp(t->model, model->name) != 0)
        return bad(err, MP_ESHAPE, what,
                      "trace.model: recorded on a trace of model '%s', this trace is of '%s'", t->model, model->name);
    const int32_t rec[3] = {t->layers, t->experts, t->top_k}, now[3] = {model->layers, model->experts, model->top_k};
    static const char *const key[3] = {"layers", "experts", "top_k"};
    for (int i = 0; i < 3; i++)
        if (rec[i] && rec[i] != now[i])
            return bad(err, MP_ESHAPE, what,
                          "trace.%s: recorded on a trace with %s %d, this trace has %d", key[i], key[i], rec[i], now[i]);
    return 0;
}

int mp_baseline_read(mp_baseline **out, const char *path, mp_err *err)
{
    *out = NULL;
    FILE *fp = fopen(path, "rb");
    if (!fp) return mp_err_set(err, MP_EIO, "%s: cannot open", path);
    char *buf = malloc((size_t)MP_BASELINE_FILE_MAX + 1);
    if (!buf) {
        fclose(fp);
        return mp_err_set(err, MP_ENOMEM, "%s: out of memory", path);
    }
    size_t n = fread(buf, 1, (size_t)MP_BASELINE_FILE_MAX + 1, fp);
    int rd = ferror(fp);
    fclose(fp);
    int rc;
    if (rd)
        rc = mp_err_set(err, MP_EIO, "%s: read error", path);
    else if (n > MP_BASELINE_FILE_MAX)
        rc = mp_err_set(err, MP_ELIMIT, "%s: larger than 1 MiB", path);
    else
        rc = mp_baseline_parse(out, buf, n, path, err);
    free(buf);
    return rc;
}

/* ---- writing ---- */

/* names come from the registry, a parsed baseline or a trace: the one JSON
 * writer escapes them; metric names are the vocabulary's */
char *mp_baseline_to_json(const mp_eval *e)
{
    mp_jw w;
    mp_jw_string(&w);
    const mp_eval_setup *s = &e->setup;
    mp_jw_raw(&w, "{\n  \"schema\": \"%s\",\n  \"schema_version\": %d,\n", MP_BASELINE_SCHEMA,
              MP_BASELINE_SCHEMA_VERSION);
    mp_jw_raw(&w, "  \"setup\": {\"gpus\": %d, \"nodes\": %d, \"redundant\": %d, \"policy\": ", s->gpus, s->nodes,
              s->redundant);
    mp_jw_str(&w, s->policy);
    mp_jw_raw(&w, ", \"seed\": %llu, \"locality\": ", (unsigned long long)s->seed);
    mp_jw_num(&w, s->locality);
    mp_jw_raw(&w, "},\n  \"trace\": {\"model\": ");
    mp_jw_str(&w, e->model.name[0] ? e->model.name : "-");
    if (e->model.layers > 0)
        mp_jw_raw(&w, ", \"layers\": %d, \"experts\": %d, \"top_k\": %d", e->model.layers, e->model.experts,
                  e->model.top_k);
    mp_jw_raw(&w, ", \"steps\": %lld, \"tokens\": %lld},\n", (long long)e->steps, (long long)e->tokens);
    mp_jw_raw(&w, "  \"entries\": [\n");
    for (int i = 0; i < s->nentries; i++) {
        mp_jw_raw(&w, "    {\"name\": ");
        mp_jw_str(&w, s->entry[i].name);
        if (s->entry[i].plan[0]) {
            mp_jw_raw(&w, ", \"plan\": ");
            mp_jw_str(&w, s->entry[i].plan);
        } else {
            mp_jw_raw(&w, ", \"strategy\": ");
            mp_jw_str(&w, s->entry[i].strategy);
        }
        mp_jw_raw(&w, "}%s\n", i + 1 < s->nentries ? "," : "");
    }
    mp_jw_raw(&w, "  ],\n  \"metrics\": {\n");
    for (int i = 0; i < e->n; i++) {
        mp_jw_raw(&w, "    ");
        mp_jw_key(&w, e->r[i].entry.name);
        mp_jw_raw(&w, "{");
        for (int m = 0; m < MP_METRICS; m++) {
            mp_jw_raw(&w, "%s", m ? ", " : "");
            mp_jw_key(&w, mp_metric_at(m)->name);
            mp_jw_num(&w, e->r[i].metric[m]);
        }
        mp_jw_raw(&w, "}%s\n", i + 1 < e->n ? "," : "");
    }
    mp_jw_raw(&w, "  }\n}\n");
    return mp_jw_take(&w);
}

int mp_baseline_write(const mp_eval *e, const char *path, mp_err *err)
{
    char *s = mp_baseline_to_json(e);
    if (!s) return mp_err_set(err, MP_ENOMEM, "%s: out of memory", path);
    mp_ofile *f;
    int rc = mp_ofile_open(&f, path, err);
    if (!rc) {
        fputs(s, mp_ofile_stream(f));
        rc = mp_ofile_commit(f, err);
    }
    free(s);
    return rc;
}

/* ---- comparison ---- */

int mp_check_compare(mp_check_diff **out, const mp_baseline *b, const mp_eval *e, double tolerance, mp_err *err)
{
    *out = NULL;
    if (!(tolerance >= 0) || !isfinite(tolerance)) /* a NaN tolerance would pass everything */
        return mp_err_set(err, MP_EINVAL, "check: tolerance %g is not a finite number >= 0", tolerance);
    mp_check_diff *d = calloc(1, sizeof *d);
    if (d) d->rows = calloc((size_t)e->n * MP_METRICS, sizeof *d->rows);
    if (!d || !d->rows) {
        free(d);
        return mp_err_set(err, MP_ENOMEM, "check: out of memory");
    }
    for (int i = 0; i < e->n; i++) {
        int bi = -1;
        for (int k = 0; k < b->setup.nentries; k++)
            if (strcmp(b->setup.entry[k].name, e->r[i].entry.name) == 0) bi = k;
        for (int m = 0; m < MP_METRICS; m++) {
            mp_check_row *r = &d->rows[d->nrows++];
            r->entry = i;
            r->metric = m;
            r->now = e->r[i].metric[m];
            r->base = bi >= 0 && b->has_metrics[bi] ? b->metric[bi][m] : NAN;
            if (isnan(r->base)) {
                r->status = MP_CHECK_NEW;
                r->change = NAN;
                d->fresh++;
                continue;
            }
            double delta = r->now - r->base;
            r->change = r->base != 0 ? delta / fabs(r->base) : delta == 0 ? 0 : delta > 0 ? INFINITY : -INFINITY;
            double worse = mp_metric_at(m)->direction == MP_DIR_HIGHER ? -delta : delta;
            double limit = tolerance * fabs(r->base) + 1e-9;
            if (worse > limit) {
                r->status = MP_CHECK_REGRESSED;
                d->regressed++;
            } else if (-worse > limit) {
                r->status = MP_CHECK_IMPROVED;
                d->improved++;
            } else {
                r->status = MP_CHECK_OK;
            }
        }
    }
    *out = d;
    return 0;
}

void mp_check_diff_destroy(mp_check_diff *d)
{
    if (!d) return;
    free(d->rows);
    free(d);
}
