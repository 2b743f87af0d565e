/* cmd_sim.c - `moeplace sim`: replay a trace through a placement on the CPU. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/io_guard.h"
#include "cli/cmd_sim.h"
#include "cli/engine.h"
#include "cli/sim_e2e.h"
#include "planner/mp_planner.h"
#include "sim/mp_sim.h"
#include "sim/mp_simrun.h"
#include "sim/mp_sweep.h"

const char cmd_sim_usage[] =
    "usage: moeplace sim TRACE --strategy NAME --gpus P [plan options] [options]\n"
    "       moeplace sim TRACE --plan PLAN.json [options]\n"
    "       moeplace sim TRACE (--strategy NAME ... | --plan PLAN.json) --holdout F\n"
    "       moeplace sim TRACE --sweep-locality[=W,W,...] --gpus P --nodes N [plan options]\n"
    "\n"
    "Replays every token of a routing trace through a placement, choosing a replica\n"
    "for each token-expert assignment, and reports what each GPU receives per step and\n"
    "layer: rows, distinct tokens, active experts, NVLink and network bytes, balance\n"
    "metrics over steps (mean, p50, p90, p99, max) and the predicted step time of a\n"
    "cost model, with the speedup over vLLM's linear placement.  The cost flags\n"
    "override single figures of the cost model (--cost FILE or the defaults).\n";

/* ---------- shared flags ---------- */

void cli_sim_flags_read(cli_sim_flags *f, const cli_args *a)
{
    memset(f, 0, sizeof *f);
    f->strategy = cli_str(a, CLI_O_STRATEGY);
    f->replica = cli_str(a, CLI_O_REPLICA);
    f->cost_path = cli_str(a, CLI_O_COST);
    f->write_cost = cli_str(a, CLI_O_WRITE_COST);
    f->gpus = cli_int(a, CLI_O_GPUS, 0);
    f->nodes = cli_int(a, CLI_O_NODES, 1);
    f->spg = cli_int(a, CLI_O_SLOTS_PER_GPU, 0);
    f->redundant = cli_int(a, CLI_O_REDUNDANT, -1);
    f->groups = cli_int(a, CLI_O_GROUPS, 0);
    f->fusion = cli_int(a, CLI_O_SHARED_FUSION, 0);
    f->locality = cli_num(a, CLI_O_LOCALITY, 0);
    f->batch_tokens = cli_num(a, CLI_O_BATCH_TOKENS, 0);
    /* cost overrides: < 0 = not given (the table holds them to the cost file's ranges) */
    f->hbm = cli_num(a, CLI_O_HBM_GBPS, -1);
    f->peak = cli_num(a, CLI_O_PEAK_TFLOPS, -1);
    f->efixed = cli_num(a, CLI_O_EXPERT_FIXED_US, -1);
    f->wbytes = cli_num(a, CLI_O_WEIGHT_BYTES, -1);
    f->abytes = cli_num(a, CLI_O_ACT_BYTES, -1);
    f->nvlink = cli_num(a, CLI_O_NVLINK_GBPS, -1);
    f->net = cli_num(a, CLI_O_NET_GBPS, -1);
    f->disp = cli_num(a, CLI_O_DISPATCH_US, -1);
    f->comb = cli_num(a, CLI_O_COMBINE_US, -1);
    f->hidden = cli_i64(a, CLI_O_HIDDEN, -1);
    f->inter = cli_i64(a, CLI_O_INTERMEDIATE, -1);
}

int cli_sim_request(const cli_sim_flags *f, const char *cmd, const mp_model *m, mp_plan_request *q)
{
    memset(q, 0, sizeof *q);
    q->strategy = f->strategy;
    q->locality = f->locality;
    q->batch_tokens = f->batch_tokens;
    q->groups = f->groups;
    q->shared_fusion = f->fusion;
    q->top_k = m->top_k;
    if (f->gpus < 1) return cli_usage_error(cmd, "--gpus P is required");
    mp_topology_request t = {f->gpus, f->nodes, f->spg, f->redundant, f->fusion, 0};
    mp_err err = {0};
    if (mp_topology_resolve(&q->topo, &t, m->experts, &err)) return cli_topology_error(cmd, &err);
    return 0;
}

