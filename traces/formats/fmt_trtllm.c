/*
 * fmt_trtllm.c - TensorRT-LLM's expert statistic folder, read as loads.
 *
 * TensorRT-LLM (tensorrt_llm/tools/layer_wise_benchmarks and the PyTorch
 * backend's ExpertStatistic, enabled by EXPERT_STATISTIC_ITER_RANGE=A-B and
 * written to EXPERT_STATISTIC_PATH) dumps, per run:
 *   meta_info.json       {"num_experts": E, "num_experts_per_token": K, ...}
 *                        (rank 0 writes it)
 *   rank{r}.safetensors  one tensor per recorded iteration and MoE layer,
 *                        named "{iter}_{layer}": torch.bincount of the
 *                        expert ids rank r routed there (int64 [E])
 * Other files (rank{r}_raw.safetensors, rank{r}_numtokens.json,
 * cooccurrence_rank{r}.safetensors of some versions) are ignored.
 *
 * As TensorRT-LLM's own examples/wide_ep/ep_load_balancer/utils.py does, the
 * counts of every rank are summed per (iter, layer) and each iteration
 * becomes a step; ranks are not kept apart (mp_loads has no source-rank
 * axis).  {layer} is the engine's layer_idx, the decoder layer index (a
 * DeepSeek-V3 run names layers 3..60): the distinct layer indices, ascending,
 * become MoE layers 0..L-1.  Iterations are the distinct {iter} values,
 * ascending (gaps allowed).  Every (iter, layer) pair must appear in some
 * rank's file (the example asserts the same), every tensor must hold E
 * counts, and every rank file must be a valid safetensors file
 * (safetensors.c).
 */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "traces/formats/mp__format.h"
#include "traces/formats/mp__safetensors.h"
#include "traces/mp_file.h"

#define META_MAX (1 << 20) /* bytes of meta_info.json accepted */
#define RANKS_MAX 65536

/* "rank{r}.safetensors" with r a plain decimal number; returns r or -1. */
static long rank_of(const char *name)
{
    if (strncmp(name, "rank", 4) != 0) return -1;
    const char *p = name + 4;
    long r = 0;
    int nd = 0;
    while (*p >= '0' && *p <= '9' && nd < 7) r = r * 10 + (*p++ - '0'), nd++;
    if (nd == 0 || strcmp(p, ".safetensors") != 0) return -1;
    return r;
}

static int is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int trtllm_sniff_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return 0;
    int rank = 0; /* meta_info.json is checked when read, with a message */
    for (struct dirent *e; (e = readdir(d)) && !rank;) rank = rank_of(e->d_name) >= 0;
    closedir(d);
    return rank;
}

typedef struct key {
    long iter, layer;
} key;

typedef struct folder {
    const char *dir;
    long *ranks;
    int nranks;
    int32_t experts, top_k;
    key *keys; /* every tensor of every rank, as parsed */
    int64_t nkeys, capkeys;
} folder;

static int join(char *out, const char *dir, const char *name, mp_err *err)
{
    if ((size_t)snprintf(out, MP_PATH_MAX, "%s/%s", dir, name) >= MP_PATH_MAX)
        return mp_err_set(err, MP_ELIMIT, "%s: path too long", dir);
    return 0;
}

static int int_field(const cJSON *o, const char *k, int lo, int hi, int32_t *out, const char *path, mp_err *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    if (!cJSON_IsNumber(v) || v->valuedouble != (double)(int)v->valuedouble || v->valuedouble < lo ||
        v->valuedouble > hi)
        return mp_err_set(err, MP_EFORMAT, "%s: \"%s\": missing or not an integer in %d..%d", path, k, lo, hi);
    *out = (int32_t)v->valuedouble;
    return 0;
}

static int read_meta(folder *f, mp_err *err)
{
    char path[MP_PATH_MAX];
    int rc = join(path, f->dir, "meta_info.json", err);
    if (rc) return rc;
    FILE *fp = fopen(path, "rb");
    if (!fp) return mp_err_set(err, MP_EIO, "%s: cannot open (a TensorRT-LLM statistic folder has one)", path);
    char *text = malloc(META_MAX + 1);
    size_t n = text ? fread(text, 1, META_MAX + 1, fp) : 0;
    int bad = ferror(fp);
    fclose(fp);
    if (!text) return mp_err_set(err, MP_ENOMEM, "%s: out of memory", path);
    if (bad || n > META_MAX) {
        free(text);
        return mp_err_set(err, bad ? MP_EIO : MP_ELIMIT, "%s: %s", path, bad ? "read failed" : "larger than 1 MiB");
    }
    text[n] = 0;
    cJSON *o = cJSON_ParseWithLength(text, n);
    free(text);
    if (!cJSON_IsObject(o)) {
        cJSON_Delete(o);
        return mp_err_set(err, MP_EFORMAT, "%s: not a JSON object", path);
    }
    rc = int_field(o, "num_experts", 1, MP_EXPERTS_MAX, &f->experts, path, err);
    if (!rc) rc = int_field(o, "num_experts_per_token", 1, MP_TOPK_MAX, &f->top_k, path, err);
    cJSON_Delete(o);
    return rc;
}

