/* model_test.c - the model's decoder-layer rule (mp_model.h), taking a
 * configuration's model into a trace's, and Hugging Face config.json
 * reading (mp_hfconfig.h) for every family's keys. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "traces/formats/mp_hfconfig.h"
#include "traces/gen/mp_gen.h"
#include "traces/mp_model.h"

static mp_model rule(int32_t layers, int32_t decoder, int32_t first, int32_t every, int32_t phase)
{
    mp_model m = mp_model_default();
    m.layers = layers;
    m.experts = 16;
    m.top_k = 2;
    m.decoder_layers = decoder;
    m.first_dense = first;
    m.moe_every = every;
    m.moe_phase = phase;
    return m;
}

static void test_decoder_of_and_moe_of(void **state)
{
    (void)state;
    /* DeepSeek-V3: 61 decoder layers, first 3 dense */
    mp_model m = rule(58, 61, 3, 1, 0);
    assert_int_equal(mp_model_validate(&m, "t", NULL), 0);
    assert_int_equal(mp_model_decoder_count(&m), 61);
    assert_int_equal(mp_model_decoder_of(&m, 0), 3);
    assert_int_equal(mp_model_decoder_of(&m, 57), 60);
    assert_int_equal(mp_model_decoder_of(&m, 58), -1);
    assert_int_equal(mp_model_decoder_of(&m, -1), -1);
    assert_int_equal(mp_model_moe_of(&m, 2), -1);
    assert_int_equal(mp_model_moe_of(&m, 3), 0);
    assert_int_equal(mp_model_moe_of(&m, 60), 57);
    assert_int_equal(mp_model_moe_of(&m, 61), -1);
    /* Llama-4 Maverick: MoE at 1, 3, ..., 47 */
    m = rule(24, 48, 0, 2, 1);
    assert_int_equal(mp_model_validate(&m, "t", NULL), 0);
    assert_int_equal(mp_model_decoder_of(&m, 0), 1);
    assert_int_equal(mp_model_decoder_of(&m, 23), 47);
    assert_int_equal(mp_model_moe_of(&m, 0), -1);
    assert_int_equal(mp_model_moe_of(&m, 46), -1);
    assert_int_equal(mp_model_moe_of(&m, 47), 23);
    for (int32_t l = 0; l < 24; l++) assert_int_equal(mp_model_moe_of(&m, mp_model_decoder_of(&m, l)), l);
    /* unknown decoder layers: every layer is MoE */
    m = rule(4, 0, 0, 1, 0);
    assert_int_equal(mp_model_decoder_count(&m), 4);
    assert_int_equal(mp_model_decoder_of(&m, 3), 3);
    assert_int_equal(mp_model_moe_of(&m, 4), -1);
}

static void test_validate_rule(void **state)
{
    (void)state;
    mp_err err;
    mp_model m = rule(58, 61, 2, 1, 0); /* 59 MoE layers, not 58 */
    assert_int_equal(mp_model_validate(&m, "x", &err), MP_ERANGE);
    assert_non_null(strstr(err.msg, "hold 59 MoE layers, not 58"));
    m = rule(24, 48, 0, 2, 2); /* phase outside 0..every-1 */
    assert_int_equal(mp_model_validate(&m, "x", &err), MP_ERANGE);
    m = rule(4, 0, 1, 1, 0); /* a rule without decoder layers */
    assert_int_equal(mp_model_validate(&m, "x", &err), MP_ERANGE);
    assert_non_null(strstr(err.msg, "needs decoder_layers"));
    m = rule(4, 4, 0, 1, 0);
    m.weight_bits = 6;
    assert_int_equal(mp_model_validate(&m, "x", &err), MP_ERANGE);
    /* set_layers drops a rule that no longer holds, keeps one that does */
    m = rule(58, 61, 3, 1, 0);
    mp_model_set_layers(&m, 58);
    assert_int_equal(m.decoder_layers, 61);
    mp_model_set_layers(&m, 6);
    assert_int_equal(m.decoder_layers, 0);
    assert_int_equal(m.first_dense, 0);
    assert_int_equal(mp_model_validate(&m, "x", NULL), 0);
}

