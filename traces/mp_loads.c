#include "traces/mp_loads.h"

#include <stdlib.h>
#include <string.h>

#include "traces/mp__format.h"

int mp_loads_create(mp_loads **out, int32_t steps, int32_t layers, int32_t experts, mp_err *err)
{
    *out = NULL;
    if (steps < 1 || layers < 1 || experts < 1)
        return mp_err_set(err, MP_EINVAL, "loads: bad dimensions %d x %d x %d", steps, layers, experts);
    int64_t cells = (int64_t)steps * layers;
    if (cells > MP_LOADS_CELLS_MAX / experts)
        return mp_err_set(err, MP_ELIMIT, "loads: %d x %d x %d cells exceed the limit of %lld", steps, layers, experts,
                          (long long)MP_LOADS_CELLS_MAX);
    cells *= experts;
    mp_loads *l = calloc(1, sizeof *l);
    if (!l) return mp_err_set(err, MP_ENOMEM, "loads: out of memory");
    l->count = calloc((size_t)cells, sizeof *l->count);
    if (!l->count) {
        free(l);
        return mp_err_set(err, MP_ENOMEM, "loads: out of memory for %lld cells", (long long)cells);
    }
    l->steps = steps;
    l->layers = layers;
    l->experts = experts;
    l->model = mp_model_default();
    l->model.layers = layers;
    l->model.experts = experts;
    *out = l;
    return 0;
}

void mp_loads_destroy(mp_loads *l)
{
    if (!l) return;
    free(l->count);
    free(l);
}

int mp_loads_sum_steps(mp_loads **out, const mp_loads *in, mp_err *err)
{
    int rc = mp_loads_create(out, 1, in->layers, in->experts, err);
    if (rc) return rc;
    (*out)->has_model = in->has_model;
    (*out)->model = in->model;
    int64_t cells = (int64_t)in->layers * in->experts;
    for (int32_t s = 0; s < in->steps; s++) {
        const double *src = in->count + s * cells;
        for (int64_t i = 0; i < cells; i++) (*out)->count[i] += src[i];
    }
    return 0;
}

/* Per-piece counting: integer histograms per layer, added into doubles once per piece. */
int mp_loads_count(mp_loads **out, mp_trace *t, int64_t step_begin, int64_t step_end, int per_step, mp_err *err)
{
    *out = NULL;
    const mp_model *m = mp_trace_model(t);
    int32_t L = m->layers, E = m->experts, K = m->top_k;
    int64_t cells = (int64_t)L * E;
    uint64_t *hist = calloc((size_t)cells, sizeof *hist);
    double *acc = NULL; /* grows by one matrix per step when per_step */
    int64_t nmat = 0, cap = 0;
    mp_step p = {0};
    int rc = 0;
    if (!hist) return mp_err_set(err, MP_ENOMEM, "loads: out of memory");
    int64_t cur_step = -1;
    while ((rc = mp_trace_next(t, &p, err)) == 1) {
        if (p.step < step_begin) continue;
        if (step_end >= 0 && p.step >= step_end) break;
        if (p.step != cur_step && (per_step || nmat == 0)) {
            if (nmat >= cap) {
                int64_t ncap = cap ? cap * 2 : 16;
                if (ncap * cells > MP_LOADS_CELLS_MAX) ncap = MP_LOADS_CELLS_MAX / cells;
                if (nmat >= ncap) {
                    rc = mp_err_set(err, MP_ELIMIT, "loads: too many steps to keep per step (%lld)", (long long)nmat);
                    break;
                }
                double *na = realloc(acc, (size_t)(ncap * cells) * sizeof *na);
                if (!na) {
                    rc = mp_err_set(err, MP_ENOMEM, "loads: out of memory");
                    break;
                }
                acc = na;
                cap = ncap;
            }
            memset(acc + nmat * cells, 0, (size_t)cells * sizeof *acc);
            nmat++;
        }
        cur_step = p.step;
        for (int64_t tok = 0; tok < p.tokens; tok++) {
            const mp_expert_id *row = p.ids + tok * L * K;
            for (int32_t l = 0; l < L; l++) {
                uint64_t *h = hist + (int64_t)l * E;
                for (int32_t k = 0; k < K; k++) h[row[l * K + k]]++;
            }
        }
        double *dst = acc + (nmat - 1) * cells;
        for (int64_t i = 0; i < cells; i++) {
            dst[i] += (double)hist[i];
            hist[i] = 0;
        }
    }
    mp_step_release(&p);
    free(hist);
    if (rc < 0) {
        free(acc);
        return rc;
    }
    if (nmat == 0) {
        free(acc);
        return mp_err_set(err, MP_ERANGE, "loads: no steps in the range %lld:%lld", (long long)step_begin,
                          (long long)step_end);
    }
    mp_loads *l = calloc(1, sizeof *l);
    if (!l) {
        free(acc);
        return mp_err_set(err, MP_ENOMEM, "loads: out of memory");
    }
    l->steps = (int32_t)nmat;
    l->layers = L;
    l->experts = E;
    l->count = acc;
    l->has_model = 1;
    l->model = *m;
    *out = l;
    return 0;
}

int mp_loads_read(mp_loads **out, const char *path, const mp_read_opts *opts, int per_step, mp_err *err)
{
    *out = NULL;
    mp_format f = opts && opts->format != MP_FMT_AUTO ? opts->format : mp_format_from_path(path);
    if (f == MP_FMT_JSON) {
        mp_loads *l;
        int rc = mp__json_read_loads(&l, path, err);
        if (rc) return rc;
        if (l->steps > 1 && !per_step) {
            rc = mp_loads_sum_steps(out, l, err);
            mp_loads_destroy(l);
            return rc;
        }
        *out = l;
        return 0;
    }
    mp_trace *t;
    int rc = mp_trace_open(&t, path, opts, err);
    if (rc) return rc;
    rc = mp_loads_count(out, t, 0, -1, per_step, err);
    mp_trace_close(t);
    return rc;
}
