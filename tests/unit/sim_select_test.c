/* sim_select_test.c - the engines' replica rules against hand-computed cases:
 * vLLM's hash, SGLang's static and dynamic nearness, the sglang-lp solver
 * against brute force, TensorRT-LLM's block round robin, the gate-weight
 * order of vllm-modulo, and the deprecated name. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "tests/unit/sim_helpers.h"

/* 4 GPUs, 1 slot each (one node): expert 0 on slots 0, 1, 3; expert 1 on slot 2. */
static const int32_t ROW_A[4] = {0, 0, 1, 0};

static void vllm_hash_by_hand(void **state)
{
    (void)state;
    mp_plan *p = make_plan(1, 2, 4, 1, 1, ROW_A);
    /* h(t) = t * 2654435769 mod 2^32; expert 0 has 3 replicas (slots 0, 1, 3):
     * t=0: h=0 -> 0 -> slot 0; t=1: h=2654435769, %3 = 0 -> slot 0;
     * t=2: h=1013904242 (5308871538 - 2^32), %3 = 2 -> slot 3;
     * t=3: h=3668340011, %3 = 2 -> slot 3; t=4: h=2027808484, %3 = 1 -> slot 1. */
    int32_t e[5 * 2] = {0, 1, 0, 1, 0, 1, 0, 1, 0, 1}, src[5] = {0}, slots[10];
    int64_t st[4] = {0};
    mp_select_args a = {p, 0, 0, 1, 2, 0, 5, e, src, st, NULL, NULL};
    select_batch(mp_policy_find("vllm"), &a, slots);
    const int32_t want0[5] = {0, 0, 3, 3, 1};
    for (int t = 0; t < 5; t++) {
        assert_int_equal(slots[2 * t], want0[t]);
        assert_int_equal(slots[2 * t + 1], 2); /* one replica */
    }
    /* t is the row in the step: first_token shifts it; 2^32 + 2 hashes as 2 */
    a.first_token = ((int64_t)1 << 32) + 2;
    a.tokens = 1;
    select_batch(mp_policy_find("vllm"), &a, slots);
    assert_int_equal(slots[0], 3);
    mp_plan_destroy(p);
}

/* 8 GPUs in 2 nodes, 1 slot each: expert 0 on GPUs 1 and 5 (one per node),
 * expert 1 on GPUs 2, 3 and 6 (two in node 0), expert 2 everywhere else. */
static const int32_t ROW_B[8] = {2, 0, 1, 1, 2, 0, 1, 2};

