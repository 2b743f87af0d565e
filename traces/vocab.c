/* vocab.c - the output vocabulary (mp_vocab.h): one row per exported name,
 * sorted by name (byte order), so a lookup is a binary search. */
#include "traces/mp_vocab.h"

#include <stdio.h>
#include <string.h>

/* name, unit, better, decimals, family, spelling before schema_version 2, what it is */
static const mp_vocab vocab[] = {
    {"TFLOPs", "TFLOP/s", MP_DIR_HIGHER, 1, MP_VOCAB_EXACT, NULL,
     "achieved expert GEMM throughput"},
    {"active", "count", MP_DIR_NONE, -1, MP_VOCAB_EXACT, NULL,
     "active experts per rank in a calibration point"},
    {"active_max", "count", MP_DIR_NONE, -1, MP_VOCAB_EXACT, NULL,
     "most active expert slots on one GPU"},
    {"algbw_GBps", "GB/s", MP_DIR_HIGHER, 2, MP_VOCAB_EXACT, NULL,
     "algorithm bandwidth: bytes / time (nccl-tests)"},
    {"applied", "count", MP_DIR_NONE, -1, MP_VOCAB_EXACT, NULL,
     "rebalances applied (as a column: yes/no)"},
    {"assignments", "count", MP_DIR_NONE, -1, MP_VOCAB_EXACT, NULL,
     "token-to-expert choices in the trace"},
    {"attention", "text", MP_DIR_NONE, -1, MP_VOCAB_EXACT, NULL,
     "attention of the model: mla or gqa (heads, kv heads x head dim)"},
    {"attention_us", "us", MP_DIR_LOWER, 1, MP_VOCAB_EXACT, NULL,
     "predicted attention time of a step, all decoder layers (one GPU)"},
    {"bandwidth", "table", MP_DIR_NONE, -1, MP_VOCAB_EXACT, NULL,
     "table: one row per collective operation"},
    {"baseline", "text", MP_DIR_NONE, -1, MP_VOCAB_EXACT, NULL,
     "the baseline file, run or figure compared against"},
    {"batch_tokens", "count", MP_DIR_NONE, -1, MP_VOCAB_EXACT, NULL,
     "tokens per step replayed"},
    {"best", "text", MP_DIR_NONE, -1, MP_VOCAB_EXACT, NULL,
     "the entry with the lowest predicted step time"},
    {"better", "text", MP_DIR_NONE, -1, MP_VOCAB_EXACT, NULL,
     "which direction of a figure is better: lower, higher or none"},
    {"bound_us", "us", MP_DIR_LOWER, 1, MP_VOCAB_EXACT, NULL,
     "step time if the layer were perfectly balanced"},
    {"busbw_GBps", "GB/s", MP_DIR_HIGHER, 2, MP_VOCAB_EXACT, NULL,
     "bus bandwidth: algbw * (n-1)/n (nccl-tests)"},
    {"bytes", "bytes", MP_DIR_NONE, 0, MP_VOCAB_EXACT, NULL,
     "bytes moved or sent"},
    {"capacity", "count", MP_DIR_NONE, -1, MP_VOCAB_EXACT, NULL,
     "rows per rank pair of a padded exchange"},
    {"change_pct", "%", MP_DIR_NONE, 2, MP_VOCAB_EXACT, NULL,
     "change against the baseline, percent"},
    {"choices_per_token", "count", MP_DIR_NONE, -1, MP_VOCAB_EXACT, NULL,
     "expert choices per token (top-k, plus the shared expert)"},
    {"combine_GBps", "GB/s", MP_DIR_HIGHER, 1, MP_VOCAB_EXACT, NULL,
     "measured combine bandwidth"},
    {"combine_us", "us", MP_DIR_LOWER, 1, MP_VOCAB_EXACT, NULL,
     "combine (weighted sum back to tokens) time"},
    {"comm_us", "us", MP_DIR_LOWER, 2, MP_VOCAB_EXACT, NULL,
     "predicted dispatch and combine time of a step"},
    {"compression_ratio", "ratio", MP_DIR_HIGHER, 2, MP_VOCAB_EXACT, NULL,
     "raw bytes over file bytes"},
    {"context", "count", MP_DIR_NONE, -1, MP_VOCAB_EXACT, NULL,
     "tokens of context of the end-to-end step (KV read per decode token; prefill sequence)"},
    {"copy_GBps", "GB/s", MP_DIR_HIGHER, 1, MP_VOCAB_EXACT, NULL,
     "measured device copy bandwidth"},
    {"cost_model", "text", MP_DIR_NONE, -1, MP_VOCAB_EXACT, NULL,
     "the cost model used or written"},
    {"cum_GB", "GB", MP_DIR_NONE, 3, MP_VOCAB_EXACT, NULL,
     "expert weights moved along the migration path so far, GB"},
    {"cum_moves", "count", MP_DIR_NONE, -1, MP_VOCAB_EXACT, NULL,
     "expert copies moved along the migration path so far"},
    {"cum_share", "fraction", MP_DIR_NONE, 6, MP_VOCAB_EXACT, NULL,
     "cumulative share of the load, hottest first"},
    {"cv", "ratio", MP_DIR_LOWER, 3, MP_VOCAB_EXACT, NULL,
     "coefficient of variation of the expert loads"},
    {"dead", "count", MP_DIR_NONE, -1, MP_VOCAB_EXACT, NULL,
     "experts with no load"},
    {"decimals", "count", MP_DIR_NONE, -1, MP_VOCAB_EXACT, NULL,
     "decimals shown in tables (-1: an integer or text)"},
    {"decoder_layers", "count", MP_DIR_NONE, -1, MP_VOCAB_EXACT, NULL,
     "decoder layers of the model, dense ones included (num_hidden_layers)"},
    {"dense_us", "us", MP_DIR_LOWER, 1, MP_VOCAB_EXACT, NULL,
     "predicted time of the dense decoder layers' MLPs in a step"},
    {"deploy", "text", MP_DIR_NONE, -1, MP_VOCAB_EXACT, NULL,
     "the strategy to deploy (the best, or linear when no change pays)"},
    {"description", "text", MP_DIR_NONE, -1, MP_VOCAB_EXACT, NULL,
     "what a name is"},
    {"device", "text", MP_DIR_NONE, -1, MP_VOCAB_EXACT, NULL,
     "the GPU the replay ran on"},
    {"diff", "table", MP_DIR_NONE, -1, MP_VOCAB_EXACT, NULL,
     "table: one row per entry and metric against the baseline"},
    {"dispatch_us", "us", MP_DIR_LOWER, 1, MP_VOCAB_EXACT, NULL,
     "predicted dispatch time"},
    {"dominated_by_balanced", "text", MP_DIR_NONE, -1, MP_VOCAB_EXACT, NULL,
     "yes when a balanced point is better on balance and traffic"},
    {"dst", "count", MP_DIR_NONE, -1, MP_VOCAB_EXACT, NULL,
     "destination GPU"},
    {"dtype", "text", MP_DIR_NONE, -1, MP_VOCAB_EXACT, NULL,
     "expert weight data type"},
    {"duplicates", "count", MP_DIR_NONE, -1, MP_VOCAB_EXACT, NULL,
     "extra replicas of experts (slots minus distinct experts)"},
    {"e2e", "table", MP_DIR_NONE, -1, MP_VOCAB_EXACT, NULL,
     "table: the whole decoder step of each run (--e2e)"},
    {"e2e_speedup", "ratio", MP_DIR_HIGHER, 4, MP_VOCAB_EXACT, NULL,
     "linear's whole decoder step over this whole step"},
    {"e2e_step_us_mean", "us", MP_DIR_LOWER, 1, MP_VOCAB_EXACT, NULL,
     "predicted whole decoder step (TPOT in decode), mean over steps"},
    {"emulated_step_us", "us", MP_DIR_LOWER, 1, MP_VOCAB_EXACT, NULL,
     "step time of the emulated exchange"},
    {"engine", "text", MP_DIR_NONE, -1, MP_VOCAB_EXACT, NULL,
     "the serving engine whose rules the run follows"},
    {"entropy", "ratio", MP_DIR_HIGHER, 3, MP_VOCAB_EXACT, NULL,
     "normalized entropy of the expert loads (1: uniform)"},
    {"entry", "text", MP_DIR_NONE, -1, MP_VOCAB_EXACT, NULL,
     "a compared placement: strategy or plan name"},
    {"ep32", "ratio", MP_DIR_LOWER, 3, MP_VOCAB_DIST, NULL,
     "max/mean GPU load of a contiguous split over 32 GPUs"},
    {"ep8", "ratio", MP_DIR_LOWER, 3, MP_VOCAB_DIST, NULL,
     "max/mean GPU load of a contiguous split over 8 GPUs"},
    {"eplb_dominated", "text", MP_DIR_NONE, -1, MP_VOCAB_EXACT, NULL,
     "yes when every EPLB point is dominated by a balanced point"},
    {"eval", "text", MP_DIR_NONE, -1, MP_VOCAB_EXACT, NULL,
     "the other trace or load file a plan is judged on (plan --eval)"},
    {"eval_max_over_mean", "ratio", MP_DIR_LOWER, 5, MP_VOCAB_EXACT, NULL,
     "max/mean of the plan on the --eval input (mean over layers)"},
    {"eval_oracle_max_over_mean", "ratio", MP_DIR_LOWER, 5, MP_VOCAB_EXACT, NULL,
     "max/mean of a plan made on the --eval input itself: the bound"},
    {"eval_vllm_balancedness", "ratio", MP_DIR_HIGHER, 5, MP_VOCAB_EXACT, NULL,
     "vLLM balancedness of the plan on the --eval input"},
    {"eval_worst_max_over_mean", "ratio", MP_DIR_LOWER, 5, MP_VOCAB_EXACT, NULL,
     "worst layer's max/mean of the plan on the --eval input"},
    {"exchange", "text", MP_DIR_NONE, -1, MP_VOCAB_EXACT, NULL,
     "the collective used for the all-to-all"},
    {"expert", "count", MP_DIR_NONE, -1, MP_VOCAB_EXACT, NULL,
     "expert id"},
    {"expert_us", "us", MP_DIR_LOWER, 2, MP_VOCAB_EXACT, NULL,
     "predicted expert compute time of a step (slowest GPU)"},
    {"experts", "count", MP_DIR_NONE, -1, MP_VOCAB_EXACT, NULL,
     "routed experts per layer (as a table: one row per calibration point)"},
    {"experts_moved", "count", MP_DIR_LOWER, -1, MP_VOCAB_EXACT, NULL,
     "experts whose GPU changed in a rebalance"},
    {"file", "text", MP_DIR_NONE, -1, MP_VOCAB_EXACT, NULL,
     "the input file"},
    {"file_bytes", "bytes", MP_DIR_NONE, -1, MP_VOCAB_EXACT, NULL,
     "size of the file"},
    {"first_step", "count", MP_DIR_NONE, -1, MP_VOCAB_EXACT, NULL,
     "first step of a window"},
    {"format", "text", MP_DIR_NONE, -1, MP_VOCAB_EXACT, NULL,
     "the input file format"},
    {"from", "count", MP_DIR_NONE, -1, MP_VOCAB_EXACT, NULL,
     "sending rank"},
    {"from_max_over_mean", "ratio", MP_DIR_LOWER, 5, MP_VOCAB_EXACT, NULL,
     "max/mean of the old plan (--from) on the loads moves are judged on"},
    {"gain", "ratio", MP_DIR_HIGHER, 4, MP_VOCAB_EXACT, NULL,
     "predicted max/mean improvement of a rebalance"},
    {"gap_lb0", "ratio", MP_DIR_LOWER, 5, MP_VOCAB_EXACT, NULL,
     "max GPU load over the no-replica lower bound, minus 1"},
    {"gap_lb_rep", "ratio", MP_DIR_LOWER, 5, MP_VOCAB_EXACT, NULL,
     "max GPU load over the lower bound with replicas, minus 1"},
    {"gate_weights", "text", MP_DIR_NONE, -1, MP_VOCAB_EXACT, NULL,
     "yes when the trace holds gate weights"},
    {"gemm_us", "us", MP_DIR_LOWER, 1, MP_VOCAB_EXACT, NULL,
     "expert GEMM time"},
    {"gini", "ratio", MP_DIR_LOWER, 3, MP_VOCAB_EXACT, NULL,
     "Gini coefficient of the expert loads"},
    {"gpu", "count", MP_DIR_NONE, -1, MP_VOCAB_EXACT, NULL,
     "GPU index"},
    {"gpu_load", "count", MP_DIR_NONE, 1, MP_VOCAB_EXACT, NULL,
     "per layer and GPU: the load under the even split"},
    {"gpus", "count", MP_DIR_NONE, -1, MP_VOCAB_EXACT, NULL,
     "GPUs (P); as a table: one row per GPU"},
    {"group", "count", MP_DIR_NONE, -1, MP_VOCAB_EXACT, NULL,
     "expert group index"},
    {"group_loads", "table", MP_DIR_NONE, -1, MP_VOCAB_EXACT, NULL,
     "table: load per expert group"},
    {"group_max_over_mean", "ratio", MP_DIR_LOWER, 3, MP_VOCAB_EXACT, "group_max_mean",
     "max/mean load of the expert groups"},
    {"groups", "count", MP_DIR_NONE, -1, MP_VOCAB_EXACT, NULL,
     "expert groups of the model"},
    {"hidden", "count", MP_DIR_NONE, -1, MP_VOCAB_EXACT, NULL,
     "model hidden size"},
    {"holdout", "fraction", MP_DIR_NONE, 3, MP_VOCAB_EXACT, NULL,
     "fraction of the steps held out: the plan is made from the others"},
    {"holdout_by", "text", MP_DIR_NONE, -1, MP_VOCAB_EXACT, NULL,
     "what is held out: the last steps (time) or the last source ranks' tokens (rank)"},
    {"holdout_gain", "ratio", MP_DIR_HIGHER, 4, MP_VOCAB_EXACT, NULL,
     "a rebalance's gain on held-out steps: a trial plan's old/new max/mean - 1"},
    {"holdout_max_over_mean", "ratio", MP_DIR_LOWER, 5, MP_VOCAB_EXACT, NULL,
     "max/mean on the held-out steps, which the plan did not see"},
    {"holdout_oracle_max_over_mean", "ratio", MP_DIR_LOWER, 5, MP_VOCAB_EXACT, NULL,
     "max/mean of a plan made on the held-out steps themselves: the bound"},
    {"holdout_plan", "text", MP_DIR_NONE, -1, MP_VOCAB_EXACT, NULL,
     "how the plan relates to the split: made from the training steps, or given and only judged"},
    {"holdout_ranks", "count", MP_DIR_NONE, -1, MP_VOCAB_EXACT, NULL,
     "source ranks held out (the last ones)"},
    {"holdout_sim_max_over_mean", "ratio", MP_DIR_LOWER, 4, MP_VOCAB_EXACT, NULL,
     "replay: mean over the held-out steps of max/mean GPU rows"},
    {"holdout_step_us", "us", MP_DIR_LOWER, 2, MP_VOCAB_EXACT, NULL,
     "replay: mean over the held-out steps of the predicted step time"},
    {"holdout_steps", "count", MP_DIR_NONE, -1, MP_VOCAB_EXACT, NULL,
     "steps held out (the last ones)"},
    {"holdout_vllm_balancedness", "ratio", MP_DIR_HIGHER, 5, MP_VOCAB_EXACT, NULL,
     "vLLM balancedness on the held-out steps"},
    {"holdout_worst_max_over_mean", "ratio", MP_DIR_LOWER, 5, MP_VOCAB_EXACT, NULL,
     "worst layer's max/mean on the held-out steps"},
    {"hot_share", "fraction", MP_DIR_NONE, 3, MP_VOCAB_EXACT, NULL,
     "share of the load on the hottest expert"},
    {"hottest", "count", MP_DIR_NONE, -1, MP_VOCAB_EXACT, NULL,
     "hottest expert (as a table: the hottest experts per layer)"},
    {"idle_gpus", "count", MP_DIR_LOWER, 2, MP_VOCAB_EXACT, NULL,
     "GPUs with no rows, mean"},
    {"improved", "count", MP_DIR_NONE, -1, MP_VOCAB_EXACT, NULL,
     "metrics better than the baseline by more than the tolerance"},
    {"input", "text", MP_DIR_NONE, -1, MP_VOCAB_EXACT, NULL,
     "the input trace"},
    {"insample_max_over_mean", "ratio", MP_DIR_LOWER, 5, MP_VOCAB_EXACT, NULL,
     "max/mean on the steps the plan was made from (in sample)"},
    {"insample_sim_max_over_mean", "ratio", MP_DIR_LOWER, 4, MP_VOCAB_EXACT, NULL,
     "replay: mean over the planning steps of max/mean GPU rows"},
    {"insample_step_us", "us", MP_DIR_LOWER, 2, MP_VOCAB_EXACT, NULL,
     "replay: mean over the training steps of the predicted step time"},
    {"intermediate", "count", MP_DIR_NONE, -1, MP_VOCAB_EXACT, NULL,
     "expert intermediate size"},
    {"interval", "count", MP_DIR_NONE, -1, MP_VOCAB_EXACT, NULL,
     "steps between rebalances"},
    {"kept_experts", "count", MP_DIR_NONE, -1, MP_VOCAB_EXACT, NULL,
     "experts left on their GPU by a migration"},
    {"kind", "text", MP_DIR_NONE, -1, MP_VOCAB_EXACT, NULL,
     "what the file holds: routing or loads"},
    {"knee", "text", MP_DIR_NONE, -1, MP_VOCAB_EXACT, NULL,
     "the migration path's knee: where moving more stops paying"},
    {"kv_bytes_per_token", "bytes", MP_DIR_NONE, 0, MP_VOCAB_EXACT, NULL,
     "KV-cache bytes of one token over all decoder layers at 2 bytes per element"},
    {"kv_tokens_lost", "count", MP_DIR_LOWER, 0, MP_VOCAB_EXACT, NULL,
     "KV-cache tokens per GPU the replicas' memory would hold"},
    {"last_step", "count", MP_DIR_NONE, -1, MP_VOCAB_EXACT, NULL,
     "last step of a window"},
    {"latency_us", "us", MP_DIR_LOWER, 1, MP_VOCAB_EXACT, NULL,
     "time of a small exchange (latency)"},
    {"layer", "count", MP_DIR_NONE, -1, MP_VOCAB_EXACT, NULL,
     "MoE layer index"},
    {"layer_us", "us", MP_DIR_LOWER, 2, MP_VOCAB_EXACT, NULL,
     "predicted time of a layer, mean over steps"},
    {"layers", "count", MP_DIR_NONE, -1, MP_VOCAB_EXACT, NULL,
     "MoE layers; as a table: one row per layer"},
    {"layers_moved", "count", MP_DIR_NONE, -1, MP_VOCAB_EXACT, NULL,
     "layers a rebalance switched to the new plan"},
    {"layout", "count", MP_DIR_NONE, -1, MP_VOCAB_EXACT, NULL,
     "layout kernel variant"},
    {"layout_us", "us", MP_DIR_LOWER, 1, MP_VOCAB_EXACT, NULL,
     "layout (routing to slots) time"},
    {"lb0", "count", MP_DIR_NONE, 1, MP_VOCAB_EXACT, NULL,
     "per layer: the lower bound of the max GPU load without replicas"},
    {"lb_rep", "count", MP_DIR_NONE, 1, MP_VOCAB_EXACT, NULL,
     "per layer: the lower bound of the max GPU load with the plan's replicas"},
    {"linear_step_us", "us", MP_DIR_LOWER, 1, MP_VOCAB_EXACT, NULL,
     "predicted step time of linear placement"},
    {"link_cost", "text", MP_DIR_NONE, -1, MP_VOCAB_EXACT, NULL,
     "link cost file used for the simulated time"},
    {"load", "count", MP_DIR_NONE, 4, MP_VOCAB_EXACT, NULL,
     "summed expert load (token choices or gate weight)"},
    {"locality", "ratio", MP_DIR_NONE, 2, MP_VOCAB_EXACT, NULL,
     "balanced planner's locality weight"},
    {"lp_step_us", "us", MP_DIR_LOWER, 1, MP_VOCAB_EXACT, NULL,
     "predicted step time with per-batch replica routing (sglang-lp)"},
    {"max", "count", MP_DIR_NONE, 1, MP_VOCAB_EXACT, NULL,
     "maximum load"},
    {"max_over_mean", "ratio", MP_DIR_LOWER, 4, MP_VOCAB_DIST, "max_mean",
     "max load over mean load of the rows in question (GPUs; experts in stats)"},
    {"max_over_mean_worst", "ratio", MP_DIR_LOWER, 4, MP_VOCAB_EXACT, "max_mean_worst",
     "max/mean of the worst step"},
    {"max_replicas", "count", MP_DIR_NONE, -1, MP_VOCAB_EXACT, NULL,
     "most replicas of one expert"},
    {"max_us", "us", MP_DIR_LOWER, 1, MP_VOCAB_EXACT, NULL,
     "time of the slowest rank"},
    {"mean", "count", MP_DIR_NONE, 1, MP_VOCAB_EXACT, NULL,
     "mean load"},
    {"mean_us", "us", MP_DIR_LOWER, 1, MP_VOCAB_EXACT, NULL,
     "mean time over ranks"},
    {"measured_vs_emulated", "ratio", MP_DIR_NONE, 3, MP_VOCAB_EXACT, NULL,
     "measured step time over the emulated one"},
    {"measured_vs_sim", "ratio", MP_DIR_NONE, 3, MP_VOCAB_EXACT, NULL,
     "measured step time over the simulated one"},
    {"metric", "text", MP_DIR_NONE, -1, MP_VOCAB_EXACT, NULL,
     "a baseline metric name"},
    {"metrics", "count", MP_DIR_NONE, -1, MP_VOCAB_EXACT, NULL,
     "metrics compared"},
    {"migration", "table", MP_DIR_NONE, -1, MP_VOCAB_EXACT, NULL,
     "table: the migration path, layer by layer in order of gain per copy moved"},
    {"min", "count", MP_DIR_NONE, 1, MP_VOCAB_EXACT, NULL,
     "minimum load"},
    {"model", "text", MP_DIR_NONE, -1, MP_VOCAB_EXACT, NULL,
     "model name"},
    {"moe_decoder_layers", "text", MP_DIR_NONE, -1, MP_VOCAB_EXACT, NULL,
     "the decoder layers that are MoE: A-B, or A-B/S for every S-th"},
    {"moe_layers", "count", MP_DIR_NONE, -1, MP_VOCAB_EXACT, NULL,
     "MoE layers of a preset"},
    {"moe_share", "fraction", MP_DIR_NONE, 3, MP_VOCAB_EXACT, NULL,
     "share of the whole step spent in the MoE layers"},
    {"moe_us", "us", MP_DIR_LOWER, 1, MP_VOCAB_EXACT, NULL,
     "predicted MoE layers' time of a step (expert, dispatch, combine)"},
    {"move_judged_on", "text", MP_DIR_NONE, -1, MP_VOCAB_EXACT, NULL,
     "the loads the gains of moves are judged on"},
    {"move_rule", "text", MP_DIR_NONE, -1, MP_VOCAB_EXACT, NULL,
     "how the moves were chosen: knee (default) or budget"},
    {"moved_bytes", "bytes", MP_DIR_LOWER, 0, MP_VOCAB_EXACT, NULL,
     "expert weight bytes moved"},
    {"moved_experts", "count", MP_DIR_LOWER, -1, MP_VOCAB_EXACT, NULL,
     "experts moved to another GPU"},
    {"moved_max_over_mean", "ratio", MP_DIR_LOWER, 5, MP_VOCAB_EXACT, NULL,
     "max/mean after the moves taken, on the judging loads"},
    {"moves", "count", MP_DIR_NONE, -1, MP_VOCAB_EXACT, NULL,
     "expert copies a layer's switch brings onto GPUs"},
    {"n", "count", MP_DIR_NONE, -1, MP_VOCAB_EXACT, NULL,
     "number of values summarized"},
    {"name", "text", MP_DIR_NONE, -1, MP_VOCAB_EXACT, NULL,
     "a vocabulary name"},
    {"net_MB_per_step", "MB/step", MP_DIR_LOWER, 2, MP_VOCAB_EXACT, NULL,
     "mean network dispatch MB per step"},
    {"network_bytes", "bytes", MP_DIR_LOWER, 0, MP_VOCAB_EXACT, NULL,
     "dispatch bytes over the network (between nodes)"},
    {"new", "count", MP_DIR_NONE, -1, MP_VOCAB_EXACT, NULL,
     "metrics the baseline lacks"},
    {"new_max_over_mean", "ratio", MP_DIR_LOWER, 4, MP_VOCAB_EXACT, "new_max_mean",
     "predicted max/mean with the new plan"},
    {"node", "count", MP_DIR_NONE, -1, MP_VOCAB_EXACT, NULL,
     "node index"},
    {"nodes", "count", MP_DIR_NONE, -1, MP_VOCAB_EXACT, NULL,
     "nodes (N); as a table: one row per node"},
    {"noise_fraction", "fraction", MP_DIR_NONE, 3, MP_VOCAB_EXACT, NULL,
     "gain below which no change pays (the model's uncertainty)"},
    {"normalize_topk", "text", MP_DIR_NONE, -1, MP_VOCAB_EXACT, NULL,
     "whether top-k gate weights are normalized"},
    {"now", "ratio", MP_DIR_NONE, 4, MP_VOCAB_EXACT, NULL,
     "the figure of this run"},
    {"nvlink_MB_per_step", "MB/step", MP_DIR_LOWER, 2, MP_VOCAB_EXACT, NULL,
     "mean NVLink dispatch MB per step"},
    {"nvlink_bytes", "bytes", MP_DIR_LOWER, 0, MP_VOCAB_EXACT, NULL,
     "dispatch bytes over NVLink (inside nodes)"},
    {"old_max_over_mean", "ratio", MP_DIR_LOWER, 4, MP_VOCAB_EXACT, "old_max_mean",
     "predicted max/mean with the old plan"},
    {"online", "text", MP_DIR_LOWER, 4, MP_VOCAB_EXACT, NULL,
     "online regime: max/mean with rebalancing"},
    {"online_async_step_us", "us", MP_DIR_LOWER, 1, MP_VOCAB_EXACT, NULL,
     "predicted step time of online rebalancing, weight moves hidden"},
    {"online_stall_step_us", "us", MP_DIR_LOWER, 1, MP_VOCAB_EXACT, NULL,
     "predicted step time of online rebalancing, weight moves stalling serving"},
    {"op", "text", MP_DIR_NONE, -1, MP_VOCAB_EXACT, NULL,
     "collective operation"},
    {"oracle", "text", MP_DIR_LOWER, 4, MP_VOCAB_EXACT, NULL,
     "oracle regime: max/mean with a plan from the future window"},
    {"other_us", "us", MP_DIR_LOWER, 1, MP_VOCAB_EXACT, NULL,
     "predicted step time beyond expert, dispatch and combine (norms, residuals, embedding, LM head)"},
    {"output", "text", MP_DIR_NONE, -1, MP_VOCAB_EXACT, NULL,
     "the file written"},
    {"over_time", "table", MP_DIR_NONE, -1, MP_VOCAB_EXACT, NULL,
     "table: mean max/mean per window of steps"},
    {"pairs", "table", MP_DIR_NONE, -1, MP_VOCAB_EXACT, NULL,
     "table: rows sent from rank to rank"},
    {"pareto", "text", MP_DIR_NONE, -1, MP_VOCAB_EXACT, NULL,
     "yes when no other point is better on balance and traffic"},
    {"pays", "text", MP_DIR_NONE, -1, MP_VOCAB_EXACT, NULL,
     "true when the gain is above the model's uncertainty"},
    {"pct_copy", "%", MP_DIR_HIGHER, 1, MP_VOCAB_EXACT, NULL,
     "permute bandwidth as a percent of copy bandwidth"},
    {"peak_TFLOPs", "TFLOP/s", MP_DIR_HIGHER, 1, MP_VOCAB_EXACT, NULL,
     "measured peak GEMM throughput"},
    {"per_layer", "table", MP_DIR_NONE, -1, MP_VOCAB_EXACT, NULL,
     "table: one row per layer"},
    {"per_step", "table", MP_DIR_NONE, -1, MP_VOCAB_EXACT, NULL,
     "table: distributions over steps, per layer"},
    {"permute_GBps", "GB/s", MP_DIR_HIGHER, 1, MP_VOCAB_EXACT, NULL,
     "permute bandwidth"},
    {"permute_us", "us", MP_DIR_LOWER, 1, MP_VOCAB_EXACT, NULL,
     "permute (tokens to slots) time"},
    {"phase", "text", MP_DIR_NONE, -1, MP_VOCAB_EXACT, NULL,
     "phase of a replayed step"},
    {"phases", "table", MP_DIR_NONE, -1, MP_VOCAB_EXACT, NULL,
     "table: time per phase"},
    {"plan", "text", MP_DIR_NONE, -1, MP_VOCAB_EXACT, NULL,
     "plan file or label"},
    {"plan_file", "text", MP_DIR_NONE, -1, MP_VOCAB_EXACT, NULL,
     "the plan file to deploy, relative to the report folder"},
    {"plan_max_over_mean", "ratio", MP_DIR_LOWER, 4, MP_VOCAB_EXACT, "plan_max_mean",
     "plan: mean over layers of max/mean GPU load on the summed loads"},
    {"plan_worst_max_over_mean", "ratio", MP_DIR_LOWER, 4, MP_VOCAB_EXACT, "plan_worst_max_mean",
     "plan: the worst layer's max/mean GPU load"},
    {"points", "table", MP_DIR_NONE, -1, MP_VOCAB_EXACT, NULL,
     "table: one row per swept plan"},
    {"policy", "text", MP_DIR_NONE, -1, MP_VOCAB_EXACT, NULL,
     "replica selection policy"},
    {"pre_shift_max_over_mean", "ratio", MP_DIR_LOWER, 4, MP_VOCAB_EXACT, "pre_shift_max_mean",
     "max/mean before the load shift"},
    {"preset", "text", MP_DIR_NONE, -1, MP_VOCAB_EXACT, NULL,
     "model preset name"},
    {"presets", "table", MP_DIR_NONE, -1, MP_VOCAB_EXACT, NULL,
     "table: one row per model preset"},
    {"provenance", "text", MP_DIR_NONE, -1, MP_VOCAB_EXACT, NULL,
     "where the trace came from"},
    {"rank", "count", MP_DIR_NONE, -1, MP_VOCAB_EXACT, NULL,
     "rank in a sort, hottest first"},
    {"ranking", "table", MP_DIR_NONE, -1, MP_VOCAB_EXACT, NULL,
     "table: experts, hottest first"},
    {"ranks", "count", MP_DIR_NONE, -1, MP_VOCAB_EXACT, NULL,
     "ranks (GPUs) replayed"},
    {"raw_bytes", "bytes", MP_DIR_NONE, -1, MP_VOCAB_EXACT, NULL,
     "bytes of the uncompressed data"},
    {"rebalances", "count", MP_DIR_NONE, -1, MP_VOCAB_EXACT, NULL,
     "rebalances considered; as a table: one row per rebalance"},
    {"recommendation", "table", MP_DIR_NONE, -1, MP_VOCAB_EXACT, NULL,
     "what to deploy and why"},
    {"recovery_steps", "count", MP_DIR_LOWER, -1, MP_VOCAB_EXACT, NULL,
     "steps after the shift until max/mean recovers"},
    {"redundant", "count", MP_DIR_NONE, -1, MP_VOCAB_EXACT, NULL,
     "redundant slots over all GPUs"},
    {"regime", "text", MP_DIR_NONE, -1, MP_VOCAB_EXACT, NULL,
     "static, online or oracle"},
    {"regimes", "table", MP_DIR_NONE, -1, MP_VOCAB_EXACT, NULL,
     "table: one row per regime"},
    {"regressed", "count", MP_DIR_LOWER, -1, MP_VOCAB_EXACT, NULL,
     "metrics worse than the baseline by more than the tolerance"},
    {"replan_bytes", "bytes", MP_DIR_NONE, 0, MP_VOCAB_EXACT, NULL,
     "expert weight bytes the whole new plan would move"},
    {"replan_max_over_mean", "ratio", MP_DIR_LOWER, 5, MP_VOCAB_EXACT, NULL,
     "max/mean of the whole new plan on the judging loads"},
    {"replan_moves", "count", MP_DIR_NONE, -1, MP_VOCAB_EXACT, NULL,
     "expert copies the whole new plan would move"},
    {"replica", "text", MP_DIR_NONE, -1, MP_VOCAB_EXACT, "selection",
     "replica selection policy"},
    {"replica_bytes", "bytes", MP_DIR_LOWER, 0, MP_VOCAB_EXACT, NULL,
     "GPU memory of one redundant expert per GPU in every MoE layer"},
    {"result", "text", MP_DIR_NONE, -1, MP_VOCAB_EXACT, NULL,
     "pass or fail"},
    {"results", "table", MP_DIR_NONE, -1, MP_VOCAB_EXACT, NULL,
     "table: one row per replayed layer"},
    {"routed_scaling", "ratio", MP_DIR_NONE, 3, MP_VOCAB_EXACT, NULL,
     "routed expert scaling factor"},
    {"rows", "count", MP_DIR_NONE, -1, MP_VOCAB_EXACT, NULL,
     "rows (token copies) received"},
    {"rows_max", "count", MP_DIR_LOWER, -1, MP_VOCAB_EXACT, NULL,
     "most rows received by one rank"},
    {"rows_mean", "count", MP_DIR_NONE, 1, MP_VOCAB_EXACT, NULL,
     "mean rows received per rank"},
    {"rows_over_mean", "ratio", MP_DIR_LOWER, 4, MP_VOCAB_EXACT, NULL,
     "a GPU's rows over the mean over GPUs"},
    {"rows_per_expert", "count", MP_DIR_NONE, -1, MP_VOCAB_EXACT, NULL,
     "rows per expert in a calibration point"},
    {"run_max_over_mean", "ratio", MP_DIR_LOWER, 4, MP_VOCAB_EXACT, "run_max_mean",
     "over the run: sum of max GPU rows over sum of mean GPU rows"},
    {"runs", "table", MP_DIR_NONE, -1, MP_VOCAB_EXACT, NULL,
     "table: one row per plan and replica policy"},
    {"schema", "text", MP_DIR_NONE, -1, MP_VOCAB_EXACT, NULL,
     "the document kind"},
    {"schema_version", "count", MP_DIR_NONE, -1, MP_VOCAB_EXACT, NULL,
     "version of the document's names and layout"},
    {"scoring", "text", MP_DIR_NONE, -1, MP_VOCAB_EXACT, NULL,
     "gate scoring function"},
    {"sglang_balancedness", "ratio", MP_DIR_HIGHER, 4, MP_VOCAB_EXACT, "sglang_bal",
     "SGLang balancedness: mean over layers of mean/max GPU load"},
    {"share", "fraction", MP_DIR_NONE, 6, MP_VOCAB_EXACT, NULL,
     "share of the load"},
    {"shared_expert", "text", MP_DIR_NONE, -1, MP_VOCAB_EXACT, NULL,
     "where the shared expert runs"},
    {"shared_experts", "count", MP_DIR_NONE, -1, MP_VOCAB_EXACT, "shared",
     "shared experts of the model"},
    {"shift_at", "count", MP_DIR_NONE, -1, MP_VOCAB_EXACT, NULL,
     "step of the load shift"},
    {"sim_layer_us", "us", MP_DIR_LOWER, 1, MP_VOCAB_EXACT, NULL,
     "the simulator's predicted layer time"},
    {"sim_max_over_mean", "ratio", MP_DIR_LOWER, 4, MP_VOCAB_EXACT, "sim_max_mean",
     "replay: mean over steps of max/mean GPU rows"},
    {"sim_max_over_mean_p99", "ratio", MP_DIR_LOWER, 4, MP_VOCAB_EXACT, "sim_max_mean_p99",
     "replay: p99 over steps of max/mean GPU rows"},
    {"slots", "count", MP_DIR_NONE, -1, MP_VOCAB_EXACT, NULL,
     "expert slots over all GPUs"},
    {"slots_per_gpu", "count", MP_DIR_NONE, -1, MP_VOCAB_EXACT, NULL,
     "expert slots per GPU"},
    {"source_ranks", "text", MP_DIR_NONE, -1, MP_VOCAB_EXACT, NULL,
     "yes when the trace holds source ranks"},
    {"speedup", "ratio", MP_DIR_HIGHER, 4, MP_VOCAB_EXACT, NULL,
     "linear's step time over this step time"},
    {"src", "count", MP_DIR_NONE, -1, MP_VOCAB_EXACT, NULL,
     "source GPU"},
    {"stat", "text", MP_DIR_NONE, -1, MP_VOCAB_EXACT, NULL,
     "which summary: mean, min or max"},
    {"static", "text", MP_DIR_LOWER, 4, MP_VOCAB_EXACT, NULL,
     "static regime: max/mean with the first plan kept"},
    {"static_step_us", "us", MP_DIR_LOWER, 1, MP_VOCAB_EXACT, NULL,
     "predicted step time of the static plan with 0, 1, ... redundant experts per GPU"},
    {"status", "text", MP_DIR_NONE, -1, MP_VOCAB_EXACT, NULL,
     "ok, improved, regressed, new; or a plan's check"},
    {"step", "count", MP_DIR_NONE, -1, MP_VOCAB_EXACT, NULL,
     "step index (as text: how a step is timed)"},
    {"step_ep32", "ratio", MP_DIR_LOWER, 6, MP_VOCAB_DIST, NULL,
     "ep32 of one step, distribution over steps"},
    {"step_ep8", "ratio", MP_DIR_LOWER, 6, MP_VOCAB_DIST, NULL,
     "ep8 of one step, distribution over steps"},
    {"step_max_over_mean", "ratio", MP_DIR_LOWER, 4, MP_VOCAB_DIST, "step_max_mean",
     "max/mean of one step, distribution over steps"},
    {"step_max_us", "us", MP_DIR_LOWER, 1, MP_VOCAB_EXACT, NULL,
     "slowest rank's step time"},
    {"step_mean_us", "us", MP_DIR_LOWER, 1, MP_VOCAB_EXACT, NULL,
     "mean over ranks of the step time"},
    {"step_time_us", "us", MP_DIR_LOWER, 1, MP_VOCAB_EXACT, NULL,
     "mean predicted step time"},
    {"step_us", "us", MP_DIR_LOWER, 2, MP_VOCAB_DIST, NULL,
     "predicted step time"},
    {"steps", "count", MP_DIR_NONE, -1, MP_VOCAB_EXACT, NULL,
     "steps; as a table: one row per step"},
    {"strategies", "table", MP_DIR_NONE, -1, MP_VOCAB_EXACT, NULL,
     "table: one row per strategy"},
    {"strategy", "text", MP_DIR_NONE, -1, MP_VOCAB_EXACT, NULL,
     "placement strategy"},
    {"summary", "table", MP_DIR_NONE, -1, MP_VOCAB_EXACT, NULL,
     "table: mean, min and max over layers"},
    {"taken", "text", MP_DIR_NONE, -1, MP_VOCAB_EXACT, NULL,
     "yes when the step was moved"},
    {"threshold", "ratio", MP_DIR_NONE, 4, MP_VOCAB_EXACT, NULL,
     "smallest gain that applies a rebalance"},
    {"time_us", "us", MP_DIR_LOWER, 1, MP_VOCAB_EXACT, NULL,
     "predicted or measured time"},
    {"to_", "count", MP_DIR_NONE, -1, MP_VOCAB_INDEXED, NULL,
     "rows sent to rank N"},
    {"tokens", "count", MP_DIR_NONE, -1, MP_VOCAB_EXACT, NULL,
     "tokens"},
    {"tokens_max_over_mean", "ratio", MP_DIR_LOWER, 4, MP_VOCAB_EXACT, "tokens_max_mean",
     "max/mean distinct tokens received per GPU"},
    {"tokens_per_gpu", "count", MP_DIR_NONE, 1, MP_VOCAB_EXACT, NULL,
     "tokens of a step on one GPU (attention is data parallel)"},
    {"tokens_per_rank", "count", MP_DIR_NONE, -1, MP_VOCAB_EXACT, NULL,
     "tokens per rank"},
    {"tokens_per_s", "tokens/s", MP_DIR_HIGHER, 0, MP_VOCAB_EXACT, NULL,
     "predicted tokens per second of the whole deployment"},
    {"tolerance", "ratio", MP_DIR_NONE, 4, MP_VOCAB_EXACT, NULL,
     "relative change allowed before a regression"},
    {"top10_share", "fraction", MP_DIR_NONE, 3, MP_VOCAB_EXACT, NULL,
     "share of the load on the top 10% of experts"},
    {"top_k", "count", MP_DIR_NONE, -1, MP_VOCAB_EXACT, NULL,
     "experts chosen per token"},
    {"topk_group", "count", MP_DIR_NONE, -1, MP_VOCAB_EXACT, NULL,
     "groups a token may choose from"},
    {"total_load", "count", MP_DIR_NONE, 3, MP_VOCAB_EXACT, NULL,
     "load summed over everything"},
    {"total_ms", "ms", MP_DIR_LOWER, 3, MP_VOCAB_EXACT, NULL,
     "predicted total time"},
    {"trace", "text", MP_DIR_NONE, -1, MP_VOCAB_EXACT, NULL,
     "the trace file"},
    {"traffic", "table", MP_DIR_NONE, -1, MP_VOCAB_EXACT, NULL,
     "table: tokens sent from GPU to GPU"},
    {"train_ranks", "count", MP_DIR_NONE, -1, MP_VOCAB_EXACT, NULL,
     "source ranks the plan was made from (below the held-out ones)"},
    {"train_steps", "count", MP_DIR_NONE, -1, MP_VOCAB_EXACT, NULL,
     "steps the plan was made from (before the held-out ones)"},
    {"transfer_ms", "ms", MP_DIR_LOWER, 3, MP_VOCAB_EXACT, NULL,
     "predicted time to move expert weights"},
    {"trtllm_imbalance", "ratio", MP_DIR_LOWER, 4, MP_VOCAB_EXACT, "trtllm_imb",
     "TensorRT-LLM imbalance: max/mean GPU load minus 1"},
    {"unit", "text", MP_DIR_NONE, -1, MP_VOCAB_EXACT, NULL,
     "a vocabulary name's unit"},
    {"us", "us", MP_DIR_LOWER, 1, MP_VOCAB_EXACT, NULL,
     "expert time of one rank"},
    {"us_per_expert", "us", MP_DIR_LOWER, 1, MP_VOCAB_EXACT, NULL,
     "expert time per active expert"},
    {"valid", "text", MP_DIR_NONE, -1, MP_VOCAB_EXACT, NULL,
     "yes when the plan file is valid"},
    {"verdict", "text", MP_DIR_NONE, -1, MP_VOCAB_EXACT, NULL,
     "whether a change pays, and why, in one line"},
    {"vllm_balancedness", "ratio", MP_DIR_HIGHER, 4, MP_VOCAB_EXACT, "vllm_bal",
     "vLLM balancedness: sum of mean GPU loads over sum of max GPU loads"},
    {"vocabulary", "table", MP_DIR_NONE, -1, MP_VOCAB_EXACT, NULL,
     "table: every name moeplace outputs"},
    {"vs_even", "ratio", MP_DIR_NONE, 3, MP_VOCAB_EXACT, NULL,
     "step time over the even-split estimate"},
    {"vs_linear", "ratio", MP_DIR_NONE, 3, MP_VOCAB_EXACT, NULL,
     "step time over linear's"},
    {"was", "text", MP_DIR_NONE, -1, MP_VOCAB_EXACT, NULL,
     "a name's spelling before schema_version 2"},
    {"weight_bits", "count", MP_DIR_NONE, -1, MP_VOCAB_EXACT, NULL,
     "bits of an expert weight: 16 bf16, 8 fp8, 4 mxfp4 (0 unknown)"},
    {"will_it_pay", "table", MP_DIR_NONE, -1, MP_VOCAB_EXACT, NULL,
     "predicted gain of replicas, per-batch routing and online rebalancing, prefill and decode"},
    {"window", "count", MP_DIR_NONE, -1, MP_VOCAB_EXACT, NULL,
     "steps a rebalance plans from"},
    {"worst_layer", "count", MP_DIR_NONE, -1, MP_VOCAB_EXACT, NULL,
     "layer with the worst max/mean"},
    {"worst_max_over_mean", "ratio", MP_DIR_LOWER, 5, MP_VOCAB_EXACT, NULL,
     "the worst layer's max/mean GPU load"},
    {"wrong", "count", MP_DIR_LOWER, -1, MP_VOCAB_EXACT, NULL,
     "rows placed wrongly in a replay check (0 is right)"},
};

