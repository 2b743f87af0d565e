/*
 * mp_model.h - the shape of a Mixture-of-Experts model, as a routing trace
 * records it.
 *
 * Memory: mp_model is a plain value with no pointers; functions that return
 * a string return heap memory the caller frees with free().
 */
#ifndef MP_MODEL_H
#define MP_MODEL_H

#include <stdint.h>

#include "traces/mp_error.h"

#define MP_MODEL_NAME_MAX 64
#define MP_LAYERS_MAX 4096     /* sanity limits for headers read from files */
#define MP_EXPERTS_MAX 65535   /* expert ids are stored as uint16_t          */
#define MP_TOPK_MAX 64
#define MP_MODEL_DIM_MAX 65536 /* attention heads, ranks and head dims */

typedef enum mp_scoring {
    MP_SCORING_SOFTMAX = 0,      /* softmax over all experts, then top-k        */
    MP_SCORING_SIGMOID = 1,      /* sigmoid + selection bias (DeepSeek-V3)      */
    MP_SCORING_SOFTMAX_TOPK = 2  /* top-k of logits, softmax over the chosen k  */
} mp_scoring;

typedef enum mp_attn_kind {
    MP_ATTN_UNKNOWN = 0,
    MP_ATTN_GQA = 1, /* grouped-query (MHA when kv_heads == heads): K and V per kv head */
    MP_ATTN_MLA = 2  /* multi-head latent attention (DeepSeek-V2/V3): one latent per token */
} mp_attn_kind;

typedef struct mp_model {
    char name[MP_MODEL_NAME_MAX]; /* "deepseek-v3", or "" when unknown      */
    int32_t layers;               /* MoE layers L                           */
    int32_t experts;              /* routed experts per layer E             */
    int32_t top_k;                /* experts chosen per token and layer K   */
    int32_t groups;               /* expert groups G (1 = ungrouped)        */
    int32_t topk_group;           /* groups kept per token (1..G)           */
    int32_t shared;               /* shared experts (always active)         */
    int64_t hidden;               /* hidden size H (0 = unknown)            */
    int64_t intermediate;         /* expert intermediate size (0 = unknown) */
    mp_scoring scoring;
    int normalize_topk;           /* gate weights normalised to sum 1       */
    double routed_scaling;        /* factor on the gate weights (1 = none)  */
    /* Where the MoE layers sit among the decoder layers.  Decoder layer d
     * (0-based) is MoE when d >= first_dense and d % moe_every == moe_phase;
     * the MoE layers, in order, are the trace's layers 0..layers-1.  This is
     * the rule of the Hugging Face configs: DeepSeek first_k_dense_replace
     * (moe_every 1, phase 0), Qwen-MoE decoder_sparse_step and Llama-4
     * interleave_moe_layer_step (moe_every = step, phase = step-1).
     * decoder_layers = 0 means unknown: every decoder layer is taken as MoE. */
    int32_t decoder_layers;       /* num_hidden_layers, dense included (0 = unknown) */
    int32_t first_dense;          /* leading dense decoder layers           */
    int32_t moe_every;            /* MoE every n-th decoder layer (1 = all)  */
    int32_t moe_phase;            /* ... those with d % moe_every == phase   */
    int32_t weight_bits;          /* expert weight bits: 16 bf16, 8 fp8, 4 mxfp4 (0 = unknown) */
    /* The rest of a decoder layer, for step-time and memory estimates (0 =
     * unknown; set from a config or preset).  The attention fields are known
     * together (attn != MP_ATTN_UNKNOWN) or not at all. */
    mp_attn_kind attn;
    int32_t heads;                /* query heads (num_attention_heads)                   */
    int32_t kv_heads;             /* GQA: key/value heads (MLA: = heads)                 */
    int32_t head_dim;             /* GQA: dim of a head (config head_dim, else H/heads)  */
    int32_t q_lora_rank;          /* MLA: query compression rank (0 = a full q projection) */
    int32_t kv_lora_rank;         /* MLA: latent KV rank (cached per token and layer)    */
    int32_t qk_rope_head_dim;     /* MLA: rotary part of a q/k head (cached with the latent) */
    int32_t qk_nope_head_dim;     /* MLA: non-rotary part of a q/k head                  */
    int32_t v_head_dim;           /* MLA: value head dim                                 */
    int64_t vocab;                /* vocabulary size (LM head), 0 = unknown              */
    int64_t dense_intermediate;   /* MLP size of the dense decoder layers, 0 = unknown   */
    int64_t shared_intermediate;  /* MLP size of all shared experts together, 0 = shared * intermediate */
} mp_model;

