/* hfconfig.c - a Hugging Face config.json read into an mp_model (keys: mp_hfconfig.h). */
#include "traces/formats/mp_hfconfig.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "traces/mp_file.h"
#include "traces/mp_text.h"

typedef struct cfg {
    const cJSON *root, *text; /* text: "text_config" when it is an object, else NULL */
    const char *what;
    mp_err *err;
} cfg;

/* The item of `key` (text_config first, then the top level); JSON null reads as absent.
 * *where gets the key's path for messages. */
static const cJSON *get(const cfg *c, const char *key, char *where, size_t n)
{
    const cJSON *v = c->text ? cJSON_GetObjectItemCaseSensitive(c->text, key) : NULL;
    if (v && !cJSON_IsNull(v)) {
        snprintf(where, n, "text_config.%s", key);
        return v;
    }
    v = cJSON_GetObjectItemCaseSensitive(c->root, key);
    snprintf(where, n, "%s", key);
    return v && !cJSON_IsNull(v) ? v : NULL;
}

/* An integer key in [lo, hi]; absent: *out unchanged, *found 0.  Returns 0 or an error. */
static int get_int(const cfg *c, const char *key, int64_t lo, int64_t hi, int64_t *out, int *found)
{
    char w[96];
    const cJSON *v = get(c, key, w, sizeof w);
    if (found) *found = v != NULL;
    if (!v) return 0;
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble != floor(v->valuedouble))
        return mp_err_set(c->err, MP_EFORMAT, "%s: \"%s\" is not an integer", c->what, w);
    if (!(v->valuedouble >= (double)lo && v->valuedouble <= (double)hi))
        return mp_err_set(c->err, MP_ERANGE, "%s: \"%s\" = %.17g is outside %lld..%lld", c->what, w, v->valuedouble,
                          (long long)lo, (long long)hi);
    *out = (int64_t)v->valuedouble;
    return 0;
}

/* A string key (absent: NULL); a non-string is an error. */
static int get_str(const cfg *c, const char *key, const char **out)
{
    char w[96];
    const cJSON *v = get(c, key, w, sizeof w);
    *out = NULL;
    if (!v) return 0;
    if (!cJSON_IsString(v)) return mp_err_set(c->err, MP_EFORMAT, "%s: \"%s\" is not a string", c->what, w);
    *out = v->valuestring;
    return 0;
}

/* A list of decoder layer indices (each in 0..n-1) marked into mark[]; absent: *found 0. */
static int get_layer_list(const cfg *c, const char *key, int32_t n, unsigned char *mark, int *found)
{
    char w[96];
    const cJSON *v = get(c, key, w, sizeof w);
    *found = v != NULL;
    if (!v) return 0;
    if (!cJSON_IsArray(v)) return mp_err_set(c->err, MP_EFORMAT, "%s: \"%s\" is not a list of layers", c->what, w);
    int i = 0;
    for (const cJSON *e = v->child; e; e = e->next, i++) {
        if (!cJSON_IsNumber(e) || e->valuedouble != floor(e->valuedouble) || !(e->valuedouble >= 0) ||
            !(e->valuedouble < n))
            return mp_err_set(c->err, MP_ERANGE, "%s: \"%s\"[%d] is not a decoder layer index (0..%d)", c->what, w, i,
                              (int)n - 1);
        mark[(int32_t)e->valuedouble] = 1;
    }
    return 0;
}

/* Finds first_dense, moe_every and moe_phase that give exactly the MoE layers in moe[0..n). */
static int fit_rule(mp_model *m, const unsigned char *moe, int32_t n, const char *keys, const cfg *c)
{
    int32_t first = -1, second = -1, count = 0;
    for (int32_t d = 0; d < n; d++)
        if (moe[d]) {
            if (first < 0) first = d;
            else if (second < 0) second = d;
            count++;
        }
    if (count == 0)
        return mp_err_set(c->err, MP_ERANGE, "%s: with %s, none of the %d decoder layers is MoE", c->what, keys, (int)n);
    int32_t every, phase, fd;
    if (count == 1) {
        if (first == n - 1) every = 1, phase = 0, fd = first;
        else every = n, phase = first, fd = 0;
    } else {
        every = second - first;
        phase = first % every;
        fd = first - every + 1 > 0 ? first - every + 1 : 0;
    }
    m->decoder_layers = n;
    m->first_dense = fd;
    m->moe_every = every;
    m->moe_phase = phase;
    m->layers = count;
    for (int32_t d = 0; d < n; d++) {
        int rule = d >= fd && d % every == phase;
        if (rule != (moe[d] != 0))
            return mp_err_set(c->err, MP_EFORMAT,
                              "%s: with %s, the MoE layers (decoder layer %d is %s) are not every n-th layer from "
                              "some layer on",
                              c->what, keys, (int)d, moe[d] ? "MoE" : "dense");
    }
    return 0;
}

