/* gen_profile.c - the popularity of experts: skew profiles over a random
 * per-layer order, group factors, topic tilts, drift and shift, and the
 * alias tables the fast sampler draws from. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "traces/gen/mp__gen.h"

/* Descending total order on (value, then lower index first). */
typedef struct {
    double v;
    int32_t i;
} vi;
static int vi_desc(const void *a, const void *b)
{
    const vi *x = a, *y = b;
    if (x->v > y->v) return -1;
    if (x->v < y->v) return 1;
    return (x->i > y->i) - (x->i < y->i);
}
static int dbl_desc(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x < y) - (x > y);
}

/* Log-weights by popularity rank (descending) of one layer: lv[E]. */
static void profile_values(const mp_gen *g, mp_rng *r, double *lv)
{
    int32_t E = g->E;
    double ek = (double)E / g->K; /* experts per choice: how much top-k flattens */
    switch (g->o.skew.kind) {
    case MP_SKEW_UNIFORM:
        for (int32_t i = 0; i < E; i++) lv[i] = 0;
        break;
    case MP_SKEW_ZIPF:
        for (int32_t i = 0; i < E; i++) lv[i] = -g->o.skew.param * log((double)i + 1);
        break;
    case MP_SKEW_LOGNORMAL:
        for (int32_t i = 0; i < E; i++) lv[i] = g->o.skew.param * mp_rng_normal(r);
        break;
    case MP_SKEW_CHAT:
    case MP_SKEW_MIXED: {
        /* lognormal with a per-layer sigma: Qwen2-57B chat (sigma ~0.3) and
         * ESFT-lite tasks (~0.6-0.9); calibrated on the realised loads */
        double base = g->o.skew.kind == MP_SKEW_CHAT ? 0.28 : 0.70;
        double spread = g->o.skew.kind == MP_SKEW_CHAT ? 0.30 : 0.15;
        double sigma = base * exp(spread * mp_rng_normal(r));
        for (int32_t i = 0; i < E; i++) lv[i] = sigma * mp_rng_normal(r);
        break;
    }
    case MP_SKEW_NARROW: {
        /* a flat head of similarly hot experts, a long left-skewed tail of
         * log-loads, and a few dead experts (Qwen3 prover prompts) */
        double c = 1.4 - 0.4 * log2(ek / 16.0);
        if (c < 0.5) c = 0.5;
        if (c > 2.5) c = 2.5;
        double h = c + mp_rng_double(r);
        double dfrac = 0.008 + 0.02 * mp_rng_double(r);
        double hfrac = 0.03 + 0.02 * mp_rng_double(r);
        int32_t nd = (int32_t)floor(E * dfrac + 0.5);
        int32_t nh = (int32_t)floor(E * hfrac + 0.5);
        if (nh < 2) nh = 2;
        if (nd > E - g->K * g->G) nd = E - g->K * g->G; /* every group keeps K live experts */
        if (nd < 0) nd = 0;
        if (nh > E - nd) nh = E - nd;
        for (int32_t i = 0; i < E; i++) {
            if (i < nh) lv[i] = h + log(0.75 + 0.25 * mp_rng_double(r));
            else lv[i] = -3.0 * fabs(mp_rng_normal(r));
        }
        qsort(lv, (size_t)E, sizeof *lv, dbl_desc);
        for (int32_t i = E - nd; i < E; i++) lv[i] = -INFINITY;
        break;
    }
    }
}

