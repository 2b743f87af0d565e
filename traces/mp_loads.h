/*
 * mp_loads.h - expert load matrices: counts [S][L][E] of token-expert
 * assignments per step (or window), MoE layer and logical expert.
 *
 * This is the other input form beside routing traces: what vLLM and SGLang
 * record (SGLang's {"logical_count": [X][L][E] or [L][E]}, vLLM-style
 * per-layer arrays).  Counts are doubles so that shares (rows summing to 1)
 * and summed windows fit; they are never NaN, infinite or negative.
 *
 * This header is the ground type only; reading load files and counting
 * traces into loads live in traces/formats/mp_loadfile.h and
 * traces/stats/mp_loads_read.h.
 *
 * Memory: functions returning an mp_loads * hand the caller a matrix to free
 * with mp_loads_destroy.
 */
#ifndef MP_LOADS_H
#define MP_LOADS_H

#include <stdint.h>

#include "traces/mp_error.h"
#include "traces/mp_model.h"

typedef struct mp_loads {
    int32_t steps;   /* S: 1 for a single summed matrix                    */
    int32_t layers;  /* L                                                  */
    int32_t experts; /* E                                                  */
    int has_model;   /* model below is a full shape (from a trace header)  */
    mp_model model;  /* else only layers and experts are meaningful         */
    double *count;   /* [steps][layers][experts], row-major                 */
} mp_loads;

/* Counts, and the sum of one layer's counts (one step, or the steps summed),
 * must stay below 2^53: doubles count exactly up to there, so totals and the
 * planner's sums are exact and print as integers.  Readers refuse more
 * (MP_ERANGE, the file and the row named). */
#define MP_LOADS_SUM_MAX 9007199254740992.0 /* 2^53 */

/* Largest matrix accepted: 2^31 cells (16 GiB). */
#define MP_LOADS_CELLS_MAX ((int64_t)1 << 31)

/* Allocates a zeroed S x L x E matrix.  Returns 0, MP_ELIMIT or MP_ENOMEM. */
int mp_loads_create(mp_loads **out, int32_t steps, int32_t layers, int32_t experts, mp_err *err);

/* Frees; NULL is a no-op. */
void mp_loads_destroy(mp_loads *l);

/* The counts of step s, layer l: a row of E doubles. */
static inline double *mp_loads_row(const mp_loads *l, int32_t s, int32_t layer)
{
    return l->count + ((int64_t)s * l->layers + layer) * l->experts;
}

/* Sums the steps of `in` into a new 1 x L x E matrix.  MP_ERANGE when a
 * layer's sum is not below MP_LOADS_SUM_MAX (or not finite). */
int mp_loads_sum_steps(mp_loads **out, const mp_loads *in, mp_err *err);

#endif
