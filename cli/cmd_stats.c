/* cmd_stats.c - `moeplace stats FILE`: per-layer expert load statistics.
 * The figures come from traces/stats/mp_stats.h; this file parses flags and
 * lays them out. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/io_guard.h"
#include "traces/stats/mp_loads_read.h"
#include "traces/mp_loads.h"
#include "traces/stats/mp_stats.h"
#include "traces/formats/mp_trace.h"

const char cmd_stats_usage[] =
    "usage: moeplace stats FILE [--layer N] [--steps A:B] [options]\n"
    "\n"
    "Per-layer expert load statistics of a routing trace (.mpt .npy .csv) or a\n"
    "JSON load file: max/mean, coefficient of variation, Gini, normalised\n"
    "entropy, share of the hottest 10% of experts, dead experts, the hottest\n"
    "expert and its share, GPU imbalance under contiguous placement at EP8 and\n"
    "EP32, group max/mean when G > 1, per-step variation when there are several\n"
    "steps, and a summary over layers.  See moeplace-stats(1) for the formulas.\n"
    "With --format csv: the per-layer table.\n";

/* what was read: summed loads, per-step variation (or NULL), counts */
typedef struct input {
    const char *path;
    const char *format;
    const char *kind;
    mp_loads *sum;
    mp_stepvar *sv;
    int64_t steps, tokens; /* tokens < 0: a load file */
} input;

static int read_input(input *in, const cli_common *c, int64_t b, int64_t e, mp_err *err)
{
    mp_read_opts ro = cli_read_opts(c);
    int is_loads = 0;
    mp_format f = MP_FMT_AUTO;
    int rc = mp_loads_input(in->path, &ro, &is_loads, err);
    if (!rc && is_loads) rc = mp_format_guess(in->path, ro.format, &f, err);
    if (rc) return rc;
    if (is_loads) {
        mp_loads *l;
        ro.format = f;
        rc = mp_loads_read(&l, in->path, &ro, 1, err);
        if (rc) return rc;
        rc = mp_stats_scan_loads(l, b, e, &in->sum, &in->sv, err);
        if (rc == MP_ERANGE) { /* the library's message names no file */
            char msg[sizeof err->msg];
            snprintf(msg, sizeof msg, "%s", err->msg);
            mp_err_set(err, rc, "%s: %s", in->path, msg);
        }
        if (!rc) in->steps = (e < 0 || e > l->steps ? l->steps : e) - b;
        mp_loads_destroy(l);
        in->format = mp_format_name(f);
        in->kind = "loads";
        in->tokens = -1;
        return rc;
    }
    mp_trace *t;
    rc = mp_trace_open(&t, in->path, &ro, err);
    if (rc) return rc;
    cli_progress pr;
    cli_progress_init(&pr, c, "counting");
    cli_progress_trace(&pr, NULL, t);
    mp_scan_opts so = {b, e, c->threads, 1, cli_progress_update, &pr};
    mp_scan_totals tot;
    rc = mp_stats_scan(t, &so, &in->sum, &in->sv, &tot, err);
    cli_progress_done(&pr);
    in->format = mp_format_name(mp_trace_get_info(t).format);
    in->kind = "routing";
    in->steps = tot.steps;
    in->tokens = tot.tokens;
    mp_trace_close(t);
    return rc;
}

static int all_integer(const mp_loads *l)
{
    int64_t cells = (int64_t)l->layers * l->experts;
    for (int64_t i = 0; i < cells; i++)
        if (l->count[i] != floor(l->count[i]) || l->count[i] > 9e15) return 0;
    return 1;
}

static void head_rows(cli_doc *d, const input *in)
{
    const mp_model *m = &in->sum->model;
    cli_doc_str(d, "file", in->path);
    cli_doc_str(d, "format", in->format);
    cli_doc_str(d, "kind", in->kind);
    cli_doc_str(d, "model", m->name[0] ? m->name : "-");
    cli_doc_int(d, "layers", in->sum->layers);
    cli_doc_int(d, "experts", in->sum->experts);
    if (in->sum->has_model) {
        cli_doc_int(d, "top_k", m->top_k);
        cli_doc_int(d, "groups", m->groups);
    }
    cli_doc_int(d, "steps", in->steps);
    if (in->tokens >= 0) cli_doc_int(d, "tokens", in->tokens);
}

static int groups_of(const mp_loads *l)
{
    int g = l->has_model ? l->model.groups : 1;
    return g > 1 && l->experts % g == 0 ? g : 1;
}

