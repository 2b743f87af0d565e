/* plan_json.c - moeplace's own plan file: writing (deterministic text) and
 * reading with full validation.  Engine files: engine_files.c. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <errno.h>
#include <string.h>

#include "planner/mp__planner.h"
#include "traces/mp_file.h"
#include "traces/mp_jsonw.h"
#include "traces/mp_text.h"

/* ---------------- writing ---------------- */

static void put_i32_row(mp_jw *w, const int32_t *v, int64_t n)
{
    mp_jw_raw(w, "[");
    for (int64_t i = 0; i < n; i++) mp_jw_raw(w, i ? ",%d" : "%d", v[i]);
    mp_jw_raw(w, "]");
}

static void put_num_row(mp_jw *w, const double *v, int64_t n)
{
    mp_jw_raw(w, "[");
    for (int64_t i = 0; i < n; i++) {
        if (i) mp_jw_raw(w, ",");
        mp_jw_num(w, v[i]);
    }
    mp_jw_raw(w, "]");
}

static void put_matrix_i32(mp_jw *w, const char *key, const int32_t *v, int64_t rows, int64_t cols)
{
    mp_jw_raw(w, "  \"%s\": [\n", key);
    for (int64_t r = 0; r < rows; r++) {
        mp_jw_raw(w, "    ");
        put_i32_row(w, v + r * cols, cols);
        mp_jw_raw(w, "%s", r + 1 < rows ? ",\n" : "\n");
    }
    mp_jw_raw(w, "  ]");
}

static void put_matrix_num(mp_jw *w, const char *key, const double *v, int64_t rows, int64_t cols, const char *ind)
{
    mp_jw_raw(w, "%s\"%s\": [\n", ind, key);
    for (int64_t r = 0; r < rows; r++) {
        mp_jw_raw(w, "%s  ", ind);
        put_num_row(w, v + r * cols, cols);
        mp_jw_raw(w, "%s", r + 1 < rows ? ",\n" : "\n");
    }
    mp_jw_raw(w, "%s]", ind);
}

