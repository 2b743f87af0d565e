/* api.c - the table moeplace_kernels.so exports (kernels/mp_kernels_api.h):
 * the module's only visible symbol. */
#include "kernels/mp_kernels_api.h"

static const mp_kernels_api api = {
    .abi_version = MP_KERNELS_ABI_VERSION,
    .size = sizeof(mp_kernels_api),
    .device = mp_kernels_device,
    .kx_create = mp_kx_create,
    .kx_destroy = mp_kx_destroy,
    .kx_set_plan = mp_kx_set_plan,
    .kx_set_plan_ex = mp_kx_set_plan_ex,
    .kx_set_routing = mp_kx_set_routing,
    .kx_config_get = mp_kx_config_get,
    .kx_check = mp_kx_check,
    .kx_measure_step = mp_kx_measure_step,
    .kx_copy_bandwidth = mp_kx_copy_bandwidth,
    .kx_calibrate = mp_kx_calibrate,
#ifdef MP_HAVE_NCCL
    .nx_device_count = mp_nx_device_count,
    .nx_unique_id = mp_nx_unique_id,
    .nx_create = mp_nx_create,
    .nx_destroy = mp_nx_destroy,
    .nx_set_plan = mp_nx_set_plan,
    .nx_set_routing = mp_nx_set_routing,
    .nx_run = mp_nx_run,
    .nx_check = mp_nx_check,
    .nx_alltoall = mp_nx_alltoall,
    .nx_device = mp_nx_device,
    .nx_phase_name = mp_nx_phase_name,
#endif
};

/* The versioned entry point (MP_KERNELS_API_SYMBOL). */
__attribute__((visibility("default"))) const mp_kernels_api *mp_kernels_api_v1(void);
const mp_kernels_api *mp_kernels_api_v1(void)
{
    return &api;
}
