/* mp_loads.c - the load matrix type: create, destroy, sum over steps. */
#include "traces/mp_loads.h"

#include <stdlib.h>
#include <string.h>

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
