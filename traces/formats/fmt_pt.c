/*
 * fmt_pt.c - SGLang expert distribution recorder dumps: torch.save .pt files
 * (a ZIP of data.pkl and raw storages, read through pt_zip.c and the safe
 * unpickler of pickle.c), one file or a folder holding one dump.
 *
 * What SGLang writes (python/sglang/srt/eplb/expert_distribution.py):
 *  - `stat` / `stat_approx` mode, rank 0 only: {rank, logical_count int32
 *    [buffer rows, decoder layers, logical experts], average_utilization_
 *    rate_over_window}.  Rows come from a circular buffer (ring order,
 *    unfilled rows zero); an infinite buffer (size -1) holds filled rows
 *    only.  Read as loads, one step per filled row.
 *  - `per_pass` mode, every rank: {records: [{forward_pass_id, rank,
 *    gatherer_key, global_physical_count [L, P]}], last_physical_to_logical_
 *    map [L, P]}.  Read as loads: one step per forward pass, ranks summed,
 *    physical slots folded onto logical experts through the map.
 *  - `per_token` mode, every rank: records also hold topk_ids_of_layer int32
 *    [L, tokens, 8] (physical ids, -1 padded), input_ids, positions, ...
 *    Read as a routing trace: steps are forward passes (ascending id),
 *    tokens of rank 0 first, source rank = the record's rank, ids mapped to
 *    logical experts, -1 dropped; top-k is the count of the other ids, the
 *    same for every token of every MoE layer.
 * Layers: SGLang counts decoder layers, dense ones included (they record
 * nothing).  With a model that places its MoE layers among decoder layers
 * (decoder_layers > 0) those are kept, and a dense layer that recorded
 * something is an error; without one, every layer that recorded nothing is
 * taken as dense, left out and reported through the notice callback.
 */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "traces/formats/mp__fmtutil.h"
#include "traces/formats/mp__format.h"
#include "traces/formats/mp__pickle.h"
#include "traces/formats/mp__ptzip.h"
#include "traces/formats/mp_loadfile.h"

#define PT_FILES_MAX 4096
#define PT_PKL_MAX ((int64_t)1 << 30)

enum { PT_STAT = 1, PT_PER_PASS, PT_PER_TOKEN };

typedef struct pt_file {
    char *path;
    char *what; /* "path: data.pkl" */
    mp__ptzip *z;
    unsigned char *pkl;
    size_t pkln;
    mp__pickle *tree;
    const mp__pv *root;
    int32_t *map; /* [mapL][mapP] physical -> logical */
    int32_t mapL, mapP;
} pt_file;

typedef struct pt_rec {
    int file;
    const mp__pv *rec;
    int64_t fpid, rank;
} pt_rec;

typedef struct pt_dump {
    const char *path;
    pt_file *files;
    int nfiles;
    int kind;
    pt_rec *recs;
    int64_t nrecs;
    int32_t L, E;       /* decoder layers recorded, logical experts */
    int32_t *moe_of;    /* [L]: kept layer index or -1 */
    int32_t Lk;         /* layers kept */
    mp_model model;
    const mp_read_opts *opts;
} pt_dump;

static int pt_sniff(const unsigned char *h, size_t n) { return n >= 4 && memcmp(h, "PK\3\4", 4) == 0; }

static void notice(const mp_read_opts *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void notice(const mp_read_opts *o, const char *fmt, ...)
{
    if (!o || !o->notice) return;
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    o->notice(o->notice_ctx, line);
}

/* ------------------------------------------------------------ files */

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int mp__pt_dir_files(const char *dir, char ***names, int *n, mp_err *err)
{
    *names = NULL;
    *n = 0;
    DIR *dp = opendir(dir);
    if (!dp) return mp_err_set(err, MP_EIO, "%s: cannot open the folder", dir);
    char **v = NULL;
    int cnt = 0, rc = 0;
    struct dirent *de;
    while ((de = readdir(dp)) != NULL) {
        size_t l = strlen(de->d_name);
        if (l < 4 || strcmp(de->d_name + l - 3, ".pt") != 0 || de->d_name[0] == '.') continue;
        if (cnt >= PT_FILES_MAX) {
            rc = mp_err_set(err, MP_ELIMIT, "%s: more than %d .pt files", dir, PT_FILES_MAX);
            break;
        }
        char *full = malloc(strlen(dir) + l + 2);
        char **nv = realloc(v, (size_t)(cnt + 1) * sizeof *v);
        if (!full || !nv) {
            free(full);
            if (nv) v = nv;
            rc = mp_err_set(err, MP_ENOMEM, "%s: out of memory", dir);
            break;
        }
        v = nv;
        sprintf(full, "%s/%s", dir, de->d_name);
        struct stat st;
        if (stat(full, &st) != 0 || !S_ISREG(st.st_mode)) {
            free(full);
            continue;
        }
        v[cnt++] = full;
    }
    closedir(dp);
    if (!rc && cnt == 0) rc = mp_err_set(err, MP_EFORMAT, "%s: the folder holds no .pt file", dir);
    if (rc) {
        for (int i = 0; i < cnt; i++) free(v[i]);
        free(v);
        return rc;
    }
    qsort(v, (size_t)cnt, sizeof *v, cmp_str);
    *names = v;
    *n = cnt;
    return 0;
}

int mp__pt_dir_sniff(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) return 0;
    DIR *dp = opendir(path);
    if (!dp) return 0;
    int found = 0;
    struct dirent *de;
    while (!found && (de = readdir(dp)) != NULL) {
        size_t l = strlen(de->d_name);
        found = l >= 4 && de->d_name[0] != '.' && strcmp(de->d_name + l - 3, ".pt") == 0;
    }
    closedir(dp);
    return found;
}

