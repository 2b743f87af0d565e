#include "traces/mp_model.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "traces/mp_text.h"

mp_model mp_model_default(void)
{
    mp_model m;
    memset(&m, 0, sizeof m);
    m.groups = 1;
    m.topk_group = 1;
    m.routed_scaling = 1.0;
    m.normalize_topk = 1;
    m.moe_every = 1;
    return m;
}

int32_t mp_model_decoder_count(const mp_model *m)
{
    return m->decoder_layers > 0 ? m->decoder_layers : m->layers;
}

static int is_moe(const mp_model *m, int32_t d)
{
    int32_t every = m->moe_every > 0 ? m->moe_every : 1;
    return d >= m->first_dense && d % every == m->moe_phase;
}

void mp_model_set_layers(mp_model *m, int32_t layers)
{
    m->layers = layers;
    if (m->decoder_layers <= 0) return;
    int32_t n = 0;
    for (int32_t d = 0; d < m->decoder_layers; d++) n += is_moe(m, d);
    if (n != layers) {
        m->decoder_layers = m->first_dense = m->moe_phase = 0;
        m->moe_every = 1;
    }
}

int32_t mp_model_decoder_of(const mp_model *m, int32_t moe_layer)
{
    if (moe_layer < 0 || moe_layer >= m->layers) return -1;
    if (m->decoder_layers <= 0) return moe_layer;
    for (int32_t d = 0, l = 0; d < m->decoder_layers; d++)
        if (is_moe(m, d) && l++ == moe_layer) return d;
    return -1;
}

int32_t mp_model_moe_of(const mp_model *m, int32_t decoder)
{
    if (m->decoder_layers <= 0) return decoder >= 0 && decoder < m->layers ? decoder : -1;
    if (decoder < 0 || decoder >= m->decoder_layers || !is_moe(m, decoder)) return -1;
    int32_t l = 0;
    for (int32_t d = 0; d < decoder; d++) l += is_moe(m, d);
    return l;
}