int cli_sim_cost(const cli_sim_flags *f, mp_cost *c)
{
    mp_err err = {0};
    *c = mp_cost_default();
    if (f->cost_path && mp_cost_read(c, f->cost_path, &err)) return cli_fail(&err);
    const double *v[] = {&f->hbm, &f->peak, &f->efixed, &f->wbytes, &f->abytes, &f->nvlink, &f->net, &f->disp, &f->comb};
    double *d[] = {&c->hbm_GBps,     &c->peak_tflops, &c->expert_fixed_us,   &c->weight_bytes,    &c->act_bytes,
                   &c->nvlink_GBps,  &c->net_GBps,    &c->dispatch_fixed_us, &c->combine_fixed_us};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        if (*v[i] >= 0) *d[i] = *v[i];
    if (f->hidden >= 0) c->hidden = f->hidden; /* 0: the model's */
    if (f->inter >= 0) c->intermediate = f->inter;
    if (mp_cost_validate(c, "cost model", &err)) return cli_fail(&err);
    if (f->write_cost && mp_cost_write(c, f->write_cost, &err)) return cli_fail(&err);
    return 0;
}

/* ---------- output ---------- */

static void summary_cols(cli_tab *t, const char *name, int dec)
{
    char b[64];
    const char *suf[5] = {"mean", "p50", "p90", "p99", "max"};
    for (int i = 0; i < 5; i++) {
        snprintf(b, sizeof b, "%s_%s", name, suf[i]);
        cli_tab_col(t, b, dec);
    }
}

static void summary_cells(cli_tab *t, const mp_summary *s)
{
    cli_tab_num(t, s->mean);
    cli_tab_num(t, s->p50);
    cli_tab_num(t, s->p90);
    cli_tab_num(t, s->p99);
    cli_tab_num(t, s->max);
}

/* The three engines' balance metrics of a run, in the table's order; the
 * engine's own (metric, when not NULL) goes first, after the replica. */
static const char *const BAL_NAMES[3] = {"vllm_balancedness", "sglang_balancedness", "trtllm_imbalance"};

static int bal_first(const char *metric)
{
    for (int j = 0; metric && j < 3; j++)
        if (!strcmp(metric, BAL_NAMES[j])) return j;
    return -1;
}

static double bal_value(const mp_sim_result *r, int j)
{
    return j == 0 ? r->vllm_bal_run : j == 1 ? r->sglang_bal.mean : r->trt_imb.mean;
}

