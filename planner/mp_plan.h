/*
 * mp_plan.h - a placement: which logical expert each physical slot of each
 * GPU holds, per MoE layer.
 *
 * Slots are numbered 0..R-1 with R = gpus * slots_per_gpu; slot p lives on
 * GPU p / slots_per_gpu and node p / (R / nodes) (EPLB's convention).
 * phy2log is the source of truth; log2phy and replica_count are derived from
 * it by mp_plan_derive.  When the model's shared expert is fused into routed
 * slots (--shared-fusion), it is logical expert `shared_id` (= the routed
 * expert count) and plan->experts counts it (E + 1 logical experts).
 *
 * Memory: mp_plan_create returns a plan the caller frees with
 * mp_plan_destroy; its arrays belong to it.
 */
#ifndef MP_PLAN_H
#define MP_PLAN_H

#include <stdint.h>

#include "traces/mp_error.h"
#include "traces/mp_model.h"

typedef struct mp_topology {
    int32_t gpus;          /* P                        */
    int32_t nodes;         /* N (P % N == 0)           */
    int32_t slots_per_gpu; /* S: R = P * S             */
} mp_topology;

typedef struct mp_plan {
    int32_t layers;        /* L                                                */
    int32_t experts;       /* logical experts (routed, plus 1 when fused)      */
    int32_t routed;        /* routed experts E of the model                    */
    int32_t shared_id;     /* logical id of the fused shared expert, or -1     */
    mp_topology topo;
    int32_t slots;         /* R = gpus * slots_per_gpu                         */
    int32_t *phy2log;      /* [L][R]                                           */
    int32_t *replica_count; /* [L][experts], derived                           */
    int32_t max_replicas;  /* largest replica count over all layers, derived   */
    int32_t *log2phy;      /* [L][experts][max_replicas], -1 padded, derived   */
    mp_model model;        /* the model shape the plan was made for            */
    char strategy[32];     /* "eplb", "balanced", ...                          */
} mp_plan;

/* Largest plan: layers x slots (and layers x experts) cells, 2^28 (1 GiB of
 * phy2log). */
#define MP_PLAN_CELLS_MAX ((int64_t)1 << 28)

/* Checks P >= 1, N >= 1, S >= 1, P % N == 0 and R = P*S <= 2^24.
 * Returns 0 or MP_EINVAL with a message. */
int mp_topology_validate(const mp_topology *t, mp_err *err);

/* Allocates a plan of L layers, `experts` logical experts (routed + fused
 * shared), and the topology's slots, phy2log filled with -1 and nothing
 * derived yet.  Returns 0, MP_EINVAL, MP_ELIMIT or MP_ENOMEM. */
int mp_plan_create(mp_plan **out, int32_t layers, int32_t experts, const mp_topology *topo, mp_err *err);

/* Frees; NULL is a no-op. */
void mp_plan_destroy(mp_plan *p);

/* Validates phy2log (every id in 0..experts-1, every expert has at least one
 * replica) and (re)computes replica_count, max_replicas and log2phy (each
 * expert's slots in ascending slot order).  Returns 0, MP_ERANGE or MP_ENOMEM
 * with a message naming the layer and slot. */
int mp_plan_derive(mp_plan *p, mp_err *err);

static inline int32_t mp_plan_gpu_of_slot(const mp_plan *p, int32_t slot) { return slot / p->topo.slots_per_gpu; }
static inline int32_t mp_plan_node_of_gpu(const mp_plan *p, int32_t gpu) { return gpu / (p->topo.gpus / p->topo.nodes); }
static inline int32_t *mp_plan_layer(const mp_plan *p, int32_t layer) { return p->phy2log + (int64_t)layer * p->slots; }
static inline const int32_t *mp_plan_replicas(const mp_plan *p, int32_t layer, int32_t expert)
{
    return p->log2phy + ((int64_t)layer * p->experts + expert) * p->max_replicas;
}
static inline int32_t mp_plan_count(const mp_plan *p, int32_t layer, int32_t expert)
{
    return p->replica_count[(int64_t)layer * p->experts + expert];
}

#endif