static void test_apply_config(void **state)
{
    (void)state;
    mp_err err;
    mp_model cfg = rule(58, 61, 3, 1, 0);
    cfg.experts = 256;
    cfg.top_k = 8;
    cfg.groups = 8;
    cfg.topk_group = 4;
    cfg.hidden = 7168;
    cfg.intermediate = 2048;
    cfg.shared = 1;
    cfg.weight_bits = 8;
    cfg.scoring = MP_SCORING_SIGMOID;
    strcpy(cfg.name, "deepseek-v3");
    /* a shapeless trace (from .npy) takes everything it lacks */
    mp_model t = mp_model_default();
    t.layers = 58;
    t.experts = 256;
    t.top_k = 8;
    assert_int_equal(mp_model_apply_config(&t, &cfg, "t.npy", "config.json", &err), 0);
    assert_int_equal(t.hidden, 7168);
    assert_int_equal(t.intermediate, 2048);
    assert_int_equal(t.groups, 8);
    assert_int_equal(t.topk_group, 4);
    assert_int_equal(t.decoder_layers, 61);
    assert_int_equal(t.first_dense, 3);
    assert_int_equal(t.weight_bits, 8);
    assert_int_equal(t.shared, 1);
    assert_int_equal(t.scoring, MP_SCORING_SIGMOID);
    assert_string_equal(t.name, "deepseek-v3");
    /* applying it again changes nothing */
    mp_model again = t;
    assert_int_equal(mp_model_apply_config(&again, &cfg, "t.npy", "config.json", &err), 0);
    assert_memory_equal(&again, &t, sizeof t);
    /* identity fields must agree; m is left as it was */
    mp_model u = mp_model_default();
    u.layers = 60;
    u.experts = 256;
    u.top_k = 8;
    mp_model keep = u;
    assert_int_equal(mp_model_apply_config(&u, &cfg, "t.npy", "config.json", &err), MP_ESHAPE);
    assert_string_equal(err.msg, "t.npy has 60 MoE layers, config.json has 58");
    assert_memory_equal(&u, &keep, sizeof u);
    u.layers = 58;
    u.experts = 384;
    assert_int_equal(mp_model_apply_config(&u, &cfg, "t.npy", "config.json", &err), MP_ESHAPE);
    assert_string_equal(err.msg, "t.npy has 384 experts, config.json has 256");
    u.experts = 256;
    u.top_k = 6;
    assert_int_equal(mp_model_apply_config(&u, &cfg, "t.npy", "config.json", &err), MP_ESHAPE);
    /* a known size of another model */
    u.top_k = 8;
    u.hidden = 4096;
    assert_int_equal(mp_model_apply_config(&u, &cfg, "t.mpt", "config.json", &err), MP_ESHAPE);
    assert_string_equal(err.msg, "t.mpt has hidden size 4096, config.json has 7168");
    /* another decoder-layer rule */
    u.hidden = 0;
    u.decoder_layers = 58;
    assert_int_equal(mp_model_apply_config(&u, &cfg, "t.mpt", "config.json", &err), MP_ESHAPE);
    assert_non_null(strstr(err.msg, "MoE layer 0 at decoder layer 0, config.json at 3"));
}

static int parse(const char *json, mp_model *m, mp_err *err)
{
    return mp_hfconfig_parse(m, json, strlen(json), "config.json", err);
}

