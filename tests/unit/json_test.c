/* json_test.c - JSON load files: the shipped real matrices, every accepted form, writing, bad files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "traces/formats/mp_loadfile.h"
#include "traces/stats/mp_loads_read.h"
#include "traces/mp_loads.h"
#include "traces/formats/mp_trace.h"
#include "tests/unit/test_tmpdir.h"

static char path[128];

static int setup(void **state)
{
    (void)state;
    if (test_tmpdir_make("json_test")) return -1;
    snprintf(path, sizeof path, "%s/l.json", test_dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    return test_tmpdir_remove();
}

static void put_file(const char *text) { test_put_file(path, text); }

static mp_loads *load_text(const char *text, int per_step)
{
    put_file(text);
    mp_loads *l;
    mp_err err = {0};
    int rc = mp_loads_read(&l, path, NULL, per_step, &err);
    if (rc) fprintf(stderr, "%s\n", err.msg);
    assert_int_equal(rc, 0);
    return l;
}

static void test_real_sglang_qwen(void **state)
{
    (void)state;
    const char *p = MP_SHARED_DATA "/real/qwen2-57b-a14b_sharegpt_sglang.json";
    if (access(p, R_OK) != 0) skip();
    mp_loads *l;
    mp_err err = {0};
    assert_int_equal(mp_loads_read(&l, p, NULL, 0, &err), 0);
    assert_int_equal(l->steps, 1);
    assert_int_equal(l->layers, 28);
    assert_int_equal(l->experts, 64);
    assert_int_equal(l->has_model, 0); /* "model" there is a description string */
    const double first[5] = {7805, 67103, 37792, 81573, 122080};
    for (int e = 0; e < 5; e++) assert_float_equal(mp_loads_row(l, 0, 0)[e], first[e], 0);
    assert_float_equal(mp_loads_row(l, 0, 3)[17], 127063, 0);
    mp_loads_destroy(l);
}

static void test_real_shares(void **state)
{
    (void)state;
    const char *p = MP_SHARED_DATA "/real/esft-vanilla-lite_intent_shares.json";
    if (access(p, R_OK) != 0) skip();
    mp_loads *l;
    mp_err err = {0};
    assert_int_equal(mp_loads_read(&l, p, NULL, 0, &err), 0);
    assert_int_equal(l->layers, 26);
    assert_int_equal(l->experts, 64);
    assert_float_equal(mp_loads_row(l, 0, 0)[0], 0.0101, 1e-12);
    assert_float_equal(mp_loads_row(l, 0, 0)[1], 0.0119, 1e-12);
    assert_float_equal(mp_loads_row(l, 0, 0)[2], 0.0177, 1e-12);
    for (int li = 0; li < 26; li++) {
        double sum = 0;
        for (int e = 0; e < 64; e++) sum += mp_loads_row(l, 0, li)[e];
        assert_float_equal(sum, 1.0, 0.01); /* shares, rounded to 4 decimals */
    }
    mp_loads_destroy(l);
}

static void test_forms(void **state)
{
    (void)state;
    mp_loads *l = load_text("[[1, 2, 3], [4, 5, 6]]", 1); /* bare [L][E] */
    assert_int_equal(l->steps, 1);
    assert_int_equal(l->layers, 2);
    assert_int_equal(l->experts, 3);
    assert_float_equal(mp_loads_row(l, 0, 1)[2], 6, 0);
    mp_loads_destroy(l);
    l = load_text("{\"logical_count\": [[[1, 2], [3, 4]], [[10, 20], [30, 40]]]}", 1); /* [X][L][E] */
    assert_int_equal(l->steps, 2);
    assert_float_equal(mp_loads_row(l, 1, 1)[0], 30, 0);
    mp_loads_destroy(l);
    l = load_text("{\"logical_count\": [[[1, 2], [3, 4]], [[10, 20], [30, 40]]]}", 0); /* summed */
    assert_int_equal(l->steps, 1);
    assert_float_equal(mp_loads_row(l, 0, 1)[1], 44, 0);
    mp_loads_destroy(l);
    l = load_text("{\"expert_load\": [[5, 0.5]], \"window\": 3}", 1); /* vLLM-style */
    assert_int_equal(l->layers, 1);
    assert_float_equal(mp_loads_row(l, 0, 0)[1], 0.5, 0);
    mp_loads_destroy(l);
    l = load_text("{\"load\": [[1e3, 2]]}", 1);
    assert_float_equal(mp_loads_row(l, 0, 0)[0], 1000, 0);
    mp_loads_destroy(l);
}

