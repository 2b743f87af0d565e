/* e2e_test.c - the non-MoE part of a decoder step (sim/mp_endtoend.h): each
 * formula checked by hand on small shapes, the roofline's two regimes, and
 * the checks on what the model must give. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <string.h>

#include "sim/mp_endtoend.h"
#include "traces/gen/mp_gen.h"

/* A GQA model: 4 decoder layers, the first dense; H 64, 8 heads of 16, 2 kv heads. */
static mp_model gqa(void)
{
    mp_model m = mp_model_default();
    m.layers = 3, m.experts = 8, m.top_k = 2, m.hidden = 64, m.intermediate = 32;
    m.decoder_layers = 4, m.first_dense = 1;
    m.attn = MP_ATTN_GQA, m.heads = 8, m.kv_heads = 2, m.head_dim = 16;
    m.vocab = 1000, m.dense_intermediate = 128, m.weight_bits = 16;
    return m;
}

/* HBM 1 GB/s = 1e3 bytes/us, peak 1 TFLOP/s = 1e6 flop/us: weight reads dominate */
static mp_cost slow_hbm(void)
{
    mp_cost c = mp_cost_default();
    c.hbm_GBps = 1;
    c.peak_tflops = 1e6;
    c.act_bytes = 2;
    return c;
}

static void test_gqa_decode_by_hand(void **state)
{
    (void)state;
    mp_model m = gqa();
    mp_cost c = slow_hbm();
    mp_e2e_opts o = mp_e2e_opts_default();
    o.context = 100;
    assert_int_equal(mp_e2e_check(&m, &o, "t", NULL), 0);
    double r = 10;
    mp_e2e_parts p = mp_e2e_parts_of(&m, &c, &o, r);
    /* projections: q 64x128, k and v 64x32, o 128x64, 2 bytes each, at 1e3 bytes/us */
    double proj = (64.0 * 128 + 2 * 64 * 32 + 128 * 64) * 2 / 1e3;
    /* core: 10 tokens x 100 context x (2 * 2 * 16) elements x 2 bytes */
    double core = 10.0 * 100 * 64 * 2 / 1e3;
    assert_true(fabs(p.attn_us - 4 * (proj + core)) < 1e-9);
    /* one dense layer: 3 x 64x128 weights */
    assert_true(fabs(p.dense_us - 3 * 64.0 * 128 * 2 / 1e3) < 1e-9);
    /* norms 4 layers x 8 x r x H x 2, embedding r x H x 2, LM head 1000 x 64 x 2 */
    double other = (4 * 8 * 10.0 * 64 * 2 + 10.0 * 64 * 2 + 1000.0 * 64 * 2) / 1e3;
    assert_true(fabs(p.other_us - other) < 1e-9);
    assert_true(fabs(p.total_us - (p.attn_us + p.dense_us + p.other_us)) < 1e-9);
    /* no LM head: that much less */
    o.lm_head = 0;
    mp_e2e_parts q = mp_e2e_parts_of(&m, &c, &o, r);
    assert_true(fabs(p.other_us - q.other_us - 1000.0 * 64 * 2 / 1e3) < 1e-9);
    /* no tokens: nothing */
    q = mp_e2e_parts_of(&m, &c, &o, 0);
    assert_true(q.total_us == 0);
}

static void test_compute_bound_prefill(void **state)
{
    (void)state;
    mp_model m = gqa();
    mp_cost c = mp_cost_default();
    c.hbm_GBps = 1e9; /* reads free: flops dominate */
    c.peak_tflops = 1; /* 1e6 flop/us */
    mp_e2e_opts o = mp_e2e_opts_default();
    o.decode = 0;
    o.context = 9; /* causal: 5 tokens attended on average */
    o.lm_head = 0;
    double r = 18;
    mp_e2e_parts p = mp_e2e_parts_of(&m, &c, &o, r);
    double proj = 2.0 * r * (64.0 * 128 + 2 * 64 * 32 + 128 * 64) / 1e6;
    double core = 4.0 * r * 8 * 5 * 16 / 1e6;
    assert_true(fabs(p.attn_us - 4 * (proj + core)) / p.attn_us < 1e-6);
    /* the rows double: so does every compute-bound part */
    mp_e2e_parts p2 = mp_e2e_parts_of(&m, &c, &o, 2 * r);
    assert_true(fabs(p2.attn_us - 2 * p.attn_us) / p.attn_us < 1e-6);
    assert_true(fabs(p2.dense_us - 2 * p.dense_us) / p.dense_us < 1e-6);
}

static void test_mla(void **state)
{
    (void)state;
    mp_model m;
    assert_int_equal(mp_gen_preset_find("deepseek-v3", &m, NULL), 0);
    mp_cost c = slow_hbm();
    mp_e2e_opts o = mp_e2e_opts_default();
    o.context = 1000;
    o.lm_head = 0;
    mp_e2e_parts p = mp_e2e_parts_of(&m, &c, &o, 1);
    /* fp8 weights (1 byte): q_a 7168x1536, q_b 1536x128x192, kv_a 7168x576, kv_b 512x128x256, o 128x128x7168 */
    double proj = (7168.0 * 1536 + 1536.0 * 128 * 192 + 7168.0 * 576 + 512.0 * 128 * 256 + 128.0 * 128 * 7168) / 1e3;
    double core = 1000.0 * 576 * 2 / 1e3; /* one token reads 1000 latents of 576 bf16 elements */
    assert_true(fabs(p.attn_us - 61 * (proj + core)) / p.attn_us < 1e-9);
    /* 3 dense layers of 3 x 7168 x 18432, fp8 */
    assert_true(fabs(p.dense_us - 3 * 3 * 7168.0 * 18432 / 1e3) / p.dense_us < 1e-9);
    /* the KV read grows with the context, the projections do not */
    o.context = 2000;
    mp_e2e_parts p2 = mp_e2e_parts_of(&m, &c, &o, 1);
    assert_true(fabs(p2.attn_us - p.attn_us - 61 * core) / p.attn_us < 1e-9);
}

static void test_check(void **state)
{
    (void)state;
    mp_err err;
    mp_e2e_opts o = mp_e2e_opts_default();
    mp_model m = gqa();
    m.attn = MP_ATTN_UNKNOWN, m.heads = m.kv_heads = m.head_dim = 0;
    assert_int_equal(mp_e2e_check(&m, &o, "t.mpt", &err), MP_EINVAL);
    assert_string_equal(err.msg, "t.mpt: the model does not give its attention (num_attention_heads, kv_lora_rank "
                                 "or num_key_value_heads)");
    m = gqa();
    m.vocab = 0;
    assert_int_equal(mp_e2e_check(&m, &o, "t.mpt", &err), MP_EINVAL);
    assert_string_equal(err.msg, "t.mpt: the model does not give its vocabulary size");
    o.lm_head = 0;
    assert_int_equal(mp_e2e_check(&m, &o, "t.mpt", &err), 0);
    m.dense_intermediate = 0;
    assert_int_equal(mp_e2e_check(&m, &o, "t.mpt", &err), MP_EINVAL);
    assert_string_equal(err.msg, "t.mpt: the model does not give the MLP size of its dense layers");
    /* every preset has what the formulas need */
    int n;
    const mp_gen_preset *ps = mp_gen_presets(&n);
    o = mp_e2e_opts_default();
    for (int i = 0; i < n; i++) assert_int_equal(mp_e2e_check(&ps[i].model, &o, ps[i].model.name, NULL), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gqa_decode_by_hand),
        cmocka_unit_test(test_compute_bound_prefill),
        cmocka_unit_test(test_mla),
        cmocka_unit_test(test_check),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
