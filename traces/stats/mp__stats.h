/*
 * mp__stats.h - internal: the step-variation accumulator's per-layer entry,
 * so that the counter can feed it straight from its integer histograms.
 * Not part of the public API (double underscore).
 */
#ifndef MP__STATS_H
#define MP__STATS_H

#include "traces/stats/mp_stats.h"

/* The step's figures of one layer from its total, hottest expert and hottest
 * EP8/EP32 block loads (blocks as in mp_stats_gpu_imbalance); a layer with
 * total 0 is skipped.  Returns 0 or MP_ENOMEM. */
int mp__stepvar_put(mp_stepvar *sv, int32_t layer, double total, double max, double blk8, double blk32, mp_err *err);

/* Marks the end of one step (counts steps). */
void mp__stepvar_step_done(mp_stepvar *sv);

/* Tells the counter how many assignments the caller expects to add (the
 * trace's announced count), so that its histograms are allocated for a large
 * shape when the whole trace pays for them (mp_stats_cells_ok). */
void mp__counter_expect(mp_counter *c, int64_t assignments, const char *what); /* what: kept, not copied */

/* Sets err to the MP_ELIMIT message for a shape mp_stats_cells_ok refuses;
 * `what` (the file) starts the message. */
int mp__stats_cells_refuse(const char *what, int32_t layers, int32_t experts, int64_t assignments, mp_err *err);

/* Closes the counter's window like mp_counter_end_window and feeds the
 * window's per-layer figures to sv first. */
int mp__counter_end_step(mp_counter *c, mp_stepvar *sv, mp_err *err);

/* The step numbers a scan has read (all of them, in or out of its range),
 * for saying what a trace holds when a range selects nothing.  Zero it to
 * start; mp__stepseen_add after each piece read. */
typedef struct mp__stepseen {
    int64_t n, lo, hi, cur; /* distinct steps, smallest, largest, last */
} mp__stepseen;
void mp__stepseen_add(mp__stepseen *s, int64_t step);
/* For a range [begin, end) (end < 0: to the end) that selected no step:
 * reads the rest of the trace into s (p is the caller's piece buffer) and
 * sets err to "PATH: no steps in the range B:E; the trace has N steps
 * (LO..HI)"; returns MP_ERANGE, or the read's error. */
int mp__stats_no_steps(mp_trace *t, mp_step *p, mp__stepseen *s, int64_t begin, int64_t end, mp_err *err);

#endif
