/* pickle.c - the restricted unpickler of mp__pickle.h: an interpreter of the
 * opcodes torch.save emits that builds values and never calls anything. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "traces/formats/mp__pickle.h"

#define STACK_MAX ((int64_t)1 << 24) /* values on the stack at once */

struct mp__pickle {
    mp__pv **nodes; /* every node made, for freeing */
    int64_t nnodes, capnodes;
    const mp__pv *root;
};

typedef struct vm {
    mp__pickle *p;
    const unsigned char *d;
    size_t n, i;
    int64_t op_off; /* offset of the opcode being run */
    const char *what;
    mp_err *err;
    mp__pv **stack;
    int64_t sp, capstack;
    int64_t marks[MP__PICKLE_MARKS_MAX];
    int nmarks;
    mp__pv **memo;
    int64_t nmemo, capmemo;
} vm;

int mp__dtype_size(mp__dtype d)
{
    switch (d) {
    case MP__DT_INT32: case MP__DT_FLOAT32: return 4;
    case MP__DT_INT64: case MP__DT_FLOAT64: return 8;
    case MP__DT_FLOAT16: case MP__DT_BFLOAT16: case MP__DT_INT16: return 2;
    case MP__DT_INT8: case MP__DT_UINT8: case MP__DT_BOOL: return 1;
    default: return 0;
    }
}

const char *mp__dtype_name(mp__dtype d)
{
    static const char *const names[] = {"unknown", "int32", "int64", "float32", "float64", "float16",
                                        "bfloat16", "int16", "int8", "uint8", "bool"};
    return (unsigned)d < sizeof names / sizeof names[0] ? names[d] : "unknown";
}

static int fail(vm *m, int code, const char *msg, const char *detail)
{
    return mp_err_set(m->err, code, "%s: offset %lld: %s%s", m->what, (long long)m->op_off, msg, detail ? detail : "");
}

static int oom(vm *m) { return fail(m, MP_ENOMEM, "out of memory", NULL); }

/* Grows *arr (elements of size sz) to hold at least need; doubling. */
static int grow(void **arr, int64_t *cap, int64_t need, size_t sz)
{
    if (need <= *cap) return 0;
    int64_t nc = *cap ? *cap * 2 : 8;
    while (nc < need) nc *= 2;
    void *na = realloc(*arr, (size_t)nc * sz);
    if (!na) return -1;
    *arr = na;
    *cap = nc;
    return 0;
}

static mp__pv *node(vm *m, mp__pv_kind kind)
{
    mp__pickle *p = m->p;
    if (grow((void **)&p->nodes, &p->capnodes, p->nnodes + 1, sizeof *p->nodes)) return NULL;
    mp__pv *v = calloc(1, sizeof *v);
    if (!v) return NULL;
    v->kind = kind;
    v->off = m->op_off;
    p->nodes[p->nnodes++] = v;
    return v;
}

static int push(vm *m, mp__pv *v)
{
    if (!v) return oom(m);
    if (m->sp >= STACK_MAX) return fail(m, MP_ELIMIT, "stack too deep", NULL);
    if (grow((void **)&m->stack, &m->capstack, m->sp + 1, sizeof *m->stack)) return oom(m);
    m->stack[m->sp++] = v;
    return 0;
}

static int pop(vm *m, mp__pv **out)
{
    int64_t floor = m->nmarks ? m->marks[m->nmarks - 1] : 0;
    if (m->sp <= floor) return fail(m, MP_EFORMAT, "stack underflow", NULL);
    *out = m->stack[--m->sp];
    return 0;
}

static int top(vm *m, mp__pv **out)
{
    int64_t floor = m->nmarks ? m->marks[m->nmarks - 1] : 0;
    if (m->sp <= floor) return fail(m, MP_EFORMAT, "stack underflow", NULL);
    *out = m->stack[m->sp - 1];
    return 0;
}

/* Pops back to the last MARK: the values above it are stack[*first .. sp). */
static int pop_mark(vm *m, int64_t *first)
{
    if (!m->nmarks) return fail(m, MP_EFORMAT, "no MARK to pop to", NULL);
    *first = m->marks[--m->nmarks];
    return 0;
}

