/* strategy_balanced.c - moeplace's balancer.
 *
 * Per layer (E experts, m GPUs x s slots):
 *  1. replica counts by D'Hondt, capped at m so that no GPU needs two copies;
 *  2. balanced largest differencing (Karmarkar-Karp with exactly s items
 *     per GPU), duplicates swapped away (EPLB-order greedy that skips GPUs
 *     holding the expert if that fails);
 *  3. exchange search: swap a replica of the heaviest GPU with a lighter one
 *     of another GPU (lightest first) while that lowers the pair's maximum
 *     (every swap lowers the sum of squared GPU loads, so it ends);
 *  4. joint replica counts (gap to the bound above 0.05%, at most 12 tries):
 *     an expert of the heaviest GPU gets one more replica, taken from the
 *     expert whose share grows least, or gives its slot there to the expert
 *     with the largest share; kept when the exchange search then ends with a
 *     lower maximum or fewer GPUs at it;
 *  5. on skewed layers (gap above 0.2%), steps 2-4 again from other counts:
 *     the fewest replicas keeping every share under the bound, at most one
 *     share above half the bound per GPU (two would share a GPU), the other
 *     slots making small shares finer; the better layout is kept;
 *  6. the same exchange search started from EPLB's global layout; the better
 *     of the two duplicate-free layouts is kept, so the result is never worse
 *     than eplb-global when EPLB's own layout is duplicate-free.
 * With --locality W > 0 and groups that split over nodes, a layout that
 * keeps each group on one node (EPLB's node packing, then steps 1-6 inside
 * every node) is used when its maximum is within W/(1-W) % of the free one
 * (always when W = 1).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "planner/mp__planner.h"

typedef struct state {
    int32_t m, s, E;
    int32_t nfixed; /* the last nfixed experts keep one replica */
    const double *w;
    const int32_t *ident;
    int32_t *slot; /* [m*s] expert per slot */
    int32_t *cnt;  /* [E]                   */
    double *gl;    /* [m]                   */
    double *sw;    /* [m*s] scratch         */
    double *minw;  /* [m] scratch           */
    int64_t work;  /* exchange-search steps spent on this layer */
} state;

static inline int32_t id_of(const state *st, int32_t e) { return st->ident ? st->ident[e] : e; }
static inline double rw(const state *st, int32_t e) { return st->w[e] / st->cnt[e]; }

static void loads(state *st)
{
    for (int32_t g = 0; g < st->m; g++) {
        double t = 0;
        for (int32_t i = 0; i < st->s; i++) t += rw(st, st->slot[g * st->s + i]);
        st->gl[g] = t;
    }
}

static int32_t heaviest(const state *st)
{
    int32_t h = 0;
    for (int32_t g = 1; g < st->m; g++)
        if (st->gl[g] > st->gl[h]) h = g;
    return h;
}

/* Does GPU g hold identity id in a slot other than `skip`? */
static int holds(const state *st, int32_t g, int32_t id, int32_t skip)
{
    for (int32_t i = g * st->s; i < (g + 1) * st->s; i++)
        if (i != skip && id_of(st, st->slot[i]) == id) return 1;
    return 0;
}

static int count_dups(const state *st)
{
    int n = 0;
    for (int32_t p = 0; p < st->m * st->s; p++)
        if (holds(st, p / st->s, id_of(st, st->slot[p]), p)) n++;
    return n;
}

/* ---- the tuning constants, named once ----
 * Work bound of the exchange searches of one layer (both layouts together
 * count each their own): a deterministic step count, not a clock.  None of
 * the benchmarked shapes reaches it. */
#define EXCHANGE_WORK_MAX ((int64_t)50000000)
/* The exchange search looks at this many of the lightest GPUs first: with
 * a sorted handful the first improving swap is nearly always among them, and
 * the full scan of the others runs only when none helps. */
#define EXCHANGE_LIGHTEST 8
/* A swap must lower the heaviest GPU's load by more than this fraction:
 * smaller "gains" are floating-point noise and would swap forever. */
#define SWAP_MIN_GAIN 1e-7
/* Swaps the first exchange search of a layout may make, per slot: enough
 * for every shape benchmarked to converge (bench/bench_plan.c). */
