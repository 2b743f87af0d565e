/* gen_sampler.c - routing one token through every MoE layer: the faithful
 * scorer (Gumbel-perturbed scores of all experts, sigmoid or softmax,
 * group-limited top-k) and the fast sampler (sequential sampling without
 * replacement from alias tables, groups admitted first come first served). */
#include <math.h>
#include <string.h>

#include "traces/gen/mp__gen.h"

/* inlined into each caller, so that constants (top-8, weights or not) fold */
#if defined(__GNUC__)
#define ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define ALWAYS_INLINE inline
#endif

int64_t mp__gen_scratch(const mp_gen *g)
{
    /* exact: x[E], f[E], group scores[G], kept[G]; fast: chosen bits, used groups */
    return 2 * (int64_t)g->E + 2 * g->G + (g->E + 63) / 64 + (g->G + 7) / 8 + 2;
}

/* w'_e of the model: popularity mixed with the successors of the token's previous experts. */
static double mixed_weight(const mp_gen *g, const double *sh, const int32_t *sc, const mp_expert_id *prev, double A,
                           int32_t e)
{
    double w = sh[e];
    if (!prev) return w;
    w *= 1.0 - A;
    for (int32_t j = 0; j < g->K; j++)
        if (sc[prev[j]] == e) w += A / g->K;
    return w;
}

static void finish_weights(const mp_gen *g, double *y, float *wout)
{
    double sum = 0;
    for (int32_t k = 0; k < g->K; k++) sum += y[k];
    double f = g->o.model.routed_scaling;
    if (g->o.model.normalize_topk && sum > 0) f /= sum;
    for (int32_t k = 0; k < g->K; k++) wout[k] = (float)(y[k] * f);
}

/* Chooses uniformly among allowed experts by weight w' when rejection keeps failing
 * (few live experts left in the admitted groups). */
static int32_t fallback(const mp_gen *g, mp_rng *r, const double *sh, const int32_t *sc, const mp_expert_id *prev,
                        double A, const mp_expert_id *out, int32_t k, const int32_t *used, int32_t ng)
{
    double total = 0;
    int32_t nallowed = 0;
    for (int pass = 0; pass < 2; pass++) {
        double u = pass ? mp_rng_double(r) * total : 0, acc = 0;
        int32_t pick = pass ? (int32_t)mp_rng_below(r, (uint64_t)nallowed) : 0, seen = 0;
        for (int32_t e = 0; e < g->E; e++) {
            int ok = 1;
            for (int32_t j = 0; j < k && ok; j++) ok = out[j] != e;
            if (ok && g->G > 1 && ng >= g->TG) {
                ok = 0;
                for (int32_t j = 0; j < ng; j++) ok |= used[j] == e / g->gsize;
            }
            if (!ok) continue;
            double w = mixed_weight(g, sh, sc, prev, A, e);
            if (!pass) {
                total += w;
                nallowed++;
            } else if (total > 0) {
                acc += w;
                if (w > 0 && u < acc) return e;
            } else if (seen++ == pick) {
                return e;
            }
        }
        if (pass && total > 0) { /* rounding: the last allowed expert with weight */
            for (int32_t e = g->E - 1; e >= 0; e--) {
                int ok = mixed_weight(g, sh, sc, prev, A, e) > 0;
                for (int32_t j = 0; j < k && ok; j++) ok = out[j] != e;
                if (ok && g->G > 1 && ng >= g->TG) {
                    ok = 0;
                    for (int32_t j = 0; j < ng; j++) ok |= used[j] == e / g->gsize;
                }
                if (ok) return e;
            }
        }
    }
    return 0; /* unreachable: K <= TG * E/G leaves room */
}