/* Which decoder layers are MoE: every family's rule present applies. */
static int layer_rule(mp_model *m, int32_t n, const cfg *c)
{
    unsigned char moe[MP_LAYERS_MAX], mark[MP_LAYERS_MAX];
    memset(moe, 1, (size_t)n);
    char keys[160] = "";
    int rc, found, f2;
    int64_t v;
#define NOTE(k) snprintf(keys + strlen(keys), sizeof keys - strlen(keys), "%s%s", keys[0] ? " and " : "", k)
    /* DeepSeek-V2/V3, Kimi-K2 */
    int64_t fk = 0, freq = 1;
    if ((rc = get_int(c, "first_k_dense_replace", 0, MP_LAYERS_MAX, &fk, &found))) return rc;
    if ((rc = get_int(c, "moe_layer_freq", 1, MP_LAYERS_MAX, &freq, &f2))) return rc;
    if (found || f2) {
        NOTE(found && f2 ? "first_k_dense_replace/moe_layer_freq" : found ? "first_k_dense_replace" : "moe_layer_freq");
        for (int32_t d = 0; d < n; d++) moe[d] &= d >= fk && d % freq == 0;
    }
    /* Qwen2-MoE, Qwen3-MoE */
    int64_t step = 1;
    if ((rc = get_int(c, "decoder_sparse_step", 1, MP_LAYERS_MAX, &step, &found))) return rc;
    memset(mark, 0, (size_t)n);
    if ((rc = get_layer_list(c, "mlp_only_layers", n, mark, &f2))) return rc;
    if (found || f2) {
        NOTE(found && f2 ? "decoder_sparse_step/mlp_only_layers" : found ? "decoder_sparse_step" : "mlp_only_layers");
        for (int32_t d = 0; d < n; d++) moe[d] &= !mark[d] && (d + 1) % step == 0;
    }
    /* Llama-4 */
    v = 1;
    if ((rc = get_int(c, "interleave_moe_layer_step", 1, MP_LAYERS_MAX, &v, &found))) return rc;
    memset(mark, 0, (size_t)n);
    if ((rc = get_layer_list(c, "moe_layers", n, mark, &f2))) return rc;
    if (found || f2) {
        NOTE(f2 ? "moe_layers" : "interleave_moe_layer_step");
        for (int32_t d = 0; d < n; d++) moe[d] &= f2 ? mark[d] : d % v == v - 1;
    }
#undef NOTE
    return fit_rule(m, moe, n, keys[0] ? keys : "num_hidden_layers", c);
}

static int weight_bits(mp_model *m, const cfg *c)
{
    const cJSON *q = cJSON_GetObjectItemCaseSensitive(c->root, "quantization_config");
    const char *where = "quantization_config";
    if (!q || cJSON_IsNull(q)) {
        q = c->text ? cJSON_GetObjectItemCaseSensitive(c->text, "quantization_config") : NULL;
        where = "text_config.quantization_config";
    }
    if (q && !cJSON_IsNull(q)) {
        if (!cJSON_IsObject(q)) return mp_err_set(c->err, MP_EFORMAT, "%s: \"%s\" is not an object", c->what, where);
        const cJSON *meth = cJSON_GetObjectItemCaseSensitive(q, "quant_method");
        if (meth && !cJSON_IsString(meth))
            return mp_err_set(c->err, MP_EFORMAT, "%s: \"%s.quant_method\" is not a string", c->what, where);
        const char *s = meth ? meth->valuestring : "";
        if (!strcmp(s, "fp8")) m->weight_bits = 8;
        else if (!strcmp(s, "mxfp4")) m->weight_bits = 4;
        else {
            const cJSON *b = cJSON_GetObjectItemCaseSensitive(q, "bits");
            if (cJSON_IsNumber(b) && (b->valuedouble == 4 || b->valuedouble == 8)) m->weight_bits = (int32_t)b->valuedouble;
            else m->weight_bits = 0; /* a method whose expert bits we do not know */
        }
        return 0;
    }
    const char *dt;
    int rc = get_str(c, "torch_dtype", &dt);
    if (rc == 0 && !dt) rc = get_str(c, "dtype", &dt);
    if (rc) return rc;
    if (dt && (!strcmp(dt, "bfloat16") || !strcmp(dt, "float16"))) m->weight_bits = 16;
    else if (dt && !strcmp(dt, "float32")) m->weight_bits = 32;
    return 0;
}

