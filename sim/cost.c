/* cost.c - the cost model: defaults, validation, JSON read/write, expert and link times. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/mp_cost.h"
#include "traces/mp_file.h"
#include "traces/mp_jsonw.h"
#include "traces/mp_text.h"

mp_cost mp_cost_default(void)
{
    mp_cost c;
    memset(&c, 0, sizeof c);
    snprintf(c.name, sizeof c.name, "%s", "h100-nvlink-400g");
    c.hbm_GBps = 3000.0;     /* an H100's measured d2d copy: 3.01 TB/s */
    c.peak_tflops = 800.0;   /* bf16 GEMM ~800 TFLOP/s                    */
    c.expert_fixed_us = 4.0; /* one GEMM launch set per expert            */
    c.weight_bytes = 2.0;
    c.act_bytes = 2.0;
    c.nvlink_GBps = 450.0;
    c.net_GBps = 50.0; /* 400 Gb/s */
    c.dispatch_fixed_us = 10.0;
    c.combine_fixed_us = 10.0;
    return c;
}

/* The numeric fields, in JSON order, with where they live and the one range
 * every reader of them applies (cost files here, the command-line flags
 * through mp_cost_field_find).  Bandwidths, peak and byte sizes must be
 * positive: 1e-6 is the smallest that keeps the figures finite (a 1e-300
 * bandwidth makes every time infinite); hidden/intermediate 0 means the
 * model's, and their upper bound is the model's (2^24). */
#define BIG 1e15
#define SIZE_MAX_ 16777216.0 /* 2^24, as mp_model_validate */
static const mp_cost_field FIELDS[] = {
    {"hbm_GBps", offsetof(mp_cost, hbm_GBps), 1e-6, BIG, 0},
    {"peak_tflops", offsetof(mp_cost, peak_tflops), 1e-6, BIG, 0},
    {"expert_fixed_us", offsetof(mp_cost, expert_fixed_us), 0, BIG, 0},
    {"weight_bytes", offsetof(mp_cost, weight_bytes), 1e-6, BIG, 0},
    {"act_bytes", offsetof(mp_cost, act_bytes), 1e-6, BIG, 0},
    {"hidden", offsetof(mp_cost, hidden), 0, SIZE_MAX_, 1},
    {"intermediate", offsetof(mp_cost, intermediate), 0, SIZE_MAX_, 1},
    {"nvlink_GBps", offsetof(mp_cost, nvlink_GBps), 1e-6, BIG, 0},
    {"net_GBps", offsetof(mp_cost, net_GBps), 1e-6, BIG, 0},
    {"dispatch_fixed_us", offsetof(mp_cost, dispatch_fixed_us), 0, BIG, 0},
    {"combine_fixed_us", offsetof(mp_cost, combine_fixed_us), 0, BIG, 0},
};
#define N_FIELDS ((int)(sizeof FIELDS / sizeof FIELDS[0]))

int mp_cost_field_count(void) { return N_FIELDS; }

const mp_cost_field *mp_cost_field_at(int i) { return i >= 0 && i < N_FIELDS ? &FIELDS[i] : NULL; }

const mp_cost_field *mp_cost_field_find(const char *key)
{
    for (int i = 0; key && i < N_FIELDS; i++)
        if (!strcmp(FIELDS[i].key, key)) return &FIELDS[i];
    return NULL;
}

int mp_cost_field_check(const mp_cost_field *f, double v, const char *what, mp_err *err)
{
    if (!(v >= f->lo && v <= f->hi)) /* NaN fails too */
        return mp_err_set(err, MP_ERANGE, "%s: %s: %.15g is outside [%.15g, %.15g]", what, f->key, v, f->lo, f->hi);
    if (f->is_int && v != floor(v))
        return mp_err_set(err, MP_ERANGE, "%s: %s: %.15g is not a whole number", what, f->key, v);
    return 0;
}

static double get_num(const mp_cost *c, const mp_cost_field *k)
{
    const char *p = (const char *)c + k->off;
    if (k->is_int) return (double)*(const int64_t *)(const void *)p;
    return *(const double *)(const void *)p;
}

int mp_cost_validate(const mp_cost *c, const char *what, mp_err *err)
{
    for (int i = 0; i < N_FIELDS; i++) {
        int rc = mp_cost_field_check(&FIELDS[i], get_num(c, &FIELDS[i]), what, err);
        if (rc) return rc;
    }
    if (c->table_len < 0 || c->table_len > MP_COST_TABLE_MAX)
        return mp_err_set(err, MP_ERANGE, "%s: expert_table has %d points (at most %d)", what, (int)c->table_len,
                          MP_COST_TABLE_MAX);
    for (int32_t i = 0; i < c->table_len; i++) {
        const mp_cost_point *p = &c->table[i];
        if (!isfinite(p->rows) || !isfinite(p->us) || p->rows < 0 || p->us < 0 || p->rows > 1e12 || p->us > 1e12)
            return mp_err_set(err, MP_ERANGE, "%s: expert_table[%d] = [%g, %g] is out of range", what, (int)i, p->rows,
                              p->us);
        if (i > 0 && !(p->rows > c->table[i - 1].rows))
            return mp_err_set(err, MP_ERANGE, "%s: expert_table[%d]: rows %g not above the previous %g", what, (int)i,
                              p->rows, c->table[i - 1].rows);
    }
    return 0;
}

