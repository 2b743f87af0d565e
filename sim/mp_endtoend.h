/*
 * mp_endtoend.h - the rest of a decoder step around the MoE layers: attention
 * (MLA or GQA), the dense decoder layers, norms, embedding and LM head, so
 * that a placement's gain can be stated as a change of the whole step (TPOT in
 * decode, throughput in prefill), as engines publish it.
 *
 * Deployment: data-parallel attention with expert-parallel MoE (SGLang DP
 * attention, vLLM DP+EP, DeepSeek's inference system): every GPU holds the
 * attention and dense weights and runs them on its own tokens; the MoE layers'
 * time is what the simulator predicts.  Every part is a roofline of one GPU:
 *   gemm(rows, params) = max(params * wb / HBM, 2 * params * rows / peak)
 *   with wb the non-expert weight bytes (1 for an fp8 model, weight_bits 8;
 *   4 for float32; else 2), HBM and peak from the cost model.
 * Per decoder layer, rows r = tokens of the step on one GPU:
 *   MLA projections: q (q_lora_rank 0: H x heads*(nope+rope); else
 *     H x q_lora + q_lora x heads*(nope+rope)), kv_a H x (kv_lora+rope),
 *     kv_b kv_lora x heads*(nope+v), o heads*v x H: one gemm each;
 *   GQA projections: q H x heads*d, k and v H x kv_heads*d, o heads*d x H;
 *   attention core, decode (each token reads the KV of `context` tokens):
 *     bytes = r * context * kv_elems * kv_bytes, MLA flops = 2 * r * heads *
 *     context * (2 kv_lora + rope) (weights absorbed), GQA flops = 4 * r *
 *     heads * context * d; time max(bytes / HBM, flops / peak);
 *   attention core, prefill (sequences of `context` tokens, causal: a token
 *     attends (context + 1) / 2 tokens on average): MLA flops = 2 * r * heads
 *     * avg * (nope + rope + v), GQA 4 * r * heads * avg * d; bytes = 2 * r *
 *     kv_elems * kv_bytes (the cache written and read once);
 *   norms and residuals: 8 * r * H * act_bytes / HBM (two RMSNorms and two
 *     residual adds, each reading and writing the hidden state);
 *   dense decoder layers add an MLP: 3 gemms of H x dense_intermediate.
 * Once per step: embedding r * H * act_bytes / HBM and, unless left out, the
 * LM head gemm(rows_lm, vocab x H), 2-byte weights, with rows_lm = r in decode, r / context
 * (at least 1) in prefill (the last token of each sequence).
 * kv_elems is the cached elements per token and layer (mp_model.h).
 * Kernel launch overheads are not counted (engines run decode under CUDA
 * graphs).
 *
 * Memory: plain values; nothing is allocated.
 */
#ifndef MP_ENDTOEND_H
#define MP_ENDTOEND_H

#include <stdint.h>

#include "sim/mp_cost.h"
#include "traces/mp_error.h"
#include "traces/mp_model.h"

typedef struct mp_e2e_opts {
    int64_t context;   /* KV tokens a decode token reads; prefill sequence length (>= 1) */
    int decode;        /* 1 decode, 0 prefill                                          */
    int lm_head;       /* count the LM head                                            */
    double kv_bytes;   /* bytes per cached KV element (2 bf16, 1 fp8)                   */
} mp_e2e_opts;

/* Non-MoE time of one step on one GPU, microseconds. */
typedef struct mp_e2e_parts {
    double attn_us;   /* attention projections and core, all decoder layers */
    double dense_us;  /* MLPs of the dense decoder layers                   */
    double other_us;  /* norms, residuals, embedding, LM head               */
    double total_us;  /* the sum                                            */
} mp_e2e_parts;

/* context 4096, decode, LM head counted, 2-byte KV. */
mp_e2e_opts mp_e2e_opts_default(void);

/* 0 when the model has what the formulas need (attention known, hidden > 0,
 * vocab when the LM head is counted, dense_intermediate when there are dense
 * decoder layers), else MP_EINVAL naming `what` and the missing figure. */
int mp_e2e_check(const mp_model *m, const mp_e2e_opts *o, const char *what, mp_err *err);

/* The parts for `rows` tokens on one GPU (rows >= 0); the model must pass
 * mp_e2e_check. */
mp_e2e_parts mp_e2e_parts_of(const mp_model *m, const mp_cost *c, const mp_e2e_opts *o, double rows);

#endif
