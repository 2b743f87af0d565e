/* sim.c - the CPU replay engine: pieces through a plan, per-layer integer
 * accumulators, per-step figures merged in layer order. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/mp_sim.h"

#define CHUNK 256            /* tokens gathered at a time per layer          */
#if defined(__GNUC__)
#define ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define ALWAYS_INLINE inline
#endif
#define VC_PLANES 8           /* bit planes of the (source, destination) counters */
#define VC_MAX 255            /* counts they hold before a flush             */
#define TRAFFIC_GPUS_MAX 1024 /* GPU-to-GPU matrix kept up to this many GPUs  */

/* Integer accumulators of one layer for the current step. */
typedef struct layer_acc {
    int64_t *slot_rows;   /* [R]  */
    int64_t *expert_rows; /* [E'] */
    int64_t *gpu_rows, *gpu_tokens, *gpu_stamp, *send_nvl, *send_net, *recv_nvl, *recv_net, *shared_rows,
        *state;           /* [P] each */
    int64_t *node_tokens, *node_stamp; /* [N] */
    int64_t *tmat, *nmat; /* P <= 64: distinct tokens [src GPU][dst GPU] and [src GPU][dst node] */
    int32_t *touched;     /* [R] slots given rows this step, in first-use order */
    int32_t ntouched;
    uint64_t src_seen;    /* P <= 64: source GPUs seen this step (rows of tmat/nmat in use) */
    uint64_t *dmask;      /* P <= 64: [P] destination GPUs each source reached this step */
    uint64_t *vc;         /* P <= 64: [P][VC_PLANES] tokens per (source, destination) not yet in tmat, as bit planes */
    int32_t *vcn;         /* P <= 64: [P] tokens added to vc per source since its last flush */
    int64_t *block;
    size_t block_len;
    int64_t *batch;       /* the policy's per-(step, layer) scratch, or NULL */
} layer_acc;

/* Figures of one layer for one step. */
typedef struct layer_fig {
    double w, max, mean, maxmean, sglang, trt, idle, gap_rep, tok_maxmean, active_max, nvl, net, expert_us,
        comm_us, time_us;
} layer_fig;

/* Per-thread scratch and run totals. */
typedef struct worker {
    int32_t *experts, *src, *slots;
    int32_t *lexp;        /* [L][LEXP_STRIDE]: a chunk's experts, layer by layer */
    int64_t *traffic;     /* [P][P] or NULL */
    int64_t *gpu_rows;    /* [P] */
    int64_t *node_tokens; /* [N] */
    double *gpu_us;       /* [P] scratch when P > 64 */
    int32_t *hexp;        /* [E'] LB_rep: experts with rows, as a heap */
    int64_t *hcnt;        /* [E'] their replica counts in D'Hondt's apportionment */
    int32_t *gpu_active;  /* [P] scratch when P > 64 */
    int64_t *erows;       /* [E'] assignments per expert of the batch, for the policy's prepare */
    layer_acc own;        /* one layer's accumulators, for steps played layer by layer */
    int bad_id;
    int64_t bad_token;
    int32_t bad_layer;
} worker;

struct mp_sim {
    const mp_plan *plan;
    mp_model model;
    mp_sim_opts o;
    const mp_policy *pol;
    int32_t *cache;    /* [L][cache_words] the policy's tables, or NULL */
    int64_t cache_words, batch_words;
    mp_step gather;    /* a step in several pieces, gathered for a whole_batch policy (own buffers) */
    int64_t gather_cap; /* tokens gather's buffers hold */
    int32_t L, K, kk, E, P, N, R, gpn, nthreads;
    int fused;
    int32_t *slot_gpu; /* [R] */
    int32_t *gpu_node, *gpu_local; /* [P]: g / gpn and g % gpn */
    uint64_t node_mask[64], local_mask[64]; /* P <= 64: GPUs of node n; GPUs of local index i */
    double c_mem_us, c_us_per_row, token_bytes, nvl_us_per_token, net_us_per_token; /* cost figures in force */
    layer_acc *acc;    /* [L] */
    layer_fig *fig;    /* [L] figures of the step being closed */
    worker *wk;        /* [nthreads] */
    /* step bookkeeping */
    int64_t cur_step, last_step, step_tokens;
    int in_step;
    /* current job */
    const mp_step *piece;
    int closing;
    int whole;         /* the piece is a whole step (its first and last) */
    int starts;        /* the piece is its step's first */
    /* run totals */
    mp_sim_layerm *layer_sum; /* [L] sums over steps */
    mp_sim_stepm *series;
    int64_t nseries, cap_series;
    int64_t tokens, assignments;
    double sum_mean_all, sum_max_all;
    int64_t *run_rows; /* [L][P] rows over the run */
    /* pool */
    pthread_t *th;
    pthread_mutex_t mu;
    pthread_cond_t go, done;
    int64_t gen;
    int pending, quit, pool_up;
};

mp_sim_opts mp_sim_opts_default(void)
{
    mp_sim_opts o;
    memset(&o, 0, sizeof o);
    o.policy = NULL; /* mp_policy_default() */
    o.seed = 1;
    o.threads = 1;
    o.cost = mp_cost_default();
    return o;
}

/* ---------- per-layer work ---------- */


/* Moves source src's bit-plane counts (a->vc) into its row of a->tmat. */
static void vc_flush(layer_acc *a, int32_t src, int32_t P)
{
    uint64_t *vc = a->vc + (int64_t)src * VC_PLANES, any = 0;
    int64_t *trow = a->tmat + (int64_t)src * P;
    for (int32_t b = 0; b < VC_PLANES; b++) any |= vc[b];
    while (any) {
        int32_t g = __builtin_ctzll(any);
        any &= any - 1;
        int64_t c = 0;
        for (int32_t b = 0; b < VC_PLANES; b++) c |= (int64_t)((vc[b] >> g) & 1) << b;
        trow[g] += c;
    }
    memset(vc, 0, VC_PLANES * sizeof *vc);
    a->vcn[src] = 0;
}

/* Orders a token's K experts by descending gate weight, stable (insertion
 * sort), for a policy that sees them in gate order. */
static inline void gate_sort(int32_t *e, const float *wt, int32_t K)
{
    float ws[64];
    for (int32_t k = 0; k < K && k < 64; k++) ws[k] = wt[k];
    for (int32_t k = 1; k < K && k < 64; k++)
        for (int32_t j = k; j > 0 && ws[j - 1] < ws[j]; j--) {
            float tw = ws[j];
            ws[j] = ws[j - 1], ws[j - 1] = tw;
            int32_t te = e[j];
            e[j] = e[j - 1], e[j - 1] = te;
        }
}

/* Logical experts of tokens [c0, c0 + n) of the piece at layer l into
 * ex[n][kk] (the fused shared expert last); an id >= E is recorded (the first
 * one a worker meets) and played as expert 0. */
