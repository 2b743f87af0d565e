/* report_plot.c - plot data files, the gnuplot script and running gnuplot
 * for a report folder. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/escape.h"
#include "cli/report.h"
#include "traces/mp_file.h"

enum { PL_TIME = 0, PL_PARTS, PL_PAY, PL_LAYERS, PL_STEPS, PL_SORTED, PL_PARETO, PL_FIXED };

static int plot_present(const report_ctx *r, int k)
{
    return k == PL_PAY ? r->pay != NULL : k == PL_PARETO ? r->sweep != NULL : 1;
}

int report_plot_count(const report_ctx *r)
{
    int n = r->ev->n;
    for (int k = 0; k < PL_FIXED; k++) n += plot_present(r, k);
    return n;
}

/* plot i's kind: one of PL_* below PL_FIXED, or PL_FIXED + the heatmap's entry */
static int plot_kind(const report_ctx *r, int i)
{
    int k = 0;
    for (; k < PL_FIXED; k++)
        if (plot_present(r, k) && i-- == 0) return k;
    return PL_FIXED + i;
}

/* Strings from input (the model name above all) reach the script only through
 * cli_esc_gnuplot, and the data files only through cli_esc_gpdata. */

/* printf into a gnuplot single-quoted string, cut to CLI_ESC_LABEL_MAX bytes */
typedef struct gpstr {
    char s[CLI_ESC_LABEL_MAX + 1];
} gpstr;

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static const char *gq(gpstr *q, const char *fmt, ...)
{
    char raw[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(raw, sizeof raw, fmt, ap);
    va_end(ap);
    cli_esc_gnuplot(q->s, sizeof q->s, raw, strlen(raw));
    return q->s;
}

/* a name as one field of a data file */
static const char *gd(gpstr *q, const char *name)
{
    cli_esc_gpdata(q->s, sizeof q->s, name, strlen(name));
    return q->s;
}

void report_plan_stem(const char *name, char *stem, size_t cap) { cli_esc_filename(stem, cap, name, strlen(name)); }

void report_plot_name(const report_ctx *r, int i, char *stem, size_t cap, const char **caption)
{
    static const char *const fixed[PL_FIXED][2] = {
        {"step_time", "Predicted step time per strategy, with the balanced bound"},
        {"step_parts", "What the predicted step time is made of, per strategy (expert, dispatch, combine, other)"},
        {"will_it_pay", "Will it pay? Predicted step time against linear placement by redundant experts per GPU, prefill and decode"},
        {"max_mean_layers", "Max/mean GPU load per MoE layer (plan on the summed loads)"},
        {"imbalance_steps", "Imbalance over steps (replay, max/mean GPU rows)"},
        {"expert_loads", "Sorted expert loads per layer group (log scale)"},
        {"locality_pareto", "Locality sweep: balance against inter-node traffic (Pareto front)"},
    };
    i = plot_kind(r, i);
    if (i < PL_FIXED) {
        snprintf(stem, cap, "%s", fixed[i][0]);
        *caption = fixed[i][1];
        return;
    }
    char nm[MP_EVAL_NAME_MAX];
    report_plan_stem(r->ev->r[i - PL_FIXED].entry.name, nm, sizeof nm);
    snprintf(stem, cap, "heatmap_%s", nm);
    *caption = "Per-GPU load heatmap (layer x GPU, load / layer mean)";
}

/* ---- files ---- */

typedef struct out {
    mp_ofile *f;
    FILE *fp;
} out;

static int out_open(out *o, const report_ctx *r, const char *rel, mp_err *err)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", r->dir, rel);
    int rc = mp_ofile_open(&o->f, path, err);
    o->fp = rc ? NULL : mp_ofile_stream(o->f);
    return rc;
}

static int out_close(out *o, int rc, mp_err *err)
{
    if (rc) {
        mp_ofile_abort(o->f);
        return rc;
    }
    return mp_ofile_commit(o->f, err);
}

static int cmp_desc(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x > y ? -1 : x < y ? 1 : 0; /* loads are finite: a total order */
}

