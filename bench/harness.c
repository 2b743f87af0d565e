/* harness.c - the benchmarks' one harness (see harness.h). */
#include "bench/harness.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#ifndef MP_BENCH_BUILD_TYPE
#define MP_BENCH_BUILD_TYPE "unknown"
#endif

#define BH_MAX_FIGURES 24
#define BH_NAME_WIDTH 42 /* the name column of the text tables */
#define BH_CELL_WIDTH 10 /* the narrowest figure column */

/* ---- the timer ---- */

static double clock_s(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void bh_clock_start(bh_clock *c)
{
    c->t0.cpu = clock_s(CLOCK_PROCESS_CPUTIME_ID);
    c->t0.thread_cpu = clock_s(CLOCK_THREAD_CPUTIME_ID);
    c->t0.wall = clock_s(CLOCK_MONOTONIC); /* last: the CPU clocks' cost is not timed */
}

bh_sample bh_clock_stop(const bh_clock *c)
{
    bh_sample s;
    s.wall = clock_s(CLOCK_MONOTONIC) - c->t0.wall;
    s.thread_cpu = clock_s(CLOCK_THREAD_CPUTIME_ID) - c->t0.thread_cpu;
    s.cpu = clock_s(CLOCK_PROCESS_CPUTIME_ID) - c->t0.cpu;
    return s;
}

/* ---- statistics ---- */

void bh_runs_add(bh_runs *r, bh_sample s)
{
    if (r->n < BH_MAX_RUNS) r->s[r->n++] = s;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

bh_stat bh_stat_of(const double *v, int n)
{
    bh_stat st = {0, 0, 0};
    if (n <= 0) return st;
    double *c = malloc((size_t)n * sizeof *c);
    if (!c) return st;
    memcpy(c, v, (size_t)n * sizeof *c);
    qsort(c, (size_t)n, sizeof *c, cmp_double);
    st.min = c[0];
    st.max = c[n - 1];
    st.median = n % 2 ? c[n / 2] : (c[n / 2 - 1] + c[n / 2]) / 2;
    free(c);
    return st;
}

bh_stat bh_runs_stat(const bh_runs *r, enum bh_which w)
{
    double v[BH_MAX_RUNS];
    for (int i = 0; i < r->n; i++) v[i] = w == BH_WALL ? r->s[i].wall : w == BH_CPU ? r->s[i].cpu : r->s[i].thread_cpu;
    return bh_stat_of(v, r->n);
}

double bh_runs_median(const bh_runs *r, enum bh_which w) { return bh_runs_stat(r, w).median; }

/* ---- the harness ---- */

struct bh {
    char *name, *usage, *json_path;
    int runs, markdown, failed_checks, params_printed;
    char header[1024]; /* the columns of the last header printed ("" = none) */
    char *section;
    char param_text[2048]; /* ", key value" for each parameter, as given */
    cJSON *root, *params, *rows, *notes, *checks;
};

struct bh_row {
    bh *h;
    char *name;
    int has_runs;
    bh_stat wall, cpu;
    int nruns;
    int n;
    char *key[BH_MAX_FIGURES], *cell[BH_MAX_FIGURES];
    cJSON *json;
};

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

/* The first "model name" (x86) or "Processor"/"cpu model" line of /proc/cpuinfo. */
static void cpu_model(char *out, size_t n)
{
    snprintf(out, n, "unknown CPU");
    FILE *fp = fopen("/proc/cpuinfo", "r");
    if (!fp) return;
    char line[512];
    while (fgets(line, sizeof line, fp)) {
        if (strncmp(line, "model name", 10) && strncmp(line, "Processor", 9) && strncmp(line, "cpu model", 9))
            continue;
        char *v = strchr(line, ':');
        if (!v) continue;
        v++;
        while (*v == ' ' || *v == '\t') v++;
        v[strcspn(v, "\n")] = 0;
        snprintf(out, n, "%s", v);
        break;
    }
    fclose(fp);
}

static double load_average(void)
{
    double l = -1;
    FILE *fp = fopen("/proc/loadavg", "r");
    if (fp) {
        if (fscanf(fp, "%lf", &l) != 1) l = -1;
        fclose(fp);
    }
    return l;
}

static const char *compiler(void)
{
#if defined(__clang__)
    return "clang " __clang_version__;
#elif defined(__GNUC__)
    return "gcc " __VERSION__;
#else
    return "unknown compiler";
#endif
}

void bh_usage(const bh *h)
{
    fprintf(stderr, "usage: %s [-n RUNS] [-J FILE.json] [-M] %s\n", h->name, h->usage);
}

static void print_machine(bh *h)
{
    char cpu[256], date[64];
    cpu_model(cpu, sizeof cpu);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", &tm);
    double load = load_average();
    printf("# machine: %s, %ld cores, %s, %s build, %s, load average %.2f\n", cpu, cores, compiler(),
           MP_BENCH_BUILD_TYPE, date, load);
    cJSON *m = cJSON_AddObjectToObject(h->root, "machine");
    cJSON_AddStringToObject(m, "cpu", cpu);
    cJSON_AddNumberToObject(m, "cores", (double)cores);
    cJSON_AddStringToObject(m, "compiler", compiler());
    cJSON_AddStringToObject(m, "build_type", MP_BENCH_BUILD_TYPE);
    cJSON_AddStringToObject(m, "date", date);
    cJSON_AddNumberToObject(m, "load_average", load);
}

int bh_open(bh **out, const char *name, const char *usage, int default_runs, int *argc, char **argv)
{
    *out = NULL;
    bh *h = calloc(1, sizeof *h);
    if (!h || !(h->name = dup_str(name)) || !(h->usage = dup_str(usage)) || !(h->root = cJSON_CreateObject())) {
        bh_close(h);
        return 1;
    }
    h->runs = default_runs;
    int k = 1, help = 0, bad = 0, harness_done = 0;
    for (int i = 1; i < *argc; i++) {
        const char *a = argv[i];
        if (harness_done) argv[k++] = argv[i];
        else if (!strcmp(a, "--")) harness_done = 1;
        else if (!strcmp(a, "-h") || !strcmp(a, "--help")) help = 1;
        else if (!strcmp(a, "-M")) h->markdown = 1;
        else if (!strcmp(a, "-n") || !strcmp(a, "-J")) {
            if (i + 1 >= *argc) {
                bad = 1;
                break;
            }
            const char *v = argv[++i];
            if (a[1] == 'J') {
                free(h->json_path);
                h->json_path = dup_str(v);
            } else {
                char *end;
                long n = strtol(v, &end, 10);
                if (*end || end == v || n < 1 || n > BH_MAX_RUNS) {
                    fprintf(stderr, "%s: -n wants 1..%d runs, not '%s'\n", name, BH_MAX_RUNS, v);
                    bad = 1;
                    break;
                }
                h->runs = (int)n;
            }
        } else argv[k++] = argv[i];
    }
    if (!bad) {
        *argc = k;
        argv[k] = NULL;
    }
    if (help || bad) {
        bh_usage(h);
        bh_close(h);
        return help && !bad ? 0 : 2;
    }
    cJSON_AddStringToObject(h->root, "bench", name);
    cJSON_AddNumberToObject(h->root, "schema_version", 1);
    print_machine(h);
    cJSON *av = cJSON_AddArrayToObject(h->root, "argv");
    for (int i = 1; i < *argc; i++) cJSON_AddItemToArray(av, cJSON_CreateString(argv[i]));
    cJSON_AddNumberToObject(h->root, "runs", h->runs);
    h->params = cJSON_AddObjectToObject(h->root, "params");
    h->rows = cJSON_AddArrayToObject(h->root, "rows");
    h->notes = cJSON_AddArrayToObject(h->root, "notes");
    h->checks = cJSON_AddArrayToObject(h->root, "checks");
    *out = h;
    return 0;
}

int bh_runs_wanted(const bh *h) { return h->runs; }

/* The parameters line, once, before anything else is printed. */
static void flush_params(bh *h)
{
    if (h->params_printed) return;
    h->params_printed = 1;
    printf("# %s: runs %d%s\n", h->name, h->runs, h->param_text);
}

void bh_param(bh *h, const char *key, const char *fmt, ...)
{
    char v[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v, sizeof v, fmt, ap);
    va_end(ap);
    char *end;
    double d = strtod(v, &end);
    cJSON_DeleteItemFromObjectCaseSensitive(h->params, key);
    if (*v && !*end) cJSON_AddNumberToObject(h->params, key, d);
    else cJSON_AddStringToObject(h->params, key, v);
    if (h->params_printed) printf("# %s %s\n", key, v); /* a late parameter */
    size_t used = strlen(h->param_text);
    snprintf(h->param_text + used, sizeof h->param_text - used, ", %s %s", key, v);
}

void bh_section(bh *h, const char *title)
{
    flush_params(h);
    free(h->section);
    h->section = dup_str(title);
    printf(h->markdown ? "\n### %s\n" : "\n%s\n", title);
    h->header[0] = 0;
}

bh_row *bh_row_begin(bh *h, const char *name, const bh_runs *runs)
{
    bh_row *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    r->h = h;
    r->name = dup_str(name);
    r->json = cJSON_CreateObject();
    if (h->section) cJSON_AddStringToObject(r->json, "section", h->section);
    cJSON_AddStringToObject(r->json, "name", name);
    if (runs && runs->n > 0) {
        r->has_runs = 1;
        r->nruns = runs->n;
        r->wall = bh_runs_stat(runs, BH_WALL);
        r->cpu = bh_runs_stat(runs, BH_CPU);
        bh_stat tc = bh_runs_stat(runs, BH_THREAD_CPU);
        cJSON_AddNumberToObject(r->json, "runs", runs->n);
        const bh_stat *st[3] = {&r->wall, &r->cpu, &tc};
        static const char *const names[3] = {"wall_s", "cpu_s", "thread_cpu_s"};
        for (int i = 0; i < 3; i++) {
            cJSON *o = cJSON_AddObjectToObject(r->json, names[i]);
            cJSON_AddNumberToObject(o, "median", st[i]->median);
            cJSON_AddNumberToObject(o, "min", st[i]->min);
            cJSON_AddNumberToObject(o, "max", st[i]->max);
        }
    }
    cJSON_AddObjectToObject(r->json, "figures");
    return r;
}

static void add_cell(bh_row *r, const char *key, const char *cell)
{
    if (!r || r->n >= BH_MAX_FIGURES) return;
    r->key[r->n] = dup_str(key);
    r->cell[r->n] = dup_str(cell);
    r->n++;
}

void bh_row_num(bh_row *r, const char *key, const char *fmt, double v)
{
    if (!r) return;
    char cell[64] = "-";
    cJSON *fig = cJSON_GetObjectItemCaseSensitive(r->json, "figures");
    if (isnan(v)) {
        cJSON_AddNullToObject(fig, key);
    } else {
        snprintf(cell, sizeof cell, fmt, v);
        cJSON_AddNumberToObject(fig, key, v);
    }
    add_cell(r, key, cell);
}

void bh_row_text(bh_row *r, const char *key, const char *v)
{
    if (!r) return;
    add_cell(r, key, v);
    cJSON_AddStringToObject(cJSON_GetObjectItemCaseSensitive(r->json, "figures"), key, v);
}

static int width_of(const char *key)
{
    int n = (int)strlen(key);
    return n > BH_CELL_WIDTH ? n : BH_CELL_WIDTH;
}

static const char *const time_cols[5] = {"runs", "median ms", "min ms", "max ms", "cpu ms"};

static void print_header(bh *h, const bh_row *r)
{
    if (h->markdown) {
        printf("\n| case |");
        if (r->has_runs)
            for (int i = 0; i < 5; i++) printf(" %s |", time_cols[i]);
        for (int i = 0; i < r->n; i++) printf(" %s |", r->key[i]);
        printf("\n|---|");
        for (int i = 0; i < (r->has_runs ? 5 : 0) + r->n; i++) printf("---:|");
        printf("\n");
        return;
    }
    printf("%-*s", BH_NAME_WIDTH, "case");
    if (r->has_runs) {
        printf(" %5s", time_cols[0]);
        for (int i = 1; i < 5; i++) printf(" %*s", BH_CELL_WIDTH, time_cols[i]);
    }
    for (int i = 0; i < r->n; i++) printf(" %*s", width_of(r->key[i]), r->key[i]);
    printf("\n");
}

void bh_row_end(bh_row *r)
{
    if (!r) return;
    bh *h = r->h;
    flush_params(h);
    /* the columns of this row, to know whether a header is due */
    char sig[sizeof h->header];
    int o = snprintf(sig, sizeof sig, "%d", r->has_runs);
    for (int i = 0; i < r->n && o < (int)sizeof sig; i++) o += snprintf(sig + o, sizeof sig - (size_t)o, "|%s", r->key[i]);
    if (strcmp(sig, h->header)) {
        print_header(h, r);
        snprintf(h->header, sizeof h->header, "%s", sig);
    }
    double ms[4] = {r->wall.median * 1e3, r->wall.min * 1e3, r->wall.max * 1e3, r->cpu.median * 1e3};
    if (h->markdown) {
        printf("| %s |", r->name);
        if (r->has_runs) {
            printf(" %d |", r->nruns);
            for (int i = 0; i < 4; i++) printf(" %.3f |", ms[i]);
        }
        for (int i = 0; i < r->n; i++) printf(" %s |", r->cell[i]);
    } else {
        printf("%-*s", BH_NAME_WIDTH, r->name);
        if (r->has_runs) {
            printf(" %5d", r->nruns);
            for (int i = 0; i < 4; i++) printf(" %*.3f", BH_CELL_WIDTH, ms[i]);
        }
        for (int i = 0; i < r->n; i++) printf(" %*s", width_of(r->key[i]), r->cell[i]);
    }
    printf("\n");
    fflush(stdout);
    cJSON_AddItemToArray(h->rows, r->json);
    for (int i = 0; i < r->n; i++) {
        free(r->key[i]);
        free(r->cell[i]);
    }
    free(r->name);
    free(r);
}

void bh_note(bh *h, const char *fmt, ...)
{
    flush_params(h);
    char v[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v, sizeof v, fmt, ap);
    va_end(ap);
    if (h->markdown && h->header[0]) printf("\n"); /* a note ends a Markdown table */
    if (h->markdown) h->header[0] = 0;
    printf("%s\n", v);
    fflush(stdout);
    cJSON_AddItemToArray(h->notes, cJSON_CreateString(v));
}

void bh_check(bh *h, const char *what, int ok)
{
    bh_note(h, "check: %s: %s", what, ok ? "ok" : "FAILED");
    cJSON *c = cJSON_CreateObject();
    cJSON_AddStringToObject(c, "what", what);
    cJSON_AddBoolToObject(c, "ok", ok);
    cJSON_AddItemToArray(h->checks, c);
    if (!ok) h->failed_checks++;
}

int bh_close(bh *h)
{
    if (!h) return 0;
    int rc = h->failed_checks > 0;
    if (h->json_path && h->rows) {
        char *text = cJSON_Print(h->root);
        FILE *fp = text ? fopen(h->json_path, "w") : NULL;
        int bad = !fp;
        if (fp) {
            bad = fputs(text, fp) < 0 || fputc('\n', fp) < 0;
            bad |= fclose(fp) != 0;
        }
        if (bad) {
            fprintf(stderr, "%s: cannot write %s\n", h->name, h->json_path);
            rc = 1;
        }
        free(text);
    }
    cJSON_Delete(h->root);
    free(h->section);
    free(h->json_path);
    free(h->usage);
    free(h->name);
    free(h);
    return rc;
}
