/* cmd_plan.c - `moeplace plan`: flags in, plan file and summary out.  The
 * work is done by planner/ (mp_planner_run, metrics, plan files, migration). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/engine.h"
#include "cli/io_guard.h"
#include "planner/mp_planner.h"
#include "traces/stats/mp_holdout.h"
#include "traces/stats/mp_loads_read.h"
#include "traces/mp_loads.h"
#include "traces/formats/mp_trace.h"

const char cmd_plan_usage[] =
    "usage: moeplace plan (TRACE | --loads FILE) --gpus P [--nodes N]\n"
    "                     [--redundant X | --slots-per-gpu S] [--strategy NAME] [-o PLAN.json]\n"
    "       moeplace plan ... --compare linear,round-robin,group-aware,eplb,balanced\n"
    "       moeplace plan --check FILE [--eval OTHER] [--model M] [--experts E] [--gpus P]\n"
    "\n"
    "Decides which expert each physical slot of each GPU holds, per MoE layer, from\n"
    "expert loads (a routing trace counted per layer, or a load file), and predicts\n"
    "the per-GPU load and balance metrics of the result.  With -o the plan (or\n"
    "export) goes to the file and the summary to standard output.  --export writes\n"
    "the file an engine loads instead; --check validates a plan file or any of them:\n"
    "  --export sglang       SGLang --init-expert-location FILE.json (decoder layers)\n"
    "  --export trtllm       TensorRT-LLM moe_config.load_balancer FILE.yaml (decoder layers)\n"
    "  --export vllm         vLLM PR #41141 (draft) --eplb-config initial_mapping_path FILE.jsonl\n"
    "  --export vllm-ascend  vllm-ascend eplb_config.expert_map_path FILE.json\n"
    "  -o PLAN.json          moeplace's own plan (sim, replay, --from): no engine loads it\n";


typedef struct plan_args {
    cli_common c;
    const char *input, *from, *export_name, *compare, *check, *eval;
    double holdout;
    int by_rank;               /* --holdout-by rank */
    int32_t train_ranks, holdout_ranks;
    int64_t max_moves, move_budget;
    int64_t step_begin, step_end;
    int steps_set;
    mp_plan_request req;
    int gpus, nodes, redundant, spg, experts;
    double weight_bytes;
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

static void add_layers(cli_doc *d, const mp_plan_metrics *m, const mp_plan_metrics *held)
{
    cli_tab *t = cli_doc_table(d, "layers", "per layer (GPU loads under the even split)");
    cli_tab_col(t, "layer", -1);
    cli_tab_col(t, "max", 1);
    cli_tab_col(t, "mean", 1);
    cli_tab_col(t, "max_over_mean", 5);
    if (held) cli_tab_col(t, "holdout_max_over_mean", 5);
    cli_tab_col(t, "gap_lb_rep", 5);
    cli_tab_col(t, "duplicates", -1);
    for (int32_t l = 0; l < m->layers; l++) {
        cli_tab_int(t, l);
        cli_tab_num(t, m->max[l]);
        cli_tab_num(t, m->mean[l]);
        cli_tab_num(t, m->max_over_mean[l]);
        if (held) cli_tab_num(t, held->max_over_mean[l]);
        cli_tab_num(t, m->lb_rep[l] > 0 ? m->max[l] / m->lb_rep[l] - 1 : 0);
        cli_tab_int(t, m->duplicates[l]);
    }
}

/* Per-step loads of a trace are kept (the strategy sees their variation)
 * up to this many cells; a longer trace is summed unless per_step is asked. */
#define PLAN_STEP_CELLS_MAX ((int64_t)1 << 24)

/* Reads the input loads of the selected steps, per step (always with
 * per_step; else as far as PLAN_STEP_CELLS_MAX allows: the planner sums them
 * and hands the strategy windows of them). */