static void emit_lanes(cli_doc *d, const mp_simrun_lane *ln, int n, int series, int traffic, const char *metric,
                       int held)
{
    int first = bal_first(metric);
    cli_tab *t = cli_doc_table(d, "runs", "runs (ratios: mean over layers per step, then over steps)");
    cli_tab_col(t, "plan", -1);
    cli_tab_col(t, "replica", -1);
    if (first >= 0) cli_tab_col(t, BAL_NAMES[first], 4);
    cli_tab_col(t, "plan_max_over_mean", 4);
    summary_cols(t, "max_over_mean", 4);
    cli_tab_col(t, "run_max_over_mean", 4);
    for (int j = 0; j < 3; j++)
        if (j != first) cli_tab_col(t, BAL_NAMES[j], 4);
    cli_tab_col(t, "idle_gpus", 2);
    cli_tab_col(t, "gap_lb_rep", 4);
    cli_tab_col(t, "tokens_max_over_mean", 4);
    cli_tab_col(t, "nvlink_bytes", 0);
    cli_tab_col(t, "network_bytes", 0);
    summary_cols(t, "step_us", 1);
    cli_tab_col(t, "speedup", 4);
    if (held) {
        cli_tab_col(t, "insample_max_over_mean", 4);
        cli_tab_col(t, "holdout_max_over_mean", 4);
        cli_tab_col(t, "insample_sim_max_over_mean", 4);
        cli_tab_col(t, "holdout_sim_max_over_mean", 4);
        cli_tab_col(t, "insample_step_us", 1);
        cli_tab_col(t, "holdout_step_us", 1);
    }
    for (int i = 0; i < n; i++) {
        const mp_sim_result *r = ln[i].res;
        cli_tab_str(t, ln[i].label);
        cli_tab_str(t, ln[i].pol->name);
        if (first >= 0) cli_tab_num(t, bal_value(r, first));
        cli_tab_num(t, ln[i].plan_maxmean);
        summary_cells(t, &r->maxmean);
        cli_tab_num(t, r->run_maxmean);
        for (int j = 0; j < 3; j++)
            if (j != first) cli_tab_num(t, bal_value(r, j));
        cli_tab_num(t, r->idle_gpus.mean);
        cli_tab_num(t, r->gap_rep.mean);
        cli_tab_num(t, r->tokens_maxmean.mean);
        cli_tab_num(t, r->total_nvl_bytes);
        cli_tab_num(t, r->total_net_bytes);
        summary_cells(t, &r->time_us);
        cli_tab_num(t, ln[i].speedup);
        if (held) {
            cli_tab_num(t, ln[i].plan_maxmean);
            cli_tab_num(t, ln[i].holdout_plan_maxmean);
            cli_tab_num(t, ln[i].insample_sim_maxmean);
            cli_tab_num(t, ln[i].holdout_sim_maxmean);
            cli_tab_num(t, ln[i].insample_step_us);
            cli_tab_num(t, ln[i].holdout_step_us);
        }
    }
    t = cli_doc_table(d, "layers", "per layer (means over steps)");
    cli_tab_col(t, "plan", -1);
    cli_tab_col(t, "replica", -1);
    cli_tab_col(t, "layer", -1);
    cli_tab_col(t, "max_over_mean", 4);
    cli_tab_col(t, "max_over_mean_worst", 4);
    cli_tab_col(t, "run_max_over_mean", 4);
    cli_tab_col(t, "sglang_balancedness", 4);
    cli_tab_col(t, "trtllm_imbalance", 4);
    cli_tab_col(t, "idle_gpus", 2);
    cli_tab_col(t, "gap_lb_rep", 4);
    cli_tab_col(t, "nvlink_bytes", 0);
    cli_tab_col(t, "network_bytes", 0);
    cli_tab_col(t, "layer_us", 2);
    for (int i = 0; i < n; i++)
        for (int32_t l = 0; l < ln[i].res->layers; l++) {
            const mp_sim_layerm *m = &ln[i].res->layer[l];
            cli_tab_str(t, ln[i].label);
            cli_tab_str(t, ln[i].pol->name);
            cli_tab_int(t, l);
            cli_tab_num(t, m->maxmean);
            cli_tab_num(t, m->maxmean_max);
            cli_tab_num(t, m->run_maxmean);
            cli_tab_num(t, m->sglang_bal);
            cli_tab_num(t, m->trt_imb);
            cli_tab_num(t, m->idle_gpus);
            cli_tab_num(t, m->gap_rep);
            cli_tab_num(t, m->nvl_bytes);
            cli_tab_num(t, m->net_bytes);
            cli_tab_num(t, m->time_us);
        }
    t = cli_doc_table(d, "gpus", "per GPU over the run");
    cli_tab_col(t, "plan", -1);
    cli_tab_col(t, "replica", -1);
    cli_tab_col(t, "gpu", -1);
    cli_tab_col(t, "node", -1);
    cli_tab_col(t, "rows", -1);
    cli_tab_col(t, "rows_over_mean", 4);
    for (int i = 0; i < n; i++) {
        const mp_sim_result *r = ln[i].res;
        double tot = 0;
        for (int32_t g = 0; g < r->gpus; g++) tot += (double)r->gpu_rows[g];
        for (int32_t g = 0; g < r->gpus; g++) {
            cli_tab_str(t, ln[i].label);
            cli_tab_str(t, ln[i].pol->name);
            cli_tab_int(t, g);
            cli_tab_int(t, g / (r->gpus / r->nodes));
            cli_tab_int(t, r->gpu_rows[g]);
            cli_tab_num(t, tot > 0 ? (double)r->gpu_rows[g] * r->gpus / tot : 0);
        }
    }
    t = cli_doc_table(d, "nodes", "distinct tokens received per node, summed over layers and steps");
    cli_tab_col(t, "plan", -1);
    cli_tab_col(t, "replica", -1);
    cli_tab_col(t, "node", -1);
    cli_tab_col(t, "tokens", -1);
    for (int i = 0; i < n; i++)
        for (int32_t nd = 0; nd < ln[i].res->nodes; nd++) {
            cli_tab_str(t, ln[i].label);
            cli_tab_str(t, ln[i].pol->name);
            cli_tab_int(t, nd);
            cli_tab_int(t, ln[i].res->node_tokens[nd]);
        }
    if (series) {
        t = cli_doc_table(d, "steps", "per step");
        const char *cols[] = {"max_over_mean", "vllm_balancedness", "sglang_balancedness", "trtllm_imbalance", "idle_gpus", "gap_lb_rep",
                              "tokens_max_over_mean", "active_max"};
        cli_tab_col(t, "plan", -1);
        cli_tab_col(t, "replica", -1);
        cli_tab_col(t, "step", -1);
        cli_tab_col(t, "tokens", -1);
        for (size_t c = 0; c < sizeof cols / sizeof cols[0]; c++) cli_tab_col(t, cols[c], 4);
        cli_tab_col(t, "nvlink_bytes", 0);
        cli_tab_col(t, "network_bytes", 0);
        cli_tab_col(t, "expert_us", 2);
        cli_tab_col(t, "comm_us", 2);
        cli_tab_col(t, "step_us", 2);
        for (int i = 0; i < n; i++)
            for (int64_t s = 0; s < ln[i].res->steps; s++) {
                const mp_sim_stepm *m = &ln[i].res->series[s];
                cli_tab_str(t, ln[i].label);
                cli_tab_str(t, ln[i].pol->name);
                cli_tab_int(t, m->step);
                cli_tab_int(t, m->tokens);
                double v[] = {m->maxmean, m->vllm_bal, m->sglang_bal, m->trt_imb, m->idle_gpus, m->gap_rep,
                              m->tokens_maxmean, m->active_max, m->nvl_bytes, m->net_bytes, m->expert_us,
                              m->comm_us, m->time_us};
                for (size_t c = 0; c < sizeof v / sizeof v[0]; c++) cli_tab_num(t, v[c]);
            }
    }
    if (traffic) {
        t = cli_doc_table(d, "traffic", "tokens sent from GPU to GPU (non-zero), over layers and steps");
        cli_tab_col(t, "plan", -1);
        cli_tab_col(t, "replica", -1);
        cli_tab_col(t, "src", -1);
        cli_tab_col(t, "dst", -1);
        cli_tab_col(t, "tokens", -1);
        for (int i = 0; i < n; i++) {
            const mp_sim_result *r = ln[i].res;
            if (!r->traffic) continue;
            for (int32_t a = 0; a < r->gpus; a++)
                for (int32_t b = 0; b < r->gpus; b++) {
                    int64_t v = r->traffic[(int64_t)a * r->gpus + b];
                    if (!v) continue;
                    cli_tab_str(t, ln[i].label);
                    cli_tab_str(t, ln[i].pol->name);
                    cli_tab_int(t, a);
                    cli_tab_int(t, b);
                    cli_tab_int(t, v);
                }
        }
    }
}