static int write_data(const report_ctx *r, mp_err *err)
{
    const mp_eval *ev = r->ev;
    out o;
    int rc;
    int32_t L = ev->model.layers, E = ev->model.experts;
    gpstr q, q2;

    if ((rc = out_open(&o, r, "data/strategies.dat", err))) return rc;
    fprintf(o.fp, "# index strategy step_time_us bound_us\n");
    for (int i = 0; i < ev->n; i++)
        fprintf(o.fp, "%d %s %.3f %.3f\n", i, gd(&q, ev->r[i].entry.name), ev->r[i].metric[MP_M_STEP_US],
                ev->r[i].bound_us);
    if ((rc = out_close(&o, 0, err))) return rc;

    if ((rc = out_open(&o, r, "data/parts.dat", err))) return rc;
    fprintf(o.fp, "# index strategy expert_us dispatch_us combine_us other_us\n");
    for (int i = 0; i < ev->n; i++) {
        double part[4];
        report_breakdown(&ev->r[i], part);
        fprintf(o.fp, "%d %s %.3f %.3f %.3f %.3f\n", i, gd(&q, ev->r[i].entry.name), part[0], part[1], part[2], part[3]);
    }
    if ((rc = out_close(&o, 0, err))) return rc;

    if (r->pay) {
        const report_pay *p = r->pay;
        const report_pay_regime *a = &p->reg[0], *d = &p->reg[1];
        if ((rc = out_open(&o, r, "data/pay.dat", err))) return rc;
        fprintf(o.fp, "# redundant_per_gpu label prefill_vs_linear_pct decode_vs_linear_pct (static %s)\n",
                REPORT_PAY_STRATEGY);
        for (int k = 0; k <= p->r_max; k++)
            fprintf(o.fp, "%d \"%d (%.1f GB)\" %.4f %.4f\n", k, k, k * p->replica_bytes / 1e9,
                    100 * (a->static_us[k] / a->linear_us - 1), 100 * (d->static_us[k] / d->linear_us - 1));
        if ((rc = out_close(&o, 0, err))) return rc;
        if ((rc = out_open(&o, r, "data/pay_points.dat", err))) return rc;
        fprintf(o.fp, "# redundant_per_gpu prefill_vs_linear_pct decode_vs_linear_pct: lp routing, online (async), online (stall)\n");
        double pts[3][2] = {{a->lp_us, d->lp_us}, {a->online_steps_us, d->online_steps_us},
                            {a->online_stall_us, d->online_stall_us}};
        for (int k = 0; k < 3; k++) {
            fprintf(o.fp, "%d", p->r_setup);
            for (int g = 0; g < 2; g++) {
                double lin = p->reg[g].linear_us, v = pts[k][g];
                if (isfinite(v) && lin > 0)
                    fprintf(o.fp, " %.4f", 100 * (v / lin - 1));
                else
                    fprintf(o.fp, " ?");
            }
            fprintf(o.fp, "\n");
        }
        if ((rc = out_close(&o, 0, err))) return rc;
    }

    if ((rc = out_open(&o, r, "data/layers.dat", err))) return rc;
    fprintf(o.fp, "layer");
    for (int i = 0; i < ev->n; i++) fprintf(o.fp, " %s", gd(&q, ev->r[i].entry.name));
    fprintf(o.fp, "\n");
    for (int32_t l = 0; l < L; l++) {
        fprintf(o.fp, "%d", l);
        for (int i = 0; i < ev->n; i++) fprintf(o.fp, " %.6f", ev->r[i].pm->max_over_mean[l]);
        fprintf(o.fp, "\n");
    }
    if ((rc = out_close(&o, 0, err))) return rc;

    if ((rc = out_open(&o, r, "data/steps.dat", err))) return rc;
    fprintf(o.fp, "step");
    for (int i = 0; i < ev->n; i++) fprintf(o.fp, " %s", gd(&q, ev->r[i].entry.name));
    if (r->rb) {
        char a[96], b[96];
        snprintf(a, sizeof a, "static(%s)", r->rb_strategy);
        snprintf(b, sizeof b, "online(%s)", r->rb_strategy);
        fprintf(o.fp, " %s %s", gd(&q, a), gd(&q2, b));
    }
    fprintf(o.fp, "\n");
    for (int64_t s = 0; s < ev->steps; s++) {
        fprintf(o.fp, "%lld", (long long)s);
        for (int i = 0; i < ev->n; i++)
            fprintf(o.fp, " %.6f", s < ev->r[i].sim->steps ? ev->r[i].sim->series[s].maxmean : NAN);
        if (r->rb)
            for (int g = MP_REGIME_STATIC; g <= MP_REGIME_ONLINE; g++) {
                const mp_sim_result *x = r->rb->regime[g];
                fprintf(o.fp, " %.6f", x && s < x->steps ? x->series[s].maxmean : NAN);
            }
        fprintf(o.fp, "\n");
    }
    if ((rc = out_close(&o, 0, err))) return rc;

    if (r->rb) {
        if ((rc = out_open(&o, r, "data/rebalance.dat", err))) return rc;
        fprintf(o.fp, "# step max_over_mean_after experts_moved\n");
        const mp_sim_result *x = r->rb->regime[MP_REGIME_ONLINE];
        for (int64_t i = 0; i < r->rb->nevents; i++) {
            const mp_rebalance_event *e = &r->rb->events[i];
            if (!e->applied || !x || e->step >= x->steps) continue;
            fprintf(o.fp, "%lld %.6f %lld\n", (long long)e->step, x->series[e->step].maxmean,
                    (long long)e->experts_moved);
        }
        if ((rc = out_close(&o, 0, err))) return rc;
    }

    if (r->sweep) {
        if ((rc = out_open(&o, r, "data/pareto.dat", err))) return rc;
        fprintf(o.fp, "# label plan_max_over_mean net_MB_per_step pareto (sorted by network bytes)\n");
        int n = r->sweep->n;
        int *ord = malloc((size_t)(n > 0 ? n : 1) * sizeof *ord);
        if (!ord) return out_close(&o, mp_err_set(err, MP_ENOMEM, "report: out of memory"), err);
        for (int i = 0; i < n; i++) ord[i] = i;
        for (int i = 1; i < n; i++) /* insertion sort: by bytes, then index (a total order) */
            for (int j = i; j > 0; j--) {
                const mp_sweep_point *a = &r->sweep->pt[ord[j - 1]], *b = &r->sweep->pt[ord[j]];
                if (a->net_bytes < b->net_bytes || (a->net_bytes == b->net_bytes && ord[j - 1] < ord[j])) break;
                int t = ord[j];
                ord[j] = ord[j - 1];
                ord[j - 1] = t;
            }
        double steps = ev->steps > 0 ? (double)ev->steps : 1;
        for (int i = 0; i < n; i++) {
            const mp_sweep_point *p = &r->sweep->pt[ord[i]];
            fprintf(o.fp, "%s %.6f %.4f %d\n", gd(&q, p->label), p->plan_maxmean, p->net_bytes / steps / 1e6, p->pareto);
        }
        free(ord);
        if ((rc = out_close(&o, 0, err))) return rc;
    }

    /* sorted loads / layer mean, averaged over the layers of each group */
    double *acc = calloc((size_t)REPORT_LAYER_GROUPS * E, sizeof *acc);
    double *row = malloc((size_t)E * sizeof *row);
    if (!acc || !row) {
        free(acc), free(row);
        return mp_err_set(err, MP_ENOMEM, "report: out of memory");
    }
    int ng = L < REPORT_LAYER_GROUPS ? L : REPORT_LAYER_GROUPS;
    for (int32_t l = 0; l < L; l++) {
        int g = (int)((int64_t)l * ng / L);
        double sum = 0;
        memcpy(row, mp_loads_row(ev->loads, 0, l), (size_t)E * sizeof *row);
        for (int32_t e = 0; e < E; e++) sum += row[e];
        qsort(row, (size_t)E, sizeof *row, cmp_desc);
        for (int32_t e = 0; e < E; e++) acc[(size_t)g * E + e] += sum > 0 ? row[e] * E / sum : 0;
    }
    rc = out_open(&o, r, "data/sorted.dat", err);
    if (!rc) {
        fprintf(o.fp, "rank");
        for (int g = 0; g < ng; g++) {
            int a = (int)(((int64_t)g * L + ng - 1) / ng), b = (int)(((int64_t)(g + 1) * L + ng - 1) / ng) - 1;
            fprintf(o.fp, " layers_%d-%d", a, b);
        }
        fprintf(o.fp, "\n");
        for (int32_t e = 0; e < E; e++) {
            fprintf(o.fp, "%d", e + 1);
            for (int g = 0; g < ng; g++) {
                int a = (int)(((int64_t)g * L + ng - 1) / ng), b = (int)(((int64_t)(g + 1) * L + ng - 1) / ng);
                double v = acc[(size_t)g * E + e] / (b - a > 0 ? b - a : 1);
                if (v > 0)
                    fprintf(o.fp, " %.6g", v);
                else
                    fprintf(o.fp, " ?");
            }
            fprintf(o.fp, "\n");
        }
        rc = out_close(&o, 0, err);
    }
    free(acc), free(row);
    if (rc) return rc;

    for (int i = 0; i < ev->n; i++) {
        char rel[128];
        snprintf(rel, sizeof rel, "data/heat_%d.dat", i);
        if ((rc = out_open(&o, r, rel, err))) return rc;
        const mp_plan_metrics *pm = ev->r[i].pm;
        for (int32_t l = 0; l < L; l++) {
            for (int32_t p = 0; p < pm->gpus; p++) {
                double m = pm->mean[l];
                fprintf(o.fp, "%s%.4f", p ? " " : "", m > 0 ? pm->gpu_load[(int64_t)l * pm->gpus + p] / m : 0);
            }
            fprintf(o.fp, "\n");
        }
        if ((rc = out_close(&o, 0, err))) return rc;
    }
    return 0;
}

