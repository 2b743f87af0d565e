/* gen_presets.c - model presets, skew names, option defaults and provenance
 * of the synthetic trace generator; the presets' shapes are those of the
 * models' published configs (config.json on their model cards). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "traces/gen/mp_gen.h"
#include "traces/mp_text.h"

/* decoder layers DL of which MoE: d >= FD and d % EVERY == PHASE (mp_model.h); BITS: expert weights as published;
 * ATTN: MLA(heads, q_lora_rank, kv_lora_rank, rope dim, nope dim, v dim) or GQA(heads, kv heads, head dim);
 * VOCAB; DENSE: MLP size of the dense layers as the config names it (0: none named) */
#define MLA(h, q, kv, rope, nope, v) MP_ATTN_MLA, h, h, 0, q, kv, rope, nope, v
#define GQA(h, kvh, hd) MP_ATTN_GQA, h, kvh, hd, 0, 0, 0, 0, 0
#define P(nm, L, E, K, G, TG, SH, H, I, SC, NORM, RS, DL, FD, EVERY, PHASE, BITS, ATTN, VOCAB, DENSE, NOTE) \
    {{nm, L, E, K, G, TG, SH, H, I, SC, NORM, RS, DL, FD, EVERY, PHASE, BITS, ATTN, VOCAB, DENSE, 0}, DL, NOTE}

static const mp_gen_preset presets[] = {
    P("deepseek-v3", 58, 256, 8, 8, 4, 1, 7168, 2048, MP_SCORING_SIGMOID, 1, 2.5, 61, 3, 1, 0, 8,
      MLA(128, 1536, 512, 64, 128, 128), 129280, 18432,
      "DeepSeek-V3/R1: 61 layers, first 3 dense; sigmoid + bias, 8 groups keep 4; fp8"),
    P("kimi-k2", 60, 384, 8, 1, 1, 1, 7168, 2048, MP_SCORING_SIGMOID, 1, 2.827, 61, 1, 1, 0, 8,
      MLA(64, 1536, 512, 64, 128, 128), 163840, 18432,
      "Kimi K2: 61 layers, first 1 dense; sigmoid + bias, ungrouped; fp8"),
    P("deepseek-v2-lite", 26, 64, 6, 1, 1, 2, 2048, 1408, MP_SCORING_SOFTMAX, 0, 1.0, 27, 1, 1, 0, 16,
      MLA(16, 0, 512, 64, 128, 128), 102400, 10944,
      "DeepSeek-V2-Lite: 27 layers, first 1 dense; softmax, weights not renormalised"),
    P("qwen3-235b-a22b", 94, 128, 8, 1, 1, 0, 4096, 1536, MP_SCORING_SOFTMAX, 1, 1.0, 94, 0, 1, 0, 16,
      GQA(64, 4, 128), 151936, 12288,
      "Qwen3-235B-A22B: softmax, normalised top-k"),
    P("qwen3-30b-a3b", 48, 128, 8, 1, 1, 0, 2048, 768, MP_SCORING_SOFTMAX, 1, 1.0, 48, 0, 1, 0, 16,
      GQA(32, 4, 128), 151936, 6144,
      "Qwen3-30B-A3B: softmax, normalised top-k"),
    P("mixtral-8x7b", 32, 8, 2, 1, 1, 0, 4096, 14336, MP_SCORING_SOFTMAX_TOPK, 1, 1.0, 32, 0, 1, 0, 16,
      GQA(32, 8, 128), 32000, 0,
      "Mixtral 8x7B: softmax over the top-k logits"),
    P("gpt-oss-120b", 36, 128, 4, 1, 1, 0, 2880, 2880, MP_SCORING_SOFTMAX_TOPK, 1, 1.0, 36, 0, 1, 0, 4,
      GQA(64, 8, 64), 201088, 0,
      "gpt-oss-120b: softmax over the top-k logits; mxfp4 experts"),
    P("llama-4-maverick", 24, 128, 1, 1, 1, 1, 5120, 8192, MP_SCORING_SIGMOID, 0, 1.0, 48, 0, 2, 1, 16,
      GQA(40, 8, 128), 202048, 16384,
      "Llama 4 Maverick: 48 layers, MoE every 2nd (1, 3, ..., 47); top-1 + 1 shared"),
    P("llama-4-scout", 48, 16, 1, 1, 1, 1, 5120, 8192, MP_SCORING_SIGMOID, 0, 1.0, 48, 0, 1, 0, 16,
      GQA(40, 8, 128), 202048, 16384,
      "Llama 4 Scout: 48 layers, all MoE; top-1 + 1 shared"),
};

const mp_gen_preset *mp_gen_presets(int *n)
{
    if (n) *n = (int)(sizeof presets / sizeof presets[0]);
    return presets;
}

