/* cmd_plan.c - `moeplace plan`: flags in, plan file and summary out.  The
 * work is done by planner/ (mp_planner_run, metrics, plan files, migration). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/io_guard.h"
#include "planner/mp_planner.h"
#include "traces/stats/mp_loads_read.h"
#include "traces/mp_loads.h"
#include "traces/formats/mp_trace.h"

const char cmd_plan_usage[] =
    "usage: moeplace plan (TRACE | --loads FILE) --gpus P [--nodes N]\n"
    "                     [--redundant X | --slots-per-gpu S] [--strategy NAME] [-o PLAN.json]\n"
    "       moeplace plan ... --compare linear,round-robin,group-aware,eplb,balanced\n"
    "       moeplace plan --check PLAN.json\n"
    "\n"
    "Decides which expert each physical slot of each GPU holds, per MoE layer, from\n"
    "expert loads (a routing trace counted per layer, or a load file), and predicts\n"
    "the per-GPU load and balance metrics of the result.\n"
    "\n"
    "  --loads FILE          the loads (instead of TRACE): SGLang logical_count JSON or a trace\n"
    "  --steps A:B           only steps A..B-1 of the input\n"
    "  --strategy NAME       linear, round-robin, group-aware, eplb, eplb-global, balanced (default)\n"
    "  --gpus P              GPUs (expert-parallel ranks)\n"
    "  --nodes N             nodes (default 1); P % N == 0\n"
    "  --redundant X         X redundant slots: R = E + N + X (N: --shared-fusion; default 0); R % P == 0\n"
    "  --slots-per-gpu S     or S slots per GPU: R = P * S\n"
    "  --groups G            expert groups (default: the model's)\n"
    "  --experts E           the expert count the loads must have\n"
    "  --top-k K             experts per token (default: the model's; needed by --shared-fusion)\n"
    "  --locality W          balanced: 0..1, keep expert groups on few nodes (1: one node each)\n"
    "  --shared-fusion N     the shared expert becomes N routed replicas (needs redundant slots)\n"
    "  --from OLD.json       relabel GPUs and slots so that few experts move from OLD's layout\n"
    "  --dtype-bytes B       bytes per weight for bytes moved (default 2)\n"
    "  --export KIND         write sglang (JSON), trtllm (YAML) or csv instead of the plan file\n"
    "  --compare LIST        plan with each strategy and print one table of their metrics\n"
    "  --check PLAN.json     validate a plan file and print its summary\n"
    "  -o, --output FILE     the plan (or export) file; the summary goes to standard output\n"
    "  --format F            summary as table (default), json or csv\n"
    "  -q, --quiet           no progress bar\n";

enum {
    OPT_LOADS = CLI_OPT_OWN,
    OPT_STEPS,
    OPT_STRATEGY,
    OPT_GPUS,
    OPT_NODES,
    OPT_REDUNDANT,
    OPT_SPG,
    OPT_GROUPS,
    OPT_EXPERTS,
    OPT_TOPK,
    OPT_LOCALITY,
    OPT_FUSION,
    OPT_FROM_PLAN,
    OPT_DTYPE,
    OPT_EXPORT,
    OPT_COMPARE,
    OPT_CHECK,
};

typedef struct plan_args {
    cli_common c;
    const char *input, *from, *export_name, *compare, *check;
    int64_t step_begin, step_end;
    int steps_set;
    mp_plan_request req;
    int gpus, nodes, redundant, spg, experts, dtype_bytes;
    int redundant_set, spg_set;
    mp_export export_kind;
} plan_args;

static void add_summary(cli_doc *d, const mp_plan *p, const mp_plan_metrics *m)
{
    cli_doc_str(d, "strategy", p->strategy[0] ? p->strategy : "-");
    cli_doc_int(d, "layers", p->layers);
    cli_doc_int(d, "experts", p->experts);
    cli_doc_int(d, "gpus", p->topo.gpus);
    cli_doc_int(d, "nodes", p->topo.nodes);
    cli_doc_int(d, "slots_per_gpu", p->topo.slots_per_gpu);
    cli_doc_int(d, "slots", p->slots);
    cli_doc_int(d, "max_replicas", p->max_replicas);
    if (!m) return;
    cli_doc_num(d, "max_over_mean", m->mean_max_over_mean, 5);
    cli_doc_num(d, "worst_max_over_mean", m->worst_max_over_mean, 5);
    cli_doc_int(d, "worst_layer", m->worst_layer);
    cli_doc_num(d, "vllm_balancedness", m->vllm_balancedness, 5);
    cli_doc_num(d, "sglang_balancedness", m->sglang_balancedness, 5);
    cli_doc_num(d, "trtllm_imbalance", m->trtllm_imbalance, 5);
    cli_doc_num(d, "gap_lb0", m->gap_lb0, 5);
    cli_doc_num(d, "gap_lb_rep", m->gap_lb_rep, 5);
    cli_doc_int(d, "duplicates", m->total_duplicates);
}

static void add_layers(cli_doc *d, const mp_plan_metrics *m)
{
    cli_tab *t = cli_doc_table(d, "layers", "per layer (GPU loads under the even split)");
    cli_tab_col(t, "layer", -1);
    cli_tab_col(t, "max", 1);
    cli_tab_col(t, "mean", 1);
    cli_tab_col(t, "max_over_mean", 5);
    cli_tab_col(t, "gap_lb_rep", 5);
    cli_tab_col(t, "duplicates", -1);
    for (int32_t l = 0; l < m->layers; l++) {
        cli_tab_int(t, l);
        cli_tab_num(t, m->max[l]);
        cli_tab_num(t, m->mean[l]);
        cli_tab_num(t, m->max_over_mean[l]);
        cli_tab_num(t, m->lb_rep[l] > 0 ? m->max[l] / m->lb_rep[l] - 1 : 0);
        cli_tab_int(t, m->duplicates[l]);
    }
}

static int do_check(const plan_args *a)
{
    mp_err err = {0};
    mp_plan *p;
    double *w;
    mp_plan_result *r;
    if (mp_plan_read_json(&p, &w, a->check, &err) || mp_plan_result_of_load(&r, p, w, &err)) return cli_fail(&err);
    cli_doc *d = cli_doc_create("moeplace.plan.check");
    cli_doc_str(d, "file", a->check);
    cli_doc_str(d, "valid", "yes");
    add_summary(d, r->plan, r->metrics);
    int rc = cli_doc_emit(d, &a->c);
    cli_doc_destroy(d);
    mp_plan_result_destroy(r);
    return rc;
}

/* Reads the input loads, summed over the selected steps. */
static int read_loads(const plan_args *a, mp_loads **out, mp_err *err)
{
    mp_read_opts ro = cli_read_opts(&a->c);
    mp_format f = mp_format_from_path(a->input);
    if (f != MP_FMT_JSON) {
        mp_trace *t;
        int rc = mp_trace_open(&t, a->input, &ro, err);
        if (rc) return rc;
        rc = mp_loads_count(out, t, a->step_begin, a->step_end, 0, err);
        mp_trace_close(t);
        return rc;
    }
    mp_loads *all;
    ro.format = MP_FMT_JSON;
    int rc = mp_loads_read(&all, a->input, &ro, 1, err);
    if (rc) return rc;
    if (a->steps_set) {
        int64_t end = a->step_end < 0 || a->step_end > all->steps ? all->steps : a->step_end;
        if (a->step_begin >= end) {
            int32_t n = all->steps;
            mp_loads_destroy(all);
            return mp_err_set(err, MP_ERANGE, "%s: --steps selects nothing of its %d steps", a->input, n);
        }
        int64_t cells = (int64_t)all->layers * all->experts;
        memmove(all->count, all->count + a->step_begin * cells, (size_t)((end - a->step_begin) * cells) * sizeof(double));
        all->steps = (int32_t)(end - a->step_begin);
    }
    mp_err sub;
    rc = mp_loads_sum_steps(out, all, &sub);
    mp_loads_destroy(all);
    return rc ? mp_err_set(err, rc, "%s: %s", a->input, sub.msg) : 0;
}

