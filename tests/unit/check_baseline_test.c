/* check_baseline_test.c - baseline files: parsing (good and broken), the
 * JSON written by mp_baseline_to_json read back, and the comparison with its
 * tolerance, direction per metric and new entries. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "sim/mp_check.h"

static int parse(const char *text, mp_baseline **b, mp_err *err)
{
    return mp_baseline_parse(b, text, strlen(text), "b.json", err);
}

static void test_parse_minimal(void **state)
{
    (void)state;
    mp_baseline *b = NULL;
    mp_err err = {0};
    const char *t = "{\"schema\": \"moeplace.baseline\", \"schema_version\": 1,\n"
                    " \"setup\": {\"gpus\": 8, \"nodes\": 2, \"redundant\": 8, \"policy\": \"random\", \"seed\": 7,"
                    " \"locality\": 0.25},\n"
                    " \"entries\": [{\"strategy\": \"eplb\"}, {\"name\": \"prod\", \"plan\": \"plans/p.json\"}],\n"
                    " \"metrics\": {\"prod\": {\"sim_max_mean\": 1.25, \"vllm_balancedness\": 0.8}}}";
    assert_int_equal(parse(t, &b, &err), 0);
    assert_int_equal(b->setup.gpus, 8);
    assert_int_equal(b->setup.nodes, 2);
    assert_int_equal(b->setup.redundant, 8);
    assert_string_equal(b->setup.policy, "random");
    assert_int_equal(b->setup.seed, 7);
    assert_true(b->setup.locality == 0.25);
    assert_int_equal(b->setup.nentries, 2);
    assert_string_equal(b->setup.entry[0].name, "eplb");
    assert_string_equal(b->setup.entry[0].strategy, "eplb");
    assert_string_equal(b->setup.entry[1].name, "prod");
    assert_string_equal(b->setup.entry[1].plan, "plans/p.json");
    assert_int_equal(b->has_metrics[0], 0);
    assert_int_equal(b->has_metrics[1], 1);
    assert_true(b->metric[1][MP_M_SIM_MAXMEAN] == 1.25);
    assert_true(b->metric[1][MP_M_VLLM_BAL] == 0.8);
    assert_true(isnan(b->metric[1][MP_M_STEP_US]));
    mp_baseline_destroy(b);

    /* every setup key is required: an empty setup names the first missing one */
    assert_int_equal(parse("{\"schema\":\"moeplace.baseline\",\"schema_version\":1,\"setup\":{},"
                           "\"entries\":[{\"strategy\":\"linear\"}]}",
                           &b, &err),
                     MP_EFORMAT);
    assert_null(b);
    assert_string_equal(err.msg, "b.json: setup.gpus: missing");
}

static void expect_bad(const char *text, int code, const char *needle)
{
    mp_baseline *b = (mp_baseline *)1;
    mp_err err = {0};
    int rc = parse(text, &b, &err);
    if (rc != code || !strstr(err.msg, needle))
        fprintf(stderr, "text %s: rc %d msg '%s' (wanted %d, '%s')\n", text, rc, err.msg, code, needle);
    assert_int_equal(rc, code);
    assert_null(b);
    assert_non_null(strstr(err.msg, needle));
    assert_non_null(strstr(err.msg, "b.json"));
}

#define SETUP "\"setup\":{\"gpus\":8,\"nodes\":2,\"redundant\":8,\"policy\":\"modulo\",\"seed\":1,\"locality\":0}"
#define HEAD "{\"schema\":\"moeplace.baseline\",\"schema_version\":1," SETUP ","

