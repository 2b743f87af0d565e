/* csv_test.c - the CSV trace reader and writer: round trips and every kind of bad row. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "traces/formats/mp_trace.h"
#include "tests/unit/test_tmpdir.h"

static char path[128];

static int setup(void **state)
{
    (void)state;
    if (test_tmpdir_make("csv_test")) return -1;
    snprintf(path, sizeof path, "%s/t.csv", test_dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    return test_tmpdir_remove();
}

static void put_file(const char *text) { test_put_file(path, text); }

/* Opens and reads `path` through; returns the status and the message. */
static int read_all(const mp_model *hint, mp_err *err, int64_t *tokens, int64_t *steps)
{
    mp_read_opts o = {0};
    o.model = hint;
    mp_trace *t;
    int rc = mp_trace_open(&t, path, &o, err);
    if (rc) return rc;
    mp_step p = {0};
    *tokens = *steps = 0;
    while ((rc = mp_trace_next(t, &p, err)) == 1) {
        *tokens += p.tokens;
        *steps += p.end_of_step;
    }
    mp_step_release(&p);
    mp_trace_close(t);
    return rc;
}

static void expect_error(const char *text, int code, const char *needle)
{
    put_file(text);
    mp_err err = {0};
    int64_t n, s;
    int rc = read_all(NULL, &err, &n, &s);
    if (rc != code || !strstr(err.msg, needle)) fprintf(stderr, "rc %d, msg '%s'\n", rc, err.msg);
    assert_int_equal(rc, code);
    assert_non_null(strstr(err.msg, needle));
}

static void test_plain_no_model_line(void **state)
{
    (void)state;
    put_file("step,token,layer,e0,e1\n"
             "0,0,0,3,1\n0,0,1,0,2\n"
             "0,1,0,4,1\n0,1,1,1,2\n"
             "1,0,0,9,1\r\n1,0,1,0,2\n");
    mp_read_opts o = {0};
    mp_trace *t;
    mp_err err = {0};
    assert_int_equal(mp_trace_open(&t, path, &o, &err), 0);
    const mp_model *m = mp_trace_model(t);
    assert_int_equal(m->layers, 2);
    assert_int_equal(m->top_k, 2);
    assert_int_equal(m->experts, 10);
    assert_int_equal(mp_trace_get_info(t).steps, 2);
    assert_int_equal(mp_trace_get_info(t).tokens, 3);
    mp_step p = {0};
    assert_int_equal(mp_trace_next(t, &p, &err), 1);
    assert_int_equal(p.tokens, 2);
    assert_int_equal(p.end_of_step, 1);
    const mp_expert_id want0[8] = {3, 1, 0, 2, 4, 1, 1, 2};
    assert_memory_equal(p.ids, want0, sizeof want0);
    assert_null(p.weights);
    assert_int_equal(mp_trace_next(t, &p, &err), 1);
    assert_int_equal(p.step, 1);
    assert_int_equal(p.tokens, 1);
    assert_int_equal(p.ids[0], 9);
    assert_int_equal(mp_trace_next(t, &p, &err), 0);
    mp_step_release(&p);
    mp_trace_close(t);
}

static void test_bom_crlf_spaces(void **state)
{
    (void)state;
    put_file("\xEF\xBB\xBFstep, token, layer, e0\r\n0, 0, 0, 3\r\n\r\n0,1,0, 2 \r\n");
    mp_err err = {0};
    int64_t n, s;
    assert_int_equal(read_all(NULL, &err, &n, &s), 0);
    assert_int_equal(n, 2);
    assert_int_equal(s, 1);
}

