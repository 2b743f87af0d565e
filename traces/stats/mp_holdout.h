/*
 * mp_holdout.h - held-out evaluation: split per-step loads in time into a
 * part to plan from and a later part to judge the plan on.
 *
 * The split is in time only: the last H steps are held out, the first S - H
 * planned from.  (Traces that record source ranks or requests are still
 * split by step: a step's tokens all go to one side.)  A single matrix (one
 * step, e.g. a load file of [L][E]) cannot be split in time.
 *
 * Memory: mp_loads_split_time hands the caller two matrices to free with
 * mp_loads_destroy.
 */
#ifndef MP_HOLDOUT_H
#define MP_HOLDOUT_H

#include <stdint.h>

#include "traces/mp_error.h"
#include "traces/mp_loads.h"

/* The smallest number of steps a split accepts: one on each side. */
#define MP_HOLDOUT_MIN_STEPS 2

/* The report's default: hold out the last quarter when the input has at
 * least MP_HOLDOUT_AUTO_STEPS steps (so that each side has more than one). */
#define MP_HOLDOUT_AUTO_FRACTION 0.25
#define MP_HOLDOUT_AUTO_STEPS 4

/* Held-out steps of `steps` for a fraction in (0, 1): round(steps *
 * fraction), at least 1 and at most steps - 1.  Returns 0 or MP_EINVAL
 * (fewer than MP_HOLDOUT_MIN_STEPS steps, or the fraction outside (0, 1)),
 * with a message that says why. */
int mp_holdout_steps(int64_t steps, double fraction, int64_t *held, mp_err *err);

/* Splits per-step loads (S = in->steps) into *train (the first S - H steps)
 * and *held (the last H), both per step, the model copied.  Returns 0,
 * MP_EINVAL (see mp_holdout_steps; a one-matrix input is refused with a
 * message saying it cannot be split in time) or MP_ENOMEM. */
int mp_loads_split_time(mp_loads **train, mp_loads **held, const mp_loads *in, double fraction, mp_err *err);

/* A copy of steps [begin, end) of `in` (per step, the model copied).
 * Returns 0, MP_EINVAL (an empty or out-of-range window) or MP_ENOMEM. */
int mp_loads_window(mp_loads **out, const mp_loads *in, int32_t begin, int32_t end, mp_err *err);

#endif