static void test_parse_errors(void **state)
{
    (void)state;
    expect_bad("", MP_EFORMAT, "offset 0: unexpected end of input");
    expect_bad("{", MP_EFORMAT, "offset 1");
    expect_bad("[1,2]", MP_EFORMAT, "must be a JSON object");
    expect_bad("{\"schema\":\"x\",\"schema_version\":1}", MP_EFORMAT, "schema: must be");
    expect_bad("{\"schema\":\"moeplace.baseline\",\"schema_version\":3}", MP_EVERSION, "schema_version: 3 is not supported (1 and 2 are)");
    expect_bad("{\"schema\":\"moeplace.baseline\",\"schema_version\":\"1\"}", MP_EFORMAT, "schema_version");
    expect_bad(HEAD "\"entries\":[{\"strategy\":\"eplb\"}]} x", MP_EFORMAT, "trailing text");
    expect_bad(HEAD "\"entries\":[{\"strategy\":\"eplb\"}], \"extra\": 1}", MP_EFORMAT, "b.json: extra: unknown key");
    expect_bad(HEAD "\"entries\":[]}", MP_EFORMAT, "entries: empty");
    expect_bad(HEAD "\"entries\":{}}", MP_EFORMAT, "must be an array");
    expect_bad(HEAD "\"entries\":[{\"strategy\":\"nope\"}]}", MP_ERANGE, "entries[0].strategy: unknown strategy 'nope' (known: linear, ");
    expect_bad(HEAD "\"entries\":[{\"plan\":\"p.json\"}]}", MP_EFORMAT, "entries[0]: a plan entry needs a \"name\"");
    expect_bad(HEAD "\"entries\":[{\"name\":\"a\",\"plan\":\"p\",\"strategy\":\"eplb\"}]}", MP_EFORMAT, "entries[0]: needs exactly one");
    expect_bad(HEAD "\"entries\":[{\"strategy\":\"eplb\"},{\"strategy\":\"eplb\"}]}", MP_EFORMAT,
               "entries[1]: name 'eplb' given twice (also entries[0])");
    expect_bad(HEAD "\"entries\":[{\"strategy\":\"eplb\",\"strategy\":\"linear\"}]}", MP_EFORMAT, "duplicate key");
    expect_bad(HEAD "\"entries\":[{\"strategy\":\"eplb\"}],\"metrics\":{\"eplb\":{\"speed\":1}}}", MP_EFORMAT,
               "metrics.eplb.speed: unknown metric (known: plan_max_over_mean, plan_worst_max_over_mean, ");
    expect_bad(HEAD "\"entries\":[{\"strategy\":\"eplb\"}],\"metrics\":{\"other\":{}}}", MP_EFORMAT,
               "metrics.other: not the name of an entry");
    expect_bad(HEAD "\"entries\":[{\"strategy\":\"eplb\"}],\"metrics\":{\"eplb\":{\"sim_max_mean\":\"1\"}}}",
               MP_EFORMAT, "metrics.eplb.sim_max_mean: must be a number");
    expect_bad(HEAD "\"entries\":[{\"strategy\":\"eplb\"}],\"metrics\":{\"eplb\":{\"sim_max_mean\":1e999}}}",
               MP_ERANGE, "out of range");
    expect_bad("{\"schema\":\"moeplace.baseline\",\"schema_version\":1,\"setup\":{\"gpus\":0,\"nodes\":1,\"redundant\":0,\"policy\":\"modulo\",\"seed\":1,\"locality\":0},"
               "\"entries\":[{\"strategy\":\"eplb\"}]}",
               MP_ERANGE, "setup.gpus: 0 is outside 1..65536");
    expect_bad("{\"schema\":\"moeplace.baseline\",\"schema_version\":1,\"setup\":{\"gpus\":2.5,\"nodes\":1,\"redundant\":0,\"policy\":\"modulo\",\"seed\":1,\"locality\":0},"
               "\"entries\":[{\"strategy\":\"eplb\"}]}",
               MP_EFORMAT, "setup.gpus: must be an integer");
    expect_bad("{\"schema\":\"moeplace.baseline\",\"schema_version\":1,\"setup\":{\"gpus\":6,\"nodes\":4,\"redundant\":0,\"policy\":\"modulo\",\"seed\":1,\"locality\":0},"
               "\"entries\":[{\"strategy\":\"eplb\"}]}",
               MP_ERANGE, "setup.nodes: 6 GPUs do not split over 4 nodes");
    expect_bad("{\"schema\":\"moeplace.baseline\",\"schema_version\":1,\"setup\":{\"gpus\":8,\"nodes\":2,\"redundant\":0,\"policy\":\"zz\",\"seed\":1,\"locality\":0},"
               "\"entries\":[{\"strategy\":\"eplb\"}]}",
               MP_ERANGE, "setup.policy: unknown policy 'zz' (known: vllm, vllm-modulo, ");
    expect_bad(HEAD "\"entries\":[{\"strategy\":\"eplb\\q\"}]}", MP_EFORMAT, "offset 160: malformed JSON");
    /* a \u escape of a letter is that letter; the name is then checked as a name */
    expect_bad(HEAD "\"entries\":[{\"strategy\":\"\\u00e9\"}]}", MP_ERANGE, "entries[0].strategy: unknown strategy");
    expect_bad(HEAD "\"entries\":[{\"strategy\":\"a\nb\"}]}", MP_EFORMAT, "entries[0].strategy: control character in a string");
    expect_bad(HEAD "\"entries\":[{\"strategy\":-}]}", MP_EFORMAT, ": malformed JSON");
    expect_bad(HEAD "\"entries\":[{\"strategy\":nul}]}", MP_EFORMAT, ": malformed JSON");

    /* nesting is bounded */
    char deep[201];
    memset(deep, '[', 100);
    memset(deep + 100, ']', 100);
    deep[200] = 0;
    expect_bad(deep, MP_ELIMIT, "nesting deeper than 32");
    memset(deep, '[', 100);
    deep[100] = 0;
    expect_bad(deep, MP_EFORMAT, "offset 100: unexpected end of input");
    /* a \u0000 escape would cut a string short: refused at its offset */
    expect_bad(HEAD "\"entries\":[{\"strategy\":\"eplb\\u0000x\"}]}", MP_EFORMAT, "offset 160: a string holds a NUL");
    /* version 1 names are read mapped; a metric spelled both ways is refused */
    expect_bad(HEAD "\"entries\":[{\"strategy\":\"eplb\"}],\"metrics\":{\"eplb\":{\"sim_max_mean\":1,\"sim_max_over_mean\":1}}}",
               MP_EFORMAT, "metrics.eplb.sim_max_over_mean: sim_max_over_mean given twice");
    expect_bad("{\"schema\":\"moeplace.baseline\",\"schema_version\":2," SETUP ",\"entries\":[{\"strategy\":\"eplb\"}],"
               "\"metrics\":{\"eplb\":{\"sim_max_mean\":1}}}",
               MP_EFORMAT, "metrics.eplb.sim_max_mean: unknown metric");
    /* a long name */
    char longname[400];
    snprintf(longname, sizeof longname, HEAD "\"entries\":[{\"name\":\"%040d\",\"plan\":\"p\"}]}", 0);
    expect_bad(longname, MP_ERANGE, "entries[0].name: is empty or longer than 31 bytes");
}

