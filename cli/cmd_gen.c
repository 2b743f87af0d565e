/* cmd_gen.c - `moeplace gen`: synthetic group-top-k routing traces. */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/io_guard.h"
#include "traces/gen/mp_gen.h"
#include "traces/formats/mp_trace.h"

const char cmd_gen_usage[] =
    "usage: moeplace gen [--preset NAME] [options] -o OUT\n"
    "       moeplace gen --list-presets [--format table|json|csv]\n"
    "\n"
    "Generates a synthetic routing trace that behaves like a real MoE router:\n"
    "per token and layer, scores from the layer's expert popularity plus token\n"
    "noise, group-limited top-k selection, gate weights.  Any output format\n"
    "convert writes (.mpt .npy .csv .json); the same --seed gives the same file\n"
    "with any --threads.\n"
    "\n"
    "  --preset NAME           model shape (default deepseek-v3; see --list-presets)\n"
    "  --list-presets          print the presets and exit\n"
    "  --layers N, --experts E, --top-k K, --groups G, --topk-group N, --shared N\n"
    "                          override fields of the preset\n"
    "  --skew SPEC             uniform, zipf:S, lognormal:SIGMA, chat, mixed (default)\n"
    "                          or narrow\n"
    "  --group-skew X          make some groups hotter as a whole (sigma of log factors)\n"
    "  --layer-affinity A      0..1: a token's experts at layer l predict those at l+1\n"
    "  --topics N              topics that tilt popularity; a request keeps its topic\n"
    "  --topic-strength X      sigma of a topic's tilt of log-popularity (default 1)\n"
    "  --dp-ranks R            source ranks requests come from (recorded when R > 1)\n"
    "  --rank-topic-bias B     0..1: chance a request takes its rank's home topic\n"
    "  --drift RATE            random walk of log-popularity per step (sigma)\n"
    "  --shift-at STEP         abrupt change of the popularity order at STEP\n"
    "  --phase prefill|decode  run shape: 8 x 4096 tokens or 64 x 256 (default prefill)\n"
    "  --steps S               forward passes\n"
    "  --tokens-per-step T     tokens per forward pass\n"
    "  --request-tokens N      prefill: tokens per request (default 512)\n"
    "  --exact                 faithful scorer over all experts (slow) instead of the\n"
    "                          fast sampler\n"
    "  --no-weights            do not write gate weights\n"
    "  --seed N                random seed (default 1)\n"
    "  -o, --output OUT        output file (required)\n"
    "  --to FMT                output format when the name does not say\n"
    "  -j, --threads N         worker threads (output does not depend on it)\n"
    "  -q, --quiet             no progress bar\n"
    "  --format F              --list-presets: table (default), json or csv\n";

enum {
    OPT_PRESET = CLI_OPT_OWN,
    OPT_LIST,
    OPT_LAYERS,
    OPT_EXPERTS,
    OPT_TOPK,
    OPT_GROUPS,
    OPT_TOPKG,
    OPT_SHARED,
    OPT_SKEW,
    OPT_GSKEW,
    OPT_AFF,
    OPT_TOPICS,
    OPT_TSTR,
    OPT_RANKS,
    OPT_RBIAS,
    OPT_DRIFT,
    OPT_SHIFT,
    OPT_PHASE,
    OPT_STEPS,
    OPT_TPS,
    OPT_REQ,
    OPT_EXACT,
    OPT_NOW
};

