/*
 * fmt_vllm_eplb.c - vLLM's EPLB load statistics, JSON lines, read as loads.
 *
 * vLLM PR #41141 ("[EPLB] Add offline expert mapping support", open at the
 * time of writing) has the EPLB state write one JSON object per line:
 *   {"record_type": "eplb_load_meta", "version": 1, "model": ..., "num_ranks": ...,
 *    "num_groups": ..., "num_nodes": ..., "num_layers": L, "num_redundant_experts": ...}
 *   {"record_type": "eplb_load_stats", "version": 1, "step": N,
 *    "expert_load": [L][P], "p2l_map": [L][P]}   (one per recorded window)
 * expert_load counts tokens per physical slot; p2l_map names each slot's
 * logical expert, and may change between records (a rearrangement happened):
 * every record is folded through its own map, as the PR's
 * tools/eplb/generate_static_mapping.py does (scatter-add by p2l_map).
 *
 * Read: each eplb_load_stats record becomes one step, in file order (the
 * engine's step counter may restart, so `step` is checked to be a number
 * but not used for order).  E is the largest logical id plus one; L is the
 * same in every record (and equals the meta record's num_layers when it
 * has one); P may differ between records.  The meta record is optional but,
 * when present, comes first and once; records of other types (markers that
 * tools add) are skipped; blank lines are skipped.  Counts are finite,
 * non-negative and below 2^53, and so are the folded rows' sums; map ids are
 * integers in [0, P).  Errors name the file, the line and the JSON path.
 *
 * The file is read twice, one line at a time (each line at most
 * LINE_MAX_BYTES): the first pass checks everything and finds L, E and the
 * record count, the second fills the matrix.
 */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "traces/formats/mp__format.h"
#include "traces/formats/mp__lines.h"

#define LINE_MAX_BYTES ((size_t)64 << 20)
#define TWO53 MP_LOADS_SUM_MAX

static int eplb_sniff(const unsigned char *h, size_t n)
{
    return mp__first_line_has(h, n, "\"eplb_load_meta\"") || mp__first_line_has(h, n, "\"eplb_load_stats\"");
}

typedef struct scan {
    const char *path;
    int64_t line;
    int32_t layers; /* 0 until the first stats record      */
    int32_t meta_layers;
    int64_t records;
    int32_t max_id;
    int seen_meta, seen_stats;
} scan;

/* The [L][P] array under key k of record o, checked: *rows and *cols. */
static int matrix(const scan *s, const cJSON *o, const char *k, int ids, int32_t want_rows, int32_t want_cols,
                  int32_t *rows, int32_t *cols, mp_err *err)
{
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, k);
    if (!cJSON_IsArray(a))
        return mp_err_set(err, MP_EFORMAT, "%s: line %lld: %s: missing or not an array", s->path, (long long)s->line, k);
    int32_t r = 0, c = -1;
    for (const cJSON *row = a->child; row; row = row->next, r++) {
        if (r >= MP_LAYERS_MAX)
            return mp_err_set(err, MP_ELIMIT, "%s: line %lld: %s: more than %d layers", s->path, (long long)s->line, k,
                              MP_LAYERS_MAX);
        if (!cJSON_IsArray(row))
            return mp_err_set(err, MP_ESHAPE, "%s: line %lld: %s[%d]: not an array", s->path, (long long)s->line, k, r);
        int32_t j = 0;
        for (const cJSON *v = row->child; v; v = v->next, j++) {
            double d = cJSON_IsNumber(v) ? v->valuedouble : -1;
            int ok = ids ? d >= 0 && d == floor(d) && (want_cols < 0 || d < want_cols) : d >= 0 && d < TWO53;
            if (!cJSON_IsNumber(v) || !ok)
                return mp_err_set(err, MP_ERANGE, "%s: line %lld: %s[%d][%d]: %s", s->path, (long long)s->line, k, r, j,
                                  ids ? "not a slot's logical expert id (an integer in 0..slots-1)"
                                      : "not a count (finite, non-negative, below 2^53)");
        }
        if (c >= 0 && j != c)
            return mp_err_set(err, MP_ESHAPE, "%s: line %lld: %s[%d]: %d entries, row 0 has %d (ragged)", s->path,
                              (long long)s->line, k, r, j, c);
        c = j;
    }
    if (r == 0 || c <= 0)
        return mp_err_set(err, MP_ESHAPE, "%s: line %lld: %s: empty", s->path, (long long)s->line, k);
    if (want_rows > 0 && want_cols <= 0 && r != want_rows)
        return mp_err_set(err, MP_ESHAPE, "%s: line %lld: %s has %d layer rows, expected %d", s->path, (long long)s->line,
                          k, r, want_rows);
    if ((want_rows > 0 && r != want_rows) || (want_cols > 0 && c != want_cols))
        return mp_err_set(err, MP_ESHAPE, "%s: line %lld: %s is [%d][%d], expected [%d][%d]", s->path, (long long)s->line,
                          k, r, c, want_rows, want_cols);
    *rows = r;
    *cols = c;
    return 0;
}

