/* cmd_report.c - `moeplace report [TRACE]`: compares placement strategies on
 * a trace (or the built-in generated default), prints the comparison and
 * writes a report folder with plots.  The figures come from sim/mp_check.h;
 * cli/report_*.c lay them out. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/engine.h"
#include "sim/mp_sim.h"
#include "cli/escape.h"
#include "cli/io_guard.h"
#include "cli/sim_e2e.h"
#include "cli/report.h"
#include "cli/term.h"
#include "sim/mp_check.h"
#include "traces/gen/mp_gen.h"
#include "traces/mp_file.h"

const char cmd_report_usage[] =
    "usage: moeplace report [TRACE | --default] [--strategies LIST] [--gpus P] [--nodes N]\n"
    "                       [--redundant X] [-o DIR] [--format table|json|csv|html]\n"
    "\n"
    "Plans every strategy on the trace's summed loads, replays every token through\n"
    "each plan, prints a comparison table and writes DIR/report.md with plots drawn\n"
    "by gnuplot (PNG and SVG), one plan JSON per strategy, the plot data and the\n"
    "gnuplot script.  Without TRACE (or with --default) it runs the built-in\n"
    "default: a generated deepseek-v3 trace on 32 GPUs, 4 nodes, 32 redundant slots.\n"
    "-o names the report folder (default moeplace-report); --format html also\n"
    "writes DIR/report.html with the SVG plots inlined.\n";


/* The main job's advice on the terminal: what to deploy, why, the plan file's
 * path, and the "will it pay?" verdicts; paths are escaped for the terminal. */
static void print_advice(const mp_eval *ev, const report_pay *pay, const char *dir, const cli_common *c)
{
    report_advice a;
    report_advise(ev, &a);
    size_t dl = strlen(dir);
    while (dl > 1 && dir[dl - 1] == '/') dl--;
    char shown[MP_PATH_MAX * 3], name[MP_EVAL_NAME_MAX * 4], line[4 * MP_PATH_MAX + 1024];
    cli_esc_term(shown, sizeof shown, dir, dl);
    cli_esc_term(name, sizeof name, ev->r[a.deploy].entry.name, strlen(ev->r[a.deploy].entry.name));
    int cols = cli_term_columns(c->wide);
    snprintf(line, sizeof line, "%s %s: plan file %s/%s", a.deploy == a.best ? "deploy" : "keep", name, shown,
             a.plan_file);
    printf("\n");
    cli_print_wrapped(stdout, "advice: ", line, cols);
    char why[sizeof a.why];
    cli_esc_term(why, sizeof why, a.why, strlen(a.why));
    cli_print_wrapped(stdout, "why:    ", why, cols);
    if (pay) {
        static const char *const rn[REPORT_PAY_REGIMES] = {"prefill: ", "decode:  "};
        for (int g = 0; g < REPORT_PAY_REGIMES; g++) {
            char v[1024];
            snprintf(line, sizeof line, "will it pay at %lld tokens per step? %s", (long long)pay->reg[g].batch,
                     report_pay_verdict(pay, g, v, sizeof v));
            cli_print_wrapped(stdout, rn[g], line, cols);
        }
    }
}

