/* bench_select.c - speed of each replica-selection rule (sim/select.c) on its
 * own, on DeepSeek-V3-shaped routing.
 *
 *   bench_select [-n RUNS] [-J FILE] [TOKENS] [GPUS]
 *
 * 58 layers x 256 experts, top-8 from a per-layer Zipf(1) popularity;
 * GPUS GPUs (default 64) in 8 nodes, 5 slots each: every expert once, the
 * remaining slots more replicas of the hottest.  A batch of TOKENS tokens
 * (default 8192; 256 is a decode batch) goes through every layer as the
 * simulator hands it out: the rule's per-layer tables built once (timed
 * apart), its prepare once per layer with the batch's rows per expert (for
 * sglang-lp: the LP), then select over runs of 256 tokens.  Prints million
 * assignments per second (wall and CPU) per rule and, for rules with a prepare, the
 * microseconds per layer of it.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/harness.h"
#include "sim/mp_sim.h"

enum { L = 58, E = 256, K = 8, RUN = 256 };

static uint64_t rng(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

/* ids [L][T][K], distinct per token, Zipf(1) over a shuffled order per layer */
static void make_ids(int32_t *ids, int64_t T, uint64_t seed)
{
    uint64_t x = seed;
    static double cdf[E];
    double s = 0, c = 0;
    for (int e = 0; e < E; e++) s += 1.0 / (e + 1);
    for (int e = 0; e < E; e++) cdf[e] = (c += 1.0 / (e + 1) / s);
    for (int l = 0; l < L; l++) {
        int order[E];
        for (int e = 0; e < E; e++) order[e] = e;
        for (int e = E - 1; e > 0; e--) {
            int j = (int)(rng(&x) % (uint64_t)(e + 1)), t = order[e];
            order[e] = order[j], order[j] = t;
        }
        for (int64_t t = 0; t < T; t++) {
            int32_t *o = ids + ((int64_t)l * T + t) * K;
            for (int k = 0; k < K;) {
                double u = (double)(rng(&x) >> 11) / 9007199254740992.0;
                int lo = 0, hi = E - 1;
                while (lo < hi) {
                    int mid = (lo + hi) / 2;
                    if (cdf[mid] < u) lo = mid + 1;
                    else hi = mid;
                }
                int e = order[lo], dup = 0;
                for (int j = 0; j < k; j++) dup |= o[j] == e;
                if (!dup) o[k++] = e;
            }
        }
    }
}

static mp_plan *make_plan(int32_t gpus)
{
    mp_topology t = {gpus, 8, 5};
    mp_plan *p = NULL;
    if (mp_plan_create(&p, L, E, &t, NULL)) return NULL;
    p->routed = E;
    p->shared_id = -1;
    int32_t R = p->slots;
    for (int32_t l = 0; l < L; l++) {
        int32_t *row = mp_plan_layer(p, l);
        /* expert e at slot e; extra slot 256 + j hosts expert (j * 7) mod 64 of the hot ones */
        for (int32_t s = 0; s < R; s++) row[s] = s < E ? s : (int32_t)(((s - E) * 7) % 64);
    }
    if (mp_plan_derive(p, NULL)) {
        mp_plan_destroy(p);
        return NULL;
    }
    return p;
}

