/* report_md.c - the report text: one description of the document (setup,
 * headline table, recommendation, plots, per-layer table) rendered as
 * Markdown (report.md) or as a single HTML file with the SVG plots inlined
 * (report.html).
 *
 * Strings from input (the model name, the trace's path, strategy names)
 * enter the text only through in(), escaped for the rendering at hand by
 * cli_esc_md or cli_esc_html; the rest is our own text, written as it is
 * (it holds no character that HTML or a Markdown table would take as
 * markup).  Bold is marked with B, a control character no escaped input can
 * hold. */
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/escape.h"
#include "cli/report.h"
#include "traces/mp_file.h"
#include "traces/mp_jsonw.h"

#define IN_MAX 2048 /* bytes of one escaped input string; longer ones end in "..." */
#define IN_RING 4
#define TEXT_MAX (IN_RING * IN_MAX + 1024) /* a formatted line: our text and up to IN_RING inputs */
#define B "\001"                            /* bold on/off */

typedef struct emit {
    FILE *fp;
    int html;
    const report_ctx *r;
    int cols, row, numeric; /* table being written */
    char ring[IN_RING][IN_MAX];
    int next;
} emit;

/* s, from input, escaped for this rendering; valid for the next IN_RING - 1 calls */
static const char *in(emit *e, const char *s)
{
    char *out = e->ring[e->next];
    e->next = (e->next + 1) % IN_RING;
    (e->html ? cli_esc_html : cli_esc_md)(out, IN_MAX, s, strlen(s));
    return out;
}

/* our text with escaped inputs in it; B toggles bold */
static void put_text(emit *e, const char *s)
{
    int bold = 0;
    for (const char *b; (b = strchr(s, B[0])); s = b + 1) {
        fwrite(s, 1, (size_t)(b - s), e->fp);
        fputs(!e->html ? "**" : bold ? "</b>" : "<b>", e->fp);
        bold = !bold;
    }
    fputs(s, e->fp);
}

static void heading(emit *e, int level, const char *text)
{
    if (e->html) {
        fprintf(e->fp, "<h%d>", level);
        put_text(e, text);
        fprintf(e->fp, "</h%d>\n", level);
    } else {
        for (int i = 0; i < level; i++) fputc('#', e->fp);
        fputc(' ', e->fp);
        put_text(e, text);
        fputs("\n\n", e->fp);
    }
}