static int file_open(pt_file *f, const char *path, const void *mem, size_t memlen, mp_err *err)
{
    if (!(f->path = strdup(path)) || !(f->what = malloc(strlen(path) + 16)))
        return mp_err_set(err, MP_ENOMEM, "%s: out of memory", path);
    sprintf(f->what, "%s: data.pkl", path);
    int rc = mp__ptzip_open(&f->z, path, mem, memlen, err);
    if (!rc) rc = mp__ptzip_read(f->z, "data.pkl", PT_PKL_MAX, &f->pkl, &f->pkln, err);
    if (!rc) rc = mp__pickle_parse(&f->tree, f->pkl, f->pkln, f->what, err);
    if (rc) return rc;
    f->root = mp__pickle_root(f->tree);
    if (f->root->kind != MP__PV_DICT)
        return mp_err_set(err, MP_EFORMAT, "%s: the pickle holds no dict (not an SGLang expert distribution dump)", f->what);
    return 0;
}

static void file_close(pt_file *f)
{
    mp__pickle_free(f->tree);
    free(f->pkl);
    mp__ptzip_close(f->z);
    free(f->map);
    free(f->path);
    free(f->what);
}

/* ------------------------------------------------------------ tensors */

typedef struct tensor {
    unsigned char *buf;        /* the storage bytes (free) */
    const unsigned char *data; /* first element           */
    mp__dtype dt;
    int ndim;
    int64_t shape[MP__PICKLE_NDIM_MAX];
    int64_t numel;
} tensor;

static inline int64_t tget(const tensor *t, int64_t i)
{
    if (t->dt == MP__DT_INT32) {
        int32_t v;
        memcpy(&v, t->data + 4 * i, 4);
        return v;
    }
    int64_t v;
    memcpy(&v, t->data + 8 * i, 8);
    return v;
}

/* Reads `key` of dict `d` as an int32/int64 contiguous tensor of ndim dimensions. */
static int tensor_read(pt_file *f, const mp__pv *d, const char *key, int ndim, tensor *t, mp_err *err)
{
    memset(t, 0, sizeof *t);
    const mp__pv *v = mp__pv_get(d, key);
    if (!v) return mp_err_set(err, MP_EFORMAT, "%s: offset %lld: no '%s'", f->what, (long long)d->off, key);
    if (v->kind != MP__PV_TENSOR)
        return mp_err_set(err, MP_EFORMAT, "%s: offset %lld: '%s' is not a tensor", f->what, (long long)v->off, key);
    const mp__pv *s = v->u.tensor.storage;
    t->dt = s->u.storage.dtype;
    if (t->dt != MP__DT_INT32 && t->dt != MP__DT_INT64)
        return mp_err_set(err, MP_EUNSUPPORTED, "%s: offset %lld: '%s' is %s (want int32 or int64)", f->what,
                          (long long)v->off, key, mp__dtype_name(t->dt));
    if (v->u.tensor.ndim != ndim)
        return mp_err_set(err, MP_ESHAPE, "%s: offset %lld: '%s' has %d dimensions (want %d)", f->what, (long long)v->off,
                          key, v->u.tensor.ndim, ndim);
    if (!mp__pv_contiguous(v))
        return mp_err_set(err, MP_EUNSUPPORTED, "%s: offset %lld: '%s' is not contiguous", f->what, (long long)v->off, key);
    t->ndim = ndim;
    memcpy(t->shape, v->u.tensor.shape, sizeof t->shape);
    t->numel = mp__pv_numel(v);
    int isz = mp__dtype_size(t->dt);
    char rel[96];
    snprintf(rel, sizeof rel, "data/%.*s", (int)s->u.storage.keylen, s->u.storage.key);
    int64_t have = mp__ptzip_size(f->z, rel);
    if (have < 0)
        return mp_err_set(err, MP_EFORMAT, "%s: offset %lld: '%s': the archive has no storage %s", f->what,
                          (long long)v->off, key, rel);
    /* rebuild_tensor checked offset + extent < storage numel; now the bytes */
    int64_t need = t->numel ? (v->u.tensor.offset + t->numel) : 0;
    if (need > have / isz || s->u.storage.numel > have / isz)
        return mp_err_set(err, MP_EFORMAT, "%s: offset %lld: '%s': storage %s has %lld bytes, the tensor needs %lld",
                          f->what, (long long)v->off, key, rel, (long long)have,
                          (long long)((need > s->u.storage.numel ? need : s->u.storage.numel) * isz));
    size_t n;
    int rc = mp__ptzip_read(f->z, rel, have, &t->buf, &n, err);
    if (rc) return rc;
    t->data = t->buf + v->u.tensor.offset * isz;
    return 0;
}

