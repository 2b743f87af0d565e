/* plan.c - the plan container: allocation and the derived maps. */
#include <stdlib.h>
#include <string.h>

#include "planner/mp_plan.h"

int mp_topology_validate(const mp_topology *t, mp_err *err)
{
    if (t->gpus < 1 || t->nodes < 1 || t->slots_per_gpu < 1)
        return mp_err_set(err, MP_EINVAL, "topology: gpus, nodes and slots per GPU must be >= 1 (got %d, %d, %d)",
                          t->gpus, t->nodes, t->slots_per_gpu);
    if (t->gpus % t->nodes != 0)
        return mp_err_set(err, MP_EINVAL, "topology: %d GPUs do not divide evenly over %d nodes", t->gpus, t->nodes);
    if ((int64_t)t->gpus * t->slots_per_gpu > (1 << 24))
        return mp_err_set(err, MP_EINVAL, "topology: %d GPUs x %d slots is too many slots", t->gpus, t->slots_per_gpu);
    return 0;
}

int mp_plan_create(mp_plan **out, int32_t layers, int32_t experts, const mp_topology *topo, mp_err *err)
{
    *out = NULL;
    int rc = mp_topology_validate(topo, err);
    if (rc) return rc;
    if (layers < 1 || layers > MP_LAYERS_MAX || experts < 1 || experts > MP_EXPERTS_MAX + 1)
        return mp_err_set(err, MP_EINVAL, "plan: bad shape %d layers x %d experts", layers, experts);
    int32_t R = topo->gpus * topo->slots_per_gpu;
    if ((int64_t)layers * R > MP_PLAN_CELLS_MAX || (int64_t)layers * experts > MP_PLAN_CELLS_MAX)
        return mp_err_set(err, MP_ELIMIT, "plan: %d layers x %d slots is too large", layers, R);
    mp_plan *p = calloc(1, sizeof *p);
    if (!p) return mp_err_set(err, MP_ENOMEM, "plan: out of memory");
    p->layers = layers;
    p->experts = experts;
    p->routed = experts;
    p->shared_id = -1;
    p->topo = *topo;
    p->slots = R;
    p->model = mp_model_default();
    p->phy2log = malloc((size_t)layers * R * sizeof *p->phy2log);
    p->replica_count = calloc((size_t)layers * experts, sizeof *p->replica_count);
    if (!p->phy2log || !p->replica_count) {
        mp_plan_destroy(p);
        return mp_err_set(err, MP_ENOMEM, "plan: out of memory");
    }
    for (int64_t i = 0; i < (int64_t)layers * R; i++) p->phy2log[i] = -1;
    *out = p;
    return 0;
}

void mp_plan_destroy(mp_plan *p)
{
    if (!p) return;
    free(p->phy2log);
    free(p->replica_count);
    free(p->log2phy);
    free(p);
}

int mp_plan_derive(mp_plan *p, mp_err *err)
{
    int32_t L = p->layers, E = p->experts, R = p->slots;
    memset(p->replica_count, 0, (size_t)L * E * sizeof *p->replica_count);
    int32_t mx = 0;
    for (int32_t l = 0; l < L; l++) {
        const int32_t *row = mp_plan_layer(p, l);
        int32_t *cnt = p->replica_count + (int64_t)l * E;
        for (int32_t s = 0; s < R; s++) {
            if (row[s] < 0 || row[s] >= E)
                return mp_err_set(err, MP_ERANGE, "plan: layer %d slot %d holds expert %d, outside 0..%d", l, s, row[s],
                                  E - 1);
            if (++cnt[row[s]] > mx) mx = cnt[row[s]];
        }
        for (int32_t e = 0; e < E; e++)
            if (cnt[e] == 0) return mp_err_set(err, MP_ERANGE, "plan: layer %d: expert %d has no slot", l, e);
    }
    free(p->log2phy);
    p->max_replicas = mx;
    p->log2phy = malloc((size_t)L * E * mx * sizeof *p->log2phy);
    if (!p->log2phy) return mp_err_set(err, MP_ENOMEM, "plan: out of memory");
    for (int64_t i = 0; i < (int64_t)L * E * mx; i++) p->log2phy[i] = -1;
    int32_t *fill = calloc((size_t)E, sizeof *fill);
    if (!fill) return mp_err_set(err, MP_ENOMEM, "plan: out of memory");
    for (int32_t l = 0; l < L; l++) {
        memset(fill, 0, (size_t)E * sizeof *fill);
        const int32_t *row = mp_plan_layer(p, l);
        for (int32_t s = 0; s < R; s++) {
            int32_t e = row[s];
            p->log2phy[((int64_t)l * E + e) * mx + fill[e]++] = s;
        }
    }
    free(fill);
    return 0;
}