static void test_hf_families(void **state)
{
    (void)state;
    mp_model m;
    mp_err err;
    /* DeepSeek-V3 (and Kimi-K2's keys) */
    assert_int_equal(parse("{\"model_type\":\"deepseek_v3\",\"hidden_size\":7168,\"moe_intermediate_size\":2048,"
                           "\"intermediate_size\":18432,\"n_routed_experts\":256,\"num_experts_per_tok\":8,"
                           "\"n_group\":8,\"topk_group\":4,\"n_shared_experts\":1,\"num_hidden_layers\":61,"
                           "\"first_k_dense_replace\":3,\"moe_layer_freq\":1,\"scoring_func\":\"sigmoid\","
                           "\"norm_topk_prob\":true,\"routed_scaling_factor\":2.5,\"topk_method\":\"noaux_tc\","
                           "\"quantization_config\":{\"quant_method\":\"fp8\"},\"torch_dtype\":\"bfloat16\"}",
                           &m, &err),
                     0);
    assert_string_equal(m.name, "deepseek-v3");
    assert_int_equal(m.layers, 58);
    assert_int_equal(m.decoder_layers, 61);
    assert_int_equal(m.first_dense, 3);
    assert_int_equal(m.experts, 256);
    assert_int_equal(m.top_k, 8);
    assert_int_equal(m.groups, 8);
    assert_int_equal(m.topk_group, 4);
    assert_int_equal(m.shared, 1);
    assert_int_equal(m.hidden, 7168);
    assert_int_equal(m.intermediate, 2048);
    assert_int_equal(m.scoring, MP_SCORING_SIGMOID);
    assert_int_equal(m.normalize_topk, 1);
    assert_true(m.routed_scaling == 2.5);
    assert_int_equal(m.weight_bits, 8);
    /* DeepSeek with MoE every 2nd layer from layer 3 on: 4, 6, ..., 10 */
    assert_int_equal(parse("{\"n_routed_experts\":8,\"num_experts_per_tok\":2,\"num_hidden_layers\":12,"
                           "\"first_k_dense_replace\":3,\"moe_layer_freq\":2}",
                           &m, &err),
                     0);
    assert_int_equal(m.layers, 4);
    assert_int_equal(mp_model_decoder_of(&m, 0), 4);
    assert_int_equal(mp_model_decoder_of(&m, 3), 10);
    /* DeepSeek-V2-Lite: greedy top-k ignores groups */
    assert_int_equal(parse("{\"model_type\":\"deepseek_v2\",\"n_routed_experts\":64,\"num_experts_per_tok\":6,"
                           "\"n_group\":8,\"topk_group\":3,\"topk_method\":\"greedy\",\"num_hidden_layers\":27,"
                           "\"first_k_dense_replace\":1,\"norm_topk_prob\":false,\"scoring_func\":\"softmax\"}",
                           &m, &err),
                     0);
    assert_int_equal(m.groups, 1);
    assert_int_equal(m.layers, 26);
    assert_int_equal(m.normalize_topk, 0);
    /* Qwen: decoder_sparse_step 2 and an mlp_only_layers prefix: MoE at 3, 5, 7 */
    assert_int_equal(parse("{\"model_type\":\"qwen2_moe\",\"num_experts\":60,\"num_experts_per_tok\":4,"
                           "\"shared_expert_intermediate_size\":5632,\"num_hidden_layers\":8,"
                           "\"decoder_sparse_step\":2,\"mlp_only_layers\":[1]}",
                           &m, &err),
                     0);
    assert_int_equal(m.layers, 3);
    assert_int_equal(m.shared, 1);
    assert_int_equal(mp_model_decoder_of(&m, 0), 3);
    assert_int_equal(mp_model_decoder_of(&m, 2), 7);
    /* Qwen: a dense layer in the middle has no rule */
    assert_int_equal(parse("{\"num_experts\":8,\"num_experts_per_tok\":2,\"num_hidden_layers\":6,"
                           "\"mlp_only_layers\":[3]}",
                           &m, &err),
                     MP_EFORMAT);
    assert_string_equal(err.msg, "config.json: with mlp_only_layers, the MoE layers (decoder layer 3 is dense) are "
                                 "not every n-th layer from some layer on");
    /* Mixtral and gpt-oss: the expert size is intermediate_size; top-k softmax */
    assert_int_equal(parse("{\"model_type\":\"gpt_oss\",\"num_local_experts\":128,\"experts_per_token\":4,"
                           "\"hidden_size\":2880,\"intermediate_size\":2880,\"num_hidden_layers\":36,"
                           "\"quantization_config\":{\"quant_method\":\"mxfp4\"}}",
                           &m, &err),
                     0);
    assert_int_equal(m.top_k, 4);
    assert_int_equal(m.intermediate, 2880);
    assert_int_equal(m.scoring, MP_SCORING_SOFTMAX_TOPK);
    assert_int_equal(m.normalize_topk, 1);
    assert_int_equal(m.weight_bits, 4);
    assert_int_equal(m.layers, 36);
    /* Llama-4: keys under text_config, MoE every 2nd layer, one shared expert */
    assert_int_equal(parse("{\"model_type\":\"llama4\",\"text_config\":{\"model_type\":\"llama4_text\","
                           "\"num_local_experts\":128,\"num_experts_per_tok\":1,\"hidden_size\":5120,"
                           "\"intermediate_size\":8192,\"intermediate_size_mlp\":16384,\"num_hidden_layers\":48,"
                           "\"interleave_moe_layer_step\":2,\"torch_dtype\":\"bfloat16\"}}",
                           &m, &err),
                     0);
    assert_string_equal(m.name, "llama4");
    assert_int_equal(m.layers, 24);
    assert_int_equal(m.decoder_layers, 48);
    assert_int_equal(m.moe_every, 2);
    assert_int_equal(m.moe_phase, 1);
    assert_int_equal(m.shared, 1);
    assert_int_equal(m.intermediate, 8192);
    assert_int_equal(m.scoring, MP_SCORING_SIGMOID);
    assert_int_equal(m.weight_bits, 16);
    /* Llama-4's explicit moe_layers */
    assert_int_equal(parse("{\"model_type\":\"llama4\",\"text_config\":{\"num_local_experts\":4,"
                           "\"num_experts_per_tok\":1,\"num_hidden_layers\":3,\"moe_layers\":[1]}}",
                           &m, &err),
                     0);
    assert_int_equal(m.layers, 1);
    assert_int_equal(mp_model_decoder_of(&m, 0), 1);
    assert_int_equal(mp_model_moe_of(&m, 2), -1);
}