#define EXCHANGE_SWAPS_PER_SLOT 8
/* Swaps of the short exchange search after each joint move: 2 per GPU, at
 * most JOINT_EXCHANGE_MAX (a move is judged by where a short search gets). */
#define JOINT_EXCHANGE_MAX 128
/* Loads within this fraction of the maximum count as at the maximum. */
#define AT_MAX_TOL 1e-9
/* Relative rounding tolerance of comparisons of maxima and of the ceil()
 * of shares: a share equal to the bound up to rounding fits. */
#define ROUND_TOL 1e-12
/* Joint replica counts stop when the maximum is within this fraction of
 * the lower bound (0.05%: below it the moves buy nothing measurable) ... */
#define JOINT_GAP 5e-4
/* ... or after this many tried moves per layer (each costs an exchange
 * search; more rarely helped on the benchmarked shapes). */
#define JOINT_MOVES 12
/* Donor experts tried per joint move before giving up on the candidate. */
#define DONOR_TRIES 4
/* A layer is "skewed", and gets the second layout from other counts (step
 * 5), when its maximum is more than this fraction above the bound (0.2%). */
#define SKEWED_GAP 2e-3

/* Exchange search on the heaviest GPU; bounded by max_iter swaps.  Tries
 * the EXCHANGE_LIGHTEST lightest GPUs first (lightest first) and scans the
 * others only when they cannot help. */
static void exchange(state *st, int max_iter)
{
    int32_t m = st->m, s = st->s, R = m * s;
    double *sw = st->sw, *minw = st->minw;
    for (int32_t p = 0; p < R; p++) sw[p] = rw(st, st->slot[p]);
    for (int32_t g = 0; g < m; g++) {
        minw[g] = sw[g * s];
        for (int32_t i = 1; i < s; i++) minw[g] = sw[g * s + i] < minw[g] ? sw[g * s + i] : minw[g];
    }
    enum { K = EXCHANGE_LIGHTEST };
    for (int it = 0; it < max_iter && st->work < EXCHANGE_WORK_MAX; it++) {
        st->work += m;
        /* the heaviest GPU and the K lightest, ascending */
        int32_t h = 0, light[K], nl = 0;
        for (int32_t g = 0; g < m; g++) {
            if (st->gl[g] > st->gl[h]) h = g;
            int32_t j = nl < K ? nl++ : K;
            if (j == K && !(st->gl[g] < st->gl[light[K - 1]])) continue;
            if (j == K) j = K - 1;
            while (j > 0 && st->gl[light[j - 1]] > st->gl[g]) light[j] = light[j - 1], j--;
            light[j] = g;
        }
        double Lh = st->gl[h], best = Lh - Lh * SWAP_MIN_GAIN, maxa = 0;
        for (int32_t i = h * s; i < (h + 1) * s; i++) maxa = sw[i] > maxa ? sw[i] : maxa;
        int32_t ba = -1, bb = -1;
        /* the lightest GPUs first, then the others in order: the first GPU
         * that allows an improving swap gets its best one */
        for (int32_t k = 0; k < nl + m && ba < 0; k++) {
            int32_t o = k < nl ? light[k] : k - nl;
            if (k >= nl) {
                int seen = 0;
                for (int32_t j = 0; j < nl; j++) seen |= light[j] == o;
                if (seen) continue;
            }
            double Lo = st->gl[o], gap = Lh - Lo;
            if (o == h || gap <= 0 || minw[o] >= maxa || (Lh - gap / 2 >= best)) continue;
            st->work += s * s;
            for (int32_t ia = h * s; ia < (h + 1) * s; ia++) {
                double wa = sw[ia];
                for (int32_t ib = o * s; ib < (o + 1) * s; ib++) {
                    double d = wa - sw[ib];
                    if (d <= 0 || d >= gap) continue;
                    double nv = Lh - d > Lo + d ? Lh - d : Lo + d;
                    if (nv >= best) continue;
                    int32_t a = st->slot[ia], b = st->slot[ib];
                    if (id_of(st, a) == id_of(st, b)) continue;
                    if (holds(st, o, id_of(st, a), ib) || holds(st, h, id_of(st, b), ia)) continue;
                    best = nv, ba = ia, bb = ib;
                }
            }
        }
        if (ba < 0) return;
        int32_t t = st->slot[ba];
        st->slot[ba] = st->slot[bb];
        st->slot[bb] = t;
        double tw = sw[ba];
        sw[ba] = sw[bb];
        sw[bb] = tw;
        double sh = 0, so = 0;
        int32_t o = bb / s;
        for (int32_t i = 0; i < s; i++) sh += sw[h * s + i], so += sw[o * s + i];
        st->gl[h] = sh;
        st->gl[o] = so;
        minw[h] = sw[h * s], minw[o] = sw[o * s];
        for (int32_t i = 1; i < s; i++) {
            minw[h] = sw[h * s + i] < minw[h] ? sw[h * s + i] : minw[h];
            minw[o] = sw[o * s + i] < minw[o] ? sw[o * s + i] : minw[o];
        }
    }
}