static void test_round_trip_weights_ranks(void **state)
{
    (void)state;
    mp_model m = mp_model_default();
    strcpy(m.name, "tiny");
    m.layers = 3;
    m.experts = 300;
    m.top_k = 4;
    mp_write_opts wo = {0};
    wo.with_weights = wo.with_src_rank = 1;
    mp_writer *w;
    mp_err err = {0};
    assert_int_equal(mp_writer_open(&w, path, &m, &wo, &err), 0);
    mp_step p = {0};
    /* 3 steps of 40000 tokens in pieces of 25000: crosses the reader's piece size (2^21 / 12) */
    int64_t g = 0;
    for (int s = 0; s < 3; s++)
        for (int64_t t0 = 0; t0 < 40000; t0 += 25000) {
            int64_t n = 40000 - t0 < 25000 ? 40000 - t0 : 25000;
            assert_int_equal(mp_step_reserve(&p, n, 3, 4, 1, 1, &err), 0);
            p.step = s;
            p.first_token = t0;
            p.end_of_step = t0 + n == 40000;
            for (int64_t i = 0; i < n * 12; i++, g++) {
                p.ids[i] = (mp_expert_id)(g * 131 % 300);
                p.weights[i] = (float)(g % 1000) / 3.0f;
            }
            for (int64_t i = 0; i < n; i++) p.src_rank[i] = (int32_t)((t0 + i) % 8);
            assert_int_equal(mp_writer_put(w, &p, &err), 0);
        }
    assert_int_equal(mp_writer_commit(w, &err), 0);
    mp_trace *t;
    assert_int_equal(mp_trace_open(&t, path, NULL, &err), 0);
    assert_string_equal(mp_trace_model(t)->name, "tiny");
    assert_int_equal(mp_trace_model(t)->experts, 300);
    assert_int_equal(mp_trace_get_info(t).has_weights, 1);
    assert_int_equal(mp_trace_get_info(t).has_src_rank, 1);
    g = 0;
    int64_t tokens = 0, pieces = 0, steps = 0;
    int rc;
    while ((rc = mp_trace_next(t, &p, &err)) == 1) {
        pieces++;
        assert_true(mp_step_assignments(&p) <= ((int64_t)1 << 21));
        for (int64_t i = 0; i < p.tokens * 12; i++, g++) {
            if (p.ids[i] != (mp_expert_id)(g * 131 % 300)) fail_msg("id %lld", (long long)g);
            if (p.weights[i] != (float)(g % 1000) / 3.0f) fail_msg("weight %lld", (long long)g);
        }
        for (int64_t i = 0; i < p.tokens; i++)
            if (p.src_rank[i] != (p.first_token + i) % 8) fail_msg("rank");
        tokens += p.tokens;
        steps += p.end_of_step;
    }
    assert_int_equal(rc, 0);
    assert_int_equal(tokens, 120000);
    assert_int_equal(steps, 3);
    assert_true(pieces >= 3);
    assert_int_equal(mp_trace_get_info(t).tokens, 120000);
    mp_step_release(&p);
    mp_trace_close(t);
}

/* Every float32 weight the writer prints reads back bit for bit: FLT_MAX and
 * its neighbours, subnormals, -0 (which .mpt accepts too), 9-digit values. */
static void test_weights_bit_exact(void **state)
{
    (void)state;
    static const uint32_t bits[] = {0x00000000, 0x80000000, 0x00000001, 0x007FFFFF, 0x00800000, 0x7F7FFFFF,
                                    0x7F7FFFFE, 0x3F7FFFFF, 0x3F800001, 0x3EAAAAAB, 0x4B800001, 0x33D6BF95};
    enum { N = sizeof bits / sizeof bits[0] };
    mp_model m = mp_model_default();
    m.layers = 1;
    m.experts = 4;
    m.top_k = 2;
    mp_step p = {0};
    assert_int_equal(mp_step_reserve(&p, N / 2, 1, 2, 1, 0, NULL), 0);
    p.end_of_step = 1;
    for (int i = 0; i < N; i++) {
        p.ids[i] = (mp_expert_id)(i % 2);
        memcpy(&p.weights[i], &bits[i], 4);
    }
    mp_write_opts wo = {0};
    wo.with_weights = 1;
    mp_writer *w;
    mp_err err = {0};
    assert_int_equal(mp_writer_open(&w, path, &m, &wo, &err), 0);
    assert_int_equal(mp_writer_put(w, &p, &err), 0);
    assert_int_equal(mp_writer_commit(w, &err), 0);
    mp_trace *t;
    assert_int_equal(mp_trace_open(&t, path, NULL, &err), 0);
    mp_step q = {0};
    assert_int_equal(mp_trace_next(t, &q, &err), 1);
    assert_int_equal(q.tokens, N / 2);
    assert_non_null(q.weights);
    for (int i = 0; i < N; i++) {
        uint32_t got;
        memcpy(&got, &q.weights[i], 4);
        if (got != bits[i]) fprintf(stderr, "weight %d: wrote %08x, read %08x\n", i, (unsigned)bits[i], (unsigned)got);
        assert_int_equal(got, bits[i]);
    }
    assert_int_equal(mp_trace_next(t, &q, &err), 0);
    mp_trace_close(t);
    mp_step_release(&q);
    mp_step_release(&p);
}

static void test_hint(void **state)
{
    (void)state;
    put_file("step,token,layer,e0\n0,0,0,3\n0,1,0,5\n");
    mp_model hint = {0};
    hint.experts = 5;
    mp_err err = {0};
    int64_t n, s;
    assert_int_equal(read_all(&hint, &err, &n, &s), MP_ERANGE);
    assert_non_null(strstr(err.msg, "expert id 5 >= experts 5"));
    hint.experts = 64;
    assert_int_equal(read_all(&hint, &err, &n, &s), 0);
    assert_int_equal(n, 2);
    hint.layers = 2;
    assert_int_equal(read_all(&hint, &err, &n, &s), MP_ESHAPE);
}

