/*
 * cli.h - the command face: the shared flag vocabulary, error printing,
 * output rendering (table/json/csv from one record), progress bar.
 * Nothing here is part of libmoeplace; no algorithm lives in cli/.
 *
 * Memory: cli_doc_create returns a document freed by cli_doc_destroy; all
 * strings added to it are copied.
 */
#ifndef CLI_H
#define CLI_H

#include <getopt.h>
#include <stdint.h>
#include <stdio.h>

#include "traces/mp_error.h"
#include "traces/formats/mp_trace.h"
#include "cli/options.h"

/* The version comes from project(VERSION) in CMakeLists.txt, its one place. */
#ifndef MOEPLACE_VERSION
#error "MOEPLACE_VERSION is defined by CMakeLists.txt from project(moeplace VERSION ...)"
#endif

/* Exit statuses. */
#define CLI_OK 0
#define CLI_EDATA 1  /* data or runtime error */
#define CLI_EUSAGE 2 /* usage error           */

typedef enum cli_format { CLI_FMT_TABLE = 0, CLI_FMT_JSON, CLI_FMT_CSV } cli_format;

/* Options every command reads the same way (filled by cli_args_parse from
 * the rows of cli/options.def). */
typedef struct cli_common {
    const char *cmd;    /* "stats"                          */
    const char *output; /* -o, --output                     */
    cli_format format;  /* --format table|json|csv          */
    int threads;        /* -j, --threads (default 1)        */
    uint64_t seed;      /* --seed (default 1)               */
    int seed_set;
    int quiet;          /* -q, --quiet: no progress bar     */
    int wide;           /* --wide: tables whole on a terminal */
    int help;           /* -h, --help                       */
    mp_format in_format;  /* --input-format FMT            */
    mp_format out_format; /* --to FMT (output format)       */
    const char *model_path; /* --model FILE|PRESET as given (NULL: none) */
    int has_model;
    mp_model model;       /* what --model names, read by cli_args_parse */
} cli_common;

void cli_common_init(cli_common *c, const char *cmd);

/* Prints "moeplace CMD: MESSAGE (see 'moeplace help CMD')" and returns CLI_EUSAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Prints the formatted line and a newline on stderr, with control characters
 * made text (cli_esc_term): for messages that may quote input. */
