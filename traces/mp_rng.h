/*
 * mp_rng.h - moeplace's own counter-based, splittable random number
 * generator, so that generated output never depends on the thread count or
 * the machine.
 *
 * Construction: a stream is a 64-bit key and a 64-bit counter.  The key is
 * derived from (seed, a, b, c) by chaining the SplitMix64 finaliser over the
 * four words; output i of a stream is the SplitMix64 finaliser applied to
 * key + (i + 1) * 0x9e3779b97f4a7c15 (Steele, Lea & Flood, "Fast splittable
 * pseudorandom number generators", OOPSLA 2014).  Any (seed, a, b, c) can be
 * opened directly, in any order and on any thread: the generator keys its
 * streams by (seed, purpose, layer or step, token block), so work split
 * differently over threads draws the same numbers.  Two streams overlap only
 * when their keys lie within the lengths drawn of each other on the 2^64
 * cycle: with 2^20 streams of 2^24 draws the chance is below 2^-19.
 *
 * Floating-point helpers use only +, *, log, sqrt, cos (IEEE 754 basic
 * operations plus libm functions that glibc rounds the same on every x86_64
 * and aarch64 build); integers come from multiply-shift with rejection, so
 * they are exactly uniform.
 *
 * Memory: mp_rng is a plain value; nothing is allocated.
 */
#ifndef MP_RNG_H
#define MP_RNG_H

#include <stdint.h>

typedef struct mp_rng {
    uint64_t key;
    uint64_t ctr;
} mp_rng;

#define MP_RNG_GAMMA 0x9e3779b97f4a7c15ULL

/* The SplitMix64 finaliser (a bijection on 64-bit words). */
static inline uint64_t mp_rng_mix(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* A stream keyed by (seed, a, b, c), at its first output. */
mp_rng mp_rng_stream(uint64_t seed, uint64_t a, uint64_t b, uint64_t c);

/* The next 64 random bits. */
static inline uint64_t mp_rng_u64(mp_rng *r)
{
    r->ctr++;
    return mp_rng_mix(r->key + r->ctr * MP_RNG_GAMMA);
}

/* A double uniform in [0, 1) with 53 random bits. */
static inline double mp_rng_double(mp_rng *r)
{
    return (double)(mp_rng_u64(r) >> 11) * 0x1.0p-53;
}

/* A double uniform in (0, 1): never 0, so log() of it is finite. */
static inline double mp_rng_open01(mp_rng *r)
{
    return ((double)(mp_rng_u64(r) >> 11) + 0.5) * 0x1.0p-53;
}

/* An integer uniform in [0, n) for 1 <= n <= 2^32 (Lemire's method with rejection). */
uint32_t mp_rng_below(mp_rng *r, uint64_t n);

/* A standard normal deviate (Box-Muller; one of the pair is discarded so
 * that every call consumes exactly two draws). */
double mp_rng_normal(mp_rng *r);

/* A standard Gumbel deviate: -log(-log(U)). */
double mp_rng_gumbel(mp_rng *r);

/* A standard exponential deviate: -log(U). */
double mp_rng_exp(mp_rng *r);

/* Shuffles perm[0..n) uniformly (Fisher-Yates). */
void mp_rng_shuffle(mp_rng *r, int32_t *perm, int32_t n);

#endif