/* ---- the gnuplot script ---- */

/* the figure plot `kind` draws for entry i at x (layer or step); NAN when absent */
static double series_at(const report_ctx *r, int kind, int i, int64_t x)
{
    const mp_eval_result *e = &r->ev->r[i];
    if (kind == PL_LAYERS) return e->pm->max_over_mean[x];
    return x < e->sim->steps ? e->sim->series[x].maxmean : NAN;
}

static int64_t series_len(const report_ctx *r, int kind)
{
    return kind == PL_LAYERS ? r->ev->model.layers : r->ev->steps;
}

/* the first entry before i whose line in plot `kind` is i's exactly, or -1;
 * else, in *near, the first whose line is within 0.1% of i's at every point
 * (drawn on top of each other at any scale a reader can tell), or -1 */
static int same_as(const report_ctx *r, int kind, int i, int *near)
{
    int64_t n = series_len(r, kind);
    *near = -1;
    for (int j = 0; j < i; j++) {
        int exact = 1, close = 1;
        for (int64_t x = 0; x < n && close; x++) {
            double a = series_at(r, kind, i, x), b = series_at(r, kind, j, x);
            if (a == b || (isnan(a) && isnan(b))) continue;
            exact = 0;
            close = isfinite(a) && isfinite(b) && fabs(a - b) <= 1e-3 * fabs(b);
        }
        if (exact) return j;
        if (close && *near < 0) *near = j;
    }
    return -1;
}