static void test_vllm_physical_slots(void **state)
{
    (void)state;
    /* EplbState.expert_load_window [W][L][P] with 2 redundant slots folded by physical_to_logical_map */
    mp_loads *l = load_text("{\"expert_load_window\": [[[1, 2, 3, 4, 5, 6]], [[10, 20, 30, 40, 50, 60]]],"
                            " \"physical_to_logical_map\": [[0, 1, 2, 3, 0, 2]]}", 1);
    assert_int_equal(l->steps, 2);
    assert_int_equal(l->layers, 1);
    assert_int_equal(l->experts, 4);
    const double want[8] = {6, 2, 9, 4, 60, 20, 90, 40};
    assert_memory_equal(l->count, want, sizeof want);
    mp_loads_destroy(l);
    /* SGLang's logical_count is already logical: a map beside it is left alone */
    l = load_text("{\"logical_count\": [[1, 2]], \"physical_to_logical_map\": [[0, 0, 1]]}", 1);
    assert_int_equal(l->experts, 2);
    mp_loads_destroy(l);
}

static void test_write_and_read_back(void **state)
{
    (void)state;
    mp_loads *l;
    mp_err err = {0};
    assert_int_equal(mp_loads_create(&l, 2, 3, 4, &err), 0);
    for (int64_t i = 0; i < 24; i++) l->count[i] = (double)(i * i) + (i == 5 ? 0.25 : 0);
    l->has_model = 1;
    l->model.top_k = 2;
    strcpy(l->model.name, "m");
    assert_int_equal(mp_loads_write_json(l, path, 1, &err), 0);
    mp_loads *r;
    assert_int_equal(mp_loads_read(&r, path, NULL, 1, &err), 0);
    assert_int_equal(r->steps, 2);
    assert_int_equal(r->has_model, 1);
    assert_string_equal(r->model.name, "m");
    assert_int_equal(r->model.top_k, 2);
    assert_memory_equal(r->count, l->count, 24 * sizeof *l->count);
    mp_loads_destroy(r);
    /* S > 1 is kept as [S][L][E] even without keep_steps; summed on a plain read */
    assert_int_equal(mp_loads_write_json(l, path, 0, &err), 0);
    assert_int_equal(mp_loads_read(&r, path, NULL, 0, &err), 0);
    assert_int_equal(r->steps, 1);
    assert_float_equal(mp_loads_row(r, 0, 0)[1], 1 + 13 * 13, 0);
    mp_loads_destroy(r);
    mp_loads_destroy(l);
}

static void test_trace_writer_counts(void **state)
{
    (void)state;
    mp_model m = mp_model_default();
    m.layers = 2;
    m.experts = 4;
    m.top_k = 1;
    for (int per_step = 0; per_step < 2; per_step++) {
        mp_write_opts wo = {0};
        wo.loads_per_step = per_step;
        mp_writer *w;
        mp_err err = {0};
        assert_int_equal(mp_writer_open(&w, path, &m, &wo, &err), 0);
        mp_step p = {0};
        for (int s = 0; s < 2; s++) {
            assert_int_equal(mp_step_reserve(&p, 3, 2, 1, 0, 0, &err), 0);
            p.step = s;
            p.first_token = 0;
            p.end_of_step = 1;
            const mp_expert_id ids[6] = {0, 1, 0, 2, 3, 3};
            memcpy(p.ids, ids, sizeof ids);
            assert_int_equal(mp_writer_put(w, &p, &err), 0);
        }
        mp_step_release(&p);
        assert_int_equal(mp_writer_commit(w, &err), 0);
        mp_loads *l;
        assert_int_equal(mp_loads_read(&l, path, NULL, 1, &err), 0);
        assert_int_equal(l->steps, per_step ? 2 : 1);
        double f = per_step ? 1 : 2;
        const double want[8] = {2 * f, 0, 0, f, 0, f, f, f};
        assert_memory_equal(l->count, want, sizeof want);
        assert_int_equal(l->has_model, 1);
        mp_loads_destroy(l);
    }
}