static int parse_list(const char *cmd, const char *arg, double *v, int max)
{
    int n = 0;
    const char *p = arg;
    while (*p) {
        char buf[64];
        size_t len = strcspn(p, ",");
        if (len == 0 || len >= sizeof buf || n == max)
            return cli_usage_error(cmd, "--sweep-locality wants up to %d values in [0, 1], like 0,0.5,1", max), -1;
        memcpy(buf, p, len);
        buf[len] = 0;
        if (cli_parse_double(cmd, "--sweep-locality", buf, 0, 1, &v[n])) return -1;
        n++;
        p += len;
        if (*p == ',') p++;
    }
    if (n == 0) return cli_usage_error(cmd, "--sweep-locality wants at least one value"), -1;
    return n;
}

static int emit_sweep(const cli_common *c, const char *path, const mp_model *m, const mp_sweep_result *r,
                      const mp_plan_request *q, const mp_policy *pol)
{
    int rc;
    cli_doc *d = cli_doc_create("moeplace.sim.sweep");
    cli_doc_str(d, "trace", path);
    cli_doc_str(d, "model", m->name[0] ? m->name : "-");
    cli_doc_int(d, "gpus", q->topo.gpus);
    cli_doc_int(d, "nodes", q->topo.nodes);
    cli_doc_int(d, "slots_per_gpu", q->topo.slots_per_gpu);
    cli_doc_str(d, "replica", pol->name);
    cli_doc_str(d, "eplb_dominated", r->eplb_dominated ? "yes" : "no");
    cli_tab *t = cli_doc_table(d, "points", "plans (pareto: no other point has lower max/mean and network bytes)");
    cli_tab_col(t, "plan", -1);
    cli_tab_col(t, "locality", 2);
    cli_tab_col(t, "plan_max_over_mean", 4);
    cli_tab_col(t, "sim_max_over_mean", 4);
    cli_tab_col(t, "step_max_over_mean", 4);
    cli_tab_col(t, "network_bytes", 0);
    cli_tab_col(t, "nvlink_bytes", 0);
    cli_tab_col(t, "time_us", 1);
    cli_tab_col(t, "speedup", 4);
    cli_tab_col(t, "pareto", -1);
    cli_tab_col(t, "dominated_by_balanced", -1);
    for (int i = 0; i < r->n; i++) {
        const mp_sweep_point *p = &r->pt[i];
        cli_tab_str(t, p->label);
        cli_tab_num(t, p->locality >= 0 ? p->locality : NAN);
        cli_tab_num(t, p->plan_maxmean);
        cli_tab_num(t, p->maxmean);
        cli_tab_num(t, p->step_maxmean);
        cli_tab_num(t, p->net_bytes);
        cli_tab_num(t, p->nvl_bytes);
        cli_tab_num(t, p->time_us);
        cli_tab_num(t, p->speedup > 0 ? p->speedup : NAN);
        cli_tab_str(t, p->pareto ? "yes" : "no");
        cli_tab_str(t, p->is_eplb ? (p->dominated ? "yes" : "no") : "-");
    }
    rc = cli_doc_emit(d, c);
    cli_doc_destroy(d);
    return rc;
}

