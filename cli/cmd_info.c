/* cmd_info.c - `moeplace info FILE`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/io_guard.h"
#include "traces/stats/mp_loads_read.h"
#include "traces/mp_loads.h"
#include "traces/formats/mp_trace.h"

const char cmd_info_usage[] =
    "usage: moeplace info FILE [options]\n"
    "       moeplace info --model CONFIG.json|PRESET\n"
    "\n"
    "Shows the model shape, steps, tokens, assignments, on-disk and raw size of a\n"
    "routing trace (.mpt .npy .csv), or the shape and totals of a load file (.json).\n"
    "Counts a header does not hold are found by reading the file through.\n"
    "With --model alone, shows the model a config.json or preset describes.\n";

static void model_rows(cli_doc *d, const mp_model *m, int full)
{
    cli_doc_str(d, "model", m->name[0] ? m->name : "-");
    cli_doc_int(d, "layers", m->layers);
    cli_doc_int(d, "experts", m->experts);
    if (!full) return;
    cli_doc_int(d, "top_k", m->top_k);
    cli_doc_int(d, "groups", m->groups);
    cli_doc_int(d, "topk_group", m->topk_group);
    cli_doc_int(d, "shared_experts", m->shared);
    cli_doc_int(d, "hidden", m->hidden);
    cli_doc_int(d, "intermediate", m->intermediate);
    cli_doc_str(d, "scoring", mp_scoring_name(m->scoring));
    cli_doc_int(d, "decoder_layers", mp_model_decoder_count(m));
    char which[64];
    cli_moe_layers_text(m, which, sizeof which);
    cli_doc_str(d, "moe_decoder_layers", which);
    cli_doc_int(d, "weight_bits", m->weight_bits);
    if (m->attn != MP_ATTN_UNKNOWN) {
        char a[96];
        if (m->attn == MP_ATTN_MLA)
            snprintf(a, sizeof a, "mla (%d heads, kv_lora %d + rope %d)", (int)m->heads, (int)m->kv_lora_rank,
                     (int)m->qk_rope_head_dim);
        else
            snprintf(a, sizeof a, "gqa (%d heads, %d kv heads x %d)", (int)m->heads, (int)m->kv_heads,
                     (int)(m->head_dim > 0 ? m->head_dim : m->hidden / m->heads));
        cli_doc_str(d, "attention", a);
        cli_doc_int(d, "kv_bytes_per_token", mp_model_kv_bytes_per_token(m, 2.0));
    }
}

/* `info --model X` alone: the model. */
static int info_model(const cli_common *c)
{
    cli_doc *d = cli_doc_create("moeplace.info");
    cli_doc_str(d, "file", c->model_path);
    cli_doc_str(d, "kind", "model");
    model_rows(d, &c->model, 1);
    int rc = cli_doc_emit(d, c);
    cli_doc_destroy(d);
    return rc;
}

static int info_loads(const char *path, const cli_common *c, mp_format f)
{
    mp_err err = {0};
    mp_loads *l;
    mp_read_opts ro = cli_read_opts(c);
    ro.format = f;
    if (mp_loads_read(&l, path, &ro, 1, &err)) return cli_fail(&err);
    cli_doc *d = cli_doc_create("moeplace.info");
    cli_doc_str(d, "file", path);
    cli_doc_str(d, "format", mp_format_name(f));
    cli_doc_str(d, "kind", "loads");
    model_rows(d, &l->model, l->has_model);
    cli_doc_int(d, "steps", l->steps);
    double total = 0;
    int64_t cells = (int64_t)l->steps * l->layers * l->experts;
    for (int64_t i = 0; i < cells; i++) total += l->count[i];
    cli_doc_num(d, "total_load", total, 3);
    int rc = cli_doc_emit(d, c);
    cli_doc_destroy(d);
    mp_loads_destroy(l);
    return rc;
}