/* Greedy packing of the replicas given by cnt. */
static int greedy(state *st)
{
    int32_t m = st->m, s = st->s, E = st->E, R = m * s;
    int32_t *item = malloc((size_t)R * sizeof *item), *idx = malloc((size_t)R * sizeof *idx);
    double *iw = malloc((size_t)R * sizeof *iw);
    int32_t *fill = calloc((size_t)m, sizeof *fill);
    if (!item || !idx || !iw || !fill) {
        free(item), free(idx), free(iw), free(fill);
        return MP_ENOMEM;
    }
    int32_t n = 0;
    for (int32_t e = 0; e < E; e++)
        for (int32_t c = 0; c < st->cnt[e]; c++) item[n] = e, iw[n] = rw(st, e), n++;
    int rc = mp__sort_desc(idx, n, iw);
    if (!rc) {
        for (int32_t g = 0; g < m; g++) st->gl[g] = 0;
        for (int32_t k = 0; k < n; k++) {
            int32_t e = item[idx[k]], best = -1, any = -1;
            for (int32_t g = 0; g < m; g++) {
                if (fill[g] >= s) continue;
                if (any < 0 || st->gl[g] < st->gl[any]) any = g;
                if ((best < 0 || st->gl[g] < st->gl[best]) && !holds(st, g, id_of(st, e), -1)) best = g;
            }
            if (best < 0) best = any;
            st->slot[best * s + fill[best]++] = e;
            st->gl[best] += iw[idx[k]];
        }
        loads(st);
    }
    free(item), free(idx), free(iw), free(fill);
    return rc;
}

/* ---- balanced largest differencing (BLDM) ----
 * The replicas, sorted by weight, are cut into s chunks of m; each chunk is
 * a partial partition (one replica per GPU).  The two partials with the
 * largest spread (max - min bin) are merged, the heaviest bin of one with
 * the lightest of the other, until one is left: Karmarkar-Karp with the
 * cardinality constraint built in. */
static int32_t uf_find(int32_t *par, int32_t x)
{
    while (par[x] != x) x = par[x] = par[par[x]];
    return x;
}

typedef struct bsort {
    double v;
    int32_t g;
} bsort;

static int bs_cmp_desc(const void *a, const void *b)
{
    const bsort *x = a, *y = b;
    if (x->v != y->v) return x->v > y->v ? -1 : 1;
    return (x->g > y->g) - (x->g < y->g);
}

