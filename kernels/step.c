/* step.c - one emulated expert-parallel step measured phase by phase (see
 * mp_kx_measure_step in mp_kernels.h); plain C over the kernel ABI. */
#include <string.h>

#include "kernels/mp_kernels.h"

int mp_kx_measure_step(mp_kx *kx, int iters, int warmup, int flush_l2, mp_kx_step *out, mp_err *err)
{
    memset(out, 0, sizeof *out);
    int rc = mp_kx_layout(kx, err);
    if (rc) return rc;
    mp_kx_layout_info info;
    if (mp_kx_layout_get(kx, &info)) return mp_err_set(err, MP_EINVAL, "replay: no layout");
    mp_kx_config cf;
    mp_kx_config_get(kx, &cf);
    int32_t slots = cf.slots, ranks = cf.ranks;
    int32_t per = slots / ranks;
    if ((rc = mp_kx_time(kx, MP_KX_PH_LAYOUT, 0, iters, warmup, flush_l2, &out->layout_us, err)) ||
        (rc = mp_kx_time(kx, MP_KX_PH_PERMUTE, 0, iters, warmup, flush_l2, &out->permute_us, err)))
        return rc;
    double sum = 0;
    for (int32_t r = 0; r < ranks; r++) {
        for (int32_t s = r * per; s < (r + 1) * per; s++) {
            out->rows[r] += info.slot_rows[s];
            out->active[r] += info.slot_rows[s] > 0;
        }
        if (out->rows[r] > out->rows_max) out->rows_max = out->rows[r];
        out->rows_mean += (double)out->rows[r] / ranks;
        if (out->rows[r] == 0) continue;
        if ((rc = mp_kx_time(kx, MP_KX_PH_EXPERTS, r, iters, warmup, flush_l2, &out->expert_us[r], err))) return rc;
        sum += out->expert_us[r];
        if (out->expert_us[r] > out->expert_max_us) out->expert_max_us = out->expert_us[r];
    }
    out->expert_mean_us = sum / ranks;
    if ((rc = mp_kx_time(kx, MP_KX_PH_COMBINE, 0, iters, warmup, flush_l2, &out->combine_us, err))) return rc;
    out->step_us = out->layout_us + (out->permute_us + out->combine_us) / ranks + out->expert_max_us;
    double flops = mp_kx_flops_per_row(kx) * (double)info.rows;
    out->gemm_tflops = sum > 0 ? flops / (sum * 1e-6) / 1e12 : 0;
    return 0;
}