/* The request for a strategy, its topology resolved by the planner; exact:
 * no redundant slots (mp_topology_request). */
static int make_request(plan_args *a, const mp_loads *l, const char *strategy, int exact, mp_err *err)
{
    a->req.strategy = strategy;
    mp_topology_request t = {a->gpus, a->nodes, a->spg_set ? a->spg : 0, a->redundant_set ? a->redundant : -1,
                             a->req.shared_fusion, exact};
    return mp_topology_resolve(&a->req.topo, &t, l->experts, err);
}

static int do_compare(plan_args *a, const mp_loads *l)
{
    cli_doc *d = cli_doc_create("moeplace.plan.compare");
    cli_doc_int(d, "layers", l->layers);
    cli_doc_int(d, "experts", l->experts);
    cli_doc_int(d, "gpus", a->gpus);
    cli_doc_int(d, "nodes", a->nodes);
    cli_tab *t = cli_doc_table(d, "strategies", "strategies side by side");
    const char *cols[] = {"max_over_mean", "worst_max_over_mean", "vllm_balancedness", "sglang_balancedness",
                          "trtllm_imbalance", "gap_lb0", "gap_lb_rep"};
    cli_tab_col(t, "strategy", -1);
    cli_tab_col(t, "slots_per_gpu", -1);
    for (int i = 0; i < 7; i++) cli_tab_col(t, cols[i], 5);
    cli_tab_col(t, "duplicates", -1);
    cli_tab_col(t, "status", -1);
    char *list = malloc(strlen(a->compare) + 1);
    if (!list) return cli_doc_destroy(d), CLI_EDATA;
    strcpy(list, a->compare);
    int rc = CLI_OK;
    char *save = NULL;
    for (char *name = strtok_r(list, ",", &save); name; name = strtok_r(NULL, ",", &save)) {
        mp_err err = {0};
        mp_plan_result *res = NULL;
        if (make_request(a, l, name, 0, &err)) {
            rc = cli_topology_error("plan", &err);
            break;
        }
        /* strategies without redundant slots are compared at their own slot count, E / P */
        const mp_strategy *st = mp_strategy_find(name);
        if (st && !st->redundant && a->req.shared_fusion == 0) {
            mp_err sub = {0};
            mp_topology asked = a->req.topo;
            if (make_request(a, l, name, 1, &sub)) a->req.topo = asked; /* the planner says why not */
        }
        int r = mp_plan_evaluate(&res, l, &a->req, &err);
        const mp_plan_metrics *m = res ? res->metrics : NULL;
        cli_tab_str(t, name);
        cli_tab_int(t, a->req.topo.slots_per_gpu);
        double v[7] = {0};
        if (m) {
            double vv[7] = {m->mean_max_over_mean, m->worst_max_over_mean, m->vllm_balancedness, m->sglang_balancedness,
                            m->trtllm_imbalance, m->gap_lb0, m->gap_lb_rep};
            memcpy(v, vv, sizeof v);
        } else {
            for (int i = 0; i < 7; i++) v[i] = NAN;
        }
        for (int i = 0; i < 7; i++) cli_tab_num(t, v[i]);
        cli_tab_int(t, m ? m->total_duplicates : 0);
        cli_tab_str(t, r ? err.msg : "ok");
        if (r == MP_ENOTFOUND) {
            rc = cli_usage_error("plan", "--compare: unknown strategy '%s'", name);
        } else if (r == MP_ENOMEM) {
            rc = cli_fail(&err);
        }
        mp_plan_result_destroy(res);
        if (rc) break;
    }
    free(list);
    if (!rc) rc = cli_doc_emit(d, &a->c);
    cli_doc_destroy(d);
    return rc;
}

