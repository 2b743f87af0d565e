/*
 * mp_holdout.h - held-out evaluation: split per-step loads in time into a
 * part to plan from and a later part to judge the plan on.
 *
 * In time: the last H steps are held out, the first S - H planned from (a
 * step's tokens all go to one side).  A single matrix (one step, e.g. a load
 * file of [L][E]) cannot be split in time.
 *
 * By source rank, for traces that record each token's source rank (the data-
 * parallel rank it came from): with R ranks (1 + the largest recorded), the
 * tokens of the last H = ceil(R * fraction) ranks (at least 1, at most R - 1)
 * over every step are held out, the other ranks' tokens planned from.
 *
 * Memory: mp_loads_split_time and mp_loads_split_rank hand the caller two
 * matrices to free with mp_loads_destroy; a rank filter borrows its source.
 */
#ifndef MP_HOLDOUT_H
#define MP_HOLDOUT_H

#include <stdint.h>

#include "traces/formats/mp_source.h"
#include "traces/mp_error.h"
#include "traces/mp_loads.h"
#include "traces/mp_model.h"

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

/* ---- by source rank ---- */

/* The largest source rank a split accepts, plus one. */
#define MP_HOLDOUT_RANKS_MAX (1 << 20)

/* Held-out ranks of `ranks` for a fraction in (0, 1): ceil(ranks *
 * fraction), at least 1 and at most ranks - 1.  Returns 0 or MP_EINVAL
 * (fewer than 2 ranks, or the fraction outside (0, 1)). */
int mp_holdout_ranks(int32_t ranks, double fraction, int32_t *held, mp_err *err);

/* Reads `src` through (then rewinds it): *ranks = 1 + the largest source
 * rank recorded, 0 when its pieces record none.  Returns 0, a reader's
 * error, or MP_ERANGE for a negative rank or one of MP_HOLDOUT_RANKS_MAX or
 * more (naming the step and token). */
int mp_source_ranks(const mp_piece_source *src, int32_t *ranks, mp_err *err);

/* Counts the tokens of `src` (a trace of `model`; read through, then
 * rewound) by source rank: ranks below `cut` into *train, the others into
 * *held, each 1 x L x E summed over steps with the model copied.  Returns 0,
 * a reader's error, MP_EINVAL (a piece without source ranks) or
 * MP_ENOMEM. */
int mp_loads_split_rank(mp_loads **train, mp_loads **held, const mp_piece_source *src, const mp_model *model,
                        int32_t cut, mp_err *err);

/* A piece source of the tokens of `in` whose source rank lies in [lo, hi):
 * each piece of `in` with the other tokens dropped (a step may end with an
 * empty piece; token rows are renumbered within the piece).  A piece with no
 * source ranks is an MP_EINVAL error.  Init fills f->src; `in` must outlive
 * it. */
typedef struct mp_rank_filter {
    mp_piece_source src;
    const mp_piece_source *in;
    int32_t lo, hi;
} mp_rank_filter;

void mp_rank_filter_init(mp_rank_filter *f, const mp_piece_source *in, int32_t lo, int32_t hi);

#endif