int cmd_sim(int argc, char **argv)
{
    cli_common c;
    cli_args A;
    int prc = cli_args_parse(&A, &c, "sim", argc, argv);
    if (prc) return prc;
    cli_sim_flags f;
    cli_sim_flags_read(&f, &A);
    int series = cli_has(&A, CLI_O_SERIES) > 0, traffic = cli_has(&A, CLI_O_TRAFFIC) > 0;
    int nobase = cli_has(&A, CLI_O_NO_BASELINE) > 0, nloc = 0;
    cli_e2e e2e;
    cli_e2e_read(&e2e, &A);
    double loc[CLI_SWEEP_POINTS_MAX];
    int64_t pb = 0, pe = -1;
    cli_range(&A, CLI_O_PLAN_STEPS, &pb, &pe);
    const char *plan_path = cli_str(&A, CLI_O_PLAN);
    double holdout = cli_num(&A, CLI_O_HOLDOUT, 0);
    int by_rank = cli_enum(&A, CLI_O_HOLDOUT_BY, 0) == 1;
    if (cli_has(&A, CLI_O_SWEEP_LOCALITY)) {
        const char *list = cli_str(&A, CLI_O_SWEEP_LOCALITY);
        if (list) {
            if ((nloc = parse_list("sim", list, loc, CLI_SWEEP_POINTS_MAX)) < 0) return CLI_EUSAGE;
        } else {
            const double def[7] = {0, 0.5, 0.8, 0.9, 0.95, 0.99, 1};
            memcpy(loc, def, sizeof def);
            nloc = 7;
        }
    }
    if (c.help) return cli_help(stdout, "sim");
    if (A.first + 1 != argc) return cli_usage_error("sim", "wants exactly one TRACE");
    if (!nloc && !f.strategy && !plan_path)
        return cli_usage_error("sim", "give --strategy NAME, --plan FILE or --sweep-locality");
    if (plan_path && (f.strategy || nloc))
        return cli_usage_error("sim", "--plan replays a plan file: no --strategy or --sweep-locality with it");
    if (plan_path && (f.gpus || f.spg || f.redundant >= 0 || f.fusion || f.groups))
        return cli_usage_error("sim", "--plan brings its own topology: no --gpus, --slots-per-gpu, --redundant, "
                                      "--groups or --shared-fusion with it");
    if (e2e.on && nloc) return cli_usage_error("sim", "--e2e states each run's whole step: not with --sweep-locality");
    if (!e2e.on && (cli_has(&A, CLI_O_E2E_PHASE) || cli_has(&A, CLI_O_KV_BYTES) || cli_has(&A, CLI_O_NO_LM_HEAD)))
        return cli_usage_error("sim", "--phase, --kv-bytes and --no-lm-head shape --e2e: give --e2e");
    if (cli_has(&A, CLI_O_HOLDOUT_BY) && !(holdout > 0))
        return cli_usage_error("sim", "--holdout-by says what --holdout F holds out: give --holdout F");
    if (holdout > 0 && (nloc || cli_has(&A, CLI_O_PLAN_STEPS)))
        return cli_usage_error("sim", "--holdout splits the whole trace itself: no --plan-steps or --sweep-locality with it");
    const char *rep = cli_engine_replica(&A);
    if (cli_replica_check("sim", rep, NULL, "all")) return CLI_EUSAGE;
    const cli_engine *eng = cli_engine_of(&A);
    int all = !strcmp(rep, "all");
    const mp_policy *pol = all ? NULL : mp_policy_find(rep);
    if (all && nloc) return cli_usage_error("sim", "--sweep-locality takes one --replica policy, not all");
    if (f.strategy && !mp_strategy_find(f.strategy))
        return cli_usage_error("sim", "unknown strategy '%s'", f.strategy);
    {
        cli_io_guard g;
        cli_io_guard_init(&g, "sim");
        cli_io_guard_add_input(&g, argv[A.first]);
        cli_io_guard_add_input(&g, plan_path);
        cli_io_guard_add_input(&g, f.cost_path);
        cli_io_guard_add_output(&g, c.output);
        cli_io_guard_add_output(&g, f.write_cost);
        int grc = cli_io_guard_check(&g);
        if (grc) return grc;
    }
    mp_simrun_opts so = mp_simrun_opts_default();
    int rc = cli_sim_cost(&f, &so.sim.cost);
    if (rc) return rc;
    so.sim.seed = c.seed;
    so.sim.threads = c.threads;
    so.sim.keep_series = series || e2e.on; /* --e2e sums each step's own tokens */
    so.policy = pol;
    so.baseline = !nobase;
    so.plan_begin = pb;
    so.plan_end = pe;
    so.sweep = loc;
    so.nsweep = nloc;
    so.holdout = holdout;
    so.holdout_by_rank = by_rank;

    const char *path = argv[A.first];
    mp_err err = {0};
    mp_read_opts ro = cli_read_opts(&c);
    mp_trace_source *ts = NULL;
    mp_plan *plan = NULL;
    mp_simrun *run = NULL;
    if ((rc = mp_trace_source_open(&ts, path, &ro, &err))) return cli_fail(&err);
    /* a rule that reads the ids in gate-weight order (the baseline's too) needs the weights */
    if ((!pol || pol->gate_order || !nobase) && mp_trace_source_keep_weights(ts, &err)) {
        rc = cli_fail(&err);
        goto out;
    }
    mp_model m = *mp_trace_model(ts->trace);
    mp_plan_request *q = &so.request;
    if ((rc = cli_need_sizes("sim", path, &m, so.sim.cost.hidden, so.sim.cost.intermediate, 1))) goto out;
    if ((rc = cli_e2e_check(&e2e, &m, path))) goto out;
    if (plan_path) {
        if (mp_plan_read_json(&plan, NULL, plan_path, &err)) {
            rc = cli_fail(&err);
            goto out;
        }
        if (plan->layers != m.layers || plan->routed != m.experts) {
            cli_message("moeplace: %s: a plan for %d layers x %d experts, but %s has %d x %d", plan_path,
                    (int)plan->layers, (int)plan->routed, path, (int)m.layers, (int)m.experts);
            rc = CLI_EDATA;
            goto out;
        }
        q->topo = plan->topo;
        q->top_k = m.top_k;
    } else if ((rc = cli_sim_request(&f, "sim", &m, q))) {
        goto out;
    }
    {
        cli_progress pr;
        cli_progress_init(&pr, &c, nloc ? "sweep" : "sim");
        cli_progress_trace(&pr, NULL, ts->trace);
        rc = mp_sim_evaluate(&run, ts, plan, &so, cli_progress_update, &pr, &err);
        plan = NULL; /* the run took it over */
        cli_progress_done(&pr);
        if (rc) {
            if (holdout > 0 && rc == MP_EINVAL) {
                cli_message("moeplace: %s: %s", path, err.msg);
                rc = CLI_EDATA;
            } else {
                rc = cli_fail(&err);
            }
            goto out;
        }
    }
    if (nloc) {
        rc = emit_sweep(&c, path, &m, run->sweep, q, so.policy ? so.policy : mp_policy_default());
        goto out;
    }
    const mp_plan *pl = run->placed->plan;
    const mp_simrun_lane *ln = run->lane;
    cli_doc *d = cli_doc_create("moeplace.sim");
    cli_doc_str(d, "trace", path);
    cli_doc_str(d, "model", m.name[0] ? m.name : "-");
    cli_doc_str(d, "strategy", pl->strategy);
    cli_doc_int(d, "gpus", q->topo.gpus);
    cli_doc_int(d, "nodes", q->topo.nodes);
    cli_doc_int(d, "slots_per_gpu", q->topo.slots_per_gpu);
    cli_doc_str(d, "shared_expert", pl->shared_id >= 0 ? "fused" : m.shared > 0 ? "on source GPU" : "none");
    cli_doc_int(d, "steps", ln[0].res->steps);
    cli_doc_int(d, "tokens", ln[0].res->tokens);
    cli_doc_int(d, "assignments", ln[0].res->assignments);
    cli_doc_str(d, "cost_model", so.sim.cost.name);
    cli_doc_str(d, "baseline", run->baseline >= 0 ? "linear" : "none");
    if (eng) cli_doc_str(d, "engine", eng->name);
    if (run->held) {
        cli_doc_num(d, "holdout", run->holdout, 3);
        cli_doc_str(d, "holdout_plan", plan_path ? "given: judged on both parts, not made from the training part"
                                        : run->by_rank ? "made from the training ranks' tokens"
                                                       : "made from the training steps");
        cli_doc_str(d, "holdout_by", run->by_rank ? "rank" : "time");
        if (run->by_rank) {
            cli_doc_int(d, "train_ranks", run->train_ranks);
            cli_doc_int(d, "holdout_ranks", run->holdout_ranks);
        } else {
            cli_doc_int(d, "train_steps", run->train_steps);
            cli_doc_int(d, "holdout_steps", run->holdout_steps);
        }
        cli_doc_num(d, "holdout_oracle_max_over_mean", run->oracle_maxmean, 5);
    }
    emit_lanes(d, ln, run->n, series, traffic, eng ? eng->metric : NULL, run->held != NULL);
    cli_e2e_emit(d, &e2e, run, &m, &so.sim.cost);
    rc = cli_doc_emit(d, &c);
    cli_doc_destroy(d);
out:
    mp_simrun_destroy(run);
    mp_plan_destroy(plan);
    mp_trace_source_close(ts);
    return rc;
}