#define NVOCAB ((int)(sizeof vocab / sizeof vocab[0]))

const mp_vocab *mp_vocab_table(int *n)
{
    if (n) *n = NVOCAB;
    return vocab;
}

/* the entry spelled exactly name[0..len) */
static const mp_vocab *find_exact(const char *name, size_t len)
{
    int lo = 0, hi = NVOCAB - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        const char *v = vocab[mid].name;
        int c = strncmp(v, name, len);
        if (c == 0) c = v[len] != '\0'; /* v is longer: it sorts after */
        if (c == 0) return &vocab[mid];
        if (c < 0) lo = mid + 1;
        else hi = mid - 1;
    }
    return NULL;
}

const mp_vocab *mp_vocab_find(const char *name)
{
    if (!name) return NULL;
    size_t n = strlen(name);
    const mp_vocab *v = find_exact(name, n);
    if (v) return v;
    /* NAME_mean .. NAME_max of a distribution */
    static const char *const suffix[] = {"_mean", "_p50", "_p90", "_p99", "_max"};
    for (size_t i = 0; i < sizeof suffix / sizeof suffix[0]; i++) {
        size_t k = strlen(suffix[i]);
        if (n > k && strcmp(name + n - k, suffix[i]) == 0) {
            v = find_exact(name, n - k);
            if (v && v->family == MP_VOCAB_DIST) return v;
        }
    }
    /* NAME followed by a decimal index */
    size_t d = n;
    while (d > 0 && name[d - 1] >= '0' && name[d - 1] <= '9') d--;
    if (d < n && d > 0) {
        v = find_exact(name, d);
        if (v && v->family == MP_VOCAB_INDEXED) return v;
    }
    return NULL;
}

