/*
 * mp_stats.h - statistics of expert load vectors: how skewed one layer's
 * load over its E experts is.  The same figures `moeplace stats` prints, so
 * that a synthetic trace can be held against recorded loads.
 *
 * Memory: all results are plain values or caller-provided arrays.
 */
#ifndef MP_STATS_H
#define MP_STATS_H

#include <stdint.h>

#include "traces/mp_error.h"
#include "traces/mp_loads.h"

#define MP_STATS_HOT 8 /* hottest experts listed per layer */

typedef struct mp_layer_stats {
    int32_t experts;       /* E                                                     */
    double total;          /* sum of the loads                                      */
    double mean;           /* total / E                                             */
    double min, max;
    double max_over_mean;  /* max / mean (0 when total is 0)                        */
    double cv;             /* population standard deviation / mean                  */
    double gini;           /* Gini coefficient in [0, 1 - 1/E]                      */
    double entropy_norm;   /* Shannon entropy of the shares / ln E (1 = uniform)    */
    double top10_share;    /* share of the total held by the hottest ceil(E/10)     */
    int32_t dead;          /* experts with zero load                                */
    int32_t nhot;          /* min(E, MP_STATS_HOT)                                  */
    int32_t hottest[MP_STATS_HOT];      /* ids, hottest first; ties: lower id first */
    double hottest_share[MP_STATS_HOT]; /* their shares of the total                */
} mp_layer_stats;

/* Computes the statistics of one load vector of E >= 1 non-negative values.
 * Returns 0, MP_EINVAL (E < 1) or MP_ENOMEM. */
int mp_stats_layer(const double *loads, int32_t experts, mp_layer_stats *out, mp_err *err);

/* Sums a load vector over G groups of E/G consecutive experts into groups[G]. */
void mp_stats_groups(const double *loads, int32_t experts, int32_t groups, double *out);

/* Spearman rank correlation of two load vectors (average ranks on ties). */
double mp_stats_rank_corr(const double *a, const double *b, int32_t n);

#endif