/* One line: checks it, updates the scan; with l, folds a stats record into step `s->records`. */
static int record(scan *s, const char *line, size_t n, mp_loads *l, mp_err *err)
{
    cJSON *o = cJSON_ParseWithLength(line, n);
    if (!cJSON_IsObject(o)) {
        int parsed = o != NULL;
        cJSON_Delete(o);
        return mp_err_set(err, MP_EFORMAT, "%s: line %lld: %s", s->path, (long long)s->line,
                          parsed ? "not a JSON object" : "invalid JSON");
    }
    const cJSON *rt = cJSON_GetObjectItemCaseSensitive(o, "record_type");
    int rc = 0;
    if (!cJSON_IsString(rt)) {
        rc = mp_err_set(err, MP_EFORMAT, "%s: line %lld: record_type: missing or not a string", s->path, (long long)s->line);
    } else if (strcmp(rt->valuestring, "eplb_load_meta") == 0) {
        const cJSON *nl = cJSON_GetObjectItemCaseSensitive(o, "num_layers");
        if (s->seen_meta)
            rc = mp_err_set(err, MP_EFORMAT, "%s: line %lld: a second eplb_load_meta record", s->path, (long long)s->line);
        else if (s->seen_stats)
            rc = mp_err_set(err, MP_EFORMAT, "%s: line %lld: eplb_load_meta after eplb_load_stats records", s->path,
                            (long long)s->line);
        else if (nl && !cJSON_IsNull(nl)) {
            if (!cJSON_IsNumber(nl) || nl->valuedouble < 1 || nl->valuedouble > MP_LAYERS_MAX ||
                nl->valuedouble != floor(nl->valuedouble))
                rc = mp_err_set(err, MP_EFORMAT, "%s: line %lld: num_layers: not a layer count", s->path, (long long)s->line);
            else
                s->meta_layers = (int32_t)nl->valuedouble;
        }
        s->seen_meta = 1;
    } else if (strcmp(rt->valuestring, "eplb_load_stats") == 0) {
        const cJSON *st = cJSON_GetObjectItemCaseSensitive(o, "step");
        int32_t L, P, L2, P2;
        if (!cJSON_IsNumber(st) || st->valuedouble < 0 || st->valuedouble != floor(st->valuedouble))
            rc = mp_err_set(err, MP_EFORMAT, "%s: line %lld: step: missing or not a step number", s->path, (long long)s->line);
        if (!rc) {
            int32_t want = s->layers ? s->layers : s->meta_layers;
            rc = matrix(s, o, "expert_load", 0, want > 0 ? want : -1, -1, &L, &P, err);
        }
        if (!rc) rc = matrix(s, o, "p2l_map", 1, L, P, &L2, &P2, err);
        if (!rc && !l) {
            s->layers = L;
            for (const cJSON *row = cJSON_GetObjectItemCaseSensitive(o, "p2l_map")->child; row; row = row->next)
                for (const cJSON *v = row->child; v; v = v->next)
                    if ((int32_t)v->valuedouble > s->max_id) s->max_id = (int32_t)v->valuedouble;
        }
        if (!rc && l) { /* fold: row[p2l[y][p]] += load[y][p] */
            if (s->records >= l->steps || L != l->layers) {
                rc = mp_err_set(err, MP_EFORMAT, "%s: changed while being read", s->path);
            } else {
                const cJSON *lr = cJSON_GetObjectItemCaseSensitive(o, "expert_load")->child;
                const cJSON *mr = cJSON_GetObjectItemCaseSensitive(o, "p2l_map")->child;
                for (int32_t y = 0; y < L && !rc; y++, lr = lr->next, mr = mr->next) {
                    double *row = mp_loads_row(l, (int32_t)s->records, y), sum = 0;
                    for (const cJSON *a = lr->child, *b = mr->child; a && b; a = a->next, b = b->next) {
                        int32_t e = (int32_t)b->valuedouble;
                        if (e >= l->experts) {
                            rc = mp_err_set(err, MP_EFORMAT, "%s: changed while being read", s->path);
                            break;
                        }
                        row[e] += a->valuedouble;
                    }
                    for (int32_t e = 0; e < l->experts; e++) sum += row[e];
                    if (!rc && !(sum < TWO53))
                        rc = mp_err_set(err, MP_ERANGE, "%s: line %lld: expert_load[%d]: the layer's counts sum to 2^53 or more",
                                        s->path, (long long)s->line, y);
                }
            }
        }
        s->seen_stats = 1;
        if (!rc) s->records++;
    } /* other record types: skipped */
    cJSON_Delete(o);
    return rc;
}