static int read_loads(const plan_args *a, mp_loads **out, int per_step, mp_err *err)
{
    mp_read_opts ro = cli_read_opts(&a->c);
    int is_loads = 0;
    mp_format f = MP_FMT_AUTO;
    int rc0 = mp_loads_input(a->input, &ro, &is_loads, err);
    if (!rc0 && is_loads) rc0 = mp_format_guess(a->input, ro.format, &f, err);
    if (rc0) return rc0;
    if (!is_loads) {
        mp_trace *t;
        int rc = mp_trace_open(&t, a->input, &ro, err);
        if (rc) return rc;
        mp_trace_info ti = mp_trace_get_info(t);
        const mp_model *m = mp_trace_model(t);
        if (!per_step)
            per_step = ti.steps > 0 && ti.steps <= PLAN_STEP_CELLS_MAX &&
                       ti.steps * (int64_t)m->layers * m->experts <= PLAN_STEP_CELLS_MAX;
        rc = mp_loads_count(out, t, a->step_begin, a->step_end, per_step, err);
        mp_trace_close(t);
        return rc;
    }
    mp_loads *all;
    ro.format = f;
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
    if (per_step) {
        *out = all;
        return 0;
    }
    /* the steps are kept; summing them here checks that their sums fit */
    mp_err sub;
    mp_loads *sum;
    rc = mp_loads_sum_steps(&sum, all, &sub);
    mp_loads_destroy(sum);
    if (rc) {
        mp_loads_destroy(all);
        return mp_err_set(err, rc, "%s: %s", a->input, sub.msg);
    }
    *out = all;
    return 0;
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

/* The metrics of plan p on loads l (steps summed) and of the oracle: a plan
 * made with request q on l itself.  *oracle is NULL when q is NULL or the
 * oracle cannot be planned (its reason in *why). */
static int judge(const mp_plan *p, const mp_loads *l, const mp_plan_request *q, mp_plan_metrics **m,
                 mp_plan_metrics **oracle, mp_err *why, mp_err *err)
{
    *m = *oracle = NULL;
    int rc = mp_plan_metrics_of(m, p, l, err);
    if (rc || !q) return rc;
    mp_plan_result *o = NULL;
    if (mp_plan_evaluate(&o, l, q, why) == 0) {
        *oracle = o->metrics;
        o->metrics = NULL;
    }
    mp_plan_result_destroy(o);
    return 0;
}

/* Reads OTHER for --eval (steps summed) and checks it has the plan's shape. */
static int read_other(const plan_args *a, const mp_plan *p, mp_loads **out, mp_err *err)
{
    mp_read_opts ro = cli_read_opts(&a->c);
    ro.format = MP_FMT_AUTO;
    int rc = mp_loads_read(out, a->eval, &ro, 0, err);
    if (rc) return rc;
    if ((*out)->layers != p->layers || (*out)->experts != p->routed) {
        rc = mp_err_set(err, MP_ESHAPE, "%s: has %d layers x %d experts, the plan is for %d x %d: not the same model",
                        a->eval, (*out)->layers, (*out)->experts, p->layers, p->routed);
        mp_loads_destroy(*out);
        *out = NULL;
    }
    return rc;
}

static void add_eval(cli_doc *d, const char *prefix, const mp_plan_metrics *m, const mp_plan_metrics *o)
{
    char k[64];
    snprintf(k, sizeof k, "%s_max_over_mean", prefix);
    cli_doc_num(d, k, m->mean_max_over_mean, 5);
    snprintf(k, sizeof k, "%s_worst_max_over_mean", prefix);
    cli_doc_num(d, k, m->worst_max_over_mean, 5);
    snprintf(k, sizeof k, "%s_vllm_balancedness", prefix);
    cli_doc_num(d, k, m->vllm_balancedness, 5);
    snprintf(k, sizeof k, "%s_oracle_max_over_mean", prefix);
    cli_doc_num(d, k, o ? o->mean_max_over_mean : NAN, 5);
}

/* The migration curve (the move path) as a table. */
static void add_path(cli_doc *d, const mp_move_path *mp)
{
    cli_tab *t = cli_doc_table(d, "migration", "migration path: layers in order of gain per copy moved (taken: moved)");
    cli_tab_col(t, "layer", -1);
    cli_tab_col(t, "moves", -1);
    cli_tab_col(t, "cum_moves", -1);
    cli_tab_col(t, "cum_GB", 3);
    cli_tab_col(t, "max_over_mean", 5);
    cli_tab_col(t, "knee", -1);
    cli_tab_col(t, "taken", -1);
    for (int32_t i = 0; i < mp->n; i++) {
        const mp_move_step *st = &mp->step[i];
        cli_tab_int(t, st->layer);
        cli_tab_int(t, st->moves);
        cli_tab_int(t, st->cum_moves);
        cli_tab_num(t, (double)st->cum_bytes / 1e9);
        cli_tab_num(t, st->max_over_mean);
        cli_tab_str(t, i + 1 == mp->knee ? "knee" : "-");
        cli_tab_str(t, st->taken ? "yes" : "no");
    }
}

/* An engine file (sglang, trtllm, vllm, vllm-ascend): checked as its engine
 * reads it, against --experts, --gpus and --model when given. */
static int check_engine_file(const plan_args *a, const mp_engine_info *in)
{
    cli_doc *d = cli_doc_create("moeplace.plan.check");
    cli_doc_str(d, "file", a->check);
    cli_doc_str(d, "valid", "yes");
    cli_doc_str(d, "kind", mp_export_name(in->kind));
    cli_doc_int(d, "layers", in->rows);
    cli_doc_int(d, "moe_layers", in->moe_layers);
    cli_doc_int(d, "experts", in->experts);
    cli_doc_int(d, "slots", in->slots);
    if (in->gpus > 0) {
        cli_doc_int(d, "gpus", in->gpus);
        cli_doc_int(d, "slots_per_gpu", in->slots / in->gpus);
    } else {
        cli_doc_str(d, "gpus", "-");
    }
    cli_doc_int(d, "max_replicas", in->max_replicas);
    if (in->duplicates >= 0) cli_doc_int(d, "duplicates", in->duplicates);
    else cli_doc_str(d, "duplicates", "-");
    int rc = cli_doc_emit(d, &a->c);
    cli_doc_destroy(d);
    return rc;
}

static int do_check(const plan_args *a)
{
    mp_err err = {0}, why = {0};
    mp_plan *p;
    double *w;
    mp_plan_result *r;
    mp_engine_expect x = {a->experts, a->gpus, a->c.has_model ? &a->c.model : NULL};
    mp_engine_info info;
    int erc = mp_engine_file_check(a->check, &x, &info, &err);
    if (erc == 0 && a->eval)
        return cli_usage_error("plan", "--eval judges a moeplace plan file, not a %s file", mp_export_name(info.kind));
    if (erc == 0) return check_engine_file(a, &info);
    if (erc != MP_ENOTFOUND) return cli_fail(&err);
    if (mp_plan_read_json(&p, &w, a->check, &err) || mp_plan_result_of_load(&r, p, w, &err)) return cli_fail(&err);
    mp_loads *other = NULL;
    mp_plan_metrics *em = NULL, *eo = NULL;
    if (a->eval) {
        /* the oracle: the plan file's strategy (the default one when it is not in the registry) and topology */
        const mp_plan *pl = r->plan;
        mp_plan_request q;
        memset(&q, 0, sizeof q);
        q.strategy = mp_strategy_find(pl->strategy) ? pl->strategy : "robust";
        q.topo = pl->topo;
        q.top_k = pl->model.top_k;
        q.shared_fusion = pl->shared_id >= 0 ? mp_plan_count(pl, 0, pl->shared_id) : 0;
        if (read_other(a, pl, &other, &err) || judge(pl, other, &q, &em, &eo, &why, &err)) {
            mp_loads_destroy(other);
            mp_plan_result_destroy(r);
            return cli_fail(&err);
        }
    }
    cli_doc *d = cli_doc_create("moeplace.plan.check");
    cli_doc_str(d, "file", a->check);
    cli_doc_str(d, "valid", "yes");
    add_summary(d, r->plan, r->metrics);
    if (em) {
        cli_doc_str(d, "eval", a->eval);
        add_eval(d, "eval", em, eo);
    }
    int rc = cli_doc_emit(d, &a->c);
    cli_doc_destroy(d);
    mp_plan_metrics_destroy(em);
    mp_plan_metrics_destroy(eo);
    mp_loads_destroy(other);
    mp_plan_result_destroy(r);
    return rc;
}

/* eplb.py plans GPUs that do not split over the nodes when the groups do
 * not either (G % N != 0): its global policy ignores nodes.  The plan is then
 * eplb-global on one node, and stderr says so. */
static int eplb_global_fallback(plan_args *a, const mp_loads *l)
{
    const char *s = a->req.strategy ? a->req.strategy : "";
    int32_t N = a->nodes > 0 ? a->nodes : 1, G = a->req.groups > 0 ? a->req.groups : l->has_model ? l->model.groups : 1;
    if (G < 1) G = 1;
    if (a->gpus % N == 0 || !(strcmp(s, "eplb-global") == 0 || (strcmp(s, "eplb") == 0 && G % N != 0))) return 0;
    cli_message("moeplace: plan: %d GPUs do not split over %d nodes: DeepSeek's EPLB falls back to its global "
                "policy, which ignores nodes; the plan is eplb-global on 1 node", a->gpus, N);
    a->nodes = 1;
    a->req.strategy = "eplb-global";
    return 1;
}

/* --holdout-by rank: the trace's tokens counted by source rank, the last
 * ranks' into *held. */
static int split_ranks(plan_args *a, mp_loads **train, mp_loads **held, mp_err *err)
{
    mp_read_opts ro = cli_read_opts(&a->c);
    int is_loads = 0;
    int rc = mp_loads_input(a->input, &ro, &is_loads, err);
    if (rc) return rc;
    if (is_loads) return mp_err_set(err, MP_EINVAL, "holdout: a load file records no source ranks to split by");
    mp_trace_source *ts = NULL;
    int32_t R = 0, H = 0;
    if ((rc = mp_trace_source_open(&ts, a->input, &ro, err))) return rc;
    if ((rc = mp_source_ranks(&ts->src, &R, err)) == 0) {
        if (R == 0) rc = mp_err_set(err, MP_EINVAL, "holdout: the trace records no source ranks to split by");
        else rc = mp_holdout_ranks(R, a->holdout, &H, err);
    }
    if (rc == 0) rc = mp_loads_split_rank(train, held, &ts->src, mp_trace_model(ts->trace), R - H, err);
    mp_trace_source_close(ts);
    a->train_ranks = R - H;
    a->holdout_ranks = H;
    return rc;
}

static int do_plan(plan_args *a, const mp_loads *all)
{
    mp_err err = {0}, why = {0};
    eplb_global_fallback(a, all);
    mp_loads *train = NULL, *held = NULL, *other = NULL;
    const mp_loads *l = all;
    if (a->holdout > 0 && a->by_rank) {
        if (split_ranks(a, &train, &held, &err)) {
            cli_message("moeplace: %s: %s", a->input, err.msg);
            return CLI_EDATA;
        }
        l = train;
    } else if (a->holdout > 0) {
        if (mp_loads_split_time(&train, &held, all, a->holdout, &err)) {
            cli_message("moeplace: %s: %s", a->input, err.msg);
            return CLI_EDATA;
        }
        l = train;
    }
    mp_plan_result *res = NULL;
    mp_plan *old = NULL;
    mp_move_path *path = NULL;
    mp_plan_metrics *hm = NULL, *ho = NULL, *em = NULL, *eo = NULL;
    double *judge_load = NULL;
    int rc = CLI_OK;
    if (make_request(a, l, a->req.strategy ? a->req.strategy : "robust", 0, &err)) {
        rc = cli_topology_error("plan", &err);
        goto out;
    }
    if (mp_plan_evaluate(&res, l, &a->req, &err)) goto fail;
    mp_plan *p = res->plan;
    mp_migration mig = {-1, 0, 0};
    if (a->from) {
        if (mp_plan_read_json(&old, NULL, a->from, &err)) goto fail;
        const mp_model *md = p->model.hidden > 0 && p->model.intermediate > 0 ? &p->model : &old->model;
        double wb = a->weight_bytes > 0 ? a->weight_bytes
                    : md->weight_bits > 0 ? md->weight_bits / 8.0 : CLI_WEIGHT_BYTES_DEFAULT;
        int64_t bpe = (int64_t)llround(3.0 * md->hidden * md->intermediate * wb);
        if (mp_plan_migrate(p, old, bpe, &mig, &err)) goto fail;
        if (bpe <= 0)
            cli_message("moeplace plan: %s has no model shape: the bytes moved are not known (give --model)",
                        a->input);
        /* the move path, judged on the held-out steps when there are some (gains the plan has not seen) */
        judge_load = held ? mp_plan_expert_loads(p, held) : NULL;
        if (held && !judge_load) {
            mp_err_set(&err, MP_ENOMEM, "plan: out of memory");
            goto fail;
        }
        if (mp_move_path_build(&path, old, p, judge_load ? judge_load : res->load, bpe, &err)) goto fail;
        mp_move_path_choose(path, a->max_moves, a->move_budget, -1);
        if (mp_move_path_apply(p, old, path, &err) || mp_plan_result_update(res, &err)) goto fail;
        mig.moved_experts = path->chosen_moves;
        mig.moved_bytes = path->chosen_bytes;
        mig.kept_experts = (int64_t)p->layers * p->slots - path->chosen_moves;
    }
    if (held && judge(p, held, &a->req, &hm, &ho, &why, &err)) goto fail;
    if (a->eval) {
        if (read_other(a, p, &other, &err)) {
            rc = cli_fail(&err);
            goto out;
        }
        if (judge(p, other, &a->req, &em, &eo, &why, &err)) goto fail;
    }
    if (a->export_name) {
        if (mp_export_decoder_unknown(p, a->export_kind))
            cli_message("moeplace: plan: warning: %s counts decoder layers, dense ones included, and the model does "
                        "not say which are MoE: the %d MoE layers are written as decoder layers 0..%d (give the "
                        "model: --model)",
                        mp_export_name(a->export_kind), p->layers, p->layers - 1);
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
        if (held) {
            cli_doc_num(d, "holdout", a->holdout, 3);
            if (a->by_rank) {
                cli_doc_str(d, "holdout_by", "rank");
                cli_doc_int(d, "train_ranks", a->train_ranks);
                cli_doc_int(d, "holdout_ranks", a->holdout_ranks);
            } else {
                cli_doc_int(d, "train_steps", train->steps);
                cli_doc_int(d, "holdout_steps", held->steps);
            }
            cli_doc_num(d, "insample_max_over_mean", res->metrics->mean_max_over_mean, 5);
            add_eval(d, "holdout", hm, ho);
        }
        if (em) add_eval(d, "eval", em, eo);
        if (a->from) {
            cli_doc_int(d, "moved_experts", mig.moved_experts);
            cli_doc_int(d, "kept_experts", mig.kept_experts);
            cli_doc_int(d, "moved_bytes", mig.moved_bytes);
            cli_doc_int(d, "replan_moves", path->total_moves);
            cli_doc_int(d, "replan_bytes", path->total_moves * path->bytes_per_expert);
            cli_doc_str(d, "move_rule", a->max_moves >= 0 || a->move_budget >= 0 ? "budget" : "knee");
            cli_doc_str(d, "move_judged_on", held ? "held-out steps" : "input loads");
            cli_doc_num(d, "from_max_over_mean", path->start_max_over_mean, 5);
            cli_doc_num(d, "replan_max_over_mean", path->full_max_over_mean, 5);
            cli_doc_num(d, "moved_max_over_mean", path->chosen_max_over_mean, 5);
        }
        add_layers(d, res->metrics, hm);
        if (path) add_path(d, path);
        rc = cli_doc_stdout(d, &a->c);
        cli_doc_destroy(d);
    }
    goto out;
fail:
    rc = cli_fail(&err);
out:
    mp_plan_metrics_destroy(hm);
    mp_plan_metrics_destroy(ho);
    mp_plan_metrics_destroy(em);
    mp_plan_metrics_destroy(eo);
    mp_move_path_destroy(path);
    free(judge_load);
    mp_plan_destroy(old);
    mp_plan_result_destroy(res);
    mp_loads_destroy(train);
    mp_loads_destroy(held);
    mp_loads_destroy(other);
    return rc;
}

int cmd_plan(int argc, char **argv)
{
    plan_args a;
    memset(&a, 0, sizeof a);
    cli_args A;
    int prc = cli_args_parse(&A, &a.c, "plan", argc, argv);
    if (prc) return prc;
    a.input = cli_str(&A, CLI_O_LOADS);
    a.step_end = -1;
    a.steps_set = cli_range(&A, CLI_O_STEPS, &a.step_begin, &a.step_end);
    a.req.strategy = cli_str(&A, CLI_O_STRATEGY);
    a.gpus = cli_int(&A, CLI_O_GPUS, 0);
    a.nodes = cli_int(&A, CLI_O_NODES, 1);
    a.redundant = cli_int(&A, CLI_O_REDUNDANT, 0);
    a.redundant_set = cli_has(&A, CLI_O_REDUNDANT) > 0;
    a.spg = cli_int(&A, CLI_O_SLOTS_PER_GPU, 0);
    a.spg_set = cli_has(&A, CLI_O_SLOTS_PER_GPU) > 0;
    a.req.groups = cli_int(&A, CLI_O_GROUPS, 0);
    a.experts = cli_int(&A, CLI_O_EXPERTS, 0);
    a.req.top_k = cli_int(&A, CLI_O_TOP_K, 0);
    a.req.locality = cli_num(&A, CLI_O_LOCALITY, 0);
    a.req.batch_tokens = cli_num(&A, CLI_O_BATCH_TOKENS, 0);
    a.req.shared_fusion = cli_int(&A, CLI_O_SHARED_FUSION, 0);
    a.from = cli_str(&A, CLI_O_FROM);
    a.weight_bytes = cli_num(&A, CLI_O_WEIGHT_BYTES, -1); /* -1: the model's weight bits, else the default */
    a.export_name = cli_str(&A, CLI_O_EXPORT);
    static const mp_export exports[] = {MP_EXPORT_SGLANG, MP_EXPORT_TRTLLM, MP_EXPORT_VLLM, MP_EXPORT_VLLM_ASCEND,
                                        MP_EXPORT_CSV}; /* as the row lists them */
    a.export_kind = exports[cli_enum(&A, CLI_O_EXPORT, 0)];
    a.compare = cli_str(&A, CLI_O_COMPARE);
    a.eval = cli_str(&A, CLI_O_EVAL);
    a.holdout = cli_num(&A, CLI_O_HOLDOUT, 0);
    a.by_rank = cli_enum(&A, CLI_O_HOLDOUT_BY, 0) == 1;
    a.max_moves = cli_i64(&A, CLI_O_MAX_MOVES, -1);
    a.move_budget = -1;
    if (cli_has(&A, CLI_O_MOVE_BUDGET) && cli_parse_bytes("plan", "--move-budget", cli_str(&A, CLI_O_MOVE_BUDGET), &a.move_budget))
        return CLI_EUSAGE;
    a.check = cli_str(&A, CLI_O_PLAN_CHECK);
    const cli_engine *eng = cli_engine_of(&A);
    if (eng && !a.export_name && !a.compare && !a.check) { /* the engine's file, unless --export says otherwise */
        int i = cli_enum_word(CLI_O_EXPORT, eng->exportn);
        if (i < 0 || i >= (int)(sizeof exports / sizeof exports[0]))
            return cli_usage_error("plan", "--engine %s writes the %s export, which this build lacks: give --export",
                                   eng->name, eng->exportn);
        a.export_name = eng->exportn;
        a.export_kind = exports[i];
    }
    if (a.c.help) return cli_help(stdout, "plan");
    cli_io_guard g;
    cli_io_guard_init(&g, "plan");
    cli_io_guard_add_output(&g, a.c.output);
    if (a.check) {
        if (A.first != argc || a.input) return cli_usage_error("plan", "--check takes no other input");
        if (a.holdout > 0 || a.from || a.max_moves >= 0 || a.move_budget >= 0)
            return cli_usage_error("plan", "--check takes --eval only (no --holdout, --from or move budget)");
        cli_io_guard_add_input(&g, a.check);
        cli_io_guard_add_input(&g, a.eval);
        int grc = cli_io_guard_check(&g);
        return grc ? grc : do_check(&a);
    }
    if (A.first < argc) {
        if (a.input || A.first + 1 != argc) return cli_usage_error("plan", "wants one input: TRACE or --loads FILE");
        a.input = argv[A.first];
    }
    if (!a.input) return cli_usage_error("plan", "wants an input: TRACE or --loads FILE");
    if (a.gpus < 1) return cli_usage_error("plan", "wants --gpus P");
    if (a.req.strategy && !a.compare && !mp_strategy_find(a.req.strategy))
        return cli_usage_error("plan", "unknown strategy '%s'", a.req.strategy);
    if (a.compare && (a.from || a.export_name || a.holdout > 0 || a.eval))
        return cli_usage_error("plan", "--compare does not combine with --from, --export, --holdout or --eval");
    if (cli_has(&A, CLI_O_HOLDOUT_BY) && !(a.holdout > 0))
        return cli_usage_error("plan", "--holdout-by says what --holdout F holds out: give --holdout F");
    if (a.by_rank && a.steps_set)
        return cli_usage_error("plan", "--holdout-by rank splits the whole trace: no --steps with it");
    if ((a.max_moves >= 0 || a.move_budget >= 0) && !a.from)
        return cli_usage_error("plan", "--max-moves and --move-budget limit a migration: give --from OLD.json");
    cli_io_guard_add_input(&g, a.input);
    cli_io_guard_add_input(&g, a.from);
    cli_io_guard_add_input(&g, a.eval);
    int grc = cli_io_guard_check(&g);
    if (grc) return grc;

    mp_err err = {0};
    mp_loads *l;
    if (read_loads(&a, &l, a.holdout > 0 && !a.by_rank && !a.compare, &err)) return cli_fail(&err);
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