int mp_gen_preset_find(const char *name, mp_model *out, mp_err *err)
{
    int n;
    const mp_gen_preset *p = mp_gen_presets(&n);
    for (int i = 0; i < n; i++)
        if (strcmp(p[i].model.name, name) == 0) {
            *out = p[i].model;
            return 0;
        }
    return mp_err_set(err, MP_ENOTFOUND, "unknown preset '%s'", name);
}

static int parse_num(const char *s, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v) || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

int mp_skew_parse(const char *spec, mp_skew *out, mp_err *err)
{
    static const struct {
        const char *name;
        mp_skew_kind kind;
    } named[] = {{"uniform", MP_SKEW_UNIFORM}, {"chat", MP_SKEW_CHAT}, {"mixed", MP_SKEW_MIXED}, {"narrow", MP_SKEW_NARROW}};
    for (size_t i = 0; i < sizeof named / sizeof named[0]; i++)
        if (strcmp(spec, named[i].name) == 0) {
            out->kind = named[i].kind;
            out->param = 0;
            return 0;
        }
    if (strncmp(spec, "zipf:", 5) == 0) {
        if (parse_num(spec + 5, 0, 8, &out->param))
            return mp_err_set(err, MP_EINVAL, "skew zipf:S wants 0 <= S <= 8, not '%s'", spec + 5);
        out->kind = MP_SKEW_ZIPF;
        return 0;
    }
    if (strncmp(spec, "lognormal:", 10) == 0) {
        if (parse_num(spec + 10, 0, 8, &out->param))
            return mp_err_set(err, MP_EINVAL, "skew lognormal:SIGMA wants 0 <= SIGMA <= 8, not '%s'", spec + 10);
        out->kind = MP_SKEW_LOGNORMAL;
        return 0;
    }
    return mp_err_set(err, MP_EINVAL,
                      "unknown skew '%s' (uniform, zipf:S, lognormal:SIGMA, chat, mixed or narrow)", spec);
}

void mp_skew_format(const mp_skew *s, char *buf, int size)
{
    switch (s->kind) {
    case MP_SKEW_ZIPF: snprintf(buf, (size_t)size, "zipf:%g", s->param); break;
    case MP_SKEW_LOGNORMAL: snprintf(buf, (size_t)size, "lognormal:%g", s->param); break;
    case MP_SKEW_CHAT: snprintf(buf, (size_t)size, "chat"); break;
    case MP_SKEW_MIXED: snprintf(buf, (size_t)size, "mixed"); break;
    case MP_SKEW_NARROW: snprintf(buf, (size_t)size, "narrow"); break;
    default: snprintf(buf, (size_t)size, "uniform"); break;
    }
}

void mp_gen_opts_phase(mp_gen_opts *o, int decode)
{
    o->decode = decode;
    if (decode) {
        o->steps = 64;
        o->tokens_per_step = 256;
    } else {
        o->steps = 8;
        o->tokens_per_step = 4096;
    }
    o->request_tokens = 512;
    o->decode_len = 256;
}

void mp_gen_opts_default(mp_gen_opts *o)
{
    memset(o, 0, sizeof *o);
    mp_gen_preset_find("deepseek-v3", &o->model, NULL);
    o->skew.kind = MP_SKEW_MIXED;
    o->topics = 1;
    o->topic_strength = 1.0;
    o->dp_ranks = 1;
    o->shift_at = -1;
    o->seed = 1;
    o->threads = 1;
    o->with_weights = 1;
    mp_gen_opts_phase(o, 0);
}

char *mp_gen_provenance(const mp_gen_opts *o)
{
    char skew[64];
    mp_skew_format(&o->skew, skew, sizeof skew);
    size_t qn;
    char *name = mp_json_quote(o->model.name, strnlen(o->model.name, sizeof o->model.name), &qn);
    if (!name) return NULL;
    size_t cap = 1024 + qn;
    char *s = malloc(cap);
    if (!s) {
        free(name);
        return NULL;
    }
    snprintf(s, cap,
             "{\"generator\": \"moeplace gen\", \"preset\": %s, \"skew\": \"%s\", \"group_skew\": %.17g, "
             "\"layer_affinity\": %.17g, \"topics\": %d, \"topic_strength\": %.17g, \"dp_ranks\": %d, "
             "\"rank_topic_bias\": %.17g, \"drift\": %.17g, \"shift_at\": %lld, \"steps\": %lld, "
             "\"tokens_per_step\": %lld, \"phase\": \"%s\", \"seed\": %llu, \"sampler\": \"%s\"}",
             name, skew, o->group_skew, o->layer_affinity, (int)o->topics, o->topic_strength,
             (int)o->dp_ranks, o->rank_topic_bias, o->drift, (long long)o->shift_at, (long long)o->steps,
             (long long)o->tokens_per_step, o->decode ? "decode" : "prefill", (unsigned long long)o->seed,
             o->exact ? "exact" : "fast");
    free(name);
    return s;
}
