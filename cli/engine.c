/* engine.c - the --engine table (rows in the order of options.def's list). */
#include "cli/engine.h"

#include "sim/mp_sim.h"

static const cli_engine ENGINES[] = {
    {"vllm", "vllm", "vllm", "vllm_balancedness"},
    {"sglang", "sglang-static", "sglang", "sglang_balancedness"},
    {"trtllm", "trtllm", "trtllm", "trtllm_imbalance"},
};

const cli_engine *cli_engine_of(const cli_args *a)
{
    if (!cli_has(a, CLI_O_ENGINE)) return NULL;
    int i = cli_enum(a, CLI_O_ENGINE, 0);
    return i >= 0 && i < (int)(sizeof ENGINES / sizeof ENGINES[0]) ? &ENGINES[i] : NULL;
}

const char *cli_engine_replica(const cli_args *a)
{
    const char *r = cli_str(a, CLI_O_REPLICA);
    if (r) return r;
    const cli_engine *e = cli_engine_of(a);
    return e ? e->replica : mp_policy_default()->name;
}