static void expect_error(const char *text, int code, const char *needle)
{
    put_file(text);
    mp_loads *l = NULL;
    mp_err err = {0};
    int rc = mp_loads_read(&l, path, NULL, 1, &err);
    if (rc != code || !strstr(err.msg, needle)) fprintf(stderr, "rc %d, msg '%s'\n", rc, err.msg);
    assert_int_equal(rc, code);
    assert_null(l);
    assert_non_null(strstr(err.msg, needle));
}

static void test_bad(void **state)
{
    (void)state;
    expect_error("{\"logical_count\": [[1, 2], [3, -4]]}", MP_ERANGE, "logical_count[1][1]: count -4 is negative");
    expect_error("{\"logical_count\": [[1, 2], [3, \"x\"]]}", MP_EFORMAT, "logical_count[1][1]: not a number");
    expect_error("{\"logical_count\": [[1, 2], [3]]}", MP_ESHAPE, "logical_count[1]: 1 entries, the first row has 2");
    expect_error("{\"logical_count\": [[[1], [2]], [[3]]]}", MP_ESHAPE, "logical_count[1]: 1 layers, the first has 2");
    expect_error("{\"logical_count\": [[1, 2], [[3], 4]]}", MP_ESHAPE, "logical_count[1]: nested deeper");
    expect_error("{\"logical_count\": []}", MP_ESHAPE, "logical_count: empty array");
    expect_error("{\"logical_count\": [[]]}", MP_ESHAPE, "logical_count[0]: empty array");
    expect_error("{\"logical_count\": 5}", MP_EFORMAT, "logical_count: expected an array, found a number");
    expect_error("{\"logical_count\": [[1e999]]}", MP_ERANGE, "logical_count[0][0]: count is not finite");
    expect_error("{\"logical_count\": [[NaN]]}", MP_EFORMAT, "invalid JSON");
    expect_error("{\"logical_count\": null}", MP_EFORMAT, "no load array");
    expect_error("{\"other\": [[1]]}", MP_EFORMAT, "no load array");
    expect_error("\"text\"", MP_EFORMAT, "neither an object nor an array");
    expect_error("{\"logical_count\": [[1, 2]", MP_EFORMAT, "invalid JSON");
    expect_error("[[1]] [[2]]", MP_EFORMAT, "offset 6: text after the JSON value");
    expect_error("{\"model\": {\"layers\": 2, \"experts\": 2, \"top_k\": 1}, \"logical_count\": [[1, 2]]}", MP_ESHAPE,
                 "model says 2 layers x 2 experts, logical_count is 1 x 2");
    expect_error("", MP_EFORMAT, "invalid JSON");
    expect_error("{\"expert_load_pass\": [[1, 2]], \"physical_to_logical_map\": [[0, -1]]}", MP_ERANGE,
                 "physical_to_logical_map[0][1]: not an expert id");
    expect_error("{\"expert_load_pass\": [[1, 2]], \"physical_to_logical_map\": [[0]]}", MP_ESHAPE,
                 "physical_to_logical_map[0]: 1 slots, the loads have 2");
    expect_error("{\"expert_load_pass\": [[1, 2]], \"physical_to_logical_map\": [[0, 1], [1, 0]]}", MP_ESHAPE,
                 "physical_to_logical_map: 2 layers, the loads have 1");
    /* counts and layer sums below 2^53 only (doubles count exactly up to there) */
    expect_error("{\"logical_count\": [[1, 9007199254740992]]}", MP_ERANGE,
                 "logical_count[0][1]: count 9007199254740992 is not below 2^53");
    expect_error("[[1e308, 1e308]]", MP_ERANGE, "[0][0]: count 1e+308 is not below 2^53");
    expect_error("{\"load\": [[[1, 2]], [[4503599627370496, 4503599627370496]]]}", MP_ERANGE,
                 "load[1][0]: the layer's counts sum to 9007199254740992, not below 2^53");
    /* content errors of a load array that is not used do not count; syntax errors anywhere do */
    expect_error("{\"loads\": [[1, -1]], \"logical_count\": [[1, 2]], \"x\": [1,]}", MP_EFORMAT, "offset 56: invalid JSON");
    expect_error("{\"logical_count\": [[1, 2]], \"x\": {\"a\" 1}}", MP_EFORMAT, "offset 38: invalid JSON");
    expect_error("{\"logical_count\": [[1, 2]], \"s\": \"a\\qb\"}", MP_EFORMAT, "invalid JSON");
    expect_error("{\"logical_count\": [[01]]}", MP_EFORMAT, "invalid JSON");
    expect_error("{\"logical_count\": [[1.]]}", MP_EFORMAT, "invalid JSON");
    expect_error("{\"logical_count\": [[1], [2]]", MP_EFORMAT, "offset 28: invalid JSON");
    expect_error("{\"logical_count\": [[[1]], 2]}", MP_EFORMAT, "logical_count[1]: expected an array, found a number");
    expect_error("{\"logical_count\": [1]}", MP_EFORMAT, "logical_count[0]: expected an array, found a number");
    /* absurd sizes: 70000 experts in a row */
    size_t n = 70000;
    char *big = malloc(n * 2 + 16);
    char *q = big + sprintf(big, "[[");
    for (size_t i = 0; i < n; i++) q += sprintf(q, i ? ",0" : "0");
    strcpy(q, "]]");
    expect_error(big, MP_ELIMIT, "70000 experts (limit 65535)");
    free(big);
    mp_loads *l = NULL;
    mp_err err = {0};
    assert_int_equal(mp_loads_read(&l, "/nonexistent/x.json", NULL, 1, &err), MP_EIO);
}

