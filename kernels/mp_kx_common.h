/*
 * mp_kx_common.h - arithmetic shared by the CUDA kernels and their CPU
 * reference (kernels/ref.c): replica selection, the value hash that fills
 * inputs and weights, and bf16 / FP8 e4m3 conversions.  Internal to kernels/
 * and its tests.  Returns values only; owns no memory.
 */
#ifndef MP_KX_COMMON_H
#define MP_KX_COMMON_H

#include <stdint.h>
#include <string.h>

#ifdef __CUDACC__
#define MP_KX_HD __host__ __device__ static inline
#else
#define MP_KX_HD static inline
#endif

/* splitmix64 finaliser: a well-mixed 64-bit hash of x. */
MP_KX_HD uint64_t mp__kx_mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

/* A uniform value in [-1, 1) from (seed, stream, index). */
MP_KX_HD float mp__kx_uniform(uint64_t seed, uint64_t stream, uint64_t i)
{
    uint64_t h = mp__kx_mix(seed ^ mp__kx_mix(stream * 0x100000001b3ULL + i));
    return (float)((int64_t)(h >> 40) - (1LL << 23)) * (1.0f / (float)(1 << 23));
}

/* Replica index (0..count-1) for assignment a = t*K + k of token t (t
 * counted from the step's first token): modulo is vLLM's (t*K + k) mod
 * count, as sim's "modulo" policy. */
MP_KX_HD int32_t mp__kx_select(int selection, uint64_t seed, int64_t a, int64_t t, int32_t count)
{
    (void)t;
    if (count <= 1) return 0;
    if (selection == 1) return (int32_t)(a % count);
    if (selection == 2) return (int32_t)(mp__kx_mix(seed ^ (uint64_t)a) % (uint64_t)count);
    return 0;
}

/* float -> bf16 bits, round to nearest even; NaN stays NaN. */
MP_KX_HD uint16_t mp__kx_bf16(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40);
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

MP_KX_HD float mp__kx_f32(uint16_t b)
{
    uint32_t u = (uint32_t)b << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* Stream numbers for mp__kx_uniform. */
#define MP_KX_STREAM_X 1
#define MP_KX_STREAM_W13 2
#define MP_KX_STREAM_W2 3

/* Largest finite e4m3 value; per-128 scales map a block's max to it. */
#define MP_KX_FP8_MAX 448.0f

#endif
