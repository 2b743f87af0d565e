/*
 * mp_exchange.h - the expert-parallel exchange of one MoE layer across P
 * ranks, worked out on the CPU (plain C, no CUDA): which rows each rank sends
 * to each other rank, in which order, and where every received row lands.
 * The NCCL replay (kernels/nccl.cu) drives its buffers with it; unit tests
 * check it against the single-GPU layout (kernels/mp_kernels_ref.h).
 *
 * Tokens: rank r owns the contiguous block of ceil(T/P) tokens starting at
 * r * ceil(T/P) (the source rank of mp_kref_layout's traffic matrix).
 * Rows: one per token and choice (t, k), global assignment index
 * a = t*K + k; its slot is chosen as in the single-GPU replay
 * (mp__kx_select on a); slot s lives on rank s / (slots / P).
 * Send buffer of rank r: rows grouped by destination rank, then by slot,
 * then by assignment index.  Receive buffer: rows grouped by source rank
 * (in the sender's order).  The receiver reorders them into its local
 * slot order, slot by slot, and within a slot by source then assignment,
 * which is the global assignment order: the same order as the single-GPU
 * replay's rows of that slot.
 * Padded mode (ncclAlltoAll): every pair's block is `capacity` rows, the
 * largest pair count of the step, so block d of the send buffer starts at
 * d * capacity.
 *
 * Memory: mp_xg_create returns an object freed with mp_xg_destroy; it owns
 * every array in it; arrays passed in are the caller's.
 */
#ifndef MP_EXCHANGE_H
#define MP_EXCHANGE_H

#include <stdint.h>

#include "traces/mp_error.h"

#define MP_XG_MAX_RANKS 64
#define MP_XG_MAX_SLOTS 8192
#define MP_XG_MAX_TOPK 32

typedef struct mp_xg {
    int32_t ranks, rank, slots, per_rank, top_k;
    int64_t max_tokens;  /* largest local token count accepted            */
    int64_t first_token; /* this rank's first global token                */
    int64_t tokens;      /* this rank's tokens in the current step        */
    int64_t send_rows;   /* tokens * top_k                                */
    int padded;          /* 1: blocks of `capacity` rows (ncclAlltoAll)   */
    /* after mp_xg_layout */
    int32_t *slot;       /* [send_rows] chosen slot of each local assignment           */
    int64_t *counts;     /* [ranks][slots] rows from each source rank to each slot;
                            row `rank` is filled by mp_xg_layout, the others are
                            what the all-gather brings                                 */
    /* after mp_xg_finish */
    int64_t *pair;       /* [ranks][ranks] rows from source to destination             */
    int64_t *send_count, *send_displ; /* [ranks] rows to each destination, and where
                                         its block starts in the send buffer           */
    int64_t *recv_count, *recv_displ; /* [ranks] rows from each source, likewise      */
    int64_t capacity;    /* largest pair count                                          */
    int64_t send_buf_rows, recv_buf_rows; /* rows of the buffers (with padding)         */
    int64_t recv_rows;   /* rows received (without padding)                             */
    int32_t *send_pos;   /* [send_rows] send-buffer row of each local assignment        */
    int32_t *send_token; /* [send_buf_rows] local token of each send-buffer row, -1 pad  */
    int32_t *recv_pos;   /* [recv_buf_rows] local slot-ordered row of each received row,
                            -1 for padding                                               */
    int32_t *local_rows; /* [per_rank] rows of each local slot                           */
    int64_t cap_rows, cap_send; /* allocated lengths of recv_pos and send_token              */
} mp_xg;

/* Tokens [*first, *first + *count) of `rank` out of T split over `ranks`. */
void mp_xg_token_range(int64_t T, int32_t ranks, int32_t rank, int64_t *first, int64_t *count);

int mp_xg_create(mp_xg **out, int32_t ranks, int32_t rank, int32_t slots, int32_t top_k, int64_t max_tokens,
                 int padded, mp_err *err);
void mp_xg_destroy(mp_xg *x);

/* Chooses each local assignment's slot and fills this rank's row of
 * counts.  ids [tokens][K] are this rank's tokens, the first being global
 * token first_token; log2phy [experts][max_replicas], replica_count
 * [experts] as in mp_kx_set_plan. */
int mp_xg_layout(mp_xg *x, int64_t first_token, int64_t tokens, const uint16_t *ids, int32_t experts,
                 int32_t max_replicas, const int32_t *log2phy, const int32_t *replica_count, int selection,
                 uint64_t seed, mp_err *err);

/* This rank's row of counts: what it contributes to the all-gather. */
int64_t *mp_xg_my_counts(mp_xg *x);

/* Once every row of counts is in place: pair matrix, counts and
 * displacements, capacity, buffer sizes and the row maps. */
int mp_xg_finish(mp_xg *x, mp_err *err);

/* nccl-tests' figures: algbw = bytes / time (GB/s, 1e9 bytes), bytes being
 * one rank's send buffer; busbw = algbw * (n - 1) / n for all-to-all. */
double mp_xg_algbw(double bytes, double us);
double mp_xg_busbw(double algbw, int32_t ranks);

#endif
