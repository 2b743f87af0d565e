/*
 * mp__pickle.h - internal: a restricted, safe unpickler for the data.pkl of a
 * torch.save file (not part of the public API).
 *
 * It reads the opcodes that pickle protocol 2 (what torch.save writes) and
 * protocol 4 framing use, and builds a small value tree.  It never calls
 * anything: GLOBAL resolves only names of an allow-list (tensor rebuilding,
 * torch storage types, collections.OrderedDict), REDUCE only interprets an
 * allow-listed constructor, and every other global or opcode is an error
 * naming the file and the pickle offset.  A pickle that would run code in
 * Python (os.system, builtins.eval, ...) is therefore refused, not run.
 *
 * Bounds: one node per opcode at most, memo indices only as written (each
 * PUT takes the next index or overwrites one that exists), MARK nesting
 * capped, every allocation bounded by the input size.  Containers may share
 * children (memo) and may even contain themselves; code walking a tree must
 * only follow the fixed paths it expects (never recurse without a bound).
 *
 * Memory: mp__pickle_parse returns a tree to free with mp__pickle_free; the
 * string values point into the input buffer, which must outlive the tree.
 */
#ifndef MP__PICKLE_H
#define MP__PICKLE_H

#include <stddef.h>
#include <stdint.h>

#include "traces/mp_error.h"

#define MP__PICKLE_NDIM_MAX 8    /* tensor dimensions accepted        */
#define MP__PICKLE_MARKS_MAX 256 /* nesting depth of MARK             */

typedef enum mp__pv_kind {
    MP__PV_NONE,
    MP__PV_BOOL,
    MP__PV_INT,
    MP__PV_FLOAT,
    MP__PV_STR, /* unicode or bytes: s, n (not NUL-terminated) */
    MP__PV_LIST,
    MP__PV_TUPLE,
    MP__PV_DICT, /* items hold key, value, key, value, ...      */
    MP__PV_GLOBAL,
    MP__PV_STORAGE,
    MP__PV_TENSOR
} mp__pv_kind;

/* The allow-listed globals. */
typedef enum mp__pglobal {
    MP__PG_REBUILD_TENSOR_V2,
    MP__PG_REBUILD_PARAMETER,
    MP__PG_ORDERED_DICT,
    MP__PG_STORAGE /* a torch.<Type>Storage class; dtype in the node */
} mp__pglobal;

/* Storage element types (torch's legacy storage classes). */
typedef enum mp__dtype {
    MP__DT_UNKNOWN = 0,
    MP__DT_INT32,
    MP__DT_INT64,
    MP__DT_FLOAT32,
    MP__DT_FLOAT64,
    MP__DT_FLOAT16,
    MP__DT_BFLOAT16,
    MP__DT_INT16,
    MP__DT_INT8,
    MP__DT_UINT8,
    MP__DT_BOOL
} mp__dtype;

/* Bytes per element of a dtype (0 for MP__DT_UNKNOWN); its name ("int32"). */
int mp__dtype_size(mp__dtype d);
const char *mp__dtype_name(mp__dtype d);

typedef struct mp__pv mp__pv;
struct mp__pv {
    mp__pv_kind kind;
    int64_t off; /* pickle offset of the opcode that made it */
    union {
        int b;
        int64_t i;
        double f;
        struct {
            const char *s;
            size_t n;
        } str;
        struct {
            mp__pv **items;
            int64_t n, cap;
        } seq; /* LIST, TUPLE, DICT */
        struct {
            mp__pglobal which;
            mp__dtype dtype; /* MP__PG_STORAGE */
        } global;
        struct {
            mp__dtype dtype;
            const char *key; /* the storage's entry under data/ */
            size_t keylen;
            int64_t numel;
        } storage;
        struct {
            const mp__pv *storage;
            int64_t offset; /* in elements */
            int ndim;
            int64_t shape[MP__PICKLE_NDIM_MAX], stride[MP__PICKLE_NDIM_MAX];
        } tensor;
    } u;
};

typedef struct mp__pickle mp__pickle;

/* Parses `n` bytes of pickle.  `what` names the input in messages
 * ("x.pt: data.pkl").  Returns 0 and the tree, or MP_EFORMAT (bad or
 * refused pickle), MP_ELIMIT, MP_ENOMEM with err set. */
int mp__pickle_parse(mp__pickle **out, const unsigned char *data, size_t n, const char *what, mp_err *err);

/* The value STOP returned. */
const mp__pv *mp__pickle_root(const mp__pickle *p);

/* Frees; NULL is a no-op. */
void mp__pickle_free(mp__pickle *p);

/* The value of string key `key` in a DICT, or NULL (also when d is not a DICT). */
const mp__pv *mp__pv_get(const mp__pv *d, const char *key);

/* 1 when v is a STR equal to s. */
int mp__pv_streq(const mp__pv *v, const char *s);

/* Elements of a tensor (product of its shape; 0 when a dimension is 0). */
int64_t mp__pv_numel(const mp__pv *t);

/* 1 when the tensor is C-contiguous (strides of a row-major array). */
int mp__pv_contiguous(const mp__pv *t);

#endif
