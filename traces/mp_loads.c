#include "traces/mp_loads.h"

#include <stdlib.h>
#include <string.h>

#include "traces/mp__format.h"
#include "traces/mp_stats.h"

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
    for (int32_t l = 0; l < in->layers; l++) {
        const double *row = mp_loads_row(*out, 0, l);
        double t = 0;
        for (int32_t e = 0; e < in->experts; e++) t += row[e];
        if (!(t < MP_LOADS_SUM_MAX)) {
            mp_loads_destroy(*out);
            *out = NULL;
            return mp_err_set(err, MP_ERANGE, "loads: layer %d sums to %.17g over %d steps, not below 2^53", l, t,
                              in->steps);
        }
    }
    return 0;
}

/* Counting goes through mp_counter (stats_count.c): uint32 histograms per
 * layer; with per_step each step's window becomes one matrix. */
int mp_loads_count(mp_loads **out, mp_trace *t, int64_t step_begin, int64_t step_end, int per_step, mp_err *err)
{
    *out = NULL;
    if (!per_step) {
        mp_scan_opts o = {step_begin, step_end, 1, 0, NULL, NULL};
        return mp_stats_scan(t, &o, out, NULL, NULL, err);
    }
    mp_trace_skip_weights(t); /* counts need ids only */
    const mp_model *m = mp_trace_model(t);
    int32_t L = m->layers, E = m->experts;
    int64_t cells = (int64_t)L * E;
    double *acc = NULL; /* grows by one matrix per step */
    int64_t nmat = 0, cap = 0, cur = -1;
    int open = 0;
    mp_step p = {0};
    mp_counter *c = NULL;
    int rc = mp_counter_create(&c, L, E, m->top_k, 1, err);
    while (!rc && (rc = mp_trace_next(t, &p, err)) == 1) {
        rc = 0;
        if (p.step < step_begin) continue;
        if (step_end >= 0 && p.step >= step_end) break;
        if (open && p.step != cur) { /* the previous step ended without its mark */
            mp_counter_window(c, acc + (nmat - 1) * cells);
            mp_counter_end_window(c);
            open = 0;
        }
        if (!open) {
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
            nmat++;
            open = 1;
        }
        cur = p.step;
        if ((rc = mp_counter_add(c, &p, err)) != 0) break;
        if (p.end_of_step) {
            mp_counter_window(c, acc + (nmat - 1) * cells);
            mp_counter_end_window(c);
            open = 0;
        }
    }
    if (rc == 0 && open) mp_counter_window(c, acc + (nmat - 1) * cells);
    mp_step_release(&p);
    mp_counter_destroy(c);
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
            mp_err sub;
            rc = mp_loads_sum_steps(out, l, &sub);
            mp_loads_destroy(l);
            return rc ? mp_err_set(err, rc, "%s: %s", path, sub.msg) : 0;
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
