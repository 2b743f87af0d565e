/* ref.c - CPU reference of the replay kernels (see mp_kernels_ref.h). */
#include "kernels/mp_kernels_ref.h"

#include <math.h>
#include <stdlib.h>

#include "kernels/mp_kx_common.h"

int mp_kref_layout(int64_t tokens, int32_t top_k, const uint16_t *ids, int32_t experts, int32_t max_replicas,
                   const int32_t *log2phy, const int32_t *replica_count, int32_t slots, int32_t ranks,
                   int selection, uint64_t seed, int32_t *slot, int32_t *row, int32_t *slot_rows, int32_t *dests,
                   int64_t *traffic)
{
    int64_t n = tokens * top_k;
    int32_t per_rank = slots / ranks;
    int64_t per_src = ranks > 0 ? (tokens + ranks - 1) / ranks : 1;
    if (per_src < 1) per_src = 1;
    for (int32_t s = 0; s < slots; s++) slot_rows[s] = 0;
    for (int64_t i = 0; i < (int64_t)ranks * ranks; i++) traffic[i] = 0;
    for (int64_t a = 0; a < n; a++) {
        int64_t t = a / top_k;
        int32_t e = ids[a];
        if (e >= experts) return -1;
        int32_t cnt = replica_count[e];
        if (cnt < 1 || cnt > max_replicas) return -1;
        int32_t j = mp__kx_select(selection, seed, a, t, cnt);
        int32_t s = log2phy[(int64_t)e * max_replicas + j];
        if (s < 0 || s >= slots) return -1;
        slot[a] = s;
        slot_rows[s]++;
    }
    /* rows: slot offsets, then assignments in index order within a slot */
    int32_t *cursor = malloc(sizeof *cursor * (size_t)(slots > 0 ? slots : 1));
    if (!cursor) return -1;
    int32_t off = 0;
    for (int32_t s = 0; s < slots; s++) {
        cursor[s] = off;
        off += slot_rows[s];
    }
    for (int64_t a = 0; a < n; a++) row[a] = cursor[slot[a]]++;
    free(cursor);
    for (int64_t t = 0; t < tokens; t++) {
        uint64_t mask = 0;
        for (int32_t k = 0; k < top_k; k++) mask |= 1ULL << (slot[t * top_k + k] / per_rank);
        int32_t src = (int32_t)(t / per_src);
        int32_t d = 0;
        for (int32_t r = 0; r < ranks; r++)
            if (mask >> r & 1) {
                d++;
                traffic[(int64_t)src * ranks + r]++;
            }
        dests[t] = d;
    }
    return 0;
}

void mp_kref_permute(int64_t tokens, int32_t top_k, int32_t hidden, const uint16_t *x, const int32_t *row,
                     uint16_t *xp)
{
    for (int64_t t = 0; t < tokens; t++)
        for (int32_t k = 0; k < top_k; k++) {
            const uint16_t *src = x + t * hidden;
            uint16_t *dst = xp + (int64_t)row[t * top_k + k] * hidden;
            for (int32_t h = 0; h < hidden; h++) dst[h] = src[h];
        }
}

void mp_kref_expert(int64_t m, int32_t hidden, int32_t inter, const uint16_t *w13, const uint16_t *w2,
                    const uint16_t *xp, uint16_t *y)
{
    float *a = malloc(sizeof *a * (size_t)inter);
    if (!a) return;
    for (int64_t r = 0; r < m; r++) {
        const uint16_t *xr = xp + r * hidden;
        for (int32_t j = 0; j < inter; j++) {
            float g = 0.0f, u = 0.0f;
            const uint16_t *wg = w13 + (int64_t)j * hidden, *wu = w13 + (int64_t)(inter + j) * hidden;
            for (int32_t h = 0; h < hidden; h++) {
                float xv = mp__kx_f32(xr[h]);
                g += xv * mp__kx_f32(wg[h]);
                u += xv * mp__kx_f32(wu[h]);
            }
            g = mp__kx_f32(mp__kx_bf16(g));
            u = mp__kx_f32(mp__kx_bf16(u));
            a[j] = mp__kx_f32(mp__kx_bf16(g / (1.0f + expf(-g)) * u));
        }
        for (int32_t h = 0; h < hidden; h++) {
            float acc = 0.0f;
            const uint16_t *wr = w2 + (int64_t)h * inter;
            for (int32_t j = 0; j < inter; j++) acc += a[j] * mp__kx_f32(wr[j]);
            y[r * hidden + h] = mp__kx_bf16(acc);
        }
    }
    free(a);
}

void mp_kref_combine(int64_t tokens, int32_t top_k, int32_t hidden, const uint16_t *y, const int32_t *row,
                     const float *weights, uint16_t *out)
{
    for (int64_t t = 0; t < tokens; t++)
        for (int32_t h = 0; h < hidden; h++) {
            float acc = 0.0f;
            for (int32_t k = 0; k < top_k; k++) {
                float w = weights ? weights[t * top_k + k] : 1.0f / (float)top_k;
                acc += w * mp__kx_f32(y[(int64_t)row[t * top_k + k] * hidden + h]);
            }
            out[t * hidden + h] = mp__kx_bf16(acc);
        }
}

uint8_t mp_kref_fp8(float f)
{
    uint8_t sign = signbit(f) ? 0x80 : 0;
    float a = fabsf(f);
    if (isnan(f)) return 0x7f;
    if (a >= 448.0f) return sign | 0x7e;
    if (a < 0.015625f) { /* below 2^-6: subnormal steps of 2^-9 */
        int q = (int)nearbyintf(a * 512.0f);
        return sign | (uint8_t)q; /* q == 8 encodes 2^-6 exactly */
    }
    int ex;
    float fr = frexpf(a, &ex); /* a = fr * 2^ex, fr in [0.5, 1) */
    int e = ex - 1;
    int q = (int)nearbyintf((fr * 2.0f - 1.0f) * 8.0f);
    if (q == 8) {
        q = 0;
        e++;
    }
    int bits = ((e + 7) << 3) | q;
    if (bits > 0x7e) bits = 0x7e;
    return sign | (uint8_t)bits;
}

float mp_kref_fp8_value(uint8_t b)
{
    int e = (b >> 3) & 15, m = b & 7;
    float v;
    if ((b & 0x7f) == 0x7f) return NAN;
    if (e == 0)
        v = ldexpf((float)m, -9);
    else
        v = ldexpf(1.0f + (float)m / 8.0f, e - 7);
    return (b & 0x80) ? -v : v;
}

void mp_kref_fp8_roundtrip(int32_t hidden, const uint16_t *x, uint8_t *q, float *scales, uint16_t *out)
{
    for (int32_t b = 0; b < hidden / 128; b++) {
        float amax = 0.0f;
        for (int32_t i = 0; i < 128; i++) {
            float v = fabsf(mp__kx_f32(x[b * 128 + i]));
            if (v > amax) amax = v;
        }
        float scale = amax > 0.0f ? amax / MP_KX_FP8_MAX : 1.0f;
        if (scales) scales[b] = scale;
        for (int32_t i = 0; i < 128; i++) {
            uint8_t c = mp_kref_fp8(mp__kx_f32(x[b * 128 + i]) / scale);
            if (q) q[b * 128 + i] = c;
            out[b * 128 + i] = mp__kx_bf16(mp_kref_fp8_value(c) * scale);
        }
    }
}
