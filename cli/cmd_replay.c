/* cmd_replay.c - `moeplace replay TRACE --plan PLAN` and `moeplace replay
 * --calibrate -o COST.json`: flags and printing; the work is in kernels/. */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/engine.h"
#include "cli/io_guard.h"
#include "cli/kernels.h"
#include "cli/replay_nccl.h"
#include "kernels/mp_kernels.h"
#include "kernels/mp_replay.h"
#include "planner/mp_planner.h"
#include "sim/mp_cost.h"
#include "sim/mp_sim.h"

const char cmd_replay_usage[] =
    "usage: moeplace replay TRACE --plan PLAN.json|linear [options]\n"
    "       moeplace replay --calibrate -o COST.json [options]\n"
    "       moeplace replay TRACE --plan PLAN --nproc N [options]   (one GPU a rank, NCCL)\n"
    "\n"
    "Runs the first tokens of a trace through real CUDA kernels on one GPU under\n"
    "a placement: layout (replica selection, rows), permute, each emulated rank's\n"
    "expert GEMMs (cuBLAS) in turn, combine.  Step time = layout + (permute +\n"
    "combine) / ranks + the slowest rank's expert time (links not included).\n"
    "--nproc N runs N ranks, one GPU each, moving tokens over NCCL: all-gather of\n"
    "counts, all-to-all-v dispatch, local experts, combine back; per-phase times\n"
    "(max and mean over ranks), algbw/busbw, pairs.  --cost FILE (with --nproc or\n"
    "--mpi) is the cost model sim's prediction starts from; the measured link\n"
    "replaces its link.\n";

/* the replica rules the kernels implement (mp_kx_shape.selection) */
enum { REPLAY_SEL_NONE = 0, REPLAY_SEL_MODULO = 1, REPLAY_SEL_RANDOM = 2 };

typedef struct replay_args {
    const char *trace, *plan, *json, *link_cost, *cost;
    int nproc, mpi, padded, emulate;
    int64_t tmin, tmax;
    double factor;
    int iters, warmup, check, graph, ranks, dtype, selection, calibrate;
    int64_t layer_begin, layer_end;
    int64_t hidden, inter;
} replay_args;

static int emit_json_copy(const cli_doc *d, const char *path)
{
    cli_common j;
    cli_common_init(&j, "replay");
    j.output = path;
    j.format = CLI_FMT_JSON;
    return cli_doc_emit(d, &j);
}