static int parse_table(mp_cost *c, const cJSON *a, const char *what, mp_err *err)
{
    if (!cJSON_IsArray(a)) return mp_err_set(err, MP_EFORMAT, "%s: expert_table: not an array", what);
    int n = cJSON_GetArraySize(a);
    if (n > MP_COST_TABLE_MAX)
        return mp_err_set(err, MP_ELIMIT, "%s: expert_table has %d points (at most %d)", what, n, MP_COST_TABLE_MAX);
    int i = 0;
    for (const cJSON *p = a->child; p; p = p->next, i++) {
        if (!cJSON_IsArray(p) || cJSON_GetArraySize(p) != 2 || !cJSON_IsNumber(p->child) ||
            !cJSON_IsNumber(p->child->next))
            return mp_err_set(err, MP_EFORMAT, "%s: expert_table[%d]: want [rows, us]", what, i);
        c->table[i].rows = p->child->valuedouble;
        c->table[i].us = p->child->next->valuedouble;
    }
    c->table_len = n;
    return 0;
}

int mp_cost_from_json(mp_cost *out, const char *json, size_t len, const char *what, mp_err *err)
{
    if (len > MP_COST_FILE_MAX) return mp_err_set(err, MP_ELIMIT, "%s: %zu bytes is too large for a cost file", what, len);
    cJSON *root = cJSON_ParseWithLength(json, len);
    if (!root) {
        const char *e = cJSON_GetErrorPtr();
        long off = (e && e >= json && e <= json + len) ? (long)(e - json) : 0;
        return mp_err_set(err, MP_EFORMAT, "%s: offset %ld: not valid JSON", what, off);
    }
    mp_cost c = mp_cost_default();
    int rc = 0;
    if (!cJSON_IsObject(root)) {
        rc = mp_err_set(err, MP_EFORMAT, "%s: offset 0: a cost model is a JSON object", what);
        goto done;
    }
    const cJSON *schema = cJSON_GetObjectItemCaseSensitive(root, "schema");
    if (!cJSON_IsString(schema) || strcmp(schema->valuestring, MP_COST_SCHEMA) != 0) {
        rc = mp_err_set(err, MP_EFORMAT, "%s: \"schema\" must be \"%s\"", what, MP_COST_SCHEMA);
        goto done;
    }
    const cJSON *ver = cJSON_GetObjectItemCaseSensitive(root, "schema_version");
    if (!cJSON_IsNumber(ver)) {
        rc = mp_err_set(err, MP_EFORMAT, "%s: \"schema_version\" missing or not a number", what);
        goto done;
    }
    if (ver->valuedouble != MP_COST_SCHEMA_VERSION) {
        rc = mp_err_set(err, MP_EVERSION, "%s: schema_version %g is not supported (want %d)", what, ver->valuedouble,
                        MP_COST_SCHEMA_VERSION);
        goto done;
    }
    for (const cJSON *it = root->child; it; it = it->next) {
        const char *k = it->string ? it->string : "";
        if (!strcmp(k, "schema") || !strcmp(k, "schema_version")) continue;
        if (!strcmp(k, "name")) {
            if (!cJSON_IsString(it) || strlen(it->valuestring) >= sizeof c.name) {
                rc = mp_err_set(err, MP_EFORMAT, "%s: \"name\" must be a string under %zu bytes", what, sizeof c.name);
                goto done;
            }
            const char *bad = mp_text_name_problem(it->valuestring, strlen(it->valuestring));
            if (bad) {
                rc = mp_err_set(err, MP_EFORMAT, "%s: \"name\" %s", what, bad);
                goto done;
            }
            snprintf(c.name, sizeof c.name, "%s", it->valuestring);
            continue;
        }
        if (!strcmp(k, "expert_table")) {
            if ((rc = parse_table(&c, it, what, err))) goto done;
            continue;
        }
        if (!strcmp(k, "source")) { /* free-form provenance, ignored */
            continue;
        }
        int i;
        for (i = 0; i < N_FIELDS; i++)
            if (!strcmp(k, FIELDS[i].key)) break;
        if (i == N_FIELDS) {
            rc = mp_err_set(err, MP_EFORMAT, "%s: unknown key \"%.64s\"", what, k);
            goto done;
        }
        if (!cJSON_IsNumber(it)) {
            rc = mp_err_set(err, MP_EFORMAT, "%s: \"%s\" must be a number", what, k);
            goto done;
        }
        double v = it->valuedouble;
        char *p = (char *)&c + FIELDS[i].off;
        if ((rc = mp_cost_field_check(&FIELDS[i], v, what, err))) goto done;
        if (FIELDS[i].is_int) {
            *(int64_t *)(void *)p = (int64_t)v;
        } else {
            *(double *)(void *)p = v;
        }
    }
    if ((rc = mp_cost_validate(&c, what, err))) goto done;
    *out = c;
done:
    cJSON_Delete(root);
    return rc;
}

