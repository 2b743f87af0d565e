/*
 * mp_sweep.h - several plans over one reading of a trace, a trace as a
 * rewindable piece source, and the locality sweep (a Pareto view of balance
 * against inter-node bytes and predicted time).
 *
 * Memory: mp_trace_source_open returns a source freed with
 * mp_trace_source_close; mp_sim_run_many fills out[] with results the caller
 * frees with mp_sim_result_destroy; mp_sweep_locality returns a result freed
 * with mp_sweep_result_destroy.
 */
#ifndef MP_SWEEP_H
#define MP_SWEEP_H

#include <stdint.h>

#include "planner/mp_planner.h"
#include "sim/mp_rebalance.h"
#include "sim/mp_sim.h"
#include "traces/formats/mp_source.h"

/* Plays the source once (from where it stands) through n (plan, policy)
 * lanes with the shared options `base`; out[i] gets lane i's result.
 * Returns 0 or a negative code (then out[] holds nothing). */
int mp_sim_run_many(mp_sim_result **out, const mp_piece_source *src, const mp_model *model,
                    const mp_plan *const *plans, const mp_policy *const *policies, int n, const mp_sim_opts *base,
                    mp_progress_fn progress, void *pctx, mp_err *err);

/* The locality sweep. */
typedef struct mp_sweep_point {
    char label[48];       /* "balanced@0.50", "eplb", "eplb-global", "linear" */
    char strategy[32];
    double locality;      /* -1 for non-balanced points */
    double plan_maxmean;  /* the plan's predicted max/mean on the loads (even split) */
    double maxmean;       /* simulated: max/mean of the run's rows (mean over layers) */
    double step_maxmean;  /* simulated: mean over steps of the per-step max/mean */
    double net_bytes;     /* simulated dispatch bytes over the network, whole run */
    double nvl_bytes;
    double time_us;       /* simulated predicted time, whole run           */
    double speedup;       /* linear's time / this time (0 when no linear)  */
    int pareto;           /* not dominated by another point on (plan_maxmean, net_bytes) */
    int is_eplb;
    int dominated;        /* an EPLB point some balanced point dominates */
    int beats_eplb;       /* a balanced point that dominates every EPLB point */
} mp_sweep_point;

typedef struct mp_sweep_result {
    int n;
    mp_sweep_point *pt;
    int eplb_dominated; /* 1 when every EPLB point is dominated by some balanced point */
} mp_sweep_result;

void mp_sweep_result_destroy(mp_sweep_result *r);

/* The Pareto axes are the plan's max/mean on the loads (even split: the
 * balance the plan gives, free of per-step sampling noise) and the simulated
 * inter-node bytes; a dominates b when it is no worse on both and better on one.
 * Plans `balanced` at each of nloc localities plus eplb, eplb-global and
 * (when it fits: R == E) linear from `loads` with the topology and options of
 * `base` (strategy and locality ignored), then simulates all of them over
 * one reading of `src` with `so`.  A plan a strategy refuses (preconditions)
 * is left out.  Returns 0 or a negative code. */
int mp_sweep_locality(mp_sweep_result **out, const mp_piece_source *src, const mp_model *model, const mp_loads *loads,
                      const mp_plan_request *base, const double *loc, int nloc, const mp_sim_opts *so,
                      mp_progress_fn progress, void *pctx, mp_err *err);

#endif
