/*
 * mp_nccl.h - the plain C ABI of the multi-GPU replay over NCCL
 * (kernels/nccl.cu, built only when CMake finds NCCL: MP_HAVE_NCCL).
 *
 * One process per GPU ("rank"); rank r owns the expert slots
 * [r * slots/P, (r+1) * slots/P) of the plan and the r-th block of
 * ceil(T/P) tokens.  One step of one MoE layer, phase by phase:
 *   counts   all-gather of every rank's rows per slot (ncclAllGather), then
 *            the displacements and row maps on the host (kernels/mp_exchange.h)
 *   permute  local tokens -> send buffer, grouped by destination rank
 *   dispatch grouped ncclSend/ncclRecv of variable sizes (all-to-all-v), or
 *            one ncclAlltoAll of `capacity` rows a pair in padded mode
 *   reorder  received rows -> local slot order
 *   experts  gate/up GEMM, SiLU*up, down GEMM per local slot (kernels/experts.cu)
 *   unorder  expert outputs -> receive order
 *   return   the reverse exchange (combine's all-to-all)
 *   combine  weighted sum of each token's K returned rows
 * Expert weights are a hash of (seed, global slot), token activations of
 * (seed, global token), so every rank can check any row on the CPU.
 * NCCL_NVLS_ENABLE=0 is set in the environment before the communicator
 * is made (NVLink multicast stays off).
 *
 * Every function returns 0 or a negative MP_E* code; collective functions
 * (marked) must be called by every rank in the same order.
 * Memory: mp_nx_create returns a context freed with mp_nx_destroy; arrays
 * passed in are copied; results are written to the caller's structs.
 */
#ifndef MP_NCCL_H
#define MP_NCCL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#include "kernels/mp_exchange.h"
#include "traces/mp_error.h"

#define MP_NX_ID_BYTES 128 /* sizeof(ncclUniqueId) */

/* CUDA devices of this machine (0 when none or no driver). */
int mp_nx_device_count(void);

/* A fresh NCCL unique id (rank 0 makes it; every rank needs it). */
int mp_nx_unique_id(unsigned char id[MP_NX_ID_BYTES], mp_err *err);

typedef struct mp_nx_shape {
    int32_t hidden;       /* H, a multiple of 128                          */
    int32_t intermediate; /* I, a multiple of 8                            */
    int32_t top_k;        /* choices per token                             */
    int32_t experts;      /* logical experts of the plan                   */
    int32_t slots;        /* physical slots, a multiple of the ranks       */
    int32_t max_replicas; /* columns of log2phy                            */
    int64_t max_tokens;   /* largest total token count T of a step         */
    int selection;        /* mp_kx_selection                               */
    uint64_t seed;
    int padded;           /* 1: ncclAlltoAll at capacity instead of send/recv */
} mp_nx_shape;

typedef struct mp_nx mp_nx;

/* Picks GPU (local rank) % device count, sets NCCL_NVLS_ENABLE=0, joins the
 * communicator of `ranks` ranks (collective) and allocates this rank's
 * buffers and expert weights.  local_rank < 0: the rank. */
int mp_nx_create(mp_nx **out, const unsigned char id[MP_NX_ID_BYTES], int32_t ranks, int32_t rank,
                 int32_t local_rank, const mp_nx_shape *shape, mp_err *err);
void mp_nx_destroy(mp_nx *nx);

/* The plan of the layer: log2phy [experts][max_replicas], counts [experts]. */
int mp_nx_set_plan(mp_nx *nx, const int32_t *log2phy, const int32_t *replica_count, mp_err *err);
/* The routing of all T tokens of the layer (ids [T][K], weights [T][K] or
 * NULL for 1/K); the rank keeps its own block and chooses its replicas. */
int mp_nx_set_routing(mp_nx *nx, int64_t T, const uint16_t *ids, const float *weights, mp_err *err);

typedef enum mp_nx_phase {
    MP_NX_PH_COUNTS = 0,
    MP_NX_PH_PERMUTE,
    MP_NX_PH_DISPATCH,
    MP_NX_PH_REORDER,
    MP_NX_PH_EXPERTS,
    MP_NX_PH_UNORDER,
    MP_NX_PH_RETURN,
    MP_NX_PH_COMBINE,
    MP_NX_PH_COUNT
} mp_nx_phase;

/* Phase names: "counts", "permute", ... */
const char *mp_nx_phase_name(int phase);

typedef struct mp_nx_result {
    int32_t ranks;
    double max_us[MP_NX_PH_COUNT], mean_us[MP_NX_PH_COUNT]; /* over ranks of each rank's median */
    double step_max_us, step_mean_us; /* each rank's median step (sum of its phases) */
    int64_t pair[MP_XG_MAX_RANKS * MP_XG_MAX_RANKS]; /* rows from source to destination */
    int64_t capacity;          /* largest pair count                        */
    int64_t recv_rows_max;     /* most rows a rank computes                 */
    double recv_rows_mean;
    double send_bytes;         /* largest send buffer of a rank, bytes      */
    double dispatch_algbw, dispatch_busbw; /* GB/s from max_us of dispatch  */
    double return_algbw, return_busbw;
} mp_nx_result;

/* Collective: `warmup` untimed and `iters` timed steps of the layer set
 * last; per-phase medians reduced over ranks. */
int mp_nx_run(mp_nx *nx, int iters, int warmup, mp_nx_result *out, mp_err *err);

/* Collective: poisons the buffers, runs one step and compares with the CPU
 * reference: the all-gathered counts and every dispatched row exactly, the
 * first row of up to `sample` local slots through the reference expert, the
 * returned rows of this rank's first token against the reference expert on
 * the owner's weights, and the combine of every token (within 1e-2 of the
 * tensor's largest value; NaN left anywhere counts).  ids/weights are the
 * T-token routing given to mp_nx_set_routing.  *wrong = sum over ranks. */
int mp_nx_check(mp_nx *nx, const uint16_t *ids, const float *weights, int sample, int64_t *wrong, mp_err *err);

/* Collective: NCCL's own all-to-all (ncclAlltoAll, equal counts) of
 * `bytes` per rank send buffer; max over ranks of the median time. */
int mp_nx_alltoall(mp_nx *nx, size_t bytes, int iters, int warmup, double *us, mp_err *err);

/* Describes this rank's device ("NVIDIA H100 80GB HBM3, GPU 0 of 1"). */
int mp_nx_device(const mp_nx *nx, char *buf, size_t n);

#ifdef __cplusplus
}
#endif

#endif