static void test_hf_bad(void **state)
{
    (void)state;
    mp_model m;
    mp_err err;
    static const struct {
        const char *json, *msg;
    } bad[] = {
        {"[1]", "config.json: not a JSON object"},
        {"{\"num_experts_per_tok\":2,\"num_hidden_layers\":2}",
         "config.json: no expert count (n_routed_experts, num_experts or num_local_experts): not a MoE config"},
        {"{\"num_experts\":0,\"num_experts_per_tok\":2,\"num_hidden_layers\":2}", "config.json: \"num_experts\" is 0: not a MoE model"},
        {"{\"num_experts\":8,\"num_hidden_layers\":2}", "config.json: no \"num_experts_per_tok\" (or \"experts_per_token\")"},
        {"{\"num_experts\":8,\"num_experts_per_tok\":2}", "config.json: no \"num_hidden_layers\""},
        {"{\"num_experts\":8.5,\"num_experts_per_tok\":2,\"num_hidden_layers\":2}", "config.json: \"num_experts\" is not an integer"},
        {"{\"text_config\":{\"num_experts\":1e300},\"num_experts_per_tok\":2,\"num_hidden_layers\":2}",
         "config.json: \"text_config.num_experts\" = 1.0000000000000001e+300 is outside 0..65535"},
        {"{\"num_experts\":8,\"num_experts_per_tok\":2,\"num_hidden_layers\":9999}",
         "config.json: \"num_hidden_layers\" = 9999 is outside 1..4096"},
        {"{\"num_experts\":8,\"num_experts_per_tok\":2,\"num_hidden_layers\":4,\"mlp_only_layers\":[9]}",
         "config.json: \"mlp_only_layers\"[0] is not a decoder layer index (0..3)"},
        {"{\"num_experts\":8,\"num_experts_per_tok\":2,\"num_hidden_layers\":4,\"first_k_dense_replace\":4}",
         "config.json: with first_k_dense_replace, none of the 4 decoder layers is MoE"},
        {"{\"num_experts\":8,\"num_experts_per_tok\":2,\"num_hidden_layers\":4,\"scoring_func\":\"relu\"}",
         "config.json: \"scoring_func\" is neither sigmoid nor softmax"},
        {"{\"num_experts\":8,\"num_experts_per_tok\":2,\"num_hidden_layers\":4,\"n_group\":3}",
         "config.json: groups 3 does not divide experts 8"},
        {"{\"num_experts\":8,\"num_experts_per_tok\":9,\"num_hidden_layers\":4}", "config.json: top_k 9 outside 1..8"},
        {"{\"model_type\":\"a\\u0000b\",\"num_experts\":8}", "config.json: holds a NUL character (\\u0000 at byte 16)"},
        {"{\"num_experts\":8,", "config.json: not valid JSON (byte 16)"},
        {"{\"text_config\":3}", "config.json: \"text_config\" is not an object"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = parse(bad[i].json, &m, &err);
        assert_true(rc < 0);
        assert_string_equal(err.msg, bad[i].msg);
    }
    assert_int_equal(mp_hfconfig_read(&m, "/nonexistent/config.json", &err), MP_EIO);
}

/* Attention and the rest of a decoder layer: each preset agrees with its
 * model's published config.json (tests/data/hf), the KV-cache bytes per token
 * follow from them, and they survive a trace header and a config merge. */
static void test_attention(void **state)
{
    (void)state;
    static const struct {
        const char *preset, *file;
        int64_t kv_bf16; /* KV bytes per token over all decoder layers at 2 bytes per element */
    } cases[] = {
        {"deepseek-v3", "deepseek-v3", 61 * (512 + 64) * 2},        /* MLA: latent + rope key */
        {"kimi-k2", "kimi-k2", 61 * (512 + 64) * 2},
        {"deepseek-v2-lite", "deepseek-v2-lite", 27 * (512 + 64) * 2},
        {"qwen3-235b-a22b", "qwen3-235b-a22b", 94 * 2 * 4 * 128 * 2}, /* GQA: K and V of 4 kv heads */
        {"mixtral-8x7b", "mixtral-8x7b", 32 * 2 * 8 * 128 * 2},      /* head_dim = 4096 / 32 */
        {"gpt-oss-120b", "gpt-oss-120b", 36 * 2 * 8 * 64 * 2},
        {"llama-4-maverick", "llama-4-maverick", 48 * 2 * 8 * 128 * 2},
        {"llama-4-scout", "llama-4-scout", 48 * 2 * 8 * 128 * 2},
    };
    mp_err err;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        mp_model p, h;
        char path[512];
        snprintf(path, sizeof path, "%s/hf/%s.json", MP_TEST_DATA, cases[i].file);
        assert_int_equal(mp_gen_preset_find(cases[i].preset, &p, &err), 0);
        assert_int_equal(mp_hfconfig_read(&h, path, &err), 0);
        assert_int_equal(p.attn, h.attn);
        assert_int_equal(p.heads, h.heads);
        assert_int_equal(p.kv_heads, h.kv_heads);
        assert_int_equal(p.head_dim, h.head_dim);
        assert_int_equal(p.q_lora_rank, h.q_lora_rank);
        assert_int_equal(p.kv_lora_rank, h.kv_lora_rank);
        assert_int_equal(p.qk_rope_head_dim, h.qk_rope_head_dim);
        assert_int_equal(p.qk_nope_head_dim, h.qk_nope_head_dim);
        assert_int_equal(p.v_head_dim, h.v_head_dim);
        assert_int_equal(p.vocab, h.vocab);
        assert_int_equal(p.dense_intermediate, h.dense_intermediate);
        assert_int_equal(mp_model_kv_bytes_per_token(&p, 2.0), cases[i].kv_bf16);
        assert_int_equal(mp_model_kv_bytes_per_token(&h, 1.0), cases[i].kv_bf16 / 2);
        /* the trace header keeps them */
        char *js = mp_model_to_json(&p);
        assert_non_null(js);
        mp_model back;
        assert_int_equal(mp_model_from_json(&back, js, strlen(js), "t", &err), 0);
        free(js);
        assert_memory_equal(&back.attn, &p.attn,
                            offsetof(mp_model, shared_intermediate) + sizeof p.shared_intermediate -
                                offsetof(mp_model, attn));
    }
    /* DeepSeek-V2-Lite: no query compression; DeepSeek-V3: dense layers of 18432 */
    mp_model m;
    assert_int_equal(mp_gen_preset_find("deepseek-v2-lite", &m, &err), 0);
    assert_int_equal(m.attn, MP_ATTN_MLA);
    assert_int_equal(m.q_lora_rank, 0);
    assert_string_equal(mp_attn_name(m.attn), "mla");
    /* Qwen2-MoE: one shared expert of shared_expert_intermediate_size */
    char path[512];
    snprintf(path, sizeof path, "%s/hf/qwen2-57b-a14b.json", MP_TEST_DATA);
    assert_int_equal(mp_hfconfig_read(&m, path, &err), 0);
    assert_int_equal(m.attn, MP_ATTN_GQA);
    assert_int_equal(m.head_dim, 128); /* 3584 / 28 */
    assert_int_equal(m.shared_intermediate, 20480);
    assert_int_equal(mp_model_shared_size(&m), 20480);
    assert_int_equal(m.dense_intermediate, 18944);
    /* unknown attention: no KV figure; an old header (no attention keys) reads as unknown */
    mp_model u = mp_model_default();
    u.layers = 2, u.experts = 8, u.top_k = 2, u.intermediate = 100, u.shared = 2;
    assert_int_equal(mp_model_kv_bytes_per_token(&u, 2.0), 0);
    assert_int_equal(mp_model_shared_size(&u), 200);
    const char *old = "{\"layers\":2,\"experts\":8,\"top_k\":2}";
    assert_int_equal(mp_model_from_json(&u, old, strlen(old), "t", &err), 0);
    assert_int_equal(u.attn, MP_ATTN_UNKNOWN);
    /* a trace without attention takes the config's; a different one is refused */
    mp_model cfg;
    assert_int_equal(mp_gen_preset_find("deepseek-v3", &cfg, &err), 0);
    mp_model t = mp_model_default();
    t.layers = 58, t.experts = 256, t.top_k = 8;
    assert_int_equal(mp_model_apply_config(&t, &cfg, "trace", "config", &err), 0);
    assert_int_equal(t.attn, MP_ATTN_MLA);
    assert_int_equal(t.kv_lora_rank, 512);
    assert_int_equal(t.vocab, 129280);
    cfg.kv_lora_rank = 256;
    assert_int_equal(mp_model_apply_config(&t, &cfg, "trace", "config", &err), MP_ESHAPE);
    assert_string_equal(err.msg, "trace has kv_lora_rank 512, config has 256");
    /* bad attention in headers and configs */
    static const struct {
        const char *json, *msg;
    } bad_hdr[] = {
        {"{\"layers\":2,\"experts\":8,\"top_k\":2,\"attention\":\"mha\"}",
         "t: model field \"attention\" is neither \"mla\" nor \"gqa\""},
        {"{\"layers\":2,\"experts\":8,\"top_k\":2,\"attention\":\"gqa\",\"heads\":6,\"kv_heads\":4,\"head_dim\":8}",
         "t: GQA attention needs heads (6) a multiple of kv_heads (4)"},
        {"{\"layers\":2,\"experts\":8,\"top_k\":2,\"attention\":\"mla\",\"heads\":6}",
         "t: MLA attention needs heads and kv_lora_rank"},
        {"{\"layers\":2,\"experts\":8,\"top_k\":2,\"heads\":6}", "t: attention sizes without an attention kind"},
        {"{\"layers\":2,\"experts\":8,\"top_k\":2,\"vocab\":1e9}", "t: model field \"vocab\" = 1000000000 out of range"},
    };
    for (size_t i = 0; i < sizeof bad_hdr / sizeof bad_hdr[0]; i++) {
        assert_true(mp_model_from_json(&u, bad_hdr[i].json, strlen(bad_hdr[i].json), "t", &err) < 0);
        assert_string_equal(err.msg, bad_hdr[i].msg);
    }
    assert_true(parse("{\"num_experts\":8,\"num_experts_per_tok\":2,\"num_hidden_layers\":4,"
                      "\"num_attention_heads\":6,\"num_key_value_heads\":4,\"head_dim\":8}",
                      &m, &err) < 0);
    assert_string_equal(err.msg,
                        "config.json: \"num_attention_heads\" 6 is not a multiple of \"num_key_value_heads\" 4");
    assert_true(parse("{\"num_experts\":8,\"num_experts_per_tok\":2,\"num_hidden_layers\":4,"
                      "\"num_attention_heads\":6,\"hidden_size\":100}",
                      &m, &err) < 0);
    assert_string_equal(err.msg, "config.json: no \"head_dim\", and \"hidden_size\" is not a multiple of "
                                 "\"num_attention_heads\"");
    /* MHA when num_key_value_heads is absent */
    assert_int_equal(parse("{\"num_experts\":8,\"num_experts_per_tok\":2,\"num_hidden_layers\":4,"
                           "\"num_attention_heads\":4,\"hidden_size\":64}",
                           &m, &err),
                     0);
    assert_int_equal(m.kv_heads, 4);
    assert_int_equal(m.head_dim, 16);
    assert_int_equal(mp_model_kv_bytes_per_token(&m, 2.0), 4 * 2 * 4 * 16 * 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decoder_of_and_moe_of),
        cmocka_unit_test(test_validate_rule),
        cmocka_unit_test(test_apply_config),
        cmocka_unit_test(test_hf_families),
        cmocka_unit_test(test_hf_bad),
        cmocka_unit_test(test_attention),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
