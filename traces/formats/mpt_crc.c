/*
 * mpt_crc.c - CRC-32 (zlib's crc32: ISO-HDLC, reflected 0xedb88320) for .mpt
 * payloads.  On x86-64 CPUs with PCLMULQDQ it folds 64 bytes at a time with
 * carry-less multiplication (the method of Gopal et al., "Fast CRC Computation
 * for Generic Polynomials Using PCLMULQDQ Instruction", Intel 2009); elsewhere,
 * and for the tail, zlib's crc32 does the work.  Both give the same value.
 */
#include <stddef.h>
#include <stdint.h>
#include <zlib.h>

#include "traces/formats/mp__mpt.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && !defined(MPT_NO_PCLMUL)
#include <immintrin.h>

#define MPT_HAVE_PCLMUL_PATH 1

/* The reflected CRC (no pre/post inversion) of len bytes, len >= 64 and a multiple of 16. */
__attribute__((target("pclmul,sse4.1"))) static uint32_t fold_crc(uint32_t crc, const unsigned char *p, size_t len)
{
    const __m128i k1k2 = _mm_set_epi64x(0x1c6e41596LL, 0x154442bd4LL);
    const __m128i k3k4 = _mm_set_epi64x(0x0ccaa009eLL, 0x1751997d0LL);
    const __m128i k5 = _mm_set_epi64x(0, 0x163cd6124LL);
    const __m128i poly = _mm_set_epi64x(0x1f7011641LL, 0x1db710641LL);
    const __m128i mask32 = _mm_set_epi32(0, 0, 0, -1);
    __m128i x1 = _mm_loadu_si128((const __m128i *)p), x2 = _mm_loadu_si128((const __m128i *)(p + 16)),
            x3 = _mm_loadu_si128((const __m128i *)(p + 32)), x4 = _mm_loadu_si128((const __m128i *)(p + 48));
    x1 = _mm_xor_si128(x1, _mm_cvtsi32_si128((int)crc));
    p += 64;
    len -= 64;
#define FOLD(x, k, next)                                                                                   \
    do {                                                                                                   \
        __m128i lo_ = _mm_clmulepi64_si128(x, k, 0x00), hi_ = _mm_clmulepi64_si128(x, k, 0x11);          \
        x = _mm_xor_si128(_mm_xor_si128(lo_, hi_), next);                                                  \
    } while (0)
    while (len >= 64) {
        FOLD(x1, k1k2, _mm_loadu_si128((const __m128i *)p));
        FOLD(x2, k1k2, _mm_loadu_si128((const __m128i *)(p + 16)));
        FOLD(x3, k1k2, _mm_loadu_si128((const __m128i *)(p + 32)));
        FOLD(x4, k1k2, _mm_loadu_si128((const __m128i *)(p + 48)));
        p += 64;
        len -= 64;
    }
    FOLD(x1, k3k4, x2);
    FOLD(x1, k3k4, x3);
    FOLD(x1, k3k4, x4);
    while (len >= 16) {
        FOLD(x1, k3k4, _mm_loadu_si128((const __m128i *)p));
        p += 16;
        len -= 16;
    }
#undef FOLD
    /* 128 -> 64 bits */
    x2 = _mm_clmulepi64_si128(k3k4, x1, 0x01);
    x1 = _mm_xor_si128(_mm_srli_si128(x1, 8), x2);
    /* 64 -> 32 bits */
    x2 = _mm_clmulepi64_si128(_mm_and_si128(x1, mask32), k5, 0x00);
    x1 = _mm_xor_si128(_mm_srli_si128(x1, 4), x2);
    /* Barrett reduction */
    x2 = _mm_clmulepi64_si128(_mm_and_si128(x1, mask32), poly, 0x10);
    x2 = _mm_clmulepi64_si128(_mm_and_si128(x2, mask32), poly, 0x00);
    x1 = _mm_xor_si128(x1, x2);
    return (uint32_t)_mm_extract_epi32(x1, 1);
}

static int have_pclmul(void)
{
    return __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("sse4.1");
}
#endif

uint32_t mpt_crc32(uint32_t crc, const unsigned char *p, size_t n)
{
#ifdef MPT_HAVE_PCLMUL_PATH
    if (n >= 256 && have_pclmul()) {
        size_t m = n & ~(size_t)15;
        crc = ~fold_crc(~crc, p, m);
        p += m;
        n -= m;
    }
#endif
    while (n > 0) {
        uInt m = n > (1u << 30) ? (1u << 30) : (uInt)n;
        crc = (uint32_t)crc32(crc, p, m);
        p += m;
        n -= m;
    }
    return crc;
}
