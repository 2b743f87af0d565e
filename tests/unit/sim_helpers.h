/* sim_helpers.h - plans and steps built in memory for the sim tests. */
#ifndef SIM_HELPERS_H
#define SIM_HELPERS_H

#include <stdlib.h>
#include <string.h>

#include "planner/mp_plan.h"
#include "sim/mp_sim.h"

static inline mp_model tiny_model(int32_t L, int32_t E, int32_t K)
{
    mp_model m = mp_model_default();
    m.layers = L;
    m.experts = E;
    m.top_k = K;
    m.hidden = 100;
    m.intermediate = 64;
    return m;
}

/* A derived plan with the same phy2log row on every layer. */
static inline mp_plan *make_plan(int32_t L, int32_t experts, int32_t gpus, int32_t nodes, int32_t spg, const int32_t *row)
{
    mp_topology t = {gpus, nodes, spg};
    mp_plan *p = NULL;
    if (mp_plan_create(&p, L, experts, &t, NULL)) return NULL;
    p->routed = experts;
    p->shared_id = -1;
    for (int32_t l = 0; l < L; l++) memcpy(mp_plan_layer(p, l), row, (size_t)p->slots * sizeof(int32_t));
    if (mp_plan_derive(p, NULL)) {
        mp_plan_destroy(p);
        return NULL;
    }
    return p;
}

/* A step of T tokens with the same ids [T][K] on every layer. */
static inline void make_step(mp_step *s, int64_t step, int32_t L, int32_t K, int64_t T, const int *ids, const int32_t *src)
{
    mp_step_reserve(s, T, L, K, 0, src != NULL, NULL);
    s->step = step;
    s->first_token = 0;
    s->end_of_step = 1;
    for (int64_t t = 0; t < T; t++)
        for (int32_t l = 0; l < L; l++)
            for (int32_t k = 0; k < K; k++) s->ids[(t * L + l) * K + k] = (mp_expert_id)ids[t * K + k];
    if (src)
        for (int64_t t = 0; t < T; t++) s->src_rank[t] = src[t];
}

/* Runs a policy's select over one batch as the simulator does: its per-layer
 * table built from the plan, its prepare given the batch's rows per expert.
 * a->cache and a->batch are set here (and freed before returning). */
static inline void select_batch(const mp_policy *pol, mp_select_args *a, int32_t *slots)
{
    const mp_plan *p = a->plan;
    int32_t *cache = NULL;
    int64_t *batch = NULL;
    if (pol->cache_words) {
        cache = malloc((size_t)pol->cache_words(p) * sizeof *cache + 1);
        if (!cache || pol->build_cache(p, a->layer, a->seed, cache)) abort();
    }
    if (pol->batch_words) {
        batch = calloc((size_t)pol->batch_words(p) + 1, sizeof *batch);
        int64_t *rows = calloc((size_t)p->experts, sizeof *rows);
        if (!batch || !rows) abort();
        for (int64_t i = 0; i < a->tokens * a->kk; i++) rows[a->experts[i]]++;
        mp_prepare_args pa = {p, a->layer, a->step, a->seed, a->kk, a->tokens, rows};
        pol->prepare(&pa, batch);
        free(rows);
    }
    a->cache = cache;
    a->batch = batch;
    pol->select(a, slots);
    a->cache = NULL;
    a->batch = NULL;
    free(cache);
    free(batch);
}

/* xorshift for test data */
static inline uint64_t test_rng(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

#endif