static int pass(scan *s, const char *path, mp_loads *l, mp_err *err)
{
    mp__lines r;
    int rc = mp__lines_open(&r, path, LINE_MAX_BYTES, err);
    if (rc) return rc;
    char *line;
    size_t n;
    while ((rc = mp__lines_next(&r, &line, &n, err)) == 1) {
        s->line = r.line;
        if (mp__blank(line, n)) continue;
        if ((rc = record(s, line, n, l, err)) != 0) break;
    }
    mp__lines_close(&r);
    return rc;
}

static int eplb_read_loads(mp_loads **out, const char *path, const mp_read_opts *opts, mp_err *err)
{
    (void)opts;
    *out = NULL;
    scan s = {0};
    s.path = path;
    int rc = pass(&s, path, NULL, err);
    if (rc) return rc;
    if (s.records == 0) return mp_err_set(err, MP_EFORMAT, "%s: no eplb_load_stats records", path);
    if (s.records > INT32_MAX) return mp_err_set(err, MP_ELIMIT, "%s: too many records", path);
    if (s.max_id >= MP_EXPERTS_MAX)
        return mp_err_set(err, MP_ELIMIT, "%s: logical expert id %d (at most %d experts)", path, s.max_id, MP_EXPERTS_MAX);
    mp_loads *l;
    if ((rc = mp_loads_create(&l, (int32_t)s.records, s.layers, s.max_id + 1, err))) return rc;
    scan s2 = {0};
    s2.path = path;
    if ((rc = pass(&s2, path, l, err)) == 0 && s2.records != s.records)
        rc = mp_err_set(err, MP_EFORMAT, "%s: changed while being read", path);
    if (rc) {
        mp_loads_destroy(l);
        return rc;
    }
    *out = l;
    return 0;
}

const mp__format mp__format_vllm_eplb = {MP_FMT_VLLM_EPLB, "vllm-eplb", "", NULL, NULL, eplb_sniff, eplb_read_loads,
                                         NULL};