void cli_message(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;

/* Prints "moeplace: MESSAGE" for a library failure and returns CLI_EDATA
 * (CLI_EUSAGE when err->code is MP_EINVAL). */
int cli_fail(const mp_err *err);

/* Prints a topology the planner refused (mp_topology_resolve: messages name
 * fields) as a usage error of `cmd`, the fields spelled as the flags that
 * set them, and returns CLI_EUSAGE. */
int cli_topology_error(const char *cmd, const mp_err *err);

/* Strict number parsing for flag values; on failure print a usage error
 * naming `flag` and return -1.  The option table's checks (cli/options.c)
 * use these: one wording for every range. */
int cli_parse_i64(const char *cmd, const char *flag, const char *arg, int64_t lo, int64_t hi, int64_t *out);
int cli_parse_int(const char *cmd, const char *flag, const char *arg, int lo, int hi, int *out);
int cli_parse_double(const char *cmd, const char *flag, const char *arg, double lo, double hi, double *out);
/* "A:B", "A:", ":B" or "A" (one step) into [begin, end); end -1 = to the end. */
int cli_parse_range(const char *cmd, const char *flag, const char *arg, int64_t *begin, int64_t *end);

/* A byte count: a number with an optional suffix k, M, G or T (powers of
 * 1000, either case for k) and an optional 'B' ("1.5G", "800MB", "4096");
 * the result is rounded down to whole bytes and must lie in 0..2^62. */
int cli_parse_bytes(const char *cmd, const char *flag, const char *arg, int64_t *out);

/* Library messages name fields, never flags: a message about `field`
 * ("skew zipf:S wants ...") said as the flag that sets it ("--skew zipf:S
 * wants ..."); any other message is prefixed with "FLAG: ".  Returns buf. */
const char *cli_flag_msg(const char *msg, const char *field, const char *flag, char *buf, size_t n);

/* Notes a write error on standard output (errno says which) for main to
 * report once, as "moeplace: write error on standard output: REASON". */
void cli_stdout_error(void);

/* Reads --model ARG into c->model: a Hugging Face config.json, a folder
 * holding one, or a preset name (a file of that name comes first).  Returns
 * 0, CLI_EDATA after printing a bad file's error, or CLI_EUSAGE for a name
 * that is neither.  cli_args_parse calls it. */
int cli_model_load(cli_common *c, const char *arg);

/* With the shape from --model, the hidden and intermediate sizes of `m`
 * (0: unknown) completed from the flags' `hidden` / `inter` (> 0 wins);
 * when one is still unknown, prints that `what` needs them (naming --model,
 * and the --hidden/--intermediate flags when `flags`) and returns CLI_EUSAGE. */
int cli_need_sizes(const char *cmd, const char *input, const mp_model *m, int64_t hidden, int64_t inter, int flags);

/* Which decoder layers are MoE, as text: "0-57" (all), "3-60", "1-47/2"
 * (every 2nd), into buf. */
void cli_moe_layers_text(const mp_model *m, char *buf, size_t n);

/* Read options from the common flags (threads, --from, --model). */
mp_read_opts cli_read_opts(const cli_common *c);

/* ---- output documents: one record rendered as table, JSON or CSV ---- */
typedef struct cli_doc cli_doc;
typedef struct cli_tab cli_tab;

/* schema names the document kind, e.g. "moeplace.stats"; JSON carries it and
 * CLI_SCHEMA_VERSION. */
#define CLI_SCHEMA_VERSION 3 /* 2: one vocabulary (traces/mp_vocab.h): max_mean -> max_over_mean, ...;
                              3: held-out figures (holdout_*, insample_*, train_*), the migration path,
                              and report's headline on held-out steps by default */
cli_doc *cli_doc_create(const char *schema);
void cli_doc_destroy(cli_doc *d);
/* Scalars shown as "key: value" above the tables (and as JSON members). */
void cli_doc_str(cli_doc *d, const char *key, const char *val);
void cli_doc_int(cli_doc *d, const char *key, int64_t val);
void cli_doc_num(cli_doc *d, const char *key, double val, int decimals);
/* A table: name is its JSON key; title its caption in text output. */
cli_tab *cli_doc_table(cli_doc *d, const char *name, const char *title);
/* Columns, then cells row by row in column order. */
/* A column's priority (which columns a narrow terminal keeps, MP_PRIO_* of
 * traces/mp_vocab.h) comes from the vocabulary (mp_vocab_priority); the
 * first column of a table says which row it is and is always kept. */
void cli_tab_col(cli_tab *t, const char *name, int decimals); /* decimals < 0: integer/string */
/* Sets the priority of the column declared last, where this table's use of a name differs. */
void cli_tab_prio(cli_tab *t, int prio);
void cli_tab_str(cli_tab *t, const char *val);
void cli_tab_int(cli_tab *t, int64_t val);
void cli_tab_num(cli_tab *t, double val);
/* Renders to fp, every column; returns 0 or -1 on a write error. */
int cli_doc_print(const cli_doc *d, FILE *fp, cli_format f);
/* The same, tables fitted to `cols` columns (0: whole; cli/term.h says how):
 * lines never wider than cols, dropped columns named in a legend line.  JSON
 * and CSV never change. */
int cli_doc_print_fit(const cli_doc *d, FILE *fp, cli_format f, int cols);
/* Renders to standard output, fitted to the terminal when it is one
 * (cli_term_columns; not with --wide); returns an exit status. */
int cli_doc_stdout(const cli_doc *d, const cli_common *c);
/* Renders to c->output (atomically) or, fitted like cli_doc_stdout, to
 * standard output; returns an exit status. */
int cli_doc_emit(const cli_doc *d, const cli_common *c);

/* `moeplace help metrics [NAME...] [--format F]`: the output vocabulary
 * (traces/mp_vocab.h); argv[0] is "metrics".  Exit 1 when a NAME is not in it. */
int cli_help_metrics(int argc, char **argv);

/* ---- progress bar on stderr, only when it is a terminal and not --quiet ----
 * "LABEL [####....]  27.0%  12.3k tokens/s  ETA 0:12" (cli/term.h,
 * cli_progress_format): drawn at 0% when the job starts, at most 10 times a
 * second, and wiped by cli_progress_done.  The callback counts what the
 * library counts (assignments, steps); `per` of them make one `unit` shown. */
typedef struct cli_progress {
    int on;            /* drawing: standard error is a terminal, no --quiet */
    int cols;          /* its width                                        */
    const char *label;
    const char *unit;  /* "tokens", "steps", ... (default "items")          */
    double per;        /* counted per unit shown (assignments per token)    */
    int64_t total;     /* counted in the whole job when the callback says -1; -1: unknown */
    double last;       /* time of the last redraw */
    double start;
    int drawn;
} cli_progress;
void cli_progress_init(cli_progress *p, const cli_common *c, const char *label);
/* (Re)starts the bar for a job (a new label unless NULL) and draws it at 0%. */
void cli_progress_start(cli_progress *p, const char *label, const char *unit, double per, int64_t total);
/* cli_progress_start for a pass over trace t counting assignments: shown
 * as tokens, the total from its header when it says. */
void cli_progress_trace(cli_progress *p, const char *label, const mp_trace *t);
/* mp_progress_fn-compatible: ctx is the cli_progress; total <= 0: p->total. */
void cli_progress_update(void *ctx, int64_t done, int64_t total);
void cli_progress_done(cli_progress *p);

/* The evaluation's two passes over a trace (sim/mp_check.h mp_eval_run calls
 * back (steps read, -1) while counting, then (steps + steps replayed,
 * 2 * steps)) as two bars in steps, each from 0%: "LABEL: reading", then
 * "LABEL: replaying".  steps: the trace's, when known up front (else -1). */
typedef struct cli_eval_progress {
    cli_progress bar;
    const char *label; /* "report", "check" */
    int64_t steps;
    int phase;         /* 0 before, 1 reading, 2 replaying */
    char text[64];
} cli_eval_progress;
void cli_eval_progress_init(cli_eval_progress *p, const cli_common *c, const char *label, int64_t steps);
void cli_eval_progress_update(void *ctx, int64_t done, int64_t total);

/* ---- commands ---- */
typedef struct cli_command {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv);
} cli_command;

/* cmd_NAME_usage: the synopsis and description `moeplace help NAME` prints
 * above the options made from the table (cli/options.h). */
#define CLI_CMD(name, summary, groups, flags) \
    int cmd_##name(int argc, char **argv); \
    extern const char cmd_##name##_usage[];
#include "cli/commands.def"
#undef CLI_CMD

#endif
