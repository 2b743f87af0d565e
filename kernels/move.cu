// move.cu - permute (token order -> per-slot rows) and combine (rows ->
// token order, weighted, fp32 sums) with 16-byte vector accesses; the FP8
// e4m3 dispatch path (per-128 scales) and its dequantisation.
#include <cuda_bf16.h>
#include <cuda_fp8.h>

#include "kernels/kx_internal.h"
#include "kernels/mp_kx_common.h"

// Block per token: read the token's row once (all of a thread's vectors in
// flight together), write it to its K rows with streaming stores.
#define PERMUTE_VPT 8
__global__ void k_permute(const uint4 *__restrict__ x, const int32_t *__restrict__ row, int K, int nv,
                          uint4 *__restrict__ xp)
{
    __shared__ int32_t r[MP_KX_MAX_TOPK];
    int64_t t = blockIdx.x;
    if (threadIdx.x < K) r[threadIdx.x] = row[t * K + threadIdx.x];
    __syncthreads();
    for (int base = 0; base < nv; base += blockDim.x * PERMUTE_VPT) {
        uint4 val[PERMUTE_VPT];
#pragma unroll
        for (int i = 0; i < PERMUTE_VPT; i++) {
            int v = base + i * blockDim.x + threadIdx.x;
            if (v < nv) val[i] = x[t * nv + v];
        }
        for (int k = 0; k < K; k++) {
            uint4 *dst = xp + (int64_t)r[k] * nv;
#pragma unroll
            for (int i = 0; i < PERMUTE_VPT; i++) {
                int v = base + i * blockDim.x + threadIdx.x;
                if (v < nv) __stcs(dst + v, val[i]);
            }
        }
    }
}

__device__ static inline void unpack8(uint4 q, float *f)
{
    const __nv_bfloat162 *h = reinterpret_cast<const __nv_bfloat162 *>(&q);
#pragma unroll
    for (int i = 0; i < 4; i++) {
        float2 p = __bfloat1622float2(h[i]);
        f[2 * i] = p.x;
        f[2 * i + 1] = p.y;
    }
}

__device__ static inline uint4 pack8(const float *f)
{
    uint4 q;
    __nv_bfloat162 *h = reinterpret_cast<__nv_bfloat162 *>(&q);
#pragma unroll
    for (int i = 0; i < 4; i++) h[i] = __floats2bfloat162_rn(f[2 * i], f[2 * i + 1]);
    return q;
}

// Block per token: out[t] = sum_k w[t][k] * y[row[t][k]] in fp32, k in order.
__global__ void k_combine(const uint4 *__restrict__ y, const int32_t *__restrict__ row,
                          const float *__restrict__ w, int K, int nv, uint4 *__restrict__ out)
{
    __shared__ int32_t r[MP_KX_MAX_TOPK];
    __shared__ float ww[MP_KX_MAX_TOPK];
    int64_t t = blockIdx.x;
    if (threadIdx.x < K) {
        r[threadIdx.x] = row[t * K + threadIdx.x];
        ww[threadIdx.x] = w ? w[t * K + threadIdx.x] : 1.0f / (float)K;
    }
    __syncthreads();
    for (int v = threadIdx.x; v < nv; v += blockDim.x) {
        float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        int k = 0;
        for (; k + 4 <= K; k += 4) {
            uint4 q[4];
#pragma unroll
            for (int i = 0; i < 4; i++) q[i] = y[(int64_t)r[k + i] * nv + v];
#pragma unroll
            for (int i = 0; i < 4; i++) {
                float f[8];
                unpack8(q[i], f);
#pragma unroll
                for (int j = 0; j < 8; j++) acc[j] += ww[k + i] * f[j];
            }
        }
        for (; k < K; k++) {
            float f[8];
            unpack8(y[(int64_t)r[k] * nv + v], f);
#pragma unroll
            for (int j = 0; j < 8; j++) acc[j] += ww[k] * f[j];
        }
        out[t * nv + v] = pack8(acc);
    }
}

// Warp per 128-value block: scale = block max / 448, q = e4m3(x / scale).
__global__ void k_quant_fp8(const uint16_t *__restrict__ x, int64_t groups, uint8_t *__restrict__ q,
                            float *__restrict__ scales)
{
    int64_t g = ((int64_t)blockIdx.x * blockDim.x + threadIdx.x) / 32;
    int lane = threadIdx.x % 32;
    if (g >= groups) return;
    uint2 raw = reinterpret_cast<const uint2 *>(x + g * 128)[lane];
    const uint16_t *b = reinterpret_cast<const uint16_t *>(&raw);
    float f[4], amax = 0.0f;
    for (int i = 0; i < 4; i++) {
        f[i] = mp__kx_f32(b[i]);
        amax = fmaxf(amax, fabsf(f[i]));
    }
    for (int o = 16; o > 0; o /= 2) amax = fmaxf(amax, __shfl_xor_sync(0xffffffffu, amax, o));
    float scale = amax > 0.0f ? amax / MP_KX_FP8_MAX : 1.0f;
    uint32_t packed = 0;
    for (int i = 0; i < 4; i++)
        packed |= (uint32_t)__nv_cvt_float_to_fp8(f[i] / scale, __NV_SATFINITE, __NV_E4M3) << (8 * i);
    reinterpret_cast<uint32_t *>(q + g * 128)[lane] = packed;
    if (lane == 0) scales[g] = scale;
}