static void gather_layer(const mp_sim *s, worker *w, const mp_step *pc, int64_t c0, int64_t n, int32_t l, int32_t *ex)
{
    const int32_t K = s->K, kk = s->kk, L = s->L;
    const uint32_t E = (uint32_t)s->E;
    const int gate = s->pol->gate_order && pc->weights;
    for (int64_t i = 0; i < n; i++) {
        const mp_expert_id *id = pc->ids + ((c0 + i) * L + l) * K;
        int32_t *e = ex + i * kk;
        uint32_t bad = 0;
        for (int32_t k = 0; k < K; k++) {
            e[k] = id[k];
            bad |= id[k] >= E;
        }
        if (bad) /* rare: find and neutralise the bad ids */
            for (int32_t k = 0; k < K; k++)
                if (id[k] >= E) {
                    if (!w->bad_id) {
                        w->bad_id = 1;
                        w->bad_token = pc->first_token + c0 + i;
                        w->bad_layer = l;
                    }
                    e[k] = 0;
                }
        if (gate && K > 1) gate_sort(e, pc->weights + ((c0 + i) * L + l) * K, K); /* descending gate weight */
        if (s->fused) e[K] = s->plan->shared_id;
    }
}

/* Layer stride of worker.lexp: a chunk's experts plus 16 ints, so that the
 * layers' rows do not all fall in one cache set. */
#define LEXP_STRIDE(kk) ((int64_t)CHUNK * (kk) + 16)

/* Logical experts of tokens [c0, c0 + n) at every layer of [l0, l1) into
 * w->lexp (layer l at (l - l0) * LEXP_STRIDE): one pass over the piece in its
 * own order (token by token, each token's layers in turn) instead of a
 * strided gather per layer.  The same values as gather_layer; a chunk with
 * an id >= E is redone layer by layer so that the same first one is kept. */
static void gather_chunk(const mp_sim *s, worker *w, const mp_step *pc, int64_t c0, int64_t n, int32_t l0, int32_t l1)
{
    const int32_t K = s->K, kk = s->kk, L = s->L;
    const int64_t stride = LEXP_STRIDE(kk);
    const uint32_t E = (uint32_t)s->E;
    const int32_t shared = s->plan->shared_id;
    const int gate = s->pol->gate_order && pc->weights;
    uint32_t bad = 0;
    for (int64_t i = 0; i < n; i++) {
        const mp_expert_id *id = pc->ids + ((c0 + i) * L + l0) * K;
        int32_t *e = w->lexp + i * kk;
        for (int32_t l = l0; l < l1; l++, id += K, e += stride) {
            if (K == 8) { /* the common top-8: fixed trip count */
                for (int32_t k = 0; k < 8; k++) {
                    e[k] = id[k];
                    bad |= id[k] >= E;
                }
            } else {
                for (int32_t k = 0; k < K; k++) {
                    e[k] = id[k];
                    bad |= id[k] >= E;
                }
            }
            if (gate && K > 1) gate_sort(e, pc->weights + ((c0 + i) * L + l) * K, K);
            if (s->fused) e[K] = shared;
        }
    }
    if (bad)
        for (int32_t l = l0; l < l1; l++) gather_layer(s, w, pc, c0, n, l, w->lexp + (l - l0) * stride);
}

/* Tokens [0, n) of a chunk whose slots are chosen, P <= 64 and n >= 4P: rows
 * per slot, and distinct tokens per (source, destination) counted in the
 * layer's accumulators.  The state in locals (stores through the int
 * pointers could otherwise alias it); the (source, destination) counts in
 * bit planes, VC_PLANES per source: adding a token's GPU mask is a fixed
 * chain of and/xor instead of a branchy loop over its GPUs; vc_flush moves
 * them into tmat before a plane could overflow and at the layer's close.
 * Inlined with kk a constant for the common top-8 (with or without a fused
 * shared expert). */
static ALWAYS_INLINE void play_pairs(const mp_sim *s, const worker *w, layer_acc *a, int64_t n, const int32_t kk)
{
    const int32_t *sg = s->slot_gpu, *gnode = s->gpu_node, *srcv = w->src;
    const int32_t N = s->N, P = s->P;
    const int64_t shared_add = !s->fused;
    int64_t *slot_rows = a->slot_rows, *shared_rows = a->shared_rows, *nmat = a->nmat;
    uint64_t *dmask = a->dmask, *vcb = a->vc;
    int32_t *touched = a->touched, nt = a->ntouched;
    uint64_t seen = a->src_seen;
    for (int64_t i = 0; i < n; i++) {
        int32_t src = srcv[i];
        const int32_t *sl = w->slots + i * kk;
        uint64_t gm = 0;
        for (int32_t k = 0; k < kk; k++) {
            int32_t slot = sl[k];
            int64_t r = slot_rows[slot];
            touched[nt] = slot; /* kept when first used: no branch */
            slot_rows[slot] = r + 1;
            nt += r == 0;
            gm |= (uint64_t)1 << sg[slot];
        }
        shared_rows[src] += shared_add;
        seen |= (uint64_t)1 << src;
        dmask[src] |= gm;
        uint64_t *vc = vcb + (int64_t)src * VC_PLANES, carry = gm;
        for (int32_t b = 0; b < VC_PLANES; b++) {
            uint64_t t = vc[b] & carry;
            vc[b] ^= carry;
            carry = t;
        }
        if (++a->vcn[src] == VC_MAX) vc_flush(a, src, P);
        int64_t *nrow = nmat + (int64_t)src * N;
        if (N <= 8) {
            for (int32_t nd = 0; nd < N; nd++) nrow[nd] += (gm & s->node_mask[nd]) != 0;
        } else {
            uint64_t nm = 0;
            while (gm) {
                nm |= (uint64_t)1 << gnode[__builtin_ctzll(gm)];
                gm &= gm - 1;
            }
            while (nm) {
                nrow[__builtin_ctzll(nm)]++;
                nm &= nm - 1;
            }
        }
    }
    a->ntouched = nt;
    a->src_seen = seen;
}