int main(int argc, char **argv)
{
    bh *h;
    int rc = bh_open(&h, "bench_select", "[TOKENS] [GPUS]", 5, &argc, argv);
    if (!h) return rc;
    int64_t T = argc > 1 ? atoll(argv[1]) : 8192;
    int32_t P = argc > 2 ? atoi(argv[2]) : 64;
    if (argc > 3 || T < 1 || T > 1 << 20 || P < 8 || P % 8 || P * 5 < E) {
        bh_usage(h);
        bh_close(h);
        return 2;
    }
    mp_plan *p = make_plan(P);
    int32_t *ids = malloc((size_t)(L * T * K) * sizeof *ids);
    int32_t *src = malloc((size_t)T * sizeof *src), *out = malloc((size_t)(RUN * K) * sizeof *out);
    int64_t *rows = malloc(E * sizeof *rows), state[4096];
    if (!p || !ids || !src || !out || !rows) return 1;
    make_ids(ids, T, 7);
    for (int64_t t = 0; t < T; t++) src[t] = (int32_t)(t % P);
    double assignments = (double)L * (double)T * K;
    bh_param(h, "layers", "%d", L);
    bh_param(h, "experts", "%d", E);
    bh_param(h, "top_k", "%d", K);
    bh_param(h, "tokens", "%lld", (long long)T);
    bh_param(h, "gpus", "%d", P);
    bh_param(h, "slots", "%d", p->slots);
    bh_section(h, "selection per rule (a batch through every layer)");
    int reps = bh_runs_wanted(h);
    uint64_t sink = 0;
    int hosted = 1;
    for (int pi = 0; pi < mp_policy_count(); pi++) {
        const mp_policy *pol = &mp_policy_table()[pi];
        int64_t cw = pol->cache_words ? pol->cache_words(p) : 0, bw = pol->batch_words ? pol->batch_words(p) : 0;
        int32_t *cache = cw ? malloc((size_t)(cw * L) * sizeof *cache) : NULL;
        int64_t *batch = bw ? malloc((size_t)bw * sizeof *batch) : NULL;
        if ((cw && !cache) || (bw && !batch)) return 1;
        bh_clock cc;
        bh_clock_start(&cc);
        for (int32_t l = 0; l < L && cw; l++)
            if (pol->build_cache(p, l, 1, cache + l * cw)) return 1;
        double build_ms = bh_clock_stop(&cc).wall * 1e3;
        static bh_runs runs;
        memset(&runs, 0, sizeof runs);
        double prep_s = 0;
        for (int r = 0; r < reps; r++) {
            bh_clock c;
            bh_clock_start(&c);
            for (int32_t l = 0; l < L; l++) {
                const int32_t *li = ids + (int64_t)l * T * K;
                if (pol->prepare) {
                    bh_clock pc;
                    bh_clock_start(&pc);
                    memset(rows, 0, E * sizeof *rows);
                    for (int64_t i = 0; i < T * K; i++) rows[li[i]]++;
                    mp_prepare_args pa = {p, l, r, 1, K, T, rows};
                    pol->prepare(&pa, batch);
                    prep_s += bh_clock_stop(&pc).wall;
                }
                memset(state, 0, sizeof state);
                for (int64_t t0 = 0; t0 < T; t0 += RUN) {
                    int64_t n = T - t0 < RUN ? T - t0 : RUN;
                    mp_select_args a = {p, l, r, 1, K, t0, n, li + t0 * K, src + t0, state, batch,
                                        cache ? cache + l * cw : NULL};
                    pol->select(&a, out);
                    sink += (uint64_t)out[0] + (uint64_t)out[n * K - 1];
                }
            }
            bh_runs_add(&runs, bh_clock_stop(&c));
        }
        /* once more, untimed: every choice is a slot of its expert */
        for (int32_t l = 0; l < L; l++) {
            const int32_t *li = ids + (int64_t)l * T * K;
            if (pol->prepare) {
                memset(rows, 0, E * sizeof *rows);
                for (int64_t i = 0; i < T * K; i++) rows[li[i]]++;
                mp_prepare_args pa = {p, l, 0, 1, K, T, rows};
                pol->prepare(&pa, batch);
            }
            memset(state, 0, sizeof state);
            for (int64_t t0 = 0; t0 < T; t0 += RUN) {
                int64_t n = T - t0 < RUN ? T - t0 : RUN;
                mp_select_args a = {p, l, 0, 1, K, t0, n, li + t0 * K, src + t0, state, batch,
                                    cache ? cache + l * cw : NULL};
                pol->select(&a, out);
                for (int64_t i = 0; i < n * K; i++) hosted &= mp_plan_layer(p, l)[out[i]] == li[t0 * K + i];
            }
        }
        double t = bh_runs_median(&runs, BH_WALL);
        bh_row *x = bh_row_begin(h, pol->name, &runs);
        bh_row_num(x, "M assign/s", "%.1f", assignments / t / 1e6);
        bh_row_num(x, "M assign/cpu-s", "%.1f", assignments / bh_runs_median(&runs, BH_CPU) / 1e6);
        bh_row_num(x, "cpu ns/assign", "%.2f", bh_runs_median(&runs, BH_CPU) / assignments * 1e9);
        bh_row_num(x, "prepare us/layer", "%.1f", pol->prepare ? prep_s / reps / L * 1e6 : NAN);
        bh_row_num(x, "tables ms", "%.2f", cw ? build_ms : NAN);
        bh_row_end(x);
        free(cache);
        free(batch);
    }
    bh_note(h, "checksum %llu", (unsigned long long)sink);
    bh_check(h, "every choice is a slot of its expert", hosted);
    free(ids), free(src), free(out), free(rows);
    mp_plan_destroy(p);
    return bh_close(h);
}