static void para(emit *e, const char *fmt, ...)
{
    char buf[TEXT_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    fputs(e->html ? "<p>" : "", e->fp);
    put_text(e, buf);
    fputs(e->html ? "</p>\n" : "\n\n", e->fp);
}

static void item(emit *e, const char *fmt, ...)
{
    char buf[TEXT_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    fputs(e->html ? "<ul><li>" : "- ", e->fp);
    put_text(e, buf);
    fputs(e->html ? "</li></ul>\n" : "\n", e->fp);
}

/* numeric: columns after the first are right-aligned */
static void table_begin(emit *e, int cols, const char *const *head, int numeric)
{
    e->cols = cols;
    e->row = 0;
    e->numeric = numeric;
    if (e->html) {
        fputs("<table>\n<tr>", e->fp);
        for (int i = 0; i < cols; i++) {
            fputs("<th>", e->fp);
            put_text(e, head[i]);
            fputs("</th>", e->fp);
        }
        fputs("</tr>\n", e->fp);
    } else {
        fputs("|", e->fp);
        for (int i = 0; i < cols; i++) {
            fputc(' ', e->fp);
            put_text(e, head[i]);
            fputs(" |", e->fp);
        }
        fputs("\n|", e->fp);
        for (int i = 0; i < cols; i++) fputs(i && numeric ? "---:|" : "---|", e->fp);
        fputc('\n', e->fp);
    }
}

static void cell(emit *e, int col, const char *fmt, ...)
{
    char buf[TEXT_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (e->html) {
        if (col == 0) fputs("<tr>", e->fp);
        fputs(col && e->numeric ? "<td class=n>" : "<td>", e->fp);
        put_text(e, buf);
        fputs("</td>", e->fp);
        if (col == e->cols - 1) fputs("</tr>\n", e->fp);
    } else {
        if (col == 0) fputs("|", e->fp);
        fputc(' ', e->fp);
        put_text(e, buf);
        fputs(" |", e->fp);
        if (col == e->cols - 1) fputc('\n', e->fp);
    }
}

static void table_end(emit *e) { fputs(e->html ? "</table>\n" : "\n", e->fp); }

/* inlines plots/STEM.svg (without its XML prolog) or links plots/STEM.png; the stem is a
 * file name (cli_esc_filename), the caption our text with escaped inputs */
static void image(emit *e, const char *stem, const char *caption)
{
    if (!e->html) {
        fprintf(e->fp, "![%s](plots/%s.png)\n\n*%s* ([SVG](plots/%s.svg))\n\n", caption, stem, caption, stem);
        return;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/plots/%s.svg", e->r->dir, stem);
    FILE *in = fopen(path, "rb");
    fputs("<figure>\n", e->fp);
    if (in) {
        char line[8192];
        while (fgets(line, sizeof line, in)) {
            if (strncmp(line, "<?xml", 5) == 0 || strncmp(line, "<!DOCTYPE", 9) == 0 ||
                strncmp(line, " \"http://www.w3.org", 19) == 0)
                continue;
            fputs(line, e->fp);
        }
        fclose(in);
    }
    fputs("<figcaption>", e->fp);
    put_text(e, caption);
    fputs("</figcaption>\n</figure>\n", e->fp);
}

static double pct(double a, double b) { return b != 0 ? 100 * (a / b - 1) : 0; }

/* --pareto: the locality sweep's points as a table, and which are on the front */
static void pareto_section(emit *e)
{
    const mp_sweep_result *sw = e->r->sweep;
    double steps = e->r->ev->steps > 0 ? (double)e->r->ev->steps : 1;
    heading(e, 2, "Locality sweep (Pareto front)");
    int front = 0;
    for (int k = 0; k < sw->n; k++) front += sw->pt[k].pareto != 0;
    para(e, "Plans at each locality weight W (balanced@W: W = 0 balances only, 1 keeps experts on few nodes) and EPLB, "
            "each replayed over the whole trace. On the Pareto front (%d of %d points): no other point has both a lower "
            "plan max/mean and less network traffic.%s",
         front, sw->n,
         sw->eplb_dominated ? " Every EPLB point is dominated by a balanced point." : "");
    static const char *const ph[] = {"point", "plan max/mean", "replay max/mean", "net MB/step", "step time (us)",
                                     "Pareto"};
    table_begin(e, 6, ph, 1);
    for (int k = 0; k < sw->n; k++) {
        const mp_sweep_point *p = &sw->pt[k];
        cell(e, 0, "%s", in(e, p->label));
        cell(e, 1, "%.4f", p->plan_maxmean);
        cell(e, 2, "%.4f", p->maxmean);
        cell(e, 3, "%.2f", p->net_bytes / steps / 1e6);
        cell(e, 4, "%.1f", p->time_us / steps);
        cell(e, 5, "%s", p->pareto ? "yes" : (p->dominated ? "no (dominated by a balanced point)" : "no"));
    }
    table_end(e);
}

/* "Will it pay?": every option against linear placement, for prefill and decode batches */
static void pay_section(emit *e)
{
    const report_pay *p = e->r->pay;
    const mp_eval *ev = e->r->ev;
    int P = ev->setup.gpus;
    heading(e, 2, "Will it pay?");
    para(e, "Predicted step time of each option against linear placement (the engines' default), replayed in steps "
            "of a prefill batch (%lld tokens, %lld per GPU) and of a decode batch (%lld tokens, %lld per GPU; "
            "DeepEP's README benchmarks its normal kernels at 4096 tokens per GPU and its low-latency kernels at "
            "128). Static placement is " B "%s" B " with 0..%d redundant experts per GPU, planned once; each replica "
            "costs GPU memory (its weights in every MoE layer) and a weight read per step. Per-batch routing splits "
            "each expert's tokens over its replicas anew every step and layer (SGLang's lp rule); online "
            "rebalancing re-plans every few steps from the last ones and moves weights (a stall unless the engine "
            "moves them asynchronously, as vLLM does by default since PR #43219). Negative is faster; a change of "
            "less than %.0f%% is within the model's uncertainty.",
         (long long)p->reg[0].batch, (long long)(p->reg[0].batch / P), (long long)p->reg[1].batch,
         (long long)(p->reg[1].batch / P), REPORT_PAY_STRATEGY, p->r_max, 100 * REPORT_NOISE);
    int kv = p->kv_bytes_per_token > 0;
    static const char *const hd[] = {"option", "replicas/GPU", "GB/GPU", "prefill step (us)", "prefill vs linear",
                                     "decode step (us)", "decode vs linear", "KV tokens lost/GPU"};
    table_begin(e, kv ? 8 : 7, hd, 1);
    const report_pay_regime *a = &p->reg[0], *d = &p->reg[1];
    int last = kv ? 7 : 6;
#define ROW(label_fmt, label_arg, r, ta, td)                                                                          \
    do {                                                                                                           \
        cell(e, 0, label_fmt, label_arg);                                                                          \
        cell(e, 1, "%d", (r));                                                                                     \
        cell(e, 2, "%.2f", (r) * p->replica_bytes / 1e9);                                                          \
        if (isfinite(ta)) cell(e, 3, "%.1f", (ta)), cell(e, 4, "%+.2f%%", pct((ta), a->linear_us));               \
        else cell(e, 3, "-"), cell(e, 4, "-");                                                                     \
        if (isfinite(td)) cell(e, 5, "%.1f", (td)), cell(e, 6, "%+.2f%%", pct((td), d->linear_us));               \
        else cell(e, 5, "-"), cell(e, 6, "-");                                                                     \
        if (kv) cell(e, last, "%.0f", (r) * p->replica_bytes / p->kv_bytes_per_token);                             \
    } while (0)
    ROW("%s", "linear (the engines' default)", 0, a->linear_us, d->linear_us);
    for (int r = 0; r <= p->r_max; r++) ROW("static " REPORT_PAY_STRATEGY ", %d redundant per GPU", r, r, a->static_us[r], d->static_us[r]);
    ROW("per-batch routing (sglang-lp) over static, %d per GPU", p->r_setup, p->r_setup, a->lp_us, d->lp_us);
    if (isfinite(a->online_stall_us) || isfinite(d->online_stall_us)) {
        ROW("online " REPORT_PAY_STRATEGY ", %d per GPU, moves stall", p->r_setup, p->r_setup, a->online_stall_us,
            d->online_stall_us);
        ROW("online " REPORT_PAY_STRATEGY ", %d per GPU, moves async", p->r_setup, p->r_setup, a->online_steps_us,
            d->online_steps_us);
    }
#undef ROW
    table_end(e);
    if (!kv)
        para(e, "KV-cache tokens lost: not shown (the model's attention shape is not known here; give --model with "
                "its config).");
    else
        para(e, "KV tokens lost: the tokens of KV cache (bf16, every decoder layer: %.0f bytes per token) that the "
                "replicas' GPU memory would otherwise hold.",
             p->kv_bytes_per_token);
    static const char *const rn[REPORT_PAY_REGIMES] = {"Prefill", "Decode"};
    for (int g = 0; g < REPORT_PAY_REGIMES; g++) {
        const report_pay_regime *x = &p->reg[g];
        char v[1024];
        report_pay_verdict(p, g, v, sizeof v);
        item(e, B "%s" B " (%lld tokens per step): %s", rn[g], (long long)x->batch, v);
    }
    if (!e->html) fputc('\n', e->fp);
}

/* the recommendation in one paragraph: what to deploy, its plan file, why */
static void recommend(emit *e, const report_advice *a)
{
    const mp_eval *ev = e->r->ev;
    char dstem[MP_EVAL_NAME_MAX], bstem[MP_EVAL_NAME_MAX];
    report_plan_stem(ev->r[a->deploy].entry.name, dstem, sizeof dstem);
    report_plan_stem(ev->r[a->best].entry.name, bstem, sizeof bstem);
    double tb = ev->r[a->best].metric[MP_M_STEP_US], tl = a->linear >= 0 ? ev->r[a->linear].metric[MP_M_STEP_US] : NAN;
    if (a->linear < 0)
        para(e, B "Deploy %s" B " (plan file plans/%s.json): the lowest predicted step time of the strategies "
                "compared, %.1f us (linear placement was not compared, so the gain over the engines' default is "
                "unknown).",
             in(e, ev->r[a->best].entry.name), in(e, bstem), tb);
    else if (a->best == a->linear)
        para(e, B "Keep %s" B " (plan file plans/%s.json): no placement change pays; linear placement, the engines' "
                "default, has the lowest predicted step time, %.1f us.",
             in(e, ev->r[a->deploy].entry.name), in(e, dstem), tl);
    else if (!a->pays)
        para(e, B "Keep %s" B " (plan file plans/%s.json): no placement change pays. The best, %s, is predicted only "
                "%.1f%% faster than linear placement (%.1f vs %.1f us), within the model's uncertainty of %.0f%%.",
             in(e, ev->r[a->deploy].entry.name), in(e, dstem), in(e, ev->r[a->best].entry.name), 100 * a->gain, tb, tl,
             100 * REPORT_NOISE);
    else
        para(e, B "Deploy %s" B " (plan file plans/%s.json): the lowest predicted step time, %.1f us, %.1f%% faster "
                "than linear placement (%.1f us), more than the model's uncertainty of %.0f%%.",
             in(e, ev->r[a->best].entry.name), in(e, bstem), tb, 100 * a->gain, tl, 100 * REPORT_NOISE);
}

static void document(emit *e)
{
    const report_ctx *r = e->r;
    const mp_eval *ev = r->ev;
    const mp_eval_setup *s = &ev->setup;
    const mp_model *m = &ev->model;
    char title[TEXT_MAX];
    snprintf(title, sizeof title, "moeplace report: %s on %d GPUs", in(e, m->name[0] ? m->name : "trace"), s->gpus);
    heading(e, 1, title);
    report_advice adv;
    report_advise(ev, &adv);
    recommend(e, &adv);

    heading(e, 2, "Setup");
    static const char *const kv[2] = {"item", "value"};
    table_begin(e, 2, kv, 0);
    cell(e, 0, "input"), cell(e, 1, "%s", in(e, r->input));
    cell(e, 0, "model"), cell(e, 1, "%s: %d MoE layers, %d experts, top-%d, %d groups (top-%d), %d shared",
                              in(e, m->name[0] ? m->name : "-"), m->layers, m->experts, m->top_k, m->groups, m->topk_group,
                              m->shared);
    cell(e, 0, "steps, tokens"), cell(e, 1, "%lld steps, %lld tokens", (long long)ev->steps, (long long)ev->tokens);
    cell(e, 0, "topology"), cell(e, 1, "%d GPUs on %d nodes (%d per node)", s->gpus, s->nodes, s->gpus / s->nodes);
    cell(e, 0, "redundant slots"), cell(e, 1, "%d (strategies that replicate experts; the others get E/P slots)",
                                        s->redundant);
    cell(e, 0, "replica selection"), cell(e, 1, "%s, seed %llu", in(e, s->policy), (unsigned long long)s->seed);
    cell(e, 0, "cost model"), cell(e, 1, "%s (H100 + NVLink + 400 Gb/s defaults)", in(e, mp_cost_default().name));
    table_end(e);
    para(e, "Each strategy plans from the loads summed over the planning steps (the whole trace unless steps are held "
            "out); every token of every step is then replayed through each plan. Max/mean is the busiest GPU's load "
            "over the mean GPU's (1 is perfect).");

    if (ev->holdout > 0) {
        heading(e, 2, "Headline (held out)");
        para(e, "Held-out figures: every plan was made from the first %lld steps only; the figures below are on the "
                "last %lld steps (%.0f%%), which no plan saw, as serving runs on traffic the plan has not seen. "
                "The oracle plans the same strategy on those steps themselves: the bound no plan made in advance "
                "beats. In-sample figures (on the planning steps) are beside them.",
             (long long)ev->train_steps, (long long)ev->holdout_steps, 100 * ev->holdout);
        static const char *const hx[] = {"strategy", "held-out max/mean (plan)", "oracle (bound)",
                                         "held-out replay max/mean", "in-sample replay max/mean", "in-sample plan max/mean"};
        table_begin(e, 6, hx, 1);
        for (int i = 0; i < ev->n; i++) {
            const mp_eval_result *x = &ev->r[i];
            cell(e, 0, "%s", in(e, x->entry.name));
            cell(e, 1, "%.4f", x->holdout_plan_maxmean);
            cell(e, 2, "%.4f", x->oracle_plan_maxmean);
            cell(e, 3, "%.4f", x->holdout_sim_maxmean);
            cell(e, 4, "%.4f", x->insample_sim_maxmean);
            cell(e, 5, "%.4f", x->metric[MP_M_PLAN_MAXMEAN]);
        }
        table_end(e);
        heading(e, 2, "Over the whole trace");
    } else {
        heading(e, 2, "Headline");
        para(e, "In sample: the plans were made from every step (the trace has too few steps to hold some out, or "
                "--holdout 0 was given), so these figures flatter the plans.");
    }
    static const char *const hh[] = {"strategy", "slots/GPU", "plan max/mean", "worst layer", "replay max/mean",
                                     "p99", "vLLM bal.", "step time (us)", "vs best", "net MB/step"};
    table_begin(e, 10, hh, 1);
    for (int i = 0; i < ev->n; i++) {
        const mp_eval_result *x = &ev->r[i];
        cell(e, 0, "%s%s", in(e, x->entry.name), i == ev->best ? " (best)" : "");
        cell(e, 1, "%d", x->plan->topo.slots_per_gpu);
        cell(e, 2, "%.3f", x->metric[MP_M_PLAN_MAXMEAN]);
        cell(e, 3, "%.3f", x->metric[MP_M_PLAN_WORST]);
        cell(e, 4, "%.3f", x->metric[MP_M_SIM_MAXMEAN]);
        cell(e, 5, "%.3f", x->metric[MP_M_SIM_MAXMEAN_P99]);
        cell(e, 6, "%.3f", x->metric[MP_M_VLLM_BAL]);
        cell(e, 7, "%.1f", x->metric[MP_M_STEP_US]);
        cell(e, 8, "%+.1f%%", pct(x->metric[MP_M_STEP_US], ev->r[ev->best].metric[MP_M_STEP_US]));
        cell(e, 9, "%.2f", x->metric[MP_M_NET_MB]);
    }
    table_end(e);

    heading(e, 2, "What to deploy");
    const mp_eval_result *b = &ev->r[ev->best];
    int second = -1, lin = -1;
    for (int i = 0; i < ev->n; i++) {
        if (i != ev->best && (second < 0 || ev->r[i].metric[MP_M_STEP_US] < ev->r[second].metric[MP_M_STEP_US]))
            second = i;
        if (strcmp(ev->r[i].entry.strategy, "linear") == 0) lin = i;
    }
    char plan_stem[MP_EVAL_NAME_MAX];
    report_plan_stem(b->entry.name, plan_stem, sizeof plan_stem);
    if (adv.deploy != adv.best)
        recommend(e, &adv);
    else
        para(e, "Deploy " B "%s" B " (plan file plans/%s.json): its predicted step time is the lowest, %.1f us.",
             in(e, b->entry.name), in(e, plan_stem), b->metric[MP_M_STEP_US]);
    if (second >= 0 && second != lin)
        item(e, "%.1f%% faster than the runner-up, %s (%.1f us).",
             -pct(b->metric[MP_M_STEP_US], ev->r[second].metric[MP_M_STEP_US]), in(e, ev->r[second].entry.name),
             ev->r[second].metric[MP_M_STEP_US]);
    if (lin >= 0 && lin != ev->best)
        item(e, "%.1f%% faster than linear placement, the engines' default%s (%.1f us); replay max/mean %.3f instead of %.3f.",
             -pct(b->metric[MP_M_STEP_US], ev->r[lin].metric[MP_M_STEP_US]), lin == second ? " and the runner-up" : "",
             ev->r[lin].metric[MP_M_STEP_US],
             b->metric[MP_M_SIM_MAXMEAN], ev->r[lin].metric[MP_M_SIM_MAXMEAN]);
    item(e, "Busiest GPU carries %.3fx the mean load on average over steps (p99 %.3fx); worst layer %d at %.3fx.",
         b->metric[MP_M_SIM_MAXMEAN], b->metric[MP_M_SIM_MAXMEAN_P99], b->pm->worst_layer,
         b->metric[MP_M_PLAN_WORST]);
    item(e, "Within %.1f%% of the balanced bound (%.1f us: the same traffic with every GPU at the mean load).",
         pct(b->metric[MP_M_STEP_US], b->bound_us), b->bound_us);
    item(e, "Network dispatch %.2f MB per step, NVLink %.2f MB per step.", b->metric[MP_M_NET_MB],
         b->metric[MP_M_NVL_MB]);
    if (!e->html) fputc('\n', e->fp);

    if (r->pay) pay_section(e);

    if (r->rb) {
        const mp_rebalance_result *rb = r->rb;
        char verdict[512];
        heading(e, 2, "Online rebalancing");
        para(e, "Strategy %s re-planned online every %lld steps from the loads of the last %lld steps, as vLLM and "
                "SGLang rebalance (the static plan is the same strategy planned once from the first %lld steps; the "
                "oracle re-plans every step from that step's own loads, moving weights for free: a bound). Moving "
                "weights stalls serving: the online total includes its transfer time.",
             in(e, r->rb_strategy), (long long)rb->interval, (long long)rb->window, (long long)rb->window);
        para(e, B "Online rebalancing %s." B, mp_rebalance_verdict_text(rb, verdict, sizeof verdict));
        static const char *const rh[] = {"regime", "replay max/mean", "p99", "step time (us)", "transfer (ms)",
                                         "total (ms)"};
        table_begin(e, 6, rh, 1);
        static const char *const nm[MP_REGIMES] = {"static", "online", "oracle (bound)"};
        for (int g = 0; g < MP_REGIMES; g++) {
            const mp_sim_result *x = rb->regime[g];
            if (!x) continue;
            cell(e, 0, "%s", nm[g]), cell(e, 1, "%.3f", x->maxmean.mean), cell(e, 2, "%.3f", x->maxmean.p99),
                cell(e, 3, "%.1f", x->time_us.mean);
            if (g == MP_REGIME_ORACLE)
                cell(e, 4, "not counted");
            else
                cell(e, 4, "%.2f", g == MP_REGIME_ONLINE ? rb->transfer_ms : 0.0);
            cell(e, 5, "%.2f", rb->total_us[g] / 1e3);
        }
        table_end(e);
    }

    if (r->sweep) pareto_section(e);

    heading(e, 2, "Plots");
    if (r->plots) {
        for (int i = 0; i < report_plot_count(r); i++) {
            char stem[96];
            const char *cap;
            report_plot_name(r, i, stem, sizeof stem, &cap);
            char full[TEXT_MAX];
            if (strncmp(stem, "heatmap_", 8) == 0)
                snprintf(full, sizeof full, "%s: %s", cap, in(e, stem + 8));
            else
                snprintf(full, sizeof full, "%s", cap);
            image(e, stem, full);
        }
    } else {
        para(e, "No plots: gnuplot did not run (not installed, or --no-plots was given). The data and the script are in "
                "data/ and plots.gp; run `gnuplot plots.gp` in this folder to draw them.");
    }

    heading(e, 2, "Per-layer max/mean (plan on the summed loads)");
    char hb[MP_EVAL_ENTRIES_MAX][6 * MP_EVAL_NAME_MAX + 16]; /* room for any escaped name */
    const char *lh[MP_EVAL_ENTRIES_MAX + 1];
    lh[0] = "layer";
    for (int i = 0; i < ev->n; i++) {
        const char *nm = ev->r[i].entry.name;
        (e->html ? cli_esc_html : cli_esc_md)(hb[i], sizeof hb[i], nm, strlen(nm));
        lh[i + 1] = hb[i];
    }
    table_begin(e, ev->n + 1, lh, 1);
    for (int32_t l = 0; l < m->layers; l++) {
        cell(e, 0, "%d", l);
        for (int i = 0; i < ev->n; i++) cell(e, i + 1, "%.3f", ev->r[i].pm->max_over_mean[l]);
    }
    table_end(e);
    para(e, "Made by moeplace %s. Files: plans/ (one plan JSON per strategy), data/ (plot data), plots.gp "
            "(gnuplot script), plots/ (PNG and SVG).",
         MOEPLACE_VERSION);
}

static int write_one(const report_ctx *r, int html, mp_err *err)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", r->dir, html ? "report.html" : "report.md");
    mp_ofile *f;
    int rc = mp_ofile_open(&f, path, err);
    if (rc) return rc;
    emit e;
    memset(&e, 0, sizeof e);
    e.fp = mp_ofile_stream(f);
    e.html = html;
    e.r = r;
    if (html)
        fputs("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>moeplace report</title>\n<style>\n"
              "body{font-family:sans-serif;max-width:1150px;margin:2em auto;color:#222}\n"
              "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #bbb;padding:3px 8px}\n"
              "td.n{text-align:right;font-variant-numeric:tabular-nums}th{background:#eee}\n"
              "figure{margin:1.5em 0}svg{max-width:100%;height:auto}\n</style></head><body>\n",
              e.fp);
    document(&e);
    if (html) fputs("</body></html>\n", e.fp);
    return mp_ofile_commit(f, err);
}

int report_write_md(const report_ctx *r, mp_err *err) { return write_one(r, 0, err); }

int report_write_html(const report_ctx *r, mp_err *err) { return write_one(r, 1, err); }

/* ---- summary.json ---- */

static void jnum(mp_jw *w, const char *key, double v, int last)
{
    mp_jw_key(w, key);
    mp_jw_num(w, v);
    mp_jw_raw(w, last ? "" : ", ");
}

int report_write_summary(const report_ctx *r, mp_err *err)
{
    const mp_eval *ev = r->ev;
    char path[4096];
    snprintf(path, sizeof path, "%s/summary.json", r->dir);
    mp_ofile *f;
    int rc = mp_ofile_open(&f, path, err);
    if (rc) return rc;
    mp_jw w;
    mp_jw_file(&w, mp_ofile_stream(f));
    report_advice a;
    report_advise(ev, &a);
    mp_jw_raw(&w, "{\"schema\": \"moeplace.report\", \"schema_version\": %d,\n \"input\": ", CLI_SCHEMA_VERSION);
    mp_jw_str(&w, r->input);
    mp_jw_raw(&w, ", \"model\": ");
    mp_jw_str(&w, ev->model.name[0] ? ev->model.name : "-");
    mp_jw_raw(&w, ", \"gpus\": %d, \"nodes\": %d, \"redundant\": %d, \"replica\": ", ev->setup.gpus, ev->setup.nodes,
              ev->setup.redundant);
    mp_jw_str(&w, ev->setup.policy);
    mp_jw_raw(&w, ", \"steps\": %lld, \"tokens\": %lld, \"holdout\": ", (long long)ev->steps, (long long)ev->tokens);
    mp_jw_num(&w, ev->holdout);
    mp_jw_raw(&w, ",\n \"recommendation\": {\"deploy\": ");
    mp_jw_str(&w, ev->r[a.deploy].entry.name);
    mp_jw_raw(&w, ", \"plan_file\": ");
    mp_jw_str(&w, a.plan_file);
    mp_jw_raw(&w, ", \"best\": ");
    mp_jw_str(&w, ev->r[a.best].entry.name);
    mp_jw_raw(&w, ", \"pays\": %s, ", a.pays ? "true" : "false");
    jnum(&w, "gain", a.linear >= 0 ? a.gain : NAN, 0);
    jnum(&w, "noise_fraction", REPORT_NOISE, 0);
    mp_jw_key(&w, "verdict");
    mp_jw_str(&w, a.why);
    mp_jw_raw(&w, "},\n \"strategies\": [");
    for (int i = 0; i < ev->n; i++) {
        const mp_eval_result *x = &ev->r[i];
        double part[4];
        report_breakdown(x, part);
        char stem[MP_EVAL_NAME_MAX * 3];
        report_plan_stem(x->entry.name, stem, sizeof stem);
        char pf[MP_EVAL_NAME_MAX * 3 + 16];
        snprintf(pf, sizeof pf, "plans/%s.json", stem);
        mp_jw_raw(&w, "%s\n  {\"strategy\": ", i ? "," : "");
        mp_jw_str(&w, x->entry.name);
        mp_jw_raw(&w, ", \"plan_file\": ");
        mp_jw_str(&w, pf);
        mp_jw_raw(&w, ", \"slots_per_gpu\": %d, ", x->plan->topo.slots_per_gpu);
        jnum(&w, "step_us", x->metric[MP_M_STEP_US], 0);
        jnum(&w, "expert_us", part[0], 0);
        jnum(&w, "dispatch_us", part[1], 0);
        jnum(&w, "combine_us", part[2], 0);
        jnum(&w, "other_us", part[3], 0);
        jnum(&w, "bound_us", x->bound_us, 0);
        jnum(&w, "sim_max_over_mean", x->metric[MP_M_SIM_MAXMEAN], 0);
        jnum(&w, "holdout_sim_max_over_mean", x->holdout_sim_maxmean, 0);
        jnum(&w, "plan_max_over_mean", x->metric[MP_M_PLAN_MAXMEAN], 1);
        mp_jw_raw(&w, "}");
    }
    mp_jw_raw(&w, "]");
    if (r->pay) {
        const report_pay *p = r->pay;
        static const char *const rn[REPORT_PAY_REGIMES] = {"prefill", "decode"};
        mp_jw_raw(&w, ",\n \"will_it_pay\": {\"strategy\": ");
        mp_jw_str(&w, REPORT_PAY_STRATEGY);
        mp_jw_raw(&w, ", \"redundant\": %d, ", p->r_setup);
        jnum(&w, "replica_bytes", p->replica_bytes, 0);
        jnum(&w, "kv_tokens_lost", p->kv_bytes_per_token > 0 ? p->replica_bytes / p->kv_bytes_per_token : NAN, 0);
        mp_jw_raw(&w, "\"regimes\": [");
        for (int g = 0; g < REPORT_PAY_REGIMES; g++) {
            const report_pay_regime *x = &p->reg[g];
            char v[1024];
            mp_jw_raw(&w, "%s\n  {\"phase\": \"%s\", \"batch_tokens\": %lld, \"steps\": %lld, ", g ? "," : "", rn[g],
                      (long long)x->batch, (long long)x->steps);
            jnum(&w, "linear_step_us", x->linear_us, 0);
            mp_jw_raw(&w, "\"static_step_us\": [");
            for (int k = 0; k <= p->r_max; k++) {
                mp_jw_raw(&w, k ? ", " : "");
                mp_jw_num(&w, x->static_us[k]);
            }
            mp_jw_raw(&w, "], ");
            jnum(&w, "lp_step_us", x->lp_us, 0);
            jnum(&w, "online_stall_step_us", x->online_stall_us, 0);
            jnum(&w, "online_async_step_us", x->online_steps_us, 0);
            mp_jw_key(&w, "verdict");
            mp_jw_str(&w, report_pay_verdict(p, g, v, sizeof v));
            mp_jw_raw(&w, "}");
        }
        mp_jw_raw(&w, "]}");
    }
    mp_jw_raw(&w, "}\n");
    if (mp_jw_status(&w)) {
        mp_ofile_abort(f);
        return mp_err_set(err, MP_EIO, "%s: cannot write", path);
    }
    return mp_ofile_commit(f, err);
}