static void sglang_static_nearness(void **state)
{
    (void)state;
    mp_plan *p = make_plan(1, 3, 8, 2, 1, ROW_B);
    enum { T = 8 };
    int32_t e[T], src[T], slots[T], again[T];
    int64_t st[8] = {0};
    for (int g = 0; g < T; g++) e[g] = 0, src[g] = g;
    mp_select_args a = {p, 0, 0, 5, 1, 0, T, e, src, st, NULL, NULL};
    const mp_policy *sp = mp_policy_find("sglang-static"), *dp = mp_policy_find("sglang-dynamic");
    /* expert 0: own GPU (1, 5), else own node's: node 0 -> slot 1, node 1 -> slot 5 */
    const int32_t want0[T] = {1, 1, 1, 1, 5, 5, 5, 5};
    select_batch(sp, &a, slots);
    assert_memory_equal(slots, want0, sizeof want0);
    select_batch(dp, &a, slots);
    assert_memory_equal(slots, want0, sizeof want0);
    /* expert 1: own GPU for 2, 3, 6; node 0's first (slot 2) for 0, 1; node 1's (6) for 4, 5, 7 */
    for (int g = 0; g < T; g++) e[g] = 1;
    const int32_t want1[T] = {2, 2, 2, 3, 6, 6, 6, 6};
    select_batch(sp, &a, slots);
    assert_memory_equal(slots, want1, sizeof want1);
    select_batch(dp, &a, slots);
    assert_memory_equal(slots, want1, sizeof want1);
    mp_plan_destroy(p);
    /* one node: expert 0 on GPUs 1 and 5 only; GPUs 0,2,3,4,6,7 share them fairly (3 each) */
    mp_plan *q = make_plan(1, 3, 8, 1, 1, ROW_B);
    a.plan = q;
    for (int g = 0; g < T; g++) e[g] = 0;
    select_batch(sp, &a, slots);
    int n1 = 0, n5 = 0;
    for (int g = 0; g < T; g++) {
        if (g == 1 || g == 5) assert_int_equal(slots[g], g);
        else n1 += slots[g] == 1, n5 += slots[g] == 5;
    }
    assert_int_equal(n1, 3);
    assert_int_equal(n5, 3);
    select_batch(sp, &a, again); /* fixed per GPU */
    assert_memory_equal(slots, again, sizeof slots);
    /* dynamic: random over both for the far GPUs, per token; fixed by the seed */
    enum { M = 4000 };
    static int32_t e2[M], s2[M], o2[M], o3[M];
    for (int i = 0; i < M; i++) e2[i] = 0, s2[i] = 0;
    mp_select_args b = {q, 0, 3, 5, 1, 0, M, e2, s2, st, NULL, NULL};
    select_batch(dp, &b, o2);
    select_batch(dp, &b, o3);
    assert_memory_equal(o2, o3, sizeof o2);
    int c1 = 0;
    for (int i = 0; i < M; i++) {
        assert_true(o2[i] == 1 || o2[i] == 5);
        c1 += o2[i] == 1;
    }
    assert_true(c1 > M / 2 - 200 && c1 < M / 2 + 200);
    mp_plan_destroy(q);
}

/* Brute force: the least max GPU load over every split of each expert's rows
 * over its replicas (tiny cases). */
static int64_t brute(const mp_plan *p, const int64_t *rows, int32_t e, int64_t *load)
{
    int32_t P = p->topo.gpus, spg = p->topo.slots_per_gpu;
    if (e == p->experts) {
        int64_t m = 0;
        for (int32_t g = 0; g < P; g++) m = load[g] > m ? load[g] : m;
        return m;
    }
    int32_t c = mp_plan_count(p, 0, e);
    const int32_t *r = mp_plan_replicas(p, 0, e);
    int64_t best = INT64_MAX;
    if (c == 1) {
        load[r[0] / spg] += rows[e];
        best = brute(p, rows, e + 1, load);
        load[r[0] / spg] -= rows[e];
        return best;
    }
    /* c <= 3 here: x to the first, y to the second, the rest to the third */
    for (int64_t x = 0; x <= rows[e]; x++)
        for (int64_t y = 0; y <= (c == 3 ? rows[e] - x : 0); y++) {
            int64_t z = rows[e] - x - y;
            if (c == 2) y = rows[e] - x, z = 0;
            load[r[0] / spg] += x, load[r[1] / spg] += y;
            if (c == 3) load[r[2] / spg] += z;
            int64_t m = brute(p, rows, e + 1, load);
            best = m < best ? m : best;
            load[r[0] / spg] -= x, load[r[1] / spg] -= y;
            if (c == 3) load[r[2] / spg] -= z;
        }
    return best;
}