static void test_read_file_errors(void **state)
{
    (void)state;
    mp_baseline *b = NULL;
    mp_err err = {0};
    assert_int_equal(mp_baseline_read(&b, "/nonexistent/b.json", &err), MP_EIO);
    assert_null(b);
    assert_non_null(strstr(err.msg, "/nonexistent/b.json"));
}

/* an evaluation made by hand: two entries with chosen metrics */
static mp_eval *fake_eval(double scale)
{
    mp_eval *e = calloc(1, sizeof *e);
    e->setup = mp_eval_setup_default();
    assert_int_equal(mp_eval_add_strategies(&e->setup, "linear,eplb", NULL), 0);
    e->n = 2;
    e->r = calloc(2, sizeof *e->r);
    snprintf(e->model.name, sizeof e->model.name, "tiny \"q\"");
    e->steps = 3;
    e->tokens = 99;
    for (int i = 0; i < 2; i++) {
        e->r[i].entry = e->setup.entry[i];
        for (int m = 0; m < MP_METRICS; m++) e->r[i].metric[m] = (i + 1) * (m + 1) * scale + 1.0 / 3;
    }
    return e;
}

static void test_round_trip(void **state)
{
    (void)state;
    mp_eval *e = fake_eval(1);
    char *j = mp_baseline_to_json(e);
    assert_non_null(j);
    mp_baseline *b = NULL;
    mp_err err = {0};
    assert_int_equal(mp_baseline_parse(&b, j, strlen(j), "rt", &err), 0);
    assert_int_equal(b->setup.nentries, 2);
    for (int i = 0; i < 2; i++)
        for (int m = 0; m < MP_METRICS; m++) assert_true(b->metric[i][m] == e->r[i].metric[m]); /* %.17g is exact */
    mp_check_diff *d = NULL;
    assert_int_equal(mp_check_compare(&d, b, e, 0, &err), 0);
    assert_int_equal(d->nrows, 2 * MP_METRICS);
    assert_int_equal(d->regressed, 0);
    assert_int_equal(d->improved, 0);
    assert_int_equal(d->fresh, 0);
    for (int i = 0; i < d->nrows; i++) assert_true(d->rows[i].change == 0);
    mp_check_diff_destroy(d);
    mp_baseline_destroy(b);
    free(j);
    free(e->r);
    free(e);
}