/* Plays tokens [c0, c0 + n) of the piece at layer l, their logical experts in ex[n][kk]. */
static void play_layer(mp_sim *s, worker *w, layer_acc *a, const mp_step *pc, int64_t c0, int64_t n, int32_t l,
                       const int32_t *ex)
{
    const mp_plan *plan = s->plan;
    const int32_t K = s->K, kk = s->kk, L = s->L, P = s->P, gpn = s->gpn;
    const uint32_t E = (uint32_t)s->E;
    if (c0 == 0 && s->starts && s->pol->prepare) {
        /* the batch's rows per expert at this layer (bad ids count as expert 0, as they are played) */
        int64_t *rows = w->erows;
        memset(rows, 0, (size_t)plan->experts * sizeof *rows);
        for (int64_t t = 0; t < pc->tokens; t++) {
            const mp_expert_id *id = pc->ids + (t * L + l) * K;
            for (int32_t k = 0; k < K; k++) rows[id[k] < E ? id[k] : 0]++;
        }
        if (s->fused) rows[plan->shared_id] += pc->tokens;
        mp_prepare_args pa = {plan, l, s->cur_step, s->o.seed, kk, pc->tokens, rows};
        s->pol->prepare(&pa, a->batch);
    }
    mp_select_args sa = {plan, l, s->cur_step, s->o.seed, kk, pc->first_token + c0, n, ex, w->src, a->state,
                         a->batch, s->cache ? s->cache + (int64_t)l * s->cache_words : NULL};
    s->pol->select(&sa, w->slots);
    const int32_t *sg = s->slot_gpu;
    int64_t *slot_rows = a->slot_rows;
    if (s->P <= 64) {
        /* GPUs of a token as a bit mask: no per-assignment branches.  With
         * fewer than 4 tokens per source GPU the links are counted token by
         * token; otherwise per (source, destination) pair at the step's end
         * (the same integers either way). */
        const int32_t *gnode = s->gpu_node;
        const int64_t shared_add = !s->fused;
        if (n < 4 * (int64_t)P) {
            /* Few tokens per source: links counted token by token, over the
             * token's kk assignments in turn (fixed trip counts, no data-
             * dependent branches; a GPU counts once per token).  GPU g is
             * reached over NVLink unless it is the relay of its node (local
             * index sl), relayed by (node of g, sl): the source itself at home. */
            const int32_t N = s->N;
            for (int64_t i = 0; i < n; i++) {
                int32_t src = w->src[i], sn = gnode[src], sl = s->gpu_local[src];
                const int32_t *sli = w->slots + i * kk;
                uint64_t keep = ~s->local_mask[sl], gm = 0, nm = 0;
                int64_t *trf = w->traffic + (int64_t)src * P; /* P <= 64: always kept */
                for (int32_t k = 0; k < kk; k++) {
                    int32_t slot = sli[k], g = sg[slot], nd = gnode[g];
                    a->touched[a->ntouched] = slot; /* kept when first used */
                    a->ntouched += slot_rows[slot]++ == 0;
                    uint64_t bit = (uint64_t)1 << g;
                    int64_t fresh = (gm & bit) == 0, relay = fresh & (int64_t)((keep >> g) & 1);
                    gm |= bit;
                    nm |= (uint64_t)1 << nd;
                    a->gpu_tokens[g] += fresh;
                    trf[g] += fresh;
                    a->recv_nvl[g] += relay;
                    a->send_nvl[nd * gpn + sl] += relay;
                }
                a->shared_rows[src] += shared_add;
                for (int32_t nd = 0; nd < N; nd++) {
                    int64_t b = (int64_t)((nm >> nd) & 1), far = b & (nd != sn);
                    a->node_tokens[nd] += b;
                    a->send_net[src] += far;
                    a->recv_net[nd * gpn + sl] += far;
                }
            }
            return;
        }
        if (kk == 8) play_pairs(s, w, a, n, 8);
        else if (kk == 9) play_pairs(s, w, a, n, 9);
        else play_pairs(s, w, a, n, kk);
        return;
    }
    for (int64_t i = 0; i < n; i++) {
        int64_t stamp = pc->first_token + c0 + i + 1;
        int32_t src = w->src[i], src_node = src / gpn;
        const int32_t *sl = w->slots + i * kk;
        for (int32_t k = 0; k < kk; k++) {
            int32_t slot = sl[k], g = sg[slot];
            if (slot_rows[slot]++ == 0) a->touched[a->ntouched++] = slot;
            if (a->gpu_stamp[g] != stamp) {
                a->gpu_stamp[g] = stamp;
                a->gpu_tokens[g]++;
                if (w->traffic) w->traffic[(int64_t)src * P + g]++;
                int32_t nd = g / gpn;
                int32_t via = nd == src_node ? src : nd * gpn + src % gpn;
                if (a->node_stamp[nd] != stamp) {
                    a->node_stamp[nd] = stamp;
                    a->node_tokens[nd]++;
                    if (nd != src_node) {
                        a->send_net[src]++;
                        a->recv_net[via]++;
                    }
                }
                if (g != via) {
                    a->send_nvl[via]++;
                    a->recv_nvl[g]++;
                }
            }
        }
        if (!s->fused) a->shared_rows[src]++;
    }
}

/* Expert time of one slot with `rows` rows: the analytic model inline. */
static inline double expert_us(const mp_sim *s, int64_t rows)
{
    if (s->o.cost.table_len > 0) return mp_cost_expert_us(&s->o.cost, &s->model, (double)rows);
    double fl = s->c_us_per_row * (double)rows;
    return (fl > s->c_mem_us ? fl : s->c_mem_us) + s->o.cost.expert_fixed_us;
}

/* Heap order on rows/count (larger first), compared exactly. */
static inline int heavier(const int64_t *rows, const int32_t *e, const int64_t *c, int32_t i, int32_t j)
{
    return rows[e[i]] * c[j] > rows[e[j]] * c[i];
}

static void sift_down(const int64_t *rows, int32_t *e, int64_t *c, int32_t n, int32_t i)
{
    for (;;) {
        int32_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && heavier(rows, e, c, l, m)) m = l;
        if (r < n && heavier(rows, e, c, r, m)) m = r;
        if (m == i) return;
        int32_t te = e[i];
        int64_t tc = c[i];
        e[i] = e[m], c[i] = c[m];
        e[m] = te, c[m] = tc;
        i = m;
    }
}

/* LB_rep (moeplace-sim(1)): max(mean, the smallest possible max
 * rows/count over replica counts with `extra` slots beyond one per expert),
 * which D'Hondt's apportionment attains: each extra slot to the expert of
 * largest rows/count.  Experts at or under the mean never raise it above the
 * mean, so only the heavier ones enter the heap, and it stops once the
 * largest quotient is down to the mean. */
static double lb_rep(const int64_t *rows, int32_t *e, int64_t *c, int32_t n, int64_t extra, double mean)
{
    int32_t m = 0;
    for (int32_t i = 0; i < n; i++) { /* keep the heavy ones, without a branch */
        e[m] = e[i];
        m += (double)rows[e[i]] > mean;
    }
    if (m == 0) return mean;
    /* Fast exit: the apportionment only gives seats to quotients above the
     * mean, so if every heavy expert can be brought to the mean (the fewest
     * copies c with rows / c <= mean, in the same double arithmetic) within
     * `extra` seats, it stops at the mean. */
    int64_t need = 0;
    for (int32_t i = 0; i < m && need <= extra; i++) {
        double r = (double)rows[e[i]];
        int64_t k = (int64_t)ceil(r / mean);
        if (k < 1) k = 1;
        while (r / (double)k > mean) k++;
        while (k > 1 && r / (double)(k - 1) <= mean) k--;
        need += k - 1;
    }
    if (need <= extra) return mean;
    for (int32_t i = 0; i < m; i++) c[i] = 1;
    for (int32_t i = m / 2 - 1; i >= 0; i--) sift_down(rows, e, c, m, i);
    for (int64_t x = 0; x < extra && (double)rows[e[0]] / (double)c[0] > mean; x++) {
        c[0]++;
        sift_down(rows, e, c, m, 0);
    }
    double top = (double)rows[e[0]] / (double)c[0];
    return top > mean ? top : mean;
}