static void lp_is_optimal(void **state)
{
    (void)state;
    uint64_t x = 4242;
    for (int trial = 0; trial < 60; trial++) {
        /* 3 GPUs x 2 slots, 4 experts: a random layout with every expert at least once */
        int32_t row[6];
        for (int s = 0; s < 4; s++) row[s] = s;
        row[4] = (int32_t)(test_rng(&x) % 4), row[5] = (int32_t)(test_rng(&x) % 4);
        for (int s = 5; s > 0; s--) { /* shuffle the slots */
            int j = (int)(test_rng(&x) % (uint64_t)(s + 1)), t = row[s];
            row[s] = row[j], row[j] = t;
        }
        mp_plan *p = make_plan(1, 4, 3, 1, 2, row);
        assert_non_null(p);
        int64_t rows[4], quota[6], load[3] = {0};
        for (int e = 0; e < 4; e++) rows[e] = (int64_t)(test_rng(&x) % 9);
        int64_t C = mp_policy_lp_solve(p, 0, rows, quota);
        assert_int_equal(C, brute(p, rows, 0, load));
        /* the split: sums to each expert's rows, no GPU above C */
        int64_t per_e[4] = {0}, per_g[3] = {0};
        for (int s = 0; s < 6; s++) {
            assert_true(quota[s] >= 0);
            per_e[row[s]] += quota[s];
            per_g[s / 2] += quota[s];
        }
        for (int e = 0; e < 4; e++) assert_int_equal(per_e[e], rows[e]);
        for (int g = 0; g < 3; g++) assert_true(per_g[g] <= C);
        mp_plan_destroy(p);
    }
}

/* The policy on one batch: GPU loads reach the solver's bound exactly. */
static void lp_policy_meets_bound(void **state)
{
    (void)state;
    /* 2 GPUs x 2 slots: expert 0 on slots 0 and 2 (both GPUs), 1 on slot 1, 2 on slot 3.
     * rows: e0 = 6, e1 = 4, e2 = 0: GPU 0 takes e1's 4, so the best is 5 / 5. */
    const int32_t row[4] = {0, 1, 0, 2};
    mp_plan *p = make_plan(1, 3, 2, 1, 2, row);
    int32_t e[10] = {0, 1, 0, 1, 0, 1, 0, 1, 0, 0}, src[10] = {0}, slots[10];
    int64_t st[2] = {0};
    mp_select_args a = {p, 0, 0, 1, 1, 0, 10, e, src, st, NULL, NULL};
    select_batch(mp_policy_find("sglang-lp"), &a, slots);
    int64_t g[2] = {0};
    for (int i = 0; i < 10; i++) {
        assert_int_equal(row[slots[i]], e[i]);
        g[slots[i] / 2]++;
    }
    assert_int_equal(g[0], 5);
    assert_int_equal(g[1], 5);
    /* expert 0's first token goes to slot 0 (its quota 1), the rest to slot 2 */
    assert_int_equal(slots[0], 0);
    assert_int_equal(slots[2], 2);
    mp_plan_destroy(p);
}

/* TensorRT-LLM: blocks of 1024 flat choices; (block + n) mod count. */
static void trtllm_by_hand(void **state)
{
    (void)state;
    mp_plan *p = make_plan(1, 2, 4, 1, 1, ROW_A); /* expert 0 on slots 0, 1, 3 */
    enum { T = 1030 };
    static int32_t e[T], src[T], slots[T];
    for (int i = 0; i < T; i++) e[i] = i % 2 ? 1 : 0;
    int64_t st[4] = {0};
    mp_select_args a = {p, 0, 0, 1, 1, 0, T, e, src, st, NULL, NULL};
    select_batch(mp_policy_find("trtllm"), &a, slots);
    const int32_t rep[3] = {0, 1, 3};
    for (int i = 0; i < T; i++) {
        if (e[i] == 1) {
            assert_int_equal(slots[i], 2);
            continue;
        }
        int b = i / 1024, n = (i % 1024) / 2; /* expert 0 at every even place */
        assert_int_equal(slots[i], rep[(b + n) % 3]);
    }
    mp_plan_destroy(p);
}

