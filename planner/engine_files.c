/* engine_files.c - the files engines load (see mp_planner.h for which file
 * goes where and the engine code that reads each): writing them from a plan,
 * and reading one back to check it as its engine would. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "planner/mp__planner.h"
#include "planner/mp_planner.h"
#include "traces/mp_file.h"
#include "traces/mp_text.h"

static const char *const export_names[] = {"sglang", "trtllm", "vllm", "vllm-ascend", "csv"};
#define N_EXPORTS ((int)(sizeof export_names / sizeof *export_names))

int mp_export_parse(const char *name, mp_export *out)
{
    for (int i = 0; i < N_EXPORTS; i++)
        if (strcmp(name, export_names[i]) == 0) {
            *out = (mp_export)i;
            return 0;
        }
    return MP_ENOTFOUND;
}

const char *mp_export_name(mp_export kind)
{
    return (int)kind >= 0 && (int)kind < N_EXPORTS ? export_names[kind] : "?";
}

int mp_export_decoder_unknown(const mp_plan *p, mp_export kind)
{
    return (kind == MP_EXPORT_SGLANG || kind == MP_EXPORT_TRTLLM) && p->model.decoder_layers <= 0;
}

/* ---------------- writing ---------------- */

static void put_row(FILE *fp, const int32_t *v, int32_t n, const char *sep)
{
    fputc('[', fp);
    for (int32_t i = 0; i < n; i++) {
        if (i) fputs(sep, fp);
        fprintf(fp, "%d", v[i]);
    }
    fputc(']', fp);
}

/* The decoder layers and, for each, its MoE layer or -1 (dense). */
static int decoder_rows(const mp_plan *p, int32_t *rows, mp_err *err)
{
    int32_t D = mp_model_decoder_count(&p->model), moe = 0;
    for (int32_t d = 0; d < D; d++) moe += mp_model_moe_of(&p->model, d) >= 0;
    if (moe != p->layers)
        return mp_err_set(err, MP_ESHAPE, "the model's %d decoder layers hold %d MoE layers, the plan has %d", D, moe,
                          p->layers);
    *rows = D;
    return 0;
}

static int write_sglang(const mp_plan *p, FILE *fp, mp_err *err)
{
    int32_t D, R = p->slots, E = p->routed;
    int rc = decoder_rows(p, &D, err);
    if (rc) return rc;
    int32_t *trivial = malloc((size_t)R * sizeof *trivial);
    if (!trivial) return mp_err_set(err, MP_ENOMEM, "out of memory");
    for (int32_t s = 0; s < R; s++) trivial[s] = s % E; /* SGLang's init_trivial row */
    fputs("{\n  \"physical_to_logical_map\": [\n", fp);
    for (int32_t d = 0; d < D; d++) {
        int32_t m = mp_model_moe_of(&p->model, d);
        fputs("    ", fp);
        put_row(fp, m >= 0 ? mp_plan_layer(p, m) : trivial, R, ",");
        fputs(d + 1 < D ? ",\n" : "\n", fp);
    }
    fputs("  ]\n}\n", fp);
    free(trivial);
    return 0;
}

static int write_trtllm(const mp_plan *p, FILE *fp, mp_err *err)
{
    int32_t D;
    int rc = decoder_rows(p, &D, err);
    if (rc) return rc;
    fprintf(fp, "num_slots: %d\nlayer_updates_per_iter: 0\ninitial_global_assignments:\n", p->slots);
    for (int32_t l = 0; l < p->layers; l++) {
        fprintf(fp, "  %d: ", mp_model_decoder_of(&p->model, l));
        put_row(fp, mp_plan_layer(p, l), p->slots, ", ");
        fputc('\n', fp);
    }
    return 0;
}

static void write_vllm(const mp_plan *p, FILE *fp)
{
    fprintf(fp,
            "{\"record_type\": \"eplb_initial_mapping\", \"version\": 1, \"num_redundant_experts\": %d, "
            "\"num_slots\": %d, \"initial_global_assignments\": {",
            p->slots - p->routed, p->slots);
    for (int32_t l = 0; l < p->layers; l++) {
        fprintf(fp, l ? ", \"%d\": " : "\"%d\": ", l);
        put_row(fp, mp_plan_layer(p, l), p->slots, ", ");
    }
    fputs("}}\n", fp);
}

