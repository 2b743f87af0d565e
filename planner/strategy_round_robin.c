/* strategy_round_robin.c - vLLM's round-robin ("zigzag") placement: GPU r
 * holds experts r, r+P, r+2P, ... in its slots in that order. */
#include "planner/mp__planner.h"

int mp__strategy_round_robin(const mp_strategy_input *in, int32_t *phy2log, mp_err *err)
{
    int rc = mp_strategy_input_check(in, 0, "round-robin", err);
    if (rc) return rc;
    int32_t P = in->topo.gpus, S = in->topo.slots_per_gpu, R = P * S;
    for (int32_t l = 0; l < in->layers; l++)
        for (int32_t r = 0; r < P; r++)
            for (int32_t i = 0; i < S; i++) phy2log[(int64_t)l * R + r * S + i] = r + i * P;
    return 0;
}