static void close_layer(mp_sim *s, worker *w, layer_acc *a, int32_t l)
{
    layer_fig *f = &s->fig[l];
    const mp_plan *plan = s->plan;
    const int32_t P = s->P;
    memset(f, 0, sizeof *f);
    const int32_t *row = mp_plan_layer(plan, l);
    if (a->tmat) { /* DeepEP routes from the per-(source, destination) counts */
        const int32_t N = s->N, gpn = s->gpn;
        for (uint64_t seen = a->src_seen; seen; seen &= seen - 1) vc_flush(a, __builtin_ctzll(seen), P);
        for (uint64_t seen = a->src_seen; seen; seen &= seen - 1) {
            int32_t src = __builtin_ctzll(seen);
            int64_t *tr = a->tmat + (int64_t)src * P, *nr = a->nmat + (int64_t)src * N;
            int32_t sn = s->gpu_node[src], sl = s->gpu_local[src];
            for (uint64_t dm = a->dmask[src]; dm; dm &= dm - 1) {
                int32_t g = __builtin_ctzll(dm);
                int64_t v = tr[g];
                tr[g] = 0;
                a->gpu_tokens[g] += v;
                if (w->traffic) w->traffic[(int64_t)src * P + g] += v;
                int32_t nd = s->gpu_node[g], via = nd == sn ? src : nd * gpn + sl;
                if (g != via) {
                    a->send_nvl[via] += v;
                    a->recv_nvl[g] += v;
                }
            }
            a->dmask[src] = 0;
            for (int32_t nd = 0; nd < N; nd++) {
                int64_t v = nr[nd];
                if (!v) continue;
                nr[nd] = 0;
                a->node_tokens[nd] += v;
                if (nd != sn) {
                    a->send_net[src] += v;
                    a->recv_net[nd * gpn + sl] += v;
                }
            }
        }
        a->src_seen = 0;
    }
    /* rows per GPU and expert, expert time per GPU: over the slots used */
    double tg[64], *tgp = P <= 64 ? tg : w->gpu_us;
    int32_t ag[64], *agp = P <= 64 ? ag : w->gpu_active;
    memset(tgp, 0, (size_t)P * sizeof *tgp);
    memset(agp, 0, (size_t)P * sizeof *agp);
    int32_t nexp = 0;
    for (int32_t i = 0; i < a->ntouched; i++) {
        int32_t p = a->touched[i], g = s->slot_gpu[p];
        int64_t v = a->slot_rows[p];
        a->gpu_rows[g] += v;
        w->hexp[nexp] = row[p];
        nexp += a->expert_rows[row[p]] == 0;
        a->expert_rows[row[p]] += v;
        tgp[g] += expert_us(s, v);
        agp[g]++;
    }
    int64_t W = 0, mx = 0, idle = 0, tok = 0, tmx = 0;
    for (int32_t g = 0; g < P; g++) {
        W += a->gpu_rows[g];
        mx = a->gpu_rows[g] > mx ? a->gpu_rows[g] : mx;
        idle += a->gpu_rows[g] == 0;
        tok += a->gpu_tokens[g];
        tmx = a->gpu_tokens[g] > tmx ? a->gpu_tokens[g] : tmx;
        w->gpu_rows[g] += a->gpu_rows[g];
        s->run_rows[(int64_t)l * P + g] += a->gpu_rows[g];
    }
    for (int32_t nd = 0; nd < s->N; nd++) w->node_tokens[nd] += a->node_tokens[nd];
    double mean = (double)W / P;
    f->w = (double)W;
    f->max = (double)mx;
    f->mean = mean;
    f->idle = (double)idle;
    if (W > 0) {
        f->maxmean = mx / mean;
        f->sglang = (mean + 1e-5) / (mx + 1e-5);
        f->trt = (mx - mean) / mean;
        double lb = lb_rep(a->expert_rows, w->hexp, w->hcnt, nexp, (int64_t)s->R - plan->experts, mean);
        f->gap_rep = mx / lb - 1.0;
        double tmean = (double)tok / P;
        f->tok_maxmean = tmx / tmean;
    } else {
        f->maxmean = 1.0;
        f->sglang = 1.0;
        f->tok_maxmean = 1.0;
    }
    /* cost: expert time per GPU, the slowest GPU; links per GPU, the slowest */
    const mp_cost *c = &s->o.cost;
    double tb = s->token_bytes;
    double emax = 0, lmax = 0, nvl = 0, net = 0, amax = 0;
    const int shared_here = !s->fused && s->model.shared > 0;
    for (int32_t g = 0; g < P; g++) {
        double t = tgp[g];
        if (shared_here && a->shared_rows[g] > 0) t += s->model.shared * expert_us(s, a->shared_rows[g]);
        emax = t > emax ? t : emax;
        amax = agp[g] > amax ? agp[g] : amax;
        int64_t bn = a->send_nvl[g] > a->recv_nvl[g] ? a->send_nvl[g] : a->recv_nvl[g];
        int64_t bw = a->send_net[g] > a->recv_net[g] ? a->send_net[g] : a->recv_net[g];
        double ln = (double)bn * s->nvl_us_per_token, lw = (double)bw * s->net_us_per_token;
        double lt = ln > lw ? ln : lw; /* mp_cost_link_us with per-token times */
        lmax = lt > lmax ? lt : lmax;
        nvl += (double)a->send_nvl[g] * tb;
        net += (double)a->send_net[g] * tb;
    }
    f->active_max = amax;
    f->nvl = nvl;
    f->net = net;
    f->expert_us = emax;
    f->comm_us = P > 1 ? 2 * lmax + c->dispatch_fixed_us + c->combine_fixed_us : 0.0;
    f->time_us = f->expert_us + f->comm_us;
    /* reset: the slots and experts used, then the per-GPU and per-node counters */
    for (int32_t i = 0; i < a->ntouched; i++) {
        int32_t p = a->touched[i];
        a->slot_rows[p] = 0;
        a->expert_rows[row[p]] = 0;
    }
    a->ntouched = 0;
    memset(a->gpu_rows, 0, (size_t)(9 * P + 2 * s->N) * sizeof(int64_t));
}

/* Source GPUs of tokens [c0, c0 + n) of the piece into w->src. */
static void fill_src(const mp_sim *s, worker *w, const mp_step *pc, int64_t c0, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        int64_t t = pc->first_token + c0 + i;
        int32_t r = pc->src_rank ? pc->src_rank[c0 + i] : -1;
        w->src[i] = r >= 0 ? r % s->P : (int32_t)(t % s->P);
    }
}