/* the comparison table printed on the terminal (and as JSON/CSV) */
static int print_table(const mp_eval *ev, const char *input, const cli_common *c, const cli_e2e *e2e)
{
    cli_doc *d = cli_doc_create("moeplace.report");
    if (!d) return CLI_EDATA;
    cli_doc_str(d, "input", input);
    cli_doc_str(d, "model", ev->model.name[0] ? ev->model.name : "-");
    cli_doc_int(d, "steps", ev->steps);
    cli_doc_int(d, "tokens", ev->tokens);
    cli_doc_int(d, "gpus", ev->setup.gpus);
    cli_doc_int(d, "nodes", ev->setup.nodes);
    cli_doc_int(d, "redundant", ev->setup.redundant);
    cli_doc_str(d, "replica", ev->setup.policy);
    cli_doc_str(d, "best", ev->r[ev->best].entry.name);
    report_advice adv;
    report_advise(ev, &adv);
    cli_doc_str(d, "deploy", ev->r[adv.deploy].entry.name);
    cli_doc_str(d, "plan_file", adv.plan_file);
    cli_doc_str(d, "verdict", adv.why);
    int ho = ev->holdout > 0;
    cli_doc_num(d, "holdout", ev->holdout, 3);
    if (ho) {
        cli_doc_int(d, "train_steps", ev->train_steps);
        cli_doc_int(d, "holdout_steps", ev->holdout_steps);
    }
    cli_tab *t = cli_doc_table(d, "strategies", "strategy comparison");
    int json = c->format == CLI_FMT_JSON;
    cli_tab_col(t, "strategy", -1);
    cli_tab_col(t, "slots_per_gpu", -1);
    for (int m = 0; m < MP_METRICS; m++) cli_tab_col(t, mp_metric_at(m)->name, json ? 6 : mp_metric_at(m)->decimals);
    cli_tab_col(t, "bound_us", json ? 6 : 1);
    /* --e2e: the whole decoder step around each strategy's MoE step time (steps of the mean tokens) */
    double e2e_lin = NAN, tps = ev->steps > 0 ? (double)ev->tokens / (double)ev->steps : 0;
    mp_cost cost = mp_cost_default(); /* the evaluation's cost model */
    if (e2e->on) {
        cli_tab_col(t, "e2e_step_us_mean", json ? 6 : 1);
        cli_tab_col(t, "e2e_speedup", json ? 6 : 4);
        for (int i = 0; i < ev->n; i++)
            if (!strcmp(ev->r[i].entry.name, "linear"))
                e2e_lin = cli_e2e_step_us(e2e, &ev->model, &cost, tps, ev->setup.gpus, ev->r[i].metric[MP_M_STEP_US]);
    }
    if (ho) {
        cli_tab_col(t, "insample_sim_max_over_mean", json ? 6 : 4);
        cli_tab_col(t, "holdout_sim_max_over_mean", json ? 6 : 4);
        cli_tab_col(t, "holdout_max_over_mean", json ? 6 : 4);
        cli_tab_col(t, "holdout_oracle_max_over_mean", json ? 6 : 4);
    }
    for (int i = 0; i < ev->n; i++) {
        cli_tab_str(t, ev->r[i].entry.name);
        cli_tab_int(t, ev->r[i].plan->topo.slots_per_gpu);
        for (int m = 0; m < MP_METRICS; m++) cli_tab_num(t, ev->r[i].metric[m]);
        cli_tab_num(t, ev->r[i].bound_us);
        if (e2e->on) {
            double us = cli_e2e_step_us(e2e, &ev->model, &cost, tps, ev->setup.gpus, ev->r[i].metric[MP_M_STEP_US]);
            cli_tab_num(t, us);
            cli_tab_num(t, us > 0 ? e2e_lin / us : NAN);
        }
        if (ho) {
            cli_tab_num(t, ev->r[i].insample_sim_maxmean);
            cli_tab_num(t, ev->r[i].holdout_sim_maxmean);
            cli_tab_num(t, ev->r[i].holdout_plan_maxmean);
            cli_tab_num(t, ev->r[i].oracle_plan_maxmean);
        }
    }
    int rc = cli_doc_stdout(d, c);
    cli_doc_destroy(d);
    return rc;
}

static int write_plans(const mp_eval *ev, const char *dir, mp_err *err)
{
    char path[4096];
    if (snprintf(path, sizeof path, "%s/plans", dir) >= (int)sizeof path)
        return mp_err_set(err, MP_EIO, "%s: path too long", dir);
    if (mkdir(path, 0777)) return mp_err_set(err, MP_EIO, "%s: cannot create", path);
    for (int i = 0; i < ev->n; i++) {
        mp_plan_info info;
        memset(&info, 0, sizeof info);
        info.locality = ev->setup.locality;
        info.metrics = ev->r[i].pm;
        info.moved_experts = -1;
        char stem[MP_EVAL_NAME_MAX];
        report_plan_stem(ev->r[i].entry.name, stem, sizeof stem);
        if (snprintf(path, sizeof path, "%s/plans/%s.json", dir, stem) >= (int)sizeof path)
            return mp_err_set(err, MP_EIO, "%s: path too long", dir);
        int rc = mp_plan_write_json(ev->r[i].plan, &info, path, err);
        if (rc) return rc;
    }
    return 0;
}