/* y from the lowest to the highest value plotted, padded so that a line at
 * the bottom (1 = perfect balance) is not drawn on the frame */
static void y_range(FILE *fp, const report_ctx *r, int kind)
{
    double lo = INFINITY, hi = -INFINITY;
    int64_t n = series_len(r, kind);
    for (int i = 0; i < r->ev->n; i++)
        for (int64_t x = 0; x < n; x++) {
            double v = series_at(r, kind, i, x);
            if (isfinite(v)) lo = v < lo ? v : lo, hi = v > hi ? v : hi;
        }
    if (kind == PL_STEPS && r->rb)
        for (int g = MP_REGIME_STATIC; g <= MP_REGIME_ONLINE; g++) {
            const mp_sim_result *x = r->rb->regime[g];
            for (int64_t s = 0; x && s < x->steps && s < n; s++) {
                double v = x->series[s].maxmean;
                if (isfinite(v)) lo = v < lo ? v : lo, hi = v > hi ? v : hi;
            }
        }
    if (!(lo <= hi)) return; /* nothing to plot: gnuplot's own range */
    double pad = 0.05 * (hi - lo);
    if (pad < 0.02) pad = 0.02;
    fprintf(fp, "set yrange [%.4f:%.4f]\n", lo - pad, hi + pad);
}

/* "plot" and one line per strategy (column i + 2 of `file`); a strategy
 * whose line is another's exactly is drawn dashed and wider on top of it and
 * says so in the key, so that neither hides the other */