static int cmp_long(const void *a, const void *b)
{
    long x = *(const long *)a, y = *(const long *)b;
    return (x > y) - (x < y);
}

static int list_ranks(folder *f, mp_err *err)
{
    DIR *d = opendir(f->dir);
    if (!d) return mp_err_set(err, MP_EIO, "%s: cannot open the folder", f->dir);
    int cap = 0, rc = 0;
    for (struct dirent *e; (e = readdir(d)) && !rc;) {
        long r = rank_of(e->d_name);
        if (r < 0) continue;
        if (f->nranks == RANKS_MAX) {
            rc = mp_err_set(err, MP_ELIMIT, "%s: more than %d rank files", f->dir, RANKS_MAX);
            break;
        }
        if (f->nranks == cap) {
            cap = cap ? cap * 2 : 16;
            long *nr = realloc(f->ranks, (size_t)cap * sizeof *nr);
            if (!nr) {
                rc = mp_err_set(err, MP_ENOMEM, "%s: out of memory", f->dir);
                break;
            }
            f->ranks = nr;
        }
        f->ranks[f->nranks++] = r;
    }
    closedir(d);
    if (rc) return rc;
    if (f->nranks == 0) return mp_err_set(err, MP_EFORMAT, "%s: no rank{r}.safetensors files", f->dir);
    qsort(f->ranks, (size_t)f->nranks, sizeof *f->ranks, cmp_long);
    for (int i = 1; i < f->nranks; i++) /* rank07 and rank7 */
        if (f->ranks[i] == f->ranks[i - 1])
            return mp_err_set(err, MP_EFORMAT, "%s: two files for rank %ld", f->dir, f->ranks[i]);
    return 0;
}

/* "{iter}_{layer}", both plain decimal numbers below 2^31. */
static int parse_name(const char *s, key *k)
{
    long v[2] = {0, 0};
    for (int part = 0; part < 2; part++) {
        int nd = 0;
        while (*s >= '0' && *s <= '9') {
            if (++nd > 9) return 0;
            v[part] = v[part] * 10 + (*s++ - '0');
        }
        if (nd == 0 || *s != (part == 0 ? '_' : '\0')) return 0;
        s++;
    }
    k->iter = v[0];
    k->layer = v[1];
    return 1;
}

static int rank_path(const folder *f, int i, char *path, mp_err *err)
{
    char name[40];
    snprintf(name, sizeof name, "rank%ld.safetensors", f->ranks[i]);
    return join(path, f->dir, name, err);
}

/* Pass 1: every tensor's (iter, layer), checked against E. */
static int collect_keys(folder *f, mp_err *err)
{
    char path[MP_PATH_MAX];
    for (int i = 0; i < f->nranks; i++) {
        int rc = rank_path(f, i, path, err);
        mp__st_file *st;
        if (rc || (rc = mp__st_open(&st, path, err))) return rc;
        for (int j = 0; j < st->ntensors && !rc; j++) {
            const mp__st_tensor *t = &st->t[j];
            key k;
            if (!parse_name(t->name, &k))
                rc = mp_err_set(err, MP_EFORMAT, "%s: tensor \"%.80s\": not named {iter}_{layer}", path, t->name);
            else if (t->ndim != 1 || t->shape[0] != f->experts)
                rc = mp_err_set(err, MP_ESHAPE, "%s: tensor \"%.80s\": shape is not [%d] (num_experts in meta_info.json)",
                                path, t->name, f->experts);
            else if (f->nkeys == f->capkeys) {
                int64_t nc = f->capkeys ? f->capkeys * 2 : 256;
                key *nk = realloc(f->keys, (size_t)nc * sizeof *nk);
                if (!nk) rc = mp_err_set(err, MP_ENOMEM, "%s: out of memory", path);
                else f->keys = nk, f->capkeys = nc;
            }
            if (!rc) f->keys[f->nkeys++] = k;
        }
        mp__st_close(st);
        if (rc) return rc;
    }
    if (f->nkeys == 0) return mp_err_set(err, MP_EFORMAT, "%s: the rank files hold no tensors", f->dir);
    return 0;
}

/* Sorted distinct values of one field of the keys. */
static int distinct(const folder *f, int layer, long **out, int64_t *n, mp_err *err)
{
    long *v = malloc((size_t)f->nkeys * sizeof *v);
    if (!v) return mp_err_set(err, MP_ENOMEM, "%s: out of memory", f->dir);
    for (int64_t i = 0; i < f->nkeys; i++) v[i] = layer ? f->keys[i].layer : f->keys[i].iter;
    qsort(v, (size_t)f->nkeys, sizeof *v, cmp_long);
    int64_t m = 0;
    for (int64_t i = 0; i < f->nkeys; i++)
        if (m == 0 || v[m - 1] != v[i]) v[m++] = v[i];
    *out = v;
    *n = m;
    return 0;
}

