/*
 * sim_e2e.h - `moeplace sim --e2e`: the whole decoder step of every run (the
 * MoE layers as simulated plus attention, dense layers and the rest, from
 * sim/mp_endtoend.h), as a table "e2e" of the sim document.
 * Implemented in cli/sim_e2e.c.  Nothing here allocates beyond the document.
 */
#ifndef CLI_SIM_E2E_H
#define CLI_SIM_E2E_H

#include "cli/cli.h"
#include "sim/mp_endtoend.h"
#include "sim/mp_simrun.h"

typedef struct cli_e2e {
    int on;            /* --e2e or --context given              */
    int phase;         /* -1 by tokens per GPU, 0 decode, 1 prefill */
    mp_e2e_opts o;     /* context, kv bytes, LM head            */
} cli_e2e;

/* The flags of the e2e group (cli/options.def). */
void cli_e2e_read(cli_e2e *e, const cli_args *a);

/* With e->on: 0 when the model has what the formulas need, else prints one
 * line naming `path` and returns CLI_EDATA. */
int cli_e2e_check(const cli_e2e *e, const mp_model *m, const char *path);

/* Adds the "e2e" table (one row per lane) to d; the lanes' results must keep
 * their per-step series. */
void cli_e2e_emit(cli_doc *d, const cli_e2e *e, const mp_simrun *run, const mp_model *m, const mp_cost *c);

#endif
