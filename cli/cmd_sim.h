/*
 * cmd_sim.h - flags shared by `moeplace sim` and `moeplace rebalance`:
 * topology and strategy (as `moeplace plan` spells them) and the cost model,
 * read from the option table's groups (cli/options.def).
 * Implemented in cli/cmd_sim.c.  Nothing here allocates.
 */
#ifndef CLI_CMD_SIM_H
#define CLI_CMD_SIM_H

#include "cli/cli.h"
#include "planner/mp_planner.h"
#include "sim/mp_cost.h"

typedef struct cli_sim_flags {
    const char *strategy;
    int gpus, nodes, spg, redundant, groups, fusion;
    double locality, batch_tokens;
    const char *cost_path, *write_cost, *replica;
    /* cost overrides: < 0 = not given */
    double hbm, peak, efixed, wbytes, abytes, nvlink, net, disp, comb;
    int64_t hidden, inter;
} cli_sim_flags;

/* The flags from the parsed arguments (groups placement, groups, topology,
 * replica, bytes, costfile, cost of cli/options.def). */
void cli_sim_flags_read(cli_sim_flags *f, const cli_args *a);
/* The plan request for a model (topology from --gpus/--nodes/--slots-per-gpu|--redundant);
 * returns 0 or prints a usage error and returns CLI_EUSAGE. */
int cli_sim_request(const cli_sim_flags *f, const char *cmd, const mp_model *m, mp_plan_request *q);
/* The cost model: defaults, then --cost FILE, then the flags; writes it to
 * --write-cost when given.  Returns 0 or an exit status. */
int cli_sim_cost(const cli_sim_flags *f, mp_cost *c);

#endif