static int write_vllm_ascend(const mp_plan *p, FILE *fp, mp_err *err)
{
    int32_t P = p->topo.gpus, S = p->topo.slots_per_gpu;
    for (int32_t l = 0; l < p->layers; l++)
        for (int32_t g = 0; g < P; g++) {
            const int32_t *d = mp_plan_layer(p, l) + (int64_t)g * S;
            for (int32_t i = 0; i < S; i++)
                for (int32_t j = 0; j < i; j++)
                    if (d[i] == d[j])
                        return mp_err_set(err, MP_ERANGE,
                                          "layer %d: GPU %d holds expert %d twice, which vllm-ascend's expert map "
                                          "cannot express (plan with a strategy that avoids it, e.g. balanced)",
                                          l, g, d[i]);
        }
    fprintf(fp, "{\n  \"moe_layer_count\": %d,\n  \"layer_list\": [\n", p->layers);
    for (int32_t l = 0; l < p->layers; l++) {
        fprintf(fp, "    {\"layer_id\": %d, \"device_count\": %d, \"device_list\": [\n", l, P);
        for (int32_t g = 0; g < P; g++) {
            fprintf(fp, "      {\"device_id\": %d, \"device_expert\": ", g);
            put_row(fp, mp_plan_layer(p, l) + (int64_t)g * S, S, ", ");
            fputs(g + 1 < P ? "},\n" : "}\n", fp);
        }
        fputs(l + 1 < p->layers ? "    ]},\n" : "    ]}\n", fp);
    }
    fputs("  ]\n}\n", fp);
    return 0;
}

static void write_csv(const mp_plan *p, FILE *fp)
{
    fputs("layer,slot,gpu,node,expert\n", fp);
    for (int32_t l = 0; l < p->layers; l++)
        for (int32_t s = 0; s < p->slots; s++) {
            int32_t g = mp_plan_gpu_of_slot(p, s);
            fprintf(fp, "%d,%d,%d,%d,%d\n", l, s, g, mp_plan_node_of_gpu(p, g), mp_plan_layer(p, l)[s]);
        }
}

int mp_plan_export(const mp_plan *p, mp_export kind, const char *path, mp_err *err)
{
    if ((int)kind < 0 || (int)kind >= N_EXPORTS) return mp_err_set(err, MP_EINVAL, "export: unknown kind %d", (int)kind);
    if (kind != MP_EXPORT_CSV && p->shared_id >= 0)
        return mp_err_set(err, MP_EINVAL,
                          "%s: the plan fuses the shared expert into routed slots (logical expert %d): %s places "
                          "routed experts only",
                          path, p->shared_id, mp_export_name(kind));
    mp_ofile *f;
    int rc = mp_ofile_open(&f, path, err);
    if (rc) return rc;
    FILE *fp = mp_ofile_stream(f);
    mp_err sub = {0};
    switch (kind) {
    case MP_EXPORT_SGLANG: rc = write_sglang(p, fp, &sub); break;
    case MP_EXPORT_TRTLLM: rc = write_trtllm(p, fp, &sub); break;
    case MP_EXPORT_VLLM: write_vllm(p, fp); break;
    case MP_EXPORT_VLLM_ASCEND: rc = write_vllm_ascend(p, fp, &sub); break;
    case MP_EXPORT_CSV: write_csv(p, fp); break;
    }
    if (rc) {
        rc = mp_err_set(err, rc, "%s: %s", mp_ofile_path(f), sub.msg);
        mp_ofile_abort(f);
        return rc;
    }
    if (ferror(fp)) {
        int e = errno;
        rc = mp_err_set(err, MP_EIO, "%s: write error: %s", mp_ofile_path(f), strerror(e));
        mp_ofile_abort(f);
        return rc;
    }
    return mp_ofile_commit(f, err);
}

/* ---------------- checking ---------------- */

/* The rows of an engine file in one place: [n][R] ids, each row's name for
 * messages built by the reader. */
typedef struct rows {
    int32_t n, R, cap;
    int32_t *id;  /* [cap][R] */
    int32_t *key; /* [cap] the row's layer key (trtllm, vllm), else its index */
} rows;

static int rows_add(rows *t, int32_t key, int32_t **out)
{
    if (t->n == t->cap) {
        int32_t c = t->cap ? 2 * t->cap : 16;
        int32_t *id = realloc(t->id, (size_t)c * t->R * sizeof *id);
        if (!id) return MP_ENOMEM;
        t->id = id;
        int32_t *k = realloc(t->key, (size_t)c * sizeof *k);
        if (!k) return MP_ENOMEM;
        t->key = k, t->cap = c;
    }
    t->key[t->n] = key;
    *out = t->id + (int64_t)t->n++ * t->R;
    return 0;
}

static int is_int(const cJSON *v, double lo, double hi)
{
    return cJSON_IsNumber(v) && v->valuedouble == floor(v->valuedouble) && v->valuedouble >= lo && v->valuedouble <= hi;
}

#define ID_MAX 16777216.0 /* larger than any slot count: ids beyond are refused as out of range anyway */