int mp_cost_read(mp_cost *out, const char *path, mp_err *err)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) return mp_err_set(err, MP_EIO, "%s: cannot open", path);
    char *buf = malloc(MP_COST_FILE_MAX + 1);
    if (!buf) {
        fclose(fp);
        return mp_err_set(err, MP_ENOMEM, "%s: out of memory", path);
    }
    size_t n = fread(buf, 1, MP_COST_FILE_MAX + 1, fp);
    int bad = ferror(fp);
    fclose(fp);
    int rc;
    if (bad)
        rc = mp_err_set(err, MP_EIO, "%s: read error", path);
    else if (n > MP_COST_FILE_MAX)
        rc = mp_err_set(err, MP_ELIMIT, "%s: larger than %d bytes: not a cost file", path, MP_COST_FILE_MAX);
    else
        rc = mp_cost_from_json(out, buf, n, path, err);
    free(buf);
    return rc;
}

char *mp_cost_to_json(const mp_cost *c)
{
    mp_jw w;
    mp_jw_string(&w);
    mp_jw_raw(&w, "{\"schema\": \"%s\", \"schema_version\": %d, \"name\": ", MP_COST_SCHEMA, MP_COST_SCHEMA_VERSION);
    char name[sizeof c->name + 1];
    size_t nl = strnlen(c->name, sizeof c->name);
    memcpy(name, c->name, nl);
    name[nl] = '\0';
    mp_jw_str(&w, name);
    for (int i = 0; i < N_FIELDS; i++) {
        mp_jw_raw(&w, ", ");
        mp_jw_key(&w, FIELDS[i].key);
        if (FIELDS[i].is_int) mp_jw_int(&w, (int64_t)get_num(c, &FIELDS[i]));
        else mp_jw_num(&w, get_num(c, &FIELDS[i]));
    }
    mp_jw_raw(&w, ", \"expert_table\": [");
    for (int32_t i = 0; i < c->table_len; i++) {
        mp_jw_raw(&w, "%s[", i ? ", " : "");
        mp_jw_num(&w, c->table[i].rows);
        mp_jw_raw(&w, ", ");
        mp_jw_num(&w, c->table[i].us);
        mp_jw_raw(&w, "]");
    }
    mp_jw_raw(&w, "]}\n");
    return mp_jw_take(&w);
}

int mp_cost_write(const mp_cost *c, const char *path, mp_err *err)
{
    char *s = mp_cost_to_json(c);
    if (!s) return mp_err_set(err, MP_ENOMEM, "%s: out of memory", path);
    mp_ofile *f;
    int rc = mp_ofile_open(&f, path, err);
    if (rc) {
        free(s);
        return rc;
    }
    fputs(s, mp_ofile_stream(f));
    free(s);
    return mp_ofile_commit(f, err);
}

int64_t mp_cost_hidden(const mp_cost *c, const mp_model *m)
{
    return c->hidden > 0 ? c->hidden : (m ? m->hidden : 0);
}

int64_t mp_cost_intermediate(const mp_cost *c, const mp_model *m)
{
    return c->intermediate > 0 ? c->intermediate : (m ? m->intermediate : 0);
}

double mp_cost_expert_us(const mp_cost *c, const mp_model *m, double rows)
{
    if (rows <= 0) return 0.0;
    if (c->table_len == 1) return c->table[0].us;
    if (c->table_len >= 2) {
        const mp_cost_point *t = c->table;
        int32_t n = c->table_len, i = 1;
        while (i < n - 1 && rows > t[i].rows) i++;
        /* segment [i-1, i]; extrapolate linearly past the ends */
        double span = t[i].rows - t[i - 1].rows;
        double us = t[i - 1].us + (rows - t[i - 1].rows) * (t[i].us - t[i - 1].us) / span;
        return us > 0 ? us : 0.0;
    }
    double h = (double)mp_cost_hidden(c, m), in = (double)mp_cost_intermediate(c, m);
    double params = 3.0 * h * in;
    double mem_us = params * c->weight_bytes / (c->hbm_GBps * 1e3);  /* bytes / (GB/s) in us */
    double fl_us = 2.0 * params * rows / (c->peak_tflops * 1e6);     /* flops / (TFLOP/s) in us */
    return (mem_us > fl_us ? mem_us : fl_us) + c->expert_fixed_us;
}

double mp_cost_link_us(const mp_cost *c, double nvl_bytes, double net_bytes)
{
    double a = nvl_bytes / (c->nvlink_GBps * 1e3), b = net_bytes / (c->net_GBps * 1e3);
    return a > b ? a : b;
}