const mp_vocab *mp_vocab_find_was(const char *old)
{
    if (!old) return NULL;
    for (int i = 0; i < NVOCAB; i++)
        if (vocab[i].was && strcmp(vocab[i].was, old) == 0) return &vocab[i];
    return NULL;
}

const char *mp_vocab_direction_name(int direction)
{
    return direction == MP_DIR_LOWER ? "lower" : direction == MP_DIR_HIGHER ? "higher" : "none";
}

/* ---- narrow terminals (mp_vocab_priority, mp_vocab_short) ----
 * Kept apart from the table above so that adding a name never needs a
 * priority or a label: names not listed are MP_PRIO_NORMAL and get their
 * label from the word rules. */
typedef struct fit_row {
    const char *name;
    int prio;
    const char *label; /* NULL: the word rules */
} fit_row;

/* sorted by name (byte order); a unit test checks each is a vocabulary name */
static const fit_row fit_rows[] = {
    {"change_pct", MP_PRIO_HEAD, "change_%"},
    {"choices_per_token", MP_PRIO_NORMAL, "choices/tok"},
    {"compression_ratio", MP_PRIO_NORMAL, "compr"},
    {"decimals", MP_PRIO_DETAIL, "dec"},
    {"description", MP_PRIO_HEAD, NULL},
    {"dominated_by_balanced", MP_PRIO_NORMAL, "dom_by_bal"},
    {"dst", MP_PRIO_KEY, NULL},
    {"e2e_speedup", MP_PRIO_HEAD, "e2e_x"},
    {"e2e_step_us_mean", MP_PRIO_HEAD, "e2e_us"},
    {"entry", MP_PRIO_KEY, NULL},
    {"expert", MP_PRIO_KEY, NULL},
    {"first_step", MP_PRIO_KEY, "first"},
    {"gap_lb_rep", MP_PRIO_DETAIL, "gap"},
    {"gpu", MP_PRIO_KEY, NULL},
    {"holdout_oracle_max_over_mean", MP_PRIO_DETAIL, NULL},
    {"holdout_sim_max_over_mean", MP_PRIO_HEAD, NULL},
    {"idle_gpus", MP_PRIO_DETAIL, "idle"},
    {"insample_sim_max_over_mean", MP_PRIO_DETAIL, NULL},
    {"last_step", MP_PRIO_KEY, "last"},
    {"layer", MP_PRIO_KEY, NULL},
    {"max_over_mean", MP_PRIO_HEAD, NULL},
    {"metric", MP_PRIO_KEY, NULL},
    {"moe_layers", MP_PRIO_NORMAL, "moe_L"},
    {"name", MP_PRIO_KEY, NULL},
    {"node", MP_PRIO_KEY, NULL},
    {"normalize_topk", MP_PRIO_DETAIL, "norm"},
    {"nvlink_MB_per_step", MP_PRIO_DETAIL, NULL},
    {"nvlink_bytes", MP_PRIO_DETAIL, NULL},
    {"op", MP_PRIO_KEY, NULL},
    {"phase", MP_PRIO_KEY, NULL},
    {"plan", MP_PRIO_KEY, NULL},
    {"plan_max_over_mean", MP_PRIO_HEAD, NULL},
    {"plan_worst_max_over_mean", MP_PRIO_DETAIL, "plan_worst"},
    {"pre_shift_max_over_mean", MP_PRIO_DETAIL, NULL},
    {"preset", MP_PRIO_KEY, NULL},
    {"rank", MP_PRIO_KEY, NULL},
    {"recovery_steps", MP_PRIO_DETAIL, NULL},
    {"regime", MP_PRIO_KEY, NULL},
    {"replica", MP_PRIO_KEY, NULL},
    {"routed_scaling", MP_PRIO_DETAIL, "scale"},
    {"run_max_over_mean", MP_PRIO_NORMAL, NULL},
    {"sglang_balancedness", MP_PRIO_DETAIL, NULL},
    {"shared_experts", MP_PRIO_NORMAL, "shared"},
    {"sim_max_over_mean", MP_PRIO_HEAD, NULL},
    {"sim_max_over_mean_p99", MP_PRIO_NORMAL, "sim_p99"},
    {"slots_per_gpu", MP_PRIO_NORMAL, "slots/gpu"},
    {"src", MP_PRIO_KEY, NULL},
    {"stat", MP_PRIO_KEY, NULL},
    {"status", MP_PRIO_HEAD, NULL},
    {"step", MP_PRIO_KEY, NULL},
    {"step_time_us", MP_PRIO_HEAD, "step_us"},
    {"step_us", MP_PRIO_HEAD, NULL},
    {"strategy", MP_PRIO_KEY, NULL},
    {"tokens_max_over_mean", MP_PRIO_DETAIL, NULL},
    {"topk_group", MP_PRIO_NORMAL, "tk_grp"},
    {"trtllm_imbalance", MP_PRIO_DETAIL, NULL},
    {"was", MP_PRIO_DETAIL, NULL},
};

