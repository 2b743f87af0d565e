/* pickle_test.c - the restricted unpickler (traces/formats/pickle.c) on
 * hand-written pickles, and the SGLang .pt readers on the committed dumps. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "traces/formats/mp__pickle.h"
#include "traces/formats/mp_loadfile.h"
#include "traces/formats/mp_trace.h"
#include "traces/mp_loads.h"

static int parse(const char *bytes, size_t n, mp__pickle **p, mp_err *err)
{
    return mp__pickle_parse(p, (const unsigned char *)bytes, n, "t.pkl", err);
}

#define PARSE(lit, p, err) parse(lit, sizeof(lit) - 1, p, err)

static void scalars_and_containers(void **state)
{
    (void)state;
    /* {'a': [1, -2, 300, 70000, True, None, 1.5, 'xy'], 'b': (7,), 'c': -(2**40)} */
    static const char pk[] = "\x80\x02}q\x00(X\x01\x00\x00\x00" "aq\x01]q\x02(K\x01J\xfe\xff\xff\xffM,\x01J"
                             "p\x11\x01\x00\x88NG?\xf8\x00\x00\x00\x00\x00\x00\x8c\x02xyeX\x01\x00\x00\x00" "bK\x07"
                             "\x85X\x01\x00\x00\x00" "c\x8a\x06\x00\x00\x00\x00\x00\xffu.";
    mp__pickle *p;
    mp_err err;
    assert_int_equal(PARSE(pk, &p, &err), 0);
    const mp__pv *r = mp__pickle_root(p);
    assert_int_equal(r->kind, MP__PV_DICT);
    const mp__pv *a = mp__pv_get(r, "a");
    assert_non_null(a);
    assert_int_equal(a->kind, MP__PV_LIST);
    assert_int_equal(a->u.seq.n, 8);
    assert_int_equal(a->u.seq.items[0]->u.i, 1);
    assert_int_equal(a->u.seq.items[1]->u.i, -2);
    assert_int_equal(a->u.seq.items[2]->u.i, 300);
    assert_int_equal(a->u.seq.items[3]->u.i, 70000);
    assert_int_equal(a->u.seq.items[4]->kind, MP__PV_BOOL);
    assert_int_equal(a->u.seq.items[5]->kind, MP__PV_NONE);
    assert_true(a->u.seq.items[6]->u.f == 1.5);
    assert_true(mp__pv_streq(a->u.seq.items[7], "xy"));
    const mp__pv *b = mp__pv_get(r, "b");
    assert_int_equal(b->kind, MP__PV_TUPLE);
    assert_int_equal(b->u.seq.items[0]->u.i, 7);
    assert_int_equal(mp__pv_get(r, "c")->u.i, -((int64_t)1 << 40));
    assert_null(mp__pv_get(r, "zz"));
    mp__pickle_free(p);
}

static void tensor_rebuilt_not_called(void **state)
{
    (void)state;
    /* _rebuild_tensor_v2(('storage', IntStorage, '0', 'cpu', 24), 0, (2, 3, 4), (12, 4, 1), False, OrderedDict()) */
    static const char pk[] = "\x80\x02\x63torch._utils\n_rebuild_tensor_v2\nq\x00((X\x07\x00\x00\x00storage"
                             "ctorch\nIntStorage\nX\x01\x00\x00\x00" "0X\x03\x00\x00\x00" "cpuK\x18tQK\x00K\x02K\x03K\x04"
                             "\x87K\x0cK\x04K\x01\x87\x89\x63\x63ollections\nOrderedDict\n)RtR.";
    mp__pickle *p;
    mp_err err;
    assert_int_equal(PARSE(pk, &p, &err), 0);
    const mp__pv *t = mp__pickle_root(p);
    assert_int_equal(t->kind, MP__PV_TENSOR);
    assert_int_equal(t->u.tensor.ndim, 3);
    assert_int_equal(t->u.tensor.shape[2], 4);
    assert_int_equal(mp__pv_numel(t), 24);
    assert_true(mp__pv_contiguous(t));
    assert_int_equal(t->u.tensor.storage->u.storage.dtype, MP__DT_INT32);
    assert_int_equal(t->u.tensor.storage->u.storage.numel, 24);
    mp__pickle_free(p);
}