static void test_bad_rows(void **state)
{
    (void)state;
    const char *head = "# moeplace-csv 1 {\"layers\":2,\"experts\":8,\"top_k\":2}\nstep,token,layer,e0,e1,w0,w1\n";
    char buf[512];
#define BAD(rows, code, needle)                       \
    do {                                              \
        snprintf(buf, sizeof buf, "%s%s", head, rows); \
        expect_error(buf, code, needle);              \
    } while (0)
    BAD("0,0,0,1,2,0.5,0.5\n0,0,1,1,2,0.5\n", MP_ESHAPE, "line 4: 6 columns, the header has 7");
    BAD("0,0,0,1,2,0.5,0.5\n0,0,1,1,x,0.5,0.5\n", MP_EFORMAT, "line 4, column 5 (e1): 'x' is not an integer");
    BAD("0,0,0,1,2,0.5,0.5\n0,1,0,1,2,0.5,0.5\n", MP_ESHAPE, "step 0 token 0 has 1 layers, want 2 (missing layers)");
    BAD("0,0,0,1,2,0.5,0.5\n0,0,1,1,2,0.5,0.5\n0,2,0,1,2,0.5,0.5\n", MP_EFORMAT, "line 5: step 0 token 2 layer 0 cannot follow");
    BAD("0,0,1,1,2,0.5,0.5\n", MP_EFORMAT, "line 3: the first row must be step 0, token 0, layer 0");
    BAD("0,0,0,1,8,0.5,0.5\n", MP_ERANGE, "line 3, column 5 (e1): 8 is out of range 0..7");
    BAD("0,0,0,1,-1,0.5,0.5\n", MP_ERANGE, "(e1): -1 is out of range");
    BAD("0,0,0,1,2,0.5,nan\n", MP_ERANGE, "line 3, column 7 (w1): 'nan' is not a finite non-negative weight");
    BAD("0,0,0,1,2,-0.5,0.5\n", MP_ERANGE, "(w0): '-0.5'");
    /* past float32's range, even by a little: refused, never turned into infinity */
    BAD("0,0,0,1,2,3.41e38,0.5\n", MP_ERANGE, "(w0): '3.41e38'");
    BAD("0,0,0,1,2,1e39,0.5\n", MP_ERANGE, "(w0): '1e39'");
    BAD("0,0,0,1,2,0.5,inf\n", MP_ERANGE, "(w1): 'inf'");
    BAD("0,0,0,1,2,0.5,0.5\n0,0,1,1,2,0.5,0.5\n", 0, "");
    BAD("0,0,0,1,2,0.5,0.5\n", MP_ESHAPE, "has 1 layers, want 2");
    BAD("0,0,0,1,2,0.5,0.5\n0,0,2,1,2,0.5,0.5\n", MP_ERANGE, "(layer): 2 is out of range 0..1");
    expect_error("step,token,layer\n0,0,0\n", MP_EFORMAT, "line 1, column 4: header has no expert columns");
    expect_error("step,token,layer,e0,e2\n", MP_EFORMAT, "line 1, column 5: header column 'e2', expected 'e1'");
    expect_error("step,token,layer,e0,e1,w0\n", MP_EFORMAT, "column 7: expected 'w1'");
    expect_error("step,token,layer,e0,extra\n", MP_EFORMAT, "expected 'e1'");
    expect_error("step,token,layer,e0,rank,x\n", MP_EFORMAT, "column 6: unexpected header column 'x'");
    expect_error("token,step,layer,e0\n", MP_EFORMAT, "line 1, column 1: header must start with step,token,layer");
    expect_error("", MP_EFORMAT, "no header line");
    expect_error("step,token,layer,e0\n", MP_EFORMAT, "no data rows");
    expect_error("# moeplace-csv 2 {}\nstep,token,layer,e0\n", MP_EVERSION, "version 2");
    expect_error("# moeplace-csv 1 {\"layers\":1,\"experts\":4,\"top_k\":2}\nstep,token,layer,e0\n", MP_ESHAPE,
                 "1 expert columns, the model line says top_k 2");
    expect_error("# moeplace-csv 1 {\"layers\":1,\"experts\":4,\"top_k\":1}\n# provenance [1]\nstep,token,layer,e0\n", MP_EFORMAT,
                 "line 2: provenance is not a JSON object");
    expect_error("step,token,layer,e0,rank\n0,0,0,1,0\n0,0,1,1,1\n", MP_EFORMAT, "rank 1 differs from the token's rank 0");
    char *longline = malloc(70000);
    memset(longline, '1', 69999);
    longline[69999] = '\0';
    snprintf(buf, sizeof buf, "step,token,layer,e0\n0,0,0,");
    FILE *fp = fopen(path, "wb");
    fputs(buf, fp);
    fputs(longline, fp);
    fclose(fp);
    free(longline);
    mp_err err = {0};
    int64_t n, s;
    assert_int_equal(read_all(NULL, &err, &n, &s), MP_ELIMIT);
    assert_non_null(strstr(err.msg, "line 2: longer than"));
#undef BAD
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_no_model_line),
        cmocka_unit_test(test_bom_crlf_spaces),
        cmocka_unit_test(test_round_trip_weights_ranks),
        cmocka_unit_test(test_hint),
        cmocka_unit_test(test_weights_bit_exact),
        cmocka_unit_test(test_bad_rows),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