static void fast_layer(const mp_gen *g, int32_t l, int32_t topic, mp_rng *rp, const mp_expert_id *prev,
                       mp_expert_id *out, float *wout, uint64_t *chosen)
{
    /* a local copy of the stream, so that stores to `chosen` do not force it through memory */
    mp_rng rl = *rp, *r = &rl;
    const int32_t E = g->E, K = g->K, G = g->G, TG = g->TG, gsize = g->gsize;
    const int64_t off = ((int64_t)l * g->T + topic) * E;
    const uint32_t *prob = g->aprob + off, *gprob = g->gprob + off;
    const uint16_t *idx = g->aidx + off, *gidx = g->gidx + off;
    const double *sh = g->share + off, *gm = g->gmass + ((int64_t)l * g->T + topic) * G;
    const double A = prev ? g->o.layer_affinity : 0.0;
    const int32_t *sc = prev ? g->succ + (int64_t)(l - 1) * E : NULL;
    const uint16_t *gof = g->group_of;
    int32_t used[MP_TOPK_MAX] = {0}; /* only [0, ng) is read; zeroed for the compiler */
    int32_t ng = 0;
    uint64_t gbits = 0; /* admitted groups when G <= 64 */
    double umass = 0; /* popularity mass of the admitted groups */
    uint32_t cum[MP_TOPK_MAX];
    for (int32_t k = 0; k < K; k++) {
        int32_t e;
        int tries = 0;
        for (;;) {
            if (++tries > 200) {
                mp_rng tmp = rl;
                e = fallback(g, &tmp, sh, sc, prev, A, out, k, used, ng);
                rl = tmp;
                int32_t seen = 0;
                for (int32_t q = 0; q < ng; q++) seen |= used[q] == gof[e];
                if (!seen) {
                    if (G <= 64) gbits |= 1ULL << gof[e];
                    used[ng++] = gof[e];
                    umass += gm[gof[e]];
                    if (ng == TG) {
                        double c = 0;
                        for (int32_t q = 0; q < ng - 1; q++) {
                            c += gm[used[q]];
                            cum[q] = (uint32_t)(c / umass * 4294967296.0);
                        }
                    }
                }
                break;
            }
            uint64_t u = mp_rng_u64(r);
            if (A > 0 && (double)(u >> 11) * 0x1.0p-53 < A) {
                e = sc[prev[mp_rng_below(r, (uint64_t)K)]];
            } else if (A > 0 || ng < TG || G == 1) {
                if (A > 0) u = mp_rng_u64(r);
                e = (int32_t)(((u >> 32) * (uint64_t)E) >> 32);
                int32_t alt = idx[e];
                e = (uint32_t)u < prob[e] ? e : alt;
            } else {
                /* the admitted groups are full: draw a group by its mass, then
                 * an expert inside it (the same law as rejecting other groups) */
                uint32_t x = (uint32_t)(u >> 32);
                int32_t j = 0;
                for (int32_t q = 0; q < ng - 1; q++) j += x >= cum[q];
                int32_t base = used[j] * gsize;
                uint64_t v = mp_rng_u64(r);
                int32_t i = (int32_t)(((v >> 32) * (uint64_t)gsize) >> 32);
                int32_t alt = gidx[base + i];
                i = (uint32_t)v < gprob[base + i] ? i : alt;
                e = base + i;
            }
            if (chosen[e >> 6] >> (e & 63) & 1) continue;
            if (G > 1) {
                int32_t gr = gof[e], seen;
                if (G <= 64) {
                    seen = (int32_t)(gbits >> gr & 1);
                } else {
                    seen = 0;
                    for (int32_t q = 0; q < ng; q++) seen |= used[q] == gr;
                }
                if (!seen) {
                    if (ng >= TG) continue;
                    if (G <= 64) gbits |= 1ULL << gr;
                    used[ng++] = gr;
                    umass += gm[gr];
                    if (ng == TG) { /* cumulative shares of the admitted groups, scaled to 2^32 */
                        double c = 0;
                        for (int32_t q = 0; q < ng - 1; q++) {
                            c += gm[used[q]];
                            cum[q] = (uint32_t)(c / umass * 4294967296.0);
                        }
                    }
                }
            }
            break;
        }
        out[k] = (mp_expert_id)e;
        chosen[e >> 6] |= 1ULL << (e & 63);
    }
    for (int32_t k = 0; k < K; k++) chosen[out[k] >> 6] = 0;
    if (!wout) {
        *rp = rl;
        return;
    }
    /* gate weights: the chosen experts' w' with a multiplicative jitter in [0.5, 1.5) */
    double y[MP_TOPK_MAX];
    uint64_t bits = 0;
    int sig = g->o.model.scoring == MP_SCORING_SIGMOID;
    double wsum = 0, psum = 0;
    for (int32_t k = 0; k < K; k++) {
        if ((k & 3) == 0) bits = mp_rng_u64(r);
        double jit = 0.5 + (double)(bits & 0xffff) * (1.0 / 65536.0);
        bits >>= 16;
        double w = (A > 0 ? mixed_weight(g, sh, sc, prev, A, out[k]) : sh[out[k]]) * jit;
        y[k] = sig ? w * E / (1.0 + w * E) : w;
        wsum += w;
        psum += w / jit;
    }
    if (g->o.model.scoring == MP_SCORING_SOFTMAX) {
        /* softmax over all experts: the unchosen keep their mass 1 - psum */
        double z = wsum + (1.0 - psum > 0 ? 1.0 - psum : 0.0);
        for (int32_t k = 0; k < K; k++) y[k] /= z;
    }
    *rp = rl;
    finish_weights(g, y, wout);
}
/* One phase-1 candidate of fast_plain from 32 random bits H: the
 * multiply-shift picks the slot, the remainder (uniform, independent of the
 * slot) is the alias coin (as a mask, all ones for the alias target, so that
 * it never becomes a branch) and, scrambled, the weight's jitter.  A new
 * expert is taken, admitting its group (always allowed in phase 1); phase 1
 * ends when K are chosen or the groups are fixed. */