static void strategy_lines(FILE *fp, const report_ctx *r, int kind, const char *file, const char *style)
{
    gpstr q;
    fprintf(fp, "plot ");
    for (int i = 0; i < r->ev->n; i++) {
        int near, j = same_as(r, kind, i, &near);
        const char *name = r->ev->r[i].entry.name;
        fprintf(fp, "%s'%s' using 1:%d with %s", i ? ", \\\n     " : "", file, i + 2, style);
        if (j >= 0)
            fprintf(fp, " lw 3 dt 2 title %s", gq(&q, "%s (same as %s)", name, r->ev->r[j].entry.name));
        else if (near >= 0)
            fprintf(fp, " lw 3 dt 2 title %s", gq(&q, "%s (within 0.1%% of %s)", name, r->ev->r[near].entry.name));
        else
            fprintf(fp, " lw 1.5 title %s", gq(&q, "%s", name));
    }
}

/* Pareto labels placed without overlap: in character cells of the plot area
 * (about 125 x 34 at 1100 x 650), each label right of its point, nudged up or
 * down a line at a time (nearest first) until it overlaps no label placed
 * before it, points taken top to bottom.  The axes are fixed here so that the
 * cells are the ones gnuplot draws. */
#define PARETO_COLS 125.0
#define PARETO_ROWS 34.0
static void pareto_labels(FILE *fp, const report_ctx *r)
{
    const mp_sweep_result *sw = r->sweep;
    double steps = r->ev->steps > 0 ? (double)r->ev->steps : 1;
    int n = sw->n;
    if (n <= 0) return;
    double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
    for (int k = 0; k < n; k++) {
        double x = sw->pt[k].net_bytes / steps / 1e6, y = sw->pt[k].plan_maxmean;
        x0 = x < x0 ? x : x0, x1 = x > x1 ? x : x1, y0 = y < y0 ? y : y0, y1 = y > y1 ? y : y1;
    }
    double dx = x1 - x0, dy = y1 - y0;
    if (dx <= 0) dx = fabs(x0) > 0 ? fabs(x0) * 0.2 : 1;
    if (dy <= 0) dy = fabs(y0) > 0 ? fabs(y0) * 0.05 : 1;
    x0 -= 0.05 * dx, x1 += 0.3 * dx; /* room for the labels on the right */
    y0 -= 0.12 * dy, y1 += 0.12 * dy;
    fprintf(fp, "set xrange [%.4f:%.4f]\nset yrange [%.6f:%.6f]\n", x0, x1, y0, y1);
    int *ord = malloc((size_t)n * sizeof *ord);
    double *lx = malloc((size_t)n * sizeof *lx), *ly = malloc((size_t)n * sizeof *ly), *lw = malloc((size_t)n * sizeof *lw);
    if (!ord || !lx || !ly || !lw) {
        free(ord), free(lx), free(ly), free(lw);
        return;
    }
    for (int k = 0; k < n; k++) ord[k] = k;
    for (int a = 1; a < n; a++) /* top first, then left first, then index: a total order */
        for (int b = a; b > 0; b--) {
            const mp_sweep_point *p = &sw->pt[ord[b - 1]], *c = &sw->pt[ord[b]];
            if (p->plan_maxmean > c->plan_maxmean ||
                (p->plan_maxmean == c->plan_maxmean && (p->net_bytes < c->net_bytes ||
                                                        (p->net_bytes == c->net_bytes && ord[b - 1] < ord[b]))))
                break;
            int t = ord[b];
            ord[b] = ord[b - 1];
            ord[b - 1] = t;
        }
    gpstr q;
    for (int a = 0; a < n; a++) {
        int k = ord[a];
        const mp_sweep_point *p = &sw->pt[k];
        double x = p->net_bytes / steps / 1e6;
        lx[a] = (x - x0) / (x1 - x0) * PARETO_COLS + 1;
        lw[a] = strlen(p->label) * 9.0 / 11.0 + 1; /* font 9 on an 11-point terminal, and a margin */
        double base = (p->plan_maxmean - y0) / (y1 - y0) * PARETO_ROWS, off = 0;
        for (int t = 0; t < 2 * n + 1; t++) {
            off = (t % 2 ? 1 : -1) * ((t + 1) / 2) * 1.0; /* 0, +1, -1, +2, -2, ... lines */
            if (t == 0) off = 0;
            int clash = 0;
            for (int b = 0; b < a && !clash; b++)
                clash = fabs(ly[b] - (base + off)) < 1.0 && lx[a] < lx[b] + lw[b] && lx[b] < lx[a] + lw[a];
            if (!clash) break;
        }
        ly[a] = base + off;
        fprintf(fp, "set label %d %s at %.4f,%.6f offset char 1,char %.1f font ',9'\n", k + 1, gq(&q, "%s", p->label), x,
                p->plan_maxmean, off);
    }
    free(ord), free(lx), free(ly), free(lw);
}

