/* cmd_rebalance.c - `moeplace rebalance`: online EPLB over time. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/engine.h"
#include "cli/io_guard.h"
#include "cli/term.h"
#include "cli/cmd_sim.h"
#include "planner/mp_planner.h"
#include "sim/mp_rebalance.h"
#include "sim/mp_sweep.h"

const char cmd_rebalance_usage[] =
    "usage: moeplace rebalance TRACE --gpus P [plan options] [options]\n"
    "\n"
    "Runs online expert rebalancing as the engines do: every --interval steps,\n"
    "re-plan from the loads of the last --window steps, and compare on the same trace\n"
    "a static plan from the first window, the online rebalancer, and an oracle that\n"
    "re-plans every step from that step's own loads.  Reports per-regime balance, each\n"
    "rebalance's predicted gain, experts and bytes moved and transfer time, and the\n"
    "balance over time (how fast each regime recovers after a popularity shift).\n"
    "--series adds the per-step max/mean of the three regimes.\n";

typedef struct replan_ctx {
    mp_plan_request q;
} replan_ctx;

static int replan_cb(void *ctx, const mp_loads *loads, mp_plan **out, mp_err *err)
{
    const replan_ctx *r = ctx;
    return mp_planner_run(out, loads, &r->q, err);
}

static const char *REG[MP_REGIMES] = {"static", "online", "oracle"};

/* Without --interval, on a trace too short for the engines' interval (vLLM
 * re-plans every 3000 forward passes) to come round even once, rebalance every
 * steps/8 steps from a window of as many (as `moeplace report --rebalance`
 * does) and say so on stderr: a run that never rebalances shows nothing.
 * Counts the steps by reading the trace through when its header does not say.
 * Returns 0 or a negative code (err set). */
static int short_trace_defaults(const mp_piece_source *src, const mp_trace *t, const char *path,
                                mp_rebalance_opts *ro, int window_given, int quiet, mp_err *err)
{
    int64_t steps = mp_trace_get_info(t).steps;
    if (steps < 0) {
        mp_step pc = {0};
        int rc;
        steps = 0;
        while ((rc = src->next(src->ctx, &pc, err)) == 1)
            if (pc.end_of_step) steps++;
        mp_step_release(&pc);
        if (rc < 0 || (rc = src->rewind(src->ctx, err))) return rc;
    }
    if (steps > ro->interval) return 0; /* at least one rebalance at the engines' interval */
    int64_t iv = steps >= 16 ? steps / 8 : 2;
    if (iv >= steps) iv = steps > 1 ? steps - 1 : 1;
    ro->interval = iv;
    if (!window_given) ro->window = iv;
    if (!quiet) {
        cli_message("moeplace rebalance: %s has %lld steps, too few for vLLM's interval of 3000 to come round; "
                    "rebalancing every %lld steps from the last %lld (give --interval and --window to choose)",
                    path, (long long)steps, (long long)ro->interval, (long long)ro->window);
    }
    return 0;
}

