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
#include "traces/mp_file.h"

/* ---- "will it pay?" (report_pay.c) ---- */
#define REPORT_PAY_STRATEGY "eplb"        /* the static placement the engines ship            */
#define REPORT_PAY_R_MAX 4                /* most redundant experts per GPU in the table      */
#define REPORT_PAY_REGIMES 2              /* prefill, decode                                   */
#define REPORT_PAY_PREFILL_PER_GPU 4096   /* tokens per GPU per step: DeepEP's normal-kernel batch */
#define REPORT_PAY_DECODE_PER_GPU 128     /* DeepEP's low-latency-kernel batch                */
#define REPORT_PAY_STEPS_MAX 8            /* steps replayed per regime at most                 */
/* A gain below this fraction is within the model's uncertainty: no change pays. */
#define REPORT_NOISE 0.03

typedef struct report_pay_regime {
    int64_t batch, steps;           /* tokens per step, steps replayed           */
    double linear_us;               /* predicted step time of linear placement   */
    double static_us[REPORT_PAY_R_MAX + 1], static_maxmean[REPORT_PAY_R_MAX + 1]; /* eplb, r per GPU */
    double lp_us, lp_maxmean;       /* sglang-lp routing over the r_setup plan   */
    double online_static_us, online_steps_us, online_stall_us; /* NAN: too few steps */
    int64_t online_interval;
    int online_verdict;             /* MP_REB_*, -1: not run                     */
    double online_moved_bytes;
    char online_text[512];
} report_pay_regime;

typedef struct report_pay {
    int r_max, r_setup;             /* rows 0..r_max; the setup's replicas per GPU */
    double replica_bytes;           /* GPU memory of one redundant expert per GPU (every MoE layer) */
    double kv_bytes_per_token;      /* 0: unknown                                  */
    report_pay_regime reg[REPORT_PAY_REGIMES];
} report_pay;

/* Computes the figures (replays the source twice per regime).  *out is freed
 * with report_pay_destroy. */
int report_pay_run(report_pay **out, const mp_eval *ev, const mp_piece_source *src, int threads,
                   mp_progress_fn progress, void *pctx, mp_err *err);
void report_pay_destroy(report_pay *p);
/* One line (no newline) for regime g: the best option, what it gains over
 * linear and whether that pays (more than REPORT_NOISE), whether redundant
 * experts pay, and what per-batch routing and online rebalancing add. */
const char *report_pay_verdict(const report_pay *p, int g, char *buf, size_t cap);

/* ---- the recommendation (report_pay.c): one rule for the terminal, report.md and summary.json ---- */
typedef struct report_advice {
    int best;      /* entry with the lowest predicted step time                     */
    int linear;    /* the linear entry, or -1 when not compared                     */
    int deploy;    /* the entry to deploy: best, or linear when best does not pay    */
    int pays;      /* best is faster than linear by REPORT_NOISE or more (1 without linear) */
    double gain;   /* 1 - best / linear step time (0 without linear)                */
    char plan_file[MP_EVAL_NAME_MAX * 4 + 16]; /* "plans/STEM.json", relative to the report folder */
    char why[768]; /* one sentence                                                   */
} report_advice;
void report_advise(const mp_eval *ev, report_advice *a);

/* Mean per step of an entry's predicted step time split in expert, dispatch,
 * combine and other (today's model: dispatch and combine each take half of the
 * link time and their own fixed latency; other is what the step time holds
 * beyond the three). */
void report_breakdown(const mp_eval_result *x, double out[4]);

typedef struct report_ctx {
    const mp_eval *ev;
    const char *dir;       /* folder being built (report_dir.tmp)            */
    const char *input;     /* trace path, or a description of the generated one */
    const char *gnuplot;   /* program to run, or NULL when none was found    */
    int plots;             /* plots were drawn                                */
    int html;              /* also write report.html                          */
    const mp_rebalance_result *rb; /* or NULL                               */
    const char *rb_strategy;
    const mp_sweep_result *sweep;  /* or NULL                              */
    const report_pay *pay;         /* or NULL                              */
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
/* Writes summary.json (schema moeplace.report): the setup, every strategy's
 * predicted step time and its parts, the recommendation and the "will it
 * pay?" figures. */
int report_write_summary(const report_ctx *r, mp_err *err);

/* ---- the report folder (report_dir.c) ----
 * A report is built in a temporary folder beside DIR (".DIR.mptmp.PID.N",
 * removed on SIGINT/SIGTERM/SIGHUP/SIGPIPE) holding the marker file
 * REPORT_MARKER, then swapped with DIR in one step (renameat2
 * RENAME_EXCHANGE; where the file system lacks it, the old folder is renamed
 * aside first).  An existing DIR is replaced only when it carries the marker
 * (or is empty); from the old folder only the files moeplace writes are
 * removed, and anything else is kept in DIR.old. */
#define REPORT_MARKER ".moeplace-report"

typedef struct report_dir {
    const char *shown;      /* DIR as given (messages)                        */
    char dir[MP_PATH_MAX];  /* DIR: trailing '/' removed, a symlink followed  */
    char tmp[MP_PATH_MAX];  /* the folder being built                          */
    int slot;
} report_dir;

/* 0 when DIR may become a report folder; MP_EINVAL (a usage error) when it
 * exists and is not a folder carrying the marker (an empty folder is fine). */
int report_dir_check(const char *dir, mp_err *err);
/* Checks DIR, removes folders killed runs left beside it, makes the
 * temporary folder with the marker in it.  Returns 0, MP_EINVAL or MP_EIO. */
int report_dir_begin(report_dir *rd, const char *dir, mp_err *err);
/* Puts the built folder in place of DIR; returns 0, MP_EINVAL or MP_EIO (the
 * built folder is then removed). */
int report_dir_commit(report_dir *rd, mp_err *err);
/* Removes the built folder (nothing when already committed). */
void report_dir_abort(report_dir *rd);
/* Removes a folder tree we built (best effort). */
void report_dir_remove(const char *dir);

/* Short label of a layer group for the sorted-load plot. */
#define REPORT_LAYER_GROUPS 4

#endif
