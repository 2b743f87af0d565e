/*
 * mp_kernels_api.h - the kernels as a loadable module: one table of function
 * pointers that the command-line tool gets with dlopen + one dlsym, so that
 * commands not needing a GPU never load CUDA, cuBLAS or NCCL.
 *
 * The module (moeplace_kernels.so, built from kernels/ when nvcc is found)
 * exports a single symbol, MP_KERNELS_API_SYMBOL, a function returning a
 * pointer to a static mp_kernels_api.  A caller checks abi_version ==
 * MP_KERNELS_ABI_VERSION and size >= sizeof(mp_kernels_api) before using any
 * entry; the version (part of the symbol's name too) goes up whenever an
 * entry or a struct it passes changes.  The entries are the functions of
 * kernels/mp_kernels.h and kernels/mp_nccl.h of the same names (see there for
 * what each does); the nx_ entries are NULL in a module built without NCCL.
 * Memory: the table is the module's, valid while it stays loaded; it owns
 * nothing of the caller's.
 */
#ifndef MP_KERNELS_API_H
#define MP_KERNELS_API_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/mp_kernels.h"
#include "kernels/mp_nccl.h"
#include "traces/mp_error.h"

#define MP_KERNELS_ABI_VERSION 1
#define MP_KERNELS_API_SYMBOL "mp_kernels_api_v1"
#define MP_KERNELS_MODULE "moeplace_kernels.so"

typedef struct mp_kernels_api {
    int abi_version; /* MP_KERNELS_ABI_VERSION */
    size_t size;     /* sizeof(mp_kernels_api) in the module */
    /* one GPU (kernels/mp_kernels.h) */
    int (*device)(char *buf, size_t n, mp_err *err);
    int (*kx_create)(mp_kx **out, const mp_kx_shape *shape, mp_err *err);
    void (*kx_destroy)(mp_kx *kx);
    int (*kx_set_plan)(mp_kx *kx, const int32_t *log2phy, const int32_t *replica_count, mp_err *err);
    int (*kx_set_plan_ex)(mp_kx *kx, const int32_t *log2phy, const int32_t *replica_count, int32_t experts,
                          int32_t max_replicas, int32_t slots, mp_err *err);
    int (*kx_set_routing)(mp_kx *kx, int64_t tokens, const uint16_t *ids, const float *weights, mp_err *err);
    void (*kx_config_get)(const mp_kx *kx, mp_kx_config *out);
    int (*kx_check)(mp_kx *kx, const uint16_t *ids, const float *weights, int sample_slots, int64_t *wrong,
                    mp_err *err);
    int (*kx_measure_step)(mp_kx *kx, int iters, int warmup, int flush_l2, mp_kx_step *out, mp_err *err);
    int (*kx_copy_bandwidth)(size_t bytes, int iters, double *gbps, mp_err *err);
    int (*kx_calibrate)(mp_kx *kx, const uint16_t *ids, int iters, mp_kx_calibration *out, mp_err *err);
    /* several GPUs over NCCL (kernels/mp_nccl.h); NULL without NCCL */
    int (*nx_device_count)(void);
    int (*nx_unique_id)(unsigned char id[MP_NX_ID_BYTES], mp_err *err);
    int (*nx_create)(mp_nx **out, const unsigned char id[MP_NX_ID_BYTES], int32_t ranks, int32_t rank,
                     int32_t local_rank, const mp_nx_shape *shape, mp_err *err);
    void (*nx_destroy)(mp_nx *nx);
    int (*nx_set_plan)(mp_nx *nx, const int32_t *log2phy, const int32_t *replica_count, mp_err *err);
    int (*nx_set_routing)(mp_nx *nx, int64_t T, const uint16_t *ids, const float *weights, mp_err *err);
    int (*nx_run)(mp_nx *nx, int iters, int warmup, mp_nx_result *out, mp_err *err);
    int (*nx_check)(mp_nx *nx, const uint16_t *ids, const float *weights, int sample, int64_t *wrong, mp_err *err);
    int (*nx_alltoall)(mp_nx *nx, size_t bytes, int iters, int warmup, double *us, mp_err *err);
    int (*nx_device)(const mp_nx *nx, char *buf, size_t n);
    const char *(*nx_phase_name)(int phase);
} mp_kernels_api;

/* The type of the exported symbol. */
typedef const mp_kernels_api *(*mp_kernels_api_fn)(void);

#endif