#define PLAIN_CAND1(H)                                                                                          \
    do {                                                                                                        \
        uint64_t m_ = (uint64_t)(H) * (uint64_t)E;                                                              \
        uint32_t s_ = (uint32_t)(m_ >> 32);                                                                     \
        uint64_t v_ = tab[s_];                                                                                  \
        uint32_t alt_ = 0 - (uint32_t)((uint32_t)m_ >= (uint32_t)v_);                                           \
        uint32_t e_ = (s_ & ~alt_) | ((uint32_t)(v_ >> 32) & 0xffff & alt_);                                    \
        uint32_t gr_ = ((uint32_t)(v_ >> 48) & 0xff & ~alt_) | ((uint32_t)(v_ >> 56) & alt_);                   \
        uint64_t bit_ = 1ULL << (e_ & 63);                                                                      \
        if (!(ch[e_ >> 6] & bit_)) {                                                                            \
            ch[e_ >> 6] |= bit_;                                                                                \
            uint32_t jb_ = ((uint32_t)m_ * 0x9e3779b9u) >> 16;                                                  \
            memcpy(jp++, &jb_, sizeof jb_);                                                                     \
            int32_t fresh_ = (int32_t)(~gbits >> gr_ & 1);                                                      \
            gbits |= 1ULL << gr_;                                                                               \
            used[ng] = (int32_t)gr_;                                                                            \
            ng += fresh_;                                                                                       \
            *op++ = (mp_expert_id)e_;                                                                           \
            if ((op == oend) | (ng == TG)) goto phase1_done;                                                    \
        }                                                                                                       \
    } while (0)

/* The common case, specialised: no affinity, at most 64 groups, at most
 * 1024 experts; the same law as fast_layer (sequential sampling without
 * replacement, groups admitted first come first served) with the sets in
 * locals, one packed table entry a candidate (threshold, alias target and
 * both their groups), and the weights' jitter taken from spare bits of the
 * draws that chose the experts (the remainder of the index multiply, or the
 * group part of a group draw) instead of extra draws.  The jitter is left
 * as the bits of the weight's float slot for plain_weights to finish.
 * Few values are live in the loops (pointers instead of counts, the
 * counter as the give-up count) so that they stay in registers. */