/* Attention: MLA when kv_lora_rank is given (DeepSeek-V2/V3, Kimi-K2), else
 * GQA from num_attention_heads, num_key_value_heads (absent: MHA) and
 * head_dim (absent: hidden_size / heads).  No num_attention_heads: unknown. */
static int attention(mp_model *m, const cfg *c)
{
    int rc, found;
    int64_t heads = 0, kvh = 0, v = 0;
    if ((rc = get_int(c, "num_attention_heads", 1, MP_MODEL_DIM_MAX, &heads, &found))) return rc;
    if (!found) return 0;
    if ((rc = get_int(c, "num_key_value_heads", 1, MP_MODEL_DIM_MAX, &kvh, &found))) return rc;
    if (!found) kvh = heads;
    if ((rc = get_int(c, "kv_lora_rank", 0, MP_MODEL_DIM_MAX, &v, &found))) return rc;
    m->heads = (int32_t)heads;
    m->kv_heads = (int32_t)kvh;
    if (found && v > 0) {
        m->attn = MP_ATTN_MLA;
        m->kv_lora_rank = (int32_t)v;
        static const char *const keys[] = {"q_lora_rank", "qk_rope_head_dim", "qk_nope_head_dim", "v_head_dim"};
        int32_t *dst[] = {&m->q_lora_rank, &m->qk_rope_head_dim, &m->qk_nope_head_dim, &m->v_head_dim};
        for (int i = 0; i < 4; i++) {
            v = 0; /* q_lora_rank null (DeepSeek-V2-Lite): a full q projection */
            if ((rc = get_int(c, keys[i], 0, MP_MODEL_DIM_MAX, &v, NULL))) return rc;
            *dst[i] = (int32_t)v;
        }
        return 0;
    }
    if (heads % kvh != 0)
        return mp_err_set(c->err, MP_ERANGE, "%s: \"num_attention_heads\" %lld is not a multiple of "
                          "\"num_key_value_heads\" %lld", c->what, (long long)heads, (long long)kvh);
    m->attn = MP_ATTN_GQA;
    if ((rc = get_int(c, "head_dim", 1, MP_MODEL_DIM_MAX, &v, &found))) return rc;
    if (!found) {
        if (m->hidden < 1 || m->hidden % heads != 0)
            return mp_err_set(c->err, MP_EFORMAT, "%s: no \"head_dim\", and \"hidden_size\" is not a multiple of "
                              "\"num_attention_heads\"", c->what);
        v = m->hidden / heads;
    }
    m->head_dim = (int32_t)v;
    return 0;
}

