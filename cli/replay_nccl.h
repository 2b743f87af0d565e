/*
 * replay_nccl.h - `moeplace replay --nproc N` / `--mpi`: the multi-GPU
 * replay's launcher and report (cli/replay_nccl.c); the work is in
 * kernels/mp_nccl.h.  Owns no memory the caller sees.
 */
#ifndef CLI_REPLAY_NCCL_H
#define CLI_REPLAY_NCCL_H

#include <stdint.h>

#include "cli/cli.h"

typedef struct cli_nccl_args {
    const char *trace, *plan, *json, *link_cost, *cost;
    int64_t tokens;      /* total tokens of the step (0: the trace's first, <= 65536) */
    int64_t layer;
    int iters, warmup, check, selection, nproc, mpi, padded, emulate;
    int64_t hidden, inter;
} cli_nccl_args;

/* Runs the ranks (forked, or this process as an MPI rank) and prints rank
 * 0's report; returns the exit status. */
int cli_replay_nccl(const cli_nccl_args *a, const cli_common *c);

#endif
