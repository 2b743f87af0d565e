/*
 * mp_file.h - output files that appear whole or not at all.
 *
 * Every file moeplace writes goes to a temporary beside the target
 * ("PATH.tmp.PID.N") and is renamed over it on commit, so a failure never
 * leaves a half-written output.  The path "-" writes to standard output
 * directly.
 *
 * Memory: mp_ofile_open returns a handle that mp_ofile_commit or
 * mp_ofile_abort frees (exactly one of them, once).
 */
#ifndef MP_FILE_H
#define MP_FILE_H

#include <stdio.h>

#include "traces/mp_error.h"

typedef struct mp_ofile mp_ofile;

/* Opens a temporary for `path` (binary mode).  Returns 0 or MP_EIO. */
int mp_ofile_open(mp_ofile **out, const char *path, mp_err *err);

/* The stream to write to; valid until commit or abort. */
FILE *mp_ofile_stream(mp_ofile *f);

/* The final path given to mp_ofile_open. */
const char *mp_ofile_path(const mp_ofile *f);

/* Flushes, closes and renames the temporary over the target; frees f.
 * On a write error the temporary is removed and MP_EIO returned. */
int mp_ofile_commit(mp_ofile *f, mp_err *err);

/* Closes and removes the temporary; frees f.  NULL is a no-op. */
void mp_ofile_abort(mp_ofile *f);

/* Size of a regular file in bytes, or -1 when it cannot be known (a pipe). */
long long mp_file_size(FILE *fp);

#endif