/* ---- all layers ---- */

/* the figures of the per-layer table and the summary, in column order */
enum { F_MAXMEAN, F_CV, F_GINI, F_ENTROPY, F_TOP10, F_DEAD, F_HOTSHARE, F_EP8, F_EP32, F_GROUP, F_N };
static const char *const fig_name[F_N] = {"max_over_mean", "cv",  "gini", "entropy", "top10_share",
                                          "dead",     "hot_share", "ep8", "ep32", "group_max_over_mean"};
static const int fig_dec[F_N] = {3, 3, 3, 3, 3, -1, 3, 3, 3, 3};

/* decimals of a figure: more in JSON, which carries everything */
static int dec_of(int f, cli_format fmt)
{
    return fig_dec[f] < 0 ? fig_dec[f] : fmt == CLI_FMT_JSON ? 6 : fig_dec[f];
}

static double fig_value(const mp_layer_stats *s, int f, const double *row, int groups)
{
    switch (f) {
    case F_MAXMEAN: return s->max_over_mean;
    case F_CV: return s->cv;
    case F_GINI: return s->gini;
    case F_ENTROPY: return s->entropy_norm;
    case F_TOP10: return s->top10_share;
    case F_DEAD: return s->dead;
    case F_HOTSHARE: return s->hottest_share[0];
    case F_EP8: return s->ep8;
    case F_EP32: return s->ep32;
    default: return mp_stats_gpu_imbalance(row, s->experts, groups);
    }
}

static int fig_shown(int f, const mp_loads *l, int groups)
{
    if (f == F_EP8) return l->experts >= 8;
    if (f == F_EP32) return l->experts >= 32;
    if (f == F_GROUP) return groups > 1;
    return 1;
}

static void step_cols(cli_tab *t, const char *prefix, int full, int dec)
{
    static const char *const q[5] = {"mean", "p50", "p90", "p99", "max"};
    char name[32];
    for (int i = 0; i < 5; i++) {
        if (!full && (i == 0 || i == 2)) continue;
        snprintf(name, sizeof name, "%s_%s", prefix, q[i]);
        cli_tab_col(t, name, dec);
    }
}

static void step_cells(cli_tab *t, const mp_dist *d, int full)
{
    double v[5] = {d->mean, d->p50, d->p90, d->p99, d->max};
    for (int i = 0; i < 5; i++)
        if (full || (i != 0 && i != 2)) cli_tab_num(t, v[i]);
}