#define NFIT ((int)(sizeof fit_rows / sizeof fit_rows[0]))

static const fit_row *fit_find(const char *name, size_t len)
{
    int lo = 0, hi = NFIT - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        const char *v = fit_rows[mid].name;
        int c = strncmp(v, name, len);
        if (c == 0) c = v[len] != '\0';
        if (c == 0) return &fit_rows[mid];
        if (c < 0) lo = mid + 1;
        else hi = mid - 1;
    }
    return NULL;
}

/* the length of NAME's family stem when it is a member of a DIST family
 * (NAME_mean .. NAME_max) that is not listed itself, else 0 */
static size_t dist_stem(const char *name, const char **suffix)
{
    static const char *const sfx[] = {"_mean", "_p50", "_p90", "_p99", "_max"};
    size_t n = strlen(name);
    if (fit_find(name, n)) return 0;
    for (size_t i = 0; i < sizeof sfx / sizeof sfx[0]; i++) {
        size_t k = strlen(sfx[i]);
        if (n > k && strcmp(name + n - k, sfx[i]) == 0) {
            const mp_vocab *v = find_exact(name, n - k);
            if (v && v->family == MP_VOCAB_DIST) {
                *suffix = sfx[i];
                return n - k;
            }
        }
    }
    return 0;
}

