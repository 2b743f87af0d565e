/* registry.c - the one table of placement strategies. */
#include <string.h>

#include "planner/mp__planner.h"

int mp__strategy_linear(const mp_strategy_input *in, int32_t *phy2log, mp_err *err);
int mp__strategy_round_robin(const mp_strategy_input *in, int32_t *phy2log, mp_err *err);
int mp__strategy_group_aware(const mp_strategy_input *in, int32_t *phy2log, mp_err *err);
int mp__strategy_eplb(const mp_strategy_input *in, int32_t *phy2log, mp_err *err);
int mp__strategy_eplb_global(const mp_strategy_input *in, int32_t *phy2log, mp_err *err);
int mp__strategy_balanced(const mp_strategy_input *in, int32_t *phy2log, mp_err *err);
int mp__strategy_robust(const mp_strategy_input *in, int32_t *phy2log, mp_err *err);

static const mp_strategy table[] = {
    {"linear", "contiguous blocks of experts per GPU (vLLM)", 0, mp__strategy_linear},
    {"round-robin", "expert e on GPU e % P (vLLM zigzag)", 0, mp__strategy_round_robin},
    {"group-aware", "every expert group spread over the GPUs (vLLM #15517)", 0, mp__strategy_group_aware},
    {"eplb", "DeepSeek EPLB, hierarchical when G % N == 0, else global", 1, mp__strategy_eplb},
    {"eplb-global", "DeepSeek EPLB, global policy", 1, mp__strategy_eplb_global},
    {"balanced", "D'Hondt, exchange search and joint replica counts: packs the input exactly", 1, mp__strategy_balanced},
    {"robust", "plans mean + z std of each expert's load, per-window variation, served batch (default)", 1,
     mp__strategy_robust},
};

int mp_strategy_count(void) { return (int)(sizeof table / sizeof table[0]); }

const mp_strategy *mp_strategy_at(int i) { return i >= 0 && i < mp_strategy_count() ? &table[i] : NULL; }

const mp_strategy *mp_strategy_find(const char *name)
{
    for (int i = 0; i < mp_strategy_count(); i++)
        if (strcmp(table[i].name, name) == 0) return &table[i];
    return NULL;
}