static int int_key(const pt_file *f, const mp__pv *d, const char *key, int64_t *out, mp_err *err)
{
    const mp__pv *v = mp__pv_get(d, key);
    if (!v || v->kind != MP__PV_INT)
        return mp_err_set(err, MP_EFORMAT, "%s: offset %lld: '%s' %s", f->what, (long long)d->off, key,
                          v ? "is not an integer" : "is missing");
    *out = v->u.i;
    return 0;
}

/* Reads last_physical_to_logical_map into f->map. */
static int read_map(pt_file *f, mp_err *err)
{
    tensor t;
    int rc = tensor_read(f, f->root, "last_physical_to_logical_map", 2, &t, err);
    if (rc) {
        free(t.buf);
        return rc;
    }
    if (t.shape[0] < 1 || t.shape[0] > MP_LAYERS_MAX || t.shape[1] < 1 || t.shape[1] > 1 << 20) {
        free(t.buf);
        return mp_err_set(err, MP_ESHAPE, "%s: last_physical_to_logical_map is [%lld, %lld]", f->what,
                          (long long)t.shape[0], (long long)t.shape[1]);
    }
    f->mapL = (int32_t)t.shape[0];
    f->mapP = (int32_t)t.shape[1];
    if (!(f->map = malloc((size_t)t.numel * sizeof *f->map))) {
        free(t.buf);
        return mp_err_set(err, MP_ENOMEM, "%s: out of memory", f->what);
    }
    for (int64_t i = 0; i < t.numel; i++) {
        int64_t e = tget(&t, i);
        if (e < 0 || e >= MP_EXPERTS_MAX) {
            free(t.buf);
            return mp_err_set(err, MP_ERANGE, "%s: last_physical_to_logical_map[%lld][%lld] = %lld is not an expert id",
                              f->what, (long long)(i / f->mapP), (long long)(i % f->mapP), (long long)e);
        }
        f->map[i] = (int32_t)e;
    }
    free(t.buf);
    return 0;
}

/* ------------------------------------------------------------ the dump */

static int cmp_rec(const void *a, const void *b)
{
    const pt_rec *x = a, *y = b;
    if (x->fpid != y->fpid) return x->fpid < y->fpid ? -1 : 1;
    if (x->rank != y->rank) return x->rank < y->rank ? -1 : 1;
    return 0;
}

static void dump_free(pt_dump *d)
{
    for (int i = 0; i < d->nfiles; i++) file_close(&d->files[i]);
    free(d->files);
    free(d->recs);
    free(d->moe_of);
    memset(d, 0, sizeof *d);
}

static int collect_records(pt_dump *d, mp_err *err)
{
    int64_t total = 0;
    for (int i = 0; i < d->nfiles; i++) {
        const mp__pv *r = mp__pv_get(d->files[i].root, "records");
        if (!r || r->kind != MP__PV_LIST)
            return mp_err_set(err, MP_EFORMAT, "%s: 'records' is not a list", d->files[i].what);
        total += r->u.seq.n;
    }
    if (total == 0) return mp_err_set(err, MP_EFORMAT, "%s: the dump holds no records", d->path);
    if (!(d->recs = calloc((size_t)total, sizeof *d->recs))) return mp_err_set(err, MP_ENOMEM, "%s: out of memory", d->path);
    int tok = -1;
    for (int i = 0; i < d->nfiles; i++) {
        pt_file *f = &d->files[i];
        const mp__pv *r = mp__pv_get(f->root, "records");
        for (int64_t k = 0; k < r->u.seq.n; k++) {
            const mp__pv *rec = r->u.seq.items[k];
            if (rec->kind != MP__PV_DICT)
                return mp_err_set(err, MP_EFORMAT, "%s: offset %lld: record %lld is not a dict", f->what, (long long)rec->off,
                                  (long long)k);
            pt_rec *pr = &d->recs[d->nrecs++];
            pr->file = i;
            pr->rec = rec;
            int rc = int_key(f, rec, "forward_pass_id", &pr->fpid, err);
            if (!rc) rc = int_key(f, rec, "rank", &pr->rank, err);
            if (rc) return rc;
            if (pr->rank < 0 || pr->rank > INT32_MAX)
                return mp_err_set(err, MP_ERANGE, "%s: offset %lld: rank %lld", f->what, (long long)rec->off,
                                  (long long)pr->rank);
            int t = mp__pv_get(rec, "topk_ids_of_layer") != NULL;
            if (tok >= 0 && t != tok)
                return mp_err_set(err, MP_EFORMAT, "%s: offset %lld: records mix per_token and per_pass modes", f->what,
                                  (long long)rec->off);
            tok = t;
        }
    }
    qsort(d->recs, (size_t)d->nrecs, sizeof *d->recs, cmp_rec);
    for (int64_t k = 1; k < d->nrecs; k++)
        if (cmp_rec(&d->recs[k], &d->recs[k - 1]) == 0)
            return mp_err_set(err, MP_EFORMAT, "%s: forward pass %lld of rank %lld appears twice (two dumps in one folder?)",
                              d->files[d->recs[k].file].what, (long long)d->recs[k].fpid, (long long)d->recs[k].rank);
    d->kind = tok ? PT_PER_TOKEN : PT_PER_PASS;
    for (int i = 0; i < d->nfiles; i++) {
        int rc = read_map(&d->files[i], err);
        if (rc) return rc;
        if (d->files[i].mapL != d->files[0].mapL || d->files[i].mapP != d->files[0].mapP)
            return mp_err_set(err, MP_ESHAPE, "%s: last_physical_to_logical_map is [%d, %d], %s has [%d, %d]",
                              d->files[i].what, d->files[i].mapL, d->files[i].mapP, d->files[0].path, d->files[0].mapL,
                              d->files[0].mapP);
    }
    d->L = d->files[0].mapL;
    int32_t mx = 0;
    for (int i = 0; i < d->nfiles; i++)
        for (int64_t k = 0; k < (int64_t)d->files[i].mapL * d->files[i].mapP; k++)
            if (d->files[i].map[k] > mx) mx = d->files[i].map[k];
    d->E = mx + 1;
    return 0;
}