static int doc_all(cli_doc *d, input *in, cli_format fmt, mp_err *err)
{
    const mp_loads *l = in->sum;
    int32_t L = l->layers, E = l->experts;
    int groups = groups_of(l), csv = fmt == CLI_FMT_CSV, json = fmt == CLI_FMT_JSON;
    mp_layer_stats *st = calloc((size_t)L, sizeof *st);
    double *col = calloc((size_t)L, sizeof *col);
    if (!st || !col) {
        free(st);
        free(col);
        return mp_err_set(err, MP_ENOMEM, "stats: out of memory");
    }
    int rc = 0;
    for (int32_t i = 0; i < L && !rc; i++) rc = mp_stats_layer(mp_loads_row(l, 0, i), E, &st[i], err);
    if (rc) goto out;
    if (!csv) head_rows(d, in);

    cli_tab *t = cli_doc_table(d, "per_layer", "per layer");
    cli_tab_col(t, "layer", -1);
    cli_tab_col(t, "load", all_integer(l) ? 0 : 4);
    for (int f = 0; f < F_N; f++) {
        if (!fig_shown(f, l, groups)) continue;
        cli_tab_col(t, fig_name[f], dec_of(f, fmt));
        if (f == F_DEAD) cli_tab_col(t, "hottest", -1);
    }
    for (int32_t i = 0; i < L; i++) {
        const double *row = mp_loads_row(l, 0, i);
        cli_tab_int(t, i);
        cli_tab_num(t, st[i].total);
        for (int f = 0; f < F_N; f++) {
            if (!fig_shown(f, l, groups)) continue;
            if (f == F_DEAD) {
                cli_tab_int(t, st[i].dead);
                cli_tab_int(t, st[i].hottest[0]);
            } else {
                cli_tab_num(t, fig_value(&st[i], f, row, groups));
            }
        }
    }
    if (csv) goto out;

    t = cli_doc_table(d, "summary", "summary over layers");
    cli_tab_col(t, "stat", -1);
    for (int f = 0; f < F_N; f++)
        if (fig_shown(f, l, groups)) cli_tab_col(t, fig_name[f], f == F_DEAD ? 2 : dec_of(f, fmt));
    mp_summary sm[F_N];
    for (int f = 0; f < F_N; f++) { /* over the layers with load (all of them when none has) */
        int32_t n = 0;
        for (int32_t i = 0; i < L; i++)
            if (st[i].total > 0) col[n++] = fig_value(&st[i], f, mp_loads_row(l, 0, i), groups);
        for (int32_t i = 0; n == 0 && i < L; i++) col[i] = fig_value(&st[i], f, mp_loads_row(l, 0, i), groups);
        mp_stats_summarize(col, n ? n : L, &sm[f]);
    }
    static const char *const rowname[3] = {"mean", "min", "max"};
    for (int r = 0; r < 3; r++) {
        cli_tab_str(t, rowname[r]);
        for (int f = 0; f < F_N; f++)
            if (fig_shown(f, l, groups)) cli_tab_num(t, r == 0 ? sm[f].mean : r == 1 ? sm[f].min : sm[f].max);
    }

    if (in->sv && in->steps > 1) {
        t = cli_doc_table(d, "per_step", "per step (distribution over steps)");
        cli_tab_col(t, "layer", -1);
        cli_tab_col(t, "n", -1);
        int dec = json ? 6 : 3;
        step_cols(t, "max_over_mean", json, dec);
        if (E >= 8) step_cols(t, "ep8", json, dec);
        if (E >= 32) step_cols(t, "ep32", json, dec);
        for (int32_t i = 0; i < L; i++) {
            mp_dist ds[MP_STEPVAR_METRICS];
            for (int m = 0; m < MP_STEPVAR_METRICS; m++) mp_stepvar_get(in->sv, i, m, &ds[m]);
            cli_tab_int(t, i);
            cli_tab_int(t, ds[0].n);
            step_cells(t, &ds[0], json);
            if (E >= 8) step_cells(t, &ds[1], json);
            if (E >= 32) step_cells(t, &ds[2], json);
        }
    }
    if (!json) goto out;

    t = cli_doc_table(d, "hottest", "hottest experts");
    cli_tab_col(t, "layer", -1);
    cli_tab_col(t, "rank", -1);
    cli_tab_col(t, "expert", -1);
    cli_tab_col(t, "share", 6);
    for (int32_t i = 0; i < L; i++)
        for (int32_t k = 0; k < st[i].nhot; k++) {
            cli_tab_int(t, i);
            cli_tab_int(t, k + 1);
            cli_tab_int(t, st[i].hottest[k]);
            cli_tab_num(t, st[i].hottest_share[k]);
        }
    if (groups > 1) {
        double *g = calloc((size_t)groups, sizeof *g);
        if (!g) {
            rc = mp_err_set(err, MP_ENOMEM, "stats: out of memory");
            goto out;
        }
        t = cli_doc_table(d, "group_loads", "group loads");
        cli_tab_col(t, "layer", -1);
        cli_tab_col(t, "group", -1);
        cli_tab_col(t, "load", all_integer(l) ? 0 : 4);
        cli_tab_col(t, "share", 6);
        for (int32_t i = 0; i < L; i++) {
            mp_stats_groups(mp_loads_row(l, 0, i), E, groups, g);
            for (int k = 0; k < groups; k++) {
                cli_tab_int(t, i);
                cli_tab_int(t, k);
                cli_tab_num(t, g[k]);
                cli_tab_num(t, st[i].total > 0 ? g[k] / st[i].total : 0);
            }
        }
        free(g);
    }
out:
    free(st);
    free(col);
    return rc;
}

/* ---- one layer in detail ---- */

