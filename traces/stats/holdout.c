/* holdout.c - splitting per-step loads in time (mp_holdout.h). */
#include "traces/stats/mp_holdout.h"

#include <math.h>
#include <string.h>

int mp_holdout_steps(int64_t steps, double fraction, int64_t *held, mp_err *err)
{
    *held = 0;
    if (!(fraction > 0 && fraction < 1))
        return mp_err_set(err, MP_EINVAL, "holdout: the held-out fraction %g is not in (0, 1)", fraction);
    if (steps < MP_HOLDOUT_MIN_STEPS)
        return mp_err_set(err, MP_EINVAL,
                          "holdout: %lld step%s: a single matrix cannot be split in time (it needs %d steps or more)",
                          (long long)steps, steps == 1 ? "" : "s", MP_HOLDOUT_MIN_STEPS);
    double h = floor((double)steps * fraction + 0.5);
    if (h < 1) h = 1;
    if (h > (double)(steps - 1)) h = (double)(steps - 1);
    *held = (int64_t)h;
    return 0;
}

int mp_loads_window(mp_loads **out, const mp_loads *in, int32_t begin, int32_t end, mp_err *err)
{
    *out = NULL;
    if (begin < 0 || end > in->steps || begin >= end)
        return mp_err_set(err, MP_EINVAL, "loads: steps %d:%d are not a window of %d steps", begin, end, in->steps);
    mp_loads *l;
    int rc = mp_loads_create(&l, end - begin, in->layers, in->experts, err);
    if (rc) return rc;
    l->has_model = in->has_model;
    l->model = in->model;
    int64_t cells = (int64_t)in->layers * in->experts;
    memcpy(l->count, in->count + (int64_t)begin * cells, (size_t)((int64_t)(end - begin) * cells) * sizeof *l->count);
    *out = l;
    return 0;
}

int mp_loads_split_time(mp_loads **train, mp_loads **held, const mp_loads *in, double fraction, mp_err *err)
{
    *train = *held = NULL;
    int64_t h;
    int rc = mp_holdout_steps(in->steps, fraction, &h, err);
    if (rc) return rc;
    int32_t cut = in->steps - (int32_t)h;
    if ((rc = mp_loads_window(train, in, 0, cut, err))) return rc;
    if ((rc = mp_loads_window(held, in, cut, in->steps, err))) {
        mp_loads_destroy(*train);
        *train = NULL;
    }
    return rc;
}