int cmd_info(int argc, char **argv)
{
    cli_common c;
    cli_args A;
    int prc = cli_args_parse(&A, &c, "info", argc, argv);
    if (prc) return prc;
    mp_model hint = mp_model_default();
    hint.groups = hint.topk_group = 0;
    int have_hint = cli_has(&A, CLI_O_EXPERTS) > 0 || cli_has(&A, CLI_O_TOP_K) > 0;
    hint.experts = cli_int(&A, CLI_O_EXPERTS, hint.experts);
    hint.top_k = cli_int(&A, CLI_O_TOP_K, hint.top_k);
    static const mp_npy_layout layouts[] = {MP_NPY_LTK, MP_NPY_TLK};
    mp_npy_layout layout = cli_has(&A, CLI_O_LAYOUT) ? layouts[cli_enum(&A, CLI_O_LAYOUT, 0)] : MP_NPY_AUTO;
    const char *weights = cli_str(&A, CLI_O_WEIGHTS);
    int64_t tps = cli_i64(&A, CLI_O_TPS, 0);
    if (c.help) return cli_help(stdout, "info");
    if (A.first == argc && c.has_model) {
        cli_io_guard g;
        cli_io_guard_init(&g, "info");
        cli_io_guard_add_input(&g, c.model_path);
        cli_io_guard_add_output(&g, c.output);
        int grc = cli_io_guard_check(&g);
        return grc ? grc : info_model(&c);
    }
    if (A.first + 1 != argc) return cli_usage_error("info", "wants exactly one FILE (or only --model)");
    const char *path = argv[A.first];
    mp_format f = c.in_format != MP_FMT_AUTO ? c.in_format : mp_format_from_path(path);
    if (weights && f != MP_FMT_NPY) return cli_usage_error("info", "--weights is for .npy input");
    {
        cli_io_guard g;
        cli_io_guard_init(&g, "info");
        cli_io_guard_add_input(&g, path);
        cli_io_guard_add_input(&g, weights);
        cli_io_guard_add_output(&g, c.output);
        int grc = cli_io_guard_check(&g);
        if (grc) return grc;
    }
    mp_err err = {0};
    {
        mp_read_opts lo = cli_read_opts(&c);
        int is_loads = 0;
        if (mp_loads_input(path, &lo, &is_loads, &err) || (is_loads && mp_format_guess(path, lo.format, &f, &err)))
            return cli_fail(&err);
        if (is_loads) return info_loads(path, &c, f);
    }

    mp_trace *t;
    mp_read_opts ro = cli_read_opts(&c);
    ro.npy_layout = layout;
    ro.weights_path = weights;
    ro.tokens_per_step = tps;
    if (have_hint) ro.model = &hint;
    if (mp_trace_open(&t, path, &ro, &err)) return cli_fail(&err);
    mp_trace_info in = mp_trace_get_info(t);
    if (in.steps < 0 || in.tokens < 0 || in.raw_bytes < 0) {
        /* the header does not say: read it through */
        mp_trace_skip_weights(t);
        cli_progress pr;
        cli_progress_init(&pr, &c, "reading");
        cli_progress_trace(&pr, NULL, t);
        mp_step p = {0};
        int rc;
        int64_t done = 0;
        while ((rc = mp_trace_next(t, &p, &err)) == 1) {
            done += mp_step_assignments(&p);
            cli_progress_update(&pr, done, -1);
        }
        cli_progress_done(&pr);
        mp_step_release(&p);
        if (rc < 0) {
            mp_trace_close(t);
            return cli_fail(&err);
        }
        in = mp_trace_get_info(t);
    }
    cli_doc *d = cli_doc_create("moeplace.info");
    cli_doc_str(d, "file", path);
    cli_doc_str(d, "format", mp_format_name(in.format));
    cli_doc_str(d, "kind", "routing");
    model_rows(d, mp_trace_model(t), 1);
    cli_doc_int(d, "steps", in.steps);
    cli_doc_int(d, "tokens", in.tokens);
    cli_doc_int(d, "assignments", in.assignments);
    cli_doc_str(d, "gate_weights", in.has_weights ? "yes" : "no");
    cli_doc_str(d, "source_ranks", in.has_src_rank ? "yes" : "no");
    cli_doc_int(d, "file_bytes", in.file_bytes);
    cli_doc_int(d, "raw_bytes", in.raw_bytes);
    if (in.file_bytes > 0 && in.raw_bytes > 0) cli_doc_num(d, "compression_ratio", (double)in.raw_bytes / in.file_bytes, 2);
    cli_doc_str(d, "provenance", in.provenance);
    int rc = cli_doc_emit(d, &c);
    cli_doc_destroy(d);
    mp_trace_close(t);
    return rc;
}
