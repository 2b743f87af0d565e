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

/* Reads a load file of any load format (json, trtllm, vllm-eplb; f may be
 * MP_FMT_AUTO: mp_format_detect), one matrix per recorded step.  Returns 0,
 * or the reader's MP_E* with err naming the file; MP_EUNSUPPORTED when the
 * input is a routing trace. */
int mp_loads_read_file(mp_loads **out, const char *path, mp_format f, mp_err *err);

/* Writes {"format": "moeplace-loads", "version": 1, "logical_count": ...}
 * ([L][E] when S == 1 and !keep_steps, else [S][L][E]) atomically. */
int mp_loads_write_json(const mp_loads *l, const char *path, int keep_steps, mp_err *err);

#endif
