/* check.c - one full pass of the replay phases on poisoned buffers, compared
 * with the CPU reference (see mp_kx_check in mp_kernels.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/mp_kernels.h"
#include "kernels/mp_kernels_ref.h"
#include "kernels/mp_kx_common.h"

/* bf16 values differing by more than tol relative to the tensor's scale, or
 * left NaN (never written). */
static int64_t count_wrong(const uint16_t *a, const uint16_t *ref, size_t n, double tol)
{
    double scale = 0;
    for (size_t i = 0; i < n; i++) {
        double r = fabs(mp__kx_f32(ref[i]));
        if (r > scale) scale = r;
    }
    int64_t wrong = 0;
    for (size_t i = 0; i < n; i++) {
        float x = mp__kx_f32(a[i]);
        if (isnan(x) || fabs(x - mp__kx_f32(ref[i])) > tol * scale) wrong++;
    }
    return wrong;
}

int mp_kx_check(mp_kx *kx, const uint16_t *ids, const float *weights, int sample_slots, int64_t *wrong, mp_err *err)
{
    mp_kx_config cf;
    mp_kx_config_get(kx, &cf);
    *wrong = 0;
    int rc;
    if ((rc = mp_kx_poison(kx, err)) || (rc = mp_kx_layout(kx, err)) || (rc = mp_kx_permute(kx, err))) return rc;
    for (int32_t r = 0; r < cf.ranks && cf.with_experts; r++)
        if ((rc = mp_kx_experts(kx, r, err))) return rc;
    if (cf.with_experts && (rc = mp_kx_combine(kx, err))) return rc;
    mp_kx_layout_info info;
    mp_kx_layout_get(kx, &info);
    const int64_t T = info.tokens, n = info.rows, H = cf.hidden, I = cf.intermediate;
    int32_t *slot = malloc(sizeof *slot * (size_t)(n + 1)), *row = malloc(sizeof *row * (size_t)(n + 1));
    int32_t *rslot = malloc(sizeof *rslot * (size_t)(n + 1)), *rrow = malloc(sizeof *rrow * (size_t)(n + 1));
    int32_t *srows = malloc(sizeof *srows * (size_t)cf.slots), *dests = malloc(sizeof *dests * (size_t)(T + 1));
    int32_t *rdests = malloc(sizeof *rdests * (size_t)(T + 1));
    int64_t *traffic = malloc(sizeof *traffic * (size_t)cf.ranks * cf.ranks);
    int64_t *rtraffic = malloc(sizeof *rtraffic * (size_t)cf.ranks * cf.ranks);
    int32_t *l2p = malloc(sizeof *l2p * (size_t)cf.experts * cf.max_replicas);
    int32_t *rcnt = malloc(sizeof *rcnt * (size_t)cf.experts);
    uint16_t *x = malloc(2 * (size_t)(T * H + 1)), *xp = malloc(2 * (size_t)(n * H + 1));
    uint16_t *y = NULL, *out = NULL, *ref = malloc(2 * (size_t)(n * H + 1));
    if (cf.with_experts) {
        y = malloc(2 * (size_t)(n * H + 1));
        out = malloc(2 * (size_t)(T * H + 1));
    }
    rc = MP_ENOMEM;
    if (!slot || !row || !rslot || !rrow || !srows || !dests || !rdests || !traffic || !rtraffic || !l2p || !rcnt ||
        !x || !xp || !ref || (cf.with_experts && (!y || !out))) {
        mp_err_set(err, MP_ENOMEM, "replay check: out of memory");
        goto done;
    }
    mp_kx_plan_get(kx, l2p, rcnt);
    if ((rc = mp_kx_read_assign(kx, slot, row, err)) || (rc = mp_kx_read_traffic(kx, traffic, dests, err)) ||
        (rc = mp_kx_read(kx, MP_KX_BUF_X, x, (size_t)(T * H), err)))
        goto done;
    /* layout: exact */
    if (mp_kref_layout(T, cf.top_k, ids, cf.experts, cf.max_replicas, l2p, rcnt, cf.slots, cf.ranks, cf.selection,
                       cf.seed, rslot, rrow, srows, rdests, rtraffic)) {
        rc = mp_err_set(err, MP_ERANGE, "replay check: the reference rejects the routing");
        goto done;
    }
    for (int64_t a = 0; a < n; a++) *wrong += slot[a] != rslot[a] || row[a] != rrow[a];
    for (int64_t t = 0; t < T; t++) *wrong += dests[t] != rdests[t];
    for (int64_t i = 0; i < (int64_t)cf.ranks * cf.ranks; i++) *wrong += traffic[i] != rtraffic[i];
    for (int32_t s = 0; s < cf.slots; s++) *wrong += info.slot_rows[s] != srows[s];
    if (cf.with_experts) {
        /* permute: exact against the bf16 (or FP8 round-tripped) tokens */
        if ((rc = mp_kx_read(kx, MP_KX_BUF_PERMUTED, xp, (size_t)(n * H), err))) goto done;
        if (cf.dtype == MP_KX_FP8)
            for (int64_t t = 0; t < T; t++) mp_kref_fp8_roundtrip((int32_t)H, x + t * H, NULL, NULL, x + t * H);
        mp_kref_permute(T, cf.top_k, (int32_t)H, x, rrow, ref);
        for (size_t i = 0; i < (size_t)(n * H); i++) *wrong += xp[i] != ref[i];
        /* experts: the first row of up to sample_slots non-empty slots */
        if ((rc = mp_kx_read(kx, MP_KX_BUF_EXPERT_OUT, y, (size_t)(n * H), err))) goto done;
        uint16_t *w13 = malloc(2 * (size_t)(2 * I * H)), *w2 = malloc(2 * (size_t)(H * I));
        if (!w13 || !w2) {
            free(w13), free(w2);
            rc = mp_err_set(err, MP_ENOMEM, "replay check: out of memory");
            goto done;
        }
        int64_t off = 0;
        for (int32_t s = 0, done_slots = 0; s < cf.slots && done_slots < sample_slots; s++) {
            if (srows[s] > 0) {
                if ((rc = mp_kx_read_weights(kx, s, w13, w2, err))) break;
                mp_kref_expert(1, (int32_t)H, (int32_t)I, w13, w2, xp + off * H, ref);
                *wrong += count_wrong(y + off * H, ref, (size_t)H, 1e-2);
                done_slots++;
            }
            off += srows[s];
        }
        free(w13), free(w2);
        if (rc) goto done;
        /* combine: from the GPU's expert outputs; every element written */
        if ((rc = mp_kx_read(kx, MP_KX_BUF_OUT, out, (size_t)(T * H), err))) goto done;
        for (size_t i = 0; i < (size_t)(n * H); i++) *wrong += isnan(mp__kx_f32(y[i]));
        mp_kref_combine(T, cf.top_k, (int32_t)H, y, rrow, weights, ref);
        *wrong += count_wrong(out, ref, (size_t)(T * H), 1e-2);
    }
    rc = 0;
done:
    free(slot), free(row), free(rslot), free(rrow), free(srows), free(dests), free(rdests), free(traffic);
    free(rtraffic), free(l2p), free(rcnt), free(x), free(xp), free(y), free(out), free(ref);
    return rc;
}
