/* select.c - replica-selection policies behind one signature, in one table. */
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

/* vLLM (PR #24573): replica = (t*K + k) mod count, t the token's index in
 * the step.  Counts up to 64 use Lemire's 32-bit fastmod (exact for 32-bit
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

/* SGLang dynamic: a seeded random replica per assignment. */
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

/* SGLang static: a replica on the token's own GPU if there is one (the first
 * by slot), else a fixed replica per (source GPU, expert), the source GPUs
 * spread evenly over the replicas from a seeded offset. */
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

static const mp_policy POLICIES[] = {
    {"modulo", "vLLM: replica (t*K + k) mod count", sel_modulo},
    {"random", "SGLang dynamic: seeded random replica", sel_random},
    {"static", "SGLang static: replica on the source GPU, else a fixed even spread", sel_static},
    {"local", "same GPU, then same node, then any replica", sel_local},
    {"least-loaded", "replica on the GPU with the fewest rows so far in the step", sel_least_loaded},
};

const mp_policy *mp_policy_table(void) { return POLICIES; }
int mp_policy_count(void) { return (int)(sizeof POLICIES / sizeof POLICIES[0]); }

const mp_policy *mp_policy_find(const char *name)
{
    for (int i = 0; i < mp_policy_count(); i++)
        if (!strcmp(POLICIES[i].name, name)) return &POLICIES[i];
    return NULL;
}
