/* sim_e2e.c - the e2e table of `moeplace sim --e2e` (see sim_e2e.h). */
#include "cli/sim_e2e.h"

#include <math.h>
#include <string.h>

#include "cli/options.h"

/* a step is decode when it has at most this many tokens per GPU (--phase overrides) */
#define CLI_E2E_DECODE_TOKENS 512

void cli_e2e_read(cli_e2e *e, const cli_args *a)
{
    memset(e, 0, sizeof *e);
    e->o = mp_e2e_opts_default();
    e->on = cli_has(a, CLI_O_E2E) > 0 || cli_has(a, CLI_O_CONTEXT) > 0;
    e->o.context = cli_i64(a, CLI_O_CONTEXT, e->o.context);
    e->phase = cli_has(a, CLI_O_E2E_PHASE) ? cli_enum(a, CLI_O_E2E_PHASE, 0) : -1;
    e->o.kv_bytes = cli_num(a, CLI_O_KV_BYTES, e->o.kv_bytes);
    e->o.lm_head = cli_has(a, CLI_O_NO_LM_HEAD) ? 0 : 1;
}

int cli_e2e_check(const cli_e2e *e, const mp_model *m, const char *path)
{
    if (!e->on) return 0;
    mp_err err = {0};
    if (mp_e2e_check(m, &e->o, path, &err) == 0) return 0;
    cli_message("moeplace: %s (give its config.json or a preset with --model)", err.msg);
    return CLI_EDATA;
}

typedef struct e2e_sum {
    double attn, dense, other, moe, step, tokens, steps, rows;
    int decode;
} e2e_sum;

static e2e_sum lane_sum(const cli_e2e *e, const mp_sim_result *r, const mp_model *m, const mp_cost *c)
{
    e2e_sum s;
    memset(&s, 0, sizeof s);
    double tok = r->steps > 0 ? (double)r->tokens / (double)r->steps / r->gpus : 0;
    s.decode = e->phase >= 0 ? e->phase == 0 : tok <= CLI_E2E_DECODE_TOKENS;
    mp_e2e_opts o = e->o;
    o.decode = s.decode;
    for (int64_t i = 0; r->series && i < r->steps; i++) {
        const mp_sim_stepm *st = &r->series[i];
        double rows = (double)st->tokens / r->gpus;
        mp_e2e_parts p = mp_e2e_parts_of(m, c, &o, rows);
        s.attn += p.attn_us;
        s.dense += p.dense_us;
        s.other += p.other_us;
        s.moe += st->time_us;
        s.step += p.total_us + st->time_us;
        s.tokens += (double)st->tokens;
        s.rows += rows;
        s.steps += 1;
    }
    return s;
}

void cli_e2e_emit(cli_doc *d, const cli_e2e *e, const mp_simrun *run, const mp_model *m, const mp_cost *c)
{
    if (!e->on) return;
    cli_tab *t = cli_doc_table(d, "e2e", "whole decoder step per run (means over steps; moeplace-sim(1) END-TO-END STEP)");
    static const struct {
        const char *name;
        int dec;
    } cols[] = {{"plan", -1},           {"replica", -1},          {"phase", -1},     {"context", -1},
                {"tokens_per_gpu", 1},  {"attention_us", 1},      {"dense_us", 1},   {"other_us", 1},
                {"moe_us", 1},          {"e2e_step_us_mean", 1},  {"moe_share", 3},  {"tokens_per_s", 0},
                {"e2e_speedup", 4}};
    for (size_t i = 0; i < sizeof cols / sizeof cols[0]; i++) cli_tab_col(t, cols[i].name, cols[i].dec);
    double base = NAN;
    if (run->baseline >= 0) {
        e2e_sum b = lane_sum(e, run->lane[run->baseline].res, m, c);
        base = b.step;
    }
    for (int i = 0; i < run->n; i++) {
        e2e_sum s = lane_sum(e, run->lane[i].res, m, c);
        double n = s.steps > 0 ? s.steps : NAN;
        cli_tab_str(t, run->lane[i].label);
        cli_tab_str(t, run->lane[i].pol->name);
        cli_tab_str(t, s.decode ? "decode" : "prefill");
        cli_tab_int(t, e->o.context);
        cli_tab_num(t, s.rows / n);
        cli_tab_num(t, s.attn / n);
        cli_tab_num(t, s.dense / n);
        cli_tab_num(t, s.other / n);
        cli_tab_num(t, s.moe / n);
        cli_tab_num(t, s.step / n);
        cli_tab_num(t, s.step > 0 ? s.moe / s.step : NAN);
        cli_tab_num(t, s.step > 0 ? s.tokens / s.step * 1e6 : NAN);
        cli_tab_num(t, s.step > 0 ? base / s.step : NAN);
    }
}
