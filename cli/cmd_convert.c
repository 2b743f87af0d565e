/* cmd_convert.c - `moeplace convert IN -o OUT`. */
#include <string.h>

#include "cli/cli.h"
#include "cli/io_guard.h"
#include "traces/formats/mp_loadfile.h"
#include "traces/stats/mp_loads_read.h"
#include "traces/mp_loads.h"
#include "traces/formats/mp_trace.h"

const char cmd_convert_usage[] =
    "usage: moeplace convert IN -o OUT [--input-format FMT] [--to FMT] [options]\n"
    "\n"
    "Converts a routing trace between .mpt, .npy, .csv and .json; the formats\n"
    "follow the file names unless --input-format/--to say.  A .json output holds load\n"
    "counts (SGLang logical_count), not per-token routing.  The output appears\n"
    "whole or not at all.\n";

/* Copies every piece of the trace to the writer and finds the largest id (for what a .npy output loses). */
static int copy_trace(mp_trace *t, mp_writer *w, cli_progress *pr, unsigned *max_id, mp_err *err)
{
    mp_step p = {0};
    int64_t done = 0;
    unsigned mx = 0;
    int rc;
    while ((rc = mp_trace_next(t, &p, err)) == 1) {
        if ((rc = mp_writer_put(w, &p, err)) != 0) break;
        int64_t a = mp_step_assignments(&p);
        for (int64_t i = 0; i < a; i++) mx = p.ids[i] > mx ? p.ids[i] : mx;
        done += a;
        cli_progress_update(pr, done, mp_trace_get_info(t).assignments);
    }
    mp_step_release(&p);
    *max_id = mx;
    return rc < 0 ? rc : 0;
}

/* A .npy file holds ids [T, L, K] (and weights in a second file): says on
 * standard error what of the trace it cannot keep, so that nothing is lost
 * silently.  Reading it back gives one step (or steps of --tokens-per-step),
 * no source ranks, no provenance, and a model of L and K with E = the largest
 * id + 1 (or --experts). */
static void npy_losses(const char *out, const mp_trace *t, const mp_write_opts *wo, int no_weights, unsigned max_id)
{
    mp_trace_info ti = mp_trace_get_info(t);
    const mp_model *m = mp_trace_model(t);
    mp_model d = mp_model_default();
    char list[512] = "", model[256] = "", item[96];
    int n = 0, nm = 0;
    const char *items[8];
    char steps[48];
    if (ti.steps > 1) {
        snprintf(steps, sizeof steps, "step boundaries (%lld steps)", (long long)ti.steps);
        items[n++] = steps;
    }
    if (ti.has_src_rank) items[n++] = "source ranks";
    if (ti.has_weights && !no_weights && !wo->weights_path) items[n++] = "gate weights (no --weights FILE given)";
    if (ti.provenance && strcmp(ti.provenance, "{}") != 0) items[n++] = "provenance";
#define MODEL_ITEM(cond, ...)                                                                                            do {                                                                                                                     if (cond) {                                                                                                              snprintf(item, sizeof item, __VA_ARGS__);                                                                            size_t l = strlen(model);                                                                                            snprintf(model + l, sizeof model - l, "%s%s", nm++ ? ", " : "", item);                                           }                                                                                                                } while (0)
    MODEL_ITEM(m->name[0], "name");
    MODEL_ITEM((unsigned)m->experts != max_id + 1, "expert count %d (read back as %u)", m->experts, max_id + 1);
    MODEL_ITEM(m->groups != d.groups || m->topk_group != d.topk_group, "groups");
    MODEL_ITEM(m->shared != d.shared, "shared experts");
    MODEL_ITEM(m->hidden != d.hidden || m->intermediate != d.intermediate, "sizes");
    MODEL_ITEM(m->decoder_layers > 0 || m->weight_bits != 0, "decoder layers and weight bits");
    MODEL_ITEM(m->attn != MP_ATTN_UNKNOWN || m->vocab || m->dense_intermediate || m->shared_intermediate,
               "attention and dense sizes");
    MODEL_ITEM(m->scoring != d.scoring || m->normalize_topk != d.normalize_topk ||
                   m->routed_scaling != d.routed_scaling,
               "scoring");
#undef MODEL_ITEM
    char mitem[300];
    if (nm) {
        snprintf(mitem, sizeof mitem, "the model's %s", model);
        items[n++] = mitem;
    }
    if (!n) return;
    for (int i = 0; i < n; i++) {
        size_t l = strlen(list);
        snprintf(list + l, sizeof list - l, "%s%s", i ? "; " : "", items[i]);
    }
    cli_message("moeplace convert: %s: dropped, as a .npy file cannot hold them: %s", out, list);
}