static int seq_add(vm *m, mp__pv *seq, mp__pv *item)
{
    if (grow((void **)&seq->u.seq.items, &seq->u.seq.cap, seq->u.seq.n + 1, sizeof *seq->u.seq.items)) return oom(m);
    seq->u.seq.items[seq->u.seq.n++] = item;
    return 0;
}

static int need(vm *m, size_t k)
{
    if (m->n - m->i < k) return fail(m, MP_EFORMAT, "truncated pickle", NULL);
    return 0;
}

static uint64_t le(const unsigned char *p, int k)
{
    uint64_t v = 0;
    for (int b = 0; b < k; b++) v |= (uint64_t)p[b] << (8 * b);
    return v;
}

static int memo_put(vm *m, int64_t idx, mp__pv *v)
{
    if (idx < 0 || idx > m->nmemo) {
        char d[64];
        snprintf(d, sizeof d, " %lld (%lld written so far)", (long long)idx, (long long)m->nmemo);
        return fail(m, MP_EFORMAT, "memo index out of order:", d);
    }
    if (idx == m->nmemo) {
        if (grow((void **)&m->memo, &m->capmemo, m->nmemo + 1, sizeof *m->memo)) return oom(m);
        m->nmemo++;
    }
    m->memo[idx] = v;
    return 0;
}

static int memo_get(vm *m, int64_t idx)
{
    if (idx < 0 || idx >= m->nmemo) {
        char d[64];
        snprintf(d, sizeof d, " %lld (%lld written)", (long long)idx, (long long)m->nmemo);
        return fail(m, MP_EFORMAT, "memo index not written:", d);
    }
    return push(m, m->memo[idx]);
}

static mp__pv *mk_int(vm *m, int64_t v)
{
    mp__pv *x = node(m, MP__PV_INT);
    if (x) x->u.i = v;
    return x;
}

static mp__pv *mk_str(vm *m, size_t len)
{
    mp__pv *x = node(m, MP__PV_STR);
    if (x) {
        x->u.str.s = (const char *)m->d + m->i;
        x->u.str.n = len;
    }
    m->i += len;
    return x;
}

/* ------------------------------------------------------------ globals */

static int strn_is(const char *s, size_t n, const char *lit) { return strlen(lit) == n && memcmp(s, lit, n) == 0; }

static const struct {
    const char *name;
    mp__dtype dtype;
} storages[] = {
    {"IntStorage", MP__DT_INT32},     {"LongStorage", MP__DT_INT64},  {"FloatStorage", MP__DT_FLOAT32},
    {"DoubleStorage", MP__DT_FLOAT64}, {"HalfStorage", MP__DT_FLOAT16}, {"BFloat16Storage", MP__DT_BFLOAT16},
    {"ShortStorage", MP__DT_INT16},   {"CharStorage", MP__DT_INT8},   {"ByteStorage", MP__DT_UINT8},
    {"BoolStorage", MP__DT_BOOL},
};

/* Resolves module.name against the allow-list, or refuses it. */
static int resolve_global(vm *m, const char *mod, size_t nmod, const char *name, size_t nname)
{
    mp__pv *g = node(m, MP__PV_GLOBAL);
    if (!g) return oom(m);
    int ok = 1;
    if (strn_is(mod, nmod, "torch._utils") && strn_is(name, nname, "_rebuild_tensor_v2"))
        g->u.global.which = MP__PG_REBUILD_TENSOR_V2;
    else if (strn_is(mod, nmod, "torch._utils") && strn_is(name, nname, "_rebuild_parameter"))
        g->u.global.which = MP__PG_REBUILD_PARAMETER;
    else if (strn_is(mod, nmod, "collections") && strn_is(name, nname, "OrderedDict"))
        g->u.global.which = MP__PG_ORDERED_DICT;
    else if (strn_is(mod, nmod, "torch")) {
        ok = 0;
        for (size_t k = 0; k < sizeof storages / sizeof storages[0]; k++)
            if (strn_is(name, nname, storages[k].name)) {
                g->u.global.which = MP__PG_STORAGE;
                g->u.global.dtype = storages[k].dtype;
                ok = 1;
            }
    } else {
        ok = 0;
    }
    if (ok) return push(m, g);
    /* name the refused global, printable characters only */
    char d[160];
    size_t k = 0;
    d[k++] = ' ';
    d[k++] = '\'';
    for (size_t j = 0; j < nmod + 1 + nname && k < sizeof d - 24; j++) {
        char c = j < nmod ? mod[j] : j == nmod ? '.' : name[j - nmod - 1];
        d[k++] = c >= 0x20 && c < 0x7f ? c : '?';
    }
    snprintf(d + k, sizeof d - k, "' (moeplace runs no code from a pickle)");
    return fail(m, MP_EFORMAT, "refused global", d);
}