int mp__gen_profile(mp_gen *g, mp_err *err)
{
    (void)err;
    int32_t E = g->E;
    double *lv = malloc(sizeof(double) * (size_t)E);
    int32_t *perm = malloc(sizeof(int32_t) * (size_t)E);
    double *gf = malloc(sizeof(double) * (size_t)g->G);
    if (!lv || !perm || !gf) {
        free(lv);
        free(perm);
        free(gf);
        return mp_err_set(err, MP_ENOMEM, "gen: out of memory");
    }
    for (int32_t l = 0; l < g->L; l++) {
        mp_rng r = mp_rng_stream(g->o.seed, MP__RNG_ORDER, (uint64_t)l, 0);
        profile_values(g, &r, lv);
        for (int32_t i = 0; i < E; i++) perm[i] = i;
        mp_rng_shuffle(&r, perm, E);
        double *row = g->logw + (int64_t)l * E;
        for (int32_t i = 0; i < E; i++) row[perm[i]] = lv[i];
        if (g->o.group_skew > 0 && g->G > 1) {
            mp_rng rg = mp_rng_stream(g->o.seed, MP__RNG_GROUP, (uint64_t)l, 0);
            for (int32_t k = 0; k < g->G; k++) gf[k] = g->o.group_skew * mp_rng_normal(&rg);
            for (int32_t e = 0; e < E; e++) row[e] += gf[e / g->gsize];
        }
        /* topic tilts */
        for (int32_t t = 0; t < g->T; t++) {
            double *tl = g->tilt + ((int64_t)l * g->T + t) * E;
            if (g->T == 1) {
                memset(tl, 0, sizeof(double) * (size_t)E);
                continue;
            }
            mp_rng rt = mp_rng_stream(g->o.seed, MP__RNG_TOPIC, (uint64_t)l, (uint64_t)t);
            for (int32_t e = 0; e < E; e++) tl[e] = g->o.topic_strength * mp_rng_normal(&rt);
        }
        /* successor map from layer l to l + 1: a random permutation that
         * keeps groups together (groups permuted, experts permuted inside),
         * so that a token's successors fit in topk_group groups */
        int32_t *sc = g->succ + (int64_t)l * E;
        mp_rng rs = mp_rng_stream(g->o.seed, MP__RNG_SUCC, (uint64_t)l, 0);
        for (int32_t i = 0; i < g->G; i++) perm[i] = i;
        mp_rng_shuffle(&rs, perm, g->G);
        for (int32_t k = 0; k < g->G; k++) {
            int32_t *blk = sc + k * g->gsize;
            for (int32_t i = 0; i < g->gsize; i++) blk[i] = perm[k] * g->gsize + i;
            mp_rng_shuffle(&rs, blk, g->gsize);
        }
    }
    free(lv);
    free(perm);
    free(gf);
    g->cur_step = 0;
    g->tables_valid = 0;
    return 0;
}

/* A change of workload: experts re-ranked by their old rank score plus
 * uniform noise 1.7 times as wide (Spearman ~0.5 between old and new
 * order); the old values are handed out in the new order. */
static void shift_layer(mp_gen *g, int32_t l, vi *tmp, double *vals)
{
    int32_t E = g->E;
    double *row = g->logw + (int64_t)l * E;
    for (int32_t e = 0; e < E; e++) {
        tmp[e].v = row[e];
        tmp[e].i = e;
    }
    qsort(tmp, (size_t)E, sizeof *tmp, vi_desc);
    for (int32_t r = 0; r < E; r++) vals[r] = tmp[r].v;
    mp_rng rr = mp_rng_stream(g->o.seed, MP__RNG_SHIFT, (uint64_t)l, 0);
    for (int32_t r = 0; r < E; r++) tmp[r].v = 1.0 - (r + 0.5) / E + 1.7 * mp_rng_double(&rr);
    qsort(tmp, (size_t)E, sizeof *tmp, vi_desc);
    for (int32_t r = 0; r < E; r++) row[tmp[r].i] = vals[r];
}

void mp__gen_advance(mp_gen *g, int64_t s)
{
    int32_t E = g->E;
    if (s == g->o.shift_at) {
        vi *tmp = malloc(sizeof(vi) * (size_t)E);
        double *vals = malloc(sizeof(double) * (size_t)E);
        if (tmp && vals)
            for (int32_t l = 0; l < g->L; l++) shift_layer(g, l, tmp, vals);
        free(tmp);
        free(vals);
        g->tables_valid = 0;
    }
    if (g->o.drift > 0) {
        for (int32_t l = 0; l < g->L; l++) {
            mp_rng r = mp_rng_stream(g->o.seed, MP__RNG_DRIFT, (uint64_t)s, (uint64_t)l);
            double *row = g->logw + (int64_t)l * E;
            for (int32_t e = 0; e < E; e++) {
                double d = g->o.drift * mp_rng_normal(&r);
                if (isfinite(row[e])) row[e] += d;
            }
        }
        g->tables_valid = 0;
    }
    g->cur_step = s;
}

