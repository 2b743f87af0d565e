/* plan_helpers.h - shared helpers of the plan_* unit tests: a fixed-seed
 * generator and synthetic load matrices. */
#ifndef PLAN_HELPERS_H
#define PLAN_HELPERS_H

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "planner/mp_planner.h"

static uint64_t th_state = 1;
static inline void th_seed(uint64_t s) { th_state = s * 0x9E3779B97F4A7C15ull + 1; }
static inline uint64_t th_next(void)
{
    uint64_t z = (th_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
static inline double th_unif(void) { return (th_next() >> 11) * (1.0 / 9007199254740992.0); }

/* Zipf(s) loads: expert of rank r (random permutation per layer) gets
 * round(scale / r^s) + 1 tokens. */
static inline mp_loads *th_zipf(int32_t L, int32_t E, double s, double scale, uint64_t seed)
{
    mp_loads *l;
    if (mp_loads_create(&l, 1, L, E, NULL)) return NULL;
    th_seed(seed);
    int32_t *perm = malloc((size_t)E * sizeof *perm);
    for (int32_t k = 0; k < L; k++) {
        for (int32_t e = 0; e < E; e++) perm[e] = e;
        for (int32_t e = E - 1; e > 0; e--) {
            int32_t j = (int32_t)(th_next() % (uint64_t)(e + 1)), t = perm[e];
            perm[e] = perm[j], perm[j] = t;
        }
        double *row = mp_loads_row(l, 0, k);
        for (int32_t r = 0; r < E; r++) row[perm[r]] = floor(scale / pow(r + 1, s)) + 1;
    }
    free(perm);
    return l;
}

/* Lognormal(sigma) loads with a fraction `dead` of zero experts. */
static inline mp_loads *th_lognormal(int32_t L, int32_t E, double sigma, double dead, uint64_t seed)
{
    mp_loads *l;
    if (mp_loads_create(&l, 1, L, E, NULL)) return NULL;
    th_seed(seed);
    for (int32_t k = 0; k < L; k++) {
        double *row = mp_loads_row(l, 0, k);
        for (int32_t e = 0; e < E; e++) {
            double u1 = th_unif() + 1e-300, u2 = th_unif();
            double z = sqrt(-2 * log(u1)) * cos(6.283185307179586 * u2);
            row[e] = th_unif() < dead ? 0 : floor(1000 * exp(sigma * z));
        }
    }
    return l;
}

/* Narrow-domain skew (the shape of the real matrices in ../shared/data/real): log-loads N(0, sigma), a flat
 * head capped so that the hottest expert is `ratio` times the mean (with 3%
 * jitter), a fraction `dead` of experts with no load. */
static inline mp_loads *th_skewed(int32_t L, int32_t E, double sigma, double ratio, double dead, uint64_t seed)
{
    mp_loads *l;
    if (mp_loads_create(&l, 1, L, E, NULL)) return NULL;
    th_seed(seed);
    for (int32_t k = 0; k < L; k++) {
        double *row = mp_loads_row(l, 0, k);
        for (int32_t e = 0; e < E; e++) {
            double u1 = th_unif() + 1e-300, u2 = th_unif();
            double z = sqrt(-2 * log(u1)) * cos(6.283185307179586 * u2);
            row[e] = th_unif() < dead ? 0 : exp(sigma * z);
        }
        double lo = 0, hi = 0;
        for (int32_t e = 0; e < E; e++) hi = row[e] > hi ? row[e] : hi;
        for (int it = 0; it < 100; it++) { /* cap c with max/mean == ratio */
            double c = (lo + hi) / 2, t = 0;
            for (int32_t e = 0; e < E; e++) t += row[e] < c ? row[e] : c;
            if (c / (t / E) > ratio) hi = c;
            else lo = c;
        }
        for (int32_t e = 0; e < E; e++) {
            double v = row[e] < lo ? row[e] : lo * (0.97 + 0.03 * th_unif());
            row[e] = floor(v / lo * 100000);
        }
    }
    return l;
}

#endif
