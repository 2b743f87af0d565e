/*
 * mp_sim.h - replaying every token of a routing trace through a placement on
 * the CPU: replica selection, per-step and per-layer accumulators (rows,
 * distinct tokens per GPU and node, active experts, GPU-to-GPU token matrix,
 * NVLink and network bytes), the cost model, and metrics over steps.
 *
 * Conventions.  A token's source GPU is its recorded source rank modulo the
 * GPU count; tokens without one are spread round-robin: token t of a step
 * comes from GPU t mod P.  A token is sent once to each GPU that hosts any of
 * its chosen replicas (DeepEP's dedup); copies to the source GPU itself move
 * no bytes.  As DeepEP's normal mode does, a token crosses the network once
 * per remote node it needs (to the GPU with the source's local index there)
 * and NVLink carries it on to the other GPUs of that node; inside the
 * source's node it goes over NVLink directly.  With a
 * fused shared expert (plan->shared_id >= 0) every token makes a (K+1)-th
 * assignment to it at position k = K, under the same policy; otherwise the
 * model's shared experts run on the source GPU and only add expert time.
 * Every count is an integer and every per-step figure is computed per layer
 * and merged in layer order, so results do not depend on the thread count.
 *
 * Memory: mp_sim_create returns a simulator freed with mp_sim_destroy;
 * mp_sim_finish returns a result freed with mp_sim_result_destroy; the
 * result owns all its arrays.  The plan passed in must outlive the simulator.
 */
#ifndef MP_SIM_H
#define MP_SIM_H

#include <stdint.h>

#include "planner/mp_plan.h"
#include "sim/mp_cost.h"
#include "traces/mp_error.h"
#include "traces/mp_loads.h"
#include "traces/mp_step.h"
#include "traces/formats/mp_trace.h"

/* ---- replica selection: one signature, one table ---- */

/* What a policy sees for a run of tokens of one step and one layer.  Runs of
 * one (step, layer) come in token order. */
typedef struct mp_select_args {
    const mp_plan *plan;
    int32_t layer;
    int64_t step;
    uint64_t seed;
    int32_t kk;              /* choices per token (K, or K+1 with a fused shared expert) */
    int64_t first_token;     /* index within the step of experts[0]'s token              */
    int64_t tokens;
    const int32_t *experts;  /* [tokens][kk] logical ids (in gate-weight order for a policy
                                with gate_order, when the trace has weights)              */
    const int32_t *src_gpu;  /* [tokens] source GPU of each token                         */
    int64_t *state;          /* [gpus] policy state of this step and layer, zeroed at each step */
    int64_t *batch;          /* [batch_words] what prepare set up for this step and layer, or NULL */
    const int32_t *cache;    /* [cache_words] the table build_cache made for this layer, or NULL */
} mp_select_args;

/* Fills slot_out[tokens][kk] with a physical slot hosting each assignment's expert. */
typedef void (*mp_select_fn)(const mp_select_args *a, int32_t *slot_out);

/* What prepare sees once per (step, layer), before that layer's first run. */
typedef struct mp_prepare_args {
    const mp_plan *plan;
    int32_t layer;
    int64_t step;
    uint64_t seed;
    int32_t kk;
    int64_t tokens;              /* tokens of the batch (the step, or its first piece)   */
    const int64_t *expert_rows;  /* [plan->experts] assignments of each expert in it      */
} mp_prepare_args;

typedef struct mp_policy {
    const char *name;    /* "vllm", "vllm-modulo", "sglang-static", ... */
    const char *summary; /* one line                                    */
    const char *source;  /* the public code it follows, or "" for moeplace's own */
    mp_select_fn select;
    int gate_order;      /* sees each token's ids by descending gate weight when weights are recorded */
    int whole_batch;     /* prepare needs the whole step: a step in several pieces is gathered first */
    /* optional: per-(step, layer) scratch of batch_words(plan) int64 words, set up by prepare */
    int64_t (*batch_words)(const mp_plan *p);
    void (*prepare)(const mp_prepare_args *a, int64_t *batch);
    /* optional: a per-layer table of cache_words(plan) int32 words, built from the plan
     * (again after each plan change); returns 0 or MP_ENOMEM */
    int64_t (*cache_words)(const mp_plan *p);
    int (*build_cache)(const mp_plan *p, int32_t layer, uint64_t seed, int32_t *cache);
} mp_policy;

/* The table of policies (mp_policy_count() entries, in a fixed order). */
const mp_policy *mp_policy_table(void);
int mp_policy_count(void);
/* Looks a policy up by name, or by a deprecated alias ("modulo": vllm-modulo);
 * NULL when unknown. */
const mp_policy *mp_policy_find(const char *name);
/* The name a deprecated alias stands for, or NULL when `name` is no alias. */
const char *mp_policy_alias_of(const char *name);
/* The default policy (vllm-modulo: the rule before engines are chosen). */
const mp_policy *mp_policy_default(void);

/* sglang-lp's solver, exposed for tests: the smallest integer bound C such
 * that the rows[e] assignments of every expert can be split over its replicas
 * (plan->log2phy of `layer`) with no GPU receiving more than C; quota_out[R]
 * (may be NULL) receives one split attaining it.  Returns C (0 for no rows),
 * or -1 when out of memory. */