/* Vose's alias method over weights p[E] (sum > 0): thresholds scaled to 2^32. */
static void alias_build(const double *p, int32_t E, uint32_t *prob, uint16_t *idx, double *q, int32_t *small,
                        int32_t *large)
{
    double sum = 0;
    for (int32_t e = 0; e < E; e++) sum += p[e];
    if (!(sum > 0)) { /* nothing to draw (a dead group): never consulted */
        for (int32_t e = 0; e < E; e++) {
            prob[e] = 0;
            idx[e] = (uint16_t)e;
        }
        return;
    }
    int32_t ns = 0, nl = 0;
    for (int32_t e = 0; e < E; e++) {
        q[e] = p[e] / sum * E;
        if (q[e] < 1.0) small[ns++] = e;
        else large[nl++] = e;
    }
    while (ns > 0 && nl > 0) {
        int32_t s = small[--ns], b = large[nl - 1];
        prob[s] = (uint32_t)(q[s] * 4294967296.0);
        idx[s] = (uint16_t)b;
        q[b] = (q[b] + q[s]) - 1.0;
        if (q[b] < 1.0) {
            nl--;
            small[ns++] = b;
        }
    }
    while (nl > 0) {
        int32_t b = large[--nl];
        prob[b] = UINT32_MAX;
        idx[b] = (uint16_t)b;
    }
    while (ns > 0) { /* rounding leftovers */
        int32_t s = small[--ns];
        prob[s] = UINT32_MAX;
        idx[s] = (uint16_t)s;
    }
    /* a zero weight is never drawn, not even through the 2^-32 gap of a full threshold */
    for (int32_t e = 0; e < E; e++)
        if (p[e] <= 0 && prob[e] != 0) prob[e] = 0;
}

void mp__gen_tables(mp_gen *g)
{
    if (g->tables_valid) return;
    int32_t E = g->E;
    double *q = malloc(sizeof(double) * (size_t)E);
    int32_t *sm = malloc(sizeof(int32_t) * (size_t)E * 2);
    if (!q || !sm) { /* cannot happen after create reserved the same; keep tables as they are */
        free(q);
        free(sm);
        return;
    }
    for (int32_t l = 0; l < g->L; l++) {
        const double *row = g->logw + (int64_t)l * E;
        double mx = -INFINITY;
        for (int32_t e = 0; e < E; e++)
            if (row[e] > mx) mx = row[e];
        for (int32_t t = 0; t < g->T; t++) {
            int64_t off = ((int64_t)l * g->T + t) * E;
            const double *tl = g->tilt + off;
            double *sh = g->share + off, *ls = g->logshare + off, sum = 0;
            double tmx = -INFINITY;
            for (int32_t e = 0; e < E; e++)
                if (isfinite(row[e]) && row[e] + tl[e] > tmx) tmx = row[e] + tl[e];
            (void)mx;
            for (int32_t e = 0; e < E; e++) {
                sh[e] = isfinite(row[e]) ? exp(row[e] + tl[e] - tmx) : 0.0;
                sum += sh[e];
            }
            double *wb = g->wbase + off;
            int sig = g->o.model.scoring == MP_SCORING_SIGMOID;
            for (int32_t e = 0; e < E; e++) {
                sh[e] /= sum;
                ls[e] = sh[e] > 0 ? log(sh[e]) : -INFINITY;
                double a = sh[e] * E;
                wb[e] = sig ? a / (1.0 + a) : sh[e];
            }
            alias_build(sh, E, g->aprob + off, g->aidx + off, q, sm, sm + E);
            double *gm = g->gmass + ((int64_t)l * g->T + t) * g->G;
            for (int32_t k = 0; k < g->G; k++) {
                int32_t b = k * g->gsize;
                gm[k] = 0;
                for (int32_t i = 0; i < g->gsize; i++) gm[k] += sh[b + i];
                alias_build(sh + b, g->gsize, g->gprob + off + b, g->gidx + off + b, q, sm, sm + E);
            }
            /* packed copies for fast_plain (groups fit 8 bits there: G <= 64) */
            for (int32_t e = 0; e < E; e++) {
                uint32_t t = g->aidx[off + e];
                g->atab[off + e] = (uint64_t)g->aprob[off + e] | (uint64_t)t << 32 |
                                   (uint64_t)(g->group_of[e] & 0xff) << 48 | (uint64_t)(g->group_of[t] & 0xff) << 56;
                g->gtab[off + e] = g->gprob[off + e] >> 16 | (uint32_t)g->gidx[off + e] << 16;
            }
        }
    }
    free(q);
    free(sm);
    g->tables_valid = 1;
}
