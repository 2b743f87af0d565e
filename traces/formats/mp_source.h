/*
 * mp_source.h - a source of trace pieces that can be read more than once:
 * what the simulator, the rebalancer and the CI gate replay.  A trace file
 * (here) and the generator (traces/gen/mp_gen.h) are the two kinds.
 *
 * Memory: mp_trace_source_open returns a source freed with
 * mp_trace_source_close (NULL is a no-op); pieces filled by next belong to
 * the caller's mp_step as for mp_trace_next.
 */
#ifndef MP_SOURCE_H
#define MP_SOURCE_H

#include "traces/formats/mp_trace.h"
#include "traces/mp_error.h"
#include "traces/mp_step.h"

/* A trace that can be read twice: next as mp_trace_next (1, 0 or < 0);
 * rewind starts it over. */
typedef struct mp_piece_source {
    void *ctx;
    int (*next)(void *ctx, mp_step *piece, mp_err *err);
    int (*rewind)(void *ctx, mp_err *err);
} mp_piece_source;

/* A routing trace file as an mp_piece_source (rewind reopens it).  The
 * source's model is mp_trace_model of the open trace. */
typedef struct mp_trace_source {
    mp_piece_source src;
    mp_trace *trace;
    char *path;
    mp_read_opts opts;
    int keep_weights; /* pieces carry gate weights (default: ids only) */
} mp_trace_source;

/* Opens a trace whose pieces carry ids and source ranks, not gate weights. */
int mp_trace_source_open(mp_trace_source **out, const char *path, const mp_read_opts *opts, mp_err *err);
/* Makes the pieces carry gate weights too, where the trace records them
 * (call before the first piece: the trace is opened again). */
int mp_trace_source_keep_weights(mp_trace_source *s, mp_err *err);
void mp_trace_source_close(mp_trace_source *s); /* NULL is a no-op */

#endif
