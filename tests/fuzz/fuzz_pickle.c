/* fuzz_pickle.c - libFuzzer harness for the restricted unpickler alone: the
 * input is a data.pkl; a parsed tree is walked along the paths the SGLang
 * reader follows, then freed. */
#include <stdint.h>
#include <stdlib.h>

#include "traces/formats/mp__pickle.h"

static void walk(const mp__pv *v)
{
    /* the reader's fixed paths: root dict -> records list -> record dict -> tensor */
    const mp__pv *lc = mp__pv_get(v, "logical_count");
    if (lc && lc->kind == MP__PV_TENSOR) (void)mp__pv_contiguous(lc);
    const mp__pv *r = mp__pv_get(v, "records");
    if (!r || r->kind != MP__PV_LIST) return;
    for (int64_t k = 0; k < r->u.seq.n; k++) {
        const mp__pv *t = mp__pv_get(r->u.seq.items[k], "topk_ids_of_layer");
        if (t && t->kind == MP__PV_TENSOR) (void)(mp__pv_numel(t) + mp__pv_contiguous(t));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mp__pickle *p;
    mp_err err;
    if (mp__pickle_parse(&p, data, size, "fuzz: data.pkl", &err) == 0) {
        walk(mp__pickle_root(p));
        mp__pickle_free(p);
    }
    return 0;
}