/* Layers [l0, l1) of the current job on worker w.  A whole step that fits
 * in one chunk (decode-sized batches) is played and closed one layer at a
 * time in the worker's own accumulators, which stay in cache; otherwise
 * each layer accumulates in its own block until the step's last piece. */
static void run_layers(mp_sim *s, worker *w, int32_t l0, int32_t l1)
{
    const mp_step *pc = s->piece;
    if (pc && s->whole && pc->tokens <= CHUNK) {
        fill_src(s, w, pc, 0, pc->tokens);
        for (int32_t l = l0; l < l1; l++) {
            gather_layer(s, w, pc, 0, pc->tokens, l, w->experts);
            play_layer(s, w, &w->own, pc, 0, pc->tokens, l, w->experts);
            close_layer(s, w, &w->own, l);
        }
        return;
    }
    if (pc) {
        for (int64_t c0 = 0; c0 < pc->tokens; c0 += CHUNK) {
            int64_t n = pc->tokens - c0 < CHUNK ? pc->tokens - c0 : CHUNK;
            fill_src(s, w, pc, c0, n);
            gather_chunk(s, w, pc, c0, n, l0, l1);
            for (int32_t l = l0; l < l1; l++)
                play_layer(s, w, &s->acc[l], pc, c0, n, l, w->lexp + (l - l0) * LEXP_STRIDE(s->kk));
        }
    }
    if (s->closing)
        for (int32_t l = l0; l < l1; l++) close_layer(s, w, &s->acc[l], l);
}

/* The job of thread `tid`: its share of the layers. */
static void run_job(mp_sim *s, int tid)
{
    int32_t l0 = (int32_t)((int64_t)s->L * tid / s->nthreads), l1 = (int32_t)((int64_t)s->L * (tid + 1) / s->nthreads);
    run_layers(s, &s->wk[tid], l0, l1);
}

static void *worker_main(void *arg)
{
    void **pa = arg;
    mp_sim *s = pa[0];
    int tid = (int)(intptr_t)pa[1];
    free(pa);
    int64_t seen = 0;
    for (;;) {
        pthread_mutex_lock(&s->mu);
        while (s->gen == seen && !s->quit) pthread_cond_wait(&s->go, &s->mu);
        if (s->quit) {
            pthread_mutex_unlock(&s->mu);
            return NULL;
        }
        seen = s->gen;
        pthread_mutex_unlock(&s->mu);
        run_job(s, tid);
        pthread_mutex_lock(&s->mu);
        if (--s->pending == 0) pthread_cond_signal(&s->done);
        pthread_mutex_unlock(&s->mu);
    }
}

/* Pieces smaller than this many assignments run on the calling thread alone:
 * waking the pool would cost more than it saves.  Which thread plays a layer
 * never changes a result (per-worker totals are integer sums). */
#define PARALLEL_MIN_ASSIGN ((int64_t)1 << 15)

static void run_all(mp_sim *s)
{
    int64_t work = s->piece ? s->piece->tokens * (int64_t)s->L * s->kk : 0;
    if (s->nthreads == 1 || work < PARALLEL_MIN_ASSIGN) {
        run_layers(s, &s->wk[0], 0, s->L);
        return;
    }
    pthread_mutex_lock(&s->mu);
    s->pending = s->nthreads - 1;
    s->gen++;
    pthread_cond_broadcast(&s->go);
    pthread_mutex_unlock(&s->mu);
    run_job(s, 0);
    pthread_mutex_lock(&s->mu);
    while (s->pending > 0) pthread_cond_wait(&s->done, &s->mu);
    pthread_mutex_unlock(&s->mu);
}

/* ---------- create / destroy ---------- */

static void acc_free(layer_acc *a)
{
    free(a->batch);
    free(a->block);
    free(a->touched);
    free(a->dmask);
    free(a->vc);
    free(a->vcn);
}

/* One layer's accumulators, zeroed, in one block. */
static int acc_init(const mp_sim *s, layer_acc *a)
{
    size_t P = (size_t)s->P, N = (size_t)s->N;
    int use_mat = s->P <= 64;
    size_t blen = (size_t)s->R + (size_t)s->plan->experts + 9 * P + 2 * N + (use_mat ? P * P + P * N : 0);
    a->block = calloc(blen, sizeof(int64_t));
    a->touched = malloc(((size_t)s->R + 1) * sizeof *a->touched); /* one spare: written ahead */
    a->dmask = calloc(P, sizeof *a->dmask);
    a->vc = calloc(P * VC_PLANES, sizeof *a->vc);
    a->vcn = calloc(P, sizeof *a->vcn);
    if (s->batch_words > 0 && !(a->batch = calloc((size_t)s->batch_words, sizeof *a->batch))) return MP_ENOMEM;
    if (!a->block || !a->touched || !a->dmask || !a->vc || !a->vcn) return MP_ENOMEM;
    a->block_len = blen;
    int64_t *b = a->block;
    a->slot_rows = b, b += s->R;
    a->expert_rows = b, b += s->plan->experts;
    a->gpu_rows = b, b += P;
    a->gpu_tokens = b, b += P;
    a->gpu_stamp = b, b += P;
    a->send_nvl = b, b += P;
    a->send_net = b, b += P;
    a->recv_nvl = b, b += P;
    a->recv_net = b, b += P;
    a->shared_rows = b, b += P;
    a->state = b, b += P;
    a->node_tokens = b, b += N;
    a->node_stamp = b, b += N;
    if (use_mat) {
        a->tmat = b, b += P * P;
        a->nmat = b;
    }
    return 0;
}

void mp_sim_destroy(mp_sim *s)
{
    if (!s) return;
    if (s->pool_up) {
        pthread_mutex_lock(&s->mu);
        s->quit = 1;
        pthread_cond_broadcast(&s->go);
        pthread_mutex_unlock(&s->mu);
        for (int i = 1; i < s->nthreads; i++)
            if (s->th[i]) pthread_join(s->th[i], NULL);
        pthread_mutex_destroy(&s->mu);
        pthread_cond_destroy(&s->go);
        pthread_cond_destroy(&s->done);
    }
    free(s->th);
    if (s->acc)
        for (int32_t l = 0; l < s->L; l++) {
            acc_free(&s->acc[l]);
        }
    free(s->acc);
    if (s->wk)
        for (int i = 0; i < s->nthreads; i++) {
            acc_free(&s->wk[i].own);
            free(s->wk[i].experts);
            free(s->wk[i].lexp);
            free(s->wk[i].src);
            free(s->wk[i].slots);
            free(s->wk[i].traffic);
            free(s->wk[i].gpu_rows);
            free(s->wk[i].node_tokens);
            free(s->wk[i].gpu_us);
            free(s->wk[i].gpu_active);
            free(s->wk[i].hexp);
            free(s->wk[i].hcnt);
            free(s->wk[i].erows);
        }
    free(s->wk);
    free(s->fig);
    free(s->slot_gpu);
    free(s->gpu_node);
    free(s->gpu_local);
    free(s->layer_sum);
    free(s->series);
    free(s->run_rows);
    free(s->cache);
    free(s->gather.ids);
    free(s->gather.src_rank);
    free(s);
}

