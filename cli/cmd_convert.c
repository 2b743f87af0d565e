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
    "whole or not at all.\n"
    "\n"
    "  -o, --output OUT       output file (required)\n"
    "  --input-format FMT, --to FMT  mpt, npy, csv or json\n"
    "  --layout LTK|TLK       npy input: axis order of a 3-D array\n"
    "  --weights FILE         npy: gate weights to read (input) or write (output)\n"
    "  --experts E            npy/csv input: number of experts (else max id + 1)\n"
    "  --tokens-per-step T    npy input: split the array into steps of T tokens\n"
    "  --level N              mpt output: zlib level 1..9 (default 1)\n"
    "  --per-step             json output: one load matrix per step [S][L][E]\n"
    "  --no-weights           drop gate weights\n"
    "  -j, --threads N        compression/decoding threads\n"
    "  -q, --quiet            no progress bar\n";

/* Copies the trace like mp_trace_copy and finds the largest id (for what a .npy output loses). */
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

enum { OPT_LAYOUT = CLI_OPT_OWN, OPT_WEIGHTS, OPT_EXPERTS, OPT_TPS, OPT_LEVEL, OPT_PER_STEP, OPT_NO_WEIGHTS };

int cmd_convert(int argc, char **argv)
{
    static const struct option opts[] = {CLI_COMMON_LONG,
                                         {"layout", required_argument, NULL, OPT_LAYOUT},
                                         {"weights", required_argument, NULL, OPT_WEIGHTS},
                                         {"experts", required_argument, NULL, OPT_EXPERTS},
                                         {"tokens-per-step", required_argument, NULL, OPT_TPS},
                                         {"level", required_argument, NULL, OPT_LEVEL},
                                         {"per-step", no_argument, NULL, OPT_PER_STEP},
                                         {"no-weights", no_argument, NULL, OPT_NO_WEIGHTS},
                                         {NULL, 0, NULL, 0}};
    cli_common c;
    cli_common_init(&c, "convert");
    mp_read_opts ro;
    mp_write_opts wo;
    memset(&wo, 0, sizeof wo);
    mp_model hint = mp_model_default();
    hint.groups = hint.topk_group = 0;
    int have_hint = 0, no_weights = 0, o;
    mp_npy_layout layout = MP_NPY_AUTO;
    const char *weights = NULL;
    int64_t tps = 0;
    while ((o = getopt_long(argc, argv, CLI_COMMON_SHORT, opts, NULL)) != -1) {
        int h = cli_common_option(&c, o, optarg);
        if (h < 0) return -h;
        if (h) continue;
        switch (o) {
        case OPT_LAYOUT:
            if (strcmp(optarg, "LTK") == 0 || strcmp(optarg, "ltk") == 0) layout = MP_NPY_LTK;
            else if (strcmp(optarg, "TLK") == 0 || strcmp(optarg, "tlk") == 0) layout = MP_NPY_TLK;
            else return cli_usage_error("convert", "--layout wants LTK or TLK, not '%s'", optarg);
            break;
        case OPT_WEIGHTS: weights = optarg; break;
        case OPT_EXPERTS:
            if (cli_parse_int("convert", "--experts", optarg, 1, MP_EXPERTS_MAX, &hint.experts)) return CLI_EUSAGE;
            have_hint = 1;
            break;
        case OPT_TPS:
            if (cli_parse_i64("convert", "--tokens-per-step", optarg, 1, INT64_MAX, &tps)) return CLI_EUSAGE;
            break;
        case OPT_LEVEL:
            if (cli_parse_int("convert", "--level", optarg, 1, 9, &wo.level)) return CLI_EUSAGE;
            break;
        case OPT_PER_STEP: wo.loads_per_step = 1; break;
        case OPT_NO_WEIGHTS: no_weights = 1; break;
        default: return cli_usage_error("convert", "unexpected option");
        }
    }
    if (c.help) {
        fputs(cmd_convert_usage, stdout);
        return CLI_OK;
    }
    if (optind + 1 != argc) return cli_usage_error("convert", "wants exactly one input file");
    if (!c.output) return cli_usage_error("convert", "needs -o OUT");
    const char *in = argv[optind];
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
    if (inf == MP_FMT_JSON) {
        /* loads to loads only */
        if (of != MP_FMT_JSON)
            return cli_message("moeplace: %s: a load file cannot become per-token routing (%s)", in, mp_format_name(of)),
                   CLI_EDATA;
        mp_loads *l;
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