static int list_presets(const cli_common *c)
{
    int n;
    const mp_gen_preset *p = mp_gen_presets(&n);
    cli_doc *d = cli_doc_create("moeplace.presets");
    cli_tab *t = cli_doc_table(d, "presets", "model presets");
    const char *cols[] = {"preset", "moe_layers", "layers", "experts", "top_k", "groups", "topk_group", "shared_experts",
                          "hidden", "intermediate", "scoring", "normalize_topk"};
    for (size_t i = 0; i < sizeof cols / sizeof cols[0]; i++) cli_tab_col(t, cols[i], -1);
    cli_tab_col(t, "routed_scaling", 3);
    for (int i = 0; i < n; i++) {
        const mp_model *m = &p[i].model;
        cli_tab_str(t, m->name);
        cli_tab_int(t, m->layers);
        cli_tab_int(t, p[i].total_layers);
        cli_tab_int(t, m->experts);
        cli_tab_int(t, m->top_k);
        cli_tab_int(t, m->groups);
        cli_tab_int(t, m->topk_group);
        cli_tab_int(t, m->shared);
        cli_tab_int(t, m->hidden);
        cli_tab_int(t, m->intermediate);
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
    static const struct option opts[] = {CLI_COMMON_LONG,
                                         {"preset", required_argument, NULL, OPT_PRESET},
                                         {"list-presets", no_argument, NULL, OPT_LIST},
                                         {"layers", required_argument, NULL, OPT_LAYERS},
                                         {"experts", required_argument, NULL, OPT_EXPERTS},
                                         {"top-k", required_argument, NULL, OPT_TOPK},
                                         {"groups", required_argument, NULL, OPT_GROUPS},
                                         {"topk-group", required_argument, NULL, OPT_TOPKG},
                                         {"shared", required_argument, NULL, OPT_SHARED},
                                         {"skew", required_argument, NULL, OPT_SKEW},
                                         {"group-skew", required_argument, NULL, OPT_GSKEW},
                                         {"layer-affinity", required_argument, NULL, OPT_AFF},
                                         {"topics", required_argument, NULL, OPT_TOPICS},
                                         {"topic-strength", required_argument, NULL, OPT_TSTR},
                                         {"dp-ranks", required_argument, NULL, OPT_RANKS},
                                         {"rank-topic-bias", required_argument, NULL, OPT_RBIAS},
                                         {"drift", required_argument, NULL, OPT_DRIFT},
                                         {"shift-at", required_argument, NULL, OPT_SHIFT},
                                         {"phase", required_argument, NULL, OPT_PHASE},
                                         {"steps", required_argument, NULL, OPT_STEPS},
                                         {"tokens-per-step", required_argument, NULL, OPT_TPS},
                                         {"request-tokens", required_argument, NULL, OPT_REQ},
                                         {"exact", no_argument, NULL, OPT_EXACT},
                                         {"no-weights", no_argument, NULL, OPT_NOW},
                                         {NULL, 0, NULL, 0}};
    cli_common c;
    cli_common_init(&c, "gen");
    mp_gen_opts go;
    mp_gen_opts_default(&go);
    mp_err err = {0};
    const char *preset = "deepseek-v3";
    int list = 0, decode = 0, o;
    /* overrides, applied after the preset and phase: -1 = not given */
    int ov[6] = {-1, -1, -1, -1, -1, -1};
    int64_t steps = -1, tps = -1, req = -1;
    while ((o = getopt_long(argc, argv, CLI_COMMON_SHORT, opts, NULL)) != -1) {
        int h = cli_common_option(&c, o, optarg);
        if (h < 0) return -h;
        if (h) continue;
        int bad = 0;
        switch (o) {
        case OPT_PRESET: preset = optarg; break;
        case OPT_LIST: list = 1; break;
        case OPT_LAYERS: bad = cli_parse_int("gen", "--layers", optarg, 1, MP_LAYERS_MAX, &ov[0]); break;
        case OPT_EXPERTS: bad = cli_parse_int("gen", "--experts", optarg, 1, MP_EXPERTS_MAX, &ov[1]); break;
        case OPT_TOPK: bad = cli_parse_int("gen", "--top-k", optarg, 1, MP_TOPK_MAX, &ov[2]); break;
        case OPT_GROUPS: bad = cli_parse_int("gen", "--groups", optarg, 1, MP_EXPERTS_MAX, &ov[3]); break;
        case OPT_TOPKG: bad = cli_parse_int("gen", "--topk-group", optarg, 1, MP_EXPERTS_MAX, &ov[4]); break;
        case OPT_SHARED: bad = cli_parse_int("gen", "--shared", optarg, 0, 1024, &ov[5]); break;
        case OPT_SKEW:
            if (mp_skew_parse(optarg, &go.skew, &err)) return cli_usage_error("gen", "%s", err.msg);
            break;
        case OPT_GSKEW: bad = cli_parse_double("gen", "--group-skew", optarg, 0, 10, &go.group_skew); break;
        case OPT_AFF: bad = cli_parse_double("gen", "--layer-affinity", optarg, 0, 1, &go.layer_affinity); break;
        case OPT_TOPICS: bad = cli_parse_int("gen", "--topics", optarg, 1, 4096, &go.topics); break;
        case OPT_TSTR: bad = cli_parse_double("gen", "--topic-strength", optarg, 0, 10, &go.topic_strength); break;
        case OPT_RANKS: bad = cli_parse_int("gen", "--dp-ranks", optarg, 1, 65536, &go.dp_ranks); break;
        case OPT_RBIAS: bad = cli_parse_double("gen", "--rank-topic-bias", optarg, 0, 1, &go.rank_topic_bias); break;
        case OPT_DRIFT: bad = cli_parse_double("gen", "--drift", optarg, 0, 10, &go.drift); break;
        case OPT_SHIFT: bad = cli_parse_i64("gen", "--shift-at", optarg, 1, INT64_MAX, &go.shift_at); break;
        case OPT_PHASE:
            if (strcmp(optarg, "prefill") == 0) decode = 0;
            else if (strcmp(optarg, "decode") == 0) decode = 1;
            else return cli_usage_error("gen", "--phase wants prefill or decode, not '%s'", optarg);
            break;
        case OPT_STEPS: bad = cli_parse_i64("gen", "--steps", optarg, 1, (int64_t)1 << 40, &steps); break;
        case OPT_TPS: bad = cli_parse_i64("gen", "--tokens-per-step", optarg, 1, (int64_t)1 << 31, &tps); break;
        case OPT_REQ: bad = cli_parse_i64("gen", "--request-tokens", optarg, 1, INT32_MAX, &req); break;
        case OPT_EXACT: go.exact = 1; break;
        case OPT_NOW: go.with_weights = 0; break;
        default: return cli_usage_error("gen", "unexpected option");
        }
        if (bad) return CLI_EUSAGE;
    }
    if (c.help) {
        fputs(cmd_gen_usage, stdout);
        return CLI_OK;
    }
    if (optind != argc) return cli_usage_error("gen", "takes no file arguments (write with -o OUT)");
    if (list) return list_presets(&c);
    if (!c.output) return cli_usage_error("gen", "needs -o OUT");
    {
        cli_io_guard g;
        cli_io_guard_init(&g, "gen");
        cli_io_guard_add_output(&g, c.output);
        int grc = cli_io_guard_check(&g);
        if (grc) return grc;
    }
    if (mp_gen_preset_find(preset, &go.model, &err)) return cli_usage_error("gen", "%s", err.msg);
    mp_gen_opts_phase(&go, decode);
    if (ov[0] >= 0) go.model.layers = ov[0];
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
