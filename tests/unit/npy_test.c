/* npy_test.c - the NumPy reader and writer against fixtures made by np.save. */
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

#define NPY(name) MP_TEST_DATA "/npy/" name

/* The fixtures hold one array ids[12][3][2] (T, L, K), E = 8; these are a few of its values. */
static const mp_expert_id tok0[3][2] = {{6, 5}, {6, 4}, {1, 5}};

static char tmpdir[64];

static int setup(void **state)
{
    (void)state;
    strcpy(tmpdir, "/tmp/mp_npy_test.XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

/* Reads a whole trace into one [T][L][K] array (and weights); returns tokens. */
static int64_t slurp(const char *path, const mp_read_opts *o, mp_expert_id **ids, float **w, mp_model *m, int64_t *steps)
{
    mp_trace *t;
    mp_err err = {0};
    int rc = mp_trace_open(&t, path, o, &err);
    if (rc) fprintf(stderr, "%s\n", err.msg);
    assert_int_equal(rc, 0);
    *m = *mp_trace_model(t);
    int64_t per = (int64_t)m->layers * m->top_k, n = 0, cap = 0;
    *ids = NULL;
    if (w) *w = NULL;
    *steps = 0;
    mp_step p = {0};
    while ((rc = mp_trace_next(t, &p, &err)) == 1) {
        assert_true(mp_step_assignments(&p) <= ((int64_t)1 << 21) || p.tokens == 1);
        if (n + p.tokens > cap) {
            cap = (n + p.tokens) * 2;
            *ids = realloc(*ids, (size_t)(cap * per) * sizeof **ids);
            if (w) *w = realloc(*w, (size_t)(cap * per) * sizeof **w);
        }
        memcpy(*ids + n * per, p.ids, (size_t)(p.tokens * per) * sizeof *p.ids);
        if (w && p.weights) memcpy(*w + n * per, p.weights, (size_t)(p.tokens * per) * sizeof *p.weights);
        n += p.tokens;
        if (p.end_of_step) ++*steps;
    }
    assert_int_equal(rc, 0);
    mp_step_release(&p);
    mp_trace_close(t);
    return n;
}

static void test_layouts_agree(void **state)
{
    (void)state;
    mp_read_opts o = {0};
    mp_model m1, m2;
    mp_expert_id *a, *b;
    int64_t s;
    o.npy_layout = MP_NPY_TLK;
    assert_int_equal(slurp(NPY("tlk_i64.npy"), &o, &a, NULL, &m1, &s), 12);
    assert_int_equal(s, 1);
    o.npy_layout = MP_NPY_LTK;
    assert_int_equal(slurp(NPY("ltk_i32.npy"), &o, &b, NULL, &m2, &s), 12);
    assert_int_equal(m1.layers, 3);
    assert_int_equal(m1.top_k, 2);
    assert_int_equal(m1.experts, 8);
    assert_int_equal(m2.experts, 8);
    assert_memory_equal(a, tok0, sizeof tok0);
    assert_int_equal(a[(5 * 3 + 1) * 2 + 0], 0);
    assert_int_equal(a[(5 * 3 + 1) * 2 + 1], 3);
    assert_memory_equal(a, b, 12 * 3 * 2 * sizeof *a);
    free(a);
    free(b);
}

static void test_model_hint_resolves_layout(void **state)
{
    (void)state;
    mp_read_opts o = {0};
    mp_trace *t;
    mp_err err = {0};
    assert_int_equal(mp_trace_open(&t, NPY("tlk_i64.npy"), &o, &err), MP_ESHAPE);
    assert_non_null(strstr(err.msg, "layout must be given"));
    mp_model hint = {0};
    hint.layers = 3;
    hint.experts = 16;
    o.model = &hint;
    assert_int_equal(mp_trace_open(&t, NPY("tlk_i64.npy"), &o, &err), 0);
    assert_int_equal(mp_trace_model(t)->layers, 3);
    assert_int_equal(mp_trace_model(t)->experts, 16);
    mp_trace_close(t);
    assert_int_equal(mp_trace_open(&t, NPY("ltk_i32.npy"), &o, &err), 0); /* [3,12,2]: LTK */
    mp_step p = {0};
    assert_int_equal(mp_trace_next(t, &p, &err), 1);
    assert_memory_equal(p.ids, tok0, sizeof tok0);
    mp_step_release(&p);
    mp_trace_close(t);
    hint.layers = 5;
    assert_int_equal(mp_trace_open(&t, NPY("tlk_i64.npy"), &o, &err), MP_ESHAPE);
}

static void test_two_d_and_versions(void **state)
{
    (void)state;
    const char *files[] = {NPY("tk_u8.npy"), NPY("tk_v2.npy"), NPY("tk_v3.npy"), NPY("tk_py2_long.npy")};
    for (int f = 0; f < 4; f++) {
        mp_model m;
        mp_expert_id *a;
        int64_t s;
        assert_int_equal(slurp(files[f], NULL, &a, NULL, &m, &s), 12);
        assert_int_equal(m.layers, 1);
        assert_int_equal(m.top_k, 2);
        if (f == 0 || f == 3) assert_memory_equal(a, tok0[0], 2 * sizeof *a);
        else assert_memory_equal(a, tok0[1], 2 * sizeof *a);
        free(a);
    }
}

static void test_weights_f16_and_f32(void **state)
{
    (void)state;
    mp_read_opts o = {0};
    mp_model m;
    mp_expert_id *a;
    float *w16, *w32;
    int64_t s;
    o.npy_layout = MP_NPY_TLK;
    o.weights_path = NPY("tlk_w16.npy");
    slurp(NPY("tlk_i64.npy"), &o, &a, &w16, &m, &s);
    free(a);
    o.npy_layout = MP_NPY_LTK;
    o.weights_path = NPY("ltk_w32.npy");
    slurp(NPY("ltk_i32.npy"), &o, &a, &w32, &m, &s);
    free(a);
    assert_memory_equal(w16, w32, 72 * sizeof *w16);
    assert_float_equal(w16[0], 0.322998046875, 0); /* exact half value */
    free(w16);
    free(w32);
}

static void test_tokens_per_step(void **state)
{
    (void)state;
    mp_read_opts o = {0};
    o.npy_layout = MP_NPY_TLK;
    o.tokens_per_step = 5;
    mp_trace *t;
    mp_err err = {0};
    assert_int_equal(mp_trace_open(&t, NPY("tlk_i64.npy"), &o, &err), 0);
    assert_int_equal(mp_trace_get_info(t).steps, 3);
    mp_step p = {0};
    int64_t want[3] = {5, 5, 2};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(mp_trace_next(t, &p, &err), 1);
        assert_int_equal(p.step, i);
        assert_int_equal(p.tokens, want[i]);
        assert_int_equal(p.end_of_step, 1);
    }
    assert_int_equal(mp_trace_next(t, &p, &err), 0);
    mp_step_release(&p);
    mp_trace_close(t);
}

static void expect_fail(const char *path, const char *weights, int code, const char *needle)
{
    mp_read_opts o = {0};
    o.npy_layout = MP_NPY_TLK;
    o.weights_path = weights;
    mp_trace *t = NULL;
    mp_err err = {0};
    int rc = mp_trace_open(&t, path, &o, &err);
    if (rc == 0) {
        mp_step p = {0};
        while ((rc = mp_trace_next(t, &p, &err)) == 1) {
        }
        mp_step_release(&p);
        mp_trace_close(t);
    }
    if (rc != code || !strstr(err.msg, needle)) fprintf(stderr, "%s: rc %d, msg '%s'\n", path, rc, err.msg);
    assert_int_equal(rc, code);
    assert_non_null(strstr(err.msg, needle));
}

static void test_bad_files(void **state)
{
    (void)state;
    expect_fail(NPY("bad_bigendian.npy"), NULL, MP_EUNSUPPORTED, "big-endian");
    expect_fail(NPY("bad_fortran.npy"), NULL, MP_EUNSUPPORTED, "Fortran");
    expect_fail(NPY("bad_float.npy"), NULL, MP_EUNSUPPORTED, "integer dtype");
    expect_fail(NPY("bad_negative.npy"), NULL, MP_ERANGE, "element 32 (token 5, layer 1, choice 0): expert id -1 is negative");
    expect_fail(NPY("bad_1d.npy"), NULL, MP_ESHAPE, "want 2 dimensions");
    expect_fail(NPY("bad_truncated.npy"), NULL, MP_EFORMAT, "truncated");
    expect_fail(NPY("bad_truncated_header.npy"), NULL, MP_EFORMAT, "truncated npy header");
    expect_fail(NPY("bad_magic.npy"), NULL, MP_EFORMAT, "offset 0: not a NumPy");
    expect_fail(NPY("bad_version.npy"), NULL, MP_EVERSION, "version 9.0");
    expect_fail(NPY("tlk_i64.npy"), NPY("bad_w_nan.npy"), MP_ERANGE, "gate weight is NaN");
    expect_fail(NPY("tlk_i64.npy"), NPY("bad_w_shape.npy"), MP_ESHAPE, "differs");
    expect_fail(NPY("tlk_i64.npy"), NPY("tlk_i64.npy"), MP_EUNSUPPORTED, "float16 or float32");
    expect_fail(NPY("nonexistent.npy"), NULL, MP_EIO, "cannot open");
}

static void test_id_beyond_hint(void **state)
{
    (void)state;
    mp_read_opts o = {0};
    mp_model hint = {0};
    hint.experts = 6;
    o.model = &hint;
    o.npy_layout = MP_NPY_TLK;
    mp_trace *t;
    mp_err err = {0};
    assert_int_equal(mp_trace_open(&t, NPY("tlk_i64.npy"), &o, &err), 0);
    mp_step p = {0};
    assert_int_equal(mp_trace_next(t, &p, &err), MP_ERANGE);
    assert_non_null(strstr(err.msg, "element 0 (token 0, layer 0, choice 0): expert id 6 >= experts 6"));
    mp_step_release(&p);
    mp_trace_close(t);
}

/* Writes a synthetic trace of `steps` steps of T tokens in pieces; weights = id / 16. */
static void write_synthetic(const char *path, const char *wpath, int32_t L, int32_t K, int32_t E, int steps, int64_t T)
{
    mp_model m = mp_model_default();
    m.layers = L;
    m.experts = E;
    m.top_k = K;
    mp_write_opts wo = {0};
    wo.with_weights = wpath != NULL;
    wo.weights_path = wpath;
    mp_writer *w;
    mp_err err = {0};
    assert_int_equal(mp_writer_open(&w, path, &m, &wo, &err), 0);
    mp_step p = {0};
    int64_t chunk = 1000, g = 0;
    for (int s = 0; s < steps; s++)
        for (int64_t t0 = 0; t0 < T; t0 += chunk) {
            int64_t n = T - t0 < chunk ? T - t0 : chunk;
            assert_int_equal(mp_step_reserve(&p, n, L, K, wpath != NULL, 0, &err), 0);
            p.step = s;
            p.first_token = t0;
            p.end_of_step = t0 + n == T;
            for (int64_t i = 0; i < n * L * K; i++, g++) {
                p.ids[i] = (mp_expert_id)((g * 7919) % E);
                if (p.weights) p.weights[i] = (float)p.ids[i] / 16;
            }
            assert_int_equal(mp_writer_put(w, &p, &err), 0);
        }
    mp_step_release(&p);
    assert_int_equal(mp_writer_commit(w, &err), 0);
}

static void test_write_read_round_trip(void **state)
{
    (void)state;
    char path[128], wpath[128];
    snprintf(path, sizeof path, "%s/rt.npy", tmpdir);
    snprintf(wpath, sizeof wpath, "%s/rtw.npy", tmpdir);
    /* 2 steps x 70000 tokens x 4 layers x 8: 4.48 M assignments, several pieces */
    write_synthetic(path, wpath, 4, 8, 61, 2, 70000);
    mp_read_opts o = {0};
    o.npy_layout = MP_NPY_TLK;
    o.weights_path = wpath;
    mp_model m;
    mp_expert_id *a;
    float *w;
    int64_t s;
    assert_int_equal(slurp(path, &o, &a, &w, &m, &s), 140000);
    assert_int_equal(s, 1); /* steps are concatenated along T */
    assert_int_equal(m.experts, 61);
    for (int64_t g = 0; g < 140000 * 32; g++) {
        if (a[g] != (mp_expert_id)((g * 7919) % 61)) fail_msg("id %lld differs", (long long)g);
        if (w[g] != (float)a[g] / 16) fail_msg("weight %lld differs", (long long)g);
    }
    free(a);
    free(w);
    /* one layer: written as [T, K] */
    write_synthetic(path, NULL, 1, 2, 5, 1, 10);
    FILE *fp = fopen(path, "rb");
    char head[128];
    assert_int_equal(fread(head, 1, sizeof head, fp), 128);
    fclose(fp);
    head[127] = '\0';
    assert_non_null(strstr(head + 10, "'shape': (10, 2), }"));
    assert_int_equal(head[126], ' ');
}

static void test_empty_trace(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof path, "%s/empty.npy", tmpdir);
    write_synthetic(path, NULL, 2, 3, 7, 0, 0); /* no steps: shape (0, 2, 3) */
    mp_read_opts o = {0};
    o.npy_layout = MP_NPY_TLK;
    mp_trace *t;
    mp_err err = {0};
    assert_int_equal(mp_trace_open(&t, path, &o, &err), 0);
    assert_int_equal(mp_trace_get_info(t).steps, 0);
    assert_int_equal(mp_trace_get_info(t).tokens, 0);
    assert_int_equal(mp_trace_model(t)->layers, 2);
    mp_step p = {0};
    assert_int_equal(mp_trace_next(t, &p, &err), 0);
    mp_step_release(&p);
    mp_trace_close(t);
}

