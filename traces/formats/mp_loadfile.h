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

#include "traces/mp_error.h"
#include "traces/mp_loads.h"

/* Reads a JSON load file as it is (one matrix per recorded step or window).
 * Returns 0, or MP_EIO, MP_EFORMAT, MP_ESHAPE, MP_ERANGE, MP_ELIMIT or
 * MP_ENOMEM with err naming the file and the JSON path or offset. */
int mp_loads_read_json(mp_loads **out, const char *path, mp_err *err);

/* Writes {"format": "moeplace-loads", "version": 1, "logical_count": ...}
 * ([L][E] when S == 1 and !keep_steps, else [S][L][E]) atomically. */
int mp_loads_write_json(const mp_loads *l, const char *path, int keep_steps, mp_err *err);

#endif
