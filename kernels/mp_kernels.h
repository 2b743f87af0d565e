/*
 * mp_kernels.h - the plain C ABI of moeplace's CUDA kernels (kernels/).
 * Nothing outside kernels/ includes a CUDA header; callers see only this.
 *
 * Every function returns 0 or a negative MP_E* code (see traces/mp_error.h);
 * a missing or unusable GPU is MP_EUNSUPPORTED with a message.
 */
#ifndef MP_KERNELS_H
#define MP_KERNELS_H

#include "traces/mp_error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Describes the first CUDA device into buf (e.g. "NVIDIA H100 80GB HBM3, sm_90,
 * 132 SMs"); returns 0, or MP_EUNSUPPORTED when no usable device exists. */
int mp_kernels_device(char *buf, size_t n, mp_err *err);

#ifdef __cplusplus
}
#endif

#endif