int cmd_convert(int argc, char **argv)
{
    cli_common c;
    cli_args A;
    int prc = cli_args_parse(&A, &c, "convert", argc, argv);
    if (prc) return prc;
    mp_read_opts ro;
    mp_write_opts wo;
    memset(&wo, 0, sizeof wo);
    mp_model hint = mp_model_default();
    hint.groups = hint.topk_group = 0;
    int have_hint = cli_has(&A, CLI_O_EXPERTS) > 0 || cli_has(&A, CLI_O_TOP_K) > 0;
    int no_weights = cli_has(&A, CLI_O_NO_WEIGHTS) > 0;
    hint.experts = cli_int(&A, CLI_O_EXPERTS, hint.experts);
    hint.top_k = cli_int(&A, CLI_O_TOP_K, hint.top_k);
    static const mp_npy_layout layouts[] = {MP_NPY_LTK, MP_NPY_TLK};
    mp_npy_layout layout = cli_has(&A, CLI_O_LAYOUT) ? layouts[cli_enum(&A, CLI_O_LAYOUT, 0)] : MP_NPY_AUTO;
    const char *weights = cli_str(&A, CLI_O_WEIGHTS);
    int64_t tps = cli_i64(&A, CLI_O_TPS, 0);
    wo.level = cli_int(&A, CLI_O_LEVEL, 0); /* 0: the writer's default */
    wo.loads_per_step = cli_has(&A, CLI_O_PER_STEP) > 0;
    if (c.help) return cli_help(stdout, "convert");
    if (A.first + 1 != argc) return cli_usage_error("convert", "wants exactly one input file");
    if (!c.output) return cli_usage_error("convert", "needs -o OUT");
    const char *in = argv[A.first];
    mp_format of = c.out_format != MP_FMT_AUTO ? c.out_format : mp_format_from_path(c.output);
    if (of == MP_FMT_AUTO) return cli_usage_error("convert", "cannot tell the output format of '%s' (use --to)", c.output);
    mp_format inf = c.in_format != MP_FMT_AUTO ? c.in_format : mp_format_from_path(in);
    {
        /* --weights is an output when the output is .npy, else an input */
        cli_io_guard g;
        cli_io_guard_init(&g, "convert");
        cli_io_guard_add_input(&g, in);
        cli_io_guard_add_output(&g, c.output);
        if (of == MP_FMT_NPY) cli_io_guard_add_output(&g, weights);
        else cli_io_guard_add_input(&g, weights);
        int grc = cli_io_guard_check(&g);
        if (grc) return grc;
    }

    mp_err err = {0};
    ro = cli_read_opts(&c);
    ro.npy_layout = layout;
    ro.tokens_per_step = tps;
    if (have_hint) ro.model = &hint;
    int in_loads = 0;
    if (mp_loads_input(in, &ro, &in_loads, &err)) return cli_fail(&err);
    if (in_loads) {
        /* loads to loads only */
        if (of != MP_FMT_JSON)
            return cli_message("moeplace: %s: a load file cannot become per-token routing (%s)", in, mp_format_name(of)),
                   CLI_EDATA;
        mp_loads *l;
        ro.format = inf;
        if (mp_loads_read(&l, in, &ro, 1, &err)) return cli_fail(&err);
        int rc = mp_loads_write_json(l, c.output, wo.loads_per_step, &err);
        mp_loads_destroy(l);
        return rc ? cli_fail(&err) : CLI_OK;
    }
    if (weights && inf != MP_FMT_NPY && of != MP_FMT_NPY)
        return cli_usage_error("convert", "--weights is for .npy input or output");
    if (of == MP_FMT_NPY && weights) wo.weights_path = weights;
    else if (weights) ro.weights_path = weights;
    mp_trace *t;
    if (mp_trace_open(&t, in, &ro, &err)) return cli_fail(&err);
    if (no_weights || of == MP_FMT_JSON) mp_trace_skip_weights(t); /* never written: not decoded */
    mp_trace_info ti = mp_trace_get_info(t);
    wo.format = of;
    wo.threads = c.threads;
    wo.with_weights = ti.has_weights && !no_weights;
    wo.with_src_rank = ti.has_src_rank;
    wo.provenance = ti.provenance;
    mp_writer *w;
    if (mp_writer_open(&w, c.output, mp_trace_model(t), &wo, &err)) {
        mp_trace_close(t);
        return cli_fail(&err);
    }
    cli_progress pr;
    cli_progress_init(&pr, &c, "converting");
    cli_progress_trace(&pr, NULL, t);
    unsigned max_id = 0;
    int rc = copy_trace(t, w, &pr, &max_id, &err);
    cli_progress_done(&pr);
    if (rc) {
        mp_trace_close(t);
        mp_writer_abort(w);
        return cli_fail(&err);
    }
    if (mp_writer_commit(w, &err)) {
        mp_trace_close(t);
        return cli_fail(&err);
    }
    if (of == MP_FMT_NPY) npy_losses(c.output, t, &wo, no_weights, max_id);
    mp_trace_close(t);
    return CLI_OK;
}
