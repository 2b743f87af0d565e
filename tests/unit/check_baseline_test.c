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

    /* defaults when setup is empty */
    assert_int_equal(parse("{\"schema\":\"moeplace.baseline\",\"schema_version\":1,\"setup\":{},"
                           "\"entries\":[{\"strategy\":\"linear\"}]}",
                           &b, &err),
                     0);
    assert_int_equal(b->setup.gpus, 32);
    assert_int_equal(b->setup.nodes, 4);
    assert_int_equal(b->setup.redundant, 32);
    assert_string_equal(b->setup.policy, "modulo");
    mp_baseline_destroy(b);
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

#define HEAD "{\"schema\":\"moeplace.baseline\",\"schema_version\":1,\"setup\":{},"

static void test_parse_errors(void **state)
{
    (void)state;
    expect_bad("", MP_EFORMAT, "offset 0: unexpected end of input");
    expect_bad("{", MP_EFORMAT, "offset 1");
    expect_bad("[1,2]", MP_EFORMAT, "must be a JSON object");
    expect_bad("{\"schema\":\"x\",\"schema_version\":1}", MP_EFORMAT, "\"schema\" must be");
    expect_bad("{\"schema\":\"moeplace.baseline\",\"schema_version\":2}", MP_EVERSION, "schema_version 2");
    expect_bad("{\"schema\":\"moeplace.baseline\",\"schema_version\":\"1\"}", MP_EFORMAT, "schema_version");
    expect_bad(HEAD "\"entries\":[{\"strategy\":\"eplb\"}]} x", MP_EFORMAT, "trailing text");
    expect_bad(HEAD "\"entries\":[{\"strategy\":\"eplb\"}], \"extra\": 1}", MP_EFORMAT, "unknown key \"extra\"");
    expect_bad(HEAD "\"entries\":[]}", MP_EFORMAT, "\"entries\" is empty");
    expect_bad(HEAD "\"entries\":{}}", MP_EFORMAT, "must be an array");
    expect_bad(HEAD "\"entries\":[{\"strategy\":\"nope\"}]}", MP_ERANGE, "unknown strategy 'nope'");
    expect_bad(HEAD "\"entries\":[{\"plan\":\"p.json\"}]}", MP_EFORMAT, "needs a \"name\"");
    expect_bad(HEAD "\"entries\":[{\"name\":\"a\",\"plan\":\"p\",\"strategy\":\"eplb\"}]}", MP_EFORMAT, "exactly one");
    expect_bad(HEAD "\"entries\":[{\"strategy\":\"eplb\"},{\"strategy\":\"eplb\"}]}", MP_EFORMAT, "given twice");
    expect_bad(HEAD "\"entries\":[{\"strategy\":\"eplb\",\"strategy\":\"linear\"}]}", MP_EFORMAT, "duplicate key");
    expect_bad(HEAD "\"entries\":[{\"strategy\":\"eplb\"}],\"metrics\":{\"eplb\":{\"speed\":1}}}", MP_EFORMAT,
               "unknown metric \"speed\"");
    expect_bad(HEAD "\"entries\":[{\"strategy\":\"eplb\"}],\"metrics\":{\"other\":{}}}", MP_EFORMAT,
               "not an entry");
    expect_bad(HEAD "\"entries\":[{\"strategy\":\"eplb\"}],\"metrics\":{\"eplb\":{\"sim_max_mean\":\"1\"}}}",
               MP_EFORMAT, "must be a number");
    expect_bad(HEAD "\"entries\":[{\"strategy\":\"eplb\"}],\"metrics\":{\"eplb\":{\"sim_max_mean\":1e999}}}",
               MP_ERANGE, "out of range");
    expect_bad("{\"schema\":\"moeplace.baseline\",\"schema_version\":1,\"setup\":{\"gpus\":0},"
               "\"entries\":[{\"strategy\":\"eplb\"}]}",
               MP_ERANGE, "\"gpus\" out of range");
    expect_bad("{\"schema\":\"moeplace.baseline\",\"schema_version\":1,\"setup\":{\"gpus\":2.5},"
               "\"entries\":[{\"strategy\":\"eplb\"}]}",
               MP_EFORMAT, "must be an integer");
    expect_bad("{\"schema\":\"moeplace.baseline\",\"schema_version\":1,\"setup\":{\"gpus\":6,\"nodes\":4},"
               "\"entries\":[{\"strategy\":\"eplb\"}]}",
               MP_ERANGE, "6 GPUs do not split over 4 nodes");
    expect_bad("{\"schema\":\"moeplace.baseline\",\"schema_version\":1,\"setup\":{\"policy\":\"zz\"},"
               "\"entries\":[{\"strategy\":\"eplb\"}]}",
               MP_ERANGE, "unknown policy");
    expect_bad(HEAD "\"entries\":[{\"strategy\":\"eplb\\q\"}]}", MP_EFORMAT, "bad escape");
    expect_bad(HEAD "\"entries\":[{\"strategy\":\"\\u00e9\"}]}", MP_EFORMAT, "ASCII");
    expect_bad(HEAD "\"entries\":[{\"strategy\":\"a\nb\"}]}", MP_EFORMAT, "control character");
    expect_bad(HEAD "\"entries\":[{\"strategy\":-}]}", MP_EFORMAT, "bad number");
    expect_bad(HEAD "\"entries\":[{\"strategy\":nul}]}", MP_EFORMAT, "unexpected character");

    /* nesting is bounded */
    char deep[200];
    memset(deep, '[', 100);
    deep[100] = 0;
    expect_bad(deep, MP_ELIMIT, "nesting deeper than 32");
    /* a long name */
    char longname[200];
    snprintf(longname, sizeof longname, HEAD "\"entries\":[{\"name\":\"%040d\",\"plan\":\"p\"}]}", 0);
    expect_bad(longname, MP_ERANGE, "longer than 31 bytes");
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

static void test_metric_table(void **state)
{
    (void)state;
    for (int m = 0; m < MP_METRICS; m++) {
        assert_non_null(mp_metric_at(m));
        assert_int_equal(mp_metric_find(mp_metric_at(m)->name), m);
    }
    assert_null(mp_metric_at(MP_METRICS));
    assert_int_equal(mp_metric_find("nope"), -1);
    assert_int_equal(mp_metric_at(MP_M_VLLM_BAL)->higher_better, 1);
    assert_int_equal(mp_metric_at(MP_M_STEP_US)->higher_better, 0);
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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