static int parse(mp_model *out, const cfg *c)
{
    mp_model m = mp_model_default();
    int rc, found;
    int64_t v;
    /* the name: the top level's model_type ("llama4", not text_config's "llama4_text") */
    const cJSON *mt = cJSON_GetObjectItemCaseSensitive(c->root, "model_type");
    if (mt && !cJSON_IsNull(mt) && !cJSON_IsString(mt))
        return mp_err_set(c->err, MP_EFORMAT, "%s: \"model_type\" is not a string", c->what);
    const char *type = cJSON_IsString(mt) ? mt->valuestring : NULL;
    if (!type && (rc = get_str(c, "model_type", &type))) return rc;
    if (type) {
        size_t n = strlen(type);
        if (n >= sizeof m.name)
            return mp_err_set(c->err, MP_ERANGE, "%s: \"model_type\" is %zu bytes long (limit %d)", c->what, n,
                              MP_MODEL_NAME_MAX - 1);
        const char *bad = mp_text_name_problem(type, n);
        if (bad) return mp_err_set(c->err, MP_EFORMAT, "%s: \"model_type\" %s", c->what, bad);
        for (size_t i = 0; i <= n; i++) m.name[i] = type[i] == '_' ? '-' : type[i];
    }
    int is_llama4 = type && !strncmp(type, "llama4", 6);
    int topk_softmax = type && (!strcmp(type, "mixtral") || !strcmp(type, "gpt_oss"));

    /* experts and top-k */
    static const char *const ekeys[] = {"n_routed_experts", "num_experts", "num_local_experts"};
    found = 0;
    for (int i = 0; i < 3 && !found; i++) {
        v = 0;
        if ((rc = get_int(c, ekeys[i], 0, MP_EXPERTS_MAX, &v, &found))) return rc;
        if (found && v == 0) return mp_err_set(c->err, MP_ERANGE, "%s: \"%s\" is 0: not a MoE model", c->what, ekeys[i]);
        m.experts = (int32_t)v;
    }
    if (!found)
        return mp_err_set(c->err, MP_EFORMAT,
                          "%s: no expert count (n_routed_experts, num_experts or num_local_experts): not a MoE config",
                          c->what);
    v = 0;
    if ((rc = get_int(c, "num_experts_per_tok", 1, MP_TOPK_MAX, &v, &found))) return rc;
    if (!found && (rc = get_int(c, "experts_per_token", 1, MP_TOPK_MAX, &v, &found))) return rc;
    if (!found)
        return mp_err_set(c->err, MP_EFORMAT, "%s: no \"num_experts_per_tok\" (or \"experts_per_token\")", c->what);
    m.top_k = (int32_t)v;

    /* sizes */
    if ((rc = get_int(c, "hidden_size", 0, 1 << 24, &m.hidden, NULL))) return rc;
    if ((rc = get_int(c, "moe_intermediate_size", 0, 1 << 24, &m.intermediate, &found))) return rc;
    if (!found && (rc = get_int(c, "intermediate_size", 0, 1 << 24, &m.intermediate, NULL))) return rc;

    /* groups: DeepSeek's greedy top-k ignores them */
    const char *method;
    if ((rc = get_str(c, "topk_method", &method))) return rc;
    v = 1;
    if ((rc = get_int(c, "n_group", 1, MP_EXPERTS_MAX, &v, NULL))) return rc;
    m.groups = (int32_t)v;
    v = m.groups;
    if ((rc = get_int(c, "topk_group", 1, MP_EXPERTS_MAX, &v, NULL))) return rc;
    m.topk_group = (int32_t)v;
    if (method && !strcmp(method, "greedy")) m.groups = m.topk_group = 1;

    /* shared experts */
    v = 0;
    if ((rc = get_int(c, "n_shared_experts", 0, MP_EXPERTS_MAX, &v, &found))) return rc;
    if (!found) {
        int64_t sz = 0;
        if ((rc = get_int(c, "shared_expert_intermediate_size", 0, 1 << 24, &sz, NULL))) return rc;
        v = sz > 0 || is_llama4 ? 1 : 0;
    }
    m.shared = (int32_t)v;

    /* routing */
    const char *sf;
    if ((rc = get_str(c, "scoring_func", &sf))) return rc;
    if (sf && !strcmp(sf, "sigmoid")) m.scoring = MP_SCORING_SIGMOID;
    else if (sf && !strcmp(sf, "softmax")) m.scoring = MP_SCORING_SOFTMAX;
    else if (sf) {
        char w[96];
        get(c, "scoring_func", w, sizeof w);
        return mp_err_set(c->err, MP_EFORMAT, "%s: \"%s\" is neither sigmoid nor softmax", c->what, w);
    } else
        m.scoring = topk_softmax ? MP_SCORING_SOFTMAX_TOPK : is_llama4 ? MP_SCORING_SIGMOID : MP_SCORING_SOFTMAX;
    char w[96];
    const cJSON *nt = get(c, "norm_topk_prob", w, sizeof w);
    if (nt && !cJSON_IsBool(nt)) return mp_err_set(c->err, MP_EFORMAT, "%s: \"%s\" is not a boolean", c->what, w);
    m.normalize_topk = nt ? cJSON_IsTrue(nt) : m.scoring == MP_SCORING_SOFTMAX_TOPK;
    const cJSON *rs = get(c, "routed_scaling_factor", w, sizeof w);
    if (rs) {
        if (!cJSON_IsNumber(rs) || !isfinite(rs->valuedouble) || !(rs->valuedouble > 0))
            return mp_err_set(c->err, MP_ERANGE, "%s: \"%s\" is not a positive number", c->what, w);
        m.routed_scaling = rs->valuedouble;
    }

    /* the rest of a decoder layer */
    int have_moe_size = 0;
    {
        int64_t x = 0;
        if ((rc = get_int(c, "moe_intermediate_size", 0, 1 << 24, &x, &have_moe_size))) return rc;
    }
    if ((rc = attention(&m, c))) return rc;
    if ((rc = get_int(c, "vocab_size", 0, 1 << 24, &m.vocab, NULL))) return rc;
    if (is_llama4) {
        if ((rc = get_int(c, "intermediate_size_mlp", 0, 1 << 24, &m.dense_intermediate, NULL))) return rc;
    } else if (have_moe_size && (rc = get_int(c, "intermediate_size", 0, 1 << 24, &m.dense_intermediate, NULL)))
        return rc;
    if ((rc = get_int(c, "shared_expert_intermediate_size", 0, 1 << 24, &m.shared_intermediate, NULL))) return rc;

    /* decoder layers */
    v = 0;
    if ((rc = get_int(c, "num_hidden_layers", 1, MP_LAYERS_MAX, &v, &found))) return rc;
    if (!found) return mp_err_set(c->err, MP_EFORMAT, "%s: no \"num_hidden_layers\"", c->what);
    if ((rc = layer_rule(&m, (int32_t)v, c))) return rc;
    if ((rc = weight_bits(&m, c))) return rc;
    if ((rc = mp_model_validate(&m, c->what, c->err))) return rc;
    *out = m;
    return 0;
}