int mp_model_validate(const mp_model *m, const char *what, mp_err *err)
{
    if (!what) what = "model";
    size_t nl = strnlen(m->name, sizeof m->name);
    if (nl == sizeof m->name)
        return mp_err_set(err, MP_ERANGE, "%s: model name is not terminated", what);
    const char *bad = mp_text_name_problem(m->name, nl);
    if (bad) return mp_err_set(err, MP_EFORMAT, "%s: model name %s", what, bad);
    if (m->layers < 1 || m->layers > MP_LAYERS_MAX)
        return mp_err_set(err, MP_ERANGE, "%s: layers %d outside 1..%d", what, m->layers, MP_LAYERS_MAX);
    if (m->experts < 1 || m->experts > MP_EXPERTS_MAX)
        return mp_err_set(err, MP_ERANGE, "%s: experts %d outside 1..%d", what, m->experts, MP_EXPERTS_MAX);
    if (m->top_k < 1 || m->top_k > m->experts || m->top_k > MP_TOPK_MAX)
        return mp_err_set(err, MP_ERANGE, "%s: top_k %d outside 1..%d", what, m->top_k,
                          m->experts < MP_TOPK_MAX ? m->experts : MP_TOPK_MAX);
    if (m->groups < 1 || m->experts % m->groups != 0)
        return mp_err_set(err, MP_ERANGE, "%s: groups %d does not divide experts %d", what, m->groups, m->experts);
    if (m->topk_group < 1 || m->topk_group > m->groups)
        return mp_err_set(err, MP_ERANGE, "%s: topk_group %d outside 1..groups (%d)", what, m->topk_group, m->groups);
    if ((int64_t)m->topk_group * (m->experts / m->groups) < m->top_k)
        return mp_err_set(err, MP_ERANGE, "%s: top_k %d exceeds the %d experts of %d kept groups", what, m->top_k,
                          m->topk_group * (m->experts / m->groups), m->topk_group);
    if (m->shared < 0 || m->shared > MP_EXPERTS_MAX)
        return mp_err_set(err, MP_ERANGE, "%s: shared experts %d out of range", what, m->shared);
    if (m->hidden < 0 || m->hidden > (1 << 24) || m->intermediate < 0 || m->intermediate > (1 << 24))
        return mp_err_set(err, MP_ERANGE, "%s: hidden/intermediate size out of range", what);
    if (!(m->routed_scaling > 0) || !isfinite(m->routed_scaling))
        return mp_err_set(err, MP_ERANGE, "%s: routed_scaling must be a positive finite number", what);
    if ((unsigned)m->scoring > MP_SCORING_SOFTMAX_TOPK)
        return mp_err_set(err, MP_ERANGE, "%s: unknown scoring %d", what, (int)m->scoring);
    if (m->weight_bits != 0 && m->weight_bits != 4 && m->weight_bits != 8 && m->weight_bits != 16 &&
        m->weight_bits != 32)
        return mp_err_set(err, MP_ERANGE, "%s: weight_bits %d is not 4, 8, 16 or 32", what, m->weight_bits);
    if (m->decoder_layers < 0 || m->decoder_layers > MP_LAYERS_MAX)
        return mp_err_set(err, MP_ERANGE, "%s: decoder_layers %d outside 0..%d", what, m->decoder_layers,
                          MP_LAYERS_MAX);
    int32_t every = m->moe_every > 0 ? m->moe_every : 1; /* 0 (a zeroed model) reads as 1 */
    if (m->moe_every < 0 || m->moe_every > MP_LAYERS_MAX || m->moe_phase < 0 || m->moe_phase >= every)
        return mp_err_set(err, MP_ERANGE, "%s: moe_every %d / moe_phase %d do not name a layer rule", what,
                          m->moe_every, m->moe_phase);
    if ((unsigned)m->attn > MP_ATTN_MLA) return mp_err_set(err, MP_ERANGE, "%s: unknown attention kind %d", what, (int)m->attn);
    {
        const int32_t dims[] = {m->heads, m->kv_heads, m->head_dim, m->q_lora_rank, m->kv_lora_rank,
                                m->qk_rope_head_dim, m->qk_nope_head_dim, m->v_head_dim};
        int any = 0;
        for (size_t i = 0; i < sizeof dims / sizeof dims[0]; i++) {
            if (dims[i] < 0 || dims[i] > MP_MODEL_DIM_MAX)
                return mp_err_set(err, MP_ERANGE, "%s: attention size %d outside 0..%d", what, (int)dims[i],
                                  MP_MODEL_DIM_MAX);
            any |= dims[i] != 0;
        }
        if (m->attn == MP_ATTN_UNKNOWN && any)
            return mp_err_set(err, MP_ERANGE, "%s: attention sizes without an attention kind", what);
        if (m->attn == MP_ATTN_MLA && (m->heads < 1 || m->kv_lora_rank < 1))
            return mp_err_set(err, MP_ERANGE, "%s: MLA attention needs heads and kv_lora_rank", what);
        if (m->attn == MP_ATTN_GQA && (m->heads < 1 || m->kv_heads < 1 || m->heads % m->kv_heads != 0))
            return mp_err_set(err, MP_ERANGE, "%s: GQA attention needs heads (%d) a multiple of kv_heads (%d)", what,
                              (int)m->heads, (int)m->kv_heads);
        if (m->attn == MP_ATTN_GQA && m->head_dim < 1 && (m->hidden < 1 || m->hidden % m->heads != 0))
            return mp_err_set(err, MP_ERANGE, "%s: GQA attention needs head_dim (or hidden a multiple of heads)", what);
    }
    if (m->vocab < 0 || m->vocab > (1 << 24) || m->dense_intermediate < 0 || m->dense_intermediate > (1 << 24) ||
        m->shared_intermediate < 0 || m->shared_intermediate > (1 << 24))
        return mp_err_set(err, MP_ERANGE, "%s: vocab/dense/shared size out of range", what);
    if (m->first_dense < 0 || m->first_dense > MP_LAYERS_MAX)
        return mp_err_set(err, MP_ERANGE, "%s: first_dense %d out of range", what, m->first_dense);
    if (m->decoder_layers > 0) {
        int32_t n = 0;
        for (int32_t d = 0; d < m->decoder_layers; d++) n += is_moe(m, d);
        if (n != m->layers)
            return mp_err_set(err, MP_ERANGE,
                              "%s: %d decoder layers with first_dense %d and MoE every %d (phase %d) hold %d MoE "
                              "layers, not %d",
                              what, m->decoder_layers, m->first_dense, m->moe_every, m->moe_phase, n, m->layers);
    } else if (m->first_dense != 0 || every != 1 || m->moe_phase != 0)
        return mp_err_set(err, MP_ERANGE, "%s: a dense-layer rule needs decoder_layers", what);
    return 0;
}