// Block per token: FP8 rows (H bytes, 16-byte vectors) and their scales.
__global__ void k_permute_fp8(const uint4 *__restrict__ xq, const float *__restrict__ xs,
                              const int32_t *__restrict__ row, int K, int nv, int ns, uint4 *__restrict__ xpq,
                              float *__restrict__ xps)
{
    __shared__ int32_t r[MP_KX_MAX_TOPK];
    int64_t t = blockIdx.x;
    if (threadIdx.x < K) r[threadIdx.x] = row[t * K + threadIdx.x];
    __syncthreads();
    for (int v = threadIdx.x; v < nv; v += blockDim.x) {
        uint4 val = xq[t * nv + v];
        for (int k = 0; k < K; k++) xpq[(int64_t)r[k] * nv + v] = val;
    }
    for (int v = threadIdx.x; v < ns; v += blockDim.x) {
        float val = xs[t * ns + v];
        for (int k = 0; k < K; k++) xps[(int64_t)r[k] * ns + v] = val;
    }
}

// Thread per 8 values: bf16 = e4m3 * scale.
__global__ void k_dequant_fp8(const uint8_t *__restrict__ q, const float *__restrict__ s, int64_t n8,
                              uint4 *__restrict__ out)
{
    int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n8) return;
    uint2 raw = reinterpret_cast<const uint2 *>(q)[i];
    const uint8_t *b = reinterpret_cast<const uint8_t *>(&raw);
    float scale = s[i / 16], f[8];
    for (int j = 0; j < 8; j++) {
        __half_raw hr = __nv_cvt_fp8_to_halfraw(b[j], __NV_E4M3);
        f[j] = __half2float(__half(hr)) * scale;
    }
    out[i] = pack8(f);
}

extern "C" int mp_kx_permute(mp_kx *kx, mp_err *err)
{
    if (!kx->counts_ready) return mp_err_set(err, MP_EINVAL, "replay: permute before layout");
    if (kx->tokens == 0) return 0;
    int H = kx->sh.hidden, K = kx->sh.top_k;
    unsigned blocks = (unsigned)kx->tokens;
    if (kx->sh.dtype == MP_KX_FP8) {
        int64_t groups = kx->tokens * (H / 128);
        k_quant_fp8<<<(unsigned)((groups * 32 + 255) / 256), 256, 0, kx->st>>>(kx->d_x, groups, kx->d_xq, kx->d_xs);
        KX_CK(cudaGetLastError());
        k_permute_fp8<<<blocks, 128, 0, kx->st>>>((const uint4 *)kx->d_xq, kx->d_xs, kx->d_row, K, H / 16, H / 128,
                                                  (uint4 *)kx->d_xpq, kx->d_xps);
    } else {
        k_permute<<<blocks, 128, 0, kx->st>>>((const uint4 *)kx->d_x, kx->d_row, K, H / 8, (uint4 *)kx->d_xp);
    }
    KX_CK(cudaGetLastError());
    return 0;
}

extern "C" int mp_kx_combine(mp_kx *kx, mp_err *err)
{
    if (!kx->counts_ready) return mp_err_set(err, MP_EINVAL, "replay: combine before layout");
    if (kx->tokens == 0) return 0;
    int H = kx->sh.hidden, K = kx->sh.top_k;
    k_combine<<<(unsigned)kx->tokens, 128, 0, kx->st>>>((const uint4 *)kx->d_y, kx->d_row, kx->d_w, K, H / 8,
                                                       (uint4 *)kx->d_out);
    KX_CK(cudaGetLastError());
    return 0;
}

// Dequantises rows [r0, r1) of the FP8 dispatch buffer into the bf16 rows.
int mp__kx_dequant_rows(mp_kx *kx, int64_t r0, int64_t r1, mp_err *err)
{
    int H = kx->sh.hidden;
    int64_t n8 = (r1 - r0) * (H / 8);
    if (n8 <= 0) return 0;
    k_dequant_fp8<<<(unsigned)((n8 + 255) / 256), 256, 0, kx->st>>>(kx->d_xpq + r0 * H, kx->d_xps + r0 * (H / 128),
                                                                    n8, (uint4 *)(kx->d_xp + r0 * H));
    KX_CK(cudaGetLastError());
    return 0;
}
