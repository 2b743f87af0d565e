/* strategy_linear.c - vLLM's linear placement: GPU r holds a contiguous
 * block of experts (with R == E and S slots per GPU: experts r*S..r*S+S-1). */
#include "planner/mp__planner.h"

int mp__strategy_linear(const mp_strategy_input *in, int32_t *phy2log, mp_err *err)
{
    int rc = mp_strategy_input_check(in, 0, "linear", err);
    if (rc) return rc;
    int32_t R = in->topo.gpus * in->topo.slots_per_gpu;
    for (int32_t l = 0; l < in->layers; l++)
        for (int32_t p = 0; p < R; p++) phy2log[(int64_t)l * R + p] = p;
    return 0;
}