int mp_model_apply_config(mp_model *m, const mp_model *cfg, const char *what, const char *cfg_what, mp_err *err)
{
    if (!what) what = "trace";
    if (!cfg_what) cfg_what = "model";
    mp_model r = *m;
#define MUST(field, label)                                                                                          \
    if (r.field != cfg->field)                                                                                      \
        return mp_err_set(err, MP_ESHAPE, "%s has %lld %s, %s has %lld", what, (long long)r.field, label, cfg_what, \
                          (long long)cfg->field);
    MUST(experts, "experts")
    MUST(top_k, "experts per token (top_k)")
    MUST(layers, "MoE layers")
#define FILL(field, unknown, label)                                                                                 \
    if (r.field == (unknown)) r.field = cfg->field;                                                                 \
    else if (cfg->field != (unknown) && r.field != cfg->field)                                                      \
        return mp_err_set(err, MP_ESHAPE, "%s has %s %lld, %s has %lld", what, label, (long long)r.field, cfg_what, \
                          (long long)cfg->field);
    FILL(hidden, 0, "hidden size")
    FILL(intermediate, 0, "expert intermediate size")
    FILL(shared, 0, "shared experts")
    FILL(weight_bits, 0, "expert weight bits")
    if (r.groups == 1) {
        r.groups = cfg->groups;
        r.topk_group = cfg->topk_group;
    } else if (cfg->groups != 1 && (r.groups != cfg->groups || r.topk_group != cfg->topk_group))
        return mp_err_set(err, MP_ESHAPE, "%s has %d expert groups (top %d), %s has %d (top %d)", what, r.groups,
                          r.topk_group, cfg_what, cfg->groups, cfg->topk_group);
    if (r.decoder_layers == 0) {
        r.decoder_layers = cfg->decoder_layers;
        r.first_dense = cfg->first_dense;
        r.moe_every = cfg->moe_every;
        r.moe_phase = cfg->moe_phase;
    } else if (cfg->decoder_layers != 0) {
        for (int32_t l = 0; l < r.layers; l++)
            if (mp_model_decoder_of(&r, l) != mp_model_decoder_of(cfg, l))
                return mp_err_set(err, MP_ESHAPE, "%s has MoE layer %d at decoder layer %d, %s at %d", what, (int)l,
                                  (int)mp_model_decoder_of(&r, l), cfg_what, (int)mp_model_decoder_of(cfg, l));
        if (r.decoder_layers != cfg->decoder_layers)
            return mp_err_set(err, MP_ESHAPE, "%s has %d decoder layers, %s has %d", what, (int)r.decoder_layers,
                              cfg_what, (int)cfg->decoder_layers);
    }
    FILL(vocab, 0, "vocabulary")
    FILL(dense_intermediate, 0, "dense MLP size")
    FILL(shared_intermediate, 0, "shared expert size")
    if (r.attn == MP_ATTN_UNKNOWN) {
        r.attn = cfg->attn;
        r.heads = cfg->heads;
        r.kv_heads = cfg->kv_heads;
        r.head_dim = cfg->head_dim;
        r.q_lora_rank = cfg->q_lora_rank;
        r.kv_lora_rank = cfg->kv_lora_rank;
        r.qk_rope_head_dim = cfg->qk_rope_head_dim;
        r.qk_nope_head_dim = cfg->qk_nope_head_dim;
        r.v_head_dim = cfg->v_head_dim;
    } else if (cfg->attn != MP_ATTN_UNKNOWN) {
        FILL(attn, MP_ATTN_UNKNOWN, "attention kind")
        FILL(heads, 0, "attention heads")
        FILL(kv_heads, 0, "key/value heads")
        FILL(head_dim, 0, "head dim")
        FILL(q_lora_rank, 0, "q_lora_rank")
        FILL(kv_lora_rank, 0, "kv_lora_rank")
        FILL(qk_rope_head_dim, 0, "qk_rope_head_dim")
        FILL(qk_nope_head_dim, 0, "qk_nope_head_dim")
        FILL(v_head_dim, 0, "v_head_dim")
    }
#undef MUST
#undef FILL
    if (!r.name[0]) memcpy(r.name, cfg->name, sizeof r.name);
    r.scoring = cfg->scoring;
    r.normalize_topk = cfg->normalize_topk;
    r.routed_scaling = cfg->routed_scaling;
    int rc = mp_model_validate(&r, what, err);
    if (rc == 0) *m = r;
    return rc;
}

