/*
 * mp_check.h - evaluating several placements on one trace (plan each
 * strategy or read a plan file, replay every step through each), the named
 * metrics that reports show and CI gates on, baseline files that record
 * them, and the comparison of a new run against a baseline with a tolerance.
 *
 * An evaluation reads the trace twice through an mp_piece_source: once to
 * count the summed loads that the strategies plan from, once to replay every
 * step through every plan at the same time.  Strategies that place no
 * redundant experts get E / P slots per GPU; the others (E + redundant) / P.
 *
 * Baseline file (JSON, schema "moeplace.baseline", schema_version 2):
 *   {"schema": "moeplace.baseline", "schema_version": 2,
 *    "setup": {"gpus": 32, "nodes": 4, "redundant": 32, "policy": "modulo",
 *              "seed": 1, "locality": 0},
 *    "trace": {"model": "deepseek-v3", "layers": 58, "experts": 256,
 *              "top_k": 8, "steps": 3, "tokens": 224},
 *    "entries": [{"name": "eplb", "strategy": "eplb"},
 *                {"name": "prod", "plan": "plans/prod.json"}, ...],
 *    "metrics": {"eplb": {"plan_max_over_mean": 1.05, ...}, ...}}
 * A "plan" path is relative to the baseline file's folder.  Every setup key
 * is required; "trace" (each of its keys) is optional.  Unknown keys, unknown
 * strategies, policies and metrics, an entry, strategy or plan given twice
 * and negative metrics are errors.  "metrics" may be missing or incomplete
 * when parsing (a baseline to fill with new figures), but the gate fails
 * closed: mp_baseline_gate refuses a baseline that lacks any metric of any
 * entry or was recorded on a trace of another model or shape.  Metric names
 * are the vocabulary's (traces/mp_vocab.h); schema_version 1 files, which
 * spelled max/mean "max_mean" (plan_max_mean ...), are read with the old
 * names mapped.  The JSON is parsed by cJSON; duplicate keys, nesting deeper
 * than 32, strings over 4096 bytes and \u0000 escapes are refused.
 *
 * Memory: mp_eval_run returns an evaluation freed with mp_eval_destroy;
 * mp_baseline_read/parse return a baseline freed with mp_baseline_destroy;
 * mp_check_compare returns a diff freed with mp_check_diff_destroy; each owns
 * everything it points to.  Inputs are borrowed.
 */
#ifndef MP_CHECK_H
#define MP_CHECK_H

#include <stddef.h>
#include <stdint.h>

#include "planner/mp_plan.h"
#include "planner/mp_planner.h"
#include "sim/mp_rebalance.h"
#include "sim/mp_sim.h"
#include "sim/mp_sweep.h"
#include "traces/mp_error.h"
#include "traces/mp_loads.h"
#include "traces/mp_vocab.h"

#define MP_BASELINE_SCHEMA "moeplace.baseline"
#define MP_BASELINE_SCHEMA_VERSION 2 /* 2: metric names say max_over_mean; 1 is read too */
#define MP_BASELINE_FILE_MAX (1 << 20) /* largest baseline file read, bytes */
#define MP_EVAL_ENTRIES_MAX 32         /* placements compared in one run      */
#define MP_EVAL_NAME_MAX 32            /* entry names, strategy and policy names */
#define MP_EVAL_PATH_MAX 1024

/* ---- what to evaluate ---- */

typedef struct mp_eval_entry {
    char name[MP_EVAL_NAME_MAX];     /* label in tables: the strategy or a plan's name */
    char strategy[MP_EVAL_NAME_MAX]; /* registry name, or "" when `plan` is given      */
    char plan[MP_EVAL_PATH_MAX];     /* plan file, or ""                               */
} mp_eval_entry;

typedef struct mp_eval_setup {
    int32_t gpus, nodes;   /* P, N                                                  */
    int32_t redundant;     /* extra slots over all GPUs for redundant strategies      */
    double locality;       /* balanced --locality W                                  */
    char policy[MP_EVAL_NAME_MAX]; /* replica selection ("modulo")                 */
    uint64_t seed;
    double holdout;        /* held-out fraction of the steps (0: off; < 0: MP_HOLDOUT_AUTO_FRACTION
                              when the trace has MP_HOLDOUT_AUTO_STEPS steps or more, else off);
                              not part of baseline files                                       */
    int nentries;
    mp_eval_entry entry[MP_EVAL_ENTRIES_MAX];
} mp_eval_setup;

/* 32 GPUs, 4 nodes, 32 redundant slots, modulo, seed 1, no entries. */
mp_eval_setup mp_eval_setup_default(void);