/* Opens the file, the folder's files, or the memory buffer; tells the mode. */
static int dump_open(pt_dump *d, const char *path, const void *mem, size_t memlen, const mp_read_opts *opts, mp_err *err)
{
    memset(d, 0, sizeof *d);
    d->path = path;
    d->opts = opts;
    char **names = NULL;
    int n = 1, rc = 0;
    struct stat st;
    if (!mem && stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        if ((rc = mp__pt_dir_files(path, &names, &n, err))) return rc;
    }
    d->files = calloc((size_t)n, sizeof *d->files);
    if (!d->files) rc = mp_err_set(err, MP_ENOMEM, "%s: out of memory", path);
    for (int i = 0; !rc && i < n; i++) {
        rc = file_open(&d->files[i], names ? names[i] : path, mem, memlen, err);
        d->nfiles = i + 1;
    }
    for (int i = 0; names && i < n; i++) free(names[i]);
    free(names);
    if (rc) return rc;
    int stat_files = 0;
    for (int i = 0; i < d->nfiles; i++) {
        const mp__pv *r = d->files[i].root;
        if (mp__pv_get(r, "logical_count")) stat_files++;
        else if (!mp__pv_get(r, "records"))
            return mp_err_set(err, MP_EFORMAT,
                              "%s: neither 'logical_count' nor 'records': not an SGLang expert distribution dump",
                              d->files[i].what);
    }
    if (stat_files && stat_files != d->nfiles)
        return mp_err_set(err, MP_EFORMAT, "%s: the folder mixes stat-mode and per_pass/per_token dumps", path);
    if (stat_files > 1)
        return mp_err_set(err, MP_EFORMAT, "%s: the folder holds %d stat-mode dumps (give one file)", path, stat_files);
    if (stat_files) {
        d->kind = PT_STAT;
        return 0;
    }
    return collect_records(d, err);
}

/* Writes "0-2, 5" for the layers with flag 0 into buf. */
static void layer_list(const unsigned char *has, int32_t L, char *buf, size_t cap)
{
    size_t k = 0;
    buf[0] = '\0';
    for (int32_t l = 0; l < L && k + 24 < cap; l++) {
        if (has[l]) continue;
        int32_t e = l;
        while (e + 1 < L && !has[e + 1]) e++;
        k += (size_t)snprintf(buf + k, cap - k, k ? ", %d" : "%d", l);
        if (e > l) k += (size_t)snprintf(buf + k, cap - k, "-%d", e);
        l = e;
    }
}

/* Decides which decoder layers are MoE (has[l]: layer l recorded something)
 * and fills moe_of, Lk and the model's decoder fields. */