int mp_plan_write_json_fp(const mp_plan *p, const mp_plan_info *info, FILE *fp)
{
    mp_jw jw, *w = &jw;
    mp_jw_file(w, fp);
    int32_t L = p->layers, E = p->experts, R = p->slots, P = p->topo.gpus;
    char *model = mp_model_to_json(&p->model);
    if (!model) return MP_ENOMEM;
    mp_jw_raw(w, "{\n");
    mp_jw_raw(w, "  \"format\": \"%s\",\n  \"version\": %d,\n", MP_PLAN_FORMAT, MP_PLAN_VERSION);
    mp_jw_raw(w, "  \"strategy\": ");
    mp_jw_str(w, p->strategy);
    mp_jw_raw(w, ",\n  \"params\": {\"locality\": ");
    mp_jw_num(w, info ? info->locality : 0);
    mp_jw_raw(w, ", \"shared_fusion\": %d, \"groups\": %d},\n", info ? info->shared_fusion : 0,
            info && info->groups > 0 ? info->groups : p->model.groups);
    if (p->model.top_k >= 1) mp_jw_raw(w, "  \"model\": %s,\n", model); /* else the loads did not say */
    free(model);
    mp_jw_raw(w, "  \"topology\": {\"gpus\": %d, \"nodes\": %d, \"slots_per_gpu\": %d, \"slots\": %d},\n", P,
            p->topo.nodes, p->topo.slots_per_gpu, R);
    mp_jw_raw(w, "  \"layers\": %d,\n  \"experts\": %d,\n  \"routed_experts\": %d,\n  \"shared_expert_id\": %d,\n", L, E,
            p->routed, p->shared_id);
    put_matrix_i32(w, "physical_to_logical_map", p->phy2log, L, R);
    mp_jw_raw(w, ",\n");
    mp_jw_raw(w, "  \"logical_to_physical_map\": [\n");
    for (int32_t l = 0; l < L; l++) {
        mp_jw_raw(w, "    [");
        for (int32_t e = 0; e < E; e++) {
            if (e) mp_jw_raw(w, ",");
            put_i32_row(w, mp_plan_replicas(p, l, e), p->max_replicas);
        }
        mp_jw_raw(w, "%s", l + 1 < L ? "],\n" : "]\n");
    }
    mp_jw_raw(w, "  ],\n");
    put_matrix_i32(w, "replica_count", p->replica_count, L, E);
    if (info && info->load) {
        mp_jw_raw(w, ",\n");
        put_matrix_num(w, "expert_load", info->load, L, E, "  ");
    }
    const mp_plan_metrics *m = info ? info->metrics : NULL;
    if (m) {
        mp_jw_raw(w, ",\n  \"metrics\": {\n");
        mp_jw_raw(w, "    \"max_over_mean\": "), mp_jw_num(w, m->mean_max_over_mean);
        mp_jw_raw(w, ",\n    \"worst_max_over_mean\": "), mp_jw_num(w, m->worst_max_over_mean);
        mp_jw_raw(w, ",\n    \"worst_layer\": %d", m->worst_layer);
        mp_jw_raw(w, ",\n    \"vllm_balancedness\": "), mp_jw_num(w, m->vllm_balancedness);
        mp_jw_raw(w, ",\n    \"sglang_balancedness\": "), mp_jw_num(w, m->sglang_balancedness);
        mp_jw_raw(w, ",\n    \"trtllm_imbalance\": "), mp_jw_num(w, m->trtllm_imbalance);
        mp_jw_raw(w, ",\n    \"gap_lb0\": "), mp_jw_num(w, m->gap_lb0);
        mp_jw_raw(w, ",\n    \"gap_lb_rep\": "), mp_jw_num(w, m->gap_lb_rep);
        mp_jw_raw(w, ",\n    \"duplicates\": %lld,\n", (long long)m->total_duplicates);
        mp_jw_raw(w, "    \"per_layer\": {\n      \"max\": "), put_num_row(w, m->max, L);
        mp_jw_raw(w, ",\n      \"mean\": "), put_num_row(w, m->mean, L);
        mp_jw_raw(w, ",\n      \"max_over_mean\": "), put_num_row(w, m->max_over_mean, L);
        mp_jw_raw(w, ",\n      \"lb0\": "), put_num_row(w, m->lb0, L);
        mp_jw_raw(w, ",\n      \"lb_rep\": "), put_num_row(w, m->lb_rep, L);
        mp_jw_raw(w, ",\n      \"gap_lb0\": [");
        for (int32_t l = 0; l < L; l++) {
            if (l) mp_jw_raw(w, ",");
            mp_jw_num(w, m->lb0[l] > 0 ? m->max[l] / m->lb0[l] - 1 : 0);
        }
        mp_jw_raw(w, "],\n      \"gap_lb_rep\": [");
        for (int32_t l = 0; l < L; l++) {
            if (l) mp_jw_raw(w, ",");
            mp_jw_num(w, m->lb_rep[l] > 0 ? m->max[l] / m->lb_rep[l] - 1 : 0);
        }
        mp_jw_raw(w, "],\n      \"duplicates\": "), put_i32_row(w, m->duplicates, L);
        mp_jw_raw(w, "\n    },\n");
        put_matrix_num(w, "gpu_load", m->gpu_load, L, P, "    ");
        mp_jw_raw(w, "\n  }");
    }
    if (info && info->moved_experts >= 0)
        mp_jw_raw(w, ",\n  \"migration\": {\"moved_experts\": %lld, \"moved_bytes\": %lld}", (long long)info->moved_experts,
                (long long)info->moved_bytes);
    mp_jw_raw(w, "\n}\n");
    return mp_jw_status(w) ? MP_EIO : 0;
}

