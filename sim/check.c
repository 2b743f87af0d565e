/* check.c - baseline files (read, validate, write) and the comparison of an
 * evaluation with a baseline under a relative tolerance. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/mp__json.h"
#include "sim/mp_check.h"
#include "traces/mp_file.h"
#include "traces/mp_text.h"

void mp_baseline_destroy(mp_baseline *b) { free(b); }

/* "WHAT: offset N: " and the message (a JSON path first, where it helps) */
#if defined(__GNUC__)
__attribute__((format(printf, 5, 6)))
#endif
static int bad_at(mp_err *err, int code, const char *what, size_t off, const char *fmt, ...)
{
    char msg[MP_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return mp_err_set(err, code, "%s: offset %zu: %s", what, off, msg);
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

/* a required integer member PATH.KEY of o, in [lo, hi] */
static int get_int(const mp__json *o, const char *path, const char *key, int64_t lo, int64_t hi, int64_t *out,
                   const char *what, mp_err *err)
{
    const mp__json *v = mp__json_get(o, key);
    if (!v) return bad_at(err, MP_EFORMAT, what, o->offset, "%s.%s: missing", path, key);
    if (v->type != MP__J_NUM || v->num != floor(v->num))
        return bad_at(err, MP_EFORMAT, what, v->offset, "%s.%s: must be an integer", path, key);
    if (v->num < (double)lo || v->num > (double)hi)
        return bad_at(err, MP_ERANGE, what, v->offset, "%s.%s: %.17g is outside %lld..%lld", path, key, v->num,
                      (long long)lo, (long long)hi);
    *out = (int64_t)v->num;
    return 0;
}

/* a string value at PATH: 1..cap-1 bytes, no control characters */
static int get_name(const mp__json *v, char *dst, size_t cap, const char *path, const char *what, mp_err *err)
{
    if (v->type != MP__J_STR) return bad_at(err, MP_EFORMAT, what, v->offset, "%s: must be a string", path);
    size_t n = strlen(v->str);
    if (n == 0 || n >= cap)
        return bad_at(err, MP_ERANGE, what, v->offset, "%s: is empty or longer than %zu bytes", path, cap - 1);
    const char *bad = mp_text_name_problem(v->str, n);
    if (bad) return bad_at(err, MP_ERANGE, what, v->offset, "%s: %s", path, bad);
    memcpy(dst, v->str, n + 1);
    return 0;
}

/* every key of o is one of keys; path names o ("" for the top level) */
static int only_keys(const mp__json *o, const char *const *keys, const char *path, const char *what, mp_err *err)
{
    for (int i = 0; i < o->n; i++) {
        int ok = 0;
        for (int k = 0; keys[k]; k++) ok |= strcmp(o->keys[i], keys[k]) == 0;
        if (!ok)
            return bad_at(err, MP_EFORMAT, what, o->kid[i].offset, "%s%s%s: unknown key", path, path[0] ? "." : "",
                          o->keys[i]);
    }
    return 0;
}

/* a required object member; *out NULL when it is absent and may be */
static int get_obj(const mp__json *root, const char *key, int required, const mp__json **out, const char *what,
                   mp_err *err)
{
    const mp__json *v = mp__json_get(root, key);
    *out = NULL;
    if (!v || (v->type == MP__J_NULL && !required)) {
        if (required) return bad_at(err, MP_EFORMAT, what, root->offset, "%s: missing", key);
        return 0;
    }
    if (v->type != MP__J_OBJ) return bad_at(err, MP_EFORMAT, what, v->offset, "%s: must be an object", key);
    *out = v;
    return 0;
}

/* Every setup key is required: a default could change between versions and
 * silently change what the gate measures. */
static int parse_setup(mp_baseline *b, const mp__json *s, const char *what, mp_err *err)
{
    static const char *const keys[] = {"gpus", "nodes", "redundant", "policy", "seed", "locality", NULL};
    int rc = only_keys(s, keys, "setup", what, err);
    if (rc) return rc;
    b->setup_offset = s->offset;
    int64_t gpus, nodes, red, seed;
    if ((rc = get_int(s, "setup", "gpus", 1, 65536, &gpus, what, err)) ||
        (rc = get_int(s, "setup", "nodes", 1, 65536, &nodes, what, err)) ||
        (rc = get_int(s, "setup", "redundant", 0, 1 << 20, &red, what, err)) ||
        (rc = get_int(s, "setup", "seed", 0, (int64_t)1 << 53, &seed, what, err)))
        return rc;
    if (gpus % nodes)
        return bad_at(err, MP_ERANGE, what, mp__json_get(s, "nodes")->offset,
                      "setup.nodes: %lld GPUs do not split over %lld nodes", (long long)gpus, (long long)nodes);
    b->setup.gpus = (int32_t)gpus;
    b->setup.nodes = (int32_t)nodes;
    b->setup.redundant = (int32_t)red;
    b->setup.seed = (uint64_t)seed;
    const mp__json *p = mp__json_get(s, "policy");
    if (!p) return bad_at(err, MP_EFORMAT, what, s->offset, "setup.policy: missing");
    if ((rc = get_name(p, b->setup.policy, sizeof b->setup.policy, "setup.policy", what, err))) return rc;
    if (!mp_policy_find(b->setup.policy)) {
        char known[256];
        return bad_at(err, MP_ERANGE, what, p->offset, "setup.policy: unknown policy '%s' (known: %s)",
                      b->setup.policy, name_list(known, sizeof known, mp_policy_count(), policy_name));
    }
    const mp__json *w = mp__json_get(s, "locality");
    if (!w) return bad_at(err, MP_EFORMAT, what, s->offset, "setup.locality: missing");
    if (w->type != MP__J_NUM) return bad_at(err, MP_EFORMAT, what, w->offset, "setup.locality: must be a number");
    if (!(w->num >= 0 && w->num <= 1))
        return bad_at(err, MP_ERANGE, what, w->offset, "setup.locality: %g is outside 0..1", w->num);
    b->setup.locality = w->num;
    return 0;
}

static int parse_entries(mp_baseline *b, const mp__json *root, const char *what, mp_err *err)
{
    static const char *const keys[] = {"name", "strategy", "plan", NULL};
    const mp__json *a = mp__json_get(root, "entries");
    if (!a) return bad_at(err, MP_EFORMAT, what, root->offset, "entries: missing");
    if (a->type != MP__J_ARR) return bad_at(err, MP_EFORMAT, what, a->offset, "entries: must be an array");
    if (a->n < 1) return bad_at(err, MP_EFORMAT, what, a->offset, "entries: empty (a gate must check something)");
    if (a->n > MP_EVAL_ENTRIES_MAX)
        return bad_at(err, MP_ELIMIT, what, a->offset, "entries: more than %d", MP_EVAL_ENTRIES_MAX);
    int rc;
    char path[64], sub[80];
    for (int i = 0; i < a->n; i++) {
        const mp__json *o = &a->kid[i];
        mp_eval_entry *e = &b->setup.entry[i];
        snprintf(path, sizeof path, "entries[%d]", i);
        if (o->type != MP__J_OBJ) return bad_at(err, MP_EFORMAT, what, o->offset, "%s: must be an object", path);
        if ((rc = only_keys(o, keys, path, what, err))) return rc;
        const mp__json *st = mp__json_get(o, "strategy"), *pl = mp__json_get(o, "plan"), *nm = mp__json_get(o, "name");
        if (!st == !pl)
            return bad_at(err, MP_EFORMAT, what, o->offset, "%s: needs exactly one of \"strategy\" and \"plan\"", path);
        snprintf(sub, sizeof sub, "%s.%s", path, st ? "strategy" : "plan");
        if (st && (rc = get_name(st, e->strategy, sizeof e->strategy, sub, what, err))) return rc;
        if (pl && (rc = get_name(pl, e->plan, sizeof e->plan, sub, what, err))) return rc;
        if (st && !mp_strategy_find(e->strategy)) {
            char known[256];
            return bad_at(err, MP_ERANGE, what, st->offset, "%s: unknown strategy '%s' (known: %s)", sub, e->strategy,
                          name_list(known, sizeof known, mp_strategy_count(), strategy_name));
        }
        if (nm) {
            snprintf(sub, sizeof sub, "%s.name", path);
            if ((rc = get_name(nm, e->name, sizeof e->name, sub, what, err))) return rc;
        } else if (st) {
            memcpy(e->name, e->strategy, sizeof e->name);
        } else {
            return bad_at(err, MP_EFORMAT, what, o->offset, "%s: a plan entry needs a \"name\"", path);
        }
        for (int j = 0; j < i; j++) {
            const mp_eval_entry *f = &b->setup.entry[j];
            if (strcmp(f->name, e->name) == 0)
                return bad_at(err, MP_EFORMAT, what, o->offset, "%s: name '%s' given twice (also entries[%d])", path,
                              e->name, j);
            if (st && strcmp(f->strategy, e->strategy) == 0)
                return bad_at(err, MP_EFORMAT, what, o->offset, "%s: strategy '%s' given twice (also entries[%d])",
                              path, e->strategy, j);
            if (pl && strcmp(f->plan, e->plan) == 0)
                return bad_at(err, MP_EFORMAT, what, o->offset, "%s: plan '%s' given twice (also entries[%d])", path,
                              e->plan, j);
        }
        b->setup.nentries = i + 1;
    }
    return 0;
}

/* "metrics" may be absent (a baseline to fill); mp_baseline_gate refuses
 * to gate on one that is incomplete. */
static int parse_metrics(mp_baseline *b, const mp__json *root, const char *what, mp_err *err)
{
    const mp__json *m;
    int rc = get_obj(root, "metrics", 0, &m, what, err);
    if (rc) return rc;
    b->metrics_offset = m ? m->offset : root->offset;
    if (!m) return 0;
    b->metrics_given = 1;
    char known[256];
    for (int i = 0; i < m->n; i++) {
        int e = -1;
        for (int k = 0; k < b->setup.nentries; k++)
            if (strcmp(b->setup.entry[k].name, m->keys[i]) == 0) e = k;
        const mp__json *o = &m->kid[i];
        if (e < 0)
            return bad_at(err, MP_EFORMAT, what, o->offset, "metrics.%s: not the name of an entry", m->keys[i]);
        if (o->type != MP__J_OBJ)
            return bad_at(err, MP_EFORMAT, what, o->offset, "metrics.%s: must be an object", m->keys[i]);
        for (int j = 0; j < o->n; j++) {
            const mp__json *v = &o->kid[j];
            int id = mp_metric_find(o->keys[j]);
            if (id < 0)
                return bad_at(err, MP_EFORMAT, what, v->offset, "metrics.%s.%s: unknown metric (known: %s)", m->keys[i],
                              o->keys[j], name_list(known, sizeof known, MP_METRICS, metric_name));
            if (v->type != MP__J_NUM)
                return bad_at(err, MP_EFORMAT, what, v->offset, "metrics.%s.%s: must be a number", m->keys[i],
                              o->keys[j]);
            if (!(v->num >= 0)) /* every metric is >= 0; a negative one could never regress */
                return bad_at(err, MP_ERANGE, what, v->offset, "metrics.%s.%s: %g is negative", m->keys[i],
                              o->keys[j], v->num);
            b->metric[e][id] = v->num;
        }
        b->has_metrics[e] = 1;
        b->metrics_offset_of[e] = o->offset;
    }
    return 0;
}

/* the optional "trace" the baseline was recorded on */
static int parse_trace(mp_baseline *b, const mp__json *root, const char *what, mp_err *err)
{
    static const char *const keys[] = {"model", "layers", "experts", "top_k", "steps", "tokens", NULL};
    const mp__json *t;
    int rc = get_obj(root, "trace", 0, &t, what, err);
    if (rc || !t) return rc;
    if ((rc = only_keys(t, keys, "trace", what, err))) return rc;
    mp_baseline_trace *bt = &b->trace;
    bt->given = 1;
    const mp__json *v = mp__json_get(t, "model");
    if (v) {
        if ((rc = get_name(v, bt->model, sizeof bt->model, "trace.model", what, err))) return rc;
        bt->model_offset = v->offset;
    }
    static const char *const ints[] = {"layers", "experts", "top_k", "steps", "tokens"};
    const int64_t hi[] = {MP_LAYERS_MAX, MP_EXPERTS_MAX, MP_TOPK_MAX, (int64_t)1 << 53, (int64_t)1 << 53};
    int64_t val[5] = {0, 0, 0, -1, -1};
    for (int i = 0; i < 5; i++) {
        if (!mp__json_get(t, ints[i])) continue;
        if ((rc = get_int(t, "trace", ints[i], i < 3 ? 1 : 0, hi[i], &val[i], what, err))) return rc;
        if (i < 3) bt->shape_offset[i] = mp__json_get(t, ints[i])->offset;
    }
    bt->layers = (int32_t)val[0];
    bt->experts = (int32_t)val[1];
    bt->top_k = (int32_t)val[2];
    bt->steps = val[3];
    bt->tokens = val[4];
    return 0;
}

int mp_baseline_parse(mp_baseline **out, const char *text, size_t len, const char *what, mp_err *err)
{
    *out = NULL;
    if (len > MP_BASELINE_FILE_MAX) return mp_err_set(err, MP_ELIMIT, "%s: larger than 1 MiB", what);
    mp__json *j;
    int rc = mp__json_parse(&j, text, len, what, err);
    if (rc) return rc;
    mp_baseline *b = calloc(1, sizeof *b);
    if (!b) {
        mp__json_free(j);
        return mp_err_set(err, MP_ENOMEM, "%s: out of memory", what);
    }
    b->setup = mp_eval_setup_default();
    snprintf(b->what, sizeof b->what, "%s", what);
    for (int e = 0; e < MP_EVAL_ENTRIES_MAX; e++)
        for (int i = 0; i < MP_METRICS; i++) b->metric[e][i] = NAN;
    static const char *const keys[] = {"schema", "schema_version", "setup", "entries", "metrics", "trace", NULL};
    const mp__json *sc = mp__json_get(j, "schema"), *ver = mp__json_get(j, "schema_version"), *setup = NULL;
    if (j->type != MP__J_OBJ) {
        rc = bad_at(err, MP_EFORMAT, what, j->offset, "a baseline must be a JSON object");
    } else if (!sc || sc->type != MP__J_STR || strcmp(sc->str, MP_BASELINE_SCHEMA) != 0) {
        rc = bad_at(err, MP_EFORMAT, what, (sc ? sc : j)->offset, "schema: must be \"" MP_BASELINE_SCHEMA "\"");
    } else if (!ver || ver->type != MP__J_NUM) {
        rc = bad_at(err, MP_EFORMAT, what, (ver ? ver : j)->offset, "schema_version: must be a number");
    } else if (ver->num != MP_BASELINE_SCHEMA_VERSION) {
        rc = mp_err_set(err, MP_EVERSION, "%s: offset %zu: schema_version %g is not supported (1 is)", what,
                        ver->offset, ver->num);
    } else if (!(rc = only_keys(j, keys, "", what, err)) && !(rc = get_obj(j, "setup", 1, &setup, what, err)) &&
               !(rc = parse_setup(b, setup, what, err)) && !(rc = parse_entries(b, j, what, err)) &&
               !(rc = parse_metrics(b, j, what, err)) && !(rc = parse_trace(b, j, what, err))) {
        mp_err e2;
        if (mp_eval_setup_validate(&b->setup, &e2)) rc = mp_err_set(err, MP_ERANGE, "%s: %s", what, e2.msg);
    }
    mp__json_free(j);
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
            return bad_at(err, MP_ERANGE, b->what, b->setup_offset, "setup: %s", sub.msg);
    }
    return 0;
}

int mp_baseline_gate(const mp_baseline *b, const mp_model *model, mp_err *err)
{
    const char *what = b->what;
    if (!b->metrics_given)
        return bad_at(err, MP_EFORMAT, what, b->metrics_offset, "metrics: missing (the baseline has no figures to gate on)");
    int any = 0;
    for (int e = 0; e < b->setup.nentries; e++) any |= b->has_metrics[e];
    if (!any) return bad_at(err, MP_EFORMAT, what, b->metrics_offset, "metrics: empty (the baseline has no figures to gate on)");
    for (int e = 0; e < b->setup.nentries; e++) {
        const char *name = b->setup.entry[e].name;
        if (!b->has_metrics[e])
            return bad_at(err, MP_EFORMAT, what, b->metrics_offset, "metrics.%s: missing (entry '%s' has no figures)",
                          name, name);
        for (int m = 0; m < MP_METRICS; m++)
            if (isnan(b->metric[e][m]))
                return bad_at(err, MP_EFORMAT, what, b->metrics_offset_of[e], "metrics.%s.%s: missing", name,
                              mp_metric_at(m)->name);
    }
    const mp_baseline_trace *t = &b->trace;
    if (!model || !t->given) return 0;
    if (t->model[0] && strcmp(t->model, "-") != 0 && model->name[0] && strcmp(t->model, model->name) != 0)
        return bad_at(err, MP_ESHAPE, what, t->model_offset,
                      "trace.model: recorded on a trace of model '%s', this trace is of '%s'", t->model, model->name);
    const int32_t rec[3] = {t->layers, t->experts, t->top_k}, now[3] = {model->layers, model->experts, model->top_k};
    static const char *const key[3] = {"layers", "experts", "top_k"};
    for (int i = 0; i < 3; i++)
        if (rec[i] && rec[i] != now[i])
            return bad_at(err, MP_ESHAPE, what, t->shape_offset[i],
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

typedef struct sbuf {
    char *s;
    size_t n, cap;
    int oom;
} sbuf;

static void put(sbuf *b, const char *fmt, ...)
{
    if (b->oom) return;
    va_list ap;
    va_start(ap, fmt);
    int need = vsnprintf(b->s ? b->s + b->n : NULL, b->s ? b->cap - b->n : 0, fmt, ap);
    va_end(ap);
    if (need < 0) {
        b->oom = 1;
        return;
    }
    if (b->n + (size_t)need + 1 > b->cap) {
        size_t nc = (b->cap + (size_t)need + 1) * 2;
        char *s = realloc(b->s, nc);
        if (!s) {
            b->oom = 1;
            return;
        }
        b->s = s;
        b->cap = nc;
        va_start(ap, fmt);
        vsnprintf(b->s + b->n, b->cap - b->n, fmt, ap);
        va_end(ap);
    }
    b->n += (size_t)need;
}

/* names come from the registry, a parsed baseline or a trace: the one JSON escaper */
static void put_str(sbuf *b, const char *s)
{
    char *q = mp_json_quote(s, strlen(s), NULL);
    if (!q) {
        b->oom = 1;
        return;
    }
    put(b, "%s", q);
    free(q);
}

char *mp_baseline_to_json(const mp_eval *e)
{
    sbuf b = {0};
    const mp_eval_setup *s = &e->setup;
    put(&b, "{\n  \"schema\": \"%s\",\n  \"schema_version\": %d,\n", MP_BASELINE_SCHEMA, MP_BASELINE_SCHEMA_VERSION);
    put(&b, "  \"setup\": {\"gpus\": %d, \"nodes\": %d, \"redundant\": %d, \"policy\": ", s->gpus, s->nodes,
        s->redundant);
    put_str(&b, s->policy);
    put(&b, ", \"seed\": %llu, \"locality\": %.17g},\n", (unsigned long long)s->seed, s->locality);
    put(&b, "  \"trace\": {\"model\": ");
    put_str(&b, e->model.name[0] ? e->model.name : "-");
    if (e->model.layers > 0)
        put(&b, ", \"layers\": %d, \"experts\": %d, \"top_k\": %d", e->model.layers, e->model.experts,
            e->model.top_k);
    put(&b, ", \"steps\": %lld, \"tokens\": %lld},\n", (long long)e->steps, (long long)e->tokens);
    put(&b, "  \"entries\": [\n");
    for (int i = 0; i < s->nentries; i++) {
        put(&b, "    {\"name\": ");
        put_str(&b, s->entry[i].name);
        if (s->entry[i].plan[0]) {
            put(&b, ", \"plan\": ");
            put_str(&b, s->entry[i].plan);
        } else {
            put(&b, ", \"strategy\": ");
            put_str(&b, s->entry[i].strategy);
        }
        put(&b, "}%s\n", i + 1 < s->nentries ? "," : "");
    }
    put(&b, "  ],\n  \"metrics\": {\n");
    for (int i = 0; i < e->n; i++) {
        put(&b, "    ");
        put_str(&b, e->r[i].entry.name);
        put(&b, ": {");
        for (int m = 0; m < MP_METRICS; m++)
            put(&b, "%s\"%s\": %.17g", m ? ", " : "", mp_metric_at(m)->name, e->r[i].metric[m]);
        put(&b, "}%s\n", i + 1 < e->n ? "," : "");
    }
    put(&b, "  }\n}\n");
    if (b.oom) {
        free(b.s);
        return NULL;
    }
    return b.s;
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
            double worse = mp_metric_at(m)->higher_better ? -delta : delta;
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