/* Adds the strategies of a comma-separated list ("linear,eplb").  Returns 0
 * or MP_EINVAL (unknown name, duplicate, too many). */
int mp_eval_add_strategies(mp_eval_setup *s, const char *list, mp_err *err);

/* The default comparison: linear, round-robin, group-aware, eplb, balanced. */
#define MP_EVAL_DEFAULT_STRATEGIES "linear,round-robin,group-aware,eplb,balanced,robust"

/* The topology of a strategy entry (mp_topology_resolve): exactly E slots
 * for a strategy that places no redundant experts, E + redundant for the
 * others.  Returns 0 or MP_EINVAL, the message prefixed with the strategy. */
int mp_eval_topology(mp_topology *out, const mp_eval_setup *s, const mp_strategy *st, int32_t experts, mp_err *err);

/* Checks the setup (topology, policy, names).  Returns 0 or MP_EINVAL. */
int mp_eval_setup_validate(const mp_eval_setup *s, mp_err *err);

/* ---- the named metrics of one placement ---- */

enum {
    MP_M_PLAN_MAXMEAN = 0, /* plan: mean over layers of max/mean GPU load (summed loads) */
    MP_M_PLAN_WORST,       /* plan: worst layer's max/mean                              */
    MP_M_SIM_MAXMEAN,      /* replay: mean over steps of max/mean GPU rows              */
    MP_M_SIM_MAXMEAN_P99,  /* replay: p99 over steps                                     */
    MP_M_VLLM_BAL,         /* replay: vLLM balancedness over the run (higher is better)  */
    MP_M_STEP_US,          /* replay: mean predicted step time, us                       */
    MP_M_NET_MB,           /* replay: mean network dispatch MB per step                  */
    MP_M_NVL_MB,           /* replay: mean NVLink dispatch MB per step                   */
    MP_METRICS
};

/* The vocabulary entry of metric i (name, unit, direction, decimals), or
 * NULL when i is not an MP_M_* index. */
const mp_vocab *mp_metric_at(int i);
/* -1 when unknown. */
int mp_metric_find(const char *name);

/* ---- an evaluation ---- */

typedef struct mp_eval_result {
    mp_eval_entry entry;
    mp_plan_result *placed; /* the plan, its loads and metrics (owned)         */
    const mp_plan *plan;    /* placed->plan, a view                             */
    const mp_plan_metrics *pm; /* placed->metrics, a view                       */
    mp_sim_result *sim;    /* series kept */
    double bound_us;       /* mean over steps of comm_us + expert_us / maxmean */
    double metric[MP_METRICS];
    /* held out (NAN when the evaluation has no held-out steps): */
    double holdout_plan_maxmean;   /* the plan's even-split max/mean on the held-out steps       */
    double oracle_plan_maxmean;    /* the same strategy planned on the held-out steps: the bound */
    double insample_sim_maxmean;   /* replay: mean over the planning steps of max/mean           */
    double holdout_sim_maxmean;    /* replay: mean over the held-out steps of max/mean           */
} mp_eval_result;

typedef struct mp_eval {
    mp_eval_setup setup;
    mp_model model;
    mp_loads *loads;       /* 1 x L x E summed over the trace                  */
    double holdout;        /* the fraction in force (0: none)                   */
    int64_t train_steps, holdout_steps; /* the plans are made from the first train_steps
                                           steps (all when holdout is 0)             */
    mp_loads *train, *held; /* 1 x L x E: the planning and held-out steps summed; NULL
                               without held-out steps                               */
    int64_t steps, tokens;
    int n;
    mp_eval_result *r;     /* [n] in the setup's order                          */
    int best;              /* index with the lowest predicted step time          */
} mp_eval;

/* Plans and replays every entry of `s` over `src` (read twice; three times
 * with held-out steps: the plans are then made from the first steps only,
 * see mp_holdout_steps, and each entry also gets its figures on the last
 * steps and its oracle's) for a trace of
 * `model`.  threads: replay threads (results do not depend on it).  Progress
 * counts steps over both passes.  Plan files are read relative to base_dir
 * (NULL: as given).  Returns 0 or a negative code naming the entry. */
int mp_eval_run(mp_eval **out, const mp_eval_setup *s, const mp_piece_source *src, const mp_model *model,
                int threads, const char *base_dir, mp_progress_fn progress, void *pctx, mp_err *err);
void mp_eval_destroy(mp_eval *e);

/* Runs the online rebalancer (sim/mp_rebalance.h) over `src` for the
 * evaluation's trace and setup, re-planning with `strategy` every `interval`
 * steps from the last `window` steps (oracle on, threshold 0).  *out is
 * freed with mp_rebalance_result_destroy. */
