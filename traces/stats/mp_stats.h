/*
 * mp_stats.h - statistics of expert load vectors: how skewed one layer's
 * load over its E experts is.  The same figures `moeplace stats` prints, so
 * that a synthetic trace can be held against recorded loads.
 *
 * Also: the fast assignment counter (stats_count.c: per-layer uint32
 * histograms, optional threads for large pieces), the streaming per-step
 * variation accumulator (stats_steps.c) and a one-pass scan of a trace that
 * feeds both (stats_scan.c).
 *
 * Memory: mp_layer_stats results are plain values or caller-provided arrays;
 * mp_counter_create, mp_stepvar_create and mp_stats_scan hand the caller
 * objects to free with mp_counter_destroy, mp_stepvar_destroy and
 * mp_loads_destroy.
 */
#ifndef MP_STATS_H
#define MP_STATS_H

#include <stdint.h>

#include "traces/mp_error.h"
#include "traces/mp_loads.h"
#include "traces/mp_step.h"
#include "traces/formats/mp_trace.h"

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
    double ep8, ep32;      /* mp_stats_gpu_imbalance at 8 and 32 GPUs (0 when E < P) */
} mp_layer_stats;

/* Computes the statistics of one load vector of E >= 1 non-negative values.
 * Returns 0, MP_EINVAL (E < 1) or MP_ENOMEM. */
int mp_stats_layer(const double *loads, int32_t experts, mp_layer_stats *out, mp_err *err);

/* Sums a load vector over G groups of E/G consecutive experts into groups[G]. */
void mp_stats_groups(const double *loads, int32_t experts, int32_t groups, double *out);

/* GPU imbalance under contiguous (linear) placement on P GPUs: GPU g holds
 * experts [g*E/P, (g+1)*E/P) (integer division, so blocks differ by at most
 * one expert when P does not divide E); returns the hottest GPU's load over
 * the mean GPU load total/P.  0 when the total is 0 or P < 1 or P > E.
 * With P = G it is the group max/mean. */
double mp_stats_gpu_imbalance(const double *loads, int32_t experts, int32_t gpus);

/* Expert ids ordered hottest first (equal loads: lower id first) into order[E].
 * Returns 0 or MP_ENOMEM. */
int mp_stats_rank(const double *loads, int32_t experts, int32_t *order, mp_err *err);

/* Mean, minimum and maximum of n >= 1 values (summed in index order). */
typedef struct mp_summary {
    double mean, min, max;
} mp_summary;
void mp_stats_summarize(const double *v, int64_t n, mp_summary *out);

/* Spearman rank correlation of two load vectors (average ranks on ties). */
double mp_stats_rank_corr(const double *a, const double *b, int32_t n);

/* ---- the assignment counter (stats_count.c) ----
 * Counts expert ids of pieces into per-layer uint32 histograms [L][E] (the
 * current window, normally one step) and, on mp_counter_end_window, adds the
 * window into 64-bit totals.  With threads > 1 a large piece is split by
 * tokens over threads, each with its own histogram, merged by integer
 * addition (so the result does not depend on the thread count).  Ids must be
 * < E (mp_trace_next checks that). */
typedef struct mp_counter mp_counter;

/* Memory follows the data, not the declared shape: a load matrix of more
 * than MP_STATS_CELLS_FREE cells (L x E; every real model has far fewer) is
 * only built for data holding more than one assignment per
 * MP_STATS_CELLS_PER_ASSIGN cells beyond that.  The counter allocates its
 * histograms at the first piece with tokens, and refuses then with MP_ELIMIT;
 * mp_stats_scan also checks the trace's announced count before reading and
 * the count it read before building the sum. */
#define MP_STATS_CELLS_FREE ((int64_t)1 << 24)
#define MP_STATS_CELLS_PER_ASSIGN 16
/* 1 when a matrix of `cells` cells is allowed for `assignments` assignments (< 0: unknown). */
int mp_stats_cells_ok(int64_t cells, int64_t assignments);

int mp_counter_create(mp_counter **out, int32_t layers, int32_t experts, int32_t top_k, int threads, mp_err *err);
void mp_counter_destroy(mp_counter *c); /* NULL is a no-op */

