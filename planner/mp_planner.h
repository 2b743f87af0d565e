/*
 * mp_planner.h - placement strategies behind one signature, registered in
 * one table, plus plan metrics, plan files (JSON read/write/validate,
 * exports) and migration-aware relabelling.
 *
 * A strategy fills phy2log[L][R] for a load matrix w[L][E]: one file per
 * strategy (planner/strategy_*.c), one row in the table of planner/registry.c,
 * so that `--strategy` and `--compare` look names up and never switch.
 *
 * Memory: functions that return a plan, result, metrics or string through an
 * out pointer hand the caller an object to free with its destroy function
 * (mp_plan_destroy, mp_plan_result_destroy, mp_plan_metrics_destroy, free);
 * inputs are borrowed, except where a function says it takes a plan over.
 */
#ifndef MP_PLANNER_H
#define MP_PLANNER_H

#include <stdint.h>
#include <stdio.h>

#include "planner/mp_plan.h"
#include "traces/mp_error.h"
#include "traces/mp_loads.h"

/* What one strategy call sees. */
typedef struct mp_strategy_input {
    int32_t layers;      /* L                                                  */
    int32_t experts;     /* E items to place (logical experts)                 */
    const double *load;  /* [L][E], finite, >= 0                               */
    const int32_t *ident;/* [E] identity for duplicate checks (NULL: e itself) */
    int32_t groups;      /* G expert groups of E/G consecutive ids (1: none)   */
    mp_topology topo;    /* P, N, S; R = P * S >= E                            */
    double locality;     /* --locality W in [0, 1] (balanced)                  */
    int32_t fixed;       /* the last `fixed` items keep exactly one replica    */
                         /* (the fused shared expert's copies); 0: none        */
    /* What the input says about variation (robust; the others ignore it):   */
    int32_t windows;     /* W >= 2 windows of consecutive steps in step_load,  */
                         /* or 0: one matrix (no variation recorded)           */
    const double *step_load; /* [W][L][E] per-window loads (load is their sum) */
    double batch_load;   /* load one served step puts on a layer, in the units */
                         /* of `load` (tokens x top-k); 0: unknown             */
} mp_strategy_input;

/* Fills phy2log [L][R] (every entry in 0..E-1, every expert at least once).
 * Every strategy first checks its input with mp_strategy_input_check, so a
 * strategy called directly through the registry never indexes out of range.
 * Returns 0 or a negative MP_E* code with a message (MP_EINVAL when the
 * strategy's preconditions do not hold, MP_ERANGE for bad weights). */
typedef int (*mp_strategy_fn)(const mp_strategy_input *in, int32_t *phy2log, mp_err *err);

typedef struct mp_strategy {
    const char *name;     /* "balanced"                                 */
    const char *summary;  /* one line                                   */
    int redundant;        /* 1: accepts R > E; 0: needs R == E          */
    mp_strategy_fn run;
} mp_strategy;

/* Limits of mp_planner_run and the strategies (MP_EINVAL beyond them): GPUs,
 * and layers x slots x GPUs. */
#define MP_PLAN_GPUS_MAX 4096
#define MP_PLAN_WORK_MAX 8589934592.0 /* 2^33 */

/* Largest layer total of the weights a strategy accepts: 2^64.  Every sum,
 * difference and bound the strategies form stays below twice a layer's total,
 * so with totals up to 2^64 nothing overflows; the readers already refuse
 * counts whose layer totals pass 2^53 (MP_LOADS_SUM_MAX), where doubles stop
 * counting exactly, so only summed steps or a fused shared expert get near. */
#define MP_PLAN_LOAD_MAX 18446744073709551616.0 /* 2^64 */

/* Checks a strategy's input: 1 <= L <= MP_LAYERS_MAX, 1 <= E <= MP_EXPERTS_MAX
 * + MP_PLAN_GPUS_MAX, a valid topology with R >= E (R == E when
 * !redundant) and R <= 64 E, L x R x P <= MP_PLAN_WORK_MAX, 0 <= fixed <= E,
 * groups >= 0, locality in [0, 1], ident (when given) in 0..E-1, and every
 * weight finite and >= 0 with every layer's total <= MP_PLAN_LOAD_MAX; with
 * windows: 2 <= windows <= MP_PLAN_WINDOWS_MAX, step_load given, its weights
 * as those of load; batch_load finite and >= 0.
 * `who` names the caller in messages.  Returns 0, MP_EINVAL (shapes) or
 * MP_ERANGE (weights) with a message naming the layer and expert. */