static int check_plan(const mp_sim *s, const mp_plan *plan, mp_err *err)
{
    if (!plan->replica_count || !plan->log2phy)
        return mp_err_set(err, MP_EINVAL, "sim: the plan is not derived (mp_plan_derive)");
    if (plan->layers != s->L)
        return mp_err_set(err, MP_ESHAPE, "sim: the plan has %d layers, the trace %d", (int)plan->layers, (int)s->L);
    int32_t routed = plan->routed > 0 ? plan->routed : plan->experts - (plan->shared_id >= 0);
    if (routed != s->E)
        return mp_err_set(err, MP_ESHAPE, "sim: the plan places %d routed experts, the trace has %d", (int)routed,
                          (int)s->E);
    if (plan->shared_id >= 0 && plan->shared_id >= plan->experts)
        return mp_err_set(err, MP_ESHAPE, "sim: shared_id %d outside the plan's %d experts", (int)plan->shared_id,
                          (int)plan->experts);
    return 0;
}

/* The policy's per-layer tables for `plan`. */
static int build_caches(mp_sim *s, const mp_plan *plan)
{
    for (int32_t l = 0; l < s->L; l++)
        if (s->pol->build_cache(plan, l, s->o.seed, s->cache + (int64_t)l * s->cache_words)) return MP_ENOMEM;
    return 0;
}

int mp_sim_create(mp_sim **out, const mp_plan *plan, const mp_model *model, const mp_sim_opts *o, mp_err *err)
{
    *out = NULL;
    int rc = mp_topology_validate(&plan->topo, err);
    if (rc) return rc;
    if ((rc = mp_model_validate(model, "sim: model", err))) return rc;
    mp_sim *s = calloc(1, sizeof *s);
    if (!s) return mp_err_set(err, MP_ENOMEM, "sim: out of memory");
    s->o = o ? *o : mp_sim_opts_default();
    s->pol = s->o.policy ? s->o.policy : mp_policy_default();
    s->plan = plan;
    s->model = *model;
    s->L = model->layers;
    s->K = model->top_k;
    s->E = model->experts;
    s->fused = plan->shared_id >= 0;
    s->kk = s->K + s->fused;
    s->P = plan->topo.gpus;
    s->N = plan->topo.nodes;
    s->R = plan->slots;
    s->gpn = s->P / s->N;
    s->cur_step = -1;
    s->last_step = -1;
    if ((rc = check_plan(s, plan, err)) || (rc = mp_cost_validate(&s->o.cost, "sim: cost model", err))) {
        free(s);
        return rc;
    }
    {
        const mp_cost *c = &s->o.cost;
        double h = (double)mp_cost_hidden(c, model), in = (double)mp_cost_intermediate(c, model);
        double params = 3.0 * h * in; /* mp_cost_expert_us's model, with per-row and per-token factors */
        s->c_mem_us = params * c->weight_bytes / (c->hbm_GBps * 1e3);
        s->c_us_per_row = 2.0 * params / (c->peak_tflops * 1e6);
        s->nvl_us_per_token = h * c->act_bytes / (c->nvlink_GBps * 1e3);
        s->net_us_per_token = h * c->act_bytes / (c->net_GBps * 1e3);
        s->token_bytes = h * c->act_bytes;
    }
    int nt = s->o.threads < 1 ? 1 : s->o.threads;
    if (nt > s->L) nt = s->L;
    if (nt > 256) nt = 256;
    s->nthreads = nt;
    s->slot_gpu = malloc((size_t)s->R * sizeof *s->slot_gpu);
    s->acc = calloc((size_t)s->L, sizeof *s->acc);
    s->fig = calloc((size_t)s->L, sizeof *s->fig);
    s->wk = calloc((size_t)nt, sizeof *s->wk);
    s->layer_sum = calloc((size_t)s->L, sizeof *s->layer_sum);
    s->th = calloc((size_t)nt, sizeof *s->th);
    s->run_rows = calloc((size_t)s->L * s->P, sizeof *s->run_rows);
    s->gpu_node = malloc((size_t)s->P * sizeof *s->gpu_node);
    s->gpu_local = malloc((size_t)s->P * sizeof *s->gpu_local);
    if (!s->gpu_node || !s->gpu_local || !s->run_rows || !s->slot_gpu || !s->acc || !s->fig || !s->wk || !s->layer_sum || !s->th) goto oom;
    for (int32_t p = 0; p < s->R; p++) s->slot_gpu[p] = p / plan->topo.slots_per_gpu;
    for (int32_t g = 0; g < s->P; g++) {
        s->gpu_node[g] = g / s->gpn;
        s->gpu_local[g] = g % s->gpn;
        if (s->P <= 64) {
            s->node_mask[g / s->gpn] |= (uint64_t)1 << g;
            s->local_mask[g % s->gpn] |= (uint64_t)1 << g;
        }
    }
    size_t P = (size_t)s->P, N = (size_t)s->N;
    s->batch_words = s->pol->batch_words ? s->pol->batch_words(plan) : 0;
    s->cache_words = s->pol->cache_words ? s->pol->cache_words(plan) : 0;
    if (s->cache_words > 0 && (!(s->cache = malloc((size_t)s->L * (size_t)s->cache_words * sizeof *s->cache)) ||
                               build_caches(s, plan)))
        goto oom;
    for (int32_t l = 0; l < s->L; l++)
        if (acc_init(s, &s->acc[l])) goto oom;
    for (int i = 0; i < nt; i++) {
        worker *w = &s->wk[i];
        w->experts = malloc((size_t)CHUNK * s->kk * sizeof(int32_t));
        /* every layer: a small piece runs all of them on worker 0 (run_all) */
        w->lexp = malloc((size_t)s->L * (size_t)LEXP_STRIDE(s->kk) * sizeof(int32_t));
        w->slots = malloc((size_t)CHUNK * s->kk * sizeof(int32_t));
        w->src = malloc((size_t)CHUNK * sizeof(int32_t));
        w->gpu_rows = calloc(P, sizeof(int64_t));
        w->node_tokens = calloc(N, sizeof(int64_t));
        w->gpu_us = malloc(P * sizeof(double));
        w->gpu_active = malloc(P * sizeof(int32_t));
        w->hexp = malloc(((size_t)plan->experts + 1) * sizeof(int32_t)); /* one spare: written ahead */
        w->hcnt = malloc((size_t)plan->experts * sizeof(int64_t));
        w->erows = malloc((size_t)plan->experts * sizeof(int64_t));
        if (s->P <= TRAFFIC_GPUS_MAX) w->traffic = calloc(P * P, sizeof(int64_t));
        if (acc_init(s, &w->own)) goto oom;
        if (!w->experts || !w->lexp || !w->slots || !w->src || !w->gpu_rows || !w->node_tokens || !w->gpu_us || !w->gpu_active || !w->hexp || !w->hcnt || !w->erows ||
            (s->P <= TRAFFIC_GPUS_MAX && !w->traffic))
            goto oom;
    }
    if (nt > 1) {
        pthread_mutex_init(&s->mu, NULL);
        pthread_cond_init(&s->go, NULL);
        pthread_cond_init(&s->done, NULL);
        s->pool_up = 1;
        for (int i = 1; i < nt; i++) {
            void **pa = malloc(2 * sizeof(void *));
            if (!pa) goto oom;
            pa[0] = s;
            pa[1] = (void *)(intptr_t)i;
            if (pthread_create(&s->th[i], NULL, worker_main, pa)) {
                free(pa);
                s->th[i] = 0;
                mp_sim_destroy(s);
                return mp_err_set(err, MP_ENOMEM, "sim: cannot start thread %d", i);
            }
        }
    }
    *out = s;
    return 0;
oom:
    mp_sim_destroy(s);
    return mp_err_set(err, MP_ENOMEM, "sim: out of memory");
}

