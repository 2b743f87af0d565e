/* calibrate.c - measures one rank's expert time over a grid of active
 * experts and rows per expert, and the permute/combine rates (see
 * mp_kx_calibrate in mp_kernels.h). */
#include <stdlib.h>
#include <string.h>

#include "kernels/mp_kernels.h"
#include "kernels/mp_kx_common.h"

int mp_kx_calibrate(mp_kx *kx, const uint16_t *ids, int iters, mp_kx_calibration *out, mp_err *err)
{
    static const int32_t actives[] = {1, 2, 4, 8, 16, 32};
    static const int32_t rows[] = {1, 8, 32, 128, 256, 512, 1024, 2048};
    mp_kx_config cf;
    mp_kx_config_get(kx, &cf);
    memset(out, 0, sizeof *out);
    int rc = mp_kx_copy_bandwidth((size_t)1 << 30, 20, &out->copy_gbps, err);
    if (rc) return rc;
    /* data movement at the context's largest batch; without ids, each token
     * takes K distinct experts uniformly at random (seeded) */
    uint16_t *own = NULL;
    if (!ids) {
        own = malloc(sizeof *own * (size_t)(cf.max_tokens * cf.top_k));
        if (!own) return mp_err_set(err, MP_ENOMEM, "replay: out of memory");
        uint64_t st = cf.seed;
        for (int64_t t = 0; t < cf.max_tokens; t++)
            for (int32_t k = 0; k < cf.top_k; k++) {
                int dup;
                do {
                    st = mp__kx_mix(st);
                    own[t * cf.top_k + k] = (uint16_t)(st % (uint64_t)cf.experts);
                    dup = 0;
                    for (int32_t j = 0; j < k && cf.top_k <= cf.experts; j++)
                        dup |= own[t * cf.top_k + j] == own[t * cf.top_k + k];
                } while (dup);
            }
        ids = own;
    }
    rc = mp_kx_set_routing(kx, cf.max_tokens, ids, NULL, err);
    free(own);
    if (rc || (rc = mp_kx_layout(kx, err))) return rc;
    double pu, cu;
    if ((rc = mp_kx_time(kx, MP_KX_PH_LAYOUT, 0, iters, 3, 1, &out->layout_us, err)) ||
        (rc = mp_kx_time(kx, MP_KX_PH_PERMUTE, 0, iters, 3, 1, &pu, err)) ||
        (rc = mp_kx_time(kx, MP_KX_PH_COMBINE, 0, iters, 3, 1, &cu, err)))
        return rc;
    double bytes = (double)cf.max_tokens * cf.hidden * 2.0 * (1 + cf.top_k);
    out->permute_gbps = bytes / pu / 1e3;
    out->combine_gbps = bytes / cu / 1e3;
    /* expert time of rank 0 */
    int32_t per = cf.slots / cf.ranks;
    int32_t *counts = calloc((size_t)cf.slots, sizeof *counts);
    if (!counts) return mp_err_set(err, MP_ENOMEM, "replay: out of memory");
    for (size_t a = 0; a < sizeof actives / sizeof actives[0]; a++) {
        if (actives[a] > per) break;
        for (size_t m = 0; m < sizeof rows / sizeof rows[0]; m++) {
            if ((int64_t)actives[a] * rows[m] > cf.max_tokens * cf.top_k) break;
            memset(counts, 0, sizeof *counts * (size_t)cf.slots);
            for (int32_t s = 0; s < actives[a]; s++) counts[s] = rows[m];
            mp_kx_calib_point *p = &out->points[out->npoints];
            p->active = actives[a];
            p->rows_per_expert = rows[m];
            if ((rc = mp_kx_set_counts(kx, counts, err)) ||
                (rc = mp_kx_time(kx, MP_KX_PH_EXPERTS, 0, iters, 2, 1, &p->us, err))) {
                free(counts);
                return rc;
            }
            if (++out->npoints == MP_KX_CALIB_MAX) break;
        }
    }
    free(counts);
    return 0;
}