int mp_hfconfig_parse(mp_model *out, const char *json, size_t len, const char *what, mp_err *err)
{
    if (!what) what = "config";
    long long nul = mp_json_nul_escape(json, len);
    if (nul >= 0) return mp_err_set(err, MP_EFORMAT, "%s: holds a NUL character (\\u0000 at byte %lld)", what, nul);
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(json, len, &end, 0);
    if (!root) {
        long long off = end && end >= json ? (long long)(end - json) : 0;
        return mp_err_set(err, MP_EFORMAT, "%s: not valid JSON (byte %lld)", what, off);
    }
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return mp_err_set(err, MP_EFORMAT, "%s: not a JSON object", what);
    }
    cfg c = {.root = root, .what = what, .err = err};
    const cJSON *tc = cJSON_GetObjectItemCaseSensitive(root, "text_config");
    if (tc && !cJSON_IsNull(tc) && !cJSON_IsObject(tc)) {
        cJSON_Delete(root);
        return mp_err_set(err, MP_EFORMAT, "%s: \"text_config\" is not an object", what);
    }
    c.text = cJSON_IsObject(tc) ? tc : NULL;
    int rc = parse(out, &c);
    cJSON_Delete(root);
    return rc;
}

int mp_hfconfig_read(mp_model *out, const char *path, mp_err *err)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) return mp_err_set(err, MP_EIO, "%s: cannot open", path);
    long long size = mp_file_size(fp);
    if (size > MP_HFCONFIG_BYTES_MAX) {
        fclose(fp);
        return mp_err_set(err, MP_ELIMIT, "%s: %lld bytes is too large for a model config (limit %d)", path, size,
                          MP_HFCONFIG_BYTES_MAX);
    }
    char *buf = malloc(MP_HFCONFIG_BYTES_MAX + 1);
    if (!buf) {
        fclose(fp);
        return mp_err_set(err, MP_ENOMEM, "%s: out of memory", path);
    }
    size_t n = fread(buf, 1, MP_HFCONFIG_BYTES_MAX + 1, fp);
    int bad = ferror(fp);
    fclose(fp);
    int rc;
    if (bad) rc = mp_err_set(err, MP_EIO, "%s: read error", path);
    else if (n > MP_HFCONFIG_BYTES_MAX)
        rc = mp_err_set(err, MP_ELIMIT, "%s: too large for a model config (limit %d bytes)", path, MP_HFCONFIG_BYTES_MAX);
    else rc = mp_hfconfig_parse(out, buf, n, path, err);
    free(buf);
    return rc;
}