static int choose_layers(pt_dump *d, const unsigned char *has, mp_err *err)
{
    /* a model given, as a hint or as a configuration (--model) */
    const mp_model *hint = !d->opts ? NULL : d->opts->model ? d->opts->model : d->opts->config;
    if (!(d->moe_of = malloc((size_t)d->L * sizeof *d->moe_of))) return mp_err_set(err, MP_ENOMEM, "%s: out of memory", d->path);
    mp_model m = mp_model_default();
    d->Lk = 0;
    if (hint && hint->decoder_layers > 0) {
        if (hint->decoder_layers != d->L)
            return mp_err_set(err, MP_ESHAPE, "%s: the dump has %d decoder layers, the model given has %d", d->path, d->L,
                              hint->decoder_layers);
        for (int32_t l = 0; l < d->L; l++) {
            int moe = mp_model_moe_of(hint, l) >= 0;
            if (has[l] && !moe)
                return mp_err_set(err, MP_ESHAPE, "%s: decoder layer %d recorded routing, but the model given has it dense",
                                  d->path, l);
            if (!has[l] && moe)
                return mp_err_set(err, MP_ESHAPE, "%s: decoder layer %d is MoE in the model given, but recorded nothing",
                                  d->path, l);
            d->moe_of[l] = moe ? d->Lk++ : -1;
        }
        m.decoder_layers = hint->decoder_layers;
        m.first_dense = hint->first_dense;
        m.moe_every = hint->moe_every;
        m.moe_phase = hint->moe_phase;
    } else {
        int32_t first = -1, second = -1;
        for (int32_t l = 0; l < d->L; l++) {
            d->moe_of[l] = has[l] ? d->Lk++ : -1;
            if (has[l] && first < 0) first = l;
            else if (has[l] && second < 0) second = l;
        }
        if (d->Lk == 0) return mp_err_set(err, MP_EFORMAT, "%s: the dump recorded no expert choice in any layer", d->path);
        if (d->Lk < d->L) {
            /* the layer rule of mp_model, when the kept layers follow one */
            int32_t every = second > 0 ? second - first : 1, phase = first % every;
            int fits = 1;
            for (int32_t l = 0; l < d->L && fits; l++) fits = !!has[l] == (l >= first && l % every == phase);
            char list[160];
            layer_list(has, d->L, list, sizeof list);
            if (fits) {
                m.decoder_layers = d->L;
                m.first_dense = first;
                m.moe_every = every;
                m.moe_phase = phase;
            }
            notice(d->opts, "%s: decoder layers %s recorded nothing: taken as dense and left out (%d MoE layers kept)",
                   d->path, list, d->Lk);
        }
    }
    m.layers = d->Lk;
    m.experts = d->E;
    d->model = m;
    return 0;
}

/* ------------------------------------------------------------ loads */

static int loads_stat(pt_dump *d, mp_loads **out, mp_err *err)
{
    pt_file *f = &d->files[0];
    tensor t;
    int rc = tensor_read(f, f->root, "logical_count", 3, &t, err);
    if (rc) goto done;
    int64_t B = t.shape[0], L = t.shape[1], E = t.shape[2];
    if (L < 1 || L > MP_LAYERS_MAX || E < 1 || E > MP_EXPERTS_MAX) {
        rc = mp_err_set(err, MP_ESHAPE, "%s: logical_count is [%lld, %lld, %lld]", f->what, (long long)B, (long long)L,
                        (long long)E);
        goto done;
    }
    d->L = (int32_t)L;
    d->E = (int32_t)E;
    unsigned char *rowfull = calloc((size_t)B + 1, 1), *has = calloc((size_t)L, 1);
    if (!rowfull || !has) {
        free(rowfull);
        free(has);
        rc = mp_err_set(err, MP_ENOMEM, "%s: out of memory", d->path);
        goto done;
    }
    for (int64_t i = 0; i < t.numel; i++) {
        int64_t v = tget(&t, i);
        if (v < 0) {
            rc = mp_err_set(err, MP_ERANGE, "%s: logical_count[%lld][%lld][%lld] = %lld is negative", f->what,
                            (long long)(i / (L * E)), (long long)(i / E % L), (long long)(i % E), (long long)v);
            break;
        }
        if (v) {
            rowfull[i / (L * E)] = 1;
            has[i / E % L] = 1;
        }
    }
    int64_t S = 0;
    for (int64_t b = 0; b < B; b++) S += rowfull[b];
    if (!rc && S == 0) rc = mp_err_set(err, MP_EFORMAT, "%s: logical_count is all zero (nothing recorded)", f->what);
    if (!rc) rc = choose_layers(d, has, err);
    /* ring order: the oldest filled row follows the longest run of unfilled
     * rows (cyclically); with none, the ring's position is not recorded */
    int64_t start = 0;
    if (!rc && S < B) {
        int64_t best = -1, bestlen = 0;
        for (int64_t b = 0; b < B; b++) {
            if (rowfull[b] || !rowfull[(b + B - 1) % B]) continue; /* runs start after a filled row */
            int64_t len = 0;
            while (len < B && !rowfull[(b + len) % B]) len++;
            if (len > bestlen) bestlen = len, best = b;
        }
        start = (best + bestlen) % B;
    } else if (!rc && B > 1) {
        notice(d->opts, "%s: all %lld buffer rows are filled: the ring's oldest row is not recorded, rows are kept in buffer "
                        "order", d->path, (long long)B);
    }
    mp_loads *l = NULL;
    if (!rc && S * d->Lk * E > MP_LOADS_CELLS_MAX) rc = mp_err_set(err, MP_ELIMIT, "%s: logical_count too large", f->what);
    if (!rc) rc = mp_loads_create(&l, (int32_t)S, d->Lk, (int32_t)E, err);
    int64_t s = 0;
    for (int64_t k = 0; !rc && k < B; k++) {
        int64_t b = (start + k) % B;
        if (!rowfull[b]) continue;
        for (int32_t ly = 0; ly < d->L; ly++) {
            if (d->moe_of[ly] < 0) continue;
            double *row = mp_loads_row(l, (int32_t)s, d->moe_of[ly]);
            for (int64_t e = 0; e < E; e++) row[e] = (double)tget(&t, (b * L + ly) * E + e);
        }
        s++;
    }
    free(rowfull);
    free(has);
    if (rc) {
        mp_loads_destroy(l);
        goto done;
    }
    l->model = d->model;
    *out = l;
done:
    free(t.buf);
    return rc;
}

