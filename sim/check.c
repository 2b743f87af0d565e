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

static int bad(mp_err *err, const char *what, const mp__json *at, const char *msg)
{
    return mp_err_set(err, MP_EFORMAT, "%s: offset %zu: %s", what, at ? at->offset : (size_t)0, msg);
}

/* an integer member in [lo, hi]; absent keeps *out */
static int get_int(const mp__json *o, const char *key, int64_t lo, int64_t hi, int64_t *out, const char *what,
                   mp_err *err)
{
    const mp__json *v = mp__json_get(o, key);
    if (!v) return 0;
    if (v->type != MP__J_NUM || v->num != floor(v->num))
        return mp_err_set(err, MP_EFORMAT, "%s: offset %zu: \"%s\" must be an integer", what, v->offset, key);
    if (v->num < (double)lo || v->num > (double)hi)
        return mp_err_set(err, MP_ERANGE, "%s: offset %zu: \"%s\" out of range", what, v->offset, key);
    *out = (int64_t)v->num;
    return 0;
}

static int get_name(const mp__json *v, char *dst, size_t cap, const char *key, const char *what, mp_err *err)
{
    if (v->type != MP__J_STR)
        return mp_err_set(err, MP_EFORMAT, "%s: offset %zu: \"%s\" must be a string", what, v->offset, key);
    size_t n = strlen(v->str);
    if (n == 0 || n >= cap)
        return mp_err_set(err, MP_ERANGE, "%s: offset %zu: \"%s\" is empty or longer than %zu bytes", what, v->offset,
                          key, cap - 1);
    const char *bad = mp_text_name_problem(v->str, n);
    if (bad) return mp_err_set(err, MP_ERANGE, "%s: offset %zu: \"%s\" %s", what, v->offset, key, bad);
    memcpy(dst, v->str, n + 1);
    return 0;
}

static int only_keys(const mp__json *o, const char *const *keys, const char *what, mp_err *err)
{
    for (int i = 0; i < o->n; i++) {
        int ok = 0;
        for (int k = 0; keys[k]; k++) ok |= strcmp(o->keys[i], keys[k]) == 0;
        if (!ok)
            return mp_err_set(err, MP_EFORMAT, "%s: offset %zu: unknown key \"%s\"", what, o->kid[i].offset,
                              o->keys[i]);
    }
    return 0;
}

static int parse_setup(mp_baseline *b, const mp__json *s, const char *what, mp_err *err)
{
    static const char *const keys[] = {"gpus", "nodes", "redundant", "policy", "seed", "locality", NULL};
    if (!s || s->type != MP__J_OBJ) return bad(err, what, s, "\"setup\" must be an object");
    int rc = only_keys(s, keys, what, err);
    if (rc) return rc;
    int64_t v;
    v = b->setup.gpus;
    if ((rc = get_int(s, "gpus", 1, 65536, &v, what, err))) return rc;
    b->setup.gpus = (int32_t)v;
    v = b->setup.nodes;
    if ((rc = get_int(s, "nodes", 1, 65536, &v, what, err))) return rc;
    b->setup.nodes = (int32_t)v;
    v = b->setup.redundant;
    if ((rc = get_int(s, "redundant", 0, 1 << 20, &v, what, err))) return rc;
    b->setup.redundant = (int32_t)v;
    v = (int64_t)b->setup.seed;
    if ((rc = get_int(s, "seed", 0, (int64_t)1 << 53, &v, what, err))) return rc;
    b->setup.seed = (uint64_t)v;
    const mp__json *p = mp__json_get(s, "policy");
    if (p && (rc = get_name(p, b->setup.policy, sizeof b->setup.policy, "policy", what, err))) return rc;
    const mp__json *w = mp__json_get(s, "locality");
    if (w) {
        if (w->type != MP__J_NUM) return bad(err, what, w, "\"locality\" must be a number");
        b->setup.locality = w->num;
    }
    return 0;
}

