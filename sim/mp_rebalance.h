/*
 * mp_rebalance.h - online expert rebalancing over time, as the engines run
 * it, compared with a static plan and an oracle on the same trace.
 *
 * Three regimes replay every step through mp_sim:
 *   static  - one plan from the loads of the first `window` steps, kept;
 *   online  - starts from that plan; at every step s > 0 with s % interval
 *             == 0 and s >= window, re-plans from the loads of steps
 *             [s - window, s).  The decision is held out: with H = the
 *             window's `holdout` fraction of steps (mp_holdout_steps; 0 when
 *             holdout is 0 or the window has fewer than 2 steps), a trial plan
 *             made from the first W - H steps of the window is judged on the
 *             last H; the rebalance is skipped when that held-out gain (old
 *             plan's even-split max/mean / the trial's, minus 1) is below
 *             `threshold` (SGLang #8345 skips rebalances when the GPUs are
 *             already well used; this skips those that would not pay on
 *             steps the plan has not seen).  Without H the gain is judged in
 *             sample on the window.  Then the plan made from the whole window
 *             is moved to by the planner's move path (mp_move_path_*): the
 *             knee by default, or within max_moves / max_bytes copies and
 *             bytes, and at most max_layers layers (a per-rebalance layer
 *             budget, as SGLang's eplb_rebalance_layers_per_chunk spreads
 *             layers over passes); a rebalance that moves nothing is skipped;
 *   oracle  - re-plans every `oracle_every` steps from that step's own loads.
 * Each applied rebalance records the experts moved (per GPU, the copies it
 * must receive that it did not hold), their bytes, and the transfer time at
 * `bandwidth_GBps` per GPU (the slowest GPU).  With `relabel`, the new
 * plan's GPUs and slots are renamed by the planner's mp_plan_migrate (an
 * optimal assignment keeping as many copies in place as possible) before
 * counting; balance is unchanged.
 *
 * Memory: mp_rebalance_run returns a result freed with
 * mp_rebalance_result_destroy, which owns everything in it.
 */
#ifndef MP_REBALANCE_H
#define MP_REBALANCE_H

#include <stddef.h>
#include <stdint.h>

#include "planner/mp_plan.h"
#include "sim/mp_sim.h"
#include "traces/formats/mp_source.h"
#include "traces/mp_loads.h"

/* Makes a plan for loads (1 x L x E); the callee allocates *out. */
typedef int (*mp_replan_fn)(void *ctx, const mp_loads *loads, mp_plan **out, mp_err *err);

typedef struct mp_rebalance_opts {
    int64_t interval;       /* steps between rebalances (vLLM 3000, SGLang 1000) */
    int64_t window;         /* steps of loads each re-plan sees (vLLM 1000)     */
    double threshold;       /* minimum held-out (else predicted) gain to switch */
    double holdout;         /* fraction of each window that judges a trial plan (0: in sample) */
    int64_t max_moves;      /* copies moved per rebalance at most (-1: knee rule) */
    int64_t max_bytes;      /* bytes moved per rebalance at most (-1: knee rule)  */
    int32_t max_layers;     /* layers switched per rebalance at most (-1: any)    */
    double bandwidth_GBps;  /* per-GPU bandwidth for moving expert weights      */
    int oracle;             /* run the oracle regime                            */
    int64_t oracle_every;   /* oracle re-plans every this many steps (>= 1)     */
    int relabel;            /* migration-aware GPU relabelling                  */
    int64_t bucket;         /* steps per row of the over-time table (0: interval) */
    int64_t shift_at;       /* step of a known popularity shift, or -1          */
    mp_sim_opts sim;        /* policy, seed, threads, cost                       */
    mp_replan_fn replan;
    void *replan_ctx;
} mp_rebalance_opts;

mp_rebalance_opts mp_rebalance_opts_default(void);

typedef struct mp_rebalance_event {
    int64_t step;
    double old_pred, new_pred; /* even-split max/mean on the window's loads (new: after the moves) */
    double holdout_gain;       /* the trial plan's gain on the window's held-out steps; NAN: none */
    int applied;               /* 0: skipped under the threshold, or nothing paid to move */
    int32_t layers_moved;      /* layers switched                              */
    int64_t experts_moved;     /* copies received, summed over layers and GPUs */
    double bytes;
    double transfer_ms;
} mp_rebalance_event;

enum { MP_REGIME_STATIC = 0, MP_REGIME_ONLINE, MP_REGIME_ORACLE, MP_REGIMES };

/* Whether online rebalancing paid on the trace (mp_rebalance_result.verdict). */
enum {
    MP_REB_NONE_DUE = 0, /* the trace ended before the first rebalance was due      */
    MP_REB_NONE_PAID,    /* rebalances were considered; none was worth applying      */
    MP_REB_PAYS,         /* applied, and the online total (transfers stalling serving
                            included) is below the static plan's                    */
    MP_REB_COSTS         /* applied, but the online total is not below the static's */
};

typedef struct mp_rebalance_result {
    int64_t steps;
    mp_sim_result *regime[MP_REGIMES]; /* series kept; [ORACLE] NULL when off */
    mp_rebalance_event *events;
    int64_t nevents, applied;
    double moved_bytes, transfer_ms;   /* totals over applied rebalances */
    int64_t bucket, nbuckets;
    double *bucket_maxmean;            /* [nbuckets][MP_REGIMES] mean max/mean per step; NAN when off */
    double pre_shift[MP_REGIMES];      /* mean max/mean before shift_at (when known)     */
    int64_t recovery_steps[MP_REGIMES]; /* steps from shift_at until a bucket's mean is within 5% of
                                           pre_shift; -1 never (or no shift given)        */
    int64_t interval, window;          /* as run                                           */
    double total_us[MP_REGIMES];       /* predicted time over the run; ONLINE includes its
                                          transfers (a stall: serving waits for the weights);
                                          the oracle's moves are not counted (a bound)     */
    int verdict;                       /* MP_REB_*                                          */
    double gain;                       /* static total / online total - 1 (0 when none applied) */
} mp_rebalance_result;

/* One line (no newline) saying whether online rebalancing paid and why, in
 * words that name no command-line flag; returns buf. */
const char *mp_rebalance_verdict_text(const mp_rebalance_result *r, char *buf, size_t cap);

void mp_rebalance_result_destroy(mp_rebalance_result *r);

/* Plays the three regimes over `src` for a trace of `model` on `topo`.
 * Reads the first window, rewinds, then streams once (the oracle buffers one
 * step at a time).  Returns 0 or a negative code. */
int mp_rebalance_run(mp_rebalance_result **out, const mp_piece_source *src, const mp_model *model,
                     const mp_rebalance_opts *o, mp_progress_fn progress, void *pctx, mp_err *err);

/* Expert copies that `nw` puts on a GPU which `old` did not hold there,
 * summed over layers and GPUs (plans of the same shape); *per_gpu_max, when
 * not NULL, gets the most copies one GPU receives over all layers. */
int64_t mp_plan_moved_copies(const mp_plan *old, const mp_plan *nw, int64_t *per_gpu_max);

#endif
