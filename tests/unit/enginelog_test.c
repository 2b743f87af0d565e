/* enginelog_test.c - engine recordings: the safetensors reader behind
 * TensorRT-LLM statistic folders (dtypes, limits, layout), vLLM EPLB load
 * JSON lines, routed-experts responses, and format detection. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "traces/formats/mp_loadfile.h"
#include "traces/formats/mp_trace.h"
#include "traces/mp_loads.h"
#include "traces/stats/mp_loads_read.h"
#include "tests/unit/test_tmpdir.h"

static char dir[128], file[192];

static int setup(void **state)
{
    (void)state;
    return test_tmpdir_make("enginelog_test");
}

static int teardown(void **state)
{
    (void)state;
    return test_tmpdir_remove();
}

/* A fresh statistic folder <test_dir>/NAME with meta_info.json for E experts. */
static void folder(const char *name, int experts)
{
    snprintf(dir, sizeof dir, "%s/%s", test_dir, name);
    assert_int_equal(mkdir(dir, 0700), 0);
    char meta[256], text[96];
    snprintf(meta, sizeof meta, "%s/meta_info.json", dir);
    snprintf(text, sizeof text, "{\"num_experts\": %d, \"num_experts_per_token\": 1}", experts);
    test_put_file(meta, text);
}

/* Writes <dir>/NAME as a safetensors file: header JSON and n data bytes. */
static void st_put(const char *name, const char *header, const void *data, size_t n)
{
    snprintf(file, sizeof file, "%s/%s", dir, name);
    FILE *fp = fopen(file, "wb");
    assert_non_null(fp);
    uint64_t len = strlen(header);
    unsigned char lb[8];
    for (int i = 0; i < 8; i++) lb[i] = (unsigned char)(len >> (8 * i));
    assert_int_equal(fwrite(lb, 1, 8, fp), 8);
    assert_int_equal(fwrite(header, 1, len, fp), len);
    if (n) assert_int_equal(fwrite(data, 1, n, fp), n);
    assert_int_equal(fclose(fp), 0);
}

static int read_dir(mp_loads **l, mp_err *err) { return mp_loads_read(l, dir, NULL, 1, err); }

static void test_dtypes(void **state)
{
    (void)state;
    folder("dtypes", 2);
    /* little-endian: U8 {1,2}, I32 {3,4}, F64 {5,6}, U64 {7,8}; iterations 0..3 of decoder layer 5 */
    unsigned char d[2 + 8 + 16 + 16];
    memset(d, 0, sizeof d);
    d[0] = 1, d[1] = 2;
    d[2] = 3, d[6] = 4;
    double f[2] = {5, 6};
    memcpy(d + 10, f, 16);
    d[26] = 7, d[34] = 8;
    st_put("rank3.safetensors",
           "{\"__metadata__\": {\"format\": \"pt\"}, \"2_5\": {\"dtype\": \"F64\", \"shape\": [2], \"data_offsets\": [10, 26]},"
           " \"0_5\": {\"dtype\": \"U8\", \"shape\": [2], \"data_offsets\": [0, 2]},"
           " \"1_5\": {\"dtype\": \"I32\", \"shape\": [2], \"data_offsets\": [2, 10]},"
           " \"3_5\": {\"dtype\": \"U64\", \"shape\": [2], \"data_offsets\": [26, 42]}}",
           d, sizeof d);
    mp_loads *l;
    mp_err err;
    assert_int_equal(read_dir(&l, &err), 0);
    assert_int_equal(l->steps, 4);
    assert_int_equal(l->layers, 1);
    assert_int_equal(l->experts, 2);
    for (int s = 0; s < 4; s++) {
        assert_true(mp_loads_row(l, s, 0)[0] == 2 * s + 1);
        assert_true(mp_loads_row(l, s, 0)[1] == 2 * s + 2);
    }
    mp_loads_destroy(l);
}