static int bldm(state *st)
{
    int32_t m = st->m, s = st->s, E = st->E, R = m * s;
    int32_t *item = malloc((size_t)R * sizeof *item), *idx = malloc((size_t)R * sizeof *idx);
    double *iw = malloc((size_t)R * sizeof *iw), *sum = malloc((size_t)R * sizeof *sum);
    int32_t *gid = malloc((size_t)R * sizeof *gid), *par = malloc((size_t)R * sizeof *par);
    int32_t *alive = malloc((size_t)s * sizeof *alive), *fill = calloc((size_t)R, sizeof *fill);
    bsort *ta = malloc((size_t)m * sizeof *ta), *tb = malloc((size_t)m * sizeof *tb);
    int rc = MP_ENOMEM;
    if (!item || !idx || !iw || !sum || !gid || !par || !alive || !fill || !ta || !tb) goto out;
    int32_t n = 0;
    for (int32_t e = 0; e < E; e++)
        for (int32_t c = 0; c < st->cnt[e]; c++) item[n] = e, iw[n] = rw(st, e), n++;
    if ((rc = mp__sort_desc(idx, n, iw))) goto out;
    /* partial k: bins k*m .. k*m+m-1, bin j of chunk k holds sorted item k*m + j */
    for (int32_t i = 0; i < R; i++) sum[i] = iw[idx[i]], gid[i] = i, par[i] = i;
    for (int32_t k = 0; k < s; k++) alive[k] = 1;
    for (int32_t left = s; left > 1; left--) {
        int32_t a = -1, b = -1;
        double da = -1, db = -1;
        for (int32_t k = 0; k < s; k++) {
            if (!alive[k]) continue;
            double mx = sum[k * m], mn = sum[k * m];
            for (int32_t j = 1; j < m; j++) {
                double v = sum[k * m + j];
                if (v > mx) mx = v;
                if (v < mn) mn = v;
            }
            double d = mx - mn;
            /* the first two alive partials are taken whatever d is, so a and b
             * are always set (d is never NaN for valid input, but stay safe) */
            if (a < 0 || d > da) b = a, db = da, a = k, da = d;
            else if (b < 0 || d > db) b = k, db = d;
        }
        for (int32_t j = 0; j < m; j++) {
            ta[j].v = sum[a * m + j], ta[j].g = gid[a * m + j];
            tb[j].v = sum[b * m + j], tb[j].g = gid[b * m + j];
        }
        qsort(ta, (size_t)m, sizeof *ta, bs_cmp_desc); /* (v, g) is a total order */
        qsort(tb, (size_t)m, sizeof *tb, bs_cmp_desc);
        for (int32_t j = 0; j < m; j++) { /* heaviest of a with lightest of b */
            const bsort *x = &ta[j], *y = &tb[m - 1 - j];
            int32_t rx = uf_find(par, x->g), ry = uf_find(par, y->g);
            int32_t r = rx < ry ? rx : ry;
            par[rx] = r, par[ry] = r;
            sum[a * m + j] = x->v + y->v;
            gid[a * m + j] = r;
        }
        alive[b] = 0;
    }
    /* roots -> GPUs in order of first appearance */
    int32_t *gpu_of = fill; /* reuse: root -> gpu + 1 */
    int32_t next = 0, *cnt = calloc((size_t)m, sizeof *cnt);
    if (!cnt) goto out;
    for (int32_t i = 0; i < R; i++) {
        int32_t r = uf_find(par, i);
        if (!gpu_of[r]) gpu_of[r] = ++next;
        int32_t g = gpu_of[r] - 1;
        st->slot[g * s + cnt[g]++] = item[idx[i]];
    }
    free(cnt);
    loads(st);
    rc = 0;
out:
    free(item), free(idx), free(iw), free(sum), free(gid), free(par), free(alive), free(fill), free(ta), free(tb);
    return rc;
}

/* Removes duplicates by swapping with the closest-weight replica elsewhere
 * that creates none; returns the duplicates left. */
static int fix_dups(state *st)
{
    int32_t m = st->m, s = st->s, R = m * s;
    int left = 0;
    for (int32_t p = 0; p < R; p++) {
        int32_t g = p / s, x = st->slot[p];
        if (!holds(st, g, id_of(st, x), p)) continue;
        int32_t bq = -1;
        double bd = 0, wx = rw(st, x);
        for (int32_t q = 0; q < R; q++) {
            int32_t g2 = q / s, y = st->slot[q];
            if (g2 == g || holds(st, g2, id_of(st, x), q) || holds(st, g, id_of(st, y), p)) continue;
            double d = fabs(rw(st, y) - wx);
            if (bq < 0 || d < bd) bq = q, bd = d;
        }
        if (bq < 0) {
            left++;
            continue;
        }
        st->slot[p] = st->slot[bq];
        st->slot[bq] = x;
    }
    loads(st);
    return left;
}