/* A JSON array of R integers into row; -1 with a message naming `path`. */
static int json_row(const cJSON *a, int32_t R, int32_t *row, const char *what, const char *path, mp_err *err)
{
    if (!cJSON_IsArray(a)) return mp_err_set(err, MP_EFORMAT, "%s: %s is not an array", what, path);
    if (cJSON_GetArraySize(a) != R)
        return mp_err_set(err, MP_ESHAPE, "%s: %s lists %d slots, not %d", what, path, cJSON_GetArraySize(a), R);
    int32_t s = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, a)
    {
        if (!is_int(c, 0, ID_MAX)) return mp_err_set(err, MP_ERANGE, "%s: %s[%d] is not an expert id", what, path, s);
        row[s++] = (int32_t)c->valuedouble;
    }
    return 0;
}

/* The checks every kind shares, on the rows read: ids in 0..E-1, every
 * expert in every row, slots over the GPUs; fills out. */
static int check_rows(const rows *t, const char *what, const char *rowname, int32_t E, int32_t P, int no_dup,
                      mp_engine_info *out, mp_err *err)
{
    int32_t R = t->R;
    if (P > 0 && R % P != 0) return mp_err_set(err, MP_ESHAPE, "%s: %d slots do not split over %d GPUs", what, R, P);
    if (E > R) return mp_err_set(err, MP_ESHAPE, "%s: %d slots cannot hold %d experts", what, R, E);
    int32_t *cnt = calloc((size_t)E, sizeof *cnt);
    if (!cnt) return mp_err_set(err, MP_ENOMEM, "%s: out of memory", what);
    int32_t maxr = 0;
    int64_t dups = P > 0 ? 0 : -1;
    int rc = 0;
    for (int32_t r = 0; r < t->n && !rc; r++) {
        const int32_t *row = t->id + (int64_t)r * R;
        memset(cnt, 0, (size_t)E * sizeof *cnt);
        for (int32_t s = 0; s < R && !rc; s++) {
            if (row[s] >= E)
                rc = mp_err_set(err, MP_ERANGE, "%s: %s[%d]: slot %d holds expert %d, outside 0..%d", what, rowname,
                                t->key[r], s, row[s], E - 1);
            else if (++cnt[row[s]] > maxr)
                maxr = cnt[row[s]];
        }
        for (int32_t e = 0; e < E && !rc; e++)
            if (!cnt[e]) rc = mp_err_set(err, MP_ERANGE, "%s: %s[%d]: expert %d has no slot", what, rowname, t->key[r], e);
        if (P > 0 && !rc) {
            int32_t S = R / P;
            for (int32_t g = 0; g < P && !rc; g++)
                for (int32_t i = 0; i < S && !rc; i++)
                    for (int32_t j = 0; j < i; j++)
                        if (row[g * S + i] == row[g * S + j]) {
                            if (no_dup)
                                rc = mp_err_set(err, MP_ERANGE,
                                                "%s: %s[%d]: device %d holds expert %d twice (vllm-ascend's map "
                                                "cannot express it)",
                                                what, rowname, t->key[r], g, row[g * S + i]);
                            dups++;
                            break;
                        }
        }
    }
    free(cnt);
    if (rc) return rc;
    out->slots = R;
    out->experts = E;
    out->gpus = P > 0 ? P : 0;
    out->max_replicas = maxr;
    out->duplicates = dups;
    return 0;
}

/* E from the expectation (the count given, else the model's), else max id + 1. */
static int32_t experts_of(const rows *t, const mp_engine_expect *x)
{
    if (x && x->experts > 0) return x->experts;
    if (x && x->model && x->model->experts > 0) return x->model->experts;
    int32_t m = -1;
    for (int64_t i = 0; i < (int64_t)t->n * t->R; i++)
        if (t->id[i] > m) m = t->id[i];
    return m + 1;
}

/* The MoE layer count a model says, or 0. */
static int32_t model_moe_layers(const mp_engine_expect *x) { return x && x->model ? x->model->layers : 0; }

