/* e2e.c - the non-MoE part of a decoder step (formulas: mp_endtoend.h). */
#include "sim/mp_endtoend.h"

#include <math.h>

mp_e2e_opts mp_e2e_opts_default(void)
{
    mp_e2e_opts o = {4096, 1, 1, 2.0};
    return o;
}

int mp_e2e_check(const mp_model *m, const mp_e2e_opts *o, const char *what, mp_err *err)
{
    if (!what) what = "model";
    const char *miss = NULL;
    if (m->attn == MP_ATTN_UNKNOWN) miss = "its attention (num_attention_heads, kv_lora_rank or num_key_value_heads)";
    else if (m->hidden < 1) miss = "its hidden size";
    else if (o->lm_head && m->vocab < 1) miss = "its vocabulary size";
    else if (mp_model_decoder_count(m) > m->layers && m->dense_intermediate < 1)
        miss = "the MLP size of its dense layers";
    if (miss) return mp_err_set(err, MP_EINVAL, "%s: the model does not give %s", what, miss);
    if (o->context < 1 || !(o->kv_bytes > 0))
        return mp_err_set(err, MP_EINVAL, "%s: context and KV bytes must be positive", what);
    return 0;
}

/* microseconds of a GEMM of `rows` rows through `params` weights */
static double gemm_us(const mp_cost *c, double wb, double rows, double params)
{
    if (rows <= 0) return 0;
    double read = params * wb / (c->hbm_GBps * 1e3);
    double math = 2.0 * params * rows / (c->peak_tflops * 1e6);
    return read > math ? read : math;
}

static double weight_bytes(const mp_model *m)
{
    return m->weight_bits == 8 ? 1.0 : m->weight_bits == 32 ? 4.0 : 2.0;
}

mp_e2e_parts mp_e2e_parts_of(const mp_model *m, const mp_cost *c, const mp_e2e_opts *o, double r)
{
    mp_e2e_parts p = {0, 0, 0, 0};
    if (!(r > 0)) return p;
    const double H = (double)mp_cost_hidden(c, m), wb = weight_bytes(m), hbm = c->hbm_GBps * 1e3,
                 peak = c->peak_tflops * 1e6, ctx = (double)o->context;
    const double heads = m->heads;
    double proj = 0, kv_elems, core_flops, core_bytes;
    if (m->attn == MP_ATTN_MLA) {
        double qk = (double)m->qk_nope_head_dim + m->qk_rope_head_dim, kvl = m->kv_lora_rank;
        if (m->q_lora_rank > 0)
            proj += gemm_us(c, wb, r, H * m->q_lora_rank) + gemm_us(c, wb, r, (double)m->q_lora_rank * heads * qk);
        else
            proj += gemm_us(c, wb, r, H * heads * qk);
        proj += gemm_us(c, wb, r, H * (kvl + m->qk_rope_head_dim));
        proj += gemm_us(c, wb, r, kvl * heads * ((double)m->qk_nope_head_dim + m->v_head_dim));
        proj += gemm_us(c, wb, r, heads * m->v_head_dim * H);
        kv_elems = kvl + m->qk_rope_head_dim;
        if (o->decode) core_flops = 2.0 * r * heads * ctx * (2.0 * kvl + m->qk_rope_head_dim);
        else core_flops = 2.0 * r * heads * (ctx + 1) / 2 * (qk + m->v_head_dim);
    } else {
        double d = m->head_dim > 0 ? m->head_dim : H / heads;
        proj += gemm_us(c, wb, r, H * heads * d);
        proj += 2 * gemm_us(c, wb, r, H * m->kv_heads * d);
        proj += gemm_us(c, wb, r, heads * d * H);
        kv_elems = 2.0 * m->kv_heads * d;
        if (o->decode) core_flops = 4.0 * r * heads * ctx * d;
        else core_flops = 4.0 * r * heads * (ctx + 1) / 2 * d;
    }
    core_bytes = o->decode ? r * ctx * kv_elems * o->kv_bytes : 2.0 * r * kv_elems * o->kv_bytes;
    double core = core_bytes / hbm > core_flops / peak ? core_bytes / hbm : core_flops / peak;
    const double layers = mp_model_decoder_count(m), dense_layers = layers - m->layers;
    p.attn_us = layers * (proj + core);
    if (dense_layers > 0) p.dense_us = dense_layers * 3 * gemm_us(c, wb, r, H * (double)m->dense_intermediate);
    double other = layers * 8.0 * r * H * c->act_bytes / hbm + r * H * c->act_bytes / hbm;
    if (o->lm_head) {
        double rows_lm = o->decode ? r : fmax(1.0, r / ctx);
        other += gemm_us(c, 2.0, rows_lm, (double)m->vocab * H);
    }
    p.other_us = other;
    p.total_us = p.attn_us + p.dense_us + p.other_us;
    return p;
}