static void test_compare_tolerance_and_direction(void **state)
{
    (void)state;
    mp_eval *e = fake_eval(1);
    char *j = mp_baseline_to_json(e);
    mp_baseline *b = NULL;
    assert_int_equal(mp_baseline_parse(&b, j, strlen(j), "rt", NULL), 0);
    free(j);
    /* entry 0: step time 3% worse, max/mean 1% worse, balancedness (higher is better) 3% lower,
       NVLink 3% better */
    e->r[0].metric[MP_M_STEP_US] *= 1.03;
    e->r[0].metric[MP_M_SIM_MAXMEAN] *= 1.01;
    e->r[0].metric[MP_M_VLLM_BAL] *= 0.97;
    e->r[0].metric[MP_M_NVL_MB] *= 0.97;
    mp_check_diff *d = NULL;
    assert_int_equal(mp_check_compare(&d, b, e, 0.02, NULL), 0);
    assert_int_equal(d->regressed, 2);
    assert_int_equal(d->improved, 1);
    const mp_check_row *r = &d->rows[MP_M_STEP_US];
    assert_int_equal(r->entry, 0);
    assert_int_equal(r->metric, MP_M_STEP_US);
    assert_int_equal(r->status, MP_CHECK_REGRESSED);
    assert_true(fabs(r->change - 0.03) < 1e-12);
    assert_int_equal(d->rows[MP_M_VLLM_BAL].status, MP_CHECK_REGRESSED);
    assert_true(d->rows[MP_M_VLLM_BAL].change < 0);
    assert_int_equal(d->rows[MP_M_SIM_MAXMEAN].status, MP_CHECK_OK);
    assert_int_equal(d->rows[MP_M_NVL_MB].status, MP_CHECK_IMPROVED);
    mp_check_diff_destroy(d);
    /* a looser tolerance lets everything through; a tighter one catches the 1% */
    assert_int_equal(mp_check_compare(&d, b, e, 0.05, NULL), 0);
    assert_int_equal(d->regressed, 0);
    mp_check_diff_destroy(d);
    assert_int_equal(mp_check_compare(&d, b, e, 0.005, NULL), 0);
    assert_int_equal(d->regressed, 3);
    mp_check_diff_destroy(d);

    /* an entry without recorded metrics is new, never a regression */
    b->has_metrics[1] = 0;
    assert_int_equal(mp_check_compare(&d, b, e, 0.005, NULL), 0);
    assert_int_equal(d->fresh, MP_METRICS);
    assert_int_equal(d->rows[MP_METRICS].status, MP_CHECK_NEW);
    mp_check_diff_destroy(d);
    /* zero baseline: any growth of a lower-is-better metric is a regression */
    b->metric[0][MP_M_NET_MB] = 0;
    assert_int_equal(mp_check_compare(&d, b, e, 0.5, NULL), 0);
    assert_int_equal(d->rows[MP_M_NET_MB].status, MP_CHECK_REGRESSED);
    assert_true(isinf(d->rows[MP_M_NET_MB].change));
    mp_check_diff_destroy(d);
    mp_baseline_destroy(b);
    free(e->r);
    free(e);
}