static int64_t index_of(const long *v, int64_t n, long x)
{
    const long *p = bsearch(&x, v, (size_t)n, sizeof *v, cmp_long);
    return p ? p - v : -1;
}

static int trtllm_read_loads(mp_loads **out, const char *dir, const mp_read_opts *opts, mp_err *err)
{
    (void)opts;
    *out = NULL;
    if (!is_dir(dir)) return mp_err_set(err, MP_EFORMAT, "%s: not a folder (TensorRT-LLM statistics are a folder)", dir);
    folder f = {0};
    f.dir = dir;
    long *iters = NULL, *layers = NULL;
    int64_t ni = 0, nl = 0;
    char *seen = NULL;
    mp_loads *l = NULL;
    int rc = read_meta(&f, err);
    if (!rc) rc = list_ranks(&f, err);
    if (!rc) rc = collect_keys(&f, err);
    if (!rc) rc = distinct(&f, 0, &iters, &ni, err);
    if (!rc) rc = distinct(&f, 1, &layers, &nl, err);
    if (!rc && nl > MP_LAYERS_MAX) rc = mp_err_set(err, MP_ELIMIT, "%s: %lld layers (at most %d)", dir, (long long)nl, MP_LAYERS_MAX);
    if (!rc && ni > INT32_MAX) rc = mp_err_set(err, MP_ELIMIT, "%s: too many iterations", dir);
    /* every (iter, layer) must be present: then S*L <= tensors, so the matrix is bounded by the data */
    if (!rc && ni * nl > f.nkeys)
        rc = mp_err_set(err, MP_EFORMAT, "%s: %lld iterations x %lld layers but %lld tensors: some \"{iter}_{layer}\" is missing",
                        dir, (long long)ni, (long long)nl, (long long)f.nkeys);
    if (!rc && !(seen = calloc((size_t)(ni * nl), 1))) rc = mp_err_set(err, MP_ENOMEM, "%s: out of memory", dir);
    for (int64_t i = 0; !rc && i < f.nkeys; i++)
        seen[index_of(iters, ni, f.keys[i].iter) * nl + index_of(layers, nl, f.keys[i].layer)] = 1;
    for (int64_t c = 0; !rc && c < ni * nl; c++)
        if (!seen[c])
            rc = mp_err_set(err, MP_EFORMAT, "%s: no rank file holds iteration %ld of layer %ld (\"%ld_%ld\")", dir,
                            iters[c / nl], layers[c % nl], iters[c / nl], layers[c % nl]);
    if (!rc) rc = mp_loads_create(&l, (int32_t)ni, (int32_t)nl, f.experts, err);
    char path[MP_PATH_MAX];
    for (int i = 0; !rc && i < f.nranks; i++) { /* pass 2: add every rank's counts */
        mp__st_file *st = NULL;
        if ((rc = rank_path(&f, i, path, err)) || (rc = mp__st_open(&st, path, err))) break;
        for (int j = 0; j < st->ntensors && !rc; j++) {
            key k;
            if (!parse_name(st->t[j].name, &k) || st->t[j].ndim != 1 || st->t[j].shape[0] != f.experts) {
                rc = mp_err_set(err, MP_EFORMAT, "%s: changed while being read", path);
                break;
            }
            int64_t s = index_of(iters, ni, k.iter), y = index_of(layers, nl, k.layer);
            if (s < 0 || y < 0) {
                rc = mp_err_set(err, MP_EFORMAT, "%s: changed while being read", path);
                break;
            }
            double *row = mp_loads_row(l, (int32_t)s, (int32_t)y);
            rc = mp__st_add_counts(st, j, row, err);
            double sum = 0;
            for (int32_t e = 0; e < f.experts && !rc; e++) sum += row[e];
            if (!rc && !(sum < MP_LOADS_SUM_MAX))
                rc = mp_err_set(err, MP_ERANGE, "%s: tensor \"%.80s\": iteration %ld layer %ld sums to 2^53 or more",
                                path, st->t[j].name, k.iter, k.layer);
        }
        mp__st_close(st);
    }
    if (!rc) {
        l->model.top_k = f.top_k;
        *out = l;
    } else {
        mp_loads_destroy(l);
    }
    free(seen);
    free(iters);
    free(layers);
    free(f.keys);
    free(f.ranks);
    return rc;
}

const mp__format mp__format_trtllm = {MP_FMT_TRTLLM, "trtllm", "", NULL, NULL, NULL, trtllm_read_loads, trtllm_sniff_dir};
