/*
 * mp_loadfile.h - JSON load files: what SGLang, vLLM and moeplace record as
 * expert counts (every accepted form is listed in fmt_json.c and
 * moeplace-convert(1)).
 *
 * Memory: mp_loads_read_json hands the caller a matrix to free with
 * mp_loads_destroy.
 */
#ifndef MP_LOADFILE_H
#define MP_LOADFILE_H

#include "traces/formats/mp_trace.h"
#include "traces/mp_error.h"
#include "traces/mp_loads.h"

/* Reads a JSON load file as it is (one matrix per recorded step or window).
 * Returns 0, or MP_EIO, MP_EFORMAT, MP_ESHAPE, MP_ERANGE, MP_ELIMIT or
 * MP_ENOMEM with err naming the file and the JSON path or offset. */
int mp_loads_read_json(mp_loads **out, const char *path, mp_err *err);

/* Reads a load file of any load format (json, trtllm, vllm-eplb, pt holding
 * loads), as opts->format says or mp_format_guess tells (opts may be NULL),
 * one matrix per recorded step.  Returns 0, or the reader's MP_E* with err
 * naming the file; MP_EUNSUPPORTED when the input is a routing format. */
int mp_loads_read_file(mp_loads **out, const char *path, const mp_read_opts *opts, mp_err *err);

/* Writes {"format": "moeplace-loads", "version": 1, "logical_count": ...}
 * ([L][E] when S == 1 and !keep_steps, else [S][L][E]) atomically. */
int mp_loads_write_json(const mp_loads *l, const char *path, int keep_steps, mp_err *err);

/* Reads the loads of an SGLang expert distribution dump (`path`: a .pt file,
 * or a folder holding the files of one dump): a stat-mode dump gives one
 * matrix per filled buffer row (oldest first where the ring shows it), a
 * per_pass dump one per forward pass (ranks summed, physical slots folded
 * onto logical experts).  Layers that recorded nothing are dense and left
 * out (opts->model with decoder_layers > 0 says which instead); opts may be
 * NULL.  A per_token dump is MP_EUNSUPPORTED (it is a trace: mp_trace_open).
 * Returns 0 or MP_E* with err naming the file and pickle offset. */
int mp_loads_read_pt(mp_loads **out, const char *path, const mp_read_opts *opts, mp_err *err);

/* Sets *is_loads to 1 when the dump at path holds loads (stat, per_pass),
 * 0 when it holds per-token routing.  Returns 0 or MP_E*. */
int mp_pt_holds_loads(const char *path, const mp_read_opts *opts, int *is_loads, mp_err *err);

#endif