/* Counts one piece (its layers and top_k must match).  Returns 0, MP_ESHAPE,
 * MP_ELIMIT (mp_stats_cells_ok) or MP_ENOMEM. */
int mp_counter_add(mp_counter *c, const mp_step *piece, mp_err *err);

/* The counts of the current window as doubles into row[L][E]. */
void mp_counter_window(const mp_counter *c, double *row);

/* Adds the window to the totals and starts an empty window. */
void mp_counter_end_window(mp_counter *c);

/* Totals (closed windows) as doubles into out[L][E]. */
void mp_counter_totals(const mp_counter *c, double *out);

/* ---- per-step variation (stats_steps.c) ----
 * For every step and layer with a non-zero load, three figures: expert
 * max/mean (max load / (total / E)) and the GPU imbalance at EP8 and EP32
 * (mp_stats_gpu_imbalance).  Their distributions over steps are kept in
 * bounded memory: the values themselves up to MP_STEPVAR_EXACT steps per
 * layer (exact quantiles), beyond that a log-spaced histogram with
 * MP_STEPVAR_BINS bins per doubling (quantiles within 0.07% relative).
 * Mean and max are always exact. */
#define MP_STEPVAR_EXACT 4096
#define MP_STEPVAR_BINS 1024

enum { MP_STEPVAR_MAXMEAN = 0, MP_STEPVAR_EP8, MP_STEPVAR_EP32, MP_STEPVAR_METRICS };

/* A distribution over steps: n steps counted (steps whose layer load is 0
 * are left out); quantiles by nearest rank (the ceil(q*n)-th smallest). */
typedef struct mp_dist {
    int64_t n;
    double mean, p50, p90, p99, max;
    int exact; /* 1 when the quantiles are exact */
} mp_dist;

typedef struct mp_stepvar mp_stepvar;

int mp_stepvar_create(mp_stepvar **out, int32_t layers, int32_t experts, mp_err *err);
void mp_stepvar_destroy(mp_stepvar *sv); /* NULL is a no-op */

/* Adds one step's loads [L][E].  Returns 0 or MP_ENOMEM. */
int mp_stepvar_add(mp_stepvar *sv, const double *loads, mp_err *err);

/* Steps added so far. */
int64_t mp_stepvar_steps(const mp_stepvar *sv);

/* The distribution of `metric` (MP_STEPVAR_*) over the steps of `layer`
 * (sorts the kept values in place, hence not const). */
void mp_stepvar_get(mp_stepvar *sv, int32_t layer, int metric, mp_dist *out);

/* ---- one pass over a trace (stats_scan.c) ---- */
typedef struct mp_scan_opts {
    int64_t step_begin, step_end; /* steps [begin, end); end < 0: to the end        */
    int threads;                  /* counting threads; 0 or 1 = one                 */
    int per_step;                 /* also fill a step-variation accumulator         */
    mp_progress_fn progress;      /* called after each piece (assignments done, total) */
    void *progress_ctx;
} mp_scan_opts;

typedef struct mp_scan_totals {
    int64_t steps;  /* steps read (in the range)  */
    int64_t tokens; /* tokens read                */
} mp_scan_totals;

/* Reads the trace through the step range: *sum gets the summed 1 x L x E
 * loads (with the trace's model), *sv (when per_step; else NULL) the
 * per-step variation, *totals (may be NULL) what was read.  A step ends at
 * a piece marked end_of_step or when the step index changes.  Returns 0 or
 * a negative MP_E* code (MP_ERANGE when no step falls in the range). */
int mp_stats_scan(mp_trace *t, const mp_scan_opts *o, mp_loads **sum, mp_stepvar **sv, mp_scan_totals *totals,
                  mp_err *err);

/* The same for a load matrix: sums steps [begin, end) (end < 0: to the end)
 * of `in` into *sum (1 x L x E) and, when sv is not NULL and the range holds
 * more than one step, feeds each step to a new *sv (else *sv = NULL).
 * Returns 0, MP_ERANGE (empty range) or MP_ENOMEM. */
int mp_stats_scan_loads(const mp_loads *in, int64_t begin, int64_t end, mp_loads **sum, mp_stepvar **sv, mp_err *err);

#endif