static int do_plan(plan_args *a, const mp_loads *l)
{
    mp_err err = {0};
    if (make_request(a, l, a->req.strategy ? a->req.strategy : "balanced", 0, &err))
        return cli_topology_error("plan", &err);
    mp_plan_result *res;
    mp_plan *old = NULL;
    if (mp_plan_evaluate(&res, l, &a->req, &err)) return cli_fail(&err);
    mp_plan *p = res->plan;
    mp_migration mig = {-1, 0, 0};
    int rc = CLI_OK;
    if (a->from) {
        if (mp_plan_read_json(&old, NULL, a->from, &err)) goto fail;
        const mp_model *md = p->model.hidden > 0 && p->model.intermediate > 0 ? &p->model : &old->model;
        int64_t bpe = 3 * md->hidden * md->intermediate * a->dtype_bytes;
        if (mp_plan_migrate(p, old, bpe, &mig, &err) || mp_plan_result_update(res, &err)) goto fail;
    }
    if (a->export_name) {
        if (mp_plan_export(p, a->export_kind, a->c.output ? a->c.output : "-", &err)) goto fail;
    } else if (a->c.output) {
        mp_plan_info info = {a->req.locality, a->req.shared_fusion, a->req.groups, res->load, res->metrics,
                             a->from ? mig.moved_experts : -1, mig.moved_bytes};
        if (mp_plan_write_json(p, &info, a->c.output, &err)) goto fail;
    }
    if (!(a->export_name && !a->c.output)) {
        cli_doc *d = cli_doc_create("moeplace.plan");
        if (a->c.output) cli_doc_str(d, "output", a->c.output);
        add_summary(d, p, res->metrics);
        if (a->from) {
            cli_doc_int(d, "moved_experts", mig.moved_experts);
            cli_doc_int(d, "kept_experts", mig.kept_experts);
            cli_doc_int(d, "moved_bytes", mig.moved_bytes);
        }
        add_layers(d, res->metrics);
        rc = cli_doc_print(d, stdout, a->c.format) || fflush(stdout) ? CLI_EDATA : CLI_OK;
        if (rc) cli_stdout_error(); /* main says it, once */
        cli_doc_destroy(d);
    }
    mp_plan_destroy(old);
    mp_plan_result_destroy(res);
    return rc;
fail:
    mp_plan_destroy(old);
    mp_plan_result_destroy(res);
    return cli_fail(&err);
}

