/* select.c - replica-selection policies behind one signature, in one table. */
#include <stdlib.h>
#include <string.h>

#include "sim/mp_sim.h"

/* splitmix64 finaliser: a counter-based generator, so a choice depends only
 * on (seed, step, layer, token, k) and never on pieces or threads. */
static inline uint64_t mix64(uint64_t z)
{
    z += 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static inline uint64_t key5(uint64_t seed, int64_t step, int32_t layer, int64_t token, int32_t k)
{
    uint64_t h = mix64(seed);
    h = mix64(h ^ (uint64_t)step);
    h = mix64(h ^ (uint64_t)(uint32_t)layer);
    h = mix64(h ^ (uint64_t)token);
    return mix64(h ^ (uint64_t)(uint32_t)k);
}

/* vLLM before the hash (PR #24573): replica = (t*K + k) mod count, t the
 * token's index in the step (the flat position in topk_ids).  Counts up to 64 use Lemire's 32-bit fastmod (exact for 32-bit
 * positions); larger positions or counts use plain division. */
#define FASTMOD_MAX 64
static inline uint32_t fastmod32(uint32_t a, uint64_t M, uint32_t d)
{
    return (uint32_t)(((__uint128_t)(M * a) * d) >> 64);
}

static void sel_modulo(const mp_select_args *a, int32_t *out)
{
    const mp_plan *p = a->plan;
    const int32_t *l2p = p->log2phy + (int64_t)a->layer * p->experts * p->max_replicas;
    const int32_t *cnt = p->replica_count + (int64_t)a->layer * p->experts;
    const int32_t mr = p->max_replicas, kk = a->kk;
    uint64_t last = (uint64_t)(a->first_token + a->tokens) * (uint64_t)kk;
    if (mr <= FASTMOD_MAX && last < ((uint64_t)1 << 32)) {
        uint64_t M[FASTMOD_MAX + 1];
        for (int32_t c = 1; c <= mr; c++) M[c] = UINT64_C(0xFFFFFFFFFFFFFFFF) / (uint64_t)c + 1; /* wraps to 0 at c = 1 */
        for (int64_t i = 0; i < a->tokens; i++) {
            uint32_t pos = (uint32_t)((uint64_t)(a->first_token + i) * (uint64_t)kk);
            const int32_t *e = a->experts + i * kk;
            int32_t *o = out + i * kk;
            for (int32_t k = 0; k < kk; k++) {
                int32_t c = cnt[e[k]];
                const int32_t *r = l2p + (int64_t)e[k] * mr;
                o[k] = r[fastmod32(pos + (uint32_t)k, M[c], (uint32_t)c)]; /* M[1] = 0: index 0, no branch */
            }
        }
        return;
    }
    for (int64_t i = 0; i < a->tokens; i++) {
        uint64_t pos = (uint64_t)(a->first_token + i) * (uint64_t)kk;
        const int32_t *e = a->experts + i * kk;
        int32_t *o = out + i * kk;
        for (int32_t k = 0; k < kk; k++) {
            int32_t c = cnt[e[k]];
            const int32_t *r = l2p + (int64_t)e[k] * mr;
            o[k] = c == 1 ? r[0] : r[(pos + (uint64_t)k) % (uint64_t)c];
        }
    }
}

/* A seeded random replica per assignment, over all replicas. */
static void sel_random(const mp_select_args *a, int32_t *out)
{
    const mp_plan *p = a->plan;
    for (int64_t i = 0; i < a->tokens; i++)
        for (int32_t k = 0; k < a->kk; k++) {
            int32_t e = a->experts[i * a->kk + k];
            int32_t c = mp_plan_count(p, a->layer, e);
            uint64_t h = key5(a->seed, a->step, a->layer, a->first_token + i, k);
            out[i * a->kk + k] = mp_plan_replicas(p, a->layer, e)[c == 1 ? 0 : h % (uint64_t)c];
        }
}

/* A replica on the token's own GPU if there is one (the first by slot), else
 * a fixed replica per (source GPU, expert), the source GPUs spread evenly
 * over the replicas from a seeded offset. */
static void sel_static(const mp_select_args *a, int32_t *out)
{
    const mp_plan *p = a->plan;
    int32_t spg = p->topo.slots_per_gpu;
    for (int64_t i = 0; i < a->tokens; i++) {
        int32_t g = a->src_gpu[i];
        for (int32_t k = 0; k < a->kk; k++) {
            int32_t e = a->experts[i * a->kk + k];
            int32_t c = mp_plan_count(p, a->layer, e);
            const int32_t *r = mp_plan_replicas(p, a->layer, e);
            int32_t pick = -1;
            for (int32_t j = 0; j < c; j++)
                if (r[j] / spg == g) {
                    pick = r[j];
                    break;
                }
            if (pick < 0) {
                uint64_t off = key5(a->seed, 0, a->layer, e, 0x5743);
                pick = r[(off + (uint64_t)g) % (uint64_t)c];
            }
            out[i * a->kk + k] = pick;
        }
    }
}

/* Same GPU, then same node, then any replica; several candidates at the
 * nearest level are taken in turn by the assignment's position t*K + k. */
static void sel_local(const mp_select_args *a, int32_t *out)
{
    const mp_plan *p = a->plan;
    int32_t spg = p->topo.slots_per_gpu, gpn = p->topo.gpus / p->topo.nodes;
    for (int64_t i = 0; i < a->tokens; i++) {
        int32_t g = a->src_gpu[i], node = g / gpn;
        for (int32_t k = 0; k < a->kk; k++) {
            int32_t e = a->experts[i * a->kk + k];
            int32_t c = mp_plan_count(p, a->layer, e);
            const int32_t *r = mp_plan_replicas(p, a->layer, e);
            uint64_t pos = (uint64_t)(a->first_token + i) * (uint64_t)a->kk + (uint64_t)k;
            int32_t n_gpu = 0, n_node = 0;
            for (int32_t j = 0; j < c; j++) {
                int32_t rg = r[j] / spg;
                n_gpu += rg == g;
                n_node += rg / gpn == node;
            }
            int32_t pick;
            if (n_gpu > 0 || n_node > 0) {
                int want_gpu = n_gpu > 0;
                int32_t nth = (int32_t)(pos % (uint64_t)(want_gpu ? n_gpu : n_node));
                pick = -1;
                for (int32_t j = 0; j < c && pick < 0; j++) {
                    int32_t rg = r[j] / spg;
                    int ok = want_gpu ? rg == g : rg / gpn == node;
                    if (ok && nth-- == 0) pick = r[j];
                }
            } else {
                pick = r[pos % (uint64_t)c];
            }
            out[i * a->kk + k] = pick;
        }
    }
}

/* Each assignment, in order, to the replica whose GPU has the fewest rows of
 * this step and layer so far (the lowest slot on ties). */
static void sel_least_loaded(const mp_select_args *a, int32_t *out)
{
    const mp_plan *p = a->plan;
    int32_t spg = p->topo.slots_per_gpu;
    int64_t *load = a->state;
    for (int64_t i = 0; i < a->tokens; i++)
        for (int32_t k = 0; k < a->kk; k++) {
            int32_t e = a->experts[i * a->kk + k];
            int32_t c = mp_plan_count(p, a->layer, e);
            const int32_t *r = mp_plan_replicas(p, a->layer, e);
            int32_t best = r[0];
            int64_t bl = load[r[0] / spg];
            for (int32_t j = 1; j < c; j++) {
                int64_t l = load[r[j] / spg];
                if (l < bl) {
                    bl = l;
                    best = r[j];
                }
            }
            load[best / spg]++;
            out[i * a->kk + k] = best;
        }
}

/* ---------- vLLM ---------- */

/* vLLM's hash (fused_moe/router/base_router.py, _eplb_map_and_record_i32_kernel):
 * per token row t of the batch, h = (t * 2654435769) & 0xFFFFFFFF and the
 * replica is h mod count, over the expert's slots in ascending order.  Every
 * choice of one token hashes alike. */
#define KNUTH_MULTIPLIER 2654435769u
static void sel_vllm(const mp_select_args *a, int32_t *out)
{
    const mp_plan *p = a->plan;
    const int32_t *l2p = p->log2phy + (int64_t)a->layer * p->experts * p->max_replicas;
    const int32_t *cnt = p->replica_count + (int64_t)a->layer * p->experts;
    const int32_t mr = p->max_replicas, kk = a->kk;
    for (int64_t i = 0; i < a->tokens; i++) {
        uint32_t h = (uint32_t)(uint64_t)(a->first_token + i) * KNUTH_MULTIPLIER; /* mod 2^32 */
        const int32_t *e = a->experts + i * kk;
        int32_t *o = out + i * kk;
        for (int32_t k = 0; k < kk; k++) {
            int32_t c = cnt[e[k]];
            o[k] = l2p[(int64_t)e[k] * mr + (c == 1 ? 0 : (int32_t)(h % (uint32_t)c))];
        }
    }
}

/* ---------- SGLang ---------- */

/* SGLang's nearest replica of an expert for GPU g (expert_location.py,
 * _find_nearest_expert): the only replica; else the first on g; else, with
 * several nodes, the first on g's node when that narrows the candidates;
 * else -1. */
static int32_t nearest(const mp_plan *p, const int32_t *r, int32_t c, int32_t g)
{
    if (c == 1) return r[0];
    int32_t spg = p->topo.slots_per_gpu, gpn = p->topo.gpus / p->topo.nodes;
    for (int32_t j = 0; j < c; j++)
        if (r[j] / spg == g) return r[j];
    if (p->topo.nodes > 1) {
        int32_t first = -1, same = 0;
        for (int32_t j = 0; j < c; j++)
            if (r[j] / spg / gpn == g / gpn) {
                if (first < 0) first = r[j];
                same++;
            }
        if (same > 0 && same < c) return first;
    }
    return -1;
}

/* Cache of both SGLang rules: off[E] (row of each expert with several
 * replicas, -1 otherwise), then one row of P slots per such expert. */
static int64_t sglang_cache_words(const mp_plan *p)
{
    int64_t multi = (int64_t)p->slots - p->experts; /* experts with >= 2 replicas: at most R - E */
    if (multi < 0) multi = 0;
    return (int64_t)p->experts + multi * p->topo.gpus;
}

/* Seeded draw in [0, n). */
static inline uint32_t draw(uint64_t seed, int32_t layer, int32_t e, int64_t i, uint32_t n)
{
    return (uint32_t)(key5(seed, 0x5347, layer, ((int64_t)e << 32) | (uint32_t)i, 0x6c70) % n);
}

/* fixed = 1 (static, compute_logical_to_rank_dispatch_physical_map): the
 * GPUs with no nearest replica share the replicas fairly (each replica
 * floor(m/c) times, a seeded sample of m mod c of them once more, the list
 * shuffled by a seeded Fisher-Yates, GPUs taking it in ascending order).
 * fixed = 0 (dynamic): -1 where there is no nearest replica. */
static int build_sglang(const mp_plan *p, int32_t layer, uint64_t seed, int32_t *cache, int fixed)
{
    int32_t E = p->experts, P = p->topo.gpus;
    int32_t *off = cache, *rows = cache + E;
    int32_t *list = fixed ? malloc(((size_t)P + (size_t)p->max_replicas) * sizeof *list) : NULL;
    if (fixed && !list) return MP_ENOMEM;
    int32_t *perm = list ? list + P : NULL;
    int32_t nrow = 0;
    for (int32_t e = 0; e < E; e++) {
        int32_t c = mp_plan_count(p, layer, e);
        const int32_t *r = mp_plan_replicas(p, layer, e);
        if (c == 1) {
            off[e] = -1;
            continue;
        }
        int32_t *row = rows + (int64_t)nrow * P;
        off[e] = nrow++;
        int32_t m = 0;
        for (int32_t g = 0; g < P; g++) {
            row[g] = nearest(p, r, c, g);
            m += row[g] < 0;
        }
        if (!fixed || m == 0) continue;
        int32_t q = m / c, rem = m % c, n = 0;
        for (int32_t t = 0; t < q; t++)
            for (int32_t j = 0; j < c; j++) list[n++] = r[j];
        for (int32_t j = 0; j < c; j++) perm[j] = r[j];
        for (int32_t j = 0; j < rem; j++) { /* a sample of rem distinct replicas */
            int32_t x = j + (int32_t)draw(seed, layer, e, j, (uint32_t)(c - j)), t = perm[j];
            perm[j] = perm[x], perm[x] = t;
            list[n++] = perm[j];
        }
        for (int32_t j = m - 1; j > 0; j--) { /* shuffle */
            int32_t x = (int32_t)draw(seed, layer, e, (int64_t)c + j, (uint32_t)(j + 1)), t = list[j];
            list[j] = list[x], list[x] = t;
        }
        for (int32_t g = 0, i = 0; g < P; g++)
            if (row[g] < 0) row[g] = list[i++];
    }
    free(list);
    return 0;
}

static int build_sglang_static(const mp_plan *p, int32_t layer, uint64_t seed, int32_t *cache)
{
    return build_sglang(p, layer, seed, cache, 1);
}

static int build_sglang_dynamic(const mp_plan *p, int32_t layer, uint64_t seed, int32_t *cache)
{
    return build_sglang(p, layer, seed, cache, 0);
}

/* SGLang static: the source GPU's fixed replica of each expert. */
static void sel_sglang_static(const mp_select_args *a, int32_t *out)
{
    const mp_plan *p = a->plan;
    const int32_t P = p->topo.gpus, *off = a->cache, *rows = a->cache + p->experts;
    for (int64_t i = 0; i < a->tokens; i++) {
        int32_t g = a->src_gpu[i];
        for (int32_t k = 0; k < a->kk; k++) {
            int32_t e = a->experts[i * a->kk + k];
            out[i * a->kk + k] = off[e] < 0 ? mp_plan_replicas(p, a->layer, e)[0] : rows[(int64_t)off[e] * P + g];
        }
    }
}

/* SGLang dynamic: the nearest replica, else a random one of all (seeded per
 * assignment, as the random policy). */
static void sel_sglang_dynamic(const mp_select_args *a, int32_t *out)
{
    const mp_plan *p = a->plan;
    const int32_t P = p->topo.gpus, *off = a->cache, *rows = a->cache + p->experts;
    for (int64_t i = 0; i < a->tokens; i++) {
        int32_t g = a->src_gpu[i];
        for (int32_t k = 0; k < a->kk; k++) {
            int32_t e = a->experts[i * a->kk + k];
            const int32_t *r = mp_plan_replicas(p, a->layer, e);
            int32_t pick = off[e] < 0 ? r[0] : rows[(int64_t)off[e] * P + g];
            if (pick < 0) {
                uint64_t h = key5(a->seed, a->step, a->layer, a->first_token + i, k);
                pick = r[h % (uint64_t)mp_plan_count(p, a->layer, e)];
            }
            out[i * a->kk + k] = pick;
        }
    }
}

/* ---------- sglang-lp: the per-batch min-max split ---------- */

/* The LP of LPLB: split each expert's rows over its replicas to minimise the
 * largest GPU load.  As a transportation problem (source -> expert: rows;
 * expert -> GPU of each replica: unbounded; GPU -> sink: C) it is feasible
 * for bound C iff the max flow carries every row; with integer C the flow
 * can be integral, and the integer optimum is the fractional one rounded up,
 * so the smallest feasible integer C solves the rounded LP exactly.  C starts
 * at ceil(W/P); while the flow falls short, the experts X still reachable
 * from the source satisfy rows(X) > C |GPUs(X)| and C rises to
 * ceil(rows(X) / |GPUs(X)|) (Dinkelbach's step); raising the GPU capacities
 * keeps the flow found so far, so Dinic's algorithm resumes from it. */

typedef struct lp_net {
    int32_t V, M, S, T;
    int64_t *cap;             /* [2M] residual capacity       */
    int32_t *to, *nxt, *head; /* [2M], [2M], [V]              */
    int32_t *level, *it, *q;  /* [V] each                     */
    int32_t *pe;              /* [V] path of edges            */
} lp_net;

static void lp_edge(lp_net *n, int32_t u, int32_t v, int64_t c)
{
    n->to[n->M] = v, n->cap[n->M] = c, n->nxt[n->M] = n->head[u], n->head[u] = n->M++;
    n->to[n->M] = u, n->cap[n->M] = 0, n->nxt[n->M] = n->head[v], n->head[v] = n->M++;
}

static int lp_bfs(lp_net *n)
{
    for (int32_t v = 0; v < n->V; v++) n->level[v] = -1;
    int32_t qh = 0, qt = 0;
    n->q[qt++] = n->S;
    n->level[n->S] = 0;
    while (qh < qt) {
        int32_t u = n->q[qh++];
        for (int32_t e = n->head[u]; e >= 0; e = n->nxt[e])
            if (n->cap[e] > 0 && n->level[n->to[e]] < 0) {
                n->level[n->to[e]] = n->level[u] + 1;
                n->q[qt++] = n->to[e];
            }
    }
    return n->level[n->T] >= 0;
}

/* Blocking flow of one level graph, by iterative DFS. */
static int64_t lp_block(lp_net *n)
{
    int64_t total = 0;
    for (int32_t v = 0; v < n->V; v++) n->it[v] = n->head[v];
    int32_t depth = 0, u = n->S;
    for (;;) {
        if (u == n->T) {
            int64_t f = INT64_MAX;
            for (int32_t i = 0; i < depth; i++) f = n->cap[n->pe[i]] < f ? n->cap[n->pe[i]] : f;
            for (int32_t i = 0; i < depth; i++) {
                n->cap[n->pe[i]] -= f;
                n->cap[n->pe[i] ^ 1] += f;
            }
            total += f;
            depth = 0, u = n->S;
            continue;
        }
        int32_t e = n->it[u];
        while (e >= 0 && !(n->cap[e] > 0 && n->level[n->to[e]] == n->level[u] + 1)) e = n->nxt[e];
        n->it[u] = e;
        if (e >= 0) {
            n->pe[depth++] = e;
            u = n->to[e];
            continue;
        }
        if (depth == 0) return total;
        n->level[u] = -1; /* dead end */
        e = n->pe[--depth];
        u = n->to[e ^ 1];
        n->it[u] = n->nxt[n->it[u]];
    }
}

static int64_t lp_maxflow(lp_net *n)
{
    int64_t f = 0;
    while (lp_bfs(n)) f += lp_block(n);
    return f;
}

static inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

int64_t mp_policy_lp_solve(const mp_plan *p, int32_t layer, const int64_t *rows, int64_t *quota_out)
{
    int32_t E = p->experts, P = p->topo.gpus, R = p->slots, spg = p->topo.slots_per_gpu;
    int64_t W = 0;
    for (int32_t e = 0; e < E; e++) W += rows[e];
    if (quota_out)
        for (int32_t s = 0; s < R; s++) quota_out[s] = 0;
    if (W == 0) return 0;
    lp_net n;
    n.V = E + P + 2, n.S = E + P, n.T = E + P + 1, n.M = 0;
    size_t me = 2 * ((size_t)E + (size_t)R + (size_t)P);
    n.cap = malloc(me * sizeof *n.cap);
    n.to = malloc(me * sizeof *n.to);
    n.nxt = malloc(me * sizeof *n.nxt);
    n.head = malloc(6 * (size_t)n.V * sizeof *n.head);
    if (!n.cap || !n.to || !n.nxt || !n.head) {
        free(n.cap), free(n.to), free(n.nxt), free(n.head);
        return -1;
    }
    n.level = n.head + n.V, n.it = n.level + n.V, n.q = n.it + n.V, n.pe = n.q + n.V; /* pe: 2V */
    for (int32_t v = 0; v < n.V; v++) n.head[v] = -1;
    /* edges added in reverse so that adjacency lists run in ascending order */
    for (int32_t g = P - 1; g >= 0; g--) lp_edge(&n, E + g, n.T, 0);
    int32_t gpu_edge0 = 0; /* GPU g's edge to the sink is 2 * (P - 1 - g) */
    int32_t slot_edge0 = n.M;
    for (int32_t s = R - 1; s >= 0; s--) {
        int32_t e = mp_plan_layer(p, layer)[s];
        lp_edge(&n, e, E + s / spg, rows[e] > 0 ? INT64_MAX / 4 : 0);
    }
    for (int32_t e = E - 1; e >= 0; e--) lp_edge(&n, n.S, e, rows[e]);
    int64_t C = ceil_div(W, P), flow = 0;
    for (;;) {
        for (int32_t g = 0; g < P; g++) {
            int32_t ed = gpu_edge0 + 2 * (P - 1 - g);
            int64_t used = n.cap[ed ^ 1];
            n.cap[ed] = C - used;
        }
        flow += lp_maxflow(&n);
        if (flow == W) break;
        /* experts and GPUs still reachable from the source (lp_bfs's levels) */
        int64_t rx = 0, gx = 0;
        for (int32_t e = 0; e < E; e++)
            if (n.level[e] >= 0) rx += rows[e];
        for (int32_t g = 0; g < P; g++) gx += n.level[E + g] >= 0;
        int64_t next = gx > 0 ? ceil_div(rx, gx) : C + 1;
        C = next > C ? next : C + 1;
    }
    if (quota_out)
        for (int32_t s = 0; s < R; s++) quota_out[s] = n.cap[(slot_edge0 + 2 * (R - 1 - s)) ^ 1];
    free(n.cap), free(n.to), free(n.nxt), free(n.head);
    return C;
}

/* batch: quota[R] (rows each slot still takes), then cur[E] (each expert's
 * replica being filled). */
static int64_t lp_batch_words(const mp_plan *p) { return (int64_t)p->slots + p->experts; }

static void prep_lp(const mp_prepare_args *a, int64_t *batch)
{
    const mp_plan *p = a->plan;
    int64_t *quota = batch, *cur = batch + p->slots;
    for (int32_t e = 0; e < p->experts; e++) cur[e] = 0;
    if (mp_policy_lp_solve(p, a->layer, a->expert_rows, quota) < 0) {
        /* out of memory: an even split (deterministic, never short) */
        for (int32_t e = 0; e < p->experts; e++) {
            int32_t c = mp_plan_count(p, a->layer, e);
            const int32_t *r = mp_plan_replicas(p, a->layer, e);
            for (int32_t j = 0; j < c; j++) quota[r[j]] = a->expert_rows[e] / c + (j < a->expert_rows[e] % c);
        }
    }
}

/* Each expert's rows, in token order, fill its replicas' quotas in ascending
 * slot order. */
static void sel_lp(const mp_select_args *a, int32_t *out)
{
    const mp_plan *p = a->plan;
    int64_t *quota = a->batch, *cur = a->batch + p->slots;
    for (int64_t i = 0; i < a->tokens * a->kk; i++) {
        int32_t e = a->experts[i], c = mp_plan_count(p, a->layer, e);
        const int32_t *r = mp_plan_replicas(p, a->layer, e);
        int64_t j = cur[e];
        while (j < c - 1 && quota[r[j]] <= 0) j++;
        cur[e] = j;
        quota[r[j]]--;
        out[i] = r[j];
    }
}

/* ---------- TensorRT-LLM ---------- */

/* TensorRT-LLM's MoE load balancer route (moeLoadBalanceKernels.cu,
 * moeComputeRouteKernel): the batch's flat assignments t*K + k in blocks of
 * 1024; inside block b the n-th assignment of an expert (in flat order) takes
 * replica (b + n) mod count.  batch: per expert the block it was last seen
 * in (+1) and its count there. */
#define TRT_BLOCK 1024
static int64_t trt_batch_words(const mp_plan *p) { return 2 * (int64_t)p->experts; }

static void prep_trt(const mp_prepare_args *a, int64_t *batch)
{
    for (int64_t i = 0; i < 2 * (int64_t)a->plan->experts; i++) batch[i] = 0;
}

static void sel_trt(const mp_select_args *a, int32_t *out)
{
    const mp_plan *p = a->plan;
    int64_t *seen = a->batch, *occ = a->batch + p->experts;
    int64_t base = a->first_token * a->kk;
    for (int64_t i = 0; i < a->tokens * a->kk; i++) {
        int32_t e = a->experts[i], c = mp_plan_count(p, a->layer, e);
        const int32_t *r = mp_plan_replicas(p, a->layer, e);
        int64_t b = (base + i) / TRT_BLOCK;
        if (seen[e] != b + 1) seen[e] = b + 1, occ[e] = 0;
        out[i] = c == 1 ? r[0] : r[(b + occ[e]++) % c];
    }
}

/* ---------- the table ---------- */

#define SRC_VLLM "vLLM vllm/model_executor/layers/fused_moe/router/base_router.py (_eplb_map_and_record_i32_kernel)"
#define SRC_SGLANG "SGLang python/sglang/srt/eplb/expert_location.py and expert_location_dispatch.py"

static const mp_policy POLICIES[] = {
    {"vllm", "vLLM: replica ((t * 2654435769) mod 2^32) mod count, t the token's row", SRC_VLLM, sel_vllm, 0, 0,
     NULL, NULL, NULL, NULL},
    {"vllm-modulo", "vLLM before the hash (PR #24573): replica (t*K + k) mod count, ids by gate weight",
     "vLLM PR #24573 (eplb_map_to_physical_and_record)", sel_modulo, 1, 0, NULL, NULL, NULL, NULL},
    {"sglang-static", "SGLang static: own GPU's replica, else own node's, else a fixed fair share per GPU",
     SRC_SGLANG, sel_sglang_static, 0, 0, NULL, NULL, sglang_cache_words, build_sglang_static},
    {"sglang-dynamic", "SGLang dynamic: own GPU's replica, else own node's, else a random one", SRC_SGLANG,
     sel_sglang_dynamic, 0, 0, NULL, NULL, sglang_cache_words, build_sglang_dynamic},
    {"sglang-lp", "SGLang lp (LPLB): per step and layer, the split of each expert over its replicas "
                  "with the least max GPU load",
     "DeepSeek LPLB (github.com/deepseek-ai/LPLB); SGLang --ep-dispatch-algorithm lp", sel_lp, 0, 1,
     lp_batch_words, prep_lp, NULL, NULL},
    {"trtllm", "TensorRT-LLM: round robin per expert inside blocks of 1024 assignments",
     "TensorRT-LLM cpp/tensorrt_llm/kernels/moeLoadBalance/moeLoadBalanceKernels.cu (moeComputeRouteKernel)",
     sel_trt, 0, 0, trt_batch_words, prep_trt, NULL, NULL},
    {"random", "seeded random replica", "", sel_random, 0, 0, NULL, NULL, NULL, NULL},
    {"static", "replica on the source GPU, else a fixed even spread", "", sel_static, 0, 0, NULL, NULL, NULL, NULL},
    {"local", "same GPU, then same node, then any replica", "", sel_local, 0, 0, NULL, NULL, NULL, NULL},
    {"least-loaded", "replica on the GPU with the fewest rows so far in the step", "", sel_least_loaded, 0, 0, NULL,
     NULL, NULL, NULL},
};

const mp_policy *mp_policy_table(void) { return POLICIES; }
int mp_policy_count(void) { return (int)(sizeof POLICIES / sizeof POLICIES[0]); }
const mp_policy *mp_policy_default(void) { return &POLICIES[1]; }

const char *mp_policy_alias_of(const char *name) { return !strcmp(name, "modulo") ? "vllm-modulo" : NULL; }

const mp_policy *mp_policy_find(const char *name)
{
    const char *alias = mp_policy_alias_of(name);
    if (alias) name = alias;
    for (int i = 0; i < mp_policy_count(); i++)
        if (!strcmp(POLICIES[i].name, name)) return &POLICIES[i];
    return NULL;
}
