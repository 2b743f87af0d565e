/* cmd_gen.c - `moeplace gen`: synthetic group-top-k routing traces. */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/io_guard.h"
#include "traces/gen/mp_gen.h"
#include "traces/formats/mp_trace.h"

const char cmd_gen_usage[] =
    "usage: moeplace gen [--preset NAME | --model CONFIG.json|PRESET] [options] -o OUT\n"
    "       moeplace gen --list-presets [--format table|json|csv]\n"
    "\n"
    "Generates a synthetic routing trace that behaves like a real MoE router:\n"
    "per token and layer, scores from the layer's expert popularity plus token\n"
    "noise, group-limited top-k selection, gate weights.  Any output format\n"
    "convert writes (.mpt .npy .csv .json); the same --seed gives the same file\n"
    "with any --threads.  --layers, --experts, --top-k, --groups, --topk-group and\n"
    "--shared override fields of the preset; --format applies to --list-presets.\n"
    "--model takes a Hugging Face config.json (or a preset name) as the shape.\n";


static int list_presets(const cli_common *c)
{
    int n;
    const mp_gen_preset *p = mp_gen_presets(&n);
    cli_doc *d = cli_doc_create("moeplace.presets");
    cli_tab *t = cli_doc_table(d, "presets", "model presets");
    const char *cols[] = {"preset",         "moe_layers", "decoder_layers", "moe_decoder_layers", "experts",
                          "top_k",          "groups",     "topk_group",     "shared_experts",     "hidden",
                          "intermediate",   "weight_bits", "scoring",       "normalize_topk"};
    for (size_t i = 0; i < sizeof cols / sizeof cols[0]; i++) cli_tab_col(t, cols[i], -1);
    cli_tab_col(t, "routed_scaling", 3);
    for (int i = 0; i < n; i++) {
        const mp_model *m = &p[i].model;
        cli_tab_str(t, m->name);
        cli_tab_int(t, m->layers);
        cli_tab_int(t, mp_model_decoder_count(m));
        char which[64];
        cli_moe_layers_text(m, which, sizeof which);
        cli_tab_str(t, which);
        cli_tab_int(t, m->experts);
        cli_tab_int(t, m->top_k);
        cli_tab_int(t, m->groups);
        cli_tab_int(t, m->topk_group);
        cli_tab_int(t, m->shared);
        cli_tab_int(t, m->hidden);
        cli_tab_int(t, m->intermediate);
        cli_tab_int(t, m->weight_bits);
        cli_tab_str(t, mp_scoring_name(m->scoring));
        cli_tab_str(t, m->normalize_topk ? "yes" : "no");
        cli_tab_num(t, m->routed_scaling);
    }
    int rc = cli_doc_emit(d, c);
    cli_doc_destroy(d);
    return rc;
}

