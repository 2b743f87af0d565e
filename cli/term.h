/*
 * term.h - text that fits a terminal: the width tables on standard output
 * fit, which columns a table keeps, line wrapping, and the progress line.
 * Everything but the two *_columns functions is pure (no I/O, no clock), so
 * unit tests check it directly (tests/unit/term_test.c).
 *
 * Memory: nothing here allocates; callers own every buffer.
 */
#ifndef CLI_TERM_H
#define CLI_TERM_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* The width a table on standard output fits, or 0 when it prints whole:
 * `wide` set (--wide) or standard output not a terminal.  On a terminal: the
 * window width (TIOCGWINSZ), else $COLUMNS, else CLI_TERM_DEFAULT_COLUMNS.
 * MOEPLACE_TTY_COLUMNS=N (tests only, see tests/README.md) makes standard
 * output count as a terminal N columns wide. */
#define CLI_TERM_DEFAULT_COLUMNS 100
#define CLI_TERM_MIN_COLUMNS 40
int cli_term_columns(int wide);

/* The width of standard error when it is a terminal (for the progress
 * line), else 0. */
int cli_term_stderr_columns(void);

/* Columns printed on a terminal: UTF-8 code points (continuation bytes take none). */
int cli_text_width(const char *s);

/* Copies s into buf cut to at most `width` columns, ending with "..." when
 * it was cut (at a code point boundary); returns the width written. */
int cli_text_cut(char *buf, size_t n, const char *s, int width);

/* The bytes of s that make its next line of at most `width` columns: up to
 * the last space that fits (the space not counted), else `width` columns
 * cut hard.  0 only when s is empty.  The caller skips the spaces after. */
size_t cli_wrap_next(const char *s, int width);

/* Prints s on fp as lines of at most `cols` columns (0: one line), the first
 * starting with `first`, the others indented as deep. */
void cli_print_wrapped(FILE *fp, const char *first, const char *s, int cols);

/* ---- fitting a table: columns joined by two spaces ---- */
#define CLI_FIT_FLEX_MIN 24 /* a cut or wrapped text column keeps at least this many columns */
#define CLI_FIT_CUT_MIN 8   /* ... and any text column, when nothing else helps */
typedef struct cli_fit_col {
    /* in */
    int head;   /* width of the full header                              */
    int shorter; /* width of its short label (== head when it has none)  */
    int data;   /* widest cell                                           */
    int prio;   /* MP_PRIO_KEY (never dropped) .. MP_PRIO_DETAIL          */
    int text;   /* 1: cells are text and may be cut                      */
    /* out */
    int shown;  /* 1: printed                                            */
    int abbrev; /* 1: printed under its short label                      */
    int width;  /* its width (cells wider are cut)                       */
} cli_fit_col;

/* Chooses, for a table of n columns, what to print within `cols` columns:
 * all columns under full headers when that fits; else fewest short labels
 * first (largest saving first), then the last text column cut (not below
 * CLI_FIT_FLEX_MIN), then columns dropped (highest priority number first,
 * rightmost first among equals) with labels and cuts chosen again; when only
 * keys are left, the widest text columns cut (not below CLI_FIT_CUT_MIN).
 * Returns the resulting line width (may exceed cols only when even that
 * does not fit). */
int cli_fit(cli_fit_col *c, int n, int cols);

/* ---- progress line ---- */
/* A count in at most 6 characters: 999, 12.3k, 4.56M, 7.89G. */
void cli_si(char *buf, size_t n, double v);

/* Renders one progress line into buf, at most cols-1 columns wide (cols 0:
 * 80): "LABEL [####.....]  27.0%  12.3k tokens/s  ETA 0:12" when total > 0,
 * else "LABEL  4.56M tokens  12.3k tokens/s  0:03".  done and total count
 * `unit`s; elapsed is seconds since the job started (no rate or ETA before
 * any time has passed or any work is done).  Returns the length. */
size_t cli_progress_format(char *buf, size_t n, const char *label, const char *unit, double done, double total,
                           double elapsed, int cols);

#endif
