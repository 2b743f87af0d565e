/* kx_test_routing.h - the skewed top-k routing the GPU kernel tests replay:
 * per token, K distinct ids below E, a quarter of them drawn from ids 0..3.
 * Include after kernels/mp_kx_common.h (for mp__kx_mix). */
#ifndef KX_TEST_ROUTING_H
#define KX_TEST_ROUTING_H

#include <stdint.h>
#include <string.h>

/* Fills ids[tokens][k] (k <= 64, E <= 1024) from the generator state *st and
 * returns; *st advances, so callers can derive weights from it per choice via
 * the `after` callback (may be NULL): after(ctx, t, k, *st). */
static void kx_test_routing(uint16_t *ids, int64_t tokens, int k, int e_count, uint64_t *st,
                            void (*after)(void *ctx, int64_t t, int kk, uint64_t st), void *ctx)
{
    unsigned char used[1024];
    for (int64_t t = 0; t < tokens; t++) {
        memset(used, 0, (size_t)e_count);
        for (int kk = 0; kk < k; kk++) {
            int e;
            do {
                *st = mp__kx_mix(*st);
                e = (int)((*st >> 33) % (uint64_t)e_count);
                if ((*st & 3) == 0) e = (int)((*st >> 20) % 4);
            } while (used[e]);
            used[e] = 1;
            ids[t * k + kk] = (uint16_t)e;
            if (after) after(ctx, t, kk, *st);
        }
    }
}

#endif
