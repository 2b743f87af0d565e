/*
 * mp_hfconfig.h - a Hugging Face config.json as a model shape.
 *
 * Reads the keys of the MoE families DeepSeek-V2/V3 (also Kimi-K2),
 * Qwen2-MoE/Qwen3-MoE, Mixtral, gpt-oss and Llama-4 (whose text keys sit in a
 * nested "text_config"; each key is looked up there first, then at the top):
 *   experts       n_routed_experts | num_experts | num_local_experts
 *   top_k         num_experts_per_tok | experts_per_token
 *   hidden        hidden_size
 *   intermediate  moe_intermediate_size, else intermediate_size (Mixtral,
 *                 gpt-oss and Llama-4 name the expert size so)
 *   groups        n_group, topk_group (absent or null: 1)
 *   shared        n_shared_experts; Llama-4: 1; Qwen2-MoE: 1 when
 *                 shared_expert_intermediate_size > 0
 *   decoder_layers num_hidden_layers, and which of them are MoE:
 *     DeepSeek  d >= first_k_dense_replace and d % moe_layer_freq == 0
 *     Qwen      d not in mlp_only_layers and (d + 1) % decoder_sparse_step == 0
 *     Llama-4   d in moe_layers, default range(step - 1, n, step) with
 *               step = interleave_moe_layer_step
 *     others    every decoder layer
 *   The set found must be "d >= first_dense and d % moe_every == moe_phase"
 *   (mp_model.h); one that is not (an mlp_only_layers or moe_layers list in
 *   the middle) is an error naming the key.
 *   scoring       scoring_func sigmoid|softmax; absent: by model_type
 *                 (mixtral, gpt_oss: top-k of logits then softmax; llama4:
 *                 sigmoid; else softmax)
 *   normalize_topk norm_topk_prob (absent: true for top-k softmax, else false)
 *   routed_scaling routed_scaling_factor (absent: 1)
 *   weight_bits   quantization_config.quant_method fp8 -> 8, mxfp4 -> 4, else
 *                 its "bits" when 4 or 8; no quantization_config: torch_dtype
 *                 (or dtype) bfloat16/float16 -> 16, float32 -> 32; else 0
 *   name          model_type with '_' as '-' ("deepseek-v3")
 *   attention     MLA when kv_lora_rank > 0: q_lora_rank (null: 0),
 *                 kv_lora_rank, qk_rope_head_dim, qk_nope_head_dim,
 *                 v_head_dim; else GQA: num_attention_heads,
 *                 num_key_value_heads (absent: heads), head_dim (absent:
 *                 hidden_size / heads); no num_attention_heads: unknown
 *   vocab         vocab_size
 *   dense_intermediate  Llama-4: intermediate_size_mlp; DeepSeek, Qwen (which
 *                 name the expert size moe_intermediate_size):
 *                 intermediate_size; else 0
 *   shared_intermediate  shared_expert_intermediate_size (Qwen2-MoE)
 * Messages name the file and the key (its JSON path), never a flag.
 *
 * Memory: nothing is allocated that outlives a call.
 */
#ifndef MP_HFCONFIG_H
#define MP_HFCONFIG_H

#include <stddef.h>

#include "traces/mp_error.h"
#include "traces/mp_model.h"

/* Largest config file read (real ones are 1-10 KB). */
#define MP_HFCONFIG_BYTES_MAX (1 << 20)

/* Parses config.json text (len bytes, not necessarily NUL-terminated);
 * `what` names it in messages.  The result is validated (mp_model_validate).
 * Returns 0, MP_EFORMAT, MP_ERANGE or MP_ENOMEM. */
int mp_hfconfig_parse(mp_model *out, const char *json, size_t len, const char *what, mp_err *err);

/* Reads and parses the file at path (at most MP_HFCONFIG_BYTES_MAX bytes:
 * MP_ELIMIT beyond).  Returns 0, MP_EIO or as mp_hfconfig_parse. */
int mp_hfconfig_read(mp_model *out, const char *path, mp_err *err);

#endif
