/* fake_kernels.c - a stand-in for moeplace_kernels.so that needs no CUDA, so
 * that every build tests how the tool loads the module (cli/kernels.c):
 * built at the current ABI version (FAKE_ABI unset), its device() reports no
 * GPU; built with another FAKE_ABI, the tool must refuse it.  No nx_ entries:
 * a module without NCCL. */
#include <stdio.h>

#include "kernels/mp_kernels_api.h"

#ifndef FAKE_ABI
#define FAKE_ABI MP_KERNELS_ABI_VERSION
#endif

static int device(char *buf, size_t n, mp_err *err)
{
    if (n) buf[0] = '\0';
    err->code = MP_EUNSUPPORTED;
    snprintf(err->msg, sizeof err->msg, "no CUDA GPU found: fake kernels module, no device");
    return MP_EUNSUPPORTED;
}

static const mp_kernels_api api = {.abi_version = FAKE_ABI, .size = sizeof(mp_kernels_api), .device = device};

__attribute__((visibility("default"))) const mp_kernels_api *mp_kernels_api_v1(void);
const mp_kernels_api *mp_kernels_api_v1(void)
{
    return &api;
}