/* GPUs within AT_MAX_TOL of the maximum M. */
static int32_t at_max(const state *st, double M)
{
    int32_t n = 0;
    for (int32_t g = 0; g < st->m; g++) n += st->gl[g] >= M * (1 - AT_MAX_TOL);
    return n;
}

/* Lower maximum, or the same maximum on fewer GPUs. */
static int better(const state *st, double M, int32_t nat)
{
    double mx = st->gl[heaviest(st)];
    if (mx < M * (1 - ROUND_TOL)) return 1;
    return mx <= M * (1 + ROUND_TOL) && at_max(st, M) < nat;
}

/* Step 4: move replicas between experts while that lowers the maximum (or
 * the number of GPUs at it). */
static int joint(state *st, double lb, int budget)
{
    int32_t m = st->m, s = st->s, E = st->E, R = m * s;
    int32_t *save_slot = malloc((size_t)R * sizeof *save_slot);
    int32_t *save_cnt = malloc((size_t)E * sizeof *save_cnt);
    double *save_gl = malloc((size_t)m * sizeof *save_gl);
    int32_t *cand = malloc((size_t)s * sizeof *cand);
    if (!save_slot || !save_cnt || !save_gl || !cand) {
        free(save_slot), free(save_cnt), free(save_gl), free(cand);
        return MP_ENOMEM;
    }
    while (budget > 0) {
        int32_t h = heaviest(st);
        double M = st->gl[h];
        if (M <= lb * (1 + JOINT_GAP)) break;
        int32_t nat = at_max(st, M);
        /* candidates: h's experts by replica weight, heaviest first */
        int32_t nc = 0;
        for (int32_t i = 0; i < s; i++) {
            int32_t e = st->slot[h * s + i], dup = 0;
            for (int32_t j = 0; j < nc; j++) dup |= cand[j] == e;
            if (dup || st->cnt[e] >= m || e >= E - st->nfixed) continue;
            int32_t j = nc++;
            while (j > 0 && (rw(st, cand[j - 1]) < rw(st, e) || (rw(st, cand[j - 1]) == rw(st, e) && cand[j - 1] > e))) {
                cand[j] = cand[j - 1];
                j--;
            }
            cand[j] = e;
        }
        int improved = 0;
        for (int32_t c = 0; c < nc && budget > 0 && !improved; c++, budget--) {
            int32_t x = cand[c];
            /* donor: the expert whose replica weight grows least, with a slot on a GPU without x */
            int32_t y = -1, yp = -1;
            double floor_w = -1;
            int32_t floor_e = -1;
            for (int tries = 0; tries < DONOR_TRIES && yp < 0; tries++) {
                y = -1;
                double yw = 0;
                for (int32_t e = 0; e < E; e++) {
                    if (e == x || st->cnt[e] < 2) continue;
                    double nw = st->w[e] / (st->cnt[e] - 1);
                    if (nw < floor_w || (nw == floor_w && e <= floor_e)) continue; /* tried already */
                    if (y >= 0 && (nw > yw || (nw == yw && e > y))) continue;
                    y = e, yw = nw;
                }
                if (y < 0 || yw >= M) {
                    y = -1;
                    break;
                }
                for (int32_t p = 0; p < R; p++)
                    if (st->slot[p] == y && !holds(st, p / s, id_of(st, x), p) &&
                        (yp < 0 || st->gl[p / s] < st->gl[yp / s]))
                        yp = p;
                floor_w = yw, floor_e = y;
            }
            if (yp < 0) y = -1;
            if (y < 0) continue;
            memcpy(save_slot, st->slot, (size_t)R * sizeof *save_slot);
            memcpy(save_cnt, st->cnt, (size_t)E * sizeof *save_cnt);
            memcpy(save_gl, st->gl, (size_t)m * sizeof *save_gl);
            st->slot[yp] = x;
            st->cnt[x]++;
            st->cnt[y]--;
            loads(st);
            exchange(st, 2 * m < JOINT_EXCHANGE_MAX ? 2 * m : JOINT_EXCHANGE_MAX);
            if (better(st, M, nat)) {
                improved = 1;
            } else {
                memcpy(st->slot, save_slot, (size_t)R * sizeof *save_slot);
                memcpy(st->cnt, save_cnt, (size_t)E * sizeof *save_cnt);
                memcpy(st->gl, save_gl, (size_t)m * sizeof *save_gl);
            }
        }
        /* remove moves: an expert of h loses its replica there; the slot goes to
         * the expert with the largest share that h does not hold */
        for (int32_t i = 0; i < s && budget > 0 && !improved; i++, budget--) {
            int32_t p = h * s + i, x = st->slot[p];
            if (st->cnt[x] < 2) continue;
            int32_t y = -1;
            for (int32_t e = 0; e < E; e++) {
                if (e == x || st->cnt[e] >= m || e >= E - st->nfixed || holds(st, h, id_of(st, e), p)) continue;
                if (y < 0 || rw(st, e) > rw(st, y)) y = e;
            }
            if (y < 0 || rw(st, y) <= st->w[y] / (st->cnt[y] + 1) + 0) continue;
            memcpy(save_slot, st->slot, (size_t)R * sizeof *save_slot);
            memcpy(save_cnt, st->cnt, (size_t)E * sizeof *save_cnt);
            memcpy(save_gl, st->gl, (size_t)m * sizeof *save_gl);
            st->slot[p] = y;
            st->cnt[x]--;
            st->cnt[y]++;
            loads(st);
            exchange(st, 2 * m < JOINT_EXCHANGE_MAX ? 2 * m : JOINT_EXCHANGE_MAX);
            if (better(st, M, nat)) {
                improved = 1;
            } else {
                memcpy(st->slot, save_slot, (size_t)R * sizeof *save_slot);
                memcpy(st->cnt, save_cnt, (size_t)E * sizeof *save_cnt);
                memcpy(st->gl, save_gl, (size_t)m * sizeof *save_gl);
            }
        }
        if (!improved) break;
    }
    free(save_slot), free(save_cnt), free(save_gl), free(cand);
    return 0;
}

