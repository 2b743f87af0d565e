#include "traces/mp_step.h"

#include <stdlib.h>
#include <string.h>

int mp_step_reserve(mp_step *s, int64_t tokens, int32_t layers, int32_t top_k, int with_weights, int with_src,
                    mp_err *err)
{
    if (tokens < 0 || layers < 1 || top_k < 1)
        return mp_err_set(err, MP_EINVAL, "step: bad dimensions %lld x %d x %d", (long long)tokens, layers, top_k);
    int64_t per_token = (int64_t)layers * top_k;
    if (tokens > MP_PIECE_ASSIGNMENTS_MAX / per_token)
        return mp_err_set(err, MP_ELIMIT, "step: piece of %lld tokens x %lld assignments exceeds the %lld limit",
                          (long long)tokens, (long long)per_token, (long long)MP_PIECE_ASSIGNMENTS_MAX);
    int64_t cap = s->capacity;
    if (per_token != s->per_token) cap = 0; /* capacity is counted in tokens of the old width */
    if (tokens > cap || (with_weights && !s->weights_buf) || (with_src && !s->src_buf)) {
        if (tokens > cap) cap = tokens;
        if (cap < 1) cap = 1;
        size_t cn = (size_t)(cap * per_token);
        mp_expert_id *ids = realloc(s->ids, cn * sizeof *ids);
        if (!ids) return mp_err_set(err, MP_ENOMEM, "step: out of memory for %zu ids", cn);
        s->ids = ids;
        if (with_weights || s->weights_buf) {
            float *w = realloc(s->weights_buf, cn * sizeof *w);
            if (!w) return mp_err_set(err, MP_ENOMEM, "step: out of memory for %zu weights", cn);
            s->weights_buf = w;
        }
        if (with_src || s->src_buf) {
            int32_t *r = realloc(s->src_buf, (size_t)cap * sizeof *r);
            if (!r) return mp_err_set(err, MP_ENOMEM, "step: out of memory for %lld ranks", (long long)cap);
            s->src_buf = r;
        }
        s->capacity = cap;
        s->per_token = per_token;
    }
    s->tokens = tokens;
    s->layers = layers;
    s->top_k = top_k;
    s->weights = with_weights ? s->weights_buf : NULL;
    s->src_rank = with_src ? s->src_buf : NULL;
    return 0;
}

void mp_step_release(mp_step *s)
{
    if (!s) return;
    free(s->ids);
    free(s->weights_buf);
    free(s->src_buf);
    memset(s, 0, sizeof *s);
}
