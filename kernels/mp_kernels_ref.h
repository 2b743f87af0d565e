/*
 * mp_kernels_ref.h - plain-C reference implementations of every replay
 * kernel (kernels/ref.c), used to check the CUDA kernels exactly or within
 * bf16 tolerance.  Slow and simple on purpose: nested loops, fp32 sums in a
 * fixed order.  Buffers of bf16 values are uint16 bit patterns.
 * Memory: every function writes into arrays the caller allocated and owns.
 */
#ifndef MP_KERNELS_REF_H
#define MP_KERNELS_REF_H

#include <stddef.h>
#include <stdint.h>

/* Layout: replica selection (mp__kx_select), rows per slot, each assignment's
 * slot and row (rows ordered by slot, then assignment index), per-token count
 * of distinct destination ranks, and the [P][P] matrix of tokens sent from
 * source rank (token / ceil(T/P)) to destination rank, once per token and
 * destination.  Returns 0, or -1 when an id or replica is out of range. */
int mp_kref_layout(int64_t tokens, int32_t top_k, const uint16_t *ids, int32_t experts, int32_t max_replicas,
                   const int32_t *log2phy, const int32_t *replica_count, int32_t slots, int32_t ranks,
                   int selection, uint64_t seed, int32_t *slot, int32_t *row, int32_t *slot_rows, int32_t *dests,
                   int64_t *traffic);

/* Permute: xp[row[t*K+k]] = x[t] for every assignment; H values a row. */
void mp_kref_permute(int64_t tokens, int32_t top_k, int32_t hidden, const uint16_t *x, const int32_t *row,
                     uint16_t *xp);

/* One expert on m rows: h = xp W13^T (rounded to bf16), a = silu(gate) * up
 * (rounded to bf16), y = a W2^T (rounded to bf16).  w13 [2I][H], w2 [H][I];
 * xp [m][H], y [m][H]; fp32 sums. */
void mp_kref_expert(int64_t m, int32_t hidden, int32_t inter, const uint16_t *w13, const uint16_t *w2,
                    const uint16_t *xp, uint16_t *y);

/* Combine: out[t] = bf16(sum_k w[t][k] * y[row[t*K+k]]) in fp32, k in order;
 * weights NULL means 1/K each. */
void mp_kref_combine(int64_t tokens, int32_t top_k, int32_t hidden, const uint16_t *y, const int32_t *row,
                     const float *weights, uint16_t *out);

/* FP8 e4m3 (finite-saturating, round to nearest even) and back. */
uint8_t mp_kref_fp8(float f);
float mp_kref_fp8_value(uint8_t b);
/* Quantises one row of H values (H % 128 == 0) with one scale per 128 values
 * (block max / 448, 1 for an all-zero block) and dequantises it back to bf16
 * into out; q and scales may be NULL. */
void mp_kref_fp8_roundtrip(int32_t hidden, const uint16_t *x, uint8_t *q, float *scales, uint16_t *out);

#endif