int mp_strategy_input_check(const mp_strategy_input *in, int redundant, const char *who, mp_err *err);

/* The registry: mp_strategy_count() entries in a fixed order. */
int mp_strategy_count(void);
const mp_strategy *mp_strategy_at(int i);
/* NULL when unknown. */
const mp_strategy *mp_strategy_find(const char *name);

/* ---- building blocks shared by the strategies (planner/packing.c) ---- */

/* D'Hondt: cnt[e] = 1, then each of the R - E extra slots to the expert with
 * the largest w/cnt (first index on ties; NaN quotients never win), skipping
 * experts whose count has reached cap (cap <= 0: no cap); extra[i]
 * (i = 0..R-E-1, may be NULL) gets the expert of extra slot E + i.  Returns
 * 0, MP_EINVAL (E < 1) or MP_ENOMEM. */
int mp_dhondt(const double *w, int32_t E, int32_t R, int32_t cap, int32_t *cnt, int32_t *extra);

/* EPLB's pack(): n items of weight w onto m packs of exactly n/m items
 * (n % m == 0).  n/m == 1: item i to pack i.  Else descending weight (ties:
 * lower index first), each to the lightest pack with room (lowest index on
 * ties; NaN weights compare as neither lighter nor heavier).  pack[i],
 * place[i] = arrival order inside the pack.  Returns 0, MP_EINVAL (m < 1,
 * n < 1 or n % m != 0) or MP_ENOMEM. */
int mp_eplb_pack(const double *w, int32_t n, int32_t m, int32_t *pack, int32_t *place);

/* ---- topology: one set of rules for every command ---- */

/* What a caller asks for.  Slots: one per routed expert, one per replica of
 * the fused shared expert (the shared expert fused as F routed replicas
 * occupies F slots), then the redundant ones: R = E + F + X and S = R / P;
 * or S given outright. */
typedef struct mp_topology_request {
    int32_t gpus;          /* P >= 1                                               */
    int32_t nodes;         /* N >= 1 with P % N == 0; 0: 1                          */
    int32_t slots_per_gpu; /* S >= 1, or 0: from the slot count R above            */
    int32_t redundant;     /* X >= 0 redundant slots, or -1: not given (0)          */
    int32_t shared_fusion; /* F >= 0 replicas of the fused shared expert (0: none) */
    int exact;             /* 1: no redundant slots (a strategy that places none,
                              the linear baseline): R = E + F whatever slots_per_gpu
                              and redundant say                                    */
} mp_topology_request;

/* Resolves a request for `experts` routed experts into *out (validated by
 * mp_topology_validate).  Returns 0 or MP_EINVAL with a message that names
 * the fields at fault (gpus, nodes, slots_per_gpu, redundant, shared_fusion)
 * and carries no prefix: the caller adds its context.  slots_per_gpu and
 * redundant together are refused ("give redundant or slots_per_gpu, not
 * both"); so are slots that do not split over the GPUs.  Whether the slots
 * can hold the experts is the strategy's precondition (mp_planner_run). */
int mp_topology_resolve(mp_topology *out, const mp_topology_request *t, int32_t experts, mp_err *err);

/* ---- high level ---- */

typedef struct mp_plan_request {
    const char *strategy;  /* registry name                                   */
    mp_topology topo;
    int32_t groups;        /* 0: from the loads' model, else override          */
    double locality;       /* balanced --locality W                            */
    int32_t shared_fusion; /* N >= 1: the shared expert becomes N replicas     */
    int32_t top_k;         /* 0: from the model; needed for shared fusion      */
    double batch_tokens;   /* tokens of one served step (robust); 0: the loads'
                              mean tokens per step when they have steps, else
                              unknown                                          */
} mp_plan_request;

/* Most windows a strategy sees: more steps are summed into this many windows
 * of consecutive steps (mp_planner_run). */
#define MP_PLAN_WINDOWS_MAX 64