int mp_plan_write_json(const mp_plan *p, const mp_plan_info *info, const char *path, mp_err *err)
{
    mp_ofile *f;
    int rc = mp_ofile_open(&f, path, err);
    if (rc) return rc;
    rc = mp_plan_write_json_fp(p, info, mp_ofile_stream(f));
    if (rc) {
        int e = errno;
        rc = rc == MP_ENOMEM ? mp_err_set(err, rc, "%s: out of memory", mp_ofile_path(f))
                             : mp_err_set(err, rc, "%s: write error: %s", mp_ofile_path(f), strerror(e));
        mp_ofile_abort(f);
        return rc;
    }
    return mp_ofile_commit(f, err);
}

/* ---------------- reading ---------------- */

static int get_int(const cJSON *o, const char *key, int64_t lo, int64_t hi, int required, int64_t *out,
                   const char *what, mp_err *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v) {
        if (!required) return 1;
        return mp_err_set(err, MP_EFORMAT, "%s: missing \"%s\"", what, key);
    }
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || v->valuedouble < (double)lo ||
        v->valuedouble > (double)hi)
        return mp_err_set(err, MP_ERANGE, "%s: \"%s\" must be an integer in %lld..%lld", what, key, (long long)lo,
                          (long long)hi);
    *out = (int64_t)v->valuedouble;
    return 0;
}

static int int_cell(const cJSON *v, int64_t lo, int64_t hi, int32_t *out)
{
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || v->valuedouble < (double)lo ||
        v->valuedouble > (double)hi)
        return -1;
    *out = (int32_t)v->valuedouble;
    return 0;
}