static int loads_per_pass(pt_dump *d, mp_loads **out, mp_err *err)
{
    int64_t S = 0;
    for (int64_t k = 0; k < d->nrecs; k++) S += k == 0 || d->recs[k].fpid != d->recs[k - 1].fpid;
    int64_t cells = (int64_t)d->L * d->E;
    if (S > INT32_MAX || S * cells > MP_LOADS_CELLS_MAX)
        return mp_err_set(err, MP_ELIMIT, "%s: %lld passes x %d layers x %d experts is too large", d->path, (long long)S,
                          d->L, d->E);
    mp_loads *all = NULL;
    int rc = mp_loads_create(&all, (int32_t)S, d->L, d->E, err);
    unsigned char *has = calloc((size_t)d->L, 1);
    if (!rc && !has) rc = mp_err_set(err, MP_ENOMEM, "%s: out of memory", d->path);
    int64_t s = -1;
    for (int64_t k = 0; !rc && k < d->nrecs; k++) {
        if (k == 0 || d->recs[k].fpid != d->recs[k - 1].fpid) s++;
        pt_file *f = &d->files[d->recs[k].file];
        tensor t;
        rc = tensor_read(f, d->recs[k].rec, "global_physical_count", 2, &t, err);
        if (!rc && (t.shape[0] != f->mapL || t.shape[1] != f->mapP))
            rc = mp_err_set(err, MP_ESHAPE, "%s: forward pass %lld: global_physical_count is [%lld, %lld], the map [%d, %d]",
                            f->what, (long long)d->recs[k].fpid, (long long)t.shape[0], (long long)t.shape[1], f->mapL,
                            f->mapP);
        for (int64_t i = 0; !rc && i < t.numel; i++) {
            int64_t v = tget(&t, i);
            if (v < 0) {
                rc = mp_err_set(err, MP_ERANGE, "%s: forward pass %lld: global_physical_count[%lld][%lld] = %lld is negative",
                                f->what, (long long)d->recs[k].fpid, (long long)(i / f->mapP), (long long)(i % f->mapP),
                                (long long)v);
                break;
            }
            if (!v) continue;
            int64_t ly = i / f->mapP;
            mp_loads_row(all, (int32_t)s, (int32_t)ly)[f->map[i]] += (double)v;
            has[ly] = 1;
        }
        free(t.buf);
    }
    if (!rc) rc = choose_layers(d, has, err);
    mp_loads *l = NULL;
    if (!rc) rc = mp_loads_create(&l, (int32_t)S, d->Lk, d->E, err);
    for (int32_t st = 0; !rc && st < (int32_t)S; st++)
        for (int32_t ly = 0; ly < d->L; ly++)
            if (d->moe_of[ly] >= 0)
                memcpy(mp_loads_row(l, st, d->moe_of[ly]), mp_loads_row(all, st, ly), (size_t)d->E * sizeof(double));
    free(has);
    mp_loads_destroy(all);
    if (rc) {
        mp_loads_destroy(l);
        return rc;
    }
    l->model = d->model;
    *out = l;
    return 0;
}

static int hint_experts(pt_dump *d, mp_loads *l, mp_err *err)
{
    const mp_model *hint = d->opts ? d->opts->model : NULL;
    if (!hint) return 0;
    if (hint->layers > 0 && hint->layers != l->layers)
        return mp_err_set(err, MP_ESHAPE, "%s: the dump has %d MoE layers, the model given has %d", d->path, l->layers,
                          hint->layers);
    if (hint->experts > 0 && hint->experts != l->experts)
        return mp_err_set(err, MP_ESHAPE, "%s: the dump has %d experts, the model given has %d", d->path, l->experts,
                          hint->experts);
    if (hint->top_k > 0) { /* a full model: keep it with the loads */
        mp_model m = *hint;
        m.layers = l->layers;
        m.experts = l->experts;
        l->model = m;
        l->has_model = mp_model_validate(&m, d->path, err) == 0;
    }
    return 0;
}

static int read_loads(mp_loads **out, const char *path, const void *mem, size_t memlen, const mp_read_opts *opts,
                      mp_err *err)
{
    *out = NULL;
    pt_dump d;
    int rc = dump_open(&d, path, mem, memlen, opts, err);
    if (!rc && d.kind == PT_PER_TOKEN)
        rc = mp_err_set(err, MP_EUNSUPPORTED, "%s: a per_token dump holds per-token routing (read it as a trace)", path);
    if (!rc) rc = d.kind == PT_STAT ? loads_stat(&d, out, err) : loads_per_pass(&d, out, err);
    if (!rc && (rc = hint_experts(&d, *out, err))) {
        mp_loads_destroy(*out);
        *out = NULL;
    }
    dump_free(&d);
    return rc;
}

int mp_loads_read_pt(mp_loads **out, const char *path, const mp_read_opts *opts, mp_err *err)
{
    return read_loads(out, path, NULL, 0, opts, err);
}

