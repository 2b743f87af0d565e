/* topology.c - mp_topology_resolve: the one set of rules that turns GPUs,
 * nodes, slots per GPU or redundant slots, and shared fusion into a topology
 * (see planner/mp_planner.h). */
#include <stdio.h>

#include "planner/mp_planner.h"

int mp_topology_resolve(mp_topology *out, const mp_topology_request *t, int32_t experts, mp_err *err)
{
    int32_t P = t->gpus, N = t->nodes > 0 ? t->nodes : 1, F = t->shared_fusion;
    if (P < 1) return mp_err_set(err, MP_EINVAL, "gpus is %d: at least 1 is needed", P);
    if (t->nodes < 0) return mp_err_set(err, MP_EINVAL, "nodes is %d: at least 1 is needed", t->nodes);
    if (P % N != 0) return mp_err_set(err, MP_EINVAL, "%d GPUs do not split over %d nodes", P, N);
    if (F < 0) return mp_err_set(err, MP_EINVAL, "shared_fusion is %d: 0 (none) or more is needed", F);
    if (experts < 1) return mp_err_set(err, MP_EINVAL, "%d experts: at least 1 is needed", experts);
    if (t->slots_per_gpu < 0) return mp_err_set(err, MP_EINVAL, "slots_per_gpu is %d: at least 1 is needed", t->slots_per_gpu);
    if (t->redundant < -1) return mp_err_set(err, MP_EINVAL, "redundant is %d: 0 or more is needed", t->redundant);
    if (t->slots_per_gpu > 0 && t->redundant >= 0)
        return mp_err_set(err, MP_EINVAL, "give redundant or slots_per_gpu, not both");
    int32_t S;
    if (t->slots_per_gpu > 0 && !t->exact) {
        S = t->slots_per_gpu;
    } else {
        /* one slot per routed expert, one per replica of the fused shared
         * expert (it occupies F routed slots), then the redundant ones */
        int32_t X = t->exact || t->redundant < 0 ? 0 : t->redundant;
        int64_t R = (int64_t)experts + F + X;
        if (R % P != 0) {
            char fused[48] = "";
            if (F > 0) snprintf(fused, sizeof fused, " + %d fused shared", F);
            return mp_err_set(err, MP_EINVAL, "%lld slots (%d experts + %d redundant%s) do not split over %d GPUs",
                              (long long)R, experts, X, fused, P);
        }
        if (R / P > INT32_MAX) return mp_err_set(err, MP_EINVAL, "%lld slots per GPU is too many", (long long)(R / P));
        S = (int32_t)(R / P);
    }
    mp_topology topo = {P, N, S};
    int rc = mp_topology_validate(&topo, err);
    if (rc) return rc;
    *out = topo;
    return 0;
}