int mp_sim_set_plan(mp_sim *s, const mp_plan *plan, mp_err *err)
{
    if (s->in_step) return mp_err_set(err, MP_EINVAL, "sim: the plan can change only between steps");
    if (plan->topo.gpus != s->P || plan->topo.nodes != s->N || plan->slots != s->R ||
        plan->experts != s->plan->experts || plan->shared_id != s->plan->shared_id)
        return mp_err_set(err, MP_ESHAPE, "sim: the new plan's topology or experts differ");
    int rc = check_plan(s, plan, err);
    if (rc) return rc;
    if (s->cache && build_caches(s, plan)) return mp_err_set(err, MP_ENOMEM, "sim: out of memory");
    s->plan = plan;
    return 0;
}

/* ---------- feeding ---------- */

static int push_series(mp_sim *s, const mp_sim_stepm *m)
{
    if (s->nseries == s->cap_series) {
        int64_t cap = s->cap_series ? s->cap_series * 2 : 256;
        mp_sim_stepm *n = realloc(s->series, (size_t)cap * sizeof *n);
        if (!n) return MP_ENOMEM;
        s->series = n;
        s->cap_series = cap;
    }
    s->series[s->nseries++] = *m;
    return 0;
}

static int close_step(mp_sim *s, mp_err *err)
{
    mp_sim_stepm m;
    memset(&m, 0, sizeof m);
    m.step = s->cur_step;
    m.tokens = s->step_tokens;
    double smean = 0, smax = 0;
    for (int32_t l = 0; l < s->L; l++) { /* layer order: deterministic */
        const layer_fig *f = &s->fig[l];
        mp_sim_layerm *ls = &s->layer_sum[l];
        smean += f->mean;
        smax += f->max;
        m.maxmean += f->maxmean;
        m.sglang_bal += f->sglang;
        m.trt_imb += f->trt;
        m.idle_gpus += f->idle;
        m.gap_rep += f->gap_rep;
        m.tokens_maxmean += f->tok_maxmean;
        m.active_max = f->active_max > m.active_max ? f->active_max : m.active_max;
        m.nvl_bytes += f->nvl;
        m.net_bytes += f->net;
        m.expert_us += f->expert_us;
        m.comm_us += f->comm_us;
        m.time_us += f->time_us;
        ls->maxmean += f->maxmean;
        ls->maxmean_max = f->maxmean > ls->maxmean_max ? f->maxmean : ls->maxmean_max;
        ls->sglang_bal += f->sglang;
        ls->trt_imb += f->trt;
        ls->idle_gpus += f->idle;
        ls->gap_rep += f->gap_rep;
        ls->nvl_bytes += f->nvl;
        ls->net_bytes += f->net;
        ls->time_us += f->time_us;
    }
    double L = s->L;
    m.maxmean /= L;
    m.sglang_bal /= L;
    m.trt_imb /= L;
    m.idle_gpus /= L;
    m.gap_rep /= L;
    m.tokens_maxmean /= L;
    m.vllm_bal = smax > 0 ? smean / smax : 1.0;
    s->sum_mean_all += smean;
    s->sum_max_all += smax;
    if (push_series(s, &m)) return mp_err_set(err, MP_ENOMEM, "sim: out of memory");
    s->in_step = 0;
    s->last_step = s->cur_step;
    s->step_tokens = 0;
    return 0;
}

/* The most assignments of a step gathered for a whole_batch policy (512 MiB of ids). */
#define GATHER_ASSIGN_MAX ((int64_t)1 << 28)

/* Appends a piece to the gathered step (ids, and source ranks: -1 where a
 * piece has none). */
static int gather_append(mp_sim *s, const mp_step *pc, mp_err *err)
{
    mp_step *g = &s->gather;
    int64_t per = (int64_t)s->L * s->K, need = g->tokens + pc->tokens;
    if (need * per > GATHER_ASSIGN_MAX)
        return mp_err_set(err, MP_ELIMIT, "sim: step %lld has over %lld assignments; policy %s holds a whole step",
                          (long long)pc->step, (long long)GATHER_ASSIGN_MAX, s->pol->name);
    if (need > s->gather_cap) {
        int64_t cap = s->gather_cap ? s->gather_cap : 1024;
        while (cap < need) cap *= 2;
        if (cap * per > GATHER_ASSIGN_MAX) cap = GATHER_ASSIGN_MAX / per;
        mp_expert_id *ids = realloc(g->ids, (size_t)(cap * per) * sizeof *ids);
        if (ids) g->ids = ids;
        int32_t *src = ids ? realloc(g->src_rank, (size_t)cap * sizeof *src) : NULL;
        if (src) g->src_rank = src;
        if (!ids || !src) return mp_err_set(err, MP_ENOMEM, "sim: out of memory");
        s->gather_cap = cap;
    }
    if (pc->tokens > 0) memcpy(g->ids + g->tokens * per, pc->ids, (size_t)(pc->tokens * per) * sizeof *g->ids);
    for (int64_t t = 0; t < pc->tokens; t++) g->src_rank[g->tokens + t] = pc->src_rank ? pc->src_rank[t] : -1;
    g->tokens = need;
    return 0;
}

/* Plays a piece (or the gathered step) through every layer. */
static int play_piece(mp_sim *s, const mp_step *pc, int whole, int starts, mp_err *err)
{
    s->whole = whole;
    s->starts = starts;
    s->piece = pc;
    s->closing = pc->end_of_step != 0;
    run_all(s);
    for (int i = 0; i < s->nthreads; i++)
        if (s->wk[i].bad_id)
            return mp_err_set(err, MP_ERANGE, "sim: step %lld, token %lld, layer %d: expert id out of range (E = %d)",
                              (long long)pc->step, (long long)s->wk[i].bad_token, (int)s->wk[i].bad_layer, (int)s->E);
    s->step_tokens += pc->tokens;
    s->tokens += pc->tokens;
    s->assignments += pc->tokens * (int64_t)s->L * s->kk;
    if (s->closing) return close_step(s, err);
    return 0;
}