int mp_vocab_priority(const char *name)
{
    if (!name) return MP_PRIO_NORMAL;
    const char *sfx = NULL;
    size_t stem = dist_stem(name, &sfx);
    if (stem) {
        /* the median and p90 repeat the mean; the mean speaks for the family */
        if (strcmp(sfx, "_p50") == 0 || strcmp(sfx, "_p90") == 0) return MP_PRIO_DETAIL;
        const fit_row *r = fit_find(name, stem);
        int base = r ? r->prio : MP_PRIO_NORMAL;
        if (strcmp(sfx, "_mean") == 0) return base;
        return base < MP_PRIO_NORMAL ? MP_PRIO_NORMAL : base;
    }
    const fit_row *r = fit_find(name, strlen(name));
    return r ? r->prio : MP_PRIO_NORMAL;
}

/* long words and what a label writes for them, applied left to right */
static const char *const words[][2] = {
    {"max_over_mean", "m/m"}, {"balancedness", "bal"}, {"imbalance", "imb"}, {"holdout", "ho"},
    {"insample", "in"},       {"oracle", "orc"},       {"nvlink", "nvl"},    {"network", "net"},
    {"_per_step", ""},        {"sglang", "sgl"},       {"trtllm", "trt"},    {"duplicates", "dups"},
    {"experts", "exp"},       {"transfer", "xfer"},    {"recovery", "recov"}, {"pre_shift", "pre"},
    {"intermediate", "inter"}, {"group", "grp"},       {"tokens", "tok"},    {"layers", "L"},
};

