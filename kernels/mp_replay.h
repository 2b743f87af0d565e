/*
 * mp_replay.h - plain-C helpers around the replay kernels: the routing of
 * the first tokens of a trace, per-layer id arrays (with a fused shared
 * expert as an extra choice).  The linear plan is the planner's
 * (mp_plan_linear_baseline).  Compiled into the kernels target
 * (kernels/replay_input.c).
 * Memory: mp_replay_routing_read returns a routing freed with
 * mp_replay_routing_destroy; arrays passed in are the caller's.
 */
#ifndef MP_REPLAY_H
#define MP_REPLAY_H

#include <stdint.h>

#include "planner/mp_plan.h"
#include "traces/mp_error.h"
#include "traces/mp_model.h"
#include "traces/formats/mp_trace.h"

typedef struct mp_replay_routing {
    mp_model model;
    int64_t tokens;   /* tokens read (from the first steps, in order) */
    int32_t layers, top_k;
    uint16_t *ids;    /* [tokens][layers][top_k]                      */
    float *weights;   /* [tokens][layers][top_k], or NULL             */
} mp_replay_routing;

/* Reads up to max_tokens tokens from the start of a trace (across steps
 * when the first is shorter).  Returns 0 or a negative MP_E* code. */
int mp_replay_routing_read(mp_replay_routing **out, const char *path, const mp_read_opts *ro, int64_t max_tokens,
                           mp_err *err);
void mp_replay_routing_destroy(mp_replay_routing *r);

/* Ids [tokens][kk] and weights [tokens][kk] of one layer's first `tokens`
 * tokens; kk = K, or K + 1 with shared_id >= 0 (the fused shared expert as
 * each token's last choice, weight 1).  weights may be NULL; without
 * recorded weights it gets 1/K (and 1 for the shared expert). */
void mp_replay_layer(const mp_replay_routing *r, int32_t layer, int64_t tokens, int32_t shared_id, uint16_t *ids,
                     float *weights);

#endif