/* The gathered step as a whole piece. */
static const mp_step *gathered(mp_sim *s)
{
    mp_step *g = &s->gather;
    g->step = s->cur_step;
    g->first_token = 0;
    g->end_of_step = 1;
    g->layers = s->L;
    g->top_k = s->K;
    g->weights = NULL;
    return g;
}

int mp_sim_feed(mp_sim *s, const mp_step *pc, mp_err *err)
{
    if (pc->layers != s->L || pc->top_k != s->K)
        return mp_err_set(err, MP_ESHAPE, "sim: step %lld: piece of %d layers x top-%d, want %d x top-%d",
                          (long long)pc->step, (int)pc->layers, (int)pc->top_k, (int)s->L, (int)s->K);
    if (pc->step < 0 || pc->first_token < 0 || pc->tokens < 0 || (pc->tokens > 0 && !pc->ids))
        return mp_err_set(err, MP_EFORMAT, "sim: step %lld: piece of %lld tokens from token %lld is malformed",
                          (long long)pc->step, (long long)pc->tokens, (long long)pc->first_token);
    if (s->in_step && pc->step != s->cur_step)
        return mp_err_set(err, MP_EFORMAT, "sim: step %lld began before step %lld ended", (long long)pc->step,
                          (long long)s->cur_step);
    int starts = !s->in_step;
    if (starts) {
        if (pc->step <= s->last_step)
            return mp_err_set(err, MP_EFORMAT, "sim: step %lld after step %lld: steps out of order",
                              (long long)pc->step, (long long)s->last_step);
        s->in_step = 1;
        s->cur_step = pc->step;
    }
    if (s->pol->whole_batch && !(starts && pc->end_of_step)) {
        /* a policy that balances the whole step sees it at once */
        if (starts) s->gather.tokens = 0;
        int rc = gather_append(s, pc, err);
        if (rc || !pc->end_of_step) return rc;
        return play_piece(s, gathered(s), 1, 1, err);
    }
    return play_piece(s, pc, starts && pc->end_of_step, starts, err);
}

/* ---------- result ---------- */

#define SUMMARIZE(field)                                                                    \
    do {                                                                                    \
        for (int64_t i = 0; i < n; i++) v[i] = s->series[i].field;                          \
        r->field = mp_summarize(v, n);                                                      \
    } while (0)

int mp_sim_finish(mp_sim *s, mp_sim_result **out, mp_err *err)
{
    *out = NULL;
    if (s->in_step && s->pol->whole_batch) { /* a trace that ends inside a gathered step: play it */
        s->gather.end_of_step = 1;
        int rc = play_piece(s, gathered(s), 1, 1, err);
        if (rc) return rc;
    } else if (s->in_step) { /* a trace that ends inside a step: close it */
        s->piece = NULL;
        s->closing = 1;
        s->whole = 0;
        run_all(s);
        int rc = close_step(s, err);
        if (rc) return rc;
    }
    mp_sim_result *r = calloc(1, sizeof *r);
    int64_t n = s->nseries;
    double *v = malloc((size_t)(n > 0 ? n : 1) * sizeof *v);
    if (!r || !v) goto oom;
    size_t P = (size_t)s->P, N = (size_t)s->N;
    r->layer = calloc((size_t)s->L, sizeof *r->layer);
    r->gpu_rows = calloc(P, sizeof *r->gpu_rows);
    r->node_tokens = calloc(N, sizeof *r->node_tokens);
    if (s->wk[0].traffic) r->traffic = calloc(P * P, sizeof *r->traffic);
    if (!r->layer || !r->gpu_rows || !r->node_tokens || (s->wk[0].traffic && !r->traffic)) goto oom;
    if (s->o.keep_series) {
        r->series = malloc((size_t)(n > 0 ? n : 1) * sizeof *r->series);
        if (!r->series) goto oom;
        if (n > 0) memcpy(r->series, s->series, (size_t)n * sizeof *r->series);
    }
    r->steps = n;
    r->tokens = s->tokens;
    r->assignments = s->assignments;
    r->layers = s->L;
    r->gpus = s->P;
    r->nodes = s->N;
    snprintf(r->policy, sizeof r->policy, "%s", s->pol->name);
    SUMMARIZE(maxmean);
    SUMMARIZE(vllm_bal);
    SUMMARIZE(sglang_bal);
    SUMMARIZE(trt_imb);
    SUMMARIZE(idle_gpus);
    SUMMARIZE(gap_rep);
    SUMMARIZE(tokens_maxmean);
    SUMMARIZE(time_us);
    SUMMARIZE(nvl_bytes);
    SUMMARIZE(net_bytes);
    r->vllm_bal_run = s->sum_max_all > 0 ? s->sum_mean_all / s->sum_max_all : 1.0;
    for (int64_t i = 0; i < n; i++) {
        r->total_time_us += s->series[i].time_us;
        r->total_nvl_bytes += s->series[i].nvl_bytes;
        r->total_net_bytes += s->series[i].net_bytes;
    }
    for (int32_t l = 0; l < s->L; l++) {
        mp_sim_layerm m = s->layer_sum[l];
        double d = n > 0 ? (double)n : 1.0;
        m.maxmean /= d;
        m.sglang_bal /= d;
        m.trt_imb /= d;
        m.idle_gpus /= d;
        m.gap_rep /= d;
        m.time_us /= d;
        const int64_t *rr = s->run_rows + (int64_t)l * s->P;
        int64_t tot = 0, mx = 0;
        for (int32_t g = 0; g < s->P; g++) {
            tot += rr[g];
            mx = rr[g] > mx ? rr[g] : mx;
        }
        m.run_maxmean = tot > 0 ? (double)mx * s->P / (double)tot : 1.0;
        r->layer[l] = m;
        r->run_maxmean += m.run_maxmean / s->L;
    }
    for (int i = 0; i < s->nthreads; i++) {
        const worker *w = &s->wk[i];
        for (size_t g = 0; g < P; g++) r->gpu_rows[g] += w->gpu_rows[g];
        for (size_t d = 0; d < N; d++) r->node_tokens[d] += w->node_tokens[d];
        if (r->traffic)
            for (size_t x = 0; x < P * P; x++) r->traffic[x] += w->traffic[x];
    }
    for (size_t d = 0; d < N; d++) r->dist_tokens += (double)r->node_tokens[d];
    free(v);
    *out = r;
    return 0;
oom:
    free(v);
    mp_sim_result_destroy(r);
    return mp_err_set(err, MP_ENOMEM, "sim: out of memory");
}
