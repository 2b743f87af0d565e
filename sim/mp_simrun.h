/*
 * mp_simrun.h - the evaluation pipeline of `moeplace sim` as one call: count
 * the loads a plan is made from, plan them (or take a given plan), evaluate
 * the plan on them, build the linear baseline, replay the trace through
 * every (plan, replica policy) lane at once, and the speedup of each lane
 * over the baseline; or, instead of lanes, the locality sweep.
 *
 * The trace is read twice: once to count the loads of the planning steps,
 * once (after a rewind) to replay every step.
 *
 * Memory: mp_sim_evaluate returns a run freed with mp_simrun_destroy, which
 * owns everything it points to (lanes' plans are views of its results).
 */
#ifndef MP_SIMRUN_H
#define MP_SIMRUN_H

#include <stdint.h>

#include "planner/mp_planner.h"
#include "sim/mp_sim.h"
#include "sim/mp_sweep.h"
#include "traces/formats/mp_source.h"
#include "traces/mp_loads.h"

/* Lanes: one per replica policy at most, plus the linear baseline. */
#define MP_SIMRUN_LANES_MAX 16

typedef struct mp_simrun_opts {
    mp_plan_request request;    /* how to plan (strategy, topology, ...) when no plan
                                   is given; the sweep's topology and options      */
    int64_t plan_begin;         /* steps whose loads the plan is made from:       */
    int64_t plan_end;           /* [plan_begin, plan_end); plan_end < 0: to the end */
    const mp_policy *policy;    /* replica selection; NULL: every policy side by side */
    int baseline;               /* 1: replay the linear baseline too, for speedups */
    const double *sweep;        /* nsweep > 0: the locality sweep at these localities */
    int nsweep;                 /* instead of lanes (one policy; NULL: modulo)    */
    double holdout;             /* > 0: held-out evaluation: the last fraction of the
                                   steps (mp_holdout_steps) is held out, the plan is
                                   made from the others (a given plan is only judged
                                   on both parts); not with a sweep, and plan_begin /
                                   plan_end must be 0 / -1                          */
    int holdout_by_rank;        /* 1: hold out the tokens of the last source ranks
                                   (mp_loads_split_rank) instead of the last steps */
    mp_sim_opts sim;            /* seed, threads, keep_series, cost; policy unused */
} mp_simrun_opts;

/* Zeroes, plan_end -1, the baseline on, mp_sim_opts_default(). */
mp_simrun_opts mp_simrun_opts_default(void);

typedef struct mp_simrun_lane {
    char label[48];             /* the plan's strategy, or "linear"                */
    const mp_plan *plan;        /* a view of the run's plan or baseline            */
    const mp_policy *pol;       /* replica selection of this lane                  */
    double plan_maxmean;        /* the plan's predicted max/mean on the loads
                                   (mean over layers, even split)                  */
    double speedup;             /* the baseline's total predicted time / this lane's;
                                   NAN without a baseline or a time               */
    /* held out (NAN without --holdout): the plan's even-split max/mean on the
       held-out steps, and the replay's means over the training and held-out
       steps of the per-step max/mean and predicted step time */
    double holdout_plan_maxmean;
    double insample_sim_maxmean, holdout_sim_maxmean;
    double insample_step_us, holdout_step_us;
    mp_sim_result *res;
} mp_simrun_lane;

typedef struct mp_simrun {
    mp_model model;             /* the trace's                                    */
    mp_loads *loads;            /* 1 x L x E: the planning steps' loads, summed   */
    mp_plan_result *placed;     /* the plan replayed and its metrics on `loads`;
                                   NULL in a sweep                                */
    mp_plan_result *linear;     /* the baseline, or NULL                          */
    int n;
    mp_simrun_lane lane[MP_SIMRUN_LANES_MAX];
    int baseline;               /* the lane of the linear placement, or -1        */
    mp_sweep_result *sweep;     /* the sweep (nsweep > 0), else NULL              */
    /* held out (o->holdout > 0): `loads` then holds the training steps only */
    double holdout;             /* the fraction in force (0: none)                */
    int by_rank;                /* split by source rank (else in time)            */
    int64_t train_steps, holdout_steps; /* the first train_steps steps train      */
    int32_t train_ranks, holdout_ranks; /* by rank: ranks below train_ranks train */
    mp_loads *held;             /* 1 x L x E: the held-out steps summed, or NULL  */
    double oracle_maxmean;      /* a plan made with the same strategy and topology
                                   on the held-out steps: the bound; NAN when the
                                   given plan's strategy is not in the registry   */
} mp_simrun;

/* Runs the pipeline over `ts` (read from its start).  plan: replay this plan
 * instead of planning (the run takes it over, also on failure; its layers and
 * routed experts must be the trace's, else MP_ESHAPE); NULL: plan the counted
 * loads with o->request.  Lanes: the plan with o->policy (or with every
 * policy), then, with o->baseline and a plan that is not linear itself, the
 * linear placement (mp_plan_linear_baseline, with modulo selection) when
 * the experts split over the GPUs; a linear plan is its own baseline.
 * progress counts assignments replayed.  Returns 0 or a negative code. */
int mp_sim_evaluate(mp_simrun **out, mp_trace_source *ts, mp_plan *plan, const mp_simrun_opts *o,
                    mp_progress_fn progress, void *pctx, mp_err *err);

void mp_simrun_destroy(mp_simrun *r); /* NULL is a no-op */

#endif