static void test_writer_refuses(void **state)
{
    (void)state;
    mp_model m = mp_model_default();
    m.layers = 1;
    m.experts = 4;
    m.top_k = 1;
    mp_write_opts wo = {0};
    char wpath[128];
    snprintf(wpath, sizeof wpath, "%s/w.npy", tmpdir);
    wo.weights_path = wpath;
    mp_writer *w;
    mp_err err = {0};
    assert_int_equal(mp_writer_open(&w, "x.npy", &m, &wo, &err), MP_EUNSUPPORTED); /* no weights to write */
    wo.weights_path = NULL;
    assert_int_equal(mp_writer_open(&w, "-", &m, &wo, &err), MP_EINVAL); /* no format from "-" */
    wo.format = MP_FMT_NPY;
    assert_int_equal(mp_writer_open(&w, "-", &m, &wo, &err), MP_EUNSUPPORTED);
    assert_int_equal(access(wpath, F_OK), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layouts_agree),        cmocka_unit_test(test_model_hint_resolves_layout),
        cmocka_unit_test(test_two_d_and_versions),   cmocka_unit_test(test_weights_f16_and_f32),
        cmocka_unit_test(test_tokens_per_step),      cmocka_unit_test(test_bad_files),
        cmocka_unit_test(test_id_beyond_hint),       cmocka_unit_test(test_write_read_round_trip),
        cmocka_unit_test(test_empty_trace),          cmocka_unit_test(test_writer_refuses),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