static int parse_entries(mp_baseline *b, const mp__json *a, const char *what, mp_err *err)
{
    static const char *const keys[] = {"name", "strategy", "plan", NULL};
    if (!a || a->type != MP__J_ARR) return bad(err, what, a, "\"entries\" must be an array");
    if (a->n < 1) return bad(err, what, a, "\"entries\" is empty");
    if (a->n > MP_EVAL_ENTRIES_MAX) return mp_err_set(err, MP_ELIMIT, "%s: more than %d entries", what, MP_EVAL_ENTRIES_MAX);
    int rc;
    for (int i = 0; i < a->n; i++) {
        const mp__json *o = &a->kid[i];
        mp_eval_entry *e = &b->setup.entry[i];
        if (o->type != MP__J_OBJ) return bad(err, what, o, "an entry must be an object");
        if ((rc = only_keys(o, keys, what, err))) return rc;
        const mp__json *st = mp__json_get(o, "strategy"), *pl = mp__json_get(o, "plan"), *nm = mp__json_get(o, "name");
        if (!st == !pl) return bad(err, what, o, "an entry needs exactly one of \"strategy\" and \"plan\"");
        if (st && (rc = get_name(st, e->strategy, sizeof e->strategy, "strategy", what, err))) return rc;
        if (pl && (rc = get_name(pl, e->plan, sizeof e->plan, "plan", what, err))) return rc;
        if (nm) {
            if ((rc = get_name(nm, e->name, sizeof e->name, "name", what, err))) return rc;
        } else if (st) {
            memcpy(e->name, e->strategy, sizeof e->name);
        } else {
            return bad(err, what, o, "a plan entry needs a \"name\"");
        }
        if (st && !mp_strategy_find(e->strategy))
            return mp_err_set(err, MP_ERANGE, "%s: offset %zu: unknown strategy '%s'", what, st->offset, e->strategy);
        for (int j = 0; j < i; j++)
            if (strcmp(b->setup.entry[j].name, e->name) == 0) return bad(err, what, o, "entry name given twice");
        b->setup.nentries = i + 1;
    }
    return 0;
}

static int parse_metrics(mp_baseline *b, const mp__json *m, const char *what, mp_err *err)
{
    if (!m || m->type == MP__J_NULL) return 0;
    if (m->type != MP__J_OBJ) return bad(err, what, m, "\"metrics\" must be an object");
    for (int i = 0; i < m->n; i++) {
        int e = -1;
        for (int k = 0; k < b->setup.nentries; k++)
            if (strcmp(b->setup.entry[k].name, m->keys[i]) == 0) e = k;
        const mp__json *o = &m->kid[i];
        if (e < 0)
            return mp_err_set(err, MP_EFORMAT, "%s: offset %zu: metrics of '%s', which is not an entry", what,
                              o->offset, m->keys[i]);
        if (o->type != MP__J_OBJ) return bad(err, what, o, "an entry's metrics must be an object");
        for (int j = 0; j < o->n; j++) {
            int id = mp_metric_find(o->keys[j]);
            if (id < 0)
                return mp_err_set(err, MP_EFORMAT, "%s: offset %zu: unknown metric \"%s\"", what, o->kid[j].offset,
                                  o->keys[j]);
            if (o->kid[j].type != MP__J_NUM) return bad(err, what, &o->kid[j], "a metric must be a number");
            b->metric[e][id] = o->kid[j].num;
        }
        b->has_metrics[e] = 1;
    }
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
    for (int e = 0; e < MP_EVAL_ENTRIES_MAX; e++)
        for (int i = 0; i < MP_METRICS; i++) b->metric[e][i] = NAN;
    static const char *const keys[] = {"schema", "schema_version", "setup", "entries", "metrics", "trace", NULL};
    const mp__json *sc = mp__json_get(j, "schema"), *ver = mp__json_get(j, "schema_version");
    if (j->type != MP__J_OBJ) {
        rc = bad(err, what, j, "a baseline must be a JSON object");
    } else if (!sc || sc->type != MP__J_STR || strcmp(sc->str, MP_BASELINE_SCHEMA) != 0) {
        rc = bad(err, what, sc ? sc : j, "\"schema\" must be \"" MP_BASELINE_SCHEMA "\"");
    } else if (!ver || ver->type != MP__J_NUM) {
        rc = bad(err, what, ver ? ver : j, "\"schema_version\" must be a number");
    } else if (ver->num != MP_BASELINE_SCHEMA_VERSION) {
        rc = mp_err_set(err, MP_EVERSION, "%s: offset %zu: schema_version %g is not supported (1 is)", what,
                        ver->offset, ver->num);
    } else if (!(rc = only_keys(j, keys, what, err)) && !(rc = parse_setup(b, mp__json_get(j, "setup"), what, err)) &&
               !(rc = parse_entries(b, mp__json_get(j, "entries"), what, err)) &&
               !(rc = parse_metrics(b, mp__json_get(j, "metrics"), what, err))) {
        mp_err e2;
        if (mp_eval_setup_validate(&b->setup, &e2))
            rc = mp_err_set(err, MP_ERANGE, "%s: %s", what, e2.msg);
    }
    mp__json_free(j);
    if (rc) {
        free(b);
        return rc;
    }
    *out = b;
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