/* Alternative counts for skewed layers: the fewest replicas that keep every
 * share <= T (the lower bound), at most one "big" share (> T/2) per GPU
 * (more would put two on one GPU), and the slots left over spent on making
 * the small shares finer.  Returns 1 when it produced counts. */
static int few_big_counts(state *st, double T)
{
    int32_t m = st->m, E = st->E, R = m * st->s;
    int64_t used = 0, big = 0;
    for (int32_t e = 0; e < E; e++) {
        /* in double first: with T tiny (denormal loads) the quotient may be inf */
        double cd = st->w[e] > 0 ? ceil(st->w[e] / T * (1 - ROUND_TOL)) : 1;
        if (!(cd <= m)) return 0;
        int32_t c = cd < 1 ? 1 : (int32_t)cd;
        st->cnt[e] = c;
        used += c;
        if (rw(st, e) > T / 2) big += c;
    }
    if (used > R) return 0;
    /* too many bigs: turn the cheapest big experts into small ones */
    while (big > m) {
        int32_t best = -1, bc = 0;
        for (int32_t e = 0; e < E; e++) {
            if (rw(st, e) <= T / 2) continue;
            double cd = ceil(st->w[e] / (T / 2) * (1 - ROUND_TOL));
            if (!(cd <= m)) continue;
            int32_t c = (int32_t)cd;
            if (best < 0 || c - st->cnt[e] < bc - st->cnt[best]) best = e, bc = c;
        }
        if (best < 0 || used + bc - st->cnt[best] > R) return 0;
        used += bc - st->cnt[best];
        big -= st->cnt[best];
        st->cnt[best] = bc;
    }
    /* the rest to the largest small share */
    for (; used < R; used++) {
        int32_t best = -1;
        for (int32_t e = 0; e < E; e++) {
            if (st->cnt[e] >= m || rw(st, e) > T / 2) continue;
            if (best < 0 || rw(st, e) > rw(st, best)) best = e;
        }
        if (best < 0) return 0;
        st->cnt[best]++;
    }
    return 1;
}

static void emit(const state *st, int32_t *row)
{
    for (int32_t g = 0; g < st->m; g++) {
        int32_t *r = row + g * st->s;
        memcpy(r, st->slot + g * st->s, (size_t)st->s * sizeof *r);
        for (int32_t i = 1; i < st->s; i++) { /* ascending ids inside a GPU */
            int32_t v = r[i], j = i;
            while (j > 0 && r[j - 1] > v) r[j] = r[j - 1], j--;
            r[j] = v;
        }
    }
}