static void fast_plain(const mp_gen *g, int32_t l, int32_t topic, mp_rng *rp, mp_expert_id *out, float *wout)
{
    const int32_t E = g->E, K = g->K, G = g->G, gsize = g->gsize;
    /* ungrouped: phase 1 runs to the end */
    const int32_t TG = G == 1 ? K + 1 : g->TG;
    const int64_t off = ((int64_t)l * g->T + topic) * E;
    const uint64_t *tab = g->atab + off;
    const uint64_t key = rp->key;
    uint64_t ctr = rp->ctr;
    /* give up on rejection (few live experts left) after this many draws */
    const uint64_t ctr_end = ctr + 100 + 4 * (uint64_t)K;
    uint64_t ch[16] = {0}; /* chosen experts; a fixed size clears inline */
    int32_t used[MP_TOPK_MAX], ng = 0, k;
    /* the 16-bit jitter of each chosen expert's weight, kept as the bits of
     * the float slot it will be finished in (memcpy: no aliasing) */
    float jloc[MP_TOPK_MAX], *jw = wout ? wout : jloc, *jp = jw;
    mp_expert_id *op = out, *const oend = out + K;
    uint64_t gbits = 0;
    /* phase 1: any group may still be admitted (all of them when ungrouped);
     * each mix gives two 32-bit candidates */
    for (;;) {
        uint64_t u = mp_rng_mix(key + ++ctr * MP_RNG_GAMMA);
        if (ctr > ctr_end) goto slow;
        PLAIN_CAND1(u >> 32);
        PLAIN_CAND1((uint32_t)u);
    }
phase1_done:
    if (op < oend) {
        /* phase 2: the admitted groups are full; group by mass (a draw scaled
         * to their total against the running sums), then expert inside */
        const uint32_t *gtab = g->gtab + off;
        const double *gm = g->gmass + ((int64_t)l * g->T + topic) * G;
        double pre[MP_TOPK_MAX + 1]; /* pre[q]: popularity mass of the first q admitted groups */
        pre[0] = 0;
        for (int32_t q = 0; q < ng; q++) pre[q + 1] = pre[q] + gm[used[q]];
        const double scale = pre[ng] * 0x1.0p-32;
        /* up to 4 groups: three compares, against +inf where there is no group */
        const double p1 = ng > 1 ? pre[1] : INFINITY, p2 = ng > 2 ? pre[2] : INFINITY, p3 = ng > 3 ? pre[3] : INFINITY;
        const int few = ng <= 4;
        for (;;) {
            /* one draw: 32 bits choose the group (and, scrambled, the
             * jitter), 16 the slot, 16 the alias coin */
            uint64_t u = mp_rng_mix(key + ++ctr * MP_RNG_GAMMA);
            if (ctr > ctr_end) goto slow;
            uint32_t x = (uint32_t)(u >> 32);
            double xd = (double)x * scale;
            int32_t j;
            if (few) {
                j = (int32_t)(xd >= p1) + (int32_t)(xd >= p2) + (int32_t)(xd >= p3);
            } else {
                j = 0;
                for (int32_t q = 1; q < ng; q++) j += xd >= pre[q];
            }
            uint32_t base = (uint32_t)(used[j] * gsize);
            uint32_t i = ((uint32_t)(u >> 16) & 0xffff) * (uint32_t)gsize >> 16;
            uint32_t v = gtab[base + i];
            uint32_t alt = 0 - (uint32_t)((uint32_t)(u & 0xffff) >= (v & 0xffff));
            uint32_t e = base + ((i & ~alt) | (v >> 16 & alt));
            uint64_t bit = 1ULL << (e & 63);
            if (ch[e >> 6] & bit) continue;
            ch[e >> 6] |= bit;
            uint32_t jb = (x * 0x9e3779b9u) >> 16;
            memcpy(jp++, &jb, sizeof jb);
            *op++ = (mp_expert_id)e;
            if (op == oend) break;
        }
    }
    rp->ctr = ctr;
    return;
slow: /* few live experts left: finish by explicit weights */
    rp->ctr = ctr;
    for (k = (int32_t)(op - out); k < K; k++) {
        int32_t e = fallback(g, rp, g->share + off, NULL, NULL, 0, out, k, used, ng), seen = 0;
        for (int32_t q = 0; q < ng; q++) seen |= used[q] == e / gsize;
        if (!seen) used[ng++] = e / gsize;
        out[k] = (mp_expert_id)e;
        uint32_t jb = (uint32_t)(mp_rng_u64(rp) >> 48);
        memcpy(jw + k, &jb, sizeof jb);
    }
}
#undef PLAIN_CAND1

/* Gate weights of one token-layer routed by fast_plain: the expert's base
 * score (sigmoid of its scaled share, or its share; precomputed per layer
 * and topic) times its jitter 0.5 + j / 65536, with j the bits fast_plain
 * left in the weight, normalised.  Inline with K a constant where it is one. */
