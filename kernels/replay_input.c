/* replay_input.c - routing and plans for the replay (see mp_replay.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/mp_replay.h"

int mp_replay_routing_read(mp_replay_routing **out, const char *path, const mp_read_opts *ro, int64_t max_tokens,
                           mp_err *err)
{
    *out = NULL;
    mp_trace *t;
    int rc = mp_trace_open(&t, path, ro, err);
    if (rc) return rc;
    const mp_model *m = mp_trace_model(t);
    mp_replay_routing *r = calloc(1, sizeof *r);
    if (!r) {
        mp_trace_close(t);
        return mp_err_set(err, MP_ENOMEM, "replay: out of memory");
    }
    r->model = *m;
    r->layers = (int32_t)m->layers;
    r->top_k = (int32_t)m->top_k;
    size_t per = (size_t)r->layers * r->top_k;
    size_t cells;
    if (mp_mul_size((size_t)max_tokens, per, (size_t)1 << 31, &cells)) {
        mp_replay_routing_destroy(r);
        mp_trace_close(t);
        return mp_err_set(err, MP_ELIMIT, "%s: %lld tokens x %zu choices is too many to replay", path,
                          (long long)max_tokens, per);
    }
    mp_step p = {0};
    while (r->tokens < max_tokens && (rc = mp_trace_next(t, &p, err)) == 1) {
        if (!r->ids) {
            r->ids = malloc(cells * sizeof *r->ids);
            if (p.weights) r->weights = malloc(cells * sizeof *r->weights);
            if (!r->ids || (p.weights && !r->weights)) {
                rc = mp_err_set(err, MP_ENOMEM, "replay: out of memory");
                break;
            }
        }
        int64_t take = p.tokens < max_tokens - r->tokens ? p.tokens : max_tokens - r->tokens;
        memcpy(r->ids + (size_t)r->tokens * per, p.ids, (size_t)take * per * sizeof *r->ids);
        if (r->weights) {
            if (p.weights)
                memcpy(r->weights + (size_t)r->tokens * per, p.weights, (size_t)take * per * sizeof *r->weights);
            else
                for (size_t i = 0; i < (size_t)take * per; i++)
                    r->weights[(size_t)r->tokens * per + i] = 1.0f / (float)r->top_k;
        }
        r->tokens += take;
    }
    mp_step_release(&p);
    mp_trace_close(t);
    if (rc < 0) {
        mp_replay_routing_destroy(r);
        return rc;
    }
    if (r->tokens == 0) {
        mp_replay_routing_destroy(r);
        return mp_err_set(err, MP_EFORMAT, "%s: no tokens to replay", path);
    }
    *out = r;
    return 0;
}

void mp_replay_routing_destroy(mp_replay_routing *r)
{
    if (!r) return;
    free(r->ids);
    free(r->weights);
    free(r);
}

void mp_replay_layer(const mp_replay_routing *r, int32_t layer, int64_t tokens, int32_t shared_id, uint16_t *ids,
                     float *weights)
{
    int32_t K = r->top_k, kk = K + (shared_id >= 0);
    for (int64_t t = 0; t < tokens; t++) {
        size_t src = ((size_t)t * r->layers + layer) * K;
        for (int32_t k = 0; k < K; k++) {
            ids[t * kk + k] = r->ids[src + k];
            if (weights) weights[t * kk + k] = r->weights ? r->weights[src + k] : 1.0f / (float)K;
        }
        if (shared_id >= 0) {
            ids[t * kk + K] = (uint16_t)shared_id;
            if (weights) weights[t * kk + K] = 1.0f;
        }
    }
}