static int run_calibrate(const replay_args *a, const cli_common *c)
{
    mp_err err = {0};
    char dev[256];
    const mp_kernels_api *K = cli_kernels_load("replay", 1, dev, sizeof dev);
    if (!K) return CLI_EDATA;
    const int32_t E = 256, R = a->ranks;
    if (E % R) return cli_usage_error("replay", "--ranks must divide 256 experts");
    mp_kx_shape sh = {.hidden = (int32_t)a->hidden, .intermediate = (int32_t)a->inter, .top_k = 8, .experts = E,
                      .slots = E, .ranks = R, .max_replicas = 1, .max_tokens = 8192, .dtype = MP_KX_BF16,
                      .selection = MP_KX_SEL_NONE, .seed = c->seed, .with_experts = 1, .use_graph = a->graph};
    mp_kx *kx;
    if (K->kx_create(&kx, &sh, &err)) return cli_fail(&err);
    int32_t *l2p = malloc(sizeof *l2p * E), *rc = malloc(sizeof *rc * E);
    for (int32_t e = 0; e < E && l2p && rc; e++) l2p[e] = e, rc[e] = 1;
    mp_kx_calibration cal;
    int st = !l2p || !rc ? mp_err_set(&err, MP_ENOMEM, "replay: out of memory") : K->kx_set_plan(kx, l2p, rc, &err);
    if (!st) st = K->kx_calibrate(kx, NULL, a->iters, &cal, &err);
    K->kx_destroy(kx);
    free(l2p);
    free(rc);
    if (st) return cli_fail(&err);
    /* the cost model: per-expert time at the largest active count measured */
    mp_cost cost = mp_cost_default();
    snprintf(cost.name, sizeof cost.name, "replay-calibrated");
    cost.hidden = a->hidden;
    cost.intermediate = a->inter;
    cost.hbm_GBps = cal.copy_gbps;
    int32_t amax = 0;
    double peak = 0;
    for (int i = 0; i < cal.npoints; i++) {
        const mp_kx_calib_point *p = &cal.points[i];
        if (p->active > amax) amax = p->active;
        double tf = 6.0 * (double)a->hidden * a->inter * p->rows_per_expert * p->active / (p->us * 1e6);
        if (tf > peak) peak = tf;
    }
    cost.peak_tflops = peak;
    cost.expert_fixed_us = 0;
    cost.table_len = 0;
    for (int i = 0; i < cal.npoints && cost.table_len < MP_COST_TABLE_MAX; i++)
        if (cal.points[i].active == amax) {
            cost.table[cost.table_len].rows = cal.points[i].rows_per_expert;
            cost.table[cost.table_len].us = cal.points[i].us / amax;
            cost.table_len++;
        }
    if (!c->output) return cli_usage_error("replay", "--calibrate writes a cost model: give -o COST.json");
    if (mp_cost_write(&cost, c->output, &err)) return cli_fail(&err);
    if (c->quiet) return CLI_OK;
    cli_doc *d = cli_doc_create("moeplace.replay.calibration");
    cli_doc_str(d, "device", dev);
    cli_doc_str(d, "cost_model", c->output);
    cli_doc_num(d, "copy_GBps", cal.copy_gbps, 1);
    cli_doc_num(d, "permute_GBps", cal.permute_gbps, 1);
    cli_doc_num(d, "combine_GBps", cal.combine_gbps, 1);
    cli_doc_num(d, "layout_us", cal.layout_us, 1);
    cli_doc_num(d, "peak_TFLOPs", peak, 1);
    cli_tab *t = cli_doc_table(d, "experts", "expert time of one rank");
    cli_tab_col(t, "active", -1);
    cli_tab_col(t, "rows_per_expert", -1);
    cli_tab_col(t, "us", 1);
    cli_tab_col(t, "us_per_expert", 1);
    cli_tab_col(t, "TFLOPs", 1);
    for (int i = 0; i < cal.npoints; i++) {
        const mp_kx_calib_point *p = &cal.points[i];
        cli_tab_int(t, p->active);
        cli_tab_int(t, p->rows_per_expert);
        cli_tab_num(t, p->us);
        cli_tab_num(t, p->us / p->active);
        cli_tab_num(t, 6.0 * (double)a->hidden * a->inter * p->rows_per_expert * p->active / (p->us * 1e6));
    }
    cli_common so = *c;
    so.output = NULL;
    int rcode = cli_doc_emit(d, &so);
    cli_doc_destroy(d);
    return rcode;
}