int cmd_plan(int argc, char **argv)
{
    static const struct option opts[] = {
        {"from", required_argument, NULL, OPT_FROM_PLAN}, /* --from is the old plan here */
        {"loads", required_argument, NULL, OPT_LOADS},
        {"steps", required_argument, NULL, OPT_STEPS},
        {"strategy", required_argument, NULL, OPT_STRATEGY},
        {"gpus", required_argument, NULL, OPT_GPUS},
        {"nodes", required_argument, NULL, OPT_NODES},
        {"redundant", required_argument, NULL, OPT_REDUNDANT},
        {"slots-per-gpu", required_argument, NULL, OPT_SPG},
        {"groups", required_argument, NULL, OPT_GROUPS},
        {"experts", required_argument, NULL, OPT_EXPERTS},
        {"top-k", required_argument, NULL, OPT_TOPK},
        {"locality", required_argument, NULL, OPT_LOCALITY},
        {"shared-fusion", required_argument, NULL, OPT_FUSION},
        {"dtype-bytes", required_argument, NULL, OPT_DTYPE},
        {"export", required_argument, NULL, OPT_EXPORT},
        {"compare", required_argument, NULL, OPT_COMPARE},
        {"check", required_argument, NULL, OPT_CHECK},
        CLI_COMMON_LONG,
        {NULL, 0, NULL, 0}};
    plan_args a;
    memset(&a, 0, sizeof a);
    cli_common_init(&a.c, "plan");
    a.nodes = 1;
    a.dtype_bytes = 2;
    a.step_end = -1;
    int o;
    optind = 1;
    while ((o = getopt_long(argc, argv, CLI_COMMON_SHORT, opts, NULL)) != -1) {
        int r = 0;
        switch (o) {
        case OPT_LOADS: a.input = optarg; break;
        case OPT_STEPS:
            r = cli_parse_range("plan", "--steps", optarg, &a.step_begin, &a.step_end);
            a.steps_set = 1;
            break;
        case OPT_STRATEGY: a.req.strategy = optarg; break;
        case OPT_GPUS: r = cli_parse_int("plan", "--gpus", optarg, 1, 1 << 20, &a.gpus); break;
        case OPT_NODES: r = cli_parse_int("plan", "--nodes", optarg, 1, 1 << 20, &a.nodes); break;
        case OPT_REDUNDANT:
            r = cli_parse_int("plan", "--redundant", optarg, 0, 1 << 24, &a.redundant);
            a.redundant_set = 1;
            break;
        case OPT_SPG:
            r = cli_parse_int("plan", "--slots-per-gpu", optarg, 1, 1 << 24, &a.spg);
            a.spg_set = 1;
            break;
        case OPT_GROUPS: r = cli_parse_int("plan", "--groups", optarg, 1, MP_EXPERTS_MAX, &a.req.groups); break;
        case OPT_EXPERTS: r = cli_parse_int("plan", "--experts", optarg, 1, MP_EXPERTS_MAX, &a.experts); break;
        case OPT_TOPK: r = cli_parse_int("plan", "--top-k", optarg, 1, MP_TOPK_MAX, &a.req.top_k); break;
        case OPT_LOCALITY: r = cli_parse_double("plan", "--locality", optarg, 0, 1, &a.req.locality); break;
        case OPT_FUSION: r = cli_parse_int("plan", "--shared-fusion", optarg, 1, 1 << 20, &a.req.shared_fusion); break;
        case OPT_FROM_PLAN: a.from = optarg; break;
        case OPT_DTYPE: r = cli_parse_int("plan", "--dtype-bytes", optarg, 1, 16, &a.dtype_bytes); break;
        case OPT_EXPORT:
            a.export_name = optarg;
            if (mp_export_parse(optarg, &a.export_kind))
                return cli_usage_error("plan", "--export wants sglang, trtllm or csv, not '%s'", optarg);
            break;
        case OPT_COMPARE: a.compare = optarg; break;
        case OPT_CHECK: a.check = optarg; break;
        default: {
            int h = cli_common_option(&a.c, o, optarg);
            if (h < 0) return -h;
            if (h == 0) return cli_usage_error("plan", "unexpected option");
        }
        }
        if (r) return CLI_EUSAGE;
    }
    if (a.c.help) {
        fputs(cmd_plan_usage, stdout);
        return CLI_OK;
    }
    cli_io_guard g;
    cli_io_guard_init(&g, "plan");
    cli_io_guard_add_output(&g, a.c.output);
    if (a.check) {
        if (optind != argc || a.input) return cli_usage_error("plan", "--check takes no other input");
        cli_io_guard_add_input(&g, a.check);
        int grc = cli_io_guard_check(&g);
        return grc ? grc : do_check(&a);
    }
    if (optind < argc) {
        if (a.input || optind + 1 != argc) return cli_usage_error("plan", "wants one input: TRACE or --loads FILE");
        a.input = argv[optind];
    }
    if (!a.input) return cli_usage_error("plan", "wants an input: TRACE or --loads FILE");
    if (a.gpus < 1) return cli_usage_error("plan", "wants --gpus P");
    if (a.req.strategy && !a.compare && !mp_strategy_find(a.req.strategy))
        return cli_usage_error("plan", "unknown strategy '%s'", a.req.strategy);
    if (a.compare && (a.from || a.export_name))
        return cli_usage_error("plan", "--compare does not combine with --from or --export");
    cli_io_guard_add_input(&g, a.input);
    cli_io_guard_add_input(&g, a.from);
    int grc = cli_io_guard_check(&g);
    if (grc) return grc;

    mp_err err = {0};
    mp_loads *l;
    if (read_loads(&a, &l, &err)) return cli_fail(&err);
    int rc;
    if (a.experts && a.experts != l->experts) {
        cli_message("moeplace: %s: has %d experts per layer, --experts says %d", a.input, l->experts, a.experts);
        rc = CLI_EDATA;
    } else {
        rc = a.compare ? do_compare(&a, l) : do_plan(&a, l);
    }
    mp_loads_destroy(l);
    return rc;
}