static void put(char *buf, size_t n, size_t *at, const char *s, size_t len)
{
    for (size_t i = 0; i < len && *at + 1 < n; i++) buf[(*at)++] = s[i];
    buf[*at] = '\0';
}

/* name[0..len) with the word rules applied (or its listed label) into buf at *at */
static void short_stem(const char *name, size_t len, char *buf, size_t n, size_t *at)
{
    const fit_row *r = fit_find(name, len);
    if (r && r->label) {
        put(buf, n, at, r->label, strlen(r->label));
        return;
    }
    size_t i = 0;
    while (i < len) {
        size_t w, hit = 0;
        for (w = 0; w < sizeof words / sizeof words[0]; w++) {
            size_t k = strlen(words[w][0]);
            if (k <= len - i && memcmp(name + i, words[w][0], k) == 0) {
                hit = k;
                break;
            }
        }
        if (hit) {
            put(buf, n, at, words[w][1], strlen(words[w][1]));
            i += hit;
        } else {
            put(buf, n, at, name + i, 1);
            i++;
        }
    }
}

int mp_vocab_short(const char *name, char *buf, size_t n)
{
    if (!buf || n == 0) return 0;
    buf[0] = '\0';
    if (!name) return 0;
    size_t at = 0, len = strlen(name);
    const char *sfx = NULL;
    size_t stem = dist_stem(name, &sfx);
    if (stem) {
        short_stem(name, stem, buf, n, &at);
        put(buf, n, &at, sfx, strlen(sfx));
    } else {
        short_stem(name, len, buf, n, &at);
    }
    return at < len;
}

void mp_vocab_short_words(const char *name, void (*each)(void *ctx, const char *shorter, const char *full), void *ctx)
{
    char label[128];
    if (!name || !mp_vocab_short(name, label, sizeof label)) return;
    const char *sfx = NULL;
    size_t stem = dist_stem(name, &sfx), len = stem ? stem : strlen(name);
    const fit_row *r = fit_find(name, len);
    if (r && r->label) {
        char full[128];
        snprintf(full, sizeof full, "%.*s", (int)len, name);
        each(ctx, r->label, full);
        return;
    }
    for (size_t w = 0; w < sizeof words / sizeof words[0]; w++)
        if (!words[w][1][0] && strstr(name, words[w][0])) { /* a word dropped: the label says too little */
            each(ctx, label, name);
            return;
        }
    for (size_t i = 0; i < len;) {
        size_t hit = 0, w;
        for (w = 0; w < sizeof words / sizeof words[0]; w++) {
            size_t k = strlen(words[w][0]);
            if (k <= len - i && memcmp(name + i, words[w][0], k) == 0) {
                hit = k;
                break;
            }
        }
        if (hit) each(ctx, words[w][1], words[w][0]);
        i += hit ? hit : 1;
    }
}