int mp__balance_layer(const double *w, const int32_t *ident, int32_t E, int32_t m, int32_t s, int32_t nfixed,
                      int32_t *row)
{
    int32_t R = m * s;
    state a = {m, s, E, nfixed, w, ident, NULL, NULL, NULL, NULL, NULL, 0}, b = a;
    a.slot = malloc((size_t)R * sizeof *a.slot), b.slot = malloc((size_t)R * sizeof *b.slot);
    a.cnt = malloc((size_t)E * sizeof *a.cnt), b.cnt = calloc((size_t)E, sizeof *b.cnt);
    a.gl = malloc((size_t)m * sizeof *a.gl), b.gl = malloc((size_t)m * sizeof *b.gl);
    a.sw = malloc((size_t)R * sizeof *a.sw), b.sw = malloc((size_t)R * sizeof *b.sw);
    a.minw = malloc((size_t)m * sizeof *a.minw), b.minw = malloc((size_t)m * sizeof *b.minw);
    int rc = MP_ENOMEM;
    if (!a.slot || !b.slot || !a.cnt || !b.cnt || !a.gl || !b.gl || !a.sw || !b.sw || !a.minw || !b.minw) goto out;
    double W = 0, top = 0;
    for (int32_t e = 0; e < E; e++) W += w[e];
    if ((rc = mp__dhondt_fixed(w, E, R, m, nfixed, a.cnt, NULL))) goto out;
    for (int32_t e = 0; e < E; e++)
        if (w[e] / a.cnt[e] > top) top = w[e] / a.cnt[e];
    double lb = W / m > top ? W / m : top;
    if ((rc = bldm(&a))) goto out;
    if (fix_dups(&a) > 0 && (rc = greedy(&a))) goto out;
    exchange(&a, EXCHANGE_SWAPS_PER_SLOT * R);
    if ((rc = joint(&a, lb, JOINT_MOVES))) goto out;
    if (!ident && a.gl[heaviest(&a)] > lb * (1 + SKEWED_GAP) && few_big_counts(&b, lb)) {
        if ((rc = bldm(&b))) goto out;
        if (fix_dups(&b) == 0) {
            exchange(&b, EXCHANGE_SWAPS_PER_SLOT * R);
            if ((rc = joint(&b, lb, JOINT_MOVES))) goto out;
            if (b.gl[heaviest(&b)] < a.gl[heaviest(&a)]) {
                memcpy(a.slot, b.slot, (size_t)R * sizeof *a.slot);
                memcpy(a.cnt, b.cnt, (size_t)E * sizeof *a.cnt);
                loads(&a);
            }
        }
    }
    /* EPLB's global layout, improved by the same exchange search */
    if ((rc = mp__eplb_layer(w, E, R, 1, 1, m, nfixed, b.slot))) goto out;
    memset(b.cnt, 0, (size_t)E * sizeof *b.cnt);
    for (int32_t p = 0; p < R; p++) b.cnt[b.slot[p]]++;
    loads(&b);
    if (count_dups(&b) == 0 && (count_dups(&a) > 0 || b.gl[heaviest(&b)] < a.gl[heaviest(&a)])) {
        exchange(&b, EXCHANGE_SWAPS_PER_SLOT * R);
        int da = count_dups(&a);
        if (da > 0 || b.gl[heaviest(&b)] < a.gl[heaviest(&a)]) {
            emit(&b, row);
            goto done;
        }
    }
    emit(&a, row);
done:
    rc = 0;
out:
    free(a.slot), free(b.slot), free(a.cnt), free(b.cnt), free(a.gl), free(b.gl), free(a.sw), free(b.sw), free(a.minw), free(b.minw);
    return rc;
}