static int parse_root(const cJSON *root, mp_plan **out, double **load_out, const char *what, mp_err *err)
{
    int64_t version = 0, gpus = 0, nodes = 0, spg = 0, experts = 0, routed = -1, shared = -1, v;
    const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(root, "format");
    if (!cJSON_IsObject(root)) return mp_err_set(err, MP_EFORMAT, "%s: a plan file is a JSON object", what);
    if (cJSON_GetObjectItemCaseSensitive(root, "logical_count"))
        return mp_err_set(err, MP_EFORMAT, "%s: has a \"logical_count\" key: this is a load file, not a plan", what);
    if (!cJSON_IsString(fmt) || strcmp(fmt->valuestring, MP_PLAN_FORMAT) != 0)
        return mp_err_set(err, MP_EFORMAT, "%s: \"format\" is not \"%s\"", what, MP_PLAN_FORMAT);
    int rc = get_int(root, "version", 0, 1 << 30, 1, &version, what, err);
    if (rc) return rc;
    if (version != MP_PLAN_VERSION)
        return mp_err_set(err, MP_EVERSION, "%s: plan version %lld is not supported (only %d)", what, (long long)version,
                          MP_PLAN_VERSION);
    const cJSON *topo = cJSON_GetObjectItemCaseSensitive(root, "topology");
    if (!cJSON_IsObject(topo)) return mp_err_set(err, MP_EFORMAT, "%s: missing \"topology\" object", what);
    char tw[600];
    snprintf(tw, sizeof tw, "%s: topology", what);
    if ((rc = get_int(topo, "gpus", 1, 1 << 24, 1, &gpus, tw, err)) ||
        (rc = get_int(topo, "nodes", 1, 1 << 24, 1, &nodes, tw, err)) ||
        (rc = get_int(topo, "slots_per_gpu", 1, 1 << 24, 1, &spg, tw, err)))
        return rc;
    mp_topology t = {(int32_t)gpus, (int32_t)nodes, (int32_t)spg};
    mp_err e2 = {0};
    if (mp_topology_validate(&t, &e2)) return mp_err_set(err, MP_ERANGE, "%s: %s", what, e2.msg);
    int64_t R = gpus * spg;
    if ((rc = get_int(topo, "slots", R, R, 0, &v, tw, err)) < 0) return rc;
    if ((rc = get_int(root, "experts", 1, MP_EXPERTS_MAX + 1, 1, &experts, what, err))) return rc;
    if ((rc = get_int(root, "routed_experts", 1, MP_EXPERTS_MAX, 0, &routed, what, err)) < 0) return rc;
    if ((rc = get_int(root, "shared_expert_id", -1, MP_EXPERTS_MAX, 0, &shared, what, err)) < 0) return rc;
    if (routed < 0) routed = shared >= 0 ? experts - 1 : experts;
    if (shared >= 0 ? (shared != routed || experts != routed + 1) : routed != experts)
        return mp_err_set(err, MP_ERANGE, "%s: experts %lld, routed_experts %lld and shared_expert_id %lld disagree", what,
                          (long long)experts, (long long)routed, (long long)shared);
    if (R < experts)
        return mp_err_set(err, MP_ERANGE, "%s: %lld slots cannot hold %lld experts", what, (long long)R, (long long)experts);
    const cJSON *map = cJSON_GetObjectItemCaseSensitive(root, "physical_to_logical_map");
    if (!cJSON_IsArray(map)) return mp_err_set(err, MP_EFORMAT, "%s: missing \"physical_to_logical_map\" array", what);
    int64_t L = cJSON_GetArraySize(map);
    if (L < 1 || L > MP_LAYERS_MAX)
        return mp_err_set(err, MP_ERANGE, "%s: physical_to_logical_map has %lld layers (1..%d)", what, (long long)L,
                          MP_LAYERS_MAX);
    int64_t layers;
    if ((rc = get_int(root, "layers", L, L, 0, &layers, what, err)) < 0) return rc;
    {   /* every row's length before allocating anything of that size */
        int32_t k = 0;
        const cJSON *r;
        cJSON_ArrayForEach(r, map)
        {
            if (!cJSON_IsArray(r) || cJSON_GetArraySize(r) != R)
                return mp_err_set(err, MP_ESHAPE, "%s: physical_to_logical_map[%d] must list %lld slots (%lld GPUs x %lld)",
                                  what, k, (long long)R, (long long)gpus, (long long)spg);
            k++;
        }
    }
    mp_plan *p;
    if ((rc = mp_plan_create(&p, (int32_t)L, (int32_t)experts, &t, &e2)))
        return mp_err_set(err, rc == MP_EINVAL ? MP_ERANGE : rc, "%s: %s", what, e2.msg);
    p->routed = (int32_t)routed;
    p->shared_id = (int32_t)shared;
    int32_t l = 0;
    const cJSON *row;
    cJSON_ArrayForEach(row, map)
    {
        if (!cJSON_IsArray(row) || cJSON_GetArraySize(row) != R) {
            mp_plan_destroy(p);
            return mp_err_set(err, MP_ESHAPE, "%s: physical_to_logical_map[%d] must list %lld slots (%lld GPUs x %lld)", what,
                              l, (long long)R, (long long)gpus, (long long)spg);
        }
        int32_t s = 0;
        const cJSON *c;
        cJSON_ArrayForEach(c, row)
        {
            if (int_cell(c, 0, experts - 1, &mp_plan_layer(p, l)[s])) {
                mp_plan_destroy(p);
                return mp_err_set(err, MP_ERANGE, "%s: physical_to_logical_map[%d][%d] is not an expert id in 0..%lld", what,
                                  l, s, (long long)experts - 1);
            }
            s++;
        }
        l++;
    }
    if ((rc = mp_plan_derive(p, &e2))) {
        mp_plan_destroy(p);
        return mp_err_set(err, rc, "%s: %s", what, e2.msg);
    }
    /* derived maps, when present, must agree */
    const cJSON *rcnt = cJSON_GetObjectItemCaseSensitive(root, "replica_count");
    if (rcnt) {
        int bad = !cJSON_IsArray(rcnt) || cJSON_GetArraySize(rcnt) != L;
        for (int32_t k = 0; k < L && !bad; k++) {
            const cJSON *r2 = cJSON_GetArrayItem(rcnt, k);
            bad = !cJSON_IsArray(r2) || cJSON_GetArraySize(r2) != experts;
            for (int32_t e = 0; e < experts && !bad; e++) {
                int32_t n;
                bad = int_cell(cJSON_GetArrayItem(r2, e), 0, R, &n) || n != mp_plan_count(p, k, e);
                if (bad) {
                    mp_plan_destroy(p);
                    return mp_err_set(err, MP_ERANGE, "%s: replica_count[%d][%d] disagrees with physical_to_logical_map",
                                      what, k, e);
                }
            }
        }
        if (bad) {
            mp_plan_destroy(p);
            return mp_err_set(err, MP_ESHAPE, "%s: replica_count must be [%lld][%lld]", what, (long long)L,
                              (long long)experts);
        }
    }
    const cJSON *l2p = cJSON_GetObjectItemCaseSensitive(root, "logical_to_physical_map");
    if (l2p) {
        int bad = !cJSON_IsArray(l2p) || cJSON_GetArraySize(l2p) != L;
        for (int32_t k = 0; k < L && !bad; k++) {
            const cJSON *r2 = cJSON_GetArrayItem(l2p, k);
            bad = !cJSON_IsArray(r2) || cJSON_GetArraySize(r2) != experts;
            for (int32_t e = 0; e < experts && !bad; e++) {
                const cJSON *lst = cJSON_GetArrayItem(r2, e), *c;
                if (!cJSON_IsArray(lst)) {
                    bad = 1;
                    break;
                }
                int32_t n = 0, slot;
                cJSON_ArrayForEach(c, lst)
                {
                    if (int_cell(c, -1, R - 1, &slot) || (slot >= 0 && mp_plan_layer(p, k)[slot] != e)) {
                        mp_plan_destroy(p);
                        return mp_err_set(err, MP_ERANGE,
                                          "%s: logical_to_physical_map[%d][%d] names a slot that does not hold expert %d",
                                          what, k, e, e);
                    }
                    n += slot >= 0;
                }
                int32_t want = mp_plan_count(p, k, e);
                if (n != want) {
                    mp_plan_destroy(p);
                    return mp_err_set(err, MP_ERANGE, "%s: logical_to_physical_map[%d][%d] lists %d slots, not %d", what, k,
                                      e, n, want);
                }
            }
        }
        if (bad) {
            mp_plan_destroy(p);
            return mp_err_set(err, MP_ESHAPE, "%s: logical_to_physical_map must be [%lld][%lld][...]", what, (long long)L,
                              (long long)experts);
        }
    }
    const cJSON *strat = cJSON_GetObjectItemCaseSensitive(root, "strategy");
    if (strat && (!cJSON_IsString(strat) || strlen(strat->valuestring) >= sizeof p->strategy)) {
        mp_plan_destroy(p);
        return mp_err_set(err, MP_EFORMAT, "%s: \"strategy\" must be a short string", what);
    }
    snprintf(p->strategy, sizeof p->strategy, "%s", strat ? strat->valuestring : "");
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
    if (model) {
        char *txt = cJSON_PrintUnformatted(model);
        if (!txt) {
            mp_plan_destroy(p);
            return mp_err_set(err, MP_ENOMEM, "%s: out of memory", what);
        }
        char mw[600];
        snprintf(mw, sizeof mw, "%s: model", what);
        rc = mp_model_from_json(&p->model, txt, strlen(txt), mw, err);
        free(txt);
        if (rc) {
            mp_plan_destroy(p);
            return rc;
        }
        if (p->model.layers != L || p->model.experts != routed) {
            int32_t ml = p->model.layers, me = p->model.experts;
            mp_plan_destroy(p);
            return mp_err_set(err, MP_ESHAPE, "%s: model is %d layers x %d experts, the map %lld x %lld", what, ml, me,
                              (long long)L, (long long)routed);
        }
    } else {
        p->model.layers = (int32_t)L;
        p->model.experts = (int32_t)routed;
        p->model.top_k = 1;
    }
    {
        const cJSON *ld = cJSON_GetObjectItemCaseSensitive(root, "expert_load");
        if (ld) {
            double *w = malloc((size_t)L * experts * sizeof *w);
            int bad = !w || !cJSON_IsArray(ld) || cJSON_GetArraySize(ld) != L;
            for (int32_t k = 0; k < L && !bad; k++) {
                const cJSON *r2 = cJSON_GetArrayItem(ld, k);
                bad = !cJSON_IsArray(r2) || cJSON_GetArraySize(r2) != experts;
                int32_t e = 0;
                const cJSON *c;
                if (!bad)
                    cJSON_ArrayForEach(c, r2)
                    {
                        if (!cJSON_IsNumber(c) || !isfinite(c->valuedouble) || c->valuedouble < 0) {
                            bad = 1;
                            break;
                        }
                        w[(int64_t)k * experts + e++] = c->valuedouble;
                    }
            }
            if (bad) {
                free(w);
                mp_plan_destroy(p);
                return mp_err_set(err, MP_ERANGE, "%s: expert_load must be [%lld][%lld] finite loads >= 0", what,
                                  (long long)L, (long long)experts);
            }
            if (load_out) *load_out = w;
            else free(w);
        }
    }
    *out = p;
    return 0;
}