#define ALL_METRICS                                                                                              \
    "{\"plan_max_mean\":1,\"plan_worst_max_mean\":1,\"sim_max_mean\":1,\"sim_max_mean_p99\":1,"                 \
    "\"vllm_balancedness\":0.5,\"step_time_us\":10,\"net_MB_per_step\":0,\"nvlink_MB_per_step\":0}"

static void test_parse_fail_closed(void **state)
{
    (void)state;
    /* setup keys are all required, with their JSON path */
    static const char *const keys[] = {"\"gpus\":8", "\"nodes\":2", "\"redundant\":8", "\"policy\":\"modulo\"",
                                       "\"seed\":1", "\"locality\":0"};
    static const char *const missing[] = {"setup.gpus: missing", "setup.nodes: missing", "setup.redundant: missing",
                                          "setup.policy: missing", "setup.seed: missing", "setup.locality: missing"};
    for (int drop = 0; drop < 6; drop++) {
        char t[512];
        int n = snprintf(t, sizeof t, "{\"schema\":\"moeplace.baseline\",\"schema_version\":1,\"setup\":{");
        for (int k = 0, first = 1; k < 6; k++)
            if (k != drop) {
                n += snprintf(t + n, sizeof t - (size_t)n, "%s%s", first ? "" : ",", keys[k]);
                first = 0;
            }
        snprintf(t + n, sizeof t - (size_t)n, "},\"entries\":[{\"strategy\":\"eplb\"}]}");
        expect_bad(t, MP_EFORMAT, missing[drop]);
    }
    expect_bad("{\"schema\":\"moeplace.baseline\",\"schema_version\":1,\"entries\":[{\"strategy\":\"eplb\"}]}",
               MP_EFORMAT, "b.json: setup: missing");
    expect_bad("{\"schema\":\"moeplace.baseline\",\"schema_version\":1,\"setup\":[],\"entries\":[]}", MP_EFORMAT,
               "setup: must be an object");
    expect_bad("{\"schema\":\"moeplace.baseline\",\"schema_version\":1,\"setup\":{\"gpus\":8,\"nodes\":2,"
               "\"redundant\":8,\"policy\":\"modulo\",\"seed\":1,\"locality\":2},\"entries\":[{\"strategy\":\"eplb\"}]}",
               MP_ERANGE, "setup.locality: 2 is outside 0..1");
    expect_bad("{\"schema\":\"moeplace.baseline\",\"schema_version\":1,\"setup\":{\"gpus\":8,\"nodes\":2,"
               "\"redundant\":8,\"policy\":\"modulo\",\"seed\":1,\"locality\":0,\"gpu\":8},\"entries\":[]}",
               MP_EFORMAT, "setup.gpu: unknown key");
    expect_bad(HEAD "\"metrics\":{}}", MP_EFORMAT, "b.json: entries: missing");
    /* the same strategy or plan twice under two names measures nothing new */
    expect_bad(HEAD "\"entries\":[{\"strategy\":\"eplb\"},{\"name\":\"e2\",\"strategy\":\"eplb\"}]}", MP_EFORMAT,
               "entries[1]: strategy 'eplb' given twice (also entries[0])");
    expect_bad(HEAD "\"entries\":[{\"name\":\"a\",\"plan\":\"p.json\"},{\"name\":\"b\",\"plan\":\"p.json\"}]}",
               MP_EFORMAT, "entries[1]: plan 'p.json' given twice (also entries[0])");
    expect_bad(HEAD "\"entries\":[{\"strategy\":\"eplb\"}],\"metrics\":[]}", MP_EFORMAT, "metrics: must be an object");
    expect_bad(HEAD "\"entries\":[{\"strategy\":\"eplb\"}],\"metrics\":{\"eplb\":1}}", MP_EFORMAT,
               "metrics.eplb: must be an object");
    expect_bad(HEAD "\"entries\":[{\"strategy\":\"eplb\"}],\"metrics\":{\"eplb\":{\"step_time_us\":-1}}}", MP_ERANGE,
               "metrics.eplb.step_time_us: -1 is negative");
    expect_bad(HEAD "\"entries\":[{\"strategy\":\"eplb\"}],\"metrics\":{\"eplb\":{\"step_time_us\":null}}}",
               MP_EFORMAT, "metrics.eplb.step_time_us: must be a number");
    /* "trace" is optional but typed */
    expect_bad(HEAD "\"entries\":[{\"strategy\":\"eplb\"}],\"trace\":{\"model\":\"m\",\"hash\":1}}", MP_EFORMAT,
               "trace.hash: unknown key");
    expect_bad(HEAD "\"entries\":[{\"strategy\":\"eplb\"}],\"trace\":{\"experts\":0}}", MP_ERANGE,
               "trace.experts: 0 is outside 1..65535");
    expect_bad(HEAD "\"entries\":[{\"strategy\":\"eplb\"}],\"trace\":{\"model\":7}}", MP_EFORMAT,
               "trace.model: must be a string");
    expect_bad(HEAD "\"entries\":[{\"strategy\":\"eplb\"}],\"trace\":\"t\"}", MP_EFORMAT, "trace: must be an object");
}

