/* cmd_replay.c - `moeplace replay TRACE --plan PLAN` and `moeplace replay
 * --calibrate -o COST.json`: flags and printing; the work is in kernels/. */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/io_guard.h"
#include "cli/replay_nccl.h"

#ifdef MP_HAVE_KERNELS
#include "kernels/mp_kernels.h"
#include "kernels/mp_replay.h"
#include "planner/mp_planner.h"
#include "sim/mp_cost.h"
#endif

const char cmd_replay_usage[] =
    "usage: moeplace replay TRACE --plan PLAN.json|linear [options]\n"
    "       moeplace replay --calibrate -o COST.json [options]\n"
    "       moeplace replay TRACE --plan PLAN --nproc N [options]   (one GPU a rank, NCCL)\n"
    "\n"
    "Runs the first tokens of a trace through real CUDA kernels on one GPU under\n"
    "a placement: layout (replica selection, rows), permute, each emulated rank's\n"
    "expert GEMMs (cuBLAS) in turn, combine.  Step time = layout + (permute +\n"
    "combine) / ranks + the slowest rank's expert time (links not included).\n"
    "\n"
    "  --plan P          plan file from `moeplace plan`, or linear (expert e on slot e)\n"
    "  -b, --min N       smallest token count of the sweep (default: -e)\n"
    "  -e, --max N       largest token count (default: the trace's first step, <= 65536)\n"
    "  -f, --factor F    multiply the token count by F between sweep points (default 2)\n"
    "  -n, --iters N     timed runs of each phase, median reported (default 20)\n"
    "  -w, --warmup N    untimed runs first (default 3)\n"
    "  -c, --check 0|1   compare with the CPU reference, #wrong column (default 1)\n"
    "  -G, --graph 0|1   capture each rank's expert loop in a CUDA graph (default 1)\n"
    "  --ranks R         emulated GPUs for --plan linear (default 8; a plan file's own)\n"
    "  --layers A:B      MoE layers to replay (default 0)\n"
    "  --dtype D         bf16 (default) or fp8 (e4m3, per-128 scales) dispatch\n"
    "  --selection S     none, modulo (default) or random replica selection\n"
    "  --hidden N        hidden size when the trace's model has none (default 7168)\n"
    "  --intermediate N  expert intermediate size likewise (default 2048)\n"
    "  -J, --json FILE   also write the results as JSON to FILE\n"
    "  --calibrate       measure expert time over rows and active experts and the\n"
    "                    permute/combine rates; write a cost model (-o) for `sim --cost`\n"
    "  --nproc N         run N ranks, one GPU each, moving tokens over NCCL: all-gather\n"
    "                    of counts, all-to-all-v dispatch, local experts, combine back;\n"
    "                    per-phase times (max and mean over ranks), algbw/busbw, pairs\n"
    "  --mpi             likewise, one rank per MPI process (mpirun -np N; -DMP_MPI=ON)\n"
    "  --padded          with --nproc/--mpi: ncclAlltoAll of equal blocks at capacity\n"
    "  --emulate 0|1     with --nproc/--mpi: also time the single-GPU emulation (default 1)\n"
    "  --cost FILE       with --nproc/--mpi: cost model (e.g. from --calibrate) that sim's\n"
    "                    prediction starts from; the measured link replaces its link\n"
    "  --link-cost FILE  with --nproc/--mpi: write that cost model with the measured link\n"
    "  --format F        table (default), json or csv\n"
    "  -o, --output OUT  write there instead of standard output\n"
    "  --seed N          seed of weights, inputs and random selection (default 1)\n"
    "  -q, --quiet       no progress bar\n";

enum { OPT_PLAN = CLI_OPT_OWN, OPT_RANKS, OPT_LAYERS, OPT_DTYPE, OPT_SELECTION, OPT_HIDDEN, OPT_INTER, OPT_CALIBRATE,
       OPT_NPROC, OPT_MPI, OPT_PADDED, OPT_EMULATE, OPT_LINK_COST, OPT_COST };