int64_t mp_model_kv_bytes_per_token(const mp_model *m, double bytes_per_elem)
{
    double per_layer;
    if (m->attn == MP_ATTN_MLA) per_layer = (double)m->kv_lora_rank + m->qk_rope_head_dim;
    else if (m->attn == MP_ATTN_GQA && m->heads > 0) {
        double hd = m->head_dim > 0 ? m->head_dim : (double)m->hidden / m->heads;
        per_layer = 2.0 * m->kv_heads * hd;
    } else return 0;
    if (!(bytes_per_elem > 0) || !isfinite(bytes_per_elem)) return 0;
    return llround(per_layer * mp_model_decoder_count(m) * bytes_per_elem);
}

int64_t mp_model_shared_size(const mp_model *m)
{
    return m->shared_intermediate > 0 ? m->shared_intermediate : (int64_t)m->shared * m->intermediate;
}

static const char *const attn_names[] = {"unknown", "gqa", "mla"};

const char *mp_attn_name(mp_attn_kind a)
{
    return (unsigned)a <= MP_ATTN_MLA ? attn_names[a] : "unknown";
}

static const char *const scoring_names[] = {"softmax", "sigmoid", "softmax-topk"};

const char *mp_scoring_name(mp_scoring s)
{
    return (unsigned)s <= MP_SCORING_SOFTMAX_TOPK ? scoring_names[s] : "unknown";
}

int mp_scoring_parse(const char *name, mp_scoring *out)
{
    for (int i = 0; i <= MP_SCORING_SOFTMAX_TOPK; i++)
        if (strcmp(name, scoring_names[i]) == 0) {
            *out = (mp_scoring)i;
            return 0;
        }
    return MP_ENOTFOUND;
}