static int balance_all(const mp_strategy_input *in, int32_t *phy2log, mp_err *err)
{
    int32_t E = in->experts, P = in->topo.gpus, S = in->topo.slots_per_gpu, R = P * S;
    for (int32_t l = 0; l < in->layers; l++) {
        int rc = mp__balance_layer(in->load + (int64_t)l * E, in->ident, E, P, S, in->fixed, phy2log + (int64_t)l * R);
        if (rc) return mp_err_set(err, rc, "balanced: layer %d: %s", l, mp_strerror(rc));
    }
    return 0;
}

/* Groups confined to nodes: EPLB's node packing, then balance inside each node. */
static int confined_layer(const double *w, const int32_t *ident, int32_t E, int32_t G, int32_t N, int32_t P,
                          int32_t S, int32_t *row)
{
    int32_t gs = E / G, gpn = G / N, EN = E / N, PN = P / N, RN = PN * S;
    double *gw = calloc((size_t)G, sizeof *gw), *lw = malloc((size_t)EN * sizeof *lw);
    int32_t *gp = malloc((size_t)G * sizeof *gp), *gr = malloc((size_t)G * sizeof *gr);
    int32_t *m2l = malloc((size_t)E * sizeof *m2l), *lid = malloc((size_t)EN * sizeof *lid);
    int rc = MP_ENOMEM;
    if (!gw || !lw || !gp || !gr || !m2l || !lid) goto out;
    for (int32_t g = 0; g < G; g++)
        for (int32_t j = 0; j < gs; j++) gw[g] += w[g * gs + j];
    if ((rc = mp_eplb_pack(gw, G, N, gp, gr))) goto out;
    for (int32_t g = 0; g < G; g++)
        for (int32_t j = 0; j < gs; j++) m2l[(gp[g] * gpn + gr[g]) * gs + j] = g * gs + j;
    for (int32_t n = 0; n < N; n++) {
        for (int32_t i = 0; i < EN; i++) {
            lw[i] = w[m2l[n * EN + i]];
            lid[i] = ident ? ident[m2l[n * EN + i]] : m2l[n * EN + i];
        }
        int32_t *r = row + n * RN;
        if ((rc = mp__balance_layer(lw, ident ? lid : NULL, EN, PN, S, 0, r))) goto out;
        for (int32_t p = 0; p < RN; p++) r[p] = m2l[n * EN + r[p]];
    }
    rc = 0;
out:
    free(gw), free(lw), free(gp), free(gr), free(m2l), free(lid);
    return rc;
}

int mp__strategy_balanced(const mp_strategy_input *in, int32_t *phy2log, mp_err *err)
{
    int rc = mp_strategy_input_check(in, 1, "balanced", err);
    if (rc) return rc;
    int32_t E = in->experts, P = in->topo.gpus, S = in->topo.slots_per_gpu, R = P * S, N = in->topo.nodes;
    int32_t G = in->groups > 0 ? in->groups : 1;
    rc = balance_all(in, phy2log, err);
    if (rc || in->locality <= 0 || N < 2 || G % N != 0 || E % G != 0) return rc;
    /* locality W: the confined layout may be W/(1-W) percent (0.01 x) worse */
    double tol = in->locality >= 1 ? INFINITY : 0.01 * in->locality / (1 - in->locality);
    int32_t *row = malloc((size_t)R * sizeof *row), *cnt = malloc((size_t)E * sizeof *cnt);
    double *gpu = malloc((size_t)P * sizeof *gpu);
    if (!row || !cnt || !gpu) {
        free(row), free(cnt), free(gpu);
        return mp_err_set(err, MP_ENOMEM, "balanced: out of memory");
    }
    for (int32_t l = 0; l < in->layers && !rc; l++) {
        const double *w = in->load + (int64_t)l * E;
        int32_t *cur = phy2log + (int64_t)l * R;
        if ((rc = confined_layer(w, in->ident, E, G, N, P, S, row))) {
            rc = mp_err_set(err, rc, "balanced: layer %d: %s", l, mp_strerror(rc));
            break;
        }
        double mc = mp_layer_max_load(row, R, S, w, E, cnt, gpu);
        double mf = mp_layer_max_load(cur, R, S, w, E, cnt, gpu);
        if (mc <= mf * (1 + tol)) memcpy(cur, row, (size_t)R * sizeof *row);
    }
    free(row), free(cnt), free(gpu);
    return rc;
}