/* Plans the summed loads (all steps of `loads` are summed; loads with two or
 * more steps also reach the strategy as at most MP_PLAN_WINDOWS_MAX windows of
 * consecutive steps, with the served batch of req->batch_tokens) with the request's
 * strategy (its input checked by mp_strategy_input_check: MP_ERANGE for NaN,
 * infinite or negative loads or layer totals beyond MP_PLAN_LOAD_MAX).  With shared fusion the plan has E + 1 logical experts, the last
 * being the shared one with load (sum of routed load) / top_k, and exactly N
 * replicas on N different GPUs.  *out gets the plan (model copied from the loads).  Returns 0 or a
 * negative MP_E* code (MP_EINVAL for bad requests, MP_ENOTFOUND for an
 * unknown strategy). */
int mp_planner_run(mp_plan **out, const mp_loads *loads, const mp_plan_request *req, mp_err *err);

/* The load matrix [L][plan->experts] a plan was made for: the routed loads
 * plus, when the plan fuses the shared expert, its column.  Caller frees the
 * returned array with free(); NULL when out of memory or when the loads do
 * not have the plan's L layers. */
double *mp_plan_expert_loads(const mp_plan *p, const mp_loads *loads);

/* ---- metrics (defined in moeplace-plan(1)) ---- */

typedef struct mp_plan_metrics {
    int32_t layers, gpus;
    double *gpu_load;    /* [L][P]: sum over the GPU's slots of load/replica_count */
    double *max;         /* [L] max GPU load                                     */
    double *mean;        /* [L] mean GPU load                                    */
    double *max_over_mean; /* [L] (1 when the layer has no load)                 */
    double *lb0;         /* [L] W / P                                            */
    double *lb_rep;      /* [L] max(LB0, D'Hondt's max w/c for R slots)          */
    int32_t *duplicates; /* [L] replicas beyond the first of an expert on a GPU  */
    /* overall */
    double mean_max_over_mean;  /* mean over layers of max/mean                    */
    double worst_max_over_mean; /* max over layers                                 */
    int32_t worst_layer;
    double vllm_balancedness;   /* sum mean / sum max                              */
    double sglang_balancedness; /* mean over layers of (mean+1e-5)/(max+1e-5)      */
    double trtllm_imbalance;    /* mean over layers of (max - mean)/mean           */
    double gap_lb0;             /* mean over layers of max/LB0 - 1                 */
    double gap_lb_rep;          /* mean over layers of max/LB_rep - 1              */
    int64_t total_duplicates;
} mp_plan_metrics;

/* load is [L][p->experts] (see mp_plan_expert_loads).  The plan must be
 * derived.  Loads that are not finite give NaN or infinite figures, never a
 * crash.  Returns 0, MP_EINVAL / MP_ERANGE (a plan of bad shape or with an
 * expert id outside 0..experts-1) or MP_ENOMEM. */
int mp_plan_metrics_compute(mp_plan_metrics **out, const mp_plan *p, const double *load, mp_err *err);
void mp_plan_metrics_destroy(mp_plan_metrics *m);

/* Max GPU load of one layer row (phy2log of R slots) under the even split.
 * NAN when a row entry is outside 0..E-1 or R is not a multiple of S. */
double mp_layer_max_load(const int32_t *row, int32_t R, int32_t S, const double *w, int32_t E, int32_t *cnt_scratch,
                         double *gpu_scratch);

/* ---- results: a plan, the loads it is evaluated on, its metrics ---- */

/* What the planner returns: a plan and what it predicts.  The result owns
 * everything it points to (mp_plan_result_destroy). */
typedef struct mp_plan_result {
    mp_plan *plan;
    double *load;             /* [L][plan->experts]: the loads evaluated on, with the
                                 fused shared expert's column (mp_plan_expert_loads);
                                 NULL when there are none (a plan file without them)  */
    mp_plan_metrics *metrics; /* the plan's metrics on load; NULL exactly when load is */
} mp_plan_result;

/* Plans `loads` with `req` (mp_planner_run) and evaluates the plan on the
 * same loads.  Returns 0 or mp_planner_run's and mp_plan_metrics_compute's
 * codes. */