static void expect_gate(const char *text, const mp_model *m, int code, const char *msg)
{
    mp_baseline *b = NULL;
    mp_err err = {0};
    assert_int_equal(parse(text, &b, &err), 0);
    int rc = mp_baseline_gate(b, m, &err);
    if (rc != code || (msg && strcmp(err.msg, msg) != 0))
        fprintf(stderr, "text %s: rc %d msg '%s' (wanted %d, '%s')\n", text, rc, err.msg, code, msg ? msg : "");
    assert_int_equal(rc, code);
    if (msg) assert_string_equal(err.msg, msg);
    mp_baseline_destroy(b);
}

static void test_gate_fails_closed(void **state)
{
    (void)state;
    mp_model m = mp_model_default();
    snprintf(m.name, sizeof m.name, "tiny");
    m.layers = 4;
    m.experts = 64;
    m.top_k = 4;
    const char *two = HEAD "\"entries\":[{\"strategy\":\"linear\"},{\"strategy\":\"eplb\"}],";
    char t[1024];
    /* complete: passes, with or without the trace's model */
    snprintf(t, sizeof t, "%s\"metrics\":{\"linear\":" ALL_METRICS ",\"eplb\":" ALL_METRICS "}}", two);
    expect_gate(t, &m, 0, NULL);
    expect_gate(t, NULL, 0, NULL);
    /* no metrics, null, empty, one entry without figures, one figure missing */
    snprintf(t, sizeof t, "%s\"trace\":{}}", two);
    expect_gate(t, &m, MP_EFORMAT, "b.json: metrics: missing (the baseline has no figures to gate on)");
    snprintf(t, sizeof t, "%s\"metrics\":null}", two);
    expect_gate(t, &m, MP_EFORMAT, "b.json: metrics: missing (the baseline has no figures to gate on)");
    snprintf(t, sizeof t, "%s\"metrics\":{}}", two);
    expect_gate(t, &m, MP_EFORMAT, "b.json: metrics: empty (the baseline has no figures to gate on)");
    snprintf(t, sizeof t, "%s\"metrics\":{\"linear\":{},\"eplb\":{}}}", two);
    expect_gate(t, &m, MP_EFORMAT, "b.json: metrics.linear.plan_max_over_mean: missing");
    snprintf(t, sizeof t, "%s\"metrics\":{\"eplb\":" ALL_METRICS "}}", two);
    expect_gate(t, &m, MP_EFORMAT, "b.json: metrics.linear: missing (entry 'linear' has no figures)");
    snprintf(t, sizeof t, "%s\"metrics\":{\"linear\":" ALL_METRICS ",\"eplb\":{\"plan_max_mean\":1}}}", two);
    expect_gate(t, &m, MP_EFORMAT, "b.json: metrics.eplb.plan_worst_max_over_mean: missing");
    /* recorded on another model or shape: refused; an unknown model, or other steps and tokens: fine */
    snprintf(t, sizeof t,
             "%s\"metrics\":{\"linear\":" ALL_METRICS ",\"eplb\":" ALL_METRICS "},"
             "\"trace\":{\"model\":\"big\",\"layers\":4,\"experts\":64,\"top_k\":4,\"steps\":9,\"tokens\":99}}",
             two);
    expect_gate(t, &m, MP_ESHAPE,
                "b.json: trace.model: recorded on a trace of model 'big', this trace is of 'tiny'");
    char *at = strstr(t, "\"big\"");
    memcpy(at, "\"-\"  ", 5);
    expect_gate(t, &m, 0, NULL);
    m.experts = 128;
    expect_gate(t, &m, MP_ESHAPE,
                "b.json: trace.experts: recorded on a trace with experts 64, this trace has 128");
    m.experts = 64;
    m.top_k = 8;
    expect_gate(t, &m, MP_ESHAPE, "b.json: trace.top_k: recorded on a trace with top_k 4, this trace has 8");
}