int64_t mp_policy_lp_solve(const mp_plan *plan, int32_t layer, const int64_t *rows, int64_t *quota_out);

/* ---- metrics ---- */

typedef struct mp_summary {
    double mean, p50, p90, p99, max;
} mp_summary;

/* Figures of one step (layers combined: balance ratios are means over layers
 * except vllm_bal = sum of mean GPU rows / sum of max GPU rows; bytes and
 * times are sums over layers). */
typedef struct mp_sim_stepm {
    int64_t step;
    int64_t tokens;
    double maxmean;    /* max GPU rows / mean GPU rows                       */
    double vllm_bal;   /* vLLM balancedness                                  */
    double sglang_bal; /* SGLang balancedness                                */
    double trt_imb;    /* TensorRT-LLM imbalance (max - mean) / mean         */
    double idle_gpus;  /* GPUs with no rows                                  */
    double gap_rep;    /* max / LB_rep - 1 (LB_rep from this step's loads)   */
    double tokens_maxmean; /* max / mean distinct tokens received per GPU     */
    double active_max; /* most active expert slots on one GPU                */
    double nvl_bytes;  /* dispatch bytes over NVLink (combine moves as many) */
    double net_bytes;  /* dispatch bytes over the network                    */
    double expert_us;  /* predicted expert time (sum over layers of the max GPU) */
    double comm_us;    /* predicted dispatch + combine time                  */
    double time_us;    /* predicted step time                                */
} mp_sim_stepm;

/* Per layer, over the steps: means unless named otherwise. */
typedef struct mp_sim_layerm {
    double maxmean, maxmean_max, sglang_bal, trt_imb, idle_gpus, gap_rep;
    double nvl_bytes, net_bytes; /* totals over steps */
    double time_us;              /* mean predicted time of this layer per step */
    double run_maxmean;          /* max/mean of the rows summed over the run  */
} mp_sim_layerm;

typedef struct mp_sim_result {
    int64_t steps, tokens, assignments; /* assignments include fused shared ones */
    int32_t layers, gpus, nodes;
    char policy[32];
    /* distributions over steps */
    mp_summary maxmean, vllm_bal, sglang_bal, trt_imb, idle_gpus, gap_rep, tokens_maxmean, time_us, nvl_bytes,
        net_bytes;
    double vllm_bal_run;   /* over every layer and step: sum of means / sum of maxes */
    double run_maxmean;    /* mean over layers of max/mean of the rows summed over the run:
                              the simulated counterpart of a plan's predicted max/mean */
    double total_time_us, total_nvl_bytes, total_net_bytes, dist_tokens; /* sums over the run */
    mp_sim_layerm *layer;  /* [layers]                                          */
    mp_sim_stepm *series;  /* [steps] when keep_series, else NULL                */
    int64_t *gpu_rows;     /* [gpus] rows over the run                           */
    int64_t *node_tokens;  /* [nodes] distinct tokens received over the run      */
    int64_t *traffic;      /* [gpus][gpus] tokens sent from row GPU to column GPU, over layers and steps */
} mp_sim_result;

void mp_sim_result_destroy(mp_sim_result *r);

/* Summary (mean, nearest-rank percentiles, max) of n values; zeros when n = 0. */
mp_summary mp_summarize(const double *v, int64_t n);

/* Predicted balance of a plan on loads (steps summed; a fused shared
 * expert gets the planner's share) under an even split of each expert over its
 * replicas, with the planner's metric definitions (mp_plan_metrics_compute):
 * sum over layers of the max GPU load / sum of the mean (1 / vLLM
 * balancedness); the per-layer max/mean into per_layer[L] when not NULL.
 * NAN when out of memory or when the loads do not have the plan's layers. */
double mp_plan_even_maxmean(const mp_plan *plan, const mp_loads *loads, double *per_layer);

/* ---- the simulator ---- */

typedef struct mp_sim_opts {
    const mp_policy *policy; /* NULL: mp_policy_default()                      */
    uint64_t seed;
    int threads;             /* 0 or 1: one                                    */
    int keep_series;         /* keep per-step figures in the result            */
    mp_cost cost;            /* hidden/intermediate/act_bytes in force         */
} mp_sim_opts;

mp_sim_opts mp_sim_opts_default(void);

typedef struct mp_sim mp_sim;

/* Prepares a simulator for traces of `model` (L, E, K, shared, hidden) on
 * `plan` (same L; plan->routed == E).  Returns 0, MP_ESHAPE, MP_EINVAL,
 * MP_ELIMIT or MP_ENOMEM. */
int mp_sim_create(mp_sim **out, const mp_plan *plan, const mp_model *model, const mp_sim_opts *o, mp_err *err);

/* Replaces the plan between steps (same shape); used by rebalancing. */
int mp_sim_set_plan(mp_sim *s, const mp_plan *plan, mp_err *err);

/* Plays one piece.  Pieces come in trace order; a step's figures are
 * recorded at its end_of_step piece.  Returns 0 or MP_ESHAPE / MP_EFORMAT. */
int mp_sim_feed(mp_sim *s, const mp_step *piece, mp_err *err);

/* Collects the result (the simulator stays usable). */
int mp_sim_finish(mp_sim *s, mp_sim_result **out, mp_err *err);

void mp_sim_destroy(mp_sim *s);

#endif