int mp_plan_evaluate(mp_plan_result **out, const mp_loads *loads, const mp_plan_request *req, mp_err *err);

/* Evaluates an existing plan on loads of its layers (steps summed, the fused
 * shared expert's share added).  The result takes the plan over, also when
 * it fails.  Returns 0, MP_ESHAPE (other layers), MP_ERANGE or MP_ENOMEM. */
int mp_plan_result_of(mp_plan_result **out, mp_plan *plan, const mp_loads *loads, mp_err *err);

/* The same from a load matrix [L][plan->experts] as a plan file records it
 * (mp_plan_read_json); load may be NULL (no metrics).  The result takes the
 * plan and the matrix over (malloc'd), also when it fails. */
int mp_plan_result_of_load(mp_plan_result **out, mp_plan *plan, double *load, mp_err *err);

/* Recomputes the metrics after the plan changed in place (mp_plan_migrate). */
int mp_plan_result_update(mp_plan_result *r, mp_err *err);

void mp_plan_result_destroy(mp_plan_result *r); /* NULL is a no-op */

/* The metrics alone of a plan on loads (the plan borrowed). */
int mp_plan_metrics_of(mp_plan_metrics **out, const mp_plan *p, const mp_loads *loads, mp_err *err);

/* The linear baseline, vLLM's default placement: slot s of every layer holds
 * expert s, on `gpus` GPUs of `nodes` nodes (0: 1) with E / P slots each and
 * no fused shared expert; m gives L, E and the model the plan records.
 * Returns 0, MP_EINVAL when the experts do not split over the GPUs (no
 * linear placement exists: callers leave the baseline out), MP_ELIMIT or
 * MP_ENOMEM. */
int mp_plan_linear_baseline(mp_plan **out, const mp_model *m, int32_t gpus, int32_t nodes, mp_err *err);

/* ---- plan files ---- */

/* Extra facts written beside the plan. */
typedef struct mp_plan_info {
    double locality;
    int32_t shared_fusion;
    int32_t groups;
    const double *load;           /* [L][experts] or NULL                 */
    const mp_plan_metrics *metrics; /* or NULL                            */
    int64_t moved_experts;        /* -1: no --from                        */
    int64_t moved_bytes;
} mp_plan_info;

#define MP_PLAN_FORMAT "moeplace-plan"
#define MP_PLAN_VERSION 1
/* Largest plan file read (bytes). */
#define MP_PLAN_FILE_MAX ((long long)1 << 30)

/* Writes the plan JSON (top-level physical_to_logical_map, never a
 * logical_count key) to path ("-": stdout) atomically. */
int mp_plan_write_json(const mp_plan *p, const mp_plan_info *info, const char *path, mp_err *err);
int mp_plan_write_json_fp(const mp_plan *p, const mp_plan_info *info, FILE *fp);

/* Reads and validates a plan file.  *load_out (may be NULL) gets the
 * recorded input loads [L][experts] (malloc'd) or NULL when absent. */
int mp_plan_read_json(mp_plan **out, double **load_out, const char *path, mp_err *err);
/* The same from memory; `what` names the input in messages. */
int mp_plan_parse_json(mp_plan **out, double **load_out, const char *text, size_t len, const char *what, mp_err *err);

typedef enum mp_export { MP_EXPORT_SGLANG = 0, MP_EXPORT_TRTLLM, MP_EXPORT_CSV } mp_export;
/* Returns 0 or MP_ENOTFOUND. */
int mp_export_parse(const char *name, mp_export *out);
/* Writes an export (path "-": stdout) atomically. */
int mp_plan_export(const mp_plan *p, mp_export kind, const char *path, mp_err *err);

/* ---- migration-aware relabelling (planner/migrate.c) ---- */

typedef struct mp_migration {
    int64_t moved_experts; /* (layer, GPU, expert) in the new plan not on that GPU before */
    int64_t moved_bytes;   /* moved_experts * bytes per expert                           */
    int64_t kept_experts;
} mp_migration;