static void test_limits(void **state)
{
    (void)state;
    mp_loads *l = NULL;
    mp_err err;
    folder("f16", 2);
    unsigned char z[8] = {0};
    st_put("rank0.safetensors", "{\"0_0\": {\"dtype\": \"F16\", \"shape\": [2], \"data_offsets\": [0, 4]}}", z, 4);
    assert_int_equal(read_dir(&l, &err), MP_EUNSUPPORTED);
    assert_non_null(strstr(err.msg, "dtype F16 does not hold counts"));

    folder("big", 1);
    unsigned char b[8] = {0, 0, 0, 0, 0, 0, 0x20, 0}; /* 2^53 */
    st_put("rank0.safetensors", "{\"0_0\": {\"dtype\": \"U64\", \"shape\": [1], \"data_offsets\": [0, 8]}}", b, 8);
    assert_int_equal(read_dir(&l, &err), MP_ERANGE);

    folder("gap", 1);
    st_put("rank0.safetensors", "{\"0_0\": {\"dtype\": \"U8\", \"shape\": [1], \"data_offsets\": [1, 2]}}", b, 2);
    assert_int_equal(read_dir(&l, &err), MP_EFORMAT);
    assert_non_null(strstr(err.msg, "leaves a gap"));

    folder("tail", 1);
    st_put("rank0.safetensors", "{\"0_0\": {\"dtype\": \"U8\", \"shape\": [1], \"data_offsets\": [0, 1]}}", b, 2);
    assert_int_equal(read_dir(&l, &err), MP_EFORMAT);
    assert_non_null(strstr(err.msg, "1 bytes after the last tensor"));

    folder("shape", 1);
    st_put("rank0.safetensors", "{\"0_0\": {\"dtype\": \"U8\", \"shape\": [4294967296, 4294967296], \"data_offsets\": [0, 1]}}",
           b, 1);
    assert_int_equal(read_dir(&l, &err), MP_ELIMIT);

    folder("dup", 1);
    st_put("rank0.safetensors",
           "{\"0_0\": {\"dtype\": \"U8\", \"shape\": [1], \"data_offsets\": [0, 1]},"
           " \"0_0\": {\"dtype\": \"U8\", \"shape\": [1], \"data_offsets\": [1, 2]}}",
           b, 2);
    assert_int_equal(read_dir(&l, &err), MP_EFORMAT);
    assert_non_null(strstr(err.msg, "appears twice"));

    folder("tworanks", 1);
    st_put("rank7.safetensors", "{\"0_0\": {\"dtype\": \"U8\", \"shape\": [1], \"data_offsets\": [0, 1]}}", b, 1);
    st_put("rank07.safetensors", "{\"0_0\": {\"dtype\": \"U8\", \"shape\": [1], \"data_offsets\": [0, 1]}}", b, 1);
    assert_int_equal(read_dir(&l, &err), MP_EFORMAT);
    assert_non_null(strstr(err.msg, "two files for rank 7"));

    folder("wrongE", 3);
    st_put("rank0.safetensors", "{\"0_0\": {\"dtype\": \"U8\", \"shape\": [1], \"data_offsets\": [0, 1]}}", b, 1);
    assert_int_equal(read_dir(&l, &err), MP_ESHAPE);
    assert_null(l);
}

static mp_format guess(const char *path)
{
    mp_format f = MP_FMT_AUTO;
    mp_err err;
    return mp_format_guess(path, MP_FMT_AUTO, &f, &err) == 0 ? f : MP_FMT_AUTO;
}

static void test_detect(void **state)
{
    (void)state;
    assert_int_equal(guess(MP_TEST_DATA "/trtllm/ds_small"), MP_FMT_TRTLLM);
    assert_int_equal(guess(MP_TEST_DATA "/vllm/eplb_small.jsonl"), MP_FMT_VLLM_EPLB);
    assert_int_equal(guess(MP_TEST_DATA "/routed/sglang.jsonl"), MP_FMT_ROUTED);
    assert_int_equal(guess(MP_TEST_DATA "/routed"), MP_FMT_AUTO); /* a folder of nothing known */
    assert_int_equal(guess(MP_TEST_DATA "/small.mpt"), MP_FMT_MPT);
    assert_int_equal(guess("/nonexistent/x"), MP_FMT_AUTO);
    assert_true(mp_format_is_loads(MP_FMT_TRTLLM) && mp_format_is_loads(MP_FMT_VLLM_EPLB) &&
                mp_format_is_loads(MP_FMT_JSON));
    assert_false(mp_format_is_loads(MP_FMT_ROUTED) || mp_format_is_loads(MP_FMT_MPT) || mp_format_is_loads(MP_FMT_PT));
    mp_format f;
    assert_int_equal(mp_format_parse("vllm-eplb", &f), 0);
    assert_int_equal(f, MP_FMT_VLLM_EPLB);
    assert_string_equal(mp_format_name(MP_FMT_TRTLLM), "trtllm");
    /* a load recording is not a trace, a trace not a load recording */
    mp_trace *t;
    mp_err err;
    assert_int_equal(mp_trace_open(&t, MP_TEST_DATA "/trtllm/ds_small", NULL, &err), MP_EUNSUPPORTED);
    mp_loads *l;
    assert_int_equal(mp_loads_read_file(&l, MP_TEST_DATA "/routed/vllm.jsonl", NULL, &err), MP_EUNSUPPORTED);
}

