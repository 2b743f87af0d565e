/* fmt_util.c - helpers shared by the npy, csv and json formats. */
#include <string.h>

#include "traces/formats/mp__fmtutil.h"

int64_t mp__piece_tokens(int32_t layers, int32_t top_k)
{
    int64_t per = (int64_t)layers * top_k;
    int64_t n = per > 0 ? MP__PIECE_TARGET / per : 1;
    return n > 0 ? n : 1;
}

int mp__model_apply_hint(mp_model *m, const mp_model *hint, const char *path, mp_err *err)
{
    if (!hint) return 0;
    if (hint->layers > 0 && hint->layers != m->layers)
        return mp_err_set(err, MP_ESHAPE, "%s: the data has %d layers, the model given has %d", path, m->layers,
                          hint->layers);
    if (hint->top_k > 0 && hint->top_k != m->top_k)
        return mp_err_set(err, MP_ESHAPE, "%s: the data has top-%d choices, the model given has top-%d", path,
                          m->top_k, hint->top_k);
    if (hint->name[0]) memcpy(m->name, hint->name, sizeof m->name);
    if (hint->experts > 0) m->experts = hint->experts;
    if (hint->groups > 0) m->groups = hint->groups;
    if (hint->topk_group > 0) m->topk_group = hint->topk_group;
    if (hint->shared > 0) m->shared = hint->shared;
    if (hint->hidden > 0) m->hidden = hint->hidden;
    if (hint->intermediate > 0) m->intermediate = hint->intermediate;
    if (hint->scoring != MP_SCORING_SOFTMAX) m->scoring = hint->scoring;
    if (hint->normalize_topk) m->normalize_topk = hint->normalize_topk;
    if (hint->routed_scaling > 0 && hint->routed_scaling != 1) m->routed_scaling = hint->routed_scaling;
    return 0;
}