int mp_plan_parse_json(mp_plan **out, double **load_out, const char *text, size_t len, const char *what, mp_err *err)
{
    *out = NULL;
    if (load_out) *load_out = NULL;
    const char *end = NULL;
    long long nul = mp_json_nul_escape(text, len); /* a parser would cut the string there */
    if (nul >= 0)
        return mp_err_set(err, MP_EFORMAT, "%s: offset %lld: a string holds a NUL character (\\u0000)", what, nul);
    cJSON *root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    if (!root) {
        long long off = end && end >= text ? (long long)(end - text) : 0;
        if (!end) {
            const char *e = cJSON_GetErrorPtr();
            off = e && e >= text && e <= text + len ? (long long)(e - text) : 0;
        }
        return mp_err_set(err, MP_EFORMAT, "%s: offset %lld: malformed JSON", what, off);
    }
    int rc = parse_root(root, out, load_out, what, err);
    cJSON_Delete(root);
    return rc;
}

int mp__plan_file_read(const char *path, char **text, size_t *len, mp_err *err)
{
    *text = NULL;
    *len = 0;
    FILE *fp = fopen(path, "rb");
    if (!fp) return mp_err_set(err, MP_EIO, "%s: cannot open", path);
    long long size = mp_file_size(fp);
    if (size > MP_PLAN_FILE_MAX) {
        fclose(fp);
        return mp_err_set(err, MP_ELIMIT, "%s: %lld bytes is larger than a plan may be", path, size);
    }
    size_t cap = size > 0 ? (size_t)size + 1 : 65536, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        size_t got = fread(buf + n, 1, cap - n, fp);
        n += got;
        if (n < cap) break;
        if ((long long)cap >= MP_PLAN_FILE_MAX) {
            free(buf);
            fclose(fp);
            return mp_err_set(err, MP_ELIMIT, "%s: larger than a plan may be", path);
        }
        char *nb = realloc(buf, cap * 2);
        if (!nb) free(buf);
        buf = nb, cap *= 2;
    }
    int ioerr = ferror(fp);
    fclose(fp);
    if (!buf) return mp_err_set(err, MP_ENOMEM, "%s: out of memory", path);
    if (ioerr) {
        free(buf);
        return mp_err_set(err, MP_EIO, "%s: read failed", path);
    }
    *text = buf;
    *len = n;
    return 0;
}

int mp_plan_read_json(mp_plan **out, double **load_out, const char *path, mp_err *err)
{
    *out = NULL;
    if (load_out) *load_out = NULL;
    char *buf;
    size_t n;
    int rc = mp__plan_file_read(path, &buf, &n, err);
    if (rc) return rc;
    rc = mp_plan_parse_json(out, load_out, buf, n, path, err);
    free(buf);
    return rc;
}