static int doc_layer(cli_doc *d, input *in, int32_t layer, cli_format fmt, mp_err *err)
{
    const mp_loads *l = in->sum;
    int32_t E = l->experts;
    int groups = groups_of(l), csv = fmt == CLI_FMT_CSV;
    const double *row = mp_loads_row(l, 0, layer);
    mp_layer_stats s;
    int rc = mp_stats_layer(row, E, &s, err);
    if (rc) return rc;
    int32_t *order = malloc((size_t)E * sizeof *order);
    if (!order) return mp_err_set(err, MP_ENOMEM, "stats: out of memory");
    if ((rc = mp_stats_rank(row, E, order, err)) != 0) {
        free(order);
        return rc;
    }
    int dec = all_integer(l) ? 0 : 4;
    if (!csv) {
        head_rows(d, in);
        cli_doc_int(d, "layer", layer);
        cli_doc_num(d, "load", s.total, dec);
        cli_doc_num(d, "mean", s.mean, 3);
        cli_doc_num(d, "min", s.min, dec);
        cli_doc_num(d, "max", s.max, dec);
        for (int f = 0; f < F_N; f++) {
            if (!fig_shown(f, l, groups)) continue;
            if (f == F_DEAD) cli_doc_int(d, "dead", s.dead);
            else cli_doc_num(d, fig_name[f], fig_value(&s, f, row, groups), 6);
        }
        if (in->sv && in->steps > 1) {
            static const char *const mname[MP_STEPVAR_METRICS] = {"step_max_over_mean", "step_ep8", "step_ep32"};
            static const char *const q[5] = {"mean", "p50", "p90", "p99", "max"};
            char key[64];
            for (int m = 0; m < MP_STEPVAR_METRICS; m++) {
                mp_dist ds;
                mp_stepvar_get(in->sv, layer, m, &ds);
                if (ds.n == 0) continue;
                double v[5] = {ds.mean, ds.p50, ds.p90, ds.p99, ds.max};
                for (int i = 0; i < 5; i++) {
                    snprintf(key, sizeof key, "%s_%s", mname[m], q[i]);
                    cli_doc_num(d, key, v[i], 6);
                }
            }
        }
    }
    cli_tab *t = cli_doc_table(d, "ranking", "experts, hottest first");
    cli_tab_col(t, "rank", -1);
    cli_tab_col(t, "expert", -1);
    cli_tab_col(t, "load", dec);
    cli_tab_col(t, "share", 6);
    cli_tab_col(t, "cum_share", 6);
    double cum = 0;
    for (int32_t i = 0; i < E; i++) {
        double v = row[order[i]];
        cum += v;
        cli_tab_int(t, i + 1);
        cli_tab_int(t, order[i]);
        cli_tab_num(t, v);
        cli_tab_num(t, s.total > 0 ? v / s.total : 0);
        cli_tab_num(t, s.total > 0 ? cum / s.total : 0);
    }
    free(order);
    if (groups > 1 && !csv) {
        double *g = calloc((size_t)groups, sizeof *g);
        if (!g) return mp_err_set(err, MP_ENOMEM, "stats: out of memory");
        mp_stats_groups(row, E, groups, g);
        t = cli_doc_table(d, "group_loads", "group loads");
        cli_tab_col(t, "group", -1);
        cli_tab_col(t, "load", dec);
        cli_tab_col(t, "share", 6);
        for (int k = 0; k < groups; k++) {
            cli_tab_int(t, k);
            cli_tab_num(t, g[k]);
            cli_tab_num(t, s.total > 0 ? g[k] / s.total : 0);
        }
        free(g);
    }
    return 0;
}

int cmd_stats(int argc, char **argv)
{
    cli_common c;
    cli_args A;
    int prc = cli_args_parse(&A, &c, "stats", argc, argv);
    if (prc) return prc;
    int layer = cli_int(&A, CLI_O_LAYER, -1);
    int64_t sb = 0, se = -1;
    cli_range(&A, CLI_O_STEPS, &sb, &se);
    if (c.help) return cli_help(stdout, "stats");
    if (A.first + 1 != argc) return cli_usage_error("stats", "wants exactly one FILE");
    {
        cli_io_guard g;
        cli_io_guard_init(&g, "stats");
        cli_io_guard_add_input(&g, argv[A.first]);
        cli_io_guard_add_output(&g, c.output);
        int grc = cli_io_guard_check(&g);
        if (grc) return grc;
    }

    mp_err err = {0};
    input in = {argv[A.first], NULL, NULL, NULL, NULL, 0, 0};
    if (read_input(&in, &c, sb, se, &err)) {
        mp_loads_destroy(in.sum);
        mp_stepvar_destroy(in.sv);
        return cli_fail(&err);
    }
    int rc;
    if (layer >= in.sum->layers) {
        rc = cli_usage_error("stats", "--layer %d: %s has layers 0..%d", layer, in.path, in.sum->layers - 1);
    } else {
        cli_doc *d = cli_doc_create("moeplace.stats");
        rc = layer >= 0 ? doc_layer(d, &in, layer, c.format, &err) : doc_all(d, &in, c.format, &err);
        rc = rc ? cli_fail(&err) : cli_doc_emit(d, &c);
        cli_doc_destroy(d);
    }
    mp_loads_destroy(in.sum);
    mp_stepvar_destroy(in.sv);
    return rc;
}