static int check_sglang(const cJSON *root, const char *what, const mp_engine_expect *x, mp_engine_info *out,
                        mp_err *err)
{
    const cJSON *k;
    cJSON_ArrayForEach(k, root)
    {
        if (strcmp(k->string, "physical_to_logical_map") != 0)
            return mp_err_set(err, MP_EFORMAT,
                              "%s: key \"%.64s\": SGLang passes every key to init_by_mapping(), so "
                              "\"physical_to_logical_map\" must be the only one",
                              what, k->string);
    }
    const cJSON *map = cJSON_GetObjectItemCaseSensitive(root, "physical_to_logical_map");
    if (!cJSON_IsArray(map) || cJSON_GetArraySize(map) < 1)
        return mp_err_set(err, MP_EFORMAT, "%s: physical_to_logical_map must be a non-empty array of rows", what);
    const cJSON *first = cJSON_GetArrayItem(map, 0);
    if (!cJSON_IsArray(first) || cJSON_GetArraySize(first) < 1)
        return mp_err_set(err, MP_EFORMAT, "%s: physical_to_logical_map[0] must be a non-empty array", what);
    rows t = {0, cJSON_GetArraySize(first), 0, NULL, NULL};
    int32_t i = 0, *row;
    int rc = 0;
    const cJSON *r;
    char path[64];
    cJSON_ArrayForEach(r, map)
    {
        snprintf(path, sizeof path, "physical_to_logical_map[%d]", i);
        if ((rc = rows_add(&t, i, &row)) != 0) {
            rc = mp_err_set(err, rc, "%s: out of memory", what);
            break;
        }
        if ((rc = json_row(r, t.R, row, what, path, err)) != 0) break;
        i++;
    }
    if (!rc && x && x->model) {
        int32_t D = mp_model_decoder_count(x->model);
        if (t.n != D)
            rc = mp_err_set(err, MP_ESHAPE,
                            "%s: physical_to_logical_map has %d rows; SGLang wants one per decoder layer "
                            "(num_hidden_layers), %d for this model",
                            what, t.n, D);
    }
    if (!rc) rc = check_rows(&t, what, "physical_to_logical_map", experts_of(&t, x), x ? x->gpus : 0, 0, out, err);
    if (!rc) {
        out->rows = t.n;
        out->moe_layers = x && x->model ? x->model->layers : t.n;
    }
    free(t.id), free(t.key);
    return rc;
}

static int check_ascend(const cJSON *root, const char *what, const mp_engine_expect *x, mp_engine_info *out,
                        mp_err *err)
{
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(root, "moe_layer_count");
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(root, "layer_list");
    if (!is_int(n, 1, MP_LAYERS_MAX))
        return mp_err_set(err, MP_EFORMAT, "%s: moe_layer_count must be an integer in 1..%d", what, MP_LAYERS_MAX);
    if (!cJSON_IsArray(list) || cJSON_GetArraySize(list) != n->valueint)
        return mp_err_set(err, MP_ESHAPE, "%s: layer_list must list moe_layer_count (%d) layers", what, n->valueint);
    int32_t L = n->valueint, M = model_moe_layers(x);
    if (M > 0 && L != M) return mp_err_set(err, MP_ESHAPE, "%s: %d layers, the model has %d MoE layers", what, L, M);
    rows t = {0, 0, 0, NULL, NULL};
    int32_t P = 0, S = 0, l = 0;
    int rc = 0;
    const cJSON *lay;
    cJSON_ArrayForEach(lay, list)
    {
        const cJSON *dl = cJSON_GetObjectItemCaseSensitive(lay, "device_list");
        const cJSON *dc = cJSON_GetObjectItemCaseSensitive(lay, "device_count");
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(lay, "layer_id");
        if (!cJSON_IsArray(dl) || cJSON_GetArraySize(dl) < 1) {
            rc = mp_err_set(err, MP_EFORMAT, "%s: layer_list[%d].device_list must be a non-empty array", what, l);
            break;
        }
        if (id && !(is_int(id, l, l))) {
            rc = mp_err_set(err, MP_ERANGE, "%s: layer_list[%d].layer_id must be %d", what, l, l);
            break;
        }
        if (l == 0) {
            P = cJSON_GetArraySize(dl);
            const cJSON *d0 = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(dl, 0), "device_expert");
            S = cJSON_IsArray(d0) ? cJSON_GetArraySize(d0) : 0;
            if (S < 1) {
                rc = mp_err_set(err, MP_EFORMAT, "%s: layer_list[0].device_list[0].device_expert must be a non-empty array",
                                what);
                break;
            }
            if ((int64_t)P * S > ID_MAX) {
                rc = mp_err_set(err, MP_ELIMIT, "%s: %d devices x %d experts is too many slots", what, P, S);
                break;
            }
            t.R = P * S;
        }
        if (cJSON_GetArraySize(dl) != P) {
            rc = mp_err_set(err, MP_ESHAPE, "%s: layer_list[%d] has %d devices, layer_list[0] has %d", what, l,
                            cJSON_GetArraySize(dl), P);
            break;
        }
        if (dc && !is_int(dc, P, P)) {
            rc = mp_err_set(err, MP_ESHAPE, "%s: layer_list[%d].device_count is not its %d devices", what, l, P);
            break;
        }
        int32_t *row;
        if ((rc = rows_add(&t, l, &row)) != 0) {
            rc = mp_err_set(err, rc, "%s: out of memory", what);
            break;
        }
        int32_t g = 0;
        const cJSON *dev;
        char path[96];
        cJSON_ArrayForEach(dev, dl)
        {
            const cJSON *did = cJSON_GetObjectItemCaseSensitive(dev, "device_id");
            if (did && !is_int(did, g, g)) {
                rc = mp_err_set(err, MP_ERANGE, "%s: layer_list[%d].device_list[%d].device_id must be %d", what, l, g, g);
                break;
            }
            snprintf(path, sizeof path, "layer_list[%d].device_list[%d].device_expert", l, g);
            if ((rc = json_row(cJSON_GetObjectItemCaseSensitive(dev, "device_expert"), S, row + (int64_t)g * S, what,
                               path, err)) != 0)
                break;
            g++;
        }
        if (rc) break;
        l++;
    }
    if (!rc && x && x->gpus > 0 && x->gpus != P)
        rc = mp_err_set(err, MP_ESHAPE, "%s: %d devices, not the %d GPUs asked for", what, P, x->gpus);
    if (!rc) rc = check_rows(&t, what, "layer_list", experts_of(&t, x), P, 1, out, err);
    if (!rc) out->rows = out->moe_layers = t.n;
    free(t.id), free(t.key);
    return rc;
}