static void refused(void **state)
{
    (void)state;
    static const struct {
        const char *pk;
        size_t n;
        const char *msg;
    } cases[] = {
#define C(lit, msg) {lit, sizeof(lit) - 1, msg}
        C("\x80\x02\x63os\nsystem\nX\x04\x00\x00\x00true\x85R.", "t.pkl: offset 2: refused global 'os.system'"),
        C("\x80\x02\x63posix\nsystem\nX\x01\x00\x00\x00x\x85R.", "refused global 'posix.system'"),
        C("\x80\x02\x63\x62uiltins\neval\nX\x01\x00\x00\x00x\x85R.", "refused global 'builtins.eval'"),
        C("\x80\x02X\x02\x00\x00\x00osX\x06\x00\x00\x00system\x93.", "refused global 'os.system'"), /* STACK_GLOBAL */
        C("\x80\x02\x63torch\nload\n.", "refused global 'torch.load'"),
        C("\x80\x02\x63\x63ollections\nOrderedDict\n)R)R.", "REDUCE of something that is not an allowed global"),
        C("\x80\x02\x63torch\nIntStorage\n)R.", "a storage type cannot be called"),
        C("\x80\x02}j\xff\xff\xff\x7f.", "offset 3: memo index not written"),
        C("\x80\x02}r\x05\x00\x00\x00.", "memo index out of order"),
        C("\x80\x02}h\x00.", "memo index not written"),
        C("\x80\x02I1\n.", "opcode not allowed: 0x49"),
        C("\x80\x02}(N\x00", "opcode not allowed: 0x00"),
        C("\x80\x02}", "truncated pickle (no STOP)"),
        C("\x80\x02X\xff\xff\x00\x00" "ab.", "string runs past the end"),
        C("\x80\x02N.N", "trailing bytes after STOP"),
        C("\x80\x02NN.", "values left on the stack"),
        C("\x80\x02u.", "no MARK to pop to"),
        C("\x80\x02\x8a\x09\x01\x01\x01\x01\x01\x01\x01\x01\x01.", "integer wider than 64 bits"),
        C("\x80\x02}b.", "stack underflow"),
        C("\x80\x02]}K\x01K\x02sb.", "BUILD with a state"),
#undef C
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        mp__pickle *p = (mp__pickle *)1;
        mp_err err = {0};
        int rc = parse(cases[i].pk, cases[i].n, &p, &err);
        if (rc == 0 || !strstr(err.msg, cases[i].msg))
            fail_msg("case %zu: rc %d, message '%s', want '%s'", i, rc, err.msg, cases[i].msg);
        assert_null(p);
    }
}

static void deep_marks_and_self_reference(void **state)
{
    (void)state;
    char buf[600];
    size_t n = 0;
    buf[n++] = '\x80';
    buf[n++] = 2;
    for (int i = 0; i < 300; i++) buf[n++] = '(';
    buf[n++] = 'N';
    buf[n++] = '.';
    mp__pickle *p;
    mp_err err;
    assert_int_equal(parse(buf, n, &p, &err), MP_ELIMIT);
    assert_non_null(strstr(err.msg, "MARKs nested too deep"));
    /* a list that contains itself: built without recursion, freed without it */
    static const char selfref[] = "\x80\x02]q\x00h\x00" "a.";
    assert_int_equal(PARSE(selfref, &p, &err), 0);
    const mp__pv *l = mp__pickle_root(p);
    assert_int_equal(l->u.seq.n, 1);
    assert_ptr_equal(l->u.seq.items[0], l);
    mp__pickle_free(p);
}