/* One layout at one token count and layer: a row of the table. */
static int replay_point(const mp_kernels_api *K, mp_kx *kx, const mp_replay_routing *rt, const mp_plan *plan, int32_t layer, int64_t T,
                        const replay_args *a, double copy_gbps, double linear_step, cli_tab *tab, double *step_out,
                        mp_err *err)
{
    mp_kx_config cf;
    K->kx_config_get(kx, &cf);
    int32_t kk = cf.top_k;
    uint16_t *ids = malloc(sizeof *ids * (size_t)(T * kk));
    float *w = malloc(sizeof *w * (size_t)(T * kk));
    if (!ids || !w) {
        free(ids), free(w);
        return mp_err_set(err, MP_ENOMEM, "replay: out of memory");
    }
    mp_replay_layer(rt, layer, T, plan->shared_id, ids, w);
    int rc = K->kx_set_plan_ex(kx, mp_plan_replicas(plan, layer, 0),
                               plan->replica_count + (int64_t)layer * plan->experts, plan->experts,
                               plan->max_replicas, plan->slots, err);
    if (!rc) rc = K->kx_set_routing(kx, T, ids, w, err);
    int64_t wrong = -1;
    /* the CPU reference holds three copies of the rows on the host: only up
     * to 2^31 values (T = 37449 at H = 7168, K = 8); beyond, wrong is "-" */
    if (!rc && a->check && (double)T * kk * cf.hidden <= CLI_REPLAY_CHECK_VALUES_MAX)
        rc = K->kx_check(kx, ids, w, 4, &wrong, err);
    mp_kx_step s;
    if (!rc) rc = K->kx_measure_step(kx, a->iters, a->warmup, 1, &s, err);
    free(ids), free(w);
    if (rc) return rc;
    int32_t active_max = 0;
    for (int32_t r = 0; r < cf.ranks; r++)
        if (s.active[r] > active_max) active_max = s.active[r];
    double bytes = (double)T * cf.hidden * 2.0 * (1 + kk);
    double even = s.layout_us + (s.permute_us + s.combine_us) / cf.ranks + s.expert_mean_us;
    cli_tab_int(tab, layer);
    cli_tab_int(tab, T);
    cli_tab_str(tab, plan->strategy[0] ? plan->strategy : "plan");
    cli_tab_int(tab, s.rows_max);
    cli_tab_num(tab, s.rows_mean);
    cli_tab_int(tab, active_max);
    cli_tab_num(tab, s.layout_us);
    cli_tab_num(tab, s.permute_us);
    cli_tab_num(tab, s.expert_max_us);
    cli_tab_num(tab, s.combine_us);
    cli_tab_num(tab, s.step_us);
    cli_tab_num(tab, bytes / s.permute_us / 1e3);
    cli_tab_num(tab, 100.0 * bytes / s.permute_us / 1e3 / copy_gbps);
    cli_tab_num(tab, s.gemm_tflops);
    if (linear_step > 0) cli_tab_num(tab, s.step_us / linear_step);
    else if (linear_step < 0) cli_tab_num(tab, 1.0); /* this is the linear layout */
    else cli_tab_str(tab, "-");
    cli_tab_num(tab, s.step_us / even);
    if (wrong >= 0) cli_tab_int(tab, wrong);
    else cli_tab_str(tab, "-");
    *step_out = s.step_us;
    return 0;
}