int cmd_rebalance(int argc, char **argv)
{
    cli_common c;
    cli_args A;
    int prc = cli_args_parse(&A, &c, "rebalance", argc, argv);
    if (prc) return prc;
    cli_sim_flags f;
    cli_sim_flags_read(&f, &A);
    mp_rebalance_opts ro = mp_rebalance_opts_default();
    int series = cli_has(&A, CLI_O_SERIES) > 0;
    int interval_given = cli_has(&A, CLI_O_INTERVAL) > 0, window_given = cli_has(&A, CLI_O_WINDOW) > 0;
    ro.interval = cli_i64(&A, CLI_O_INTERVAL, ro.interval);
    ro.window = cli_i64(&A, CLI_O_WINDOW, ro.window);
    ro.threshold = cli_num(&A, CLI_O_THRESHOLD, ro.threshold);
    ro.bandwidth_GBps = cli_num(&A, CLI_O_BANDWIDTH, ro.bandwidth_GBps);
    if (cli_has(&A, CLI_O_MIGRATION_AWARE)) ro.relabel = 1;
    if (cli_has(&A, CLI_O_NO_ORACLE)) ro.oracle = 0;
    ro.oracle_every = cli_i64(&A, CLI_O_ORACLE_EVERY, ro.oracle_every);
    ro.bucket = cli_i64(&A, CLI_O_BUCKET, ro.bucket);
    ro.shift_at = cli_i64(&A, CLI_O_REB_SHIFT_AT, ro.shift_at);
    ro.holdout = cli_num(&A, CLI_O_HOLDOUT, ro.holdout);
    ro.max_moves = cli_i64(&A, CLI_O_MAX_MOVES, -1);
    ro.max_layers = (int32_t)cli_int(&A, CLI_O_LAYER_BUDGET, -1);
    if (cli_has(&A, CLI_O_MOVE_BUDGET) &&
        cli_parse_bytes("rebalance", "--move-budget", cli_str(&A, CLI_O_MOVE_BUDGET), &ro.max_bytes))
        return CLI_EUSAGE;
    if (c.help) return cli_help(stdout, "rebalance");
    if (A.first + 1 != argc) return cli_usage_error("rebalance", "wants exactly one TRACE");
    if (!f.strategy) f.strategy = "eplb";
    if (!mp_strategy_find(f.strategy)) return cli_usage_error("rebalance", "unknown strategy '%s'", f.strategy);
    const char *rep = cli_engine_replica(&A);
    if (cli_replica_check("rebalance", rep, NULL, NULL)) return CLI_EUSAGE;
    ro.sim.policy = mp_policy_find(rep);
    {
        cli_io_guard g;
        cli_io_guard_init(&g, "rebalance");
        cli_io_guard_add_input(&g, argv[A.first]);
        cli_io_guard_add_input(&g, f.cost_path);
        cli_io_guard_add_output(&g, c.output);
        cli_io_guard_add_output(&g, f.write_cost);
        int grc = cli_io_guard_check(&g);
        if (grc) return grc;
    }
    int rc = cli_sim_cost(&f, &ro.sim.cost);
    if (rc) return rc;
    ro.sim.seed = c.seed;
    ro.sim.threads = c.threads;

    const char *path = argv[A.first];
    mp_err err = {0};
    mp_read_opts rdo = cli_read_opts(&c);
    mp_trace_source *ts = NULL;
    if (mp_trace_source_open(&ts, path, &rdo, &err)) return cli_fail(&err);
    if (ro.sim.policy->gate_order && mp_trace_source_keep_weights(ts, &err)) { /* ids in gate-weight order */
        mp_trace_source_close(ts);
        return cli_fail(&err);
    }
    mp_model m = *mp_trace_model(ts->trace);
    if ((rc = cli_need_sizes("rebalance", path, &m, ro.sim.cost.hidden, ro.sim.cost.intermediate, 1))) {
        mp_trace_source_close(ts);
        return rc;
    }
    if (!interval_given && (rc = short_trace_defaults(&ts->src, ts->trace, path, &ro, window_given, c.quiet, &err))) {
        mp_trace_source_close(ts);
        return rc < 0 ? cli_fail(&err) : rc;
    }
    replan_ctx rc_ctx;
    if ((rc = cli_sim_request(&f, "rebalance", &m, &rc_ctx.q))) {
        mp_trace_source_close(ts);
        return rc;
    }
    if (rc_ctx.q.groups <= 0) rc_ctx.q.groups = m.groups > 0 ? m.groups : 1;
    ro.replan = replan_cb;
    ro.replan_ctx = &rc_ctx;
    mp_rebalance_result *r;
    cli_progress pr;
    cli_progress_init(&pr, &c, "rebalance");
    cli_progress_trace(&pr, NULL, ts->trace);
    rc = mp_rebalance_run(&r, &ts->src, &m, &ro, cli_progress_update, &pr, &err);
    cli_progress_done(&pr);
    mp_trace_source_close(ts);
    if (rc) return cli_fail(&err);

    cli_doc *d = cli_doc_create("moeplace.rebalance");
    cli_doc_str(d, "trace", path);
    cli_doc_str(d, "model", m.name[0] ? m.name : "-");
    cli_doc_str(d, "strategy", f.strategy);
    cli_doc_str(d, "replica", ro.sim.policy->name);
    cli_doc_int(d, "gpus", rc_ctx.q.topo.gpus);
    cli_doc_int(d, "nodes", rc_ctx.q.topo.nodes);
    cli_doc_int(d, "slots_per_gpu", rc_ctx.q.topo.slots_per_gpu);
    cli_doc_int(d, "interval", ro.interval);
    cli_doc_int(d, "window", ro.window);
    cli_doc_num(d, "threshold", ro.threshold, 4);
    cli_doc_num(d, "holdout", ro.holdout, 3);
    cli_doc_str(d, "move_rule", ro.max_moves >= 0 || ro.max_bytes >= 0 ? "budget" : "knee");
    cli_doc_int(d, "steps", r->steps);
    cli_doc_int(d, "rebalances", r->nevents);
    cli_doc_int(d, "applied", r->applied);
    cli_doc_num(d, "moved_bytes", r->moved_bytes, 0);
    cli_doc_num(d, "transfer_ms", r->transfer_ms, 3);
    if (ro.shift_at >= 0) cli_doc_int(d, "shift_at", ro.shift_at);
    char verdict[512];
    cli_doc_str(d, "verdict", mp_rebalance_verdict_text(r, verdict, sizeof verdict));

    cli_tab *t = cli_doc_table(d, "regimes", "regimes (max/mean of GPU rows per step, mean over layers)");
    cli_tab_col(t, "regime", -1);
    const char *sn[5] = {"max_over_mean_mean", "max_over_mean_p50", "max_over_mean_p90", "max_over_mean_p99", "max_over_mean_max"};
    for (int i = 0; i < 5; i++) cli_tab_col(t, sn[i], 4);
    cli_tab_col(t, "run_max_over_mean", 4);
    cli_tab_col(t, "vllm_balancedness", 4);
    cli_tab_col(t, "step_us_mean", 1);
    cli_tab_col(t, "transfer_ms", 3);
    cli_tab_col(t, "total_ms", 3);
    cli_tab_col(t, "pre_shift_max_over_mean", 4);
    cli_tab_col(t, "recovery_steps", -1);
    for (int g = 0; g < MP_REGIMES; g++) {
        const mp_sim_result *s = r->regime[g];
        if (!s) continue;
        cli_tab_str(t, REG[g]);
        const mp_summary *x = &s->maxmean;
        cli_tab_num(t, x->mean);
        cli_tab_num(t, x->p50);
        cli_tab_num(t, x->p90);
        cli_tab_num(t, x->p99);
        cli_tab_num(t, x->max);
        cli_tab_num(t, s->run_maxmean);
        cli_tab_num(t, s->vllm_bal_run);
        cli_tab_num(t, s->time_us.mean);
        /* the online regime's transfers stall serving: in its total; the oracle's are not counted (a bound) */
        cli_tab_num(t, g == MP_REGIME_ONLINE ? r->transfer_ms : g == MP_REGIME_STATIC ? 0.0 : NAN);
        cli_tab_num(t, r->total_us[g] / 1e3);
        cli_tab_num(t, r->pre_shift[g]);
        if (ro.shift_at >= 0 && r->recovery_steps[g] >= 0)
            cli_tab_int(t, r->recovery_steps[g]);
        else
            cli_tab_str(t, ro.shift_at >= 0 ? "never" : "-");
    }
    t = cli_doc_table(d, "rebalances", "rebalances (predicted max/mean on the window's loads, even split; "
                                       "holdout_gain: a trial plan's on the window's last steps)");
    cli_tab_col(t, "step", -1);
    cli_tab_col(t, "old_max_over_mean", 4);
    cli_tab_col(t, "new_max_over_mean", 4);
    cli_tab_col(t, "gain", 4);
    cli_tab_col(t, "holdout_gain", 4);
    cli_tab_col(t, "applied", -1);
    cli_tab_col(t, "layers_moved", -1);
    cli_tab_col(t, "experts_moved", -1);
    cli_tab_col(t, "bytes", 0);
    cli_tab_col(t, "transfer_ms", 3);
    for (int64_t i = 0; i < r->nevents; i++) {
        const mp_rebalance_event *e = &r->events[i];
        cli_tab_int(t, e->step);
        cli_tab_num(t, e->old_pred);
        cli_tab_num(t, e->new_pred);
        cli_tab_num(t, e->new_pred > 0 ? e->old_pred / e->new_pred - 1 : NAN);
        cli_tab_num(t, e->holdout_gain);
        cli_tab_str(t, e->applied ? "yes" : "no");
        cli_tab_int(t, e->layers_moved);
        cli_tab_int(t, e->experts_moved);
        cli_tab_num(t, e->bytes);
        cli_tab_num(t, e->transfer_ms);
    }
    t = cli_doc_table(d, "over_time", "mean max/mean per step over time");
    cli_tab_col(t, "first_step", -1);
    cli_tab_col(t, "last_step", -1);
    for (int g = 0; g < MP_REGIMES; g++)
        if (r->regime[g]) cli_tab_col(t, REG[g], 4);
    for (int64_t b = 0; b < r->nbuckets; b++) {
        int64_t last = (b + 1) * r->bucket - 1;
        cli_tab_int(t, b * r->bucket);
        cli_tab_int(t, last < r->steps - 1 ? last : r->steps - 1);
        for (int g = 0; g < MP_REGIMES; g++)
            if (r->regime[g]) cli_tab_num(t, r->bucket_maxmean[b * MP_REGIMES + g]);
    }
    if (series) {
        t = cli_doc_table(d, "steps", "per step max/mean");
        cli_tab_col(t, "step", -1);
        for (int g = 0; g < MP_REGIMES; g++)
            if (r->regime[g]) cli_tab_col(t, REG[g], 4);
        for (int64_t s = 0; s < r->steps; s++) {
            cli_tab_int(t, r->regime[0]->series[s].step);
            for (int g = 0; g < MP_REGIMES; g++)
                if (r->regime[g]) cli_tab_num(t, r->regime[g]->series[s].maxmean);
        }
    }
    rc = cli_doc_emit(d, &c);
    cli_doc_destroy(d);
    if (!rc && c.format == CLI_FMT_TABLE) /* the verdict in full (the table above fits the terminal) */
        fputc('\n', stdout), cli_print_wrapped(stdout, "online rebalancing: ", verdict, cli_term_columns(c.wide));
    mp_rebalance_result_destroy(r);
    return rc;
}
