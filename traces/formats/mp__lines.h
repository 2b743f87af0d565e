/*
 * mp__lines.h - internal: JSON-lines input, one line at a time, each line
 * capped, and a search for a key in a file's first line (the sniffers of the
 * JSON-lines formats).  Used by fmt_vllm_eplb.c and fmt_routed.c.
 *
 * Memory: an mp__lines value owns its buffer; mp__lines_close frees it and
 * closes the file (a zeroed value is a no-op).
 */
#ifndef MP__LINES_H
#define MP__LINES_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "traces/mp_error.h"

typedef struct mp__lines {
    FILE *fp;
    const char *path;  /* the caller's string                          */
    size_t max;        /* longest line accepted, in bytes               */
    int64_t line;      /* number of the line last returned, from 1      */
    char *buf;         /* [cap]: the line, NUL-terminated, then look-ahead */
    size_t cap, start, len; /* bytes start..len of buf are unread       */
} mp__lines;

/* Opens path for reading lines of at most max bytes.  0, or MP_EIO. */
int mp__lines_open(mp__lines *r, const char *path, size_t max, mp_err *err);

/* The next line, without its '\n', NUL-terminated, in *line (valid until
 * the next call) and its length in *n.  Returns 1, 0 at the end, MP_ELIMIT
 * for a line over max bytes, MP_EIO, or MP_ENOMEM; err names the line. */
int mp__lines_next(mp__lines *r, char **line, size_t *n, mp_err *err);

void mp__lines_close(mp__lines *r);

/* 1 when `needle` occurs in the first line of head[0..n). */
int mp__first_line_has(const unsigned char *head, size_t n, const char *needle);

/* 1 when line[0..n) holds only spaces, tabs and '\r'. */
int mp__blank(const char *line, size_t n);

#endif
