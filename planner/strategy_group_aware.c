/* strategy_group_aware.c - spreads every expert group over the GPUs (vLLM
 * proposal #15517).  Experts are dealt in the interleaved order
 * g0e0, g1e0, ..., g(G-1)e0, g0e1, ... (expert j of group g is g*E/G + j) and
 * GPU r takes the r-th block of S of that sequence, so each GPU holds experts
 * of min(S, G) different groups and at most ceil(S/G) of any one group. */
#include "planner/mp__planner.h"

int mp__strategy_group_aware(const mp_strategy_input *in, int32_t *phy2log, mp_err *err)
{
    int rc = mp_strategy_input_check(in, 0, "group-aware", err);
    if (rc) return rc;
    int32_t E = in->experts, G = in->groups > 0 ? in->groups : 1;
    int32_t R = in->topo.gpus * in->topo.slots_per_gpu;
    if (E % G != 0) return mp_err_set(err, MP_EINVAL, "group-aware: %d experts do not split into %d groups", E, G);
    int32_t gs = E / G;
    for (int32_t l = 0; l < in->layers; l++)
        for (int32_t p = 0; p < R; p++) {
            int32_t g = p % G, j = p / G;
            phy2log[(int64_t)l * R + p] = g * gs + j;
        }
    return 0;
}