typedef struct args {
    cli_common c;
    const char *trace;
    int use_default, rebalance, pareto, no_plots, html;
    int64_t interval, window, gen_steps, gen_tokens;
    const char *gen_skew, *gnuplot, *strategies;
    mp_eval_setup setup;
    cli_e2e e2e;
} args;

static int parse(args *a, int argc, char **argv)
{
    const char *cmd = "report";
    cli_args A;
    int prc = cli_args_parse(&A, &a->c, cmd, argc, argv);
    if (prc) return prc;
    a->use_default = cli_has(&A, CLI_O_DEFAULT) > 0;
    a->strategies = cli_str(&A, CLI_O_STRATEGIES);
    a->setup.gpus = cli_int(&A, CLI_O_GPUS, a->setup.gpus);
    a->setup.nodes = cli_int(&A, CLI_O_NODES, a->setup.nodes);
    a->setup.redundant = cli_int(&A, CLI_O_REDUNDANT, a->setup.redundant);
    if (cli_has(&A, CLI_O_REPLICA) || cli_has(&A, CLI_O_ENGINE)) {
        const char *rep = cli_engine_replica(&A);
        if (cli_replica_check(cmd, rep, NULL, NULL)) return CLI_EUSAGE;
        snprintf(a->setup.policy, sizeof a->setup.policy, "%s", mp_policy_find(rep)->name);
    }
    a->setup.locality = cli_num(&A, CLI_O_LOCALITY, a->setup.locality);
    a->setup.holdout = cli_num(&A, CLI_O_HOLDOUT, -1); /* -1: on when the trace has enough steps */
    a->rebalance = cli_has(&A, CLI_O_REBALANCE) > 0;
    a->pareto = cli_has(&A, CLI_O_PARETO) > 0;
    a->interval = cli_i64(&A, CLI_O_INTERVAL, 0);
    a->window = cli_i64(&A, CLI_O_WINDOW, 0);
    a->gen_steps = cli_i64(&A, CLI_O_GEN_STEPS, 0);
    a->gen_tokens = cli_i64(&A, CLI_O_GEN_TOKENS, 0);
    a->gen_skew = cli_str(&A, CLI_O_GEN_SKEW);
    a->gnuplot = cli_str(&A, CLI_O_GNUPLOT);
    a->no_plots = cli_has(&A, CLI_O_NO_PLOTS) > 0;
    cli_e2e_read(&a->e2e, &A);
    a->html = cli_enum(&A, CLI_O_FORMAT, 0) == 3; /* table|json|csv|html: the table printed, and report.html */
    if (a->c.help) return CLI_OK;
    if (A.first < argc) a->trace = argv[A.first++];
    if (A.first < argc) return cli_usage_error(cmd, "unexpected argument '%s'", argv[A.first]);
    if (a->trace && a->use_default) return cli_usage_error(cmd, "give a TRACE or --default, not both");
    if (a->trace && (a->gen_steps || a->gen_tokens || a->gen_skew))
        return cli_usage_error(cmd, "--gen-* options apply to the generated default input only");
    if (!a->e2e.on && (cli_has(&A, CLI_O_E2E_PHASE) || cli_has(&A, CLI_O_KV_BYTES) || cli_has(&A, CLI_O_NO_LM_HEAD)))
        return cli_usage_error(cmd, "--phase, --kv-bytes and --no-lm-head shape --e2e: give --e2e");
    if (a->c.seed_set) a->setup.seed = a->c.seed;
    mp_err err = {0};
    if (mp_eval_add_strategies(&a->setup, a->strategies ? a->strategies : MP_EVAL_DEFAULT_STRATEGIES, &err))
        return cli_usage_error(cmd, "%s", err.msg);
    if (mp_eval_setup_validate(&a->setup, &err)) return cli_usage_error(cmd, "%s", err.msg);
    return -1; /* go on */
}

