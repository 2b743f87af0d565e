/*
 * kx_internal.h - the replay context shared by the kernels/ CUDA sources.
 * Internal to kernels/; the context owns every pointer in it.
 */
#ifndef KX_INTERNAL_H
#define KX_INTERNAL_H

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <stdint.h>

#include "kernels/mp_kernels.h"

#define KX_CHUNK 1024 /* assignments per layout block */

struct mp_kx {
    mp_kx_shape sh;
    int32_t R, MR, EX; /* slots, log2phy columns and experts of the plan in force */
    int32_t per_rank;  /* slots per emulated rank: R / ranks */
    int64_t max_rows; /* max_tokens * K */
    int64_t max_chunks;
    cudaStream_t st;
    cublasHandle_t cb;
    void *cb_ws;
    /* plan */
    int32_t *d_l2p, *d_rc;
    int32_t *h_l2p, *h_rc;
    int plan_set;
    /* routing */
    int64_t tokens;
    uint16_t *d_ids;
    float *d_w;
    uint16_t *d_x;
    /* layout */
    int32_t *d_slot, *d_row, *d_chunk, *d_slot_rows, *d_slot_off, *d_dests;
    unsigned long long *d_traffic;
    int32_t *h_slot_rows, *h_slot_off;
    int counts_ready;
    /* dispatch path */
    uint8_t *d_xq, *d_xpq;
    float *d_xs, *d_xps;
    uint16_t *d_xp, *d_h1, *d_act, *d_y, *d_out;
    /* experts */
    uint16_t *d_w13, *d_w2;
    cudaGraphExec_t *graphs; /* [ranks], NULL until captured */
    /* timing */
    void *d_flush;
    cudaEvent_t ev0, ev1;
};

/* Maps a CUDA error to an MP_E code and message; returns the code. */
int mp__kx_cuda_fail(mp_err *err, cudaError_t e, const char *what);
#define KX_CK(call)                                                                                        \
    do {                                                                                                   \
        cudaError_t e_ = (call);                                                                           \
        if (e_ != cudaSuccess) return mp__kx_cuda_fail(err, e_, #call);                                    \
    } while (0)

/* Device part of the layout (no host copy); enqueued on kx->st. */
int mp__kx_layout_device(mp_kx *kx, mp_err *err);
/* Drops captured expert graphs (after counts change). */
void mp__kx_drop_graphs(mp_kx *kx);
/* Dequantises FP8 dispatch rows [r0, r1) into the bf16 rows. */
int mp__kx_dequant_rows(mp_kx *kx, int64_t r0, int64_t r1, mp_err *err);
/* Fills n bf16 values with seeded uniform values times scale. */
int mp__kx_fill(uint16_t *d, size_t n, uint64_t seed, uint64_t stream, float scale, cudaStream_t st, mp_err *err);

#endif
