/*
 * mp__fmtutil.h - internal helpers shared by the npy, csv and json formats
 * (not part of the public API).  Nothing here allocates.
 */
#ifndef MP__FMTUTIL_H
#define MP__FMTUTIL_H

#include <stdint.h>

#include "traces/mp_error.h"
#include "traces/mp_model.h"

/* Assignments (tokens * L * K) the npy and csv readers hand out per piece. */
#define MP__PIECE_TARGET ((int64_t)1 << 21)

/* Tokens per piece for L layers and K choices: at least 1. */
int64_t mp__piece_tokens(int32_t layers, int32_t top_k);

/* Applies the caller's model hint to a shape inferred from data: a hint's
 * layers or top_k > 0 must match (else MP_ESHAPE naming `path`); experts and
 * the other fields > 0 (name when not empty) override. */
int mp__model_apply_hint(mp_model *m, const mp_model *hint, const char *path, mp_err *err);

#endif