static void test_eplb_forms(void **state)
{
    (void)state;
    char p[192];
    snprintf(p, sizeof p, "%s/e.jsonl", test_dir);
    /* no meta record; P changes between records (elastic EP); CRLF lines; blank line */
    test_put_file(p, "{\"record_type\": \"eplb_load_stats\", \"step\": 5, \"expert_load\": [[1, 2, 3]], \"p2l_map\": [[0, 1, 1]]}\r\n"
                     "\n"
                     "{\"record_type\": \"eplb_load_stats\", \"step\": 0, \"expert_load\": [[4, 5]], \"p2l_map\": [[1, 0]]}\n");
    mp_loads *l;
    mp_err err;
    assert_int_equal(mp_loads_read(&l, p, NULL, 1, &err), 0);
    assert_int_equal(l->steps, 2);
    assert_int_equal(l->experts, 2);
    double want[4] = {1, 5, 5, 4};
    for (int i = 0; i < 4; i++) assert_true(l->count[i] == want[i]);
    mp_loads_destroy(l);
    assert_int_equal(mp_loads_read(&l, p, NULL, 0, &err), 0); /* summed */
    assert_true(l->steps == 1 && l->count[0] == 6 && l->count[1] == 9);
    mp_loads_destroy(l);
    /* the meta record's layer count must match */
    test_put_file(p, "{\"record_type\": \"eplb_load_meta\", \"num_layers\": 2}\n"
                     "{\"record_type\": \"eplb_load_stats\", \"step\": 1, \"expert_load\": [[1]], \"p2l_map\": [[0]]}\n");
    assert_int_equal(mp_loads_read(&l, p, NULL, 1, &err), MP_ESHAPE);
    assert_non_null(strstr(err.msg, "line 2: expert_load has 1 layer rows, expected 2"));
    /* meta only */
    test_put_file(p, "{\"record_type\": \"eplb_load_meta\", \"num_layers\": 2}\n");
    assert_int_equal(mp_loads_read(&l, p, NULL, 1, &err), MP_EFORMAT);
    assert_non_null(strstr(err.msg, "no eplb_load_stats records"));
}

static void test_routed_forms(void **state)
{
    (void)state;
    char p[192];
    snprintf(p, sizeof p, "%s/r.jsonl", test_dir);
    /* ids 1,2,3,0 as int32, unpadded base64 ("AQAAAAIAAAADAAAAAAAAAA"), 2 rows x (1 layer x 2) */
    test_put_file(p, "[{\"meta_info\": {\"prompt_tokens\": 2, \"completion_tokens\": 1, \"routed_experts\": "
                     "\"AQAAAAIAAAADAAAAAAAAAA\"}}, {\"meta_info\": {\"routed_experts\": [[[3, 1]]]}}]\n");
    mp_model hint = mp_model_default();
    hint.layers = 1;
    mp_read_opts o = {0};
    o.model = &hint;
    mp_trace *t;
    mp_err err;
    assert_int_equal(mp_trace_open(&t, p, &o, &err), 0);
    const mp_model *m = mp_trace_model(t);
    assert_int_equal(m->layers, 1);
    assert_int_equal(m->top_k, 2);
    assert_int_equal(m->experts, 4);
    mp_step s = {0};
    static const int want[2][4] = {{1, 2, 3, 0}, {3, 1}};
    for (int step = 0; step < 2; step++) {
        assert_int_equal(mp_trace_next(t, &s, &err), 1);
        assert_int_equal(s.step, step);
        assert_int_equal(s.tokens, step ? 1 : 2);
        assert_true(s.end_of_step);
        for (int i = 0; i < s.tokens * 2; i++) assert_int_equal(s.ids[i], want[step][i]);
    }
    assert_int_equal(mp_trace_next(t, &s, &err), 0);
    mp_step_release(&s);
    mp_trace_close(t);
    /* a model with E smaller than an id refuses it */
    hint.experts = 3;
    assert_int_equal(mp_trace_open(&t, p, &o, &err), MP_ERANGE);
    assert_non_null(strstr(err.msg, "line 1: [0].meta_info.routed_experts: token 1 layer 0: expert id 3 is out of range"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dtypes),      cmocka_unit_test(test_limits),       cmocka_unit_test(test_detect),
        cmocka_unit_test(test_eplb_forms), cmocka_unit_test(test_routed_forms),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