/* vLLM PR #41141's mapping record, line `line` of the file. */
static int check_vllm(const cJSON *rec, const char *what, int line, const mp_engine_expect *x, mp_engine_info *out,
                      mp_err *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(rec, "version");
    const cJSON *red = cJSON_GetObjectItemCaseSensitive(rec, "num_redundant_experts");
    const cJSON *ns = cJSON_GetObjectItemCaseSensitive(rec, "num_slots");
    const cJSON *ga = cJSON_GetObjectItemCaseSensitive(rec, "initial_global_assignments");
    if (!is_int(v, 1, 1)) return mp_err_set(err, MP_EVERSION, "%s: line %d: version must be 1", what, line);
    if (!is_int(ns, 1, ID_MAX))
        return mp_err_set(err, MP_EFORMAT, "%s: line %d: num_slots must be a positive integer", what, line);
    if (!is_int(red, 0, ns->valuedouble - 1))
        return mp_err_set(err, MP_EFORMAT, "%s: line %d: num_redundant_experts must be an integer in 0..num_slots-1",
                          what, line);
    if (!cJSON_IsObject(ga) || cJSON_GetArraySize(ga) < 1)
        return mp_err_set(err, MP_EFORMAT, "%s: line %d: initial_global_assignments must be a non-empty object", what,
                          line);
    int32_t R = ns->valueint, E = R - red->valueint, L = cJSON_GetArraySize(ga), M = model_moe_layers(x);
    int32_t want = x && x->experts > 0 ? x->experts : x && x->model ? x->model->experts : 0;
    if (want > 0 && want != E)
        return mp_err_set(err, MP_ESHAPE, "%s: line %d: num_slots %d - num_redundant_experts %d = %d experts, not %d", what,
                          line, R, red->valueint, E, want);
    if (M > 0 && L != M)
        return mp_err_set(err, MP_ESHAPE, "%s: line %d: %d layers, the model has %d MoE layers", what, line, L, M);
    rows t = {0, R, 0, NULL, NULL};
    int rc = 0;
    char path[96];
    for (int32_t l = 0; l < L && !rc; l++) {
        char key[16];
        snprintf(key, sizeof key, "%d", l);
        const cJSON *a = cJSON_GetObjectItemCaseSensitive(ga, key);
        if (!a) {
            rc = mp_err_set(err, MP_ESHAPE, "%s: line %d: initial_global_assignments has no MoE layer \"%d\" (keys are 0..%d)",
                            what, line, l, L - 1);
            break;
        }
        int32_t *row;
        if ((rc = rows_add(&t, l, &row)) != 0) {
            rc = mp_err_set(err, rc, "%s: out of memory", what);
            break;
        }
        snprintf(path, sizeof path, "line %d: initial_global_assignments[\"%d\"]", line, l);
        rc = json_row(a, R, row, what, path, err);
    }
    if (!rc) rc = check_rows(&t, what, "initial_global_assignments", E, x ? x->gpus : 0, 0, out, err);
    if (!rc) out->rows = out->moe_layers = t.n;
    free(t.id), free(t.key);
    return rc;
}

/* ---- TensorRT-LLM's YAML: the subset its generator writes ---- */

static const char *skip_ws(const char *p, const char *e)
{
    while (p < e && (*p == ' ' || *p == '\t')) p++;
    return p;
}