int mp_pt_holds_loads(const char *path, const mp_read_opts *opts, int *is_loads, mp_err *err)
{
    pt_dump d;
    (void)opts;
    int rc = dump_open(&d, path, NULL, 0, NULL, err);
    *is_loads = !rc && d.kind != PT_PER_TOKEN;
    dump_free(&d);
    return rc;
}

/* ------------------------------------------------------------ trace reader */

typedef struct pt_reader {
    pt_dump d;
    int32_t K;
    int64_t *order;  /* records holding tokens, in step order */
    int64_t norder, ri; /* ... and the next one */
    int64_t tok;     /* next token within it */
    int64_t step, in_step;
    tensor cur;      /* the record's topk ids, loaded */
    int64_t cur_rec; /* which record cur holds, -1 none */
} pt_reader;

static void ptr_close(void *state)
{
    pt_reader *r = state;
    if (!r) return;
    free(r->cur.buf);
    free(r->order);
    dump_free(&r->d);
    free(r);
}

/* Loads record k's topk ids into r->cur and checks their shape. */
static int load_rec(pt_reader *r, int64_t k, mp_err *err)
{
    if (r->cur_rec == k) return 0;
    free(r->cur.buf);
    memset(&r->cur, 0, sizeof r->cur);
    r->cur_rec = -1;
    pt_file *f = &r->d.files[r->d.recs[k].file];
    int rc = tensor_read(f, r->d.recs[k].rec, "topk_ids_of_layer", 3, &r->cur, err);
    if (rc) return rc;
    if (r->cur.shape[0] != f->mapL || r->cur.shape[2] < 1 || r->cur.shape[2] > MP_TOPK_MAX)
        return mp_err_set(err, MP_ESHAPE, "%s: forward pass %lld: topk_ids_of_layer is [%lld, %lld, %lld], the map has %d layers",
                          f->what, (long long)r->d.recs[k].fpid, (long long)r->cur.shape[0], (long long)r->cur.shape[1],
                          (long long)r->cur.shape[2], f->mapL);
    r->cur_rec = k;
    return 0;
}

/* First pass over every record: id ranges, top-k, the layers that recorded
 * (has[l]: 0 not seen yet, 1 every token chose K experts, 2 none chose any);
 * lists the records that hold tokens in r->order. */
static int scan_records(pt_reader *r, unsigned char *has, int64_t *tokens, mp_err *err)
{
    pt_dump *d = &r->d;
    int32_t K = 0;
    *tokens = 0;
    if (!(r->order = malloc((size_t)d->nrecs * sizeof *r->order))) return mp_err_set(err, MP_ENOMEM, "%s: out of memory", d->path);
    for (int64_t k = 0; k < d->nrecs; k++) {
        int rc = load_rec(r, k, err);
        if (rc) return rc;
        pt_file *f = &d->files[d->recs[k].file];
        const tensor *t = &r->cur;
        int64_t T = t->shape[1], W = t->shape[2];
        long long fp = (long long)d->recs[k].fpid;
        const mp__pv *ii = mp__pv_get(d->recs[k].rec, "input_ids");
        if (ii && ii->kind == MP__PV_LIST && ii->u.seq.n != T)
            return mp_err_set(err, MP_ESHAPE, "%s: forward pass %lld: %lld input_ids but %lld tokens of topk_ids_of_layer",
                              f->what, fp, (long long)ii->u.seq.n, (long long)T);
        if (T > 0) r->order[r->norder++] = k;
        *tokens += T;
        for (int64_t l = 0; l < t->shape[0]; l++)
            for (int64_t tk = 0; tk < T; tk++) {
                int32_t c = 0;
                for (int64_t j = 0; j < W; j++) {
                    int64_t v = tget(t, (l * T + tk) * W + j);
                    if (v == -1) continue;
                    if (v < 0 || v >= f->mapP)
                        return mp_err_set(err, MP_ERANGE,
                                          "%s: forward pass %lld, layer %lld, token %lld: physical expert %lld is not in 0..%d",
                                          f->what, fp, (long long)l, (long long)tk, (long long)v, f->mapP - 1);
                    c++;
                }
                if ((c == 0 && has[l] == 1) || (c > 0 && has[l] == 2))
                    return mp_err_set(err, MP_ESHAPE,
                                      "%s: forward pass %lld, layer %lld, token %lld: %d experts chosen, other tokens of the "
                                      "layer %s",
                                      f->what, fp, (long long)l, (long long)tk, c, c ? "chose none" : "chose some");
                if (c > 0 && K > 0 && c != K)
                    return mp_err_set(err, MP_ESHAPE,
                                      "%s: forward pass %lld, layer %lld, token %lld: %d experts chosen, other tokens %d",
                                      f->what, fp, (long long)l, (long long)tk, c, K);
                if (c > 0) K = c;
                has[l] = c > 0 ? 1 : 2;
            }
    }
    if (*tokens == 0) return mp_err_set(err, MP_EFORMAT, "%s: the dump holds no tokens", d->path);
    for (int32_t l = 0; l < d->L; l++) has[l] = has[l] == 1;
    r->K = K;
    return 0;
}

