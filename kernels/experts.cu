// experts.cu - one emulated rank's expert work: per-slot gate/up GEMM
// (cublasGemmEx, bf16 in/out, fp32 compute), SiLU(gate) * up, per-slot down
// GEMM; optionally captured once per layout in a CUDA graph.
#include <cuda_bf16.h>

#include "kernels/kx_internal.h"
#include "kernels/mp_kx_common.h"

// Thread per 8 outputs: act[r][j] = silu(h[r][j]) * h[r][I + j] for rows of a range.
__global__ void k_silu_mul(const uint4 *__restrict__ h, int64_t rows, int nvi, uint4 *__restrict__ act)
{
    int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= rows * nvi) return;
    int64_t r = i / nvi;
    int v = (int)(i % nvi);
    uint4 gq = h[r * 2 * nvi + v], uq = h[r * 2 * nvi + nvi + v];
    const __nv_bfloat16 *g = reinterpret_cast<const __nv_bfloat16 *>(&gq);
    const __nv_bfloat16 *u = reinterpret_cast<const __nv_bfloat16 *>(&uq);
    uint4 o;
    __nv_bfloat16 *ob = reinterpret_cast<__nv_bfloat16 *>(&o);
#pragma unroll
    for (int j = 0; j < 8; j++) {
        float gv = __bfloat162float(g[j]), uv = __bfloat162float(u[j]);
        ob[j] = __float2bfloat16_rn(gv / (1.0f + expf(-gv)) * uv);
    }
    act[i] = o;
}

static int cublas_fail(mp_err *err, cublasStatus_t s, const char *what)
{
    return mp_err_set(err, s == CUBLAS_STATUS_ALLOC_FAILED ? MP_ENOMEM : MP_EIO, "cuBLAS: %s: status %d", what,
                      (int)s);
}

// Enqueues the rank's work on kx->st (captured or not).
static int enqueue_rank(mp_kx *kx, int32_t rank, mp_err *err)
{
    const int H = kx->sh.hidden, I = kx->sh.intermediate;
    const int s0 = rank * kx->per_rank, s1 = s0 + kx->per_rank;
    const int64_t r0 = kx->h_slot_off[s0], r1 = kx->h_slot_off[s1];
    if (r1 == r0) return 0;
    if (kx->sh.dtype == MP_KX_FP8) {
        int rc = mp__kx_dequant_rows(kx, r0, r1, err);
        if (rc) return rc;
    }
    const float one = 1.0f, zero = 0.0f;
    const size_t w13_elems = (size_t)2 * I * H, w2_elems = (size_t)H * I;
    for (int s = s0; s < s1; s++) {
        int m = kx->h_slot_rows[s];
        if (!m) continue;
        int64_t off = kx->h_slot_off[s];
        cublasStatus_t cs = cublasGemmEx(kx->cb, CUBLAS_OP_T, CUBLAS_OP_N, 2 * I, m, H, &one,
                                         kx->d_w13 + (size_t)s * w13_elems, CUDA_R_16BF, H, kx->d_xp + off * H,
                                         CUDA_R_16BF, H, &zero, kx->d_h1 + off * 2 * I, CUDA_R_16BF, 2 * I,
                                         CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
        if (cs != CUBLAS_STATUS_SUCCESS) return cublas_fail(err, cs, "gate/up GEMM");
    }
    int64_t n = (r1 - r0) * (I / 8);
    k_silu_mul<<<(unsigned)((n + 255) / 256), 256, 0, kx->st>>>((const uint4 *)(kx->d_h1 + r0 * 2 * I), r1 - r0,
                                                                I / 8, (uint4 *)(kx->d_act + r0 * I));
    KX_CK(cudaGetLastError());
    for (int s = s0; s < s1; s++) {
        int m = kx->h_slot_rows[s];
        if (!m) continue;
        int64_t off = kx->h_slot_off[s];
        cublasStatus_t cs = cublasGemmEx(kx->cb, CUBLAS_OP_T, CUBLAS_OP_N, H, m, I, &one,
                                         kx->d_w2 + (size_t)s * w2_elems, CUDA_R_16BF, I, kx->d_act + off * I,
                                         CUDA_R_16BF, I, &zero, kx->d_y + off * H, CUDA_R_16BF, H,
                                         CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
        if (cs != CUBLAS_STATUS_SUCCESS) return cublas_fail(err, cs, "down GEMM");
    }
    return 0;
}

void mp__kx_drop_graphs(mp_kx *kx)
{
    if (!kx->graphs) return;
    for (int r = 0; r < kx->sh.ranks; r++)
        if (kx->graphs[r]) {
            cudaGraphExecDestroy(kx->graphs[r]);
            kx->graphs[r] = NULL;
        }
}

extern "C" int mp_kx_experts(mp_kx *kx, int32_t rank, mp_err *err)
{
    if (!kx->sh.with_experts) return mp_err_set(err, MP_EINVAL, "replay: context made without expert weights");
    if (!kx->counts_ready) return mp_err_set(err, MP_EINVAL, "replay: experts before layout");
    if (rank < 0 || rank >= kx->sh.ranks) return mp_err_set(err, MP_EINVAL, "replay: rank %d out of range", rank);
    if (!kx->sh.use_graph) return enqueue_rank(kx, rank, err);
    if (!kx->graphs[rank]) {
        cudaGraph_t g = NULL;
        KX_CK(cudaStreamBeginCapture(kx->st, cudaStreamCaptureModeThreadLocal));
        int rc = enqueue_rank(kx, rank, err);
        cudaError_t e = cudaStreamEndCapture(kx->st, &g);
        if (rc) {
            if (g) cudaGraphDestroy(g);
            return rc;
        }
        if (e != cudaSuccess) return mp__kx_cuda_fail(err, e, "cudaStreamEndCapture");
        e = cudaGraphInstantiate(&kx->graphs[rank], g, 0);
        cudaGraphDestroy(g);
        if (e != cudaSuccess) {
            kx->graphs[rank] = NULL;
            return mp__kx_cuda_fail(err, e, "cudaGraphInstantiate");
        }
    }
    KX_CK(cudaGraphLaunch(kx->graphs[rank], kx->st));
    return 0;
}

extern "C" int mp_kx_set_counts(mp_kx *kx, const int32_t *counts, mp_err *err)
{
    int64_t total = 0;
    for (int s = 0; s < kx->R; s++) {
        if (counts[s] < 0) return mp_err_set(err, MP_EINVAL, "replay: negative count for slot %d", s);
        total += counts[s];
    }
    if (total > kx->max_rows)
        return mp_err_set(err, MP_ELIMIT, "replay: %lld rows exceed the context's %lld", (long long)total,
                          (long long)kx->max_rows);
    int64_t off = 0;
    for (int s = 0; s < kx->R; s++) {
        kx->h_slot_rows[s] = counts[s];
        kx->h_slot_off[s] = (int32_t)off;
        off += counts[s];
    }
    kx->h_slot_off[kx->R] = (int32_t)off;
    kx->counts_ready = 1;
    mp__kx_drop_graphs(kx);
    return 0;
}

extern "C" void mp_kx_set_graph(mp_kx *kx, int on)
{
    if (!on) mp__kx_drop_graphs(kx);
    kx->sh.use_graph = on ? 1 : 0;
}
