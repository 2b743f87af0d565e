/*
 * harness.h - the one harness of the benchmarks (bench/bench_*.c), in the
 * style of nccl-tests and zstd's benchfn: one timer, the median of N runs
 * (with min and max), a machine line, and every result both as a table and,
 * with -J FILE, as JSON.  bench/README.md says how to run each benchmark.
 *
 * Harness flags, taken out of argv by bh_open before the benchmark reads its
 * own arguments:
 *   -n RUNS    timed runs per measurement (the benchmark's default otherwise)
 *   -J FILE    also write every row, the machine and the parameters as JSON
 *   -M         print the tables as Markdown (rows for bench/RESULTS.md)
 *   -h         usage
 *
 * A benchmark: bh_open; bh_param for its workload; then for each thing it
 * measures, bh_clock_start/bh_clock_stop around each run, bh_runs_add the
 * samples, and bh_row_* to print a row holding the runs' statistics plus any
 * figures of its own (rates, ratios to a baseline measured in the same run);
 * bh_note for free text, bh_check for a verdict (a failed one makes bh_close
 * return 1); bh_close writes the JSON file.
 *
 * Ownership: bh_open allocates the harness, bh_close frees it (and every row);
 * strings passed in are copied.  Output goes to stdout; errors to stderr.
 */
#ifndef MP_BENCH_HARNESS_H
#define MP_BENCH_HARNESS_H

#include <stdint.h>

#define BH_MAX_RUNS 1000

/* ---- the timer: wall clock (CLOCK_MONOTONIC) and CPU time ---- */
typedef struct bh_sample {
    double wall;       /* seconds of CLOCK_MONOTONIC */
    double cpu;        /* seconds of CPU of the whole process (all threads) */
    double thread_cpu; /* seconds of CPU of the calling thread */
} bh_sample;

typedef struct bh_clock {
    bh_sample t0;
} bh_clock;

void bh_clock_start(bh_clock *c);
bh_sample bh_clock_stop(const bh_clock *c); /* time since bh_clock_start */

/* ---- a measurement: the samples of its runs ---- */
typedef struct bh_runs {
    int n;
    bh_sample s[BH_MAX_RUNS];
} bh_runs;

typedef struct bh_stat {
    double median, min, max; /* of n values; all 0 when n is 0 */
} bh_stat;

enum bh_which { BH_WALL, BH_CPU, BH_THREAD_CPU };

void bh_runs_add(bh_runs *r, bh_sample s);    /* past BH_MAX_RUNS samples are dropped */
bh_stat bh_runs_stat(const bh_runs *r, enum bh_which w);
double bh_runs_median(const bh_runs *r, enum bh_which w);
bh_stat bh_stat_of(const double *v, int n); /* v is not changed */

/* ---- the harness ---- */
typedef struct bh bh;
typedef struct bh_row bh_row;

/* Parses and removes the harness flags from argv (argc updated); prints the
 * machine line.  usage: the benchmark's own arguments, for -h and errors.
 * Returns 0, or the exit status to return now (0 after -h, 2 on a usage
 * error, 1 when out of memory). */
int bh_open(bh **h, const char *name, const char *usage, int default_runs, int *argc, char **argv);
int bh_runs_wanted(const bh *h); /* -n RUNS or the default */
void bh_usage(const bh *h);      /* prints the usage line to stderr */

/* The workload, printed once before the first table and kept in the JSON. */
void bh_param(bh *h, const char *key, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* A titled table; rows after it belong to it. */
void bh_section(bh *h, const char *title);

/* A row: its name, the statistics of runs (NULL for a row of figures only,
 * e.g. times measured by CUDA events), then named figures.  The row is printed
 * by bh_row_end; a header is printed when its columns differ from the row
 * before.  fmt is the printf format of the value in the table, e.g. "%.1f";
 * a NaN value is an empty cell ("-" in the table, null in the JSON). */
bh_row *bh_row_begin(bh *h, const char *name, const bh_runs *runs);
void bh_row_num(bh_row *r, const char *key, const char *fmt, double v);
void bh_row_text(bh_row *r, const char *key, const char *v);
void bh_row_end(bh_row *r);

void bh_note(bh *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void bh_check(bh *h, const char *what, int ok); /* prints "check: what: ok|FAILED" */

/* Writes -J FILE, frees h.  Returns 0, or 1 when a check failed or the JSON
 * file could not be written.  NULL: no-op, returns 0. */
int bh_close(bh *h);

#endif