char *mp_model_to_json(const mp_model *m)
{
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_AddStringToObject(o, "name", m->name);
    cJSON_AddNumberToObject(o, "layers", m->layers);
    cJSON_AddNumberToObject(o, "experts", m->experts);
    cJSON_AddNumberToObject(o, "top_k", m->top_k);
    cJSON_AddNumberToObject(o, "groups", m->groups);
    cJSON_AddNumberToObject(o, "topk_group", m->topk_group);
    cJSON_AddNumberToObject(o, "shared", m->shared);
    cJSON_AddNumberToObject(o, "hidden", (double)m->hidden);
    cJSON_AddNumberToObject(o, "intermediate", (double)m->intermediate);
    cJSON_AddStringToObject(o, "scoring", mp_scoring_name(m->scoring));
    cJSON_AddBoolToObject(o, "normalize_topk", m->normalize_topk != 0);
    cJSON_AddNumberToObject(o, "routed_scaling", m->routed_scaling);
    if (m->decoder_layers > 0) {
        cJSON_AddNumberToObject(o, "decoder_layers", m->decoder_layers);
        cJSON_AddNumberToObject(o, "first_dense", m->first_dense);
        cJSON_AddNumberToObject(o, "moe_every", m->moe_every);
        cJSON_AddNumberToObject(o, "moe_phase", m->moe_phase);
    }
    if (m->weight_bits) cJSON_AddNumberToObject(o, "weight_bits", m->weight_bits);
    if (m->attn != MP_ATTN_UNKNOWN) {
        cJSON_AddStringToObject(o, "attention", mp_attn_name(m->attn));
        cJSON_AddNumberToObject(o, "heads", m->heads);
        cJSON_AddNumberToObject(o, "kv_heads", m->kv_heads);
        if (m->attn == MP_ATTN_GQA) {
            if (m->head_dim) cJSON_AddNumberToObject(o, "head_dim", m->head_dim);
        } else {
            cJSON_AddNumberToObject(o, "q_lora_rank", m->q_lora_rank);
            cJSON_AddNumberToObject(o, "kv_lora_rank", m->kv_lora_rank);
            cJSON_AddNumberToObject(o, "qk_rope_head_dim", m->qk_rope_head_dim);
            cJSON_AddNumberToObject(o, "qk_nope_head_dim", m->qk_nope_head_dim);
            cJSON_AddNumberToObject(o, "v_head_dim", m->v_head_dim);
        }
    }
    if (m->vocab) cJSON_AddNumberToObject(o, "vocab", (double)m->vocab);
    if (m->dense_intermediate) cJSON_AddNumberToObject(o, "dense_intermediate", (double)m->dense_intermediate);
    if (m->shared_intermediate) cJSON_AddNumberToObject(o, "shared_intermediate", (double)m->shared_intermediate);
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

/* Reads an integer member; absent keeps *out.  Returns 0 or MP_EFORMAT/MP_ERANGE. */
static int get_int(const cJSON *o, const char *key, int required, double lo, double hi, int64_t *out,
                   const char *what, mp_err *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v) {
        if (required) return mp_err_set(err, MP_EFORMAT, "%s: model header lacks \"%s\"", what, key);
        return 0;
    }
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble))
        return mp_err_set(err, MP_EFORMAT, "%s: model field \"%s\" is not an integer", what, key);
    if (!(v->valuedouble >= lo && v->valuedouble <= hi))
        return mp_err_set(err, MP_ERANGE, "%s: model field \"%s\" = %.17g out of range", what, key, v->valuedouble);
    *out = (int64_t)v->valuedouble;
    return 0;
}