static void tensor_checks(void **state)
{
    (void)state;
    /* shape (2, 3, 5) with strides (12, 4, 1) over a storage of 24: beyond it */
    static const char beyond[] = "\x80\x02\x63torch._utils\n_rebuild_tensor_v2\n((X\x07\x00\x00\x00storage"
                                 "ctorch\nIntStorage\nX\x01\x00\x00\x00" "0X\x03\x00\x00\x00" "cpuK\x18tQK\x00K\x02K\x03K\x05"
                                 "\x87K\x0cK\x04K\x01\x87\x89NtR.";
    mp__pickle *p;
    mp_err err;
    assert_int_equal(PARSE(beyond, &p, &err), MP_EFORMAT);
    assert_non_null(strstr(err.msg, "tensor reaches beyond its storage"));
    /* a storage key with a path in it */
    static const char key[] = "\x80\x02\x63torch._utils\n_rebuild_tensor_v2\n((X\x07\x00\x00\x00storage"
                              "ctorch\nIntStorage\nX\x05\x00\x00\x00../..X\x03\x00\x00\x00" "cpuK\x18tQK\x00K\x02\x85K\x01"
                              "\x85\x89NtR.";
    assert_int_equal(PARSE(key, &p, &err), MP_EFORMAT);
    assert_non_null(strstr(err.msg, "storage key holds a character"));
}

static void sglang_dumps(void **state)
{
    (void)state;
    mp_err err;
    mp_loads *l;
    /* stat: ring rows 4, 5, 0, 1 filled of 6; 2 dense layers of 5 */
    assert_int_equal(mp_loads_read_pt(&l, MP_TEST_DATA "/sglang/stat.pt", NULL, &err), 0);
    assert_int_equal(l->steps, 4);
    assert_int_equal(l->layers, 3);
    assert_int_equal(l->experts, 8);
    assert_int_equal(l->model.decoder_layers, 5);
    assert_int_equal(l->model.first_dense, 2);
    double s = 0;
    for (int64_t i = 0; i < (int64_t)l->steps * l->layers * l->experts; i++) s += l->count[i];
    assert_true(s == 4 * 3 * 40);
    mp_loads_destroy(l);
    /* a model that says which layers are dense: it must agree with the data */
    mp_model m = mp_model_default();
    m.layers = 3;
    m.experts = 8;
    m.top_k = 2;
    m.decoder_layers = 5;
    m.first_dense = 2;
    mp_read_opts o = {0};
    o.model = &m;
    assert_int_equal(mp_loads_read_pt(&l, MP_TEST_DATA "/sglang/stat.pt", &o, &err), 0);
    assert_int_equal(l->has_model, 1);
    mp_loads_destroy(l);
    m.first_dense = 1;
    m.layers = 4;
    assert_int_equal(mp_loads_read_pt(&l, MP_TEST_DATA "/sglang/stat.pt", &o, &err), MP_ESHAPE);
    assert_non_null(strstr(err.msg, "decoder layer 1 is MoE in the model given, but recorded nothing"));
    /* per_token is a trace, not loads */
    assert_int_equal(mp_loads_read_pt(&l, MP_TEST_DATA "/sglang/per_token", NULL, &err), MP_EUNSUPPORTED);
    int is_loads = -1;
    assert_int_equal(mp_pt_holds_loads(MP_TEST_DATA "/sglang/per_pass", NULL, &is_loads, &err), 0);
    assert_int_equal(is_loads, 1);
    assert_int_equal(mp_pt_holds_loads(MP_TEST_DATA "/sglang/per_token", NULL, &is_loads, &err), 0);
    assert_int_equal(is_loads, 0);
    /* the trace: steps by forward pass, rank 0's tokens first, source ranks */
    mp_trace *t;
    assert_int_equal(mp_trace_open(&t, MP_TEST_DATA "/sglang/per_token", NULL, &err), 0);
    assert_int_equal(mp_trace_model(t)->top_k, 2);
    mp_step p = {0};
    int64_t tokens[3] = {0}, rank1 = 0;
    int rc;
    while ((rc = mp_trace_next(t, &p, &err)) == 1) {
        assert_true(p.step >= 0 && p.step < 3);
        tokens[p.step] += p.tokens;
        for (int64_t i = 0; i < p.tokens; i++) rank1 += p.src_rank[i] == 1;
    }
    assert_int_equal(rc, 0);
    assert_int_equal(tokens[0], 5);
    assert_int_equal(tokens[1], 2);
    assert_int_equal(tokens[2], 3);
    assert_int_equal(rank1, 4);
    mp_step_release(&p);
    mp_trace_close(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(scalars_and_containers), cmocka_unit_test(tensor_rebuilt_not_called),
        cmocka_unit_test(refused),                cmocka_unit_test(deep_marks_and_self_reference),
        cmocka_unit_test(tensor_checks),          cmocka_unit_test(sglang_dumps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