static void body(FILE *fp, const report_ctx *r, int i, double heat_max)
{
    const mp_eval *ev = r->ev;
    i = plot_kind(r, i);
    int n = ev->n;
    gpstr q, q2, q3, q4;
    fprintf(fp, "reset\nset termoption noenhanced\nset datafile missing '?'\nset grid\nset key below\n");
    switch (i) {
    case PL_TIME:
        fprintf(fp,
                "set title %s\n"
                "set xlabel 'placement strategy'\nset ylabel 'predicted step time (us)'\n"
                "set style fill solid 0.8 border -1\nset boxwidth 0.6\nset yrange [0:*]\n"
                "set xrange [-0.6:%d.4]\nset xtics rotate by -20\n",
                gq(&q, "Predicted time of one step per strategy (%s, %d GPUs)",
                   ev->model.name[0] ? ev->model.name : "trace", ev->setup.gpus),
                n - 1);
        /* each strategy's own bound, a dashed bar across its box (column 4 of strategies.dat) */
        fprintf(fp,
                "plot 'data/strategies.dat' using 1:3:xtic(2) with boxes lc rgb '#4477aa' title 'predicted step time', \\\n"
                "     'data/strategies.dat' using ($1-0.3):4:(0.6):(0) with vectors nohead dt 2 lw 3 lc rgb '#cc3311' "
                "title 'balanced bound of each strategy (its expert time at the mean GPU load)'\n");
        break;
    case PL_PARTS:
        fprintf(fp,
                "set title %s\n"
                "set xlabel 'placement strategy'\nset ylabel 'predicted step time (us)'\n"
                "set style data histograms\nset style histogram rowstacked\n"
                "set style fill solid 0.8 border -1\nset boxwidth 0.6\nset yrange [0:*]\nset xtics rotate by -20\n"
                "plot 'data/parts.dat' using 3:xtic(2) lc rgb '#4477aa' title 'expert (GEMMs on the busiest GPU)', \\\n"
                "     '' using 4 lc rgb '#ee7733' title 'dispatch', \\\n"
                "     '' using 5 lc rgb '#009988' title 'combine', \\\n"
                "     '' using 6 lc rgb '#bbbbbb' title 'other'\n",
                gq(&q, "What one predicted step is made of (%s, %d GPUs)",
                   ev->model.name[0] ? ev->model.name : "trace", ev->setup.gpus));
        break;
    case PL_PAY: {
        const report_pay *p = r->pay;
        fprintf(fp,
                "set title %s\n"
                "set xlabel 'redundant experts per GPU (their weights in GPU memory)'\n"
                "set ylabel 'predicted step time vs linear placement (%%, negative is faster)'\n"
                "set xrange [-0.3:%d.3]\nset offsets 0, 0, 1, 1\n"
                "set object 1 rect from graph 0, first %.1f to graph 1, first %.1f fc rgb '#eeeeee' fs solid 0.6 noborder behind\n"
                "plot 0 with lines lc rgb 'black' lw 1.5 title 'linear placement (the engines default)', \\\n"
                "     'data/pay.dat' using 1:3:xtic(2) with linespoints pt 7 ps 1.2 lw 2 lc rgb '#4477aa' "
                "title %s, \\\n"
                "     'data/pay.dat' using 1:4 with linespoints pt 5 ps 1.2 lw 2 lc rgb '#cc3311' title %s, \\\n"
                "     'data/pay_points.dat' every ::0::0 using ($1+0.04):2 with points pt 6 ps 2 lw 2 lc rgb '#4477aa' "
                "title 'prefill, per-batch routing (sglang-lp)', \\\n"
                "     'data/pay_points.dat' every ::0::0 using ($1+0.04):3 with points pt 4 ps 2 lw 2 lc rgb '#cc3311' "
                "title 'decode, per-batch routing (sglang-lp)', \\\n"
                "     'data/pay_points.dat' every ::1::1 using ($1-0.04):2 with points pt 8 ps 2 lw 2 lc rgb '#4477aa' "
                "title 'prefill, online rebalancing (async moves)', \\\n"
                "     'data/pay_points.dat' every ::1::1 using ($1-0.04):3 with points pt 10 ps 2 lw 2 lc rgb '#cc3311' "
                "title 'decode, online rebalancing (async moves)', \\\n"
                "     NaN with boxes fc rgb '#eeeeee' fs solid 0.6 title %s\n",
                gq(&q, "Will it pay? Static %s against linear placement (%s, %d GPUs)", REPORT_PAY_STRATEGY,
                   ev->model.name[0] ? ev->model.name : "trace", ev->setup.gpus),
                p->r_max, -100 * REPORT_NOISE, 100 * REPORT_NOISE,
                gq(&q2, "prefill, static %s (%lld tokens per step)", REPORT_PAY_STRATEGY, (long long)p->reg[0].batch),
                gq(&q3, "decode, static %s (%lld tokens per step)", REPORT_PAY_STRATEGY, (long long)p->reg[1].batch),
                gq(&q4, "within the model's uncertainty (+-%.0f%%): no change pays", 100 * REPORT_NOISE));
        break;
    }
    case PL_LAYERS:
        fprintf(fp,
                "set title 'Max/mean GPU load per MoE layer (1 = perfect balance)'\n"
                "set xlabel 'MoE layer'\nset ylabel 'max / mean GPU load (ratio)'\nset key autotitle columnhead\n");
        y_range(fp, r, PL_LAYERS);
        strategy_lines(fp, r, PL_LAYERS, "data/layers.dat", "linespoints pt 7 ps 0.5");
        fputc('\n', fp);
        break;
    case PL_STEPS:
        fprintf(fp,
                "set title 'Imbalance over steps (replay of every token)'\n"
                "set xlabel 'step (forward pass)'\nset ylabel 'max / mean GPU rows (ratio)'\n"
                "set key autotitle columnhead\nset xtics %lld\n",
                (long long)(ev->steps >= 10 ? ev->steps / 10 : 1));
        y_range(fp, r, PL_STEPS);
        strategy_lines(fp, r, PL_STEPS, "data/steps.dat", r->rb ? "lines" : "linespoints pt 7 ps 0.5");
        if (r->rb)
            fprintf(fp,
                    ", \\\n"
                    "     'data/steps.dat' using 1:%d with lines lw 2 dt 2, \\\n"
                    "     'data/steps.dat' using 1:%d with lines lw 2.5, \\\n"
                    "     'data/rebalance.dat' using 1:2 with points pt 9 ps 1.8 lc rgb 'black' title 'rebalance applied'",
                    n + 2, n + 3);
        fputc('\n', fp);
        break;
    case PL_SORTED:
        fprintf(fp,
                "set title 'Expert load distribution per layer group (sorted, hottest first)'\n"
                "set xlabel 'expert rank (1 = hottest)'\nset ylabel 'expert load / mean expert load (log scale)'\n"
                "set logscale y\nset key autotitle columnhead\n"
                "plot for [i=2:*] 'data/sorted.dat' using 1:i with lines lw 2\n");
        break;
    case PL_PARETO:
        pareto_labels(fp, r);
        fprintf(fp,
                "set title 'Locality sweep: balance against inter-node traffic (balanced at W = 0..1, EPLB)'\n"
                "set xlabel 'network dispatch per step (MB)'\nset ylabel 'plan max/mean GPU load (ratio)'\n"
                "plot 'data/pareto.dat' using 3:2 with points pt 7 ps 1.5 lc rgb '#4477aa' title 'plans', \\\n"
                "     'data/pareto.dat' using ($4 > 0 ? $3 : 1/0):2 with linespoints pt 6 ps 2.5 lw 2 "
                "lc rgb '#cc3311' title 'Pareto front', \\\n"
                "     'data/pareto.dat' using 3:2:(0) with points pt 7 ps 0 notitle\n");
        break;
    default: {
        int k = i - PL_FIXED;
        fprintf(fp,
                "set title %s\n"
                "set xlabel 'GPU'\nset ylabel 'MoE layer'\nset cblabel 'GPU load / layer mean load'\n"
                "set palette defined (0 '#2166ac', 1 '#f7f7f7', %.3f '#b2182b')\nset cbrange [0:%.3f]\n"
                "set xrange [-0.5:%d.5]\nset yrange [-0.5:%d.5]\nunset grid\n"
                "plot 'data/heat_%d.dat' matrix with image notitle\n",
                gq(&q, "GPU load per MoE layer: %s (%d slots per GPU)", ev->r[k].entry.name,
                   ev->r[k].plan->topo.slots_per_gpu),
                heat_max, heat_max, ev->setup.gpus - 1,
                ev->model.layers - 1, k);
        break;
    }
    }
}

