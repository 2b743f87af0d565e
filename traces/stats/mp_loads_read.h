/*
 * mp_loads_read.h - expert loads from any input: a JSON load file as it is,
 * or a routing trace counted.  Sits above traces/formats (the readers) and
 * the counters of traces/stats.
 *
 * Memory: functions returning an mp_loads * hand the caller a matrix to free
 * with mp_loads_destroy.
 */
#ifndef MP_LOADS_READ_H
#define MP_LOADS_READ_H

#include <stdint.h>

#include "traces/formats/mp_trace.h"
#include "traces/mp_error.h"
#include "traces/mp_loads.h"

/* Counts the assignments of steps [step_begin, step_end) of an open trace
 * (step_end < 0: to the end).  per_step = 0 sums them into one matrix,
 * 1 keeps one matrix per step (S = steps read).  Reads the trace through
 * the range. */
int mp_loads_count(mp_loads **out, mp_trace *t, int64_t step_begin, int64_t step_end, int per_step, mp_err *err);

/* Reads loads from a file: a JSON load file or an SGLang stat/per_pass dump
 * (.pt, or a folder of them) as it is, or any routing trace, counted (opts as
 * for mp_trace_open; may be NULL).  Steps are summed unless per_step. */
int mp_loads_read(mp_loads **out, const char *path, const mp_read_opts *opts, int per_step, mp_err *err);

/* Sets *is_loads to 1 when the input holds expert loads (a JSON load file,
 * a TensorRT-LLM statistic folder, vLLM EPLB load statistics, an SGLang stat
 * or per_pass dump), 0 when it holds per-token routing (read
 * it with mp_trace_open).  opts may be NULL.  Returns 0 or MP_E* naming the
 * path. */
int mp_loads_input(const char *path, const mp_read_opts *opts, int *is_loads, mp_err *err);

#endif