/* A model with every field at its neutral value: groups = topk_group = 1,
 * routed_scaling = 1, moe_every = 1, everything else 0. */
mp_model mp_model_default(void);

/* Checks the fields against each other and the limits above: 1 <= L <= MP_LAYERS_MAX,
 * 1 <= E <= MP_EXPERTS_MAX, 1 <= K <= min(E, MP_TOPK_MAX), G >= 1 divides E,
 * 1 <= topk_group <= G, K <= topk_group * E/G, shared, hidden, intermediate >= 0;
 * when decoder_layers > 0, the layer rule above yields exactly `layers` MoE layers;
 * attention: unknown with every attention field 0, or MLA with heads and
 * kv_lora_rank > 0, or GQA with heads > 0 and kv_heads dividing heads; sizes
 * at most 2^24 (dims 2^16).
 * Returns 0 or MP_ERANGE with a message starting with `what` (a file name, say). */
int mp_model_validate(const mp_model *m, const char *what, mp_err *err);

/* Serialises the model as a compact JSON object (keys: name, layers, experts,
 * top_k, groups, topk_group, shared, hidden, intermediate, scoring,
 * normalize_topk, routed_scaling; decoder_layers, first_dense, moe_every,
 * moe_phase and weight_bits only when they differ from their defaults;
 * attention ("mla"|"gqa"), heads, kv_heads, head_dim, q_lora_rank,
 * kv_lora_rank, qk_rope_head_dim, qk_nope_head_dim, v_head_dim only when the
 * attention is known; vocab, dense_intermediate, shared_intermediate only
 * when set).  Older readers ignore the keys they do not know.  Returns a heap
 * string the caller frees, or NULL when out of memory. */
char *mp_model_to_json(const mp_model *m);

/* Parses the object written by mp_model_to_json from `json` (len bytes, not
 * necessarily NUL-terminated).  Missing optional keys keep default values;
 * layers, experts and top_k are required.  The result is validated.  `what`
 * names the input in error messages. */
int mp_model_from_json(mp_model *out, const char *json, size_t len, const char *what, mp_err *err);

/* Takes a model from a configuration (a Hugging Face config.json, a preset)
 * into `m`, the model a trace or load file recorded.  experts, top_k and
 * layers (MoE layers) must agree: MP_ESHAPE naming both (`what` names m's
 * file, `cfg_what` the configuration).  A field m does not know (name "",
 * hidden or intermediate 0, shared 0, groups 1, decoder_layers 0,
 * weight_bits 0, attention unknown, vocab, dense_intermediate or
 * shared_intermediate 0) takes cfg's; a known one that differs from cfg's is
 * MP_ESHAPE too (a config of another model).  The routing fields (scoring,
 * normalize_topk, routed_scaling) are cfg's.  The result is validated;
 * m is unchanged on failure. */
int mp_model_apply_config(mp_model *m, const mp_model *cfg, const char *what, const char *cfg_what, mp_err *err);

/* Sets the MoE layer count to `layers`; when the decoder-layer rule no longer
 * gives that many, the rule is dropped (decoder_layers 0: unknown). */
void mp_model_set_layers(mp_model *m, int32_t layers);

/* Decoder layers of the model: decoder_layers, or layers when unknown. */
int32_t mp_model_decoder_count(const mp_model *m);
/* The decoder layer index (0-based) of MoE layer `moe_layer` (0..layers-1),
 * or -1 when out of range. */
int32_t mp_model_decoder_of(const mp_model *m, int32_t moe_layer);
/* The MoE layer index of decoder layer `decoder`, or -1 when that decoder
 * layer is dense or out of range. */
int32_t mp_model_moe_of(const mp_model *m, int32_t decoder);

/* KV-cache bytes one token takes over all decoder layers (dense included)
 * at bytes_per_elem bytes per cached element (2 for bf16, 1 for fp8):
 *   MLA: (kv_lora_rank + qk_rope_head_dim) elements per layer (the latent
 *        and the rotary key, as vLLM and SGLang cache them);
 *   GQA: 2 * kv_heads * head_dim elements per layer (K and V).
 * Rounded to the nearest byte; 0 when the attention is unknown. */
int64_t mp_model_kv_bytes_per_token(const mp_model *m, double bytes_per_elem);

/* MLP size of all shared experts of a MoE layer together: shared_intermediate,
 * else shared * intermediate. */
int64_t mp_model_shared_size(const mp_model *m);

const char *mp_attn_name(mp_attn_kind a);  /* "mla", "gqa" or "unknown" */

const char *mp_scoring_name(mp_scoring s);
/* Returns 0 and sets *out, or MP_ENOTFOUND for an unknown name. */
int mp_scoring_parse(const char *name, mp_scoring *out);

#endif
