/* cmd_check.c - `moeplace check TRACE --baseline FILE`: the CI regression
 * gate.  Recomputes the baseline's metrics on the trace and compares them
 * (sim/mp_check.h); this file parses flags and prints the diff. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/engine.h"
#include "sim/mp_sim.h"
#include "cli/io_guard.h"
#include "sim/mp_check.h"

const char cmd_check_usage[] =
    "usage: moeplace check TRACE --baseline FILE [--tolerance REL] [--update]\n"
    "                      [--format table|json|csv] [-o OUT] [-j N]\n"
    "\n"
    "The CI regression gate.  The baseline names the strategies or plan files, the\n"
    "topology and the replay options, and holds their metrics; check recomputes\n"
    "them on TRACE and exits 0 when nothing regressed by more than the tolerance,\n"
    "1 with a diff table (metric, baseline, now, change) when something did, 2 on\n"
    "usage errors.  The gate fails closed: a baseline that lacks a figure, names an\n"
    "unknown metric, misses a setup key or was recorded on another model is exit 1.\n"
    "--update rewrites the baseline atomically with the new figures;\n"
    "with --update and a baseline that does not exist yet, the setup comes from\n"
    "--strategies, --plan, --gpus, --nodes, --redundant, --replica (or --engine) and\n"
    "--locality (defaults 32, 4, 32, vllm-modulo, 0).\n";


static const char *status_name(int s)
{
    switch (s) {
    case MP_CHECK_IMPROVED: return "improved";
    case MP_CHECK_REGRESSED: return "REGRESSED";
    case MP_CHECK_NEW: return "new";
    default: return "ok";
    }
}

static int print_diff(const mp_check_diff *d, const mp_eval *ev, const char *trace, const char *baseline,
                      double tol, int failed, const cli_common *c)
{
    cli_doc *doc = cli_doc_create("moeplace.check");
    if (!doc) return CLI_EDATA;
    cli_doc_str(doc, "trace", trace);
    cli_doc_str(doc, "baseline", baseline);
    cli_doc_num(doc, "tolerance", tol, 4);
    cli_doc_int(doc, "metrics", d->nrows);
    cli_doc_int(doc, "regressed", d->regressed);
    cli_doc_int(doc, "improved", d->improved);
    cli_doc_int(doc, "new", d->fresh);
    cli_doc_str(doc, "result", failed ? "fail" : "pass");
    cli_tab *t = cli_doc_table(doc, "diff", "metrics against the baseline");
    int json = c->format == CLI_FMT_JSON;
    cli_tab_col(t, "entry", -1);
    cli_tab_col(t, "metric", -1);
    cli_tab_col(t, "baseline", json ? 6 : 4);
    cli_tab_col(t, "now", json ? 6 : 4);
    cli_tab_col(t, "change_pct", json ? 6 : 2);
    cli_tab_col(t, "status", -1);
    for (int i = 0; i < d->nrows; i++) {
        const mp_check_row *r = &d->rows[i];
        cli_tab_str(t, ev->r[r->entry].entry.name);
        cli_tab_str(t, mp_metric_at(r->metric)->name);
        cli_tab_num(t, r->base);
        cli_tab_num(t, r->now);
        cli_tab_num(t, 100 * r->change);
        cli_tab_str(t, status_name(r->status));
    }
    int rc = cli_doc_emit(doc, c);
    cli_doc_destroy(doc);
    return rc;
}

/* the folder of a path ("" when none), into buf */
static void dir_of(const char *path, char *buf, size_t cap)
{
    const char *s = strrchr(path, '/');
    if (!s)
        snprintf(buf, cap, "%s", "");
    else if (s == path)
        snprintf(buf, cap, "/");
    else
        snprintf(buf, cap, "%.*s", (int)(s - path), path);
}