int mp_eval_rebalance(mp_rebalance_result **out, const mp_eval *ev, const char *strategy, int64_t interval,
                      int64_t window, const mp_piece_source *src, int threads, mp_progress_fn progress, void *pctx,
                      mp_err *err);

/* The locality sweep (sim/mp_sweep.h) for the evaluation's trace and setup
 * (redundant slots as set up) at localities 0, 0.25, 0.5, 0.75 and 1.  *out
 * is freed with mp_sweep_result_destroy. */
int mp_eval_sweep(mp_sweep_result **out, const mp_eval *ev, const mp_piece_source *src, int threads,
                  mp_progress_fn progress, void *pctx, mp_err *err);

/* Piece sources: trace files (traces/formats/mp_source.h) and the
 * generator (traces/gen/mp_gen.h). */

/* ---- baselines ---- */

/* the "trace" a baseline was recorded on, as far as it says */
typedef struct mp_baseline_trace {
    int given;                      /* "trace" present                       */
    char model[MP_MODEL_NAME_MAX];  /* "" (absent) or "-": unknown           */
    int32_t layers, experts, top_k; /* 0 when absent                         */
    int64_t steps, tokens;          /* -1 when absent (informational)        */
} mp_baseline_trace;

typedef struct mp_baseline {
    mp_eval_setup setup;
    int has_metrics[MP_EVAL_ENTRIES_MAX];
    double metric[MP_EVAL_ENTRIES_MAX][MP_METRICS]; /* NAN when absent */
    mp_baseline_trace trace;
    int metrics_given;                              /* "metrics" present and not null  */
    char what[MP_EVAL_PATH_MAX];                    /* the file, in messages           */
} mp_baseline;

/* Parses a baseline from memory (len bytes, need not be NUL-terminated);
 * `what` names it in messages (with the byte offset of a syntax error, the
 * JSON path of any other fault).
 * Returns 0, MP_EFORMAT, MP_EVERSION, MP_ERANGE, MP_ELIMIT or MP_ENOMEM. */
int mp_baseline_parse(mp_baseline **out, const char *text, size_t len, const char *what, mp_err *err);
int mp_baseline_read(mp_baseline **out, const char *path, mp_err *err);
void mp_baseline_destroy(mp_baseline *b);

/* Checks that the setup fits a trace of `model`: the slots of every
 * strategy entry (experts, plus the redundant ones where it places them)
 * split over the GPUs.  Returns 0 or MP_ERANGE naming the file and "setup". */
int mp_baseline_fit(const mp_baseline *b, const mp_model *model, mp_err *err);

/* The gate fails closed: returns 0 only when the baseline holds every metric
 * of every entry, and (when it records its trace and `model` is not NULL)
 * was recorded on a trace of the same model name and shape (layers, experts,
 * top-k); steps and tokens may differ.  Otherwise MP_EFORMAT (figures
 * missing) or MP_ESHAPE (another model), naming the file and JSON path. */
int mp_baseline_gate(const mp_baseline *b, const mp_model *model, mp_err *err);

/* The baseline JSON of an evaluation (its setup and metrics, "%.17g");
 * heap string, caller frees; NULL when out of memory. */
char *mp_baseline_to_json(const mp_eval *e);
/* Writes it atomically. */
int mp_baseline_write(const mp_eval *e, const char *path, mp_err *err);

/* ---- comparison ---- */

enum { MP_CHECK_OK = 0, MP_CHECK_IMPROVED, MP_CHECK_REGRESSED, MP_CHECK_NEW };

typedef struct mp_check_row {
    int entry;       /* index into the setup's entries */
    int metric;      /* MP_M_*                         */
    double base, now;
    double change;   /* now / base - 1 (0 when both are 0; +-INFINITY from 0) */
    int status;      /* MP_CHECK_*                     */
} mp_check_row;

typedef struct mp_check_diff {
    int nrows;
    mp_check_row *rows; /* entry-major, metric order */
    int regressed, improved, fresh;
} mp_check_diff;

/* Compares an evaluation with a baseline of the same setup: a metric
 * regressed when it moved in its bad direction by more than `tolerance`
 * relative to the baseline (and by more than 1e-9 absolute); one the
 * baseline lacks is MP_CHECK_NEW.  Returns 0, MP_EINVAL (tolerance negative
 * or not finite) or MP_ENOMEM. */
int mp_check_compare(mp_check_diff **out, const mp_baseline *b, const mp_eval *e, double tolerance, mp_err *err);
void mp_check_diff_destroy(mp_check_diff *d);

#endif
