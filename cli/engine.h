/*
 * engine.h - what `--engine vllm|sglang|trtllm` stands for: one table of each
 * engine's replica rule, export name and balance metric (the man page's
 * ENGINES table says the same, with sources).  Explicit flags override it.
 */
#ifndef CLI_ENGINE_H
#define CLI_ENGINE_H

#include "cli/options.h"

typedef struct cli_engine {
    const char *name;    /* as --engine takes it                               */
    const char *replica; /* the replica rule (sim/select.c registry)           */
    const char *exportn; /* the file plan --export writes for it               */
    const char *metric;  /* its balance metric (traces/mp_vocab.h)             */
} cli_engine;

/* --engine's row, or NULL when not given. */
const cli_engine *cli_engine_of(const cli_args *a);
/* The replica rule in force: --replica, else --engine's, else vllm-modulo. */
const char *cli_engine_replica(const cli_args *a);

#endif
