/* packing.c - D'Hondt replication and EPLB's cardinality-constrained greedy
 * packing, the two building blocks EPLB and balanced share; and their float32
 * twins, which compute as DeepSeek's eplb.py does (it rounds the loads to
 * float32 and divides and sums in float32). */
#include <stdlib.h>

#include "planner/mp__planner.h"

/* Heap order for D'Hondt: larger w/cnt first, lower index on ties. */
static int above(const double *w, const int32_t *cnt, int32_t a, int32_t b)
{
    double qa = w[a] / cnt[a], qb = w[b] / cnt[b];
    return qa > qb || (qa == qb && a < b);
}

/* A max-heap of experts by quotient (ABOVE), for double and float weights. */
#define SIFT_DOWN(NAME, T, ABOVE)                                                   \
    static void NAME(int32_t *h, int32_t n, int32_t i, const T *w, const int32_t *cnt) \
    {                                                                               \
        for (;;) {                                                                  \
            int32_t l = 2 * i + 1, r = l + 1, best = i;                             \
            if (l < n && ABOVE(w, cnt, h[l], h[best])) best = l;                    \
            if (r < n && ABOVE(w, cnt, h[r], h[best])) best = r;                    \
            if (best == i) return;                                                  \
            int32_t t = h[i];                                                       \
            h[i] = h[best];                                                         \
            h[best] = t;                                                            \
            i = best;                                                               \
        }                                                                           \
    }
SIFT_DOWN(sift_down, double, above)

int mp_dhondt(const double *w, int32_t E, int32_t R, int32_t cap, int32_t *cnt, int32_t *extra)
{
    return mp__dhondt_fixed(w, E, R, cap, 0, cnt, extra);
}

int mp__dhondt_fixed(const double *w, int32_t E, int32_t R, int32_t cap, int32_t nfixed, int32_t *cnt, int32_t *extra)
{
    if (E < 1 || nfixed < 0 || nfixed > E || !w || !cnt) return MP_EINVAL;
    int32_t Ev = E - nfixed; /* experts that may get replicas */
    for (int32_t e = 0; e < E; e++) cnt[e] = 1;
    if (R <= E) return 0;
    int32_t *h = malloc((size_t)E * sizeof *h);
    if (!h) return MP_ENOMEM;
    int32_t n = 0;
    for (int32_t e = 0; e < Ev; e++)
        if (cap <= 0 || cnt[e] < cap) h[n++] = e;
    for (int32_t i = n / 2 - 1; i >= 0; i--) sift_down(h, n, i, w, cnt);
    for (int32_t k = 0; k < R - E; k++) {
        if (n == 0) { /* every expert at the cap: the rest without it */
            free(h);
            for (int32_t j = k; j < R - E; j++) {
                int32_t best = 0; /* expert 0 even when every one is fixed */
                for (int32_t e = 1; e < Ev; e++)
                    if (above(w, cnt, e, best)) best = e;
                cnt[best]++;
                if (extra) extra[j] = best;
            }
            return 0;
        }
        int32_t e = h[0];
        if (extra) extra[k] = e;
        cnt[e]++;
        if (cap > 0 && cnt[e] >= cap) h[0] = h[--n];
        sift_down(h, n, 0, w, cnt);
    }
    free(h);
    return 0;
}

/* A total order sort without globals (weight descending, lower index first
 * on ties): insertion into a merge sort, for double and float weights. */
#define MERGE_SORT(NAME, T)                                                                 \
    static void NAME(int32_t *a, int32_t *tmp, int32_t n, const T *w)                      \
    {                                                                                       \
        if (n < 2) return;                                                                  \
        if (n <= 16) {                                                                      \
            for (int32_t i = 1; i < n; i++) {                                               \
                int32_t v = a[i], j = i;                                                    \
                while (j > 0 && (w[a[j - 1]] < w[v] || (w[a[j - 1]] == w[v] && a[j - 1] > v))) { \
                    a[j] = a[j - 1];                                                        \
                    j--;                                                                    \
                }                                                                           \
                a[j] = v;                                                                   \
            }                                                                               \
            return;                                                                         \
        }                                                                                   \
        int32_t h = n / 2;                                                                  \
        NAME(a, tmp, h, w);                                                                 \
        NAME(a + h, tmp, n - h, w);                                                         \
        int32_t i = 0, j = h, k = 0;                                                        \
        while (i < h && j < n) {                                                            \
            int32_t x = a[i], y = a[j];                                                     \
            if (w[x] > w[y] || (w[x] == w[y] && x < y)) tmp[k++] = a[i++];                  \
            else tmp[k++] = a[j++];                                                         \
        }                                                                                   \
        while (i < h) tmp[k++] = a[i++];                                                    \
        while (j < n) tmp[k++] = a[j++];                                                    \
        for (int32_t t = 0; t < n; t++) a[t] = tmp[t];                                      \
    }
