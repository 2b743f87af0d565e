/* rng.c - the counter-based splittable generator of mp_rng.h. */
#include <math.h>

#include "traces/mp_rng.h"

mp_rng mp_rng_stream(uint64_t seed, uint64_t a, uint64_t b, uint64_t c)
{
    uint64_t k = mp_rng_mix(seed + MP_RNG_GAMMA);
    k = mp_rng_mix(k ^ (a + 0x632be59bd9b4e019ULL));
    k = mp_rng_mix(k ^ (b + 0x8cb92ba72f3d8dd7ULL));
    k = mp_rng_mix(k ^ (c + 0xd1b54a32d192ed03ULL));
    mp_rng r = {k, 0};
    return r;
}

uint32_t mp_rng_below(mp_rng *r, uint64_t n)
{
    uint64_t x = mp_rng_u64(r) >> 32;
    uint64_t m = x * n;
    uint32_t lo = (uint32_t)m;
    if (lo < n) {
        uint32_t t = (uint32_t)((0x100000000ULL - n) % n);
        while (lo < t) {
            x = mp_rng_u64(r) >> 32;
            m = x * n;
            lo = (uint32_t)m;
        }
    }
    return (uint32_t)(m >> 32);
}

double mp_rng_normal(mp_rng *r)
{
    double u = mp_rng_open01(r), v = mp_rng_double(r);
    return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

double mp_rng_gumbel(mp_rng *r) { return -log(-log(mp_rng_open01(r))); }

double mp_rng_exp(mp_rng *r) { return -log(mp_rng_open01(r)); }

void mp_rng_shuffle(mp_rng *r, int32_t *perm, int32_t n)
{
    for (int32_t i = n - 1; i > 0; i--) {
        int32_t j = (int32_t)mp_rng_below(r, (uint64_t)i + 1);
        int32_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
}