static void test_fit(void **state)
{
    (void)state;
    mp_model m = mp_model_default();
    m.layers = 4;
    m.experts = 64;
    m.top_k = 4;
    mp_baseline *b = NULL;
    mp_err err = {0};
    /* 64 + 8 redundant slots over 8 GPUs: fits; over 16 GPUs only the strategies without redundant slots fit */
    assert_int_equal(parse(HEAD "\"entries\":[{\"strategy\":\"linear\"},{\"strategy\":\"eplb\"}]}", &b, &err), 0);
    assert_int_equal(mp_baseline_fit(b, &m, &err), 0);
    b->setup.gpus = 16;
    b->setup.nodes = 2;
    assert_int_equal(mp_baseline_fit(b, &m, &err), MP_ERANGE);
    assert_string_equal(err.msg,
                        "b.json: setup: eplb: 72 slots (64 experts + 8 redundant) do not split over 16 GPUs");
    b->setup.nentries = 1; /* linear alone */
    assert_int_equal(mp_baseline_fit(b, &m, &err), 0);
    mp_baseline_destroy(b);
}

static void test_compare_refuses_bad_tolerance(void **state)
{
    (void)state;
    mp_eval *e = fake_eval(1);
    char *j = mp_baseline_to_json(e);
    mp_baseline *b = NULL;
    assert_int_equal(mp_baseline_parse(&b, j, strlen(j), "rt", NULL), 0);
    free(j);
    mp_check_diff *d = (mp_check_diff *)1;
    mp_err err = {0};
    assert_int_equal(mp_check_compare(&d, b, e, NAN, &err), MP_EINVAL);
    assert_null(d);
    assert_non_null(strstr(err.msg, "tolerance"));
    assert_int_equal(mp_check_compare(&d, b, e, -0.01, &err), MP_EINVAL);
    assert_int_equal(mp_check_compare(&d, b, e, INFINITY, &err), MP_EINVAL);
    mp_baseline_destroy(b);
    free(e->r);
    free(e);
}