static ALWAYS_INLINE void plain_weight(const double *wb, const double *sh, const mp_expert_id *id, float *w, int32_t K,
                                int norm, int soft, double scale)
{
    double y[MP_TOPK_MAX], ysum = 0;
    for (int32_t q = 0; q < K; q++) {
        uint32_t jb;
        memcpy(&jb, w + q, sizeof jb);
        y[q] = wb[id[q]] * (0.5 + (double)jb * (1.0 / 65536.0));
        ysum += y[q];
    }
    double f = scale;
    if (norm) {
        if (ysum > 0) f /= ysum;
    } else if (soft) {
        /* softmax over all experts: the unchosen keep their mass 1 - psum */
        double psum = 0;
        for (int32_t q = 0; q < K; q++) psum += sh[id[q]];
        f /= ysum + (1.0 - psum > 0 ? 1.0 - psum : 0.0);
    } else {
        /* sigmoid, not normalised (Llama-4): each weight is a sigmoid, below 1 */
        for (int32_t q = 0; q < K; q++)
            if (y[q] >= 1.0) y[q] = 1.0 - 1.0 / 65536.0;
    }
    for (int32_t q = 0; q < K; q++) w[q] = (float)(y[q] * f);
}

/* The gate weights of n tokens routed by fast_plain at layer l (ids and
 * weights at stride per): a separate pass over the block, free of
 * data-dependent branches, so that tokens overlap. */
static void plain_weights(const mp_gen *g, int32_t l, int32_t n, const int32_t *topic, const mp_expert_id *ids,
                          float *weights, int64_t per)
{
    const int32_t E = g->E, K = g->K;
    const int norm = g->o.model.normalize_topk;
    const int soft = !norm && g->o.model.scoring == MP_SCORING_SOFTMAX;
    const double scale = g->o.model.routed_scaling;
    for (int32_t i = 0; i < n; i++) {
        const int64_t off = ((int64_t)l * g->T + topic[i]) * E, at = i * per + (int64_t)l * K;
        if (K == 8) /* the common top-8, unrolled */
            plain_weight(g->wbase + off, g->share + off, ids + at, weights + at, 8, norm, soft, scale);
        else
            plain_weight(g->wbase + off, g->share + off, ids + at, weights + at, K, norm, soft, scale);
    }
}

/* fast_plain over n tokens at layer l (ids and weights at stride per), one
 * call for the block so that the per-layer set-up is hoisted out of the loop. */
static void fast_plain_block(const mp_gen *g, int32_t l, int32_t n, mp_rng *r, const int32_t *topic,
                             mp_expert_id *ids, float *weights, int64_t per)
{
    const int64_t at = (int64_t)l * g->K;
    if (weights) {
        for (int32_t i = 0; i < n; i++) fast_plain(g, l, topic[i], &r[i], ids + i * per + at, weights + i * per + at);
        plain_weights(g, l, n, topic, ids, weights, per);
    } else {
        for (int32_t i = 0; i < n; i++) fast_plain(g, l, topic[i], &r[i], ids + i * per + at, NULL);
    }
}