static int run_replay(const replay_args *a, const cli_common *c)
{
    mp_err err = {0};
    char dev[256];
    const mp_kernels_api *K = cli_kernels_load("replay", 1, dev, sizeof dev);
    if (!K) return CLI_EDATA;
    mp_read_opts ro = cli_read_opts(c);
    mp_replay_routing *rt = NULL;
    mp_plan *plan = NULL, *lin = NULL;
    mp_kx *kx = NULL;
    cli_doc *d = NULL;
    int code = CLI_EDATA;
    int64_t want = a->tmax > 0 ? a->tmax : CLI_REPLAY_TOKENS_MAX;
    if (mp_replay_routing_read(&rt, a->trace, &ro, want, &err)) goto fail;
    const mp_model *m = &rt->model;
    if (!strcmp(a->plan, "linear")) {
        if (mp_plan_linear_baseline(&plan, m, a->ranks, 1, &err)) goto fail;
    } else {
        if (mp_plan_read_json(&plan, NULL, a->plan, &err)) goto fail;
        if (plan->layers != rt->layers || plan->routed != m->experts) {
            mp_err_set(&err, MP_ESHAPE, "%s: plan has %d layers and %d routed experts, trace %d and %lld", a->plan,
                       plan->layers, plan->routed, rt->layers, (long long)m->experts);
            goto fail;
        }
        /* the linear baseline, unless the plan fuses a shared expert (a
         * different number of choices per token) */
        if (plan->shared_id < 0 && m->experts % plan->topo.gpus == 0 &&
            mp_plan_linear_baseline(&lin, m, plan->topo.gpus, 1, &err))
            goto fail;
    }
    if (a->layer_begin >= rt->layers || (a->layer_end > 0 && a->layer_end > rt->layers)) {
        code = cli_usage_error("replay", "--layers outside the trace's %d layers", rt->layers);
        goto out;
    }
    int64_t lend = a->layer_end < 0 ? rt->layers : a->layer_end;
    int64_t tmax = a->tmax > 0 ? a->tmax : rt->tokens;
    if (tmax > rt->tokens) tmax = rt->tokens;
    int64_t tmin = a->tmin > 0 ? a->tmin : tmax;
    if (tmin > tmax) tmin = tmax;
    int64_t H = m->hidden > 0 ? m->hidden : a->hidden, I = m->intermediate > 0 ? m->intermediate : a->inter;
    if (m->hidden <= 0 || m->intermediate <= 0)
        cli_message("moeplace replay: %s has no model shape: assuming hidden %lld and intermediate %lld (--hidden and "
                    "--intermediate; give --model for the model's own)",
                    a->trace, (long long)H, (long long)I);
    int32_t kk = rt->top_k + (plan->shared_id >= 0);
    mp_kx_shape sh = {.hidden = (int32_t)H, .intermediate = (int32_t)I, .top_k = kk, .experts = plan->experts,
                      .slots = plan->slots, .ranks = plan->topo.gpus,
                      .max_replicas = plan->max_replicas > 1 ? plan->max_replicas : 1, .max_tokens = tmax,
                      .dtype = a->dtype, .selection = a->selection, .seed = c->seed, .with_experts = 1,
                      .use_graph = a->graph};
    if (lin && lin->slots > sh.slots) sh.slots = lin->slots; /* weights for the larger of the two */
    if (K->kx_create(&kx, &sh, &err)) goto fail;
    double copy_gbps = 0;
    if (K->kx_copy_bandwidth((size_t)1 << 30, 20, &copy_gbps, &err)) goto fail;

    d = cli_doc_create("moeplace.replay");
    cli_doc_str(d, "device", dev);
    cli_doc_str(d, "trace", a->trace);
    cli_doc_str(d, "plan", a->plan);
    cli_doc_int(d, "ranks", plan->topo.gpus);
    cli_doc_int(d, "slots", plan->slots);
    cli_doc_int(d, "hidden", H);
    cli_doc_int(d, "intermediate", I);
    cli_doc_int(d, "choices_per_token", kk);
    cli_doc_str(d, "dtype", a->dtype == MP_KX_FP8 ? "fp8" : "bf16");
    cli_doc_str(d, "replica", a->selection == MP_KX_SEL_NONE ? "none"
                                : a->selection == MP_KX_SEL_MODULO ? "vllm-modulo" : "random");
    cli_doc_num(d, "copy_GBps", copy_gbps, 1);
    cli_doc_str(d, "step", "layout + (permute + combine) / ranks + max over ranks of expert time");
    cli_tab *tab = cli_doc_table(d, "results", "replay");
    const char *cols[] = {"layer", "tokens", "layout", "rows_max", "rows_mean", "active_max", "layout_us",
                          "permute_us", "gemm_us", "combine_us", "step_us", "permute_GBps", "pct_copy", "TFLOPs",
                          "vs_linear", "vs_even", "wrong"};
    const int dec[] = {-1, -1, -1, -1, 1, -1, 1, 1, 1, 1, 1, 1, 1, 1, 3, 3, -1};
    for (size_t i = 0; i < sizeof cols / sizeof cols[0]; i++) cli_tab_col(tab, cols[i], dec[i]);
    cli_progress pr;
    cli_progress_init(&pr, c, "replaying");
    int64_t npts = 0, done = 0;
    for (int64_t T = tmin; T <= tmax; T = (int64_t)(T * a->factor) > T ? (int64_t)(T * a->factor) : T + 1) npts++;
    cli_progress_start(&pr, NULL, "layers", 1, npts * (lend - a->layer_begin));
    for (int64_t T = tmin; T <= tmax; T = (int64_t)(T * a->factor) > T ? (int64_t)(T * a->factor) : T + 1)
        for (int64_t l = a->layer_begin; l < lend; l++) {
            double lstep = 0, pstep = 0;
            if (lin && replay_point(K, kx, rt, lin, (int32_t)l, T, a, copy_gbps, -1, tab, &lstep, &err)) goto fail;
            double ref = lin ? lstep : !strcmp(a->plan, "linear") ? -1 : 0;
            if (replay_point(K, kx, rt, plan, (int32_t)l, T, a, copy_gbps, ref, tab, &pstep, &err))
                goto fail;
            cli_progress_update(&pr, ++done, npts * (lend - a->layer_begin));
        }
    cli_progress_done(&pr);
    code = cli_doc_emit(d, c);
    if (code == CLI_OK && a->json) code = emit_json_copy(d, a->json);
    goto out;
fail:
    code = cli_fail(&err);
out:
    cli_doc_destroy(d);
    K->kx_destroy(kx);
    mp_plan_destroy(lin);
    mp_plan_destroy(plan);
    mp_replay_routing_destroy(rt);
    return code;
}

