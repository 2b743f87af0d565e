/*
 * mp_kernels.h - the plain C ABI of moeplace's CUDA kernels (kernels/).
 * Nothing outside kernels/ includes a CUDA header; callers see only this.
 *
 * A replay context (mp_kx) owns the device buffers of one MoE layer's
 * forward pass on one GPU, emulating `ranks` expert-parallel GPUs: expert
 * weights for every physical slot (allocated once, random), the routing of up
 * to max_tokens tokens, and the phases layout -> permute -> experts (gate/up
 * GEMM, SiLU*up, down GEMM through cuBLAS) -> combine.  Slot s belongs to
 * emulated rank s / (slots / ranks).  Rows of the permuted buffer are ordered
 * by slot, and within a slot by assignment index t*K+k (deterministic).
 *
 * Every function returns 0 or a negative MP_E* code (see traces/mp_error.h);
 * a missing or unusable GPU is MP_EUNSUPPORTED with a message.
 * Memory: mp_kx_create returns a context freed with mp_kx_destroy; it owns
 * all device memory; host arrays passed in are copied, arrays passed out
 * are the caller's.
 */
#ifndef MP_KERNELS_H
#define MP_KERNELS_H

#include <stdint.h>

#include <stddef.h>

#ifdef __cplusplus
extern "C" { /* traces/mp_error.h is plain C without its own guard */
#endif

#include "traces/mp_error.h"

/* Describes the first CUDA device into buf (e.g. "NVIDIA H100 80GB HBM3, sm_90,
 * 132 SMs"); returns 0, or MP_EUNSUPPORTED when no usable device exists. */
int mp_kernels_device(char *buf, size_t n, mp_err *err);

/* Replica selection: which of an expert's replicas an assignment goes to. */
typedef enum mp_kx_selection {
    MP_KX_SEL_NONE = 0,   /* always the first replica                          */
    MP_KX_SEL_MODULO = 1, /* (t*K + k) modulo the replica count (vLLM, sim)    */
    MP_KX_SEL_RANDOM = 2  /* a hash of (seed, assignment) modulo the count     */
} mp_kx_selection;

/* Activation dtype on the dispatch path: bf16 rows, or FP8 e4m3 rows with one
 * fp32 scale per 128 values (dequantised to bf16 before the GEMMs). */
typedef enum mp_kx_dtype { MP_KX_BF16 = 0, MP_KX_FP8 = 1 } mp_kx_dtype;

/* Limits checked by mp_kx_create. */
#define MP_KX_MAX_SLOTS 8192
#define MP_KX_MAX_RANKS 64
#define MP_KX_MAX_TOPK 32

typedef struct mp_kx_shape {
    int32_t hidden;        /* H, a multiple of 128                          */
    int32_t intermediate;  /* I (per expert), a multiple of 8               */
    int32_t top_k;         /* K, 1..MP_KX_MAX_TOPK                          */
    int32_t experts;       /* logical experts (routed, +1 with fused shared) */
    int32_t slots;         /* physical slots R, 1..MP_KX_MAX_SLOTS          */
    int32_t ranks;         /* emulated GPUs P, R % P == 0                   */
    int32_t max_replicas;  /* columns of log2phy                            */
    int64_t max_tokens;    /* largest T                                     */
    int dtype;             /* mp_kx_dtype                                   */
    int selection;         /* mp_kx_selection                               */
    uint64_t seed;         /* weights, inputs and random selection          */
    int with_experts;      /* 1: allocate weights for all slots, run GEMMs  */
    int use_graph;         /* 1: capture each rank's expert loop in a graph */
} mp_kx_shape;

typedef struct mp_kx mp_kx;

int mp_kx_create(mp_kx **out, const mp_kx_shape *shape, mp_err *err);
/* Frees everything; NULL is a no-op. */
void mp_kx_destroy(mp_kx *kx);

/* Uploads the plan of one layer: log2phy [experts][max_replicas] (-1 padded)
 * and replica_count [experts]. */
int mp_kx_set_plan(mp_kx *kx, const int32_t *log2phy, const int32_t *replica_count, mp_err *err);
/* The same for a plan smaller than the context: `experts` logical experts
 * (<= the shape's), log2phy rows of `max_replicas` columns, and `slots`
 * slots (<= the shape's, a multiple of ranks; slot s on rank s / (slots /
 * ranks)).  mp_kx_config_get then reports these. */
int mp_kx_set_plan_ex(mp_kx *kx, const int32_t *log2phy, const int32_t *replica_count, int32_t experts,
                      int32_t max_replicas, int32_t slots, mp_err *err);
/* Uploads one layer's routing of `tokens` tokens: ids [tokens][K] and gate
 * weights [tokens][K] (NULL: 1/K each); fills the token activations with
 * random bf16 values from the seed. */
int mp_kx_set_routing(mp_kx *kx, int64_t tokens, const uint16_t *ids, const float *weights, mp_err *err);

/* The phases, in order.  mp_kx_layout selects replicas and computes counts,
 * rows and per-rank traffic, then copies the slot counts to the host
 * (synchronising) so the expert phase can be planned. */
int mp_kx_layout(mp_kx *kx, mp_err *err);
int mp_kx_permute(mp_kx *kx, mp_err *err);
/* Gate/up GEMMs, activation and down GEMMs of one emulated rank's slots. */
int mp_kx_experts(mp_kx *kx, int32_t rank, mp_err *err);
int mp_kx_combine(mp_kx *kx, mp_err *err);
/* Sets the slot row counts directly (bypassing routing and layout), for
 * measuring the expert phase alone; rows get zero-filled inputs. */
int mp_kx_set_counts(mp_kx *kx, const int32_t *counts, mp_err *err);

/* The shape the context was made with. */
typedef mp_kx_shape mp_kx_config;
void mp_kx_config_get(const mp_kx *kx, mp_kx_config *out);
/* Copies the plan last set: log2phy [experts][max_replicas], counts [experts]. */
void mp_kx_plan_get(const mp_kx *kx, int32_t *log2phy, int32_t *replica_count);
/* GEMM flops per row: 2 * (2I*H + H*I). */
double mp_kx_flops_per_row(const mp_kx *kx);
/* Turns graph capture of the expert phase on or off. */
void mp_kx_set_graph(mp_kx *kx, int on);

/* Phases mp_kx_time can measure. */
typedef enum mp_kx_phase {
    MP_KX_PH_LAYOUT = 0,
    MP_KX_PH_PERMUTE = 1,
    MP_KX_PH_EXPERTS = 2, /* of one rank */
    MP_KX_PH_COMBINE = 3,
    MP_KX_PH_COUNT = 4
} mp_kx_phase;

/* Runs `warmup` untimed, then `iters` timed repetitions of one phase (CUDA
 * events around each; with flush_l2, a 256 MiB buffer is overwritten before
 * each); stores the median in microseconds.  The layout phase is timed
 * without its host copy. */
int mp_kx_time(mp_kx *kx, mp_kx_phase phase, int32_t rank, int iters, int warmup, int flush_l2, double *median_us,
               mp_err *err);

/* Measured device-to-device copy rate (cudaMemcpyAsync of `bytes`), in GB/s
 * counting bytes read plus written; median of iters. */
int mp_kx_copy_bandwidth(size_t bytes, int iters, double *gbps, mp_err *err);

/* Results after the phases, copied to the caller's arrays. */
typedef struct mp_kx_layout_info {
    int64_t tokens;
    int64_t rows;            /* tokens * K                                   */
    const int32_t *slot_rows; /* [slots] rows per slot (owned by the context) */
} mp_kx_layout_info;
int mp_kx_layout_get(const mp_kx *kx, mp_kx_layout_info *info);
/* slot [tokens*K], row [tokens*K] of every assignment. */
int mp_kx_read_assign(mp_kx *kx, int32_t *slot, int32_t *row, mp_err *err);
/* traffic [P][P]: tokens sent from source rank i (tokens split evenly in
 * order) to destination rank j, once per token and destination (DeepEP-style);
 * dests [tokens]: each token's number of distinct destination ranks. */
int mp_kx_read_traffic(mp_kx *kx, int64_t *traffic, int32_t *dests, mp_err *err);
/* Buffers as raw bf16 bits (uint16): x [tokens][H], permuted rows
 * [rows][H], expert output rows [rows][H], combined output [tokens][H]. */
typedef enum mp_kx_buffer { MP_KX_BUF_X = 0, MP_KX_BUF_PERMUTED, MP_KX_BUF_EXPERT_OUT, MP_KX_BUF_OUT } mp_kx_buffer;
int mp_kx_read(mp_kx *kx, mp_kx_buffer which, uint16_t *dst, size_t elems, mp_err *err);
/* Expert weights of one slot as bf16 bits: w13 [2I][H] (gate rows then up
 * rows), w2 [H][I]. */
int mp_kx_read_weights(mp_kx *kx, int32_t slot, uint16_t *w13, uint16_t *w2, mp_err *err);
/* Fills permuted, intermediate, expert-output and output buffers with NaN
 * (0xffff), so a check can see that a run wrote every element. */
int mp_kx_poison(mp_kx *kx, mp_err *err);

/* One emulated step, measured phase by phase (kernels/step.c). */
typedef struct mp_kx_step {
    double layout_us, permute_us, combine_us; /* whole batch, on one GPU         */
    double expert_us[MP_KX_MAX_RANKS];       /* per emulated rank               */
    int64_t rows[MP_KX_MAX_RANKS];           /* rows (token copies) per rank    */
    int32_t active[MP_KX_MAX_RANKS];         /* slots with at least one row     */
    double expert_max_us, expert_mean_us;
    int64_t rows_max;
    double rows_mean;
    /* layout + (permute + combine) / ranks + max over ranks of expert time:
     * each rank permutes and combines its own 1/ranks of the tokens, and
     * waits for the slowest rank's experts (links not included). */
    double step_us;
    double gemm_tflops; /* useful GEMM flops of all ranks / sum of expert times */
} mp_kx_step;
/* Runs layout once, then times every phase (iters timed runs after warmup,
 * medians) and fills *out. */
int mp_kx_measure_step(mp_kx *kx, int iters, int warmup, int flush_l2, mp_kx_step *out, mp_err *err);

/* Poisons the outputs, runs every phase once (experts on all ranks) and
 * compares with the CPU reference (kernels/check.c): layout, rows, traffic
 * and the permutation exactly; the first row of up to sample_slots slots
 * through the reference expert, and the combine, within 1e-2 of the
 * tensor's largest value; NaN left anywhere counts.  ids/weights are the
 * routing given to mp_kx_set_routing.  *wrong = mismatching values. */
int mp_kx_check(mp_kx *kx, const uint16_t *ids, const float *weights, int sample_slots, int64_t *wrong, mp_err *err);

/* Calibration (kernels/calibrate.c): expert time of one rank as a function
 * of active experts and rows per expert, and the permute/combine rates. */
typedef struct mp_kx_calib_point {
    int32_t active;          /* experts with rows           */
    int32_t rows_per_expert;
    double us;               /* median expert-phase time    */
} mp_kx_calib_point;
#define MP_KX_CALIB_MAX 64
typedef struct mp_kx_calibration {
    double copy_gbps;                /* D2D copy, read + written        */
    double permute_gbps, combine_gbps; /* at the context's max tokens  */
    double layout_us;
    int npoints;
    mp_kx_calib_point points[MP_KX_CALIB_MAX];
} mp_kx_calibration;
/* Needs a context with expert weights and a plan; times permute and combine
 * on ids [max_tokens][K] (NULL: uniform random distinct experts), then rank
 * 0's expert phase for 1..32 active experts x 1..2048 rows each (points
 * beyond the context's rows or the rank's slots are skipped). */
int mp_kx_calibrate(mp_kx *kx, const uint16_t *ids, int iters, mp_kx_calibration *out, mp_err *err);

#ifdef __cplusplus
}
#endif

#endif
