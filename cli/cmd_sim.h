/*
 * cmd_sim.h - flags shared by `moeplace sim` and `moeplace rebalance`:
 * topology and strategy (as `moeplace plan` spells them) and the cost model.
 * Implemented in cli/cmd_sim.c.  Nothing here allocates.
 */
#ifndef CLI_CMD_SIM_H
#define CLI_CMD_SIM_H

#include "cli/cli.h"
#include "planner/mp_planner.h"
#include "sim/mp_cost.h"

enum {
    SIMF_STRATEGY = CLI_OPT_OWN + 50,
    SIMF_GPUS,
    SIMF_NODES,
    SIMF_SPG,
    SIMF_REDUNDANT,
    SIMF_GROUPS,
    SIMF_LOCALITY,
    SIMF_FUSION,
    SIMF_COST,
    SIMF_HBM,
    SIMF_PEAK,
    SIMF_EFIXED,
    SIMF_WBYTES,
    SIMF_DTYPE,
    SIMF_NVLINK,
    SIMF_NET,
    SIMF_DISP,
    SIMF_COMB,
    SIMF_HIDDEN,
    SIMF_INTER,
    SIMF_WRITE_COST,
    SIMF_REPLICA
};

#define CLI_SIM_LONG                                                                                           \
    {"strategy", required_argument, NULL, SIMF_STRATEGY}, {"gpus", required_argument, NULL, SIMF_GPUS},      \
        {"nodes", required_argument, NULL, SIMF_NODES}, {"slots-per-gpu", required_argument, NULL, SIMF_SPG}, \
        {"redundant", required_argument, NULL, SIMF_REDUNDANT}, {"groups", required_argument, NULL, SIMF_GROUPS}, \
        {"locality", required_argument, NULL, SIMF_LOCALITY}, {"shared-fusion", required_argument, NULL, SIMF_FUSION}, \
        {"cost", required_argument, NULL, SIMF_COST}, {"hbm-gbps", required_argument, NULL, SIMF_HBM},          \
        {"peak-tflops", required_argument, NULL, SIMF_PEAK}, {"expert-fixed-us", required_argument, NULL, SIMF_EFIXED}, \
        {"weight-bytes", required_argument, NULL, SIMF_WBYTES}, {"dtype-bytes", required_argument, NULL, SIMF_DTYPE}, \
        {"nvlink-gbps", required_argument, NULL, SIMF_NVLINK}, {"net-gbps", required_argument, NULL, SIMF_NET},  \
        {"dispatch-us", required_argument, NULL, SIMF_DISP}, {"combine-us", required_argument, NULL, SIMF_COMB}, \
        {"hidden", required_argument, NULL, SIMF_HIDDEN}, {"intermediate", required_argument, NULL, SIMF_INTER}, \
        {"write-cost", required_argument, NULL, SIMF_WRITE_COST}, {"replica", required_argument, NULL, SIMF_REPLICA}

typedef struct cli_sim_flags {
    const char *strategy;
    int gpus, nodes, spg, redundant, groups, fusion;
    double locality;
    const char *cost_path, *write_cost, *replica;
    /* cost overrides: < 0 = not given */
    double hbm, peak, efixed, wbytes, dtype, nvlink, net, disp, comb;
    int64_t hidden, inter;
} cli_sim_flags;

void cli_sim_flags_init(cli_sim_flags *f);
/* 1 handled, 0 not ours, -CLI_EUSAGE after a usage error. */
int cli_sim_option(cli_sim_flags *f, const char *cmd, int opt, const char *arg);
/* The plan request for a model (topology from --gpus/--nodes/--slots-per-gpu|--redundant);
 * returns 0 or prints a usage error and returns CLI_EUSAGE. */
int cli_sim_request(const cli_sim_flags *f, const char *cmd, const mp_model *m, mp_plan_request *q);
/* The cost model: defaults, then --cost FILE, then the flags; writes it to
 * --write-cost when given.  Returns 0 or an exit status. */
int cli_sim_cost(const cli_sim_flags *f, mp_cost *c);

#define CLI_SIM_FLAGS_HELP                                                                              \
    "  --strategy NAME     placement strategy (moeplace plan): linear, round-robin, group-aware, eplb,\n" \
    "                      eplb-global, balanced\n"                                                    \
    "  --gpus P            GPUs (required unless --plan)\n"                                            \
    "  --nodes N           nodes (default 1; P % N == 0)\n"                                            \
    "  --slots-per-gpu S   physical slots per GPU (R = P*S), or\n"                                     \
    "  --redundant X       redundant slots (R = E + N + X, N: --shared-fusion; default 0)\n"           \
    "  --groups G          expert groups (default: the model's)\n"                                     \
    "  --locality W        balanced: keep groups on nodes, 0..1\n"                                     \
    "  --shared-fusion N   fuse the shared expert as N routed replicas\n"                              \
    "  --cost FILE         cost model JSON (schema moeplace.cost, see moeplace-sim(1))\n"              \
    "  --hbm-gbps X --peak-tflops X --expert-fixed-us X --weight-bytes X --dtype-bytes X\n"            \
    "  --nvlink-gbps X --net-gbps X --dispatch-us X --combine-us X --hidden H --intermediate I\n"      \
    "                      override one cost figure each\n"                                            \
    "  --write-cost FILE   write the cost model in force\n"

#endif