/* Parses a decimal integer in [lo, hi]; returns the end or NULL. */
static const char *parse_int(const char *p, const char *e, long long lo, long long hi, long long *out)
{
    const char *q = p;
    if (q < e && (*q == '-' || *q == '+')) q++;
    if (q == e || *q < '0' || *q > '9') return NULL;
    long long v = 0;
    int neg = *p == '-';
    while (q < e && *q >= '0' && *q <= '9') {
        if (v > (long long)1e15) return NULL;
        v = v * 10 + (*q++ - '0');
    }
    if (neg) v = -v;
    if (v < lo || v > hi) return NULL;
    *out = v;
    return q;
}

static int check_trtllm(const char *text, size_t len, const char *what, const mp_engine_expect *x, mp_engine_info *out,
                        mp_err *err)
{
    const char *p = text, *end = text + len;
    long long num_slots = -1, updates = -1;
    int in_map = 0, line = 0, rc = 0;
    rows t = {0, 0, 0, NULL, NULL};
    int32_t *tmp = NULL;
    size_t tmp_cap = 0;
    int *row_line = NULL;
    while (p < end && !rc) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol) eol = end;
        line++;
        const char *q = skip_ws(p, eol), *le = eol;
        if (le > q && le[-1] == '\r') le--;
        size_t span = le > q ? (size_t)(le - q) : 0;
        const char *hash = span ? memchr(q, '#', span) : NULL;
        if (hash) le = hash;
        while (le > q && (le[-1] == ' ' || le[-1] == '\t')) le--;
        int indented = q > p;
        if (q == le) {
            p = eol + (eol < end);
            continue;
        }
        if (!indented) {
            in_map = 0;
            const char *colon = memchr(q, ':', (size_t)(le - q));
            if (!colon) {
                rc = mp_err_set(err, MP_EFORMAT, "%s: line %d: expected \"key: value\"", what, line);
                break;
            }
            size_t kl = (size_t)(colon - q);
            const char *v = skip_ws(colon + 1, le);
            long long n;
            if (kl == 9 && memcmp(q, "num_slots", 9) == 0) {
                if (parse_int(v, le, 1, (long long)ID_MAX, &n) != le) {
                    rc = mp_err_set(err, MP_EFORMAT, "%s: line %d: num_slots must be a positive integer", what, line);
                    break;
                }
                if (num_slots >= 0) {
                    rc = mp_err_set(err, MP_EFORMAT, "%s: line %d: num_slots given twice", what, line);
                    break;
                }
                num_slots = n;
            } else if (kl == 22 && memcmp(q, "layer_updates_per_iter", 22) == 0) {
                if (parse_int(v, le, 0, 1 << 30, &n) != le) {
                    rc = mp_err_set(err, MP_EFORMAT, "%s: line %d: layer_updates_per_iter must be an integer >= 0", what,
                                    line);
                    break;
                }
                updates = n;
            } else if (kl == 26 && memcmp(q, "initial_global_assignments", 26) == 0) {
                if (v != le) {
                    rc = mp_err_set(err, MP_EFORMAT,
                                    "%s: line %d: initial_global_assignments must be a block of \"layer: [ids]\" lines",
                                    what, line);
                    break;
                }
                if (t.cap || in_map) {
                    rc = mp_err_set(err, MP_EFORMAT, "%s: line %d: initial_global_assignments given twice", what, line);
                    break;
                }
                in_map = 1;
            } else {
                rc = mp_err_set(err, MP_EFORMAT, "%s: line %d: unknown key \"%.*s\"", what, line, (int)(kl > 64 ? 64 : kl), q);
                break;
            }
        } else {
            if (!in_map) {
                rc = mp_err_set(err, MP_EFORMAT, "%s: line %d: indented line outside initial_global_assignments", what, line);
                break;
            }
            long long key;
            const char *k = parse_int(q, le, 0, MP_LAYERS_MAX * 64LL, &key);
            if (!k || (k = skip_ws(k, le)) == le || *k != ':') {
                rc = mp_err_set(err, MP_EFORMAT, "%s: line %d: expected \"<layer>: [ids]\"", what, line);
                break;
            }
            k = skip_ws(k + 1, le);
            if (k == le || *k != '[' || le[-1] != ']') {
                rc = mp_err_set(err, MP_EFORMAT, "%s: line %d: layer %lld: expected a [ ... ] list", what, line, key);
                break;
            }
            /* the ids */
            size_t n = 0;
            const char *c = skip_ws(k + 1, le - 1);
            while (c < le - 1) {
                long long id;
                const char *ce = parse_int(c, le - 1, 0, (long long)ID_MAX, &id);
                if (!ce) {
                    rc = mp_err_set(err, MP_ERANGE, "%s: line %d: layer %lld: item %zu is not an expert id", what, line, key, n);
                    break;
                }
                if (n == tmp_cap) {
                    size_t nc = tmp_cap ? 2 * tmp_cap : 256;
                    if (nc > len) nc = len + 1; /* never more ids than bytes */
                    int32_t *nt = realloc(tmp, nc * sizeof *nt);
                    if (!nt) {
                        rc = mp_err_set(err, MP_ENOMEM, "%s: out of memory", what);
                        break;
                    }
                    tmp = nt, tmp_cap = nc;
                }
                tmp[n++] = (int32_t)id;
                c = skip_ws(ce, le - 1);
                if (c < le - 1) {
                    if (*c != ',') {
                        rc = mp_err_set(err, MP_EFORMAT, "%s: line %d: layer %lld: expected ',' after item %zu", what,
                                        line, key, n - 1);
                        break;
                    }
                    c = skip_ws(c + 1, le - 1);
                }
            }
            if (rc) break;
            if (n < 1) {
                rc = mp_err_set(err, MP_ESHAPE, "%s: line %d: layer %lld: an empty list", what, line, key);
                break;
            }
            if (t.n == 0 && t.cap == 0) t.R = (int32_t)n;
            if ((int32_t)n != t.R) {
                rc = mp_err_set(err, MP_ESHAPE, "%s: line %d: layer %lld lists %zu slots, layer %d lists %d", what, line, key,
                                n, t.key[0], t.R);
                break;
            }
            for (int32_t r = 0; r < t.n; r++)
                if (t.key[r] == key) {
                    rc = mp_err_set(err, MP_EFORMAT, "%s: line %d: layer %lld given twice", what, line, key);
                    break;
                }
            if (rc) break;
            int32_t *row;
            if ((rc = rows_add(&t, (int32_t)key, &row)) != 0) {
                rc = mp_err_set(err, rc, "%s: out of memory", what);
                break;
            }
            memcpy(row, tmp, n * sizeof *row);
            int *nl = realloc(row_line, (size_t)t.cap * sizeof *nl);
            if (!nl) {
                rc = mp_err_set(err, MP_ENOMEM, "%s: out of memory", what);
                break;
            }
            row_line = nl;
            row_line[t.n - 1] = line;
        }
        p = eol + (eol < end);
    }
    free(tmp);
    if (!rc && num_slots < 0) rc = mp_err_set(err, MP_EFORMAT, "%s: no num_slots", what);
    if (!rc && t.n == 0)
        rc = mp_err_set(err, MP_EFORMAT, "%s: no initial_global_assignments (a static plan needs them)", what);
    if (!rc && t.R != num_slots)
        rc = mp_err_set(err, MP_ESHAPE, "%s: line %d: layer %d lists %d slots, num_slots is %lld", what, row_line[0],
                        t.key[0], t.R, num_slots);
    if (!rc && x && x->model) { /* keys are decoder layers: exactly the model's MoE ones */
        const mp_model *m = x->model;
        if (t.n != m->layers)
            rc = mp_err_set(err, MP_ESHAPE, "%s: %d layers, the model has %d MoE layers", what, t.n, m->layers);
        for (int32_t r = 0; r < t.n && !rc; r++)
            if (mp_model_moe_of(m, t.key[r]) < 0)
                rc = mp_err_set(err, MP_ESHAPE, "%s: line %d: layer %d is not a MoE decoder layer of the model", what,
                                row_line[r], t.key[r]);
    }
    if (!rc) rc = check_rows(&t, what, "initial_global_assignments", experts_of(&t, x), x ? x->gpus : 0, 0, out, err);
    if (!rc) out->rows = out->moe_layers = t.n;
    (void)updates;
    free(t.id), free(t.key), free(row_line);
    return rc;
}