int cmd_check(int argc, char **argv)
{
    const char *cmd = "check";
    cli_common c;
    cli_args A;
    int prc = cli_args_parse(&A, &c, cmd, argc, argv);
    if (prc) return prc;
    const char *baseline = cli_str(&A, CLI_O_BASELINE), *strategies = cli_str(&A, CLI_O_STRATEGIES);
    const char *plans[MP_EVAL_ENTRIES_MAX];
    int nplans = cli_has(&A, CLI_O_CHECK_PLAN), update = cli_has(&A, CLI_O_UPDATE) > 0;
    double tol = cli_num(&A, CLI_O_TOLERANCE, CLI_TOLERANCE_DEFAULT);
    if (nplans > MP_EVAL_ENTRIES_MAX) return cli_usage_error(cmd, "too many --plan");
    for (int i = 0; i < nplans; i++) plans[i] = cli_nth(&A, CLI_O_CHECK_PLAN, i);
    /* the setup of a new baseline */
    static const int setup_opts[] = {CLI_O_STRATEGIES, CLI_O_CHECK_PLAN, CLI_O_GPUS,    CLI_O_NODES,
                                     CLI_O_REDUNDANT,  CLI_O_REPLICA,    CLI_O_LOCALITY, CLI_O_ENGINE};
    int setup_flags = 0;
    for (size_t i = 0; i < sizeof setup_opts / sizeof setup_opts[0]; i++) setup_flags |= cli_has(&A, setup_opts[i]) > 0;
    mp_eval_setup fs = mp_eval_setup_default();
    fs.gpus = cli_int(&A, CLI_O_GPUS, fs.gpus);
    fs.nodes = cli_int(&A, CLI_O_NODES, fs.nodes);
    fs.redundant = cli_int(&A, CLI_O_REDUNDANT, fs.redundant);
    fs.locality = cli_num(&A, CLI_O_LOCALITY, fs.locality);
    if (cli_has(&A, CLI_O_REPLICA) || cli_has(&A, CLI_O_ENGINE)) {
        const char *rep = cli_engine_replica(&A);
        if (cli_replica_check(cmd, rep, NULL, NULL)) return CLI_EUSAGE;
        snprintf(fs.policy, sizeof fs.policy, "%s", mp_policy_find(rep)->name);
    }
    if (c.help) return cli_help(stdout, cmd);
    if (A.first >= argc) return cli_usage_error(cmd, "missing TRACE");
    const char *trace = argv[A.first++];
    if (A.first < argc) return cli_usage_error(cmd, "unexpected argument '%s'", argv[A.first]);
    if (!baseline) return cli_usage_error(cmd, "missing --baseline FILE");
    /* the baseline is rewritten in place on purpose with --update; the plan
     * files it names are added once it is read */
    cli_io_guard g;
    cli_io_guard_init(&g, cmd);
    cli_io_guard_add_input(&g, trace);
    if (update) cli_io_guard_add_inout(&g, baseline);
    else cli_io_guard_add_input(&g, baseline);
    cli_io_guard_add_output(&g, c.output);
    int grc = cli_io_guard_check(&g);
    if (grc) return grc;

    mp_err err = {0};
    mp_baseline *b = NULL;
    int exists = access(baseline, F_OK) == 0;
    if (exists) {
        if (setup_flags)
            return cli_usage_error(cmd, "%s exists: its setup is used (setup flags only make a new baseline)", baseline);
        if (mp_baseline_read(&b, baseline, &err)) return cli_fail(&err);
    } else {
        if (!update) {
            cli_message("moeplace: %s: no such baseline (make one with --update)", baseline);
            return CLI_EDATA;
        }
        if (c.seed_set) fs.seed = c.seed;
        if ((strategies || !nplans) &&
            mp_eval_add_strategies(&fs, strategies ? strategies : MP_EVAL_DEFAULT_STRATEGIES, &err))
            return cli_usage_error(cmd, "%s", err.msg);
        for (int i = 0; i < nplans; i++) {
            const char *eq = strchr(plans[i], '=');
            if (!eq || eq == plans[i] || !eq[1] || (size_t)(eq - plans[i]) >= MP_EVAL_NAME_MAX ||
                strlen(eq + 1) >= MP_EVAL_PATH_MAX)
                return cli_usage_error(cmd, "--plan wants NAME=FILE, not '%s'", plans[i]);
            if (fs.nentries >= MP_EVAL_ENTRIES_MAX) return cli_usage_error(cmd, "too many entries");
            mp_eval_entry *e = &fs.entry[fs.nentries++];
            memset(e, 0, sizeof *e);
            memcpy(e->name, plans[i], (size_t)(eq - plans[i]));
            snprintf(e->plan, sizeof e->plan, "%s", eq + 1);
        }
        if (mp_eval_setup_validate(&fs, &err)) return cli_usage_error(cmd, "%s", err.msg);
        b = calloc(1, sizeof *b);
        if (!b) return CLI_EDATA;
        b->setup = fs;
    }

    char bdir[4096];
    dir_of(baseline, bdir, sizeof bdir);
    {
        static char planpath[MP_EVAL_ENTRIES_MAX][4096 + MP_EVAL_PATH_MAX];
        for (int i = 0; i < b->setup.nentries && i < MP_EVAL_ENTRIES_MAX; i++) {
            const char *pl = b->setup.entry[i].plan;
            if (!pl[0]) continue;
            snprintf(planpath[i], sizeof planpath[i], "%s%s%s", pl[0] != '/' && bdir[0] ? bdir : "",
                     pl[0] != '/' && bdir[0] ? "/" : "", pl);
            cli_io_guard_add_input(&g, planpath[i]);
        }
        grc = cli_io_guard_check(&g);
        if (grc) {
            mp_baseline_destroy(b);
            return grc;
        }
    }
    mp_trace_source *ts = NULL;
    mp_read_opts ro = cli_read_opts(&c);
    mp_eval *ev = NULL;
    int rc = mp_trace_source_open(&ts, trace, &ro, &err);
    /* the replica rule may read each token's ids in gate-weight order (the policy is the baseline's) */
    if (!rc) rc = mp_trace_source_keep_weights(ts, &err);
    if (!rc) {
        mp_model model = *mp_trace_model(ts->trace);
        if (cli_need_sizes("check", trace, &model, 0, 0, 0)) {
            mp_trace_source_close(ts);
            mp_baseline_destroy(b);
            return CLI_EUSAGE;
        }
        /* an existing baseline is data: whatever in it does not fit the trace is exit 1; and the gate
           fails closed before the replay when the baseline lacks figures or is of another model */
        if (exists && !(rc = mp_baseline_fit(b, &model, &err)) && !update) rc = mp_baseline_gate(b, &model, &err);
        if (!rc) {
            cli_eval_progress pr;
            cli_eval_progress_init(&pr, &c, "check", mp_trace_get_info(ts->trace).steps);
            rc = mp_eval_run(&ev, &b->setup, &ts->src, &model, c.threads, bdir, cli_eval_progress_update, &pr, &err);
            cli_progress_done(&pr.bar);
            if (rc == MP_EINVAL && exists) {
                /* the setup came from the file: a data error, not a usage error */
                mp_err e2 = err;
                rc = mp_err_set(&err, MP_ERANGE, "%s: setup: %s", baseline, e2.msg);
            }
        }
    }
    mp_trace_source_close(ts);
    if (rc) {
        mp_baseline_destroy(b);
        return cli_fail(&err);
    }

    int status;
    mp_check_diff *d = NULL;
    if ((rc = mp_check_compare(&d, b, ev, tol, &err))) {
        status = cli_fail(&err);
    } else if ((status = print_diff(d, ev, trace, baseline, tol, d->regressed || (!update && (d->fresh || !d->nrows)),
                                    &c)) == CLI_OK) {
        if (update) {
            if (mp_baseline_write(ev, baseline, &err))
                status = cli_fail(&err);
            else if (!c.quiet)
                cli_message("moeplace check: %s %s with %d metrics of %d entries", baseline,
                        exists ? "updated" : "written", d->nrows, ev->n);
        } else if (d->fresh || d->nrows == 0) {
            /* mp_baseline_gate makes this unreachable; the gate still never passes unchecked figures */
            cli_message("moeplace check: %s: %d of %d metrics have no baseline figures (record them with --update)",
                    baseline, d->fresh, d->nrows);
            status = CLI_EDATA;
        } else if (d->regressed) {
            cli_message("moeplace check: %d of %d metrics regressed by more than %g%% against %s", d->regressed,
                    d->nrows, 100 * tol, baseline);
            status = CLI_EDATA;
        }
    }
    mp_check_diff_destroy(d);
    mp_eval_destroy(ev);
    mp_baseline_destroy(b);
    return status;
}