static int write_script(const report_ctx *r, mp_err *err)
{
    const mp_eval *ev = r->ev;
    double heat_max = 2;
    for (int i = 0; i < ev->n; i++)
        if (ev->r[i].pm->worst_max_over_mean > heat_max) heat_max = ev->r[i].pm->worst_max_over_mean;
    out o;
    int rc = out_open(&o, r, "plots.gp", err);
    if (rc) return rc;
    fprintf(o.fp, "# gnuplot script written by moeplace report; run it in this folder: gnuplot plots.gp\n");
    for (int i = 0; i < report_plot_count(r); i++) {
        char stem[96];
        const char *cap;
        report_plot_name(r, i, stem, sizeof stem, &cap);
        fprintf(o.fp, "\n# %s\nset terminal pngcairo size 1100,650 font 'Sans,11'\nset output 'plots/%s.png'\n",
                cap, stem);
        body(o.fp, r, i, heat_max);
        fprintf(o.fp, "set terminal svg size 1100,650 font 'Sans,11' background rgb 'white'\nset output 'plots/%s.svg'\n",
                stem);
        body(o.fp, r, i, heat_max);
        fprintf(o.fp, "unset output\n");
    }
    return out_close(&o, 0, err);
}

int report_write_plot_data(const report_ctx *r, mp_err *err)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/data", r->dir);
    if (mkdir(path, 0777) && errno != EEXIST) return mp_err_set(err, MP_EIO, "%s: cannot create", path);
    snprintf(path, sizeof path, "%s/plots", r->dir);
    if (mkdir(path, 0777) && errno != EEXIST) return mp_err_set(err, MP_EIO, "%s: cannot create", path);
    int rc = write_data(r, err);
    return rc ? rc : write_script(r, err);
}