/* GLOBAL: "module\nname\n" */
static int op_global(vm *m)
{
    const char *s = (const char *)m->d + m->i;
    size_t left = m->n - m->i;
    const char *nl1 = memchr(s, '\n', left);
    if (!nl1) return fail(m, MP_EFORMAT, "truncated GLOBAL", NULL);
    const char *nl2 = memchr(nl1 + 1, '\n', left - (size_t)(nl1 + 1 - s));
    if (!nl2) return fail(m, MP_EFORMAT, "truncated GLOBAL", NULL);
    m->i += (size_t)(nl2 + 1 - s);
    return resolve_global(m, s, (size_t)(nl1 - s), nl1 + 1, (size_t)(nl2 - nl1 - 1));
}

static int op_stack_global(vm *m)
{
    mp__pv *name = NULL, *mod = NULL;
    int rc = pop(m, &name);
    if (!rc) rc = pop(m, &mod);
    if (rc) return rc;
    if (mod->kind != MP__PV_STR || name->kind != MP__PV_STR)
        return fail(m, MP_EFORMAT, "STACK_GLOBAL needs two strings", NULL);
    return resolve_global(m, mod->u.str.s, mod->u.str.n, name->u.str.s, name->u.str.n);
}

/* ------------------------------------------------------------ REDUCE */

static int int_of(const mp__pv *v, int64_t *out)
{
    if (v->kind == MP__PV_INT) *out = v->u.i;
    else if (v->kind == MP__PV_BOOL) *out = v->u.b;
    else return -1;
    return 0;
}

/* _rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks[, metadata]) */
static int rebuild_tensor(vm *m, const mp__pv *args)
{
    if (args->u.seq.n < 4) return fail(m, MP_EFORMAT, "_rebuild_tensor_v2 with too few arguments", NULL);
    mp__pv *const *a = args->u.seq.items;
    if (a[0]->kind != MP__PV_STORAGE) return fail(m, MP_EFORMAT, "_rebuild_tensor_v2 without a storage", NULL);
    const mp__pv *size = a[2], *stride = a[3];
    int64_t off;
    if (int_of(a[1], &off) || off < 0) return fail(m, MP_EFORMAT, "tensor storage offset is not a non-negative integer", NULL);
    if (size->kind != MP__PV_TUPLE || stride->kind != MP__PV_TUPLE || size->u.seq.n != stride->u.seq.n)
        return fail(m, MP_EFORMAT, "tensor size and stride are not tuples of one length", NULL);
    if (size->u.seq.n > MP__PICKLE_NDIM_MAX) return fail(m, MP_ELIMIT, "tensor has too many dimensions", NULL);
    mp__pv *t = node(m, MP__PV_TENSOR);
    if (!t) return oom(m);
    t->u.tensor.storage = a[0];
    t->u.tensor.offset = off;
    t->u.tensor.ndim = (int)size->u.seq.n;
    int empty = 0;
    for (int d = 0; d < t->u.tensor.ndim; d++) {
        int64_t sz, st;
        if (int_of(size->u.seq.items[d], &sz) || int_of(stride->u.seq.items[d], &st) || sz < 0 || st < 0)
            return fail(m, MP_EFORMAT, "tensor size or stride is not a non-negative integer", NULL);
        t->u.tensor.shape[d] = sz;
        t->u.tensor.stride[d] = st;
        empty |= sz == 0;
    }
    if (!empty) {
        /* the last element reached must lie inside the storage */
        int64_t last = off, numel = a[0]->u.storage.numel;
        for (int d = 0; d < t->u.tensor.ndim; d++) {
            int64_t sz = t->u.tensor.shape[d], st = t->u.tensor.stride[d];
            if (st && sz - 1 > (INT64_MAX - last) / st) return fail(m, MP_EFORMAT, "tensor extent overflows", NULL);
            last += (sz - 1) * st;
        }
        if (last >= numel) {
            char d[96];
            snprintf(d, sizeof d, " (element %lld of a storage of %lld)", (long long)last, (long long)numel);
            return fail(m, MP_EFORMAT, "tensor reaches beyond its storage", d);
        }
    }
    return push(m, t);
}

