/*
 * limits.h - the command line's caps, limits and defaults, in one place.
 * The option table (cli/options.def) takes its ranges from here; commands
 * take their defaults from here.  Limits of the data itself (layers,
 * experts, top-k) are the model's (traces/mp_model.h), cost figures' ranges
 * the cost file's (sim/mp_cost.h, mp_cost_field_find).
 */
#ifndef CLI_LIMITS_H
#define CLI_LIMITS_H

#include <stdint.h>

/* every command */
#define CLI_THREADS_DEFAULT 1
#define CLI_THREADS_MAX 1024 /* -j, --threads */
#define CLI_SEED_DEFAULT 1

/* step counts and indexes: far beyond any trace, small enough that step
 * arithmetic (bucket * count, begin + length) cannot overflow */
#define CLI_STEP_MAX (INT64_MAX / 4)
#define CLI_STEPS_GEN_MAX ((int64_t)1 << 40)         /* gen --steps */
#define CLI_TOKENS_PER_STEP_MAX ((int64_t)1 << 31)   /* gen --tokens-per-step */
#define CLI_LAYER_INDEX_MAX 65535                    /* stats --layer */

/* topology */
#define CLI_GPUS_MAX 65536           /* --gpus, --nodes */
#define CLI_SLOTS_PER_GPU_MAX 65536  /* --slots-per-gpu, --shared-fusion */
#define CLI_REDUNDANT_MAX (1 << 20)  /* --redundant */
#define CLI_WINDOW_MAX (1 << 24)     /* --window: steps of loads a re-plan keeps */

/* the generator */
#define CLI_SHARED_MAX 1024        /* gen --shared */
#define CLI_TOPICS_MAX 4096        /* gen --topics */
#define CLI_DP_RANKS_MAX 65536     /* gen --dp-ranks */
#define CLI_SIGMA_MAX 10.0         /* gen --group-skew, --topic-strength, --drift */


/* check */
#define CLI_TOLERANCE_DEFAULT 0.02
#define CLI_TOLERANCE_MAX 1e6

/* rebalance */
#define CLI_THRESHOLD_MAX 1e6
#define CLI_BANDWIDTH_MIN 1e-6
#define CLI_BANDWIDTH_MAX 1e9

/* sim --sweep-locality */
#define CLI_SWEEP_POINTS_MAX 32

/* report: the generated default input */
#define CLI_REPORT_GEN_STEPS_DEFAULT 16
#define CLI_REPORT_GEN_TOKENS_DEFAULT 4096
#define CLI_REPORT_GEN_STEPS_MAX (1 << 20)
#define CLI_REPORT_GEN_TOKENS_MAX (1 << 24)
#define CLI_REPORT_DIR_DEFAULT "moeplace-report"

/* replay (CUDA) */
#define CLI_REPLAY_TOKENS_MAX 65536 /* -b, -e */
#define CLI_REPLAY_FACTOR_MIN 1.01
#define CLI_REPLAY_FACTOR_MAX 1024.0
#define CLI_REPLAY_ITERS_DEFAULT 20
#define CLI_REPLAY_ITERS_MAX 100000
#define CLI_REPLAY_WARMUP_DEFAULT 3
#define CLI_REPLAY_RANKS_DEFAULT 8
#define CLI_REPLAY_RANKS_MAX 64 /* --ranks, --nproc */
#define CLI_REPLAY_HIDDEN_DEFAULT 7168
#define CLI_REPLAY_INTER_DEFAULT 2048
#define CLI_REPLAY_HIDDEN_MIN 128 /* and a multiple of it */
#define CLI_REPLAY_INTER_MIN 8    /* and a multiple of it */
#define CLI_REPLAY_SIZE_MAX 65536
/* the CPU reference check holds three copies of the rows: points beyond
 * 2^31 row values are not checked */
#define CLI_REPLAY_CHECK_VALUES_MAX ((double)((int64_t)1 << 31))

/* plan: bytes per weight element when --weight-bytes is not given (bf16) */
#define CLI_WEIGHT_BYTES_DEFAULT 2.0

#endif