/* the writer records the trace's model and shape, and they read back */
static void test_round_trip_trace(void **state)
{
    (void)state;
    mp_eval *e = fake_eval(1);
    e->model.layers = 3;
    e->model.experts = 16;
    e->model.top_k = 2;
    char *j = mp_baseline_to_json(e);
    assert_non_null(strstr(j, "\"trace\": {\"model\": \"tiny \\\"q\\\"\", \"layers\": 3, \"experts\": 16, \"top_k\": 2, "
                              "\"steps\": 3, \"tokens\": 99}"));
    mp_baseline *b = NULL;
    mp_err err = {0};
    assert_int_equal(mp_baseline_parse(&b, j, strlen(j), "rt", &err), 0);
    assert_string_equal(b->trace.model, "tiny \"q\"");
    assert_int_equal(b->trace.layers, 3);
    assert_int_equal(b->trace.experts, 16);
    assert_int_equal(b->trace.top_k, 2);
    assert_int_equal(b->trace.steps, 3);
    assert_int_equal(b->trace.tokens, 99);
    assert_int_equal(mp_baseline_gate(b, &e->model, &err), 0);
    mp_baseline_destroy(b);
    free(j);
    free(e->r);
    free(e);
}

/* 90k keys in one object: duplicates are found in linear time (it was
 * quadratic: 19 s; now each object's keys are sorted), named by its path */
static void test_many_keys_bounded(void **state)
{
    (void)state;
    const int n = 90000;
    size_t cap = (size_t)n * 16 + 256;
    char *t = malloc(cap);
    assert_non_null(t);
    size_t k = (size_t)snprintf(t, cap, "{\"schema\":\"moeplace.baseline\",\"schema_version\":1");
    for (int i = 0; i < n; i++) k += (size_t)snprintf(t + k, cap - k, ",\"k%d\":0", i);
    snprintf(t + k, cap - k, ",\"k%d\":1}", n / 2);
    clock_t c0 = clock();
    mp_baseline *b = NULL;
    mp_err err = {0};
    assert_int_equal(mp_baseline_parse(&b, t, strlen(t), "big.json", &err), MP_EFORMAT);
    assert_string_equal(err.msg, "big.json: k45000: duplicate key");
    /* without the duplicate it parses whole and is refused for its first unknown key */
    t[k] = '}';
    t[k + 1] = 0;
    assert_int_equal(mp_baseline_parse(&b, t, k + 1, "big.json", &err), MP_EFORMAT);
    assert_non_null(strstr(err.msg, "k0: unknown key"));
    double s = (double)(clock() - c0) / CLOCKS_PER_SEC;
    assert_true(s < 5.0);
    free(t);
}

static void test_metric_table(void **state)
{
    (void)state;
    for (int m = 0; m < MP_METRICS; m++) {
        assert_non_null(mp_metric_at(m));
        assert_int_equal(mp_metric_find(mp_metric_at(m)->name), m);
    }
    assert_null(mp_metric_at(MP_METRICS));
    assert_int_equal(mp_metric_find("nope"), -1);
    assert_int_equal(mp_metric_at(MP_M_VLLM_BAL)->direction, MP_DIR_HIGHER);
    assert_int_equal(mp_metric_at(MP_M_STEP_US)->direction, MP_DIR_LOWER);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_minimal),
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_read_file_errors),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_compare_tolerance_and_direction),
        cmocka_unit_test(test_metric_table),
        cmocka_unit_test(test_parse_fail_closed),
        cmocka_unit_test(test_gate_fails_closed),
        cmocka_unit_test(test_fit),
        cmocka_unit_test(test_compare_refuses_bad_tolerance),
        cmocka_unit_test(test_round_trip_trace),
        cmocka_unit_test(test_many_keys_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