static int op_reduce(vm *m)
{
    mp__pv *args = NULL, *fn = NULL;
    int rc = pop(m, &args);
    if (!rc) rc = pop(m, &fn);
    if (rc) return rc;
    if (fn->kind != MP__PV_GLOBAL) return fail(m, MP_EFORMAT, "REDUCE of something that is not an allowed global", NULL);
    if (args->kind != MP__PV_TUPLE) return fail(m, MP_EFORMAT, "REDUCE arguments are not a tuple", NULL);
    switch (fn->u.global.which) {
    case MP__PG_REBUILD_TENSOR_V2: return rebuild_tensor(m, args);
    case MP__PG_REBUILD_PARAMETER:
        /* _rebuild_parameter(data, requires_grad, hooks): the data tensor */
        if (args->u.seq.n < 1 || args->u.seq.items[0]->kind != MP__PV_TENSOR)
            return fail(m, MP_EFORMAT, "_rebuild_parameter without a tensor", NULL);
        return push(m, args->u.seq.items[0]);
    case MP__PG_ORDERED_DICT:
        if (args->u.seq.n != 0) return fail(m, MP_EFORMAT, "OrderedDict with arguments", NULL);
        return push(m, node(m, MP__PV_DICT));
    default: return fail(m, MP_EFORMAT, "a storage type cannot be called", NULL);
    }
}

/* BINPERSID: ('storage', <Type>Storage, key, location, numel) */
static int op_persid(vm *m)
{
    mp__pv *pid = NULL;
    int rc = pop(m, &pid);
    if (rc) return rc;
    if (pid->kind != MP__PV_TUPLE || pid->u.seq.n != 5 || !mp__pv_streq(pid->u.seq.items[0], "storage"))
        return fail(m, MP_EFORMAT, "persistent id is not a ('storage', type, key, location, numel) tuple", NULL);
    mp__pv *const *a = pid->u.seq.items;
    if (a[1]->kind != MP__PV_GLOBAL || a[1]->u.global.which != MP__PG_STORAGE)
        return fail(m, MP_EFORMAT, "persistent id without a storage type", NULL);
    if (a[2]->kind != MP__PV_STR || a[2]->u.str.n == 0 || a[2]->u.str.n > 64)
        return fail(m, MP_EFORMAT, "storage key is not a short string", NULL);
    for (size_t k = 0; k < a[2]->u.str.n; k++) {
        char c = a[2]->u.str.s[k];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'))
            return fail(m, MP_EFORMAT, "storage key holds a character other than [A-Za-z0-9_]", NULL);
    }
    int64_t numel;
    if (int_of(a[4], &numel) || numel < 0) return fail(m, MP_EFORMAT, "storage size is not a non-negative integer", NULL);
    mp__pv *s = node(m, MP__PV_STORAGE);
    if (!s) return oom(m);
    s->u.storage.dtype = a[1]->u.global.dtype;
    s->u.storage.key = a[2]->u.str.s;
    s->u.storage.keylen = a[2]->u.str.n;
    s->u.storage.numel = numel;
    return push(m, s);
}