static void exact_layer(const mp_gen *g, int32_t l, int32_t topic, mp_rng *r, const mp_expert_id *prev,
                        mp_expert_id *out, float *wout, double *x)
{
    const int32_t E = g->E, K = g->K, G = g->G, gsize = g->gsize;
    const int64_t off = ((int64_t)l * g->T + topic) * E;
    const double *ls = g->logshare + off, *sh = g->share + off;
    const double A = prev ? g->o.layer_affinity : 0.0;
    double *fv = x + E, *gs = x + 2 * E;
    int32_t *keep = (int32_t *)(gs + G); /* G ints fit in G doubles */
    if (A > 0) {
        const int32_t *sc = g->succ + (int64_t)(l - 1) * E;
        for (int32_t e = 0; e < E; e++) x[e] = (1.0 - A) * sh[e];
        for (int32_t j = 0; j < K; j++) x[sc[prev[j]]] += A / K;
        for (int32_t e = 0; e < E; e++) x[e] = x[e] > 0 ? log(x[e]) + mp_rng_gumbel(r) : -INFINITY;
    } else {
        for (int32_t e = 0; e < E; e++) {
            double gmb = mp_rng_gumbel(r);
            x[e] = isfinite(ls[e]) ? ls[e] + gmb : -INFINITY;
        }
    }
    double xmax = -INFINITY;
    for (int32_t e = 0; e < E; e++)
        if (x[e] > xmax) xmax = x[e];
    /* scores as the router computes them */
    int sig = g->o.model.scoring == MP_SCORING_SIGMOID;
    for (int32_t e = 0; e < E; e++) fv[e] = sig ? 1.0 / (1.0 + exp(-x[e])) : exp(x[e] - xmax);
    for (int32_t k = 0; k < G; k++) keep[k] = 1;
    if (G > 1) {
        for (int32_t k = 0; k < G; k++) {
            double a = -1, b = -1; /* two largest scores of the group */
            for (int32_t e = k * gsize; e < (k + 1) * gsize; e++) {
                if (fv[e] > a) {
                    b = a;
                    a = fv[e];
                } else if (fv[e] > b) {
                    b = fv[e];
                }
            }
            gs[k] = a + (gsize > 1 ? b : 0);
            keep[k] = 0;
        }
        for (int32_t t = 0; t < g->TG; t++) {
            int32_t best = -1;
            for (int32_t k = 0; k < G; k++)
                if (!keep[k] && (best < 0 || gs[k] > gs[best])) best = k;
            keep[best] = 1;
        }
    }
    /* top K by score inside the kept groups; ties: lower id first */
    int32_t n = 0;
    int32_t sel[MP_TOPK_MAX];
    for (int32_t e = 0; e < E; e++) {
        if (!keep[e / gsize]) continue;
        if (n == K && !(x[e] > x[sel[K - 1]])) continue;
        int32_t p = n < K ? n++ : K - 1;
        while (p > 0 && x[e] > x[sel[p - 1]]) {
            sel[p] = sel[p - 1];
            p--;
        }
        sel[p] = e;
    }
    for (int32_t k = 0; k < K; k++) out[k] = (mp_expert_id)sel[k];
    if (!wout) return;
    double y[MP_TOPK_MAX];
    if (g->o.model.scoring == MP_SCORING_SOFTMAX) {
        double z = 0;
        for (int32_t e = 0; e < E; e++) z += fv[e];
        for (int32_t k = 0; k < K; k++) y[k] = fv[sel[k]] / z;
    } else if (sig) {
        for (int32_t k = 0; k < K; k++) y[k] = fv[sel[k]];
    } else { /* softmax over the chosen logits */
        for (int32_t k = 0; k < K; k++) y[k] = isfinite(x[sel[k]]) ? exp(x[sel[k]] - x[sel[0]]) : 0.0;
    }
    finish_weights(g, y, wout);
}

void mp__gen_tokens(const mp_gen *g, int32_t n, mp_rng *r, const int32_t *topic, mp_expert_id *ids, float *weights,
                    double *scratch)
{
    const int32_t K = g->K;
    const int64_t per = (int64_t)g->L * K;
    /* the fast sampler's sets live after the exact scorer's arrays and start (and end) cleared */
    uint64_t *chosen = (uint64_t *)(scratch + 2 * (int64_t)g->E + 2 * g->G);
    const int small = g->G <= 64 && g->E <= 1024, plain = small && g->o.layer_affinity == 0;
    /* layer by layer over the block, so that one layer's tables stay in cache;
     * each token draws from its own stream, so the order does not matter */
    for (int32_t l = 0; l < g->L; l++) {
        if (!g->o.exact && (plain || (small && l == 0))) {
            fast_plain_block(g, l, n, r, topic, ids, weights, per);
            continue;
        }
        for (int32_t i = 0; i < n; i++) {
            mp_expert_id *tid = ids + i * per;
            const mp_expert_id *prev = l > 0 ? tid + (int64_t)(l - 1) * K : NULL;
            mp_expert_id *out = tid + (int64_t)l * K;
            float *w = weights ? weights + i * per + (int64_t)l * K : NULL;
            if (g->o.exact) exact_layer(g, l, topic[i], &r[i], prev, out, w, scratch);
            else fast_layer(g, l, topic[i], &r[i], prev, out, w, chosen);
        }
    }
}