int mp_model_from_json(mp_model *out, const char *json, size_t len, const char *what, mp_err *err)
{
    if (!what) what = "model";
    /* a \u0000 would end the name early, silently: refuse it */
    long long nul = mp_json_nul_escape(json, len);
    if (nul >= 0)
        return mp_err_set(err, MP_EFORMAT, "%s: model header holds a NUL character (\\u0000 at byte %lld of it)", what,
                          nul);
    cJSON *o = cJSON_ParseWithLength(json, len);
    if (!o || !cJSON_IsObject(o)) {
        cJSON_Delete(o);
        return mp_err_set(err, MP_EFORMAT, "%s: model header is not a JSON object", what);
    }
    mp_model m = mp_model_default();
    int64_t v;
    int rc = 0;
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(o, "name");
    if (name && !cJSON_IsString(name) && !cJSON_IsNull(name)) {
        cJSON_Delete(o);
        return mp_err_set(err, MP_EFORMAT, "%s: model field \"name\" is not a string", what);
    }
    if (cJSON_IsString(name)) {
        size_t n = strlen(name->valuestring);
        if (n >= sizeof m.name) {
            cJSON_Delete(o);
            return mp_err_set(err, MP_ERANGE, "%s: model name is %zu bytes long (limit %d)", what, n,
                              MP_MODEL_NAME_MAX - 1);
        }
        memcpy(m.name, name->valuestring, n + 1);
    }
#define INT_FIELD(key, req, hi, dst)                                          \
    do {                                                                      \
        v = (dst);                                                            \
        if (rc == 0 && (rc = get_int(o, key, req, 0, hi, &v, what, err)) == 0) \
            (dst) = v;                                                        \
    } while (0)
    INT_FIELD("layers", 1, MP_LAYERS_MAX, m.layers);
    INT_FIELD("experts", 1, MP_EXPERTS_MAX, m.experts);
    INT_FIELD("top_k", 1, MP_TOPK_MAX, m.top_k);
    INT_FIELD("groups", 0, MP_EXPERTS_MAX, m.groups);
    INT_FIELD("topk_group", 0, MP_EXPERTS_MAX, m.topk_group);
    INT_FIELD("shared", 0, MP_EXPERTS_MAX, m.shared);
    INT_FIELD("hidden", 0, 1 << 24, m.hidden);
    INT_FIELD("intermediate", 0, 1 << 24, m.intermediate);
    INT_FIELD("decoder_layers", 0, MP_LAYERS_MAX, m.decoder_layers);
    INT_FIELD("first_dense", 0, MP_LAYERS_MAX, m.first_dense);
    INT_FIELD("moe_every", 0, MP_LAYERS_MAX, m.moe_every);
    INT_FIELD("moe_phase", 0, MP_LAYERS_MAX, m.moe_phase);
    INT_FIELD("weight_bits", 0, 32, m.weight_bits);
    INT_FIELD("heads", 0, MP_MODEL_DIM_MAX, m.heads);
    INT_FIELD("kv_heads", 0, MP_MODEL_DIM_MAX, m.kv_heads);
    INT_FIELD("head_dim", 0, MP_MODEL_DIM_MAX, m.head_dim);
    INT_FIELD("q_lora_rank", 0, MP_MODEL_DIM_MAX, m.q_lora_rank);
    INT_FIELD("kv_lora_rank", 0, MP_MODEL_DIM_MAX, m.kv_lora_rank);
    INT_FIELD("qk_rope_head_dim", 0, MP_MODEL_DIM_MAX, m.qk_rope_head_dim);
    INT_FIELD("qk_nope_head_dim", 0, MP_MODEL_DIM_MAX, m.qk_nope_head_dim);
    INT_FIELD("v_head_dim", 0, MP_MODEL_DIM_MAX, m.v_head_dim);
    INT_FIELD("vocab", 0, 1 << 24, m.vocab);
    INT_FIELD("dense_intermediate", 0, 1 << 24, m.dense_intermediate);
    INT_FIELD("shared_intermediate", 0, 1 << 24, m.shared_intermediate);
#undef INT_FIELD
    if (rc == 0) {
        const cJSON *sc = cJSON_GetObjectItemCaseSensitive(o, "scoring");
        if (sc && (!cJSON_IsString(sc) || mp_scoring_parse(sc->valuestring, &m.scoring) != 0))
            rc = mp_err_set(err, MP_EFORMAT, "%s: model field \"scoring\" is not a known scoring", what);
        const cJSON *nt = cJSON_GetObjectItemCaseSensitive(o, "normalize_topk");
        if (rc == 0 && nt) {
            if (!cJSON_IsBool(nt)) rc = mp_err_set(err, MP_EFORMAT, "%s: \"normalize_topk\" is not a boolean", what);
            else m.normalize_topk = cJSON_IsTrue(nt);
        }
        const cJSON *at = cJSON_GetObjectItemCaseSensitive(o, "attention");
        if (rc == 0 && at) {
            if (cJSON_IsString(at) && !strcmp(at->valuestring, "mla")) m.attn = MP_ATTN_MLA;
            else if (cJSON_IsString(at) && !strcmp(at->valuestring, "gqa")) m.attn = MP_ATTN_GQA;
            else rc = mp_err_set(err, MP_EFORMAT, "%s: model field \"attention\" is neither \"mla\" nor \"gqa\"", what);
        }
        /* an MLA header may leave kv_heads out: it is heads */
        if (rc == 0 && m.attn == MP_ATTN_MLA && m.kv_heads == 0) m.kv_heads = m.heads;
        const cJSON *rs = cJSON_GetObjectItemCaseSensitive(o, "routed_scaling");
        if (rc == 0 && rs) {
            if (!cJSON_IsNumber(rs)) rc = mp_err_set(err, MP_EFORMAT, "%s: \"routed_scaling\" is not a number", what);
            else m.routed_scaling = rs->valuedouble;
        }
    }
    cJSON_Delete(o);
    if (rc == 0) rc = mp_model_validate(&m, what, err);
    if (rc == 0) *out = m;
    return rc;
}