/* ------------------------------------------------------------ main loop */

static int op_setitems(vm *m, int64_t first)
{
    if (first < 1 || m->sp - first < 0 || (m->sp - first) % 2)
        return fail(m, MP_EFORMAT, "SETITEMS with an odd number of values", NULL);
    mp__pv *d = m->stack[first - 1];
    if (d->kind != MP__PV_DICT) return fail(m, MP_EFORMAT, "SETITEM(S) on something that is not a dict", NULL);
    for (int64_t k = first; k < m->sp; k++) {
        int rc = seq_add(m, d, m->stack[k]);
        if (rc) return rc;
    }
    m->sp = first;
    return 0;
}

static int op_appends(vm *m, int64_t first)
{
    if (first < 1) return fail(m, MP_EFORMAT, "APPENDS without a list", NULL);
    mp__pv *l = m->stack[first - 1];
    if (l->kind != MP__PV_LIST) return fail(m, MP_EFORMAT, "APPEND(S) on something that is not a list", NULL);
    for (int64_t k = first; k < m->sp; k++) {
        int rc = seq_add(m, l, m->stack[k]);
        if (rc) return rc;
    }
    m->sp = first;
    return 0;
}

static int make_tuple(vm *m, int64_t first)
{
    mp__pv *t = node(m, MP__PV_TUPLE);
    if (!t) return oom(m);
    for (int64_t k = first; k < m->sp; k++) {
        int rc = seq_add(m, t, m->stack[k]);
        if (rc) return rc;
    }
    m->sp = first;
    return push(m, t);
}

