/* mp__planner.h - internal helpers shared by the planner's files (not public). */
#ifndef MP__PLANNER_H
#define MP__PLANNER_H

#include "planner/mp_planner.h"

/* idx = 0..n-1 sorted by w descending, lower index first on ties (stable,
 * a total order).  Returns 0 or MP_ENOMEM. */
int mp__sort_desc(int32_t *idx, int32_t n, const double *w);
/* Reads a plan or engine file whole (at most MP_PLAN_FILE_MAX bytes) into *text
 * (NUL not added; the caller frees it); errors name `path`. */
int mp__plan_file_read(const char *path, char **text, size_t *len, mp_err *err);

/* mp_dhondt where the last nfixed experts never get a second replica. */
int mp__dhondt_fixed(const double *w, int32_t E, int32_t R, int32_t cap, int32_t nfixed, int32_t *cnt, int32_t *extra);

/* float32 twins of mp__dhondt_fixed (no cap) and mp_eplb_pack, computing as
 * eplb.py does: quotients w / cnt and pack sums rounded to float. */
int mp__dhondt_f32(const float *w, int32_t E, int32_t R, int32_t nfixed, int32_t *cnt, int32_t *extra);
int mp__eplb_pack_f32(const float *w, int32_t n, int32_t m, int32_t *pack, int32_t *place);

/* EPLB for one layer: hierarchical with (G, N), or global when G = N = 1.
 * The loads are rounded to float32 and every sum and quotient is a float32
 * one, as in eplb.py.  row gets R entries.  nfixed (global only): the last nfixed experts keep
 * one replica.  Preconditions checked by the caller. */
int mp__eplb_layer(const double *w, int32_t E, int32_t R, int32_t G, int32_t N, int32_t P, int32_t nfixed,
                   int32_t *row);


/* The balanced strategy (robust hands --locality plans to it). */
int mp__strategy_balanced(const mp_strategy_input *in, int32_t *phy2log, mp_err *err);

/* balanced for one layer of E experts on m GPUs x s slots: row gets m*s
 * entries.  ident may be NULL; the last nfixed experts keep one replica. */
int mp__balance_layer(const double *w, const int32_t *ident, int32_t E, int32_t m, int32_t s, int32_t nfixed,
                      int32_t *row);

#endif
