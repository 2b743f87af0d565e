/*
 * mp_file.h - output files that appear whole or not at all, and never
 * replace what they should write to.
 *
 * How mp_ofile_open treats its path (mp_otarget_resolve says which case
 * applies, without touching anything):
 *   "-"                 standard output, written directly.
 *   /dev/stdout, /dev/stderr, /dev/fd/N, /proc/self/fd/N (also reached
 *                       through symlinks): that open descriptor, directly.
 *   an existing file that is not a regular file (character or block device,
 *                       FIFO, socket): opened for writing and written
 *                       through; nothing is created or renamed.
 *   a symlink           followed (up to 40 links, a dangling one too) and
 *                       what it finally names is written as below, so the
 *                       link stays a link.
 *   an existing regular file, or a new name:
 *                       written to a temporary in the same folder, named
 *                       ".NAME.mptmp.PID.N" (NAME the target's name, cut
 *                       short so that the whole name stays within 255
 *                       bytes), then renamed over the target on commit, so
 *                       a failure never leaves a half-written output.  An
 *                       existing target's permission bits (and, where
 *                       allowed, owner and group) are given to the
 *                       temporary first; a new file gets 0666 less the
 *                       umask, as fopen would.  When the target has more
 *                       than one hard link, a rename would split them: the
 *                       complete temporary is then copied into the target
 *                       (opened with O_TRUNC) and removed, so the links
 *                       stay shared; only a failure during that copy can
 *                       leave the target partly written.
 *   a folder, or a name ending in '/':
 *                       refused ("is a directory").
 *
 * Temporaries (files here, and folders registered by callers with
 * mp_tmp_track) are kept in a fixed-size, async-signal-safe list;
 * mp_tmp_catch_signals installs handlers for SIGINT, SIGTERM, SIGHUP and
 * SIGPIPE that remove them and then die of the same signal.  A process
 * killed with SIGKILL cannot clean up: its ".NAME.mptmp.PID.N" files stay,
 * and the next mp_ofile_open into the same folder removes those whose PID
 * no longer exists (regular files owned by the caller only).
 *
 * Nothing here calls exit().  mp_ofile_open and mp_tmp_track are not meant
 * to be called from several threads at once.
 *
 * Memory: mp_ofile_open returns a handle that mp_ofile_commit or
 * mp_ofile_abort frees (exactly one of them, once).  mp_otarget is plain
 * data owned by the caller.
 */
#ifndef MP_FILE_H
#define MP_FILE_H

#include <stdio.h>

#include "traces/mp_error.h"

#define MP_PATH_MAX 4096 /* longest path handled, with its NUL */

typedef enum mp_otarget_kind {
    MP_OT_STDOUT,  /* "-" or an open descriptor (fd): written directly        */
    MP_OT_THROUGH, /* an existing non-regular file: written directly          */
    MP_OT_REPLACE, /* an existing regular file: temporary, then rename (copy) */
    MP_OT_CREATE   /* a new file: temporary, then rename                       */
} mp_otarget_kind;

typedef struct mp_otarget {
    mp_otarget_kind kind;
    int fd;                       /* MP_OT_STDOUT: the descriptor (1 for "-") */
    unsigned long long dev, ino;  /* MP_OT_THROUGH, MP_OT_REPLACE             */
    unsigned long long nlink;     /* MP_OT_REPLACE: hard links                */
    unsigned mode, uid, gid;      /* MP_OT_REPLACE: st_mode, owner, group     */
    char path[MP_PATH_MAX];       /* all but MP_OT_STDOUT: the final path,
                                     symlinks followed                        */
} mp_otarget;

/* Says what writing `path` would do.  Returns 0, or MP_EIO for a folder, a
 * trailing '/', a symlink loop, a closed descriptor or a path that cannot be
 * examined (message names `path`). */
int mp_otarget_resolve(mp_otarget *t, const char *path, mp_err *err);

typedef struct mp_ofile mp_ofile;

/* Opens `path` for writing as described above (binary mode).  Returns 0 or
 * MP_EIO (MP_ENOMEM when out of memory). */
int mp_ofile_open(mp_ofile **out, const char *path, mp_err *err);

/* The stream to write to; valid until commit or abort. */
FILE *mp_ofile_stream(mp_ofile *f);

/* The name for messages: the path given to mp_ofile_open, or "standard
 * output" for "-". */
const char *mp_ofile_path(const mp_ofile *f);

/* Flushes and closes, then puts the temporary in place; frees f.  On a write
 * error the temporary is removed and MP_EIO returned.  For standard output
 * the error is reported here once ("write error on standard output: ...")
 * and the stream's error flag cleared. */
int mp_ofile_commit(mp_ofile *f, mp_err *err);

/* Closes and removes the temporary (a written-through target keeps what was
 * written); frees f.  The caller reports why it gave up: an error flag on
 * standard output is cleared.  NULL is a no-op. */
void mp_ofile_abort(mp_ofile *f);

/* Size of a regular file in bytes, or -1 when it cannot be known (a pipe). */
long long mp_file_size(FILE *fp);

/* ---- temporaries ---- */

/* The temporary name for writing `target` ("DIR/.NAME.mptmp.PID.N", N from a
 * process-wide counter) into buf.  Returns 0, or -1 when it does not fit. */
int mp_tmp_name(char *buf, size_t cap, const char *target);

/* 1 when `name` (a folder entry, no '/') has the temporary pattern; *pid gets
 * its PID. */
int mp_tmp_match(const char *name, long *pid);

/* 1 when `name` has the pattern and its PID is not a live process (and is
 * not this one). */
int mp_tmp_stale(const char *name);

/* Removes stale temporary regular files owned by this user from `folder`
 * ("" or NULL: the current folder).  Best effort. */
void mp_tmp_sweep(const char *folder);

/* Records a temporary file (is_dir 0) or folder (is_dir 1) to remove on a
 * signal; a folder is emptied two levels deep without following symlinks.
 * Returns a slot for mp_tmp_untrack, or -1 when the list is full (the
 * temporary is then not cleaned up on a signal). */
int mp_tmp_track(const char *path, int is_dir);
void mp_tmp_untrack(int slot); /* -1 is a no-op */

/* Removes every tracked temporary (async-signal-safe; does nothing in a
 * forked child). */
void mp_tmp_cleanup(void);

/* Installs the SIGINT, SIGTERM, SIGHUP and SIGPIPE handlers (a signal that
 * is ignored stays ignored).  Idempotent. */
void mp_tmp_catch_signals(void);

#endif