static int run(vm *m)
{
    for (;;) {
        m->op_off = (int64_t)m->i;
        if (m->i >= m->n) return fail(m, MP_EFORMAT, "truncated pickle (no STOP)", NULL);
        unsigned char op = m->d[m->i++];
        int rc = 0;
        int64_t first = 0;
        mp__pv *v = NULL;
        switch (op) {
        case 0x80: /* PROTO */
            if ((rc = need(m, 1))) return rc;
            if (m->d[m->i] > 5) return fail(m, MP_EFORMAT, "unknown pickle protocol", NULL);
            m->i++;
            break;
        case 0x95: /* FRAME: a length to skip */
            if ((rc = need(m, 8))) return rc;
            m->i += 8;
            break;
        case '}': rc = push(m, node(m, MP__PV_DICT)); break;
        case ']': rc = push(m, node(m, MP__PV_LIST)); break;
        case ')': rc = push(m, node(m, MP__PV_TUPLE)); break;
        case '(':
            if (m->nmarks >= MP__PICKLE_MARKS_MAX) return fail(m, MP_ELIMIT, "MARKs nested too deep", NULL);
            m->marks[m->nmarks++] = m->sp;
            break;
        case 'q': /* BINPUT */
            if ((rc = need(m, 1)) || (rc = top(m, &v))) return rc;
            rc = memo_put(m, m->d[m->i++], v);
            break;
        case 'r': /* LONG_BINPUT */
            if ((rc = need(m, 4)) || (rc = top(m, &v))) return rc;
            rc = memo_put(m, (int64_t)le(m->d + m->i, 4), v);
            m->i += 4;
            break;
        case 0x94: /* MEMOIZE */
            if ((rc = top(m, &v))) return rc;
            rc = memo_put(m, m->nmemo, v);
            break;
        case 'h': /* BINGET */
            if ((rc = need(m, 1))) return rc;
            rc = memo_get(m, m->d[m->i++]);
            break;
        case 'j': /* LONG_BINGET */
            if ((rc = need(m, 4))) return rc;
            rc = memo_get(m, (int64_t)le(m->d + m->i, 4));
            m->i += 4;
            break;
        case 'J': /* BININT: signed 32 */
            if ((rc = need(m, 4))) return rc;
            rc = push(m, mk_int(m, (int32_t)(uint32_t)le(m->d + m->i, 4)));
            m->i += 4;
            break;
        case 'K': /* BININT1 */
            if ((rc = need(m, 1))) return rc;
            rc = push(m, mk_int(m, m->d[m->i++]));
            break;
        case 'M': /* BININT2 */
            if ((rc = need(m, 2))) return rc;
            rc = push(m, mk_int(m, (int64_t)le(m->d + m->i, 2)));
            m->i += 2;
            break;
        case 0x8a: /* LONG1 */
        case 0x8b: { /* LONG4 */
            int lb = op == 0x8a ? 1 : 4;
            if ((rc = need(m, (size_t)lb))) return rc;
            uint64_t len = le(m->d + m->i, lb);
            m->i += (size_t)lb;
            if (len > 8) return fail(m, MP_ERANGE, "integer wider than 64 bits", NULL);
            if ((rc = need(m, (size_t)len))) return rc;
            uint64_t u = le(m->d + m->i, (int)len);
            if (len > 0 && len < 8 && (m->d[m->i + len - 1] & 0x80)) u |= ~(uint64_t)0 << (8 * len);
            m->i += (size_t)len;
            rc = push(m, mk_int(m, (int64_t)u));
            break;
        }
        case 'G': { /* BINFLOAT: big-endian double */
            if ((rc = need(m, 8))) return rc;
            uint64_t u = 0;
            for (int b = 0; b < 8; b++) u = (u << 8) | m->d[m->i + (size_t)b];
            m->i += 8;
            double f;
            memcpy(&f, &u, sizeof f);
            v = node(m, MP__PV_FLOAT);
            if (v) v->u.f = f;
            rc = push(m, v);
            break;
        }
        case 0x8c: /* SHORT_BINUNICODE */
        case 'U':  /* SHORT_BINSTRING */
        case 'C':  /* SHORT_BINBYTES */
        case 'X':  /* BINUNICODE */
        case 'T':  /* BINSTRING */
        case 'B':  /* BINBYTES */
        case 0x8d: /* BINUNICODE8 */
        case 0x8e: { /* BINBYTES8 */
            int lb = (op == 0x8c || op == 'U' || op == 'C') ? 1 : (op == 0x8d || op == 0x8e) ? 8 : 4;
            if ((rc = need(m, (size_t)lb))) return rc;
            uint64_t len = le(m->d + m->i, lb);
            m->i += (size_t)lb;
            if (len > m->n - m->i) return fail(m, MP_EFORMAT, "string runs past the end of the pickle", NULL);
            rc = push(m, mk_str(m, (size_t)len));
            break;
        }
        case 0x85: case 0x86: case 0x87: { /* TUPLE1..3 */
            int k = op - 0x84;
            int64_t floor = m->nmarks ? m->marks[m->nmarks - 1] : 0;
            if (m->sp - floor < k) return fail(m, MP_EFORMAT, "stack underflow", NULL);
            rc = make_tuple(m, m->sp - k);
            break;
        }
        case 't': /* TUPLE */
            if ((rc = pop_mark(m, &first))) return rc;
            rc = make_tuple(m, first);
            break;
        case 's': /* SETITEM */
            if (m->sp - (m->nmarks ? m->marks[m->nmarks - 1] : 0) < 3) return fail(m, MP_EFORMAT, "stack underflow", NULL);
            rc = op_setitems(m, m->sp - 2);
            break;
        case 'u': /* SETITEMS */
            if ((rc = pop_mark(m, &first))) return rc;
            rc = op_setitems(m, first);
            break;
        case 'a': /* APPEND */
            if (m->sp - (m->nmarks ? m->marks[m->nmarks - 1] : 0) < 2) return fail(m, MP_EFORMAT, "stack underflow", NULL);
            rc = op_appends(m, m->sp - 1);
            break;
        case 'e': /* APPENDS */
            if ((rc = pop_mark(m, &first))) return rc;
            rc = op_appends(m, first);
            break;
        case 0x88: case 0x89: /* NEWTRUE, NEWFALSE */
            v = node(m, MP__PV_BOOL);
            if (v) v->u.b = op == 0x88;
            rc = push(m, v);
            break;
        case 'N': rc = push(m, node(m, MP__PV_NONE)); break;
        case 'c': rc = op_global(m); break;
        case 0x93: rc = op_stack_global(m); break;
        case 'Q': rc = op_persid(m); break;
        case 'R': rc = op_reduce(m); break;
        case 'b': { /* BUILD: only a no-op state is accepted */
            mp__pv *state = NULL;
            if ((rc = pop(m, &state)) || (rc = top(m, &v))) return rc;
            int empty = state->kind == MP__PV_NONE ||
                        ((state->kind == MP__PV_DICT || state->kind == MP__PV_TUPLE) && state->u.seq.n == 0);
            if (!empty) return fail(m, MP_EFORMAT, "BUILD with a state is not allowed", NULL);
            break;
        }
        case '0': /* POP */
            rc = pop(m, &v);
            break;
        case '.': /* STOP */
            if ((rc = pop(m, &v))) return rc;
            if (m->sp != 0 || m->nmarks != 0) return fail(m, MP_EFORMAT, "values left on the stack at STOP", NULL);
            if (m->i != m->n) return fail(m, MP_EFORMAT, "trailing bytes after STOP", NULL);
            m->p->root = v;
            return 0;
        default: {
            char d[32];
            snprintf(d, sizeof d, " 0x%02x", op);
            return fail(m, MP_EFORMAT, "opcode not allowed:", d);
        }
        }
        if (rc) return rc;
    }
}