MERGE_SORT(merge_sort, double)
MERGE_SORT(merge_sort_f32, float)

int mp__sort_desc(int32_t *idx, int32_t n, const double *w)
{
    int32_t *tmp = malloc((size_t)(n > 0 ? n : 1) * sizeof *tmp);
    if (!tmp) return MP_ENOMEM;
    for (int32_t i = 0; i < n; i++) idx[i] = i;
    merge_sort(idx, tmp, n, w);
    free(tmp);
    return 0;
}

int mp_eplb_pack(const double *w, int32_t n, int32_t m, int32_t *pack, int32_t *place)
{
    if (m < 1 || n < 1 || n % m != 0) return MP_EINVAL; /* else items would find no pack with room */
    int32_t per = n / m;
    if (per == 1) {
        for (int32_t i = 0; i < n; i++) {
            pack[i] = i;
            place[i] = 0;
        }
        return 0;
    }
    int32_t *idx = malloc((size_t)n * sizeof *idx);
    double *pw = calloc((size_t)m, sizeof *pw);
    int32_t *pn = calloc((size_t)m, sizeof *pn);
    if (!idx || !pw || !pn || mp__sort_desc(idx, n, w)) {
        free(idx);
        free(pw);
        free(pn);
        return MP_ENOMEM;
    }
    for (int32_t k = 0; k < n; k++) {
        int32_t it = idx[k], best = -1;
        for (int32_t p = 0; p < m; p++)
            if (pn[p] < per && (best < 0 || pw[p] < pw[best])) best = p;
        pack[it] = best;
        place[it] = pn[best]++;
        pw[best] += w[it];
    }
    free(idx);
    free(pw);
    free(pn);
    return 0;
}

/* ---- float32, as eplb.py computes ---- */

/* w / cnt rounded to float, as torch divides a float32 tensor by an int64 one */
static float quot_f32(const float *w, const int32_t *cnt, int32_t e) { return (float)(w[e] / (float)cnt[e]); }

static int above_f32(const float *w, const int32_t *cnt, int32_t a, int32_t b)
{
    float qa = quot_f32(w, cnt, a), qb = quot_f32(w, cnt, b);
    return qa > qb || (qa == qb && a < b);
}

SIFT_DOWN(sift_down_f32, float, above_f32)

int mp__dhondt_f32(const float *w, int32_t E, int32_t R, int32_t nfixed, int32_t *cnt, int32_t *extra)
{
    if (E < 1 || nfixed < 0 || nfixed > E || !w || !cnt) return MP_EINVAL;
    int32_t Ev = E - nfixed;
    for (int32_t e = 0; e < E; e++) cnt[e] = 1;
    if (R <= E) return 0;
    if (Ev == 0) { /* every expert fixed: the extra slots to expert 0, as the double version does */
        for (int32_t k = 0; k < R - E; k++) {
            cnt[0]++;
            if (extra) extra[k] = 0;
        }
        return 0;
    }
    int32_t *h = malloc((size_t)Ev * sizeof *h);
    if (!h) return MP_ENOMEM;
    for (int32_t e = 0; e < Ev; e++) h[e] = e;
    for (int32_t i = Ev / 2 - 1; i >= 0; i--) sift_down_f32(h, Ev, i, w, cnt);
    for (int32_t k = 0; k < R - E; k++) {
        int32_t e = h[0];
        if (extra) extra[k] = e;
        cnt[e]++;
        sift_down_f32(h, Ev, 0, w, cnt);
    }
    free(h);
    return 0;
}

int mp__eplb_pack_f32(const float *w, int32_t n, int32_t m, int32_t *pack, int32_t *place)
{
    if (m < 1 || n < 1 || n % m != 0) return MP_EINVAL;
    int32_t per = n / m;
    if (per == 1) {
        for (int32_t i = 0; i < n; i++) {
            pack[i] = i;
            place[i] = 0;
        }
        return 0;
    }
    int32_t *idx = malloc((size_t)n * sizeof *idx), *tmp = malloc((size_t)n * sizeof *tmp);
    float *pw = calloc((size_t)m, sizeof *pw);
    int32_t *pn = calloc((size_t)m, sizeof *pn);
    if (!idx || !tmp || !pw || !pn) {
        free(idx), free(tmp), free(pw), free(pn);
        return MP_ENOMEM;
    }
    for (int32_t i = 0; i < n; i++) idx[i] = i;
    merge_sort_f32(idx, tmp, n, w);
    for (int32_t k = 0; k < n; k++) {
        int32_t it = idx[k], best = -1;
        for (int32_t p = 0; p < m; p++)
            if (pn[p] < per && (best < 0 || pw[p] < pw[best])) best = p;
        pack[it] = best;
        place[it] = pn[best]++;
        pw[best] = (float)(pw[best] + w[it]);
    }
    free(idx), free(tmp), free(pw), free(pn);
    return 0;
}