int report_find_gnuplot(char *buf, size_t cap)
{
    const char *path = getenv("PATH");
    if (!path) return -1;
    while (*path) {
        const char *c = strchr(path, ':');
        size_t n = c ? (size_t)(c - path) : strlen(path);
        if (n > 0 && n + 9 < cap) {
            memcpy(buf, path, n);
            memcpy(buf + n, "/gnuplot", 9);
            if (access(buf, X_OK) == 0) return 0;
        }
        if (!c) break;
        path = c + 1;
    }
    return -1;
}

int report_run_gnuplot(const report_ctx *r, mp_err *err)
{
    if (!r->gnuplot) return mp_err_set(err, MP_EIO, "gnuplot not found");
    if (access(r->gnuplot, X_OK) != 0) return mp_err_set(err, MP_EIO, "%s: not an executable program", r->gnuplot);
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) return mp_err_set(err, MP_EIO, "cannot start %s", r->gnuplot);
    if (pid == 0) {
        if (chdir(r->dir) != 0) _exit(127);
        int fd = open("plots.log", O_WRONLY | O_CREAT | O_TRUNC, 0666);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        execl(r->gnuplot, "gnuplot", "plots.gp", (char *)NULL);
        _exit(127);
    }
    int st = 0;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR) return mp_err_set(err, MP_EIO, "lost %s", r->gnuplot);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        return mp_err_set(err, MP_EIO, "%s failed (see plots.log in the report)", r->gnuplot);
    /* every plot must exist */
    for (int i = 0; i < report_plot_count(r); i++) {
        char stem[96], path[4096];
        const char *cap;
        report_plot_name(r, i, stem, sizeof stem, &cap);
        snprintf(path, sizeof path, "%s/plots/%s.png", r->dir, stem);
        struct stat sb;
        if (stat(path, &sb) != 0 || sb.st_size == 0)
            return mp_err_set(err, MP_EIO, "%s drew no plots/%s.png (see plots.log in the report)", r->gnuplot, stem);
    }
    return 0;
}