int mp__pickle_parse(mp__pickle **out, const unsigned char *data, size_t n, const char *what, mp_err *err)
{
    *out = NULL;
    mp__pickle *p = calloc(1, sizeof *p);
    if (!p) return mp_err_set(err, MP_ENOMEM, "%s: out of memory", what);
    vm m = {0};
    m.p = p;
    m.d = data;
    m.n = n;
    m.what = what;
    m.err = err;
    int rc = run(&m);
    free(m.stack);
    free(m.memo);
    if (rc) {
        mp__pickle_free(p);
        return rc;
    }
    *out = p;
    return 0;
}

const mp__pv *mp__pickle_root(const mp__pickle *p) { return p->root; }

void mp__pickle_free(mp__pickle *p)
{
    if (!p) return;
    for (int64_t k = 0; k < p->nnodes; k++) {
        mp__pv *v = p->nodes[k];
        if (v->kind == MP__PV_LIST || v->kind == MP__PV_TUPLE || v->kind == MP__PV_DICT) free(v->u.seq.items);
        free(v);
    }
    free(p->nodes);
    free(p);
}

int mp__pv_streq(const mp__pv *v, const char *s)
{
    return v && v->kind == MP__PV_STR && strn_is(v->u.str.s, v->u.str.n, s);
}

const mp__pv *mp__pv_get(const mp__pv *d, const char *key)
{
    if (!d || d->kind != MP__PV_DICT) return NULL;
    const mp__pv *found = NULL;
    for (int64_t k = 0; k + 1 < d->u.seq.n; k += 2) /* the last setting wins, as in Python */
        if (mp__pv_streq(d->u.seq.items[k], key)) found = d->u.seq.items[k + 1];
    return found;
}

int64_t mp__pv_numel(const mp__pv *t)
{
    int64_t n = 1;
    for (int d = 0; d < t->u.tensor.ndim; d++) {
        int64_t s = t->u.tensor.shape[d];
        if (s == 0) return 0;
        if (n > INT64_MAX / s) return INT64_MAX;
        n *= s;
    }
    return n;
}

int mp__pv_contiguous(const mp__pv *t)
{
    if (mp__pv_numel(t) == 0) return 1; /* no element: any strides */
    int64_t want = 1;
    for (int d = t->u.tensor.ndim - 1; d >= 0; d--) {
        if (t->u.tensor.shape[d] != 1 && t->u.tensor.stride[d] != want) return 0;
        if (t->u.tensor.shape[d] && want > INT64_MAX / t->u.tensor.shape[d]) return 0;
        want *= t->u.tensor.shape[d];
    }
    return 1;
}