typedef struct replay_args {
    const char *trace, *plan, *json, *link_cost, *cost;
    int nproc, mpi, padded, emulate;
    int64_t tmin, tmax;
    double factor;
    int iters, warmup, check, graph, ranks, dtype, selection, calibrate;
    int64_t layer_begin, layer_end;
    int64_t hidden, inter;
} replay_args;

#ifdef MP_HAVE_KERNELS
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
    if (mp_kernels_device(dev, sizeof dev, &err)) return cli_fail(&err);
    const int32_t E = 256, R = a->ranks;
    if (E % R) return cli_usage_error("replay", "--ranks must divide 256 experts");
    mp_kx_shape sh = {.hidden = (int32_t)a->hidden, .intermediate = (int32_t)a->inter, .top_k = 8, .experts = E,
                      .slots = E, .ranks = R, .max_replicas = 1, .max_tokens = 8192, .dtype = MP_KX_BF16,
                      .selection = MP_KX_SEL_NONE, .seed = c->seed, .with_experts = 1, .use_graph = a->graph};
    mp_kx *kx;
    if (mp_kx_create(&kx, &sh, &err)) return cli_fail(&err);
    int32_t *l2p = malloc(sizeof *l2p * E), *rc = malloc(sizeof *rc * E);
    for (int32_t e = 0; e < E && l2p && rc; e++) l2p[e] = e, rc[e] = 1;
    mp_kx_calibration cal;
    int st = !l2p || !rc ? mp_err_set(&err, MP_ENOMEM, "replay: out of memory") : mp_kx_set_plan(kx, l2p, rc, &err);
    if (!st) st = mp_kx_calibrate(kx, NULL, a->iters, &cal, &err);
    mp_kx_destroy(kx);
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
static int replay_point(mp_kx *kx, const mp_replay_routing *rt, const mp_plan *plan, int32_t layer, int64_t T,
                        const replay_args *a, double copy_gbps, double linear_step, cli_tab *tab, double *step_out,
                        mp_err *err)
{
    mp_kx_config cf;
    mp_kx_config_get(kx, &cf);
    int32_t kk = cf.top_k;
    uint16_t *ids = malloc(sizeof *ids * (size_t)(T * kk));
    float *w = malloc(sizeof *w * (size_t)(T * kk));
    if (!ids || !w) {
        free(ids), free(w);
        return mp_err_set(err, MP_ENOMEM, "replay: out of memory");
    }
    mp_replay_layer(rt, layer, T, plan->shared_id, ids, w);
    int rc = mp_kx_set_plan_ex(kx, mp_plan_replicas(plan, layer, 0),
                               plan->replica_count + (int64_t)layer * plan->experts, plan->experts,
                               plan->max_replicas, plan->slots, err);
    if (!rc) rc = mp_kx_set_routing(kx, T, ids, w, err);
    int64_t wrong = -1;
    /* the CPU reference holds three copies of the rows on the host: only up
     * to 2^31 values (T = 37449 at H = 7168, K = 8); beyond, wrong is "-" */
    if (!rc && a->check && (double)T * kk * cf.hidden <= (double)((int64_t)1 << 31))
        rc = mp_kx_check(kx, ids, w, 4, &wrong, err);
    mp_kx_step s;
    if (!rc) rc = mp_kx_measure_step(kx, a->iters, a->warmup, 1, &s, err);
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
    if (mp_kernels_device(dev, sizeof dev, &err)) return cli_fail(&err);
    mp_read_opts ro = cli_read_opts(c);
    mp_replay_routing *rt = NULL;
    mp_plan *plan = NULL, *lin = NULL;
    mp_kx *kx = NULL;
    cli_doc *d = NULL;
    int code = CLI_EDATA;
    int64_t want = a->tmax > 0 ? a->tmax : 65536;
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
    int32_t kk = rt->top_k + (plan->shared_id >= 0);
    mp_kx_shape sh = {.hidden = (int32_t)H, .intermediate = (int32_t)I, .top_k = kk, .experts = plan->experts,
                      .slots = plan->slots, .ranks = plan->topo.gpus,
                      .max_replicas = plan->max_replicas > 1 ? plan->max_replicas : 1, .max_tokens = tmax,
                      .dtype = a->dtype, .selection = a->selection, .seed = c->seed, .with_experts = 1,
                      .use_graph = a->graph};
    if (lin && lin->slots > sh.slots) sh.slots = lin->slots; /* weights for the larger of the two */
    if (mp_kx_create(&kx, &sh, &err)) goto fail;
    double copy_gbps = 0;
    if (mp_kx_copy_bandwidth((size_t)1 << 30, 20, &copy_gbps, &err)) goto fail;

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
    cli_doc_str(d, "selection", a->selection == MP_KX_SEL_NONE ? "none"
                                : a->selection == MP_KX_SEL_MODULO ? "modulo" : "random");
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
    for (int64_t T = tmin; T <= tmax; T = (int64_t)(T * a->factor) > T ? (int64_t)(T * a->factor) : T + 1)
        for (int64_t l = a->layer_begin; l < lend; l++) {
            double lstep = 0, pstep = 0;
            if (lin && replay_point(kx, rt, lin, (int32_t)l, T, a, copy_gbps, -1, tab, &lstep, &err)) goto fail;
            double ref = lin ? lstep : !strcmp(a->plan, "linear") ? -1 : 0;
            if (replay_point(kx, rt, plan, (int32_t)l, T, a, copy_gbps, ref, tab, &pstep, &err))
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
    mp_kx_destroy(kx);
    mp_plan_destroy(lin);
    mp_plan_destroy(plan);
    mp_replay_routing_destroy(rt);
    return code;
}
#endif

int cmd_replay(int argc, char **argv)
{
    static const struct option opts[] = {CLI_COMMON_LONG,
                                         {"plan", required_argument, NULL, OPT_PLAN},
                                         {"min", required_argument, NULL, 'b'},
                                         {"max", required_argument, NULL, 'e'},
                                         {"factor", required_argument, NULL, 'f'},
                                         {"iters", required_argument, NULL, 'n'},
                                         {"warmup", required_argument, NULL, 'w'},
                                         {"check", required_argument, NULL, 'c'},
                                         {"graph", required_argument, NULL, 'G'},
                                         {"json", required_argument, NULL, 'J'},
                                         {"ranks", required_argument, NULL, OPT_RANKS},
                                         {"layers", required_argument, NULL, OPT_LAYERS},
                                         {"dtype", required_argument, NULL, OPT_DTYPE},
                                         {"selection", required_argument, NULL, OPT_SELECTION},
                                         {"hidden", required_argument, NULL, OPT_HIDDEN},
                                         {"intermediate", required_argument, NULL, OPT_INTER},
                                         {"calibrate", no_argument, NULL, OPT_CALIBRATE},
                                         {"nproc", required_argument, NULL, OPT_NPROC},
                                         {"mpi", no_argument, NULL, OPT_MPI},
                                         {"padded", no_argument, NULL, OPT_PADDED},
                                         {"emulate", required_argument, NULL, OPT_EMULATE},
                                         {"link-cost", required_argument, NULL, OPT_LINK_COST},
                                         {"cost", required_argument, NULL, OPT_COST},
                                         {NULL, 0, NULL, 0}};
    cli_common c;
    cli_common_init(&c, "replay");
    replay_args a = {.factor = 2, .iters = 20, .warmup = 3, .check = 1, .graph = 1, .ranks = 8,
                     .selection = 1, .layer_end = 1, .hidden = 7168, .inter = 2048, .emulate = 1};
    int o;
    while ((o = getopt_long(argc, argv, CLI_COMMON_SHORT "b:e:f:n:w:c:G:J:", opts, NULL)) != -1) {
        int h = cli_common_option(&c, o, optarg);
        if (h < 0) return -h;
        if (h == 1) continue;
        int bad = 0;
        switch (o) {
        case OPT_PLAN: a.plan = optarg; break;
        case 'b': bad = cli_parse_i64("replay", "-b", optarg, 1, 65536, &a.tmin); break;
        case 'e': bad = cli_parse_i64("replay", "-e", optarg, 1, 65536, &a.tmax); break;
        case 'f': bad = cli_parse_double("replay", "-f", optarg, 1.01, 1024, &a.factor); break;
        case 'n': bad = cli_parse_int("replay", "-n", optarg, 1, 100000, &a.iters); break;
        case 'w': bad = cli_parse_int("replay", "-w", optarg, 0, 100000, &a.warmup); break;
        case 'c': bad = cli_parse_int("replay", "-c", optarg, 0, 1, &a.check); break;
        case 'G': bad = cli_parse_int("replay", "-G", optarg, 0, 1, &a.graph); break;
        case 'J': a.json = optarg; break;
        case OPT_RANKS: bad = cli_parse_int("replay", "--ranks", optarg, 1, 64, &a.ranks); break;
        case OPT_LAYERS: bad = cli_parse_range("replay", "--layers", optarg, &a.layer_begin, &a.layer_end); break;
        case OPT_HIDDEN: bad = cli_parse_i64("replay", "--hidden", optarg, 128, 65536, &a.hidden); break;
        case OPT_INTER: bad = cli_parse_i64("replay", "--intermediate", optarg, 8, 65536, &a.inter); break;
        case OPT_CALIBRATE: a.calibrate = 1; break;
        case OPT_NPROC: bad = cli_parse_int("replay", "--nproc", optarg, 1, 64, &a.nproc); break;
        case OPT_MPI: a.mpi = 1; break;
        case OPT_PADDED: a.padded = 1; break;
        case OPT_EMULATE: bad = cli_parse_int("replay", "--emulate", optarg, 0, 1, &a.emulate); break;
        case OPT_LINK_COST: a.link_cost = optarg; break;
        case OPT_COST: a.cost = optarg; break;
        case OPT_DTYPE:
            if (!strcmp(optarg, "bf16")) a.dtype = 0;
            else if (!strcmp(optarg, "fp8")) a.dtype = 1;
            else return cli_usage_error("replay", "--dtype wants bf16 or fp8, not '%s'", optarg);
            break;
        case OPT_SELECTION:
            if (!strcmp(optarg, "none")) a.selection = 0;
            else if (!strcmp(optarg, "modulo")) a.selection = 1;
            else if (!strcmp(optarg, "random")) a.selection = 2;
            else return cli_usage_error("replay", "--selection wants none, modulo or random, not '%s'", optarg);
            break;
        default: return cli_usage_error("replay", "unexpected option");
        }
        if (bad) return CLI_EUSAGE;
    }
    if (c.help) {
        fputs(cmd_replay_usage, stdout);
        return CLI_OK;
    }
    if (a.calibrate) {
        if (optind != argc) return cli_usage_error("replay", "--calibrate takes no TRACE");
        if (!c.output) return cli_usage_error("replay", "--calibrate writes a cost model: give -o COST.json");
        if (a.hidden % 128 || a.inter % 8)
            return cli_usage_error("replay", "--hidden must be a multiple of 128 and --intermediate of 8");
    } else {
        if (optind + 1 != argc) return cli_usage_error("replay", "wants exactly one TRACE");
        if (!a.plan) return cli_usage_error("replay", "wants --plan PLAN.json or --plan linear");
        a.trace = argv[optind];
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
        if (a.hidden % 128 || a.inter % 8)
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
#ifdef MP_HAVE_KERNELS
    return a.calibrate ? run_calibrate(&a, &c) : run_replay(&a, &c);
#else
    fprintf(stderr, "moeplace replay: CUDA support is not compiled in (build with nvcc found and -DMP_KERNELS=ON)\n");
    return CLI_EDATA;
#endif
}