static int json_error(const char *text, size_t len, const char *end, const char *what, int line, mp_err *err)
{
    long long off = end && end >= text ? (long long)(end - text) : 0;
    if (!end) {
        const char *e = cJSON_GetErrorPtr();
        off = e && e >= text && e <= text + len ? (long long)(e - text) : 0;
    }
    if (line > 0) return mp_err_set(err, MP_EFORMAT, "%s: line %d: malformed JSON", what, line);
    return mp_err_set(err, MP_EFORMAT, "%s: offset %lld: malformed JSON", what, off);
}

int mp_engine_text_check(const char *text, size_t len, const char *what, const mp_engine_expect *x, mp_engine_info *out,
                         mp_err *err)
{
    memset(out, 0, sizeof *out);
    size_t i = 0;
    while (i < len && (text[i] == ' ' || text[i] == '\t' || text[i] == '\n' || text[i] == '\r')) i++;
    if (i == len) return mp_err_set(err, MP_EFORMAT, "%s: empty file", what);
    long long nul = mp_json_nul_escape(text, len);
    if (memchr(text, 0, len) || nul >= 0)
        return mp_err_set(err, MP_EFORMAT, "%s: offset %lld: a NUL character", what,
                          nul >= 0 ? nul : (long long)((const char *)memchr(text, 0, len) - text));
    if ((text[i] >= 'a' && text[i] <= 'z') || (text[i] >= 'A' && text[i] <= 'Z') || text[i] == '#') {
        out->kind = MP_EXPORT_TRTLLM; /* YAML: "num_slots: ..." */
        return check_trtllm(text, len, what, x, out, err);
    }
    if (text[i] != '{') return MP_ENOTFOUND; /* other JSON: the plan reader says what is wrong */
    /* the first line as JSON: a vLLM JSONL record? */
    const char *nl = memchr(text + i, '\n', len - i);
    size_t first_len = nl ? (size_t)(nl - text) : len;
    cJSON *rec = cJSON_ParseWithLengthOpts(text, first_len, NULL, 0);
    const cJSON *rt = rec ? cJSON_GetObjectItemCaseSensitive(rec, "record_type") : NULL;
    if (cJSON_IsString(rt)) {
        cJSON_Delete(rec);
        out->kind = MP_EXPORT_VLLM;
        int line = 0, found = 0, rc = 0;
        const char *p = text, *e = text + len;
        while (p < e && !rc) {
            const char *eol = memchr(p, '\n', (size_t)(e - p));
            if (!eol) eol = e;
            line++;
            const char *q = p;
            while (q < eol && (*q == ' ' || *q == '\t' || *q == '\r')) q++;
            if (q < eol) {
                const char *pe = NULL;
                cJSON *r = cJSON_ParseWithLengthOpts(p, (size_t)(eol - p), &pe, 0);
                if (!r) {
                    rc = json_error(p, (size_t)(eol - p), pe, what, line, err);
                    break;
                }
                const cJSON *t = cJSON_GetObjectItemCaseSensitive(r, "record_type");
                if (!cJSON_IsObject(r) || !cJSON_IsString(t))
                    rc = mp_err_set(err, MP_EFORMAT, "%s: line %d: not a record (no \"record_type\")", what, line);
                else if (strcmp(t->valuestring, "eplb_initial_mapping") == 0) {
                    if (found++)
                        rc = mp_err_set(err, MP_EFORMAT, "%s: line %d: a second eplb_initial_mapping record", what, line);
                    else
                        rc = check_vllm(r, what, line, x, out, err);
                }
                cJSON_Delete(r);
            }
            p = eol + (eol < e);
        }
        if (!rc && !found) rc = mp_err_set(err, MP_EFORMAT, "%s: no eplb_initial_mapping record", what);
        return rc;
    }
    cJSON_Delete(rec);
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    if (!root) return json_error(text, len, end, what, 0, err);
    int rc;
    if (!cJSON_IsObject(root)) {
        rc = mp_err_set(err, MP_EFORMAT, "%s: not a JSON object", what);
    } else if (cJSON_GetObjectItemCaseSensitive(root, "format") || cJSON_GetObjectItemCaseSensitive(root, "logical_count") ||
               cJSON_GetObjectItemCaseSensitive(root, "load_share")) {
        rc = MP_ENOTFOUND; /* moeplace's own plan file, or a load file: the plan reader says which */
    } else if (cJSON_GetObjectItemCaseSensitive(root, "moe_layer_count")) {
        out->kind = MP_EXPORT_VLLM_ASCEND;
        rc = check_ascend(root, what, x, out, err);
    } else if (cJSON_GetObjectItemCaseSensitive(root, "physical_to_logical_map")) {
        out->kind = MP_EXPORT_SGLANG;
        rc = check_sglang(root, what, x, out, err);
    } else {
        rc = mp_err_set(err, MP_EFORMAT,
                        "%s: neither a moeplace plan nor an engine file (no \"format\", \"physical_to_logical_map\" "
                        "or \"moe_layer_count\")",
                        what);
    }
    cJSON_Delete(root);
    return rc;
}

int mp_engine_file_check(const char *path, const mp_engine_expect *x, mp_engine_info *out, mp_err *err)
{
    char *buf;
    size_t n;
    int rc = mp__plan_file_read(path, &buf, &n, err);
    if (rc) return rc;
    rc = mp_engine_text_check(buf, n, path, x, out, err);
    free(buf);
    return rc;
}