int cmd_gen(int argc, char **argv)
{
    cli_common c;
    cli_args A;
    int prc = cli_args_parse(&A, &c, "gen", argc, argv);
    if (prc) return prc;
    mp_gen_opts go;
    mp_gen_opts_default(&go);
    mp_err err = {0};
    const char *preset = cli_has(&A, CLI_O_PRESET) ? cli_str(&A, CLI_O_PRESET) : "deepseek-v3";
    int list = cli_has(&A, CLI_O_LIST_PRESETS) > 0, decode = cli_enum(&A, CLI_O_PHASE, 0) == 1;
    /* overrides, applied after the preset and phase: -1 = not given */
    int ov[6] = {cli_int(&A, CLI_O_GEN_LAYERS, -1), cli_int(&A, CLI_O_EXPERTS, -1),    cli_int(&A, CLI_O_TOP_K, -1),
                 cli_int(&A, CLI_O_GROUPS, -1),     cli_int(&A, CLI_O_TOPK_GROUP, -1), cli_int(&A, CLI_O_SHARED, -1)};
    int64_t steps = cli_i64(&A, CLI_O_GEN_STEPS_N, -1), tps = cli_i64(&A, CLI_O_GEN_TPS, -1),
            req = cli_i64(&A, CLI_O_REQUEST_TOKENS, -1);
    char msg[2 * MP_ERR_MSG_MAX];
    if (cli_has(&A, CLI_O_SKEW) && mp_skew_parse(cli_str(&A, CLI_O_SKEW), &go.skew, &err)) {
        /* "skew zipf:S wants ..." is about the flag's value; "unknown skew ..." says itself */
        if (!strncmp(err.msg, "skew ", 5)) cli_flag_msg(err.msg, "skew", "--skew", msg, sizeof msg);
        else snprintf(msg, sizeof msg, "%s", err.msg);
        return cli_usage_error("gen", "%s", msg);
    }
    go.group_skew = cli_num(&A, CLI_O_GROUP_SKEW, go.group_skew);
    go.layer_affinity = cli_num(&A, CLI_O_LAYER_AFFINITY, go.layer_affinity);
    go.topics = cli_int(&A, CLI_O_TOPICS, go.topics);
    go.topic_strength = cli_num(&A, CLI_O_TOPIC_STRENGTH, go.topic_strength);
    go.dp_ranks = cli_int(&A, CLI_O_DP_RANKS, go.dp_ranks);
    go.rank_topic_bias = cli_num(&A, CLI_O_RANK_TOPIC_BIAS, go.rank_topic_bias);
    go.drift = cli_num(&A, CLI_O_DRIFT, go.drift);
    go.shift_at = cli_i64(&A, CLI_O_GEN_SHIFT_AT, go.shift_at);
    if (cli_has(&A, CLI_O_EXACT)) go.exact = 1;
    if (cli_has(&A, CLI_O_NO_WEIGHTS)) go.with_weights = 0;
    if (c.help) return cli_help(stdout, "gen");
    if (A.first != argc) return cli_usage_error("gen", "takes no file arguments (write with -o OUT)");
    if (list) return list_presets(&c);
    if (!c.output) return cli_usage_error("gen", "needs -o OUT");
    {
        cli_io_guard g;
        cli_io_guard_init(&g, "gen");
        cli_io_guard_add_output(&g, c.output);
        int grc = cli_io_guard_check(&g);
        if (grc) return grc;
    }
    if (c.has_model && cli_has(&A, CLI_O_PRESET))
        return cli_usage_error("gen", "give --model or --preset, not both");
    if (c.has_model) go.model = c.model; /* a preset name or a config.json */
    else if (mp_gen_preset_find(preset, &go.model, &err))
        return cli_usage_error("gen", "%s (see --list-presets)", err.msg);
    mp_gen_opts_phase(&go, decode);
    if (ov[0] >= 0) mp_model_set_layers(&go.model, ov[0]); /* drops a decoder-layer rule that no longer holds */
    if (ov[1] >= 0) go.model.experts = ov[1];
    if (ov[2] >= 0) go.model.top_k = ov[2];
    if (ov[3] >= 0) go.model.groups = ov[3];
    if (ov[4] >= 0) go.model.topk_group = ov[4];
    if (ov[5] >= 0) go.model.shared = ov[5];
    if (ov[3] >= 0 && ov[4] < 0 && go.model.topk_group > go.model.groups) go.model.topk_group = go.model.groups;
    if (steps > 0) go.steps = steps;
    if (tps > 0) go.tokens_per_step = tps;
    if (req > 0) go.request_tokens = (int32_t)req;
    go.seed = c.seed;
    go.threads = c.threads;
    mp_format of = c.out_format != MP_FMT_AUTO ? c.out_format : mp_format_from_path(c.output);
    if (of == MP_FMT_AUTO) return cli_usage_error("gen", "cannot tell the output format of '%s' (use --to)", c.output);

    mp_gen *g;
    if (mp_gen_create(&g, &go, &err)) return cli_fail(&err);
    char *prov = mp_gen_provenance(&go);
    mp_write_opts wo;
    memset(&wo, 0, sizeof wo);
    wo.format = of;
    wo.with_weights = go.with_weights;
    wo.with_src_rank = go.dp_ranks > 1;
    wo.threads = c.threads;
    wo.provenance = prov;
    mp_writer *w;
    if (!prov || mp_writer_open(&w, c.output, mp_gen_model(g), &wo, &err)) {
        if (!prov) mp_err_set(&err, MP_ENOMEM, "gen: out of memory");
        free(prov);
        mp_gen_destroy(g);
        return cli_fail(&err);
    }
    cli_progress pr;
    cli_progress_init(&pr, &c, "generating");
    {
        const mp_model *gm = mp_gen_model(g);
        cli_progress_start(&pr, NULL, "tokens", (double)gm->layers * gm->top_k, go.steps * go.tokens_per_step * gm->layers * gm->top_k);
    }
    int rc = mp_gen_write(g, w, cli_progress_update, &pr, &err);
    cli_progress_done(&pr);
    mp_gen_destroy(g);
    free(prov);
    if (rc) {
        mp_writer_abort(w);
        return cli_fail(&err);
    }
    if (mp_writer_commit(w, &err)) return cli_fail(&err);
    return CLI_OK;
}
