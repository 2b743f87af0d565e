/* cmd_rebalance.c - `moeplace rebalance`: online EPLB over time. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/io_guard.h"
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
    "\n"
    "  --interval I        steps between rebalances (default 3000, vLLM; SGLang 1000)\n"
    "  --window W          steps of loads each re-plan sees (default 1000)\n"
    "  --strategy NAME     eplb (default) or balanced (any planner strategy works)\n"
    "  --threshold X       skip a rebalance whose predicted gain (old/new max/mean - 1)\n"
    "                      is below X (default 0)\n"
    "  --bandwidth-gbps X  per-GPU bandwidth for moving expert weights (default 50)\n"
    "  --migration-aware   relabel GPUs and slots (moeplace plan --from) to move fewer experts\n"
    "  --no-oracle         skip the oracle regime\n"
    "  --oracle-every N    the oracle re-plans every N steps (default 1)\n"
    "  --bucket B          steps per row of the over-time table (default: the interval)\n"
    "  --shift-at S        step of a known popularity shift: report recovery times\n"
    "  --replica NAME      replica selection (default modulo; see moeplace sim)\n"
    "  --series            add per-step max/mean of the three regimes\n" CLI_SIM_FLAGS_HELP
    "  --input-format FMT  input format\n"
    "  --seed N, -j N, --format F, -o OUT, -q  as everywhere\n";

typedef struct replan_ctx {
    mp_plan_request q;
} replan_ctx;

static int replan_cb(void *ctx, const mp_loads *loads, mp_plan **out, mp_err *err)
{
    const replan_ctx *r = ctx;
    return mp_planner_run(out, loads, &r->q, err);
}

static const char *REG[MP_REGIMES] = {"static", "online", "oracle"};

int cmd_rebalance(int argc, char **argv)
{
    enum { OPT_INT = CLI_OPT_OWN, OPT_WIN, OPT_THR, OPT_BW, OPT_MIG, OPT_NOOR, OPT_OREV, OPT_BUCKET, OPT_SHIFT, OPT_SERIES };
    static const struct option opts[] = {CLI_COMMON_LONG,
                                         CLI_SIM_LONG,
                                         {"interval", required_argument, NULL, OPT_INT},
                                         {"window", required_argument, NULL, OPT_WIN},
                                         {"threshold", required_argument, NULL, OPT_THR},
                                         {"bandwidth-gbps", required_argument, NULL, OPT_BW},
                                         {"migration-aware", no_argument, NULL, OPT_MIG},
                                         {"no-oracle", no_argument, NULL, OPT_NOOR},
                                         {"oracle-every", required_argument, NULL, OPT_OREV},
                                         {"bucket", required_argument, NULL, OPT_BUCKET},
                                         {"shift-at", required_argument, NULL, OPT_SHIFT},
                                         {"series", no_argument, NULL, OPT_SERIES},
                                         {NULL, 0, NULL, 0}};
    cli_common c;
    cli_common_init(&c, "rebalance");
    cli_sim_flags f;
    cli_sim_flags_init(&f);
    mp_rebalance_opts ro = mp_rebalance_opts_default();
    int series = 0, o;
    optind = 1;
    while ((o = getopt_long(argc, argv, CLI_COMMON_SHORT, opts, NULL)) != -1) {
        int h = cli_common_option(&c, o, optarg);
        if (h < 0) return -h;
        if (h) continue;
        h = cli_sim_option(&f, "rebalance", o, optarg);
        if (h < 0) return -h;
        if (h) continue;
        int bad = 0;
        switch (o) {
        case OPT_INT: bad = cli_parse_i64("rebalance", "--interval", optarg, 1, INT64_MAX / 4, &ro.interval); break;
        case OPT_WIN: bad = cli_parse_i64("rebalance", "--window", optarg, 1, 1 << 24, &ro.window); break;
        case OPT_THR: bad = cli_parse_double("rebalance", "--threshold", optarg, 0, 1e6, &ro.threshold); break;
        case OPT_BW: bad = cli_parse_double("rebalance", "--bandwidth-gbps", optarg, 1e-6, 1e9, &ro.bandwidth_GBps); break;
        case OPT_MIG: ro.relabel = 1; break;
        case OPT_NOOR: ro.oracle = 0; break;
        case OPT_OREV: bad = cli_parse_i64("rebalance", "--oracle-every", optarg, 1, INT64_MAX / 4, &ro.oracle_every); break;
        case OPT_BUCKET: bad = cli_parse_i64("rebalance", "--bucket", optarg, 1, INT64_MAX / 4, &ro.bucket); break;
        case OPT_SHIFT: bad = cli_parse_i64("rebalance", "--shift-at", optarg, 0, INT64_MAX / 4, &ro.shift_at); break;
        case OPT_SERIES: series = 1; break;
        default: return cli_usage_error("rebalance", "unexpected option");
        }
        if (bad) return CLI_EUSAGE;
    }
    if (c.help) {
        fputs(cmd_rebalance_usage, stdout);
        return CLI_OK;
    }
    if (optind + 1 != argc) return cli_usage_error("rebalance", "wants exactly one TRACE");
    if (!f.strategy) f.strategy = "eplb";
    if (!mp_strategy_find(f.strategy)) return cli_usage_error("rebalance", "unknown strategy '%s'", f.strategy);
    const char *rep = f.replica ? f.replica : "modulo";
    ro.sim.policy = mp_policy_find(rep);
    if (!ro.sim.policy)
        return cli_usage_error("rebalance", "--replica wants modulo, random, static, local or least-loaded, not '%s'", rep);
    {
        cli_io_guard g;
        cli_io_guard_init(&g, "rebalance");
        cli_io_guard_add_input(&g, argv[optind]);
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

    const char *path = argv[optind];
    mp_err err = {0};
    mp_read_opts rdo = cli_read_opts(&c);
    mp_trace_source *ts = NULL;
    if (mp_trace_source_open(&ts, path, &rdo, &err)) return cli_fail(&err);
    mp_model m = *mp_trace_model(ts->trace);
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
    cli_doc_int(d, "steps", r->steps);
    cli_doc_int(d, "rebalances", r->nevents);
    cli_doc_int(d, "applied", r->applied);
    cli_doc_num(d, "moved_bytes", r->moved_bytes, 0);
    cli_doc_num(d, "transfer_ms", r->transfer_ms, 3);
    if (ro.shift_at >= 0) cli_doc_int(d, "shift_at", ro.shift_at);

    cli_tab *t = cli_doc_table(d, "regimes", "regimes (max/mean of GPU rows per step, mean over layers)");
    cli_tab_col(t, "regime", -1);
    const char *sn[5] = {"max_over_mean_mean", "max_over_mean_p50", "max_over_mean_p90", "max_over_mean_p99", "max_over_mean_max"};
    for (int i = 0; i < 5; i++) cli_tab_col(t, sn[i], 4);
    cli_tab_col(t, "run_max_over_mean", 4);
    cli_tab_col(t, "vllm_balancedness", 4);
    cli_tab_col(t, "step_us_mean", 1);
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
        cli_tab_num(t, s->total_time_us / 1e3);
        cli_tab_num(t, r->pre_shift[g]);
        if (ro.shift_at >= 0 && r->recovery_steps[g] >= 0)
            cli_tab_int(t, r->recovery_steps[g]);
        else
            cli_tab_str(t, ro.shift_at >= 0 ? "never" : "-");
    }
    t = cli_doc_table(d, "rebalances", "rebalances (predicted max/mean on the window's loads, even split)");
    cli_tab_col(t, "step", -1);
    cli_tab_col(t, "old_max_over_mean", 4);
    cli_tab_col(t, "new_max_over_mean", 4);
    cli_tab_col(t, "gain", 4);
    cli_tab_col(t, "applied", -1);
    cli_tab_col(t, "experts_moved", -1);
    cli_tab_col(t, "bytes", 0);
    cli_tab_col(t, "transfer_ms", 3);
    for (int64_t i = 0; i < r->nevents; i++) {
        const mp_rebalance_event *e = &r->events[i];
        cli_tab_int(t, e->step);
        cli_tab_num(t, e->old_pred);
        cli_tab_num(t, e->new_pred);
        cli_tab_num(t, e->new_pred > 0 ? e->old_pred / e->new_pred - 1 : NAN);
        cli_tab_str(t, e->applied ? "yes" : "no");
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
    mp_rebalance_result_destroy(r);
    return rc;
}