/* The streaming reader takes every JSON form: other keys of any shape are
 * skipped, the best load key wins wherever it stands, duplicates keep the
 * first, a byte order mark and escapes are fine. */
static void test_stream_forms(void **state)
{
    (void)state;
    mp_loads *l = load_text("\xEF\xBB\xBF {\"x\": {\"a\": [1, {\"b\": null}, \"q\\\"\\u00e9\"], \"t\": true, \"f\": false},"
                            " \"loads\": [[9, 9]], \"expert_load\": [[5, 6]], \"logical_count\": null,"
                            " \"counts\": 7, \"load_share\": [[0.25, 0.75]], \"load_share\": [[1, 1]], \"z\": -1.5e-3}\n",
                            1);
    assert_int_equal(l->layers, 1);
    assert_int_equal(l->experts, 2);
    assert_true(l->count[0] == 0.25 && l->count[1] == 0.75);
    mp_loads_destroy(l);
    l = load_text("{\"model\": \"a description\", \"model\": {\"layers\": 9}, \"logical_count\": [[1, 2], [3, 4]]}", 1);
    assert_int_equal(l->has_model, 0); /* the first "model" counts, and a string is no shape */
    mp_loads_destroy(l);
    l = load_text("[[[1,2],[3,4]],[[5,6],[7,8]],[[0,0],[0,1e3]]]", 1);
    assert_int_equal(l->steps, 3);
    assert_int_equal(l->layers, 2);
    assert_true(mp_loads_row(l, 2, 1)[1] == 1000);
    mp_loads_destroy(l);
    /* deep nesting elsewhere: at most 1000 levels, as cJSON */
    char deep[2300];
    size_t n = (size_t)sprintf(deep, "{\"d\": ");
    for (int i = 0; i < 999; i++) deep[n++] = '[';
    for (int i = 0; i < 999; i++) deep[n++] = ']';
    strcpy(deep + n, ", \"load\": [[1]]}");
    l = load_text(deep, 1);
    mp_loads_destroy(l);
    n = (size_t)sprintf(deep, "{\"d\": ");
    for (int i = 0; i < 1001; i++) deep[n++] = '[';
    for (int i = 0; i < 1001; i++) deep[n++] = ']';
    strcpy(deep + n, ", \"load\": [[1]]}");
    expect_error(deep, MP_EFORMAT, "invalid JSON");
}

static void test_not_a_trace(void **state)
{
    (void)state;
    put_file("[[1]]");
    mp_trace *t;
    mp_err err = {0};
    assert_int_equal(mp_trace_open(&t, path, NULL, &err), MP_EUNSUPPORTED);
    assert_non_null(strstr(err.msg, "holds expert loads, not per-token routing"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_real_sglang_qwen),  cmocka_unit_test(test_real_shares),
        cmocka_unit_test(test_forms),             cmocka_unit_test(test_vllm_physical_slots),
        cmocka_unit_test(test_write_and_read_back), cmocka_unit_test(test_stream_forms),
        cmocka_unit_test(test_trace_writer_counts), cmocka_unit_test(test_bad),
        cmocka_unit_test(test_not_a_trace),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