static int ptr_open(void **state, const char *path, const mp_read_opts *opts, mp_model *model, mp_trace_info *info,
                    mp_err *err)
{
    *state = NULL;
    pt_reader *r = calloc(1, sizeof *r);
    if (!r) return mp_err_set(err, MP_ENOMEM, "%s: out of memory", path);
    *state = r;
    r->cur_rec = -1;
    int rc = dump_open(&r->d, path, NULL, 0, opts, err);
    if (rc) return rc;
    if (r->d.kind != PT_PER_TOKEN)
        return mp_err_set(err, MP_EUNSUPPORTED, "%s: an SGLang %s dump holds expert loads, not per-token routing", path,
                          r->d.kind == PT_STAT ? "stat-mode" : "per_pass");
    unsigned char *has = calloc((size_t)r->d.L, 1);
    if (!has) return mp_err_set(err, MP_ENOMEM, "%s: out of memory", path);
    int64_t tokens = 0;
    rc = scan_records(r, has, &tokens, err);
    if (!rc) rc = choose_layers(&r->d, has, err);
    free(has);
    if (rc) return rc;
    mp_model m = r->d.model;
    m.top_k = r->K;
    const mp_model *hint = opts ? opts->model : NULL;
    if (hint && hint->experts > 0 && hint->experts < m.experts)
        return mp_err_set(err, MP_ESHAPE, "%s: the map names expert %d, the model given has %d experts", path, m.experts - 1,
                          hint->experts);
    if ((rc = mp__model_apply_hint(&m, hint, path, err))) return rc;
    r->d.model = m;
    *model = m;
    int64_t S = 0;
    for (int64_t k = 0; k < r->norder; k++) S += k == 0 || r->d.recs[r->order[k]].fpid != r->d.recs[r->order[k - 1]].fpid;
    info->steps = S;
    info->tokens = tokens;
    info->assignments = tokens * m.layers * m.top_k;
    info->has_weights = 0;
    info->has_src_rank = 1;
    info->raw_bytes = tokens * ((int64_t)m.layers * m.top_k * 2 + 4);
    int64_t fb = 0;
    for (int i = 0; i < r->d.nfiles; i++) {
        struct stat st;
        if (stat(r->d.files[i].path, &st) == 0) fb += (int64_t)st.st_size;
    }
    info->file_bytes = fb;
    return 0;
}

static int ptr_next(void *state, mp_step *piece, mp_trace_info *info, mp_err *err)
{
    (void)info;
    pt_reader *r = state;
    pt_dump *d = &r->d;
    if (r->ri >= r->norder) return 0;
    int64_t k = r->order[r->ri];
    int rc = load_rec(r, k, err);
    if (rc) return rc;
    const tensor *t = &r->cur;
    pt_file *f = &d->files[d->recs[k].file];
    int64_t T = t->shape[1], W = t->shape[2];
    int64_t n = mp__piece_tokens(d->Lk, r->K);
    if (n > T - r->tok) n = T - r->tok;
    if ((rc = mp_step_reserve(piece, n, d->Lk, r->K, 0, 1, err))) return rc;
    int last_of_rec = r->tok + n == T;
    int last_of_step = last_of_rec && (r->ri + 1 >= r->norder || d->recs[r->order[r->ri + 1]].fpid != d->recs[k].fpid);
    piece->step = r->step;
    piece->first_token = r->in_step;
    piece->tokens = n;
    piece->end_of_step = last_of_step;
    int64_t LK = (int64_t)d->Lk * r->K;
    for (int64_t i = 0; i < n; i++) piece->src_rank[i] = (int32_t)d->recs[k].rank;
    for (int32_t l = 0; l < d->L; l++) {
        int32_t ml = d->moe_of[l];
        if (ml < 0) continue;
        const int32_t *map = f->map + (int64_t)l * f->mapP;
        for (int64_t i = 0; i < n; i++) {
            mp_expert_id *dst = piece->ids + i * LK + (int64_t)ml * r->K;
            int32_t c = 0;
            for (int64_t j = 0; j < W && c < r->K; j++) {
                int64_t v = tget(t, ((int64_t)l * T + r->tok + i) * W + j);
                if (v >= 0 && v < f->mapP) dst[c++] = (mp_expert_id)map[v];
            }
            if (c != r->K) /* the scan at open saw exactly K: the file changed */
                return mp_err_set(err, MP_EFORMAT, "%s: forward pass %lld: the file changed while reading", f->what,
                                  (long long)d->recs[k].fpid);
        }
    }
    r->tok += n;
    r->in_step += n;
    if (last_of_rec) {
        r->ri++;
        r->tok = 0;
    }
    if (last_of_step) {
        r->step++;
        r->in_step = 0;
    }
    return 1;
}

static const mp__reader_ops pt_reader_ops = {ptr_open, ptr_next, ptr_close};

const mp__format mp__format_pt = {MP_FMT_PT, "pt", ".pt", &pt_reader_ops, NULL, pt_sniff, mp_loads_read_pt, mp__pt_dir_sniff};

int mp__pt_read_mem(const void *mem, size_t memlen, const mp_read_opts *opts, mp_loads **out, mp_err *err)
{
    return read_loads(out, "memory.pt", mem, memlen, opts, err);
}