/* vllm-modulo sees ids in descending gate weight when the trace has weights. */
static void modulo_gate_order(void **state)
{
    (void)state;
    /* 2 GPUs x 2 slots: expert 0 on slots 0 and 2, expert 1 on slot 1, expert 2 on slot 3 */
    const int32_t row[4] = {0, 1, 0, 2};
    mp_plan *p = make_plan(1, 3, 2, 1, 2, row);
    mp_model m = tiny_model(1, 3, 2);
    mp_sim_opts o = mp_sim_opts_default();
    o.policy = mp_policy_find("modulo"); /* the deprecated name */
    assert_string_equal(o.policy->name, "vllm-modulo");
    assert_null(mp_policy_alias_of("vllm-modulo"));
    mp_step st = {0};
    mp_step_reserve(&st, 1, 1, 2, 1, 0, NULL);
    st.step = 0, st.first_token = 0, st.end_of_step = 1;
    /* token 0: ids (1, 0), weights (0.2, 0.8): by weight 0 comes first, at k = 0:
     * replica (0*2 + 0) mod 2 = 0 -> slot 0 (GPU 0); as stored it is k = 1 -> slot 2 (GPU 1) */
    st.ids[0] = 1, st.ids[1] = 0;
    st.weights[0] = 0.2f, st.weights[1] = 0.8f;
    for (int with_w = 0; with_w < 2; with_w++) {
        mp_sim *s;
        assert_int_equal(mp_sim_create(&s, p, &m, &o, NULL), 0);
        float *keep = st.weights;
        if (!with_w) st.weights = NULL;
        assert_int_equal(mp_sim_feed(s, &st, NULL), 0);
        st.weights = keep;
        mp_sim_result *r;
        assert_int_equal(mp_sim_finish(s, &r, NULL), 0);
        /* expert 1 is on GPU 0; expert 0's replica decides GPU 0's rows: 2 by weight, 1 as stored */
        assert_int_equal(r->gpu_rows[0], with_w ? 2 : 1);
        mp_sim_result_destroy(r);
        mp_sim_destroy(s);
    }
    mp_step_release(&st);
    mp_plan_destroy(p);
}

/* sglang-lp over a step in pieces equals the step in one piece. */
static void lp_gathers_pieces(void **state)
{
    (void)state;
    const int32_t row[8] = {0, 1, 2, 0, 3, 0, 1, 2};
    mp_plan *p = make_plan(2, 4, 4, 2, 2, row);
    mp_model m = tiny_model(2, 4, 2);
    mp_sim_opts o = mp_sim_opts_default();
    o.policy = mp_policy_find("sglang-lp");
    o.keep_series = 1;
    int64_t rows0[2] = {0, 0};
    for (int pieces = 1; pieces <= 3; pieces += 2) {
        mp_sim *s;
        assert_int_equal(mp_sim_create(&s, p, &m, &o, NULL), 0);
        uint64_t x = 31;
        mp_step st = {0};
        for (int64_t step = 0; step < 3; step++) {
            int64_t T = 90, done = 0, n = T / pieces;
            while (done < T) {
                int64_t k = T - done < n ? T - done : n;
                mp_step_reserve(&st, k, 2, 2, 0, 0, NULL);
                st.step = step, st.first_token = done, st.end_of_step = done + k == T;
                for (int64_t i = 0; i < k * 4; i++) st.ids[i] = (mp_expert_id)(test_rng(&x) % 4);
                assert_int_equal(mp_sim_feed(s, &st, NULL), 0);
                done += k;
            }
        }
        mp_step_release(&st);
        mp_sim_result *r;
        assert_int_equal(mp_sim_finish(s, &r, NULL), 0);
        if (pieces == 1) rows0[0] = r->gpu_rows[0], rows0[1] = r->gpu_rows[1];
        else assert_true(rows0[0] == r->gpu_rows[0] && rows0[1] == r->gpu_rows[1]);
        assert_int_equal(r->steps, 3);
        mp_sim_result_destroy(r);
        mp_sim_destroy(s);
    }
    mp_plan_destroy(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(vllm_hash_by_hand),  cmocka_unit_test(sglang_static_nearness),
        cmocka_unit_test(lp_is_optimal),      cmocka_unit_test(lp_policy_meets_bound),
        cmocka_unit_test(trtllm_by_hand),     cmocka_unit_test(modulo_gate_order),
        cmocka_unit_test(lp_gathers_pieces),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
