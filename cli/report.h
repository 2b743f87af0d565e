/*
 * report.h - writing a report folder for an evaluation (sim/mp_check.h):
 * report.md, plot data and a gnuplot script, PNG and SVG plots drawn by
 * gnuplot, and a single-file report.html; presentation only, internal to
 * cli/.
 *
 * Memory: nothing returned needs freeing; the evaluation is borrowed.
 */
#ifndef CLI_REPORT_H
#define CLI_REPORT_H

#include <stdio.h>

#include "sim/mp_check.h"

typedef struct report_ctx {
    const mp_eval *ev;
    const char *dir;       /* folder being built (DIR.tmp.PID)              */
    const char *input;     /* trace path, or a description of the generated one */
    const char *gnuplot;   /* program to run, or NULL when none was found    */
    int plots;             /* plots were drawn                                */
    int html;              /* also write report.html                          */
    const mp_rebalance_result *rb; /* or NULL                               */
    const char *rb_strategy;
    const mp_sweep_result *sweep;  /* or NULL                              */
} report_ctx;

/* The plot names in the order the report shows them; *n gets the count. */
int report_plot_count(const report_ctx *r);
/* Name (file stem under plots/) and caption of plot i. */
void report_plot_name(const report_ctx *r, int i, char *stem, size_t cap, const char **caption);

/* The file stem of an entry's plan under plans/ (cli_esc_filename of its name). */
void report_plan_stem(const char *name, char *stem, size_t cap);

/* Writes the data files (data/NAME.dat) and plots.gp under r->dir.  Returns 0 or MP_EIO. */
int report_write_plot_data(const report_ctx *r, mp_err *err);
/* Runs gnuplot on plots.gp in r->dir; returns 0 when every plot was drawn,
 * else MP_EIO with the reason (the report goes on without plots). */
int report_run_gnuplot(const report_ctx *r, mp_err *err);
/* Finds gnuplot on PATH ("gnuplot"); writes its path into buf; 0 or -1. */
int report_find_gnuplot(char *buf, size_t cap);

/* Writes report.md (and report.html when r->html). */
int report_write_md(const report_ctx *r, mp_err *err);
int report_write_html(const report_ctx *r, mp_err *err);

/* Moves the built folder `tmp` to `dir` (replacing an earlier report there:
 * a folder holding report.md).  Returns 0 or MP_EIO. */
int report_dir_commit(const char *tmp, const char *dir, mp_err *err);
/* Removes a folder tree we built (best effort). */
void report_dir_remove(const char *dir);

/* Short label of a layer group for the sorted-load plot. */
#define REPORT_LAYER_GROUPS 4

#endif