int cmd_report(int argc, char **argv)
{
    args a;
    memset(&a, 0, sizeof a);
    a.setup = mp_eval_setup_default();
    int rc = parse(&a, argc, argv);
    if (a.c.help && rc != CLI_EUSAGE) return cli_help(stdout, "report");
    if (rc >= 0) return rc;

    mp_err err = {0};
    const char *dir = a.c.output ? a.c.output : CLI_REPORT_DIR_DEFAULT;
    {
        cli_io_guard g;
        cli_io_guard_init(&g, "report");
        cli_io_guard_add_input(&g, a.trace);
        cli_io_guard_add_dir(&g, dir);
        if ((rc = cli_io_guard_check(&g)) != CLI_OK) return rc;
        if (report_dir_check(dir, &err)) return cli_fail(&err);
    }
    mp_piece_source src;
    mp_model model;
    mp_trace_source *ts = NULL;
    mp_gen_source *gs = NULL;
    char input[512];
    cli_eval_progress pr;
    int64_t in_steps = -1; /* the input's steps when known up front */
    if (a.trace) {
        mp_read_opts ro = cli_read_opts(&a.c);
        if (mp_trace_source_open(&ts, a.trace, &ro, &err)) return cli_fail(&err);
        /* the replica rule may read each token's ids in gate-weight order */
        if (mp_policy_find(a.setup.policy)->gate_order && mp_trace_source_keep_weights(ts, &err)) {
            mp_trace_source_close(ts);
            return cli_fail(&err);
        }
        src = ts->src;
        model = *mp_trace_model(ts->trace);
        if ((rc = cli_need_sizes("report", a.trace, &model, 0, 0, 0))) {
            mp_trace_source_close(ts);
            return rc;
        }
        in_steps = mp_trace_get_info(ts->trace).steps;
        snprintf(input, sizeof input, "%s", a.trace);
    } else {
        mp_gen_opts go;
        mp_gen_opts_default(&go);
        /* the main job's input, pinned here so that it does not follow the generator's defaults */
        go.steps = a.gen_steps ? a.gen_steps : CLI_REPORT_GEN_STEPS_DEFAULT;
        go.tokens_per_step = a.gen_tokens ? a.gen_tokens : CLI_REPORT_GEN_TOKENS_DEFAULT;
        go.decode = 0;
        char msg[2 * MP_ERR_MSG_MAX];
        if (a.gen_skew && mp_skew_parse(a.gen_skew, &go.skew, &err))
            return cli_usage_error("report", "%s", cli_flag_msg(err.msg, "skew", "--gen-skew", msg, sizeof msg));
        if (go.request_tokens > go.tokens_per_step) go.request_tokens = (int32_t)go.tokens_per_step;
        go.dp_ranks = a.setup.gpus;
        go.seed = a.setup.seed;
        go.threads = a.c.threads;
        go.with_weights = 0;
        if (a.c.has_model) go.model = a.c.model; /* the default input of the model given */
        char skew[64];
        mp_skew_format(&go.skew, skew, sizeof skew);
        if (mp_gen_source_open(&gs, &go, &src, &model, &err)) return cli_fail(&err);
        in_steps = go.steps;
        snprintf(input, sizeof input, "generated %s trace (skew %s, %lld steps x %lld tokens, seed %llu)",
                 model.name, skew, (long long)go.steps, (long long)go.tokens_per_step,
                 (unsigned long long)go.seed);
    }
    if ((rc = cli_e2e_check(&a.e2e, &model, a.trace ? a.trace : "the default input"))) {
        mp_trace_source_close(ts);
        mp_gen_source_close(gs);
        return rc;
    }
    /* the folder is built beside DIR from here on (removed on a signal) */
    report_dir rd;
    if (report_dir_begin(&rd, dir, &err)) {
        mp_trace_source_close(ts);
        mp_gen_source_close(gs);
        return cli_fail(&err);
    }
    mp_eval *ev = NULL;
    mp_rebalance_result *rb = NULL;
    mp_sweep_result *sw = NULL;
    report_pay *pay = NULL;
    cli_eval_progress_init(&pr, &a.c, "report", in_steps);
    rc = mp_eval_run(&ev, &a.setup, &src, &model, a.c.threads, NULL, cli_eval_progress_update, &pr, &err);
    /* the later passes count assignments: shown as tokens */
    double per_token = (double)model.layers * model.top_k;
    if (!rc && a.rebalance) {
        int64_t iv = a.interval ? a.interval : (ev->steps >= 8 ? ev->steps / 8 : 1);
        int64_t win = a.window ? a.window : iv;
        cli_progress_start(&pr.bar, "report: rebalancing", "tokens", per_token, (int64_t)(ev->tokens * per_token));
        rc = mp_eval_rebalance(&rb, ev, "eplb", iv, win, &src, a.c.threads, cli_progress_update, &pr.bar, &err);
    }
    if (!rc) { /* "will it pay?": prefill and decode batches, 0..R replicas, lp routing, online */
        cli_progress_start(&pr.bar, "report: will it pay", "tokens", 1, 0);
        rc = report_pay_run(&pay, ev, &src, a.c.threads, cli_progress_update, &pr.bar, &err);
    }
    if (!rc && a.pareto) {
        cli_progress_start(&pr.bar, "report: locality sweep", "tokens", per_token, (int64_t)(ev->tokens * per_token));
        rc = mp_eval_sweep(&sw, ev, &src, a.c.threads, cli_progress_update, &pr.bar, &err);
    }
    cli_progress_done(&pr.bar);
    mp_trace_source_close(ts);
    mp_gen_source_close(gs);
    if (rc) {
        report_dir_abort(&rd);
        mp_rebalance_result_destroy(rb);
        mp_sweep_result_destroy(sw);
        report_pay_destroy(pay);
        mp_eval_destroy(ev);
        return cli_fail(&err);
    }

    int status = print_table(ev, input, &a.c, &a.e2e);
    char gp[4096];
    const char *gnuplot = NULL;
    if (a.gnuplot)
        gnuplot = a.gnuplot;
    else if (report_find_gnuplot(gp, sizeof gp) == 0)
        gnuplot = gp;
    report_ctx r = {ev, rd.tmp, input, gnuplot, 0, a.html, rb, "eplb", sw, pay};
    if ((rc = write_plans(ev, rd.tmp, &err)) || (rc = report_write_plot_data(&r, &err))) goto fail;
    if (!a.no_plots) {
        mp_err gerr = {0};
        if (!gnuplot)
            fprintf(stderr, "moeplace report: warning: gnuplot not found on PATH; the report has every table but "
                            "no plots (install gnuplot or give --gnuplot PATH)\n");
        else if (report_run_gnuplot(&r, &gerr))
            cli_message("moeplace report: warning: %s; the report has every table but no plots", gerr.msg);
        else
            r.plots = 1;
    }
    if ((rc = report_write_md(&r, &err)) || (a.html && (rc = report_write_html(&r, &err))) ||
        (rc = report_write_summary(&r, &err)))
        goto fail;
    if ((rc = report_dir_commit(&rd, &err))) goto fail;
    if (!a.c.quiet) {
        size_t dl = strlen(dir);
        while (dl > 1 && dir[dl - 1] == '/') dl--;
        char shown[MP_PATH_MAX * 3];
        cli_esc_term(shown, sizeof shown, dir, dl); /* a name from the command line: text only */
        fprintf(a.c.format == CLI_FMT_TABLE ? stdout : stderr, "\nreport: %s/report.md%s%s (%d plots), summary.json\n",
                shown, a.html ? ", " : "", a.html ? "report.html" : "", r.plots ? report_plot_count(&r) : 0);
        if (a.c.format == CLI_FMT_TABLE) print_advice(ev, pay, dir, &a.c);
    }
    goto out;
fail:
    report_dir_abort(&rd);
    status = cli_fail(&err);
out:
    report_pay_destroy(pay);
    mp_rebalance_result_destroy(rb);
    mp_sweep_result_destroy(sw);
    mp_eval_destroy(ev);
    return status;
}