int cmd_replay(int argc, char **argv)
{
    cli_common c;
    cli_args A;
    int prc = cli_args_parse(&A, &c, "replay", argc, argv);
    if (prc) return prc;
    replay_args a = {.factor = 2, .iters = CLI_REPLAY_ITERS_DEFAULT, .warmup = CLI_REPLAY_WARMUP_DEFAULT, .check = 1,
                     .graph = 1, .ranks = CLI_REPLAY_RANKS_DEFAULT, .selection = REPLAY_SEL_MODULO, .layer_end = 1,
                     .hidden = CLI_REPLAY_HIDDEN_DEFAULT, .inter = CLI_REPLAY_INTER_DEFAULT, .emulate = 1};
    a.plan = cli_str(&A, CLI_O_PLAN);
    a.tmin = cli_i64(&A, CLI_O_MIN_TOKENS, a.tmin);
    a.tmax = cli_i64(&A, CLI_O_MAX_TOKENS, a.tmax);
    a.factor = cli_num(&A, CLI_O_FACTOR, a.factor);
    a.iters = cli_int(&A, CLI_O_ITERS, a.iters);
    a.warmup = cli_int(&A, CLI_O_WARMUP, a.warmup);
    a.check = cli_int(&A, CLI_O_REPLAY_CHECK, a.check);
    a.graph = cli_int(&A, CLI_O_GRAPH, a.graph);
    a.json = cli_str(&A, CLI_O_JSON);
    a.ranks = cli_int(&A, CLI_O_RANKS, a.ranks);
    cli_range(&A, CLI_O_REPLAY_LAYERS, &a.layer_begin, &a.layer_end);
    a.hidden = cli_i64(&A, CLI_O_REPLAY_HIDDEN, a.hidden);
    a.inter = cli_i64(&A, CLI_O_REPLAY_INTER, a.inter);
    a.calibrate = cli_has(&A, CLI_O_CALIBRATE) > 0;
    a.nproc = cli_int(&A, CLI_O_NPROC, 0);
    a.mpi = cli_has(&A, CLI_O_MPI) > 0;
    a.padded = cli_has(&A, CLI_O_PADDED) > 0;
    a.emulate = cli_int(&A, CLI_O_EMULATE, a.emulate);
    a.link_cost = cli_str(&A, CLI_O_LINK_COST);
    a.cost = cli_str(&A, CLI_O_COST);
    a.dtype = cli_enum(&A, CLI_O_DTYPE, 0); /* bf16, fp8: as mp_kx_dtype */
    if (cli_has(&A, CLI_O_REPLICA) || cli_has(&A, CLI_O_ENGINE)) {
        /* the kernels implement these replica rules of the registry, and none (always the first replica) */
        const char *r = cli_engine_replica(&A);
        if (!cli_has(&A, CLI_O_REPLICA) && strcmp(r, "vllm-modulo") && strcmp(r, "random"))
            return cli_usage_error("replay", "the kernels implement vllm-modulo, random and none, not --engine %s's "
                                             "rule %s: give --replica", cli_engine_of(&A)->name, r);
        if (cli_replica_check("replay", r, "vllm-modulo|random", "none")) return CLI_EUSAGE;
        const mp_policy *pol = mp_policy_find(r);
        a.selection = !pol ? REPLAY_SEL_NONE : !strcmp(pol->name, "vllm-modulo") ? REPLAY_SEL_MODULO : REPLAY_SEL_RANDOM;
    }
    if (c.help) return cli_help(stdout, "replay");
    if (a.calibrate) {
        if (A.first != argc) return cli_usage_error("replay", "--calibrate takes no TRACE");
        if (!c.output) return cli_usage_error("replay", "--calibrate writes a cost model: give -o COST.json");
        if (a.hidden % CLI_REPLAY_HIDDEN_MIN || a.inter % CLI_REPLAY_INTER_MIN)
            return cli_usage_error("replay", "--hidden must be a multiple of 128 and --intermediate of 8");
    } else {
        if (A.first + 1 != argc) return cli_usage_error("replay", "wants exactly one TRACE");
        if (!a.plan) return cli_usage_error("replay", "wants --plan PLAN.json or --plan linear");
        a.trace = argv[A.first];
    }
    if (a.tmin > 0 && a.tmax > 0 && a.tmin > a.tmax) return cli_usage_error("replay", "-b is larger than -e");
    {
        cli_io_guard g;
        cli_io_guard_init(&g, "replay");
        cli_io_guard_add_input(&g, a.trace);
        if (a.plan && strcmp(a.plan, "linear") != 0) cli_io_guard_add_input(&g, a.plan);
        cli_io_guard_add_input(&g, a.cost);
        cli_io_guard_add_output(&g, c.output);
        cli_io_guard_add_output(&g, a.json);
        cli_io_guard_add_output(&g, a.link_cost);
        int grc = cli_io_guard_check(&g);
        if (grc) return grc;
    }
    if (a.nproc > 0 || a.mpi) {
        if (a.calibrate) return cli_usage_error("replay", "--calibrate runs on one GPU, not with --nproc or --mpi");
        if (a.nproc > 0 && a.mpi) return cli_usage_error("replay", "--nproc and --mpi are alternatives");
        if (a.dtype) return cli_usage_error("replay", "the multi-GPU replay dispatches bf16 rows only");
        if (a.hidden % CLI_REPLAY_HIDDEN_MIN || a.inter % CLI_REPLAY_INTER_MIN)
            return cli_usage_error("replay", "--hidden must be a multiple of 128 and --intermediate of 8");
        cli_nccl_args na = {.trace = a.trace, .plan = a.plan, .json = a.json, .link_cost = a.link_cost,
                            .cost = a.cost,
                            .tokens = a.tmax, .layer = a.layer_begin, .iters = a.iters, .warmup = a.warmup,
                            .check = a.check, .selection = a.selection, .nproc = a.nproc, .mpi = a.mpi,
                            .padded = a.padded, .emulate = a.emulate, .hidden = a.hidden, .inter = a.inter};
        return cli_replay_nccl(&na, &c);
    }
    if (a.padded || a.link_cost || a.cost)
        return cli_usage_error("replay", "--padded, --cost and --link-cost go with --nproc or --mpi");
    return a.calibrate ? run_calibrate(&a, &c) : run_replay(&a, &c);
}
