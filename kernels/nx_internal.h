/*
 * nx_internal.h - the multi-GPU replay context shared by kernels/nccl.cu
 * and kernels/nccl_check.cu.  Internal to kernels/; the context owns every
 * pointer in it.
 */
#ifndef NX_INTERNAL_H
#define NX_INTERNAL_H

#include <nccl.h>

#include "kernels/kx_internal.h"
#include "kernels/mp_nccl.h"

struct mp_nx {
    mp_nx_shape sh;
    int32_t P, rank, device, per_rank;
    ncclComm_t comm;
    mp_kx *kx;       /* local experts: per_rank slots, one "rank", top-1 rows */
    int64_t kx_rows; /* rows the expert context holds                         */
    mp_xg *xg;
    int32_t *h_l2p, *h_rc;
    int plan_set, routed;
    int64_t T;       /* tokens of the step, all ranks                         */
    int64_t max_local;
    float *h_w;      /* [local tokens][K]                                     */
    /* device */
    uint16_t *d_x, *d_out;          /* [max_local][H]                         */
    float *d_w;                     /* [max_local][K]                         */
    uint16_t *d_send, *d_ret;       /* [send_cap][H]                          */
    uint16_t *d_recv, *d_back;      /* [recv_cap][H]                          */
    int64_t send_cap, recv_cap;
    int32_t *d_send_token, *d_send_pos, *d_recv_pos;
    int64_t *d_counts;              /* [P][slots]                             */
    double *d_red;                  /* reductions                             */
    cudaEvent_t ev[MP_NX_PH_COUNT + 1];
};

/* Maps an NCCL failure to MP_EIO with a message; returns the code. */
int mp__nx_nccl_fail(mp_err *err, ncclResult_t r, const char *what);
#define NX_NCCL(call)                                                                                      \
    do {                                                                                                   \
        ncclResult_t r_ = (call);                                                                          \
        if (r_ != ncclSuccess) return mp__nx_nccl_fail(err, r_, #call);                                    \
    } while (0)

/* One step: the counts exchange (host-timed) and the device phases
 * (events ev[1..]); *phase_us gets each phase's time unless NULL. */
int mp__nx_step(mp_nx *nx, double *phase_us, mp_err *err);

#endif