/* Relabels the GPUs of each layer of `plan` (an optimal assignment between
 * new and old per-GPU expert sets, maximising the overlap) and, within a GPU,
 * keeps each staying expert in its old slot.  Per-GPU multisets, and so every
 * load metric, are unchanged.  Shapes (layers, experts, slots, GPUs) must
 * match (MP_ESHAPE) and every slot of both must hold an expert id in range
 * (MP_ERANGE).  bytes_per_expert may be 0.  The plan is re-derived.
 * O(L P^3): MP_EINVAL when L * P^3 > 2^34. */
int mp_plan_migrate(mp_plan *plan, const mp_plan *old, int64_t bytes_per_expert, mp_migration *out, mp_err *err);

/* Minimum-cost perfect assignment of an n x n cost matrix (int64, row-major):
 * col_of_row[i].  Returns 0 or MP_ENOMEM. */
int mp_assign_min_cost(const int64_t *cost, int32_t n, int32_t *col_of_row);

/* ---- the move path: migration worth its cost (planner/migrate.c) ----
 *
 * From an old plan to a new one of the same shape (after mp_plan_migrate),
 * the unit of change is one layer switched whole from the old row to the new
 * (a layer's row is always a valid placement; a part of one need not be).
 * Each layer has a cost, the expert copies it brings onto GPUs that did not
 * hold them (and their bytes), and a gain, the drop of the mean over layers
 * of max/mean GPU load on judging loads.  The path lists the layers that
 * move something and gain something, in order of gain per move (ties: lower
 * layer first), with the curve after each: copies moved, bytes, max/mean.
 *
 * The knee (the default rule): the path's curve is concave; the knee is its
 * point farthest above the chord from no move to every move, which is the
 * prefix of the layers whose gain per move is at least the whole path's
 * (total gain / total moves).  A layer that gains less per copy moved than
 * re-planning does on average is not worth its cost. */
typedef struct mp_move_step {
    int32_t layer;
    int64_t moves;          /* expert copies the switch brings onto GPUs         */
    int64_t bytes;          /* moves * bytes per expert                          */
    double gain;            /* drop of the mean over layers of max/mean (> 0)    */
    int64_t cum_moves, cum_bytes; /* along the path, this step included          */
    double max_over_mean;   /* mean over layers of max/mean after this step      */
    int taken;              /* chosen by mp_move_path_choose                     */
} mp_move_step;

typedef struct mp_move_path {
    int32_t layers;
    int64_t bytes_per_expert;
    double start_max_over_mean; /* the old plan on the judging loads             */
    double full_max_over_mean;  /* the new plan, every layer switched            */
    int64_t total_moves;        /* copies the whole new plan would move          */
    int32_t n;                  /* steps on the path                             */
    mp_move_step *step;         /* [n], in path order                            */
    int32_t knee;               /* steps up to the knee                          */
    /* what mp_move_path_choose took */
    int32_t chosen_layers;
    int64_t chosen_moves, chosen_bytes;
    double chosen_max_over_mean;
} mp_move_path;

/* Builds the path from `old` to `nw` judged on load [L][nw->experts] (see
 * mp_plan_expert_loads).  Returns 0, MP_ESHAPE, MP_ERANGE, MP_EINVAL or
 * MP_ENOMEM.  *out is freed with mp_move_path_destroy. */
int mp_move_path_build(mp_move_path **out, const mp_plan *old, const mp_plan *nw, const double *load,
                       int64_t bytes_per_expert, mp_err *err);
/* Marks the steps taken: with no budget (max_moves and max_bytes < 0), the
 * knee's prefix; with max_moves >= 0 and/or max_bytes >= 0, the steps in
 * path order that keep within both (a step that does not fit is skipped, a
 * later smaller one may fit), so the copies moved are <= max_moves and the
 * bytes <= max_bytes exactly.  max_layers >= 0 caps the layers switched (a
 * rebalance's layer budget).  Fills the chosen_* figures. */
void mp_move_path_choose(mp_move_path *p, int64_t max_moves, int64_t max_bytes, int32_t max_layers);
/* Puts back old's rows into `nw` for every layer the path did not take and
 * re-derives nw.  Returns 0, MP_ESHAPE, MP_ERANGE or MP_ENOMEM. */
int mp_move_path_apply(mp_plan *nw, const mp_plan *old, const mp_move_path *p, mp_err *err);
void mp_move_path_destroy(mp_move_path *p); /* NULL is a no-op */

#endif
