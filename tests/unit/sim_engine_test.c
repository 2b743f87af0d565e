/* sim_engine_test.c - hand-computed replays for every policy, conservation,
 * hosting, vLLM's modulo rule, even-split agreement, cost, thread invariance. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <cmocka.h>

#include "planner/mp_planner.h"
#include "tests/unit/sim_helpers.h"

/* 2 GPUs x 2 slots: expert 0 on slots 0 (GPU 0) and 3 (GPU 1), 1 on slot 1, 2 on slot 2. */
static const int32_t ROW4[4] = {0, 1, 2, 0};
static const int IDS4[8] = {0, 1, 0, 2, 0, 1, 2, 0};

static mp_sim_result *run_small(const char *policy, int nodes, const int32_t *src, int threads)
{
    mp_model m = tiny_model(1, 3, 2);
    mp_plan *p = make_plan(1, 3, 2, nodes, 2, ROW4);
    assert_non_null(p);
    mp_sim_opts o = mp_sim_opts_default();
    o.policy = mp_policy_find(policy);
    assert_non_null(o.policy);
    o.threads = threads;
    o.keep_series = 1;
    o.cost.table_len = 2; /* t(rows) = 10 us per row */
    o.cost.table[0] = (mp_cost_point){0, 0};
    o.cost.table[1] = (mp_cost_point){1, 10};
    o.cost.nvlink_GBps = 0.2; /* 200 B in 1 us */
    o.cost.net_GBps = 0.1;    /* 200 B in 2 us */
    mp_sim *s;
    mp_err err = {0};
    assert_int_equal(mp_sim_create(&s, p, &m, &o, &err), 0);
    mp_step st = {0};
    make_step(&st, 0, 1, 2, 4, IDS4, src);
    assert_int_equal(mp_sim_feed(s, &st, &err), 0);
    mp_sim_result *r;
    assert_int_equal(mp_sim_finish(s, &r, &err), 0);
    mp_step_release(&st);
    mp_sim_destroy(s);
    mp_plan_destroy(p);
    return r;
}

static void modulo_by_hand(void **state)
{
    (void)state;
    mp_sim_result *r = run_small("modulo", 1, NULL, 1);
    /* expert 0 at positions 0,2,4,7 -> replicas 0,0,0,1: GPU0 3+2 rows, GPU1 2+1 */
    assert_int_equal(r->gpu_rows[0], 5);
    assert_int_equal(r->gpu_rows[1], 3);
    assert_float_equal(r->maxmean.max, 1.25, 1e-12);
    assert_float_equal(r->gap_rep.mean, 0.25, 1e-12);
    assert_float_equal(r->trt_imb.mean, 0.25, 1e-12);
    assert_float_equal(r->vllm_bal.mean, 0.8, 1e-12);
    /* sources round-robin: t1 (GPU 1) sends to GPU 0: one NVLink copy of 100*2 B */
    assert_int_equal(r->traffic[0 * 2 + 0], 2);
    assert_int_equal(r->traffic[0 * 2 + 1], 0);
    assert_int_equal(r->traffic[1 * 2 + 0], 1);
    assert_int_equal(r->traffic[1 * 2 + 1], 2);
    assert_float_equal(r->total_nvl_bytes, 200, 1e-9);
    assert_float_equal(r->total_net_bytes, 0, 1e-9);
    assert_float_equal(r->tokens_maxmean.max, 3.0 / 2.5, 1e-12);
    /* cost: GPU0 5 rows * 10 us; links 2 * 1 us + 10 + 10 fixed */
    assert_float_equal(r->series[0].expert_us, 50, 1e-9);
    assert_float_equal(r->series[0].comm_us, 22, 1e-9);
    assert_float_equal(r->total_time_us, 72, 1e-9);
    assert_float_equal(r->series[0].active_max, 2, 0);
    mp_sim_result_destroy(r);
    /* two nodes of one GPU: the copy crosses the network instead */
    r = run_small("modulo", 2, NULL, 1);
    assert_float_equal(r->total_nvl_bytes, 0, 1e-9);
    assert_float_equal(r->total_net_bytes, 200, 1e-9);
    assert_float_equal(r->series[0].comm_us, 24, 1e-9);
    assert_int_equal(r->node_tokens[0], 3);
    assert_int_equal(r->node_tokens[1], 2);
    mp_sim_result_destroy(r);
}

static void least_loaded_by_hand(void **state)
{
    (void)state;
    mp_sim_result *r = run_small("least-loaded", 1, NULL, 1);
    assert_int_equal(r->gpu_rows[0], 4);
    assert_int_equal(r->gpu_rows[1], 4);
    assert_float_equal(r->maxmean.max, 1.0, 1e-12);
    mp_sim_result_destroy(r);
}

static void static_and_local_by_hand(void **state)
{
    (void)state;
    const int32_t src[4] = {0, 1, 0, 1};
    const char *pols[2] = {"static", "local"};
    for (int i = 0; i < 2; i++) {
        mp_sim_result *r = run_small(pols[i], 1, src, 1);
        /* every expert has a replica on its token's GPU: nothing moves */
        assert_int_equal(r->gpu_rows[0], 4);
        assert_int_equal(r->gpu_rows[1], 4);
        assert_float_equal(r->total_nvl_bytes, 0, 0);
        assert_int_equal(r->traffic[1], 0);
        assert_int_equal(r->traffic[2], 0);
        mp_sim_result_destroy(r);
    }
}

/* 4 GPUs in 2 nodes, one slot each: expert 0 on GPUs 0 and 2, expert 1 on GPUs 1 and 3. */
static void local_prefers_node(void **state)
{
    (void)state;
    const int32_t row[4] = {0, 1, 0, 1};
    mp_plan *p = make_plan(1, 2, 4, 2, 1, row);
    int32_t experts[4] = {1, 1, 0, 0}, srcg[4] = {0, 2, 1, 3}, slots[4];
    int64_t st[4] = {0};
    mp_select_args a = {p, 0, 0, 7, 1, 0, 4, experts, srcg, st, NULL, NULL};
    mp_policy_find("local")->select(&a, slots);
    assert_int_equal(slots[0], 1); /* GPU 0 wants 1: GPU 1, same node */
    assert_int_equal(slots[1], 3); /* GPU 2 wants 1: GPU 3 */
    assert_int_equal(slots[2], 0); /* GPU 1 wants 0: GPU 0 */
    assert_int_equal(slots[3], 2);
    /* static: the remote replica is fixed per (GPU, expert) and hosts the expert */
    mp_policy_find("static")->select(&a, slots);
    for (int i = 0; i < 4; i++) assert_int_equal(row[slots[i]], experts[i]);
    int32_t again[4];
    mp_policy_find("static")->select(&a, again);
    assert_memory_equal(slots, again, sizeof slots);
    mp_plan_destroy(p);
}

/* The exact vLLM rule, on random data, for every layer's position. */
static void modulo_is_vllm_rule(void **state)
{
    (void)state;
    const int32_t row[8] = {0, 1, 2, 0, 3, 0, 1, 2};
    mp_plan *p = make_plan(1, 4, 4, 1, 2, row);
    enum { T = 300, K = 3 };
    int32_t e[T * K], src[T], slots[T * K];
    uint64_t x = 88172645463325252ULL;
    for (int i = 0; i < T * K; i++) e[i] = (int32_t)(test_rng(&x) % 4);
    for (int i = 0; i < T; i++) src[i] = i % 4;
    int64_t st[4] = {0};
    mp_select_args a = {p, 0, 5, 1, K, 1000, T, e, src, st, NULL, NULL};
    mp_policy_find("modulo")->select(&a, slots);
    for (int t = 0; t < T; t++)
        for (int k = 0; k < K; k++) {
            int32_t ex = e[t * K + k];
            int64_t pos = (int64_t)(1000 + t) * K + k;
            int32_t want = mp_plan_replicas(p, 0, ex)[pos % mp_plan_count(p, 0, ex)];
            assert_int_equal(slots[t * K + k], want);
        }
    mp_plan_destroy(p);
}

/* Random trace, every policy: conservation and hosting; random is fair. */
static void conservation_and_hosting(void **state)
{
    (void)state;
    const int32_t row[8] = {0, 1, 2, 0, 3, 0, 1, 2};
    mp_plan *p = make_plan(2, 4, 4, 2, 2, row);
    enum { T = 4000, K = 2 };
    static int32_t e[T * K], src[T], slots[T * K];
    uint64_t x = 1234567;
    for (int i = 0; i < T * K; i++) e[i] = (int32_t)(test_rng(&x) % 4);
    for (int i = 0; i < T; i++) src[i] = (int32_t)(test_rng(&x) % 4);
    for (int pi = 0; pi < mp_policy_count(); pi++) {
        const mp_policy *pol = &mp_policy_table()[pi];
        int64_t st[4] = {0};
        mp_select_args a = {p, 1, 3, 42, K, 0, T, e, src, st, NULL, NULL};
        select_batch(pol, &a, slots);
        int64_t per_slot[8] = {0};
        for (int i = 0; i < T * K; i++) {
            assert_true(slots[i] >= 0 && slots[i] < 8);
            assert_int_equal(row[slots[i]], e[i]); /* lands on a slot of its expert */
            per_slot[slots[i]]++;
        }
        int64_t tot = 0;
        for (int i = 0; i < 8; i++) tot += per_slot[i];
        assert_int_equal(tot, T * K);
        if (!strcmp(pol->name, "random")) {
            /* expert 0's three replicas each get a third: 5 sd of a binomial */
            int64_t n0 = per_slot[0] + per_slot[3] + per_slot[5];
            double sd = sqrt(n0 * (1.0 / 3) * (2.0 / 3));
            assert_true(fabs(per_slot[0] - n0 / 3.0) < 5 * sd);
            assert_true(fabs(per_slot[5] - n0 / 3.0) < 5 * sd);
        }
    }
    mp_plan_destroy(p);
}

/* Six steps of t0 + step * dt tokens fed in pieces of `piece` tokens (the
 * routing does not depend on the split); same figures for 1, 2 and 3 threads
 * and every policy; conservation over the run. */
static mp_sim_result *random_trace_pieces(const mp_plan *p, const mp_model *m, const mp_policy *pol, int threads,
                                          int64_t piece, int64_t t0, int64_t dt)
{
    mp_sim_opts o = mp_sim_opts_default();
    o.policy = pol;
    o.threads = threads;
    o.keep_series = 1;
    o.seed = 9;
    mp_sim *s;
    assert_int_equal(mp_sim_create(&s, p, m, &o, NULL), 0);
    uint64_t x = 99, xs = 77;
    mp_step pc = {0};
    for (int64_t step = 0; step < 6; step++) {
        int64_t T = t0 + step * dt, done = 0;
        while (done < T) {
            int64_t n = T - done < piece ? T - done : piece;
            mp_step_reserve(&pc, n, m->layers, m->top_k, 0, step % 2, NULL);
            pc.step = step;
            pc.first_token = done;
            pc.end_of_step = done + n == T;
            for (int64_t i = 0; i < n * m->layers * m->top_k; i++) {
                uint64_t r = test_rng(&x) % 100;
                pc.ids[i] = (mp_expert_id)(r < 40 ? 0 : r % m->experts); /* expert 0 hot */
            }
            if (pc.src_rank)
                for (int64_t i = 0; i < n; i++) pc.src_rank[i] = (int32_t)(test_rng(&xs) % 16);
            assert_int_equal(mp_sim_feed(s, &pc, NULL), 0);
            done += n;
        }
    }
    mp_sim_result *r;
    assert_int_equal(mp_sim_finish(s, &r, NULL), 0);
    mp_step_release(&pc);
    mp_sim_destroy(s);
    return r;
}

static mp_sim_result *run_random_trace(const mp_plan *p, const mp_model *m, const mp_policy *pol, int threads)
{
    return random_trace_pieces(p, m, pol, threads, 64, 50, 37);
}

static void assert_same_result(const mp_sim_result *a, const mp_sim_result *b, int32_t L, int32_t P)
{
    assert_int_equal(a->steps, b->steps);
    assert_int_equal(a->assignments, b->assignments);
    assert_memory_equal(a->series, b->series, (size_t)a->steps * sizeof *a->series);
    assert_memory_equal(a->layer, b->layer, (size_t)L * sizeof *a->layer);
    assert_memory_equal(a->traffic, b->traffic, (size_t)P * P * sizeof(int64_t));
    assert_memory_equal(a->gpu_rows, b->gpu_rows, (size_t)P * sizeof(int64_t));
    assert_memory_equal(&a->maxmean, &b->maxmean, sizeof a->maxmean);
    assert_memory_equal(&a->time_us, &b->time_us, sizeof a->time_us);
}

/* The engine's paths give the same figures: whole small steps (played layer by
 * layer), steps split into pieces (accumulated per layer), links counted per
 * token (few tokens per source GPU) or per (source, destination) pair. */
static void piece_invariance(void **state)
{
    (void)state;
    mp_model m = tiny_model(5, 6, 2);
    m.shared = 1;
    const int32_t row[12] = {0, 1, 2, 3, 0, 4, 5, 0, 1, 2, 3, 0};
    mp_plan *p = make_plan(5, 6, 4, 2, 3, row);
    const int64_t shapes[][2] = {{50, 37}, {3, 2}}; /* tokens per step: t0 + step * dt */
    const int64_t pieces[] = {1000, 64, 5, 1};
    for (int pi = 0; pi < mp_policy_count(); pi++) {
        const mp_policy *pol = &mp_policy_table()[pi];
        for (int sh = 0; sh < 2; sh++) {
            mp_sim_result *a = random_trace_pieces(p, &m, pol, 1, pieces[0], shapes[sh][0], shapes[sh][1]);
            int64_t tot = 0;
            for (int g = 0; g < 4; g++) tot += a->gpu_rows[g];
            assert_int_equal(tot, a->tokens * 5 * 2);
            for (int j = 1; j < 4; j++)
                for (int th = 1; th <= 2; th++) {
                    mp_sim_result *b = random_trace_pieces(p, &m, pol, th, pieces[j], shapes[sh][0], shapes[sh][1]);
                    assert_same_result(a, b, 5, 4);
                    mp_sim_result_destroy(b);
                }
            mp_sim_result_destroy(a);
        }
    }
    mp_plan_destroy(p);
}

/* Many tokens per source GPU in one step and layer (past the 255 that the
 * engine's bit-plane counters hold between flushes), top-8 (the inlined
 * play loop): the per-(source, destination) counts agree with the
 * token-by-token path (1-token pieces) and with other splits. */
static void piece_invariance_many_per_source(void **state)
{
    (void)state;
    mp_model m = tiny_model(3, 16, 8);
    int32_t row[20];
    for (int32_t i = 0; i < 20; i++) row[i] = i % 16; /* 4 experts twice */
    mp_plan *p = make_plan(3, 16, 4, 2, 5, row);
    assert_non_null(p);
    const int64_t pieces[] = {5000, 1, 7, 300};
    for (int pi = 0; pi < mp_policy_count(); pi++) {
        const mp_policy *pol = &mp_policy_table()[pi];
        mp_sim_result *a = random_trace_pieces(p, &m, pol, 1, pieces[0], 1100, 250);
        int64_t tot = 0;
        for (int g = 0; g < 4; g++) tot += a->gpu_rows[g];
        assert_int_equal(tot, a->tokens * 3 * 8);
        for (int j = 1; j < 4; j++) {
            mp_sim_result *b = random_trace_pieces(p, &m, pol, 1 + (j == 3), pieces[j], 1100, 250);
            assert_same_result(a, b, 3, 4);
            mp_sim_result_destroy(b);
        }
        mp_sim_result_destroy(a);
    }
    mp_plan_destroy(p);
}

static void thread_invariance(void **state)
{
    (void)state;
    mp_model m = tiny_model(5, 6, 2);
    m.shared = 1;
    const int32_t row[12] = {0, 1, 2, 3, 0, 4, 5, 0, 1, 2, 3, 0};
    mp_plan *p = make_plan(5, 6, 4, 2, 3, row);
    for (int pi = 0; pi < mp_policy_count(); pi++) {
        const mp_policy *pol = &mp_policy_table()[pi];
        mp_sim_result *a = run_random_trace(p, &m, pol, 1);
        assert_int_equal(a->steps, 6);
        int64_t tot = 0;
        for (int g = 0; g < 4; g++) tot += a->gpu_rows[g];
        assert_int_equal(tot, a->tokens * 5 * 2);
        assert_int_equal(a->assignments, tot);
        for (int th = 2; th <= 3; th++) {
            mp_sim_result *b = run_random_trace(p, &m, pol, th);
            assert_int_equal(a->steps, b->steps);
            assert_memory_equal(a->series, b->series, (size_t)a->steps * sizeof *a->series);
            assert_memory_equal(a->layer, b->layer, 5 * sizeof *a->layer);
            assert_memory_equal(a->traffic, b->traffic, 16 * sizeof(int64_t));
            assert_memory_equal(a->gpu_rows, b->gpu_rows, 4 * sizeof(int64_t));
            mp_sim_result_destroy(b);
        }
        mp_sim_result_destroy(a);
    }
    mp_plan_destroy(p);
}

/* sim on the plan's own loads with an even split agrees with the plan's prediction. */
static void even_split_matches_prediction(void **state)
{
    (void)state;
    /* counts 3,1,2,2; loads 6,5,4,4: tokens in blocks so that t mod count cycles evenly */
    const int32_t row[8] = {0, 1, 0, 2, 0, 3, 2, 3};
    mp_plan *p = make_plan(1, 4, 4, 1, 2, row);
    mp_model m = tiny_model(1, 4, 1);
    int ids[19];
    int t = 0;
    for (int i = 0; i < 6; i++) ids[t++] = 0;
    for (int i = 0; i < 5; i++) ids[t++] = 1;
    for (int i = 0; i < 4; i++) ids[t++] = 2;
    for (int i = 0; i < 4; i++) ids[t++] = 3;
    mp_loads *ld;
    assert_int_equal(mp_loads_create(&ld, 1, 1, 4, NULL), 0);
    for (int i = 0; i < 19; i++) ld->count[ids[i]] += 1;
    double layer_pred;
    double pred = mp_plan_even_maxmean(p, ld, &layer_pred);
    assert_float_equal(pred, 7.0 / 4.75, 1e-12);
    assert_float_equal(layer_pred, 7.0 / 4.75, 1e-12);
    mp_sim_opts o = mp_sim_opts_default();
    mp_sim *s;
    assert_int_equal(mp_sim_create(&s, p, &m, &o, NULL), 0);
    mp_step st = {0};
    make_step(&st, 0, 1, 1, 19, ids, NULL);
    assert_int_equal(mp_sim_feed(s, &st, NULL), 0);
    mp_sim_result *r;
    assert_int_equal(mp_sim_finish(s, &r, NULL), 0);
    assert_float_equal(r->maxmean.mean, pred, 1e-12);
    assert_float_equal(1.0 / r->vllm_bal_run, pred, 1e-12);
    assert_float_equal(r->run_maxmean, pred, 1e-12);
    /* the planner's own metrics on the same loads agree */
    mp_plan_metrics *pm;
    double w[4] = {6, 5, 4, 4};
    assert_int_equal(mp_plan_metrics_compute(&pm, p, w, NULL), 0);
    assert_float_equal(pm->mean_max_over_mean, r->maxmean.mean, 1e-12);
    assert_float_equal(pm->sglang_balancedness, r->sglang_bal.mean, 1e-9);
    assert_float_equal(pm->trtllm_imbalance, r->trt_imb.mean, 1e-12);
    assert_float_equal(pm->gap_lb_rep, r->gap_rep.mean, 1e-12);
    mp_plan_metrics_destroy(pm);
    mp_sim_result_destroy(r);
    mp_step_release(&st);
    mp_sim_destroy(s);
    mp_loads_destroy(ld);
    mp_plan_destroy(p);
}

/* A fused shared expert takes a (K+1)-th assignment from every token. */
static void shared_fusion(void **state)
{
    (void)state;
    mp_model m = tiny_model(1, 3, 2);
    m.shared = 1;
    const int32_t row[6] = {0, 3, 1, 3, 2, 3}; /* shared (id 3) on every GPU */
    mp_topology topo = {3, 1, 2};
    mp_plan *p;
    assert_int_equal(mp_plan_create(&p, 1, 4, &topo, NULL), 0);
    p->routed = 3;
    p->shared_id = 3;
    memcpy(mp_plan_layer(p, 0), row, sizeof row);
    assert_int_equal(mp_plan_derive(p, NULL), 0);
    mp_sim_opts o = mp_sim_opts_default();
    o.policy = mp_policy_find("local");
    mp_sim *s;
    assert_int_equal(mp_sim_create(&s, p, &m, &o, NULL), 0);
    const int ids[6] = {0, 1, 1, 2, 0, 2};
    mp_step st = {0};
    make_step(&st, 0, 1, 2, 3, ids, NULL);
    assert_int_equal(mp_sim_feed(s, &st, NULL), 0);
    mp_sim_result *r;
    assert_int_equal(mp_sim_finish(s, &r, NULL), 0);
    assert_int_equal(r->assignments, 9);
    /* token t on GPU t takes the shared expert locally: one extra row per GPU */
    assert_int_equal(r->gpu_rows[0], 2 + 1);
    assert_int_equal(r->gpu_rows[1], 2 + 1);
    assert_int_equal(r->gpu_rows[2], 2 + 1);
    mp_sim_result_destroy(r);
    mp_step_release(&st);
    mp_sim_destroy(s);
    mp_plan_destroy(p);
}

static void bad_input(void **state)
{
    (void)state;
    mp_model m = tiny_model(1, 3, 2);
    mp_plan *p = make_plan(1, 3, 2, 1, 2, ROW4);
    mp_sim *s;
    mp_err err = {0};
    mp_model wrong = tiny_model(2, 3, 2);
    assert_int_equal(mp_sim_create(&s, p, &wrong, NULL, &err), MP_ESHAPE);
    assert_int_equal(mp_sim_create(&s, p, &m, NULL, &err), 0);
    mp_step st = {0};
    int ids[8] = {0, 1, 0, 2, 0, 1, 2, 7};
    make_step(&st, 3, 1, 2, 4, ids, NULL);
    assert_int_equal(mp_sim_feed(s, &st, &err), MP_ERANGE);
    assert_non_null(strstr(err.msg, "token 3"));
    mp_step_release(&st);
    mp_sim_destroy(s);
    assert_int_equal(mp_sim_create(&s, p, &m, NULL, &err), 0);
    ids[7] = 0;
    make_step(&st, 3, 1, 2, 4, ids, NULL);
    assert_int_equal(mp_sim_feed(s, &st, &err), 0);
    st.step = 2;
    assert_int_equal(mp_sim_feed(s, &st, &err), MP_EFORMAT);
    mp_step_release(&st);
    mp_sim_destroy(s);
    mp_sim_destroy(NULL);
    mp_sim_result_destroy(NULL);
    mp_plan_destroy(p);
}

/* Traffic accounting against a brute-force reference, for the bit-mask path
 * (P <= 64) and the general one (P > 64): per token, the distinct GPUs of its
 * replicas; one network copy per remote node (to the GPU of the source's
 * local index), NVLink copies to every other GPU except the landing one. */
static void traffic_reference(int32_t P, int32_t N)
{
    enum { T = 300, K = 3 };
    int32_t L = 2, E = P, gpn = P / N;
    int32_t *row = malloc((size_t)P * sizeof *row);
    for (int32_t g = 0; g < P; g++) row[g] = (g * 7) % P; /* a permutation: 7 and P coprime here */
    mp_plan *p = make_plan(L, E, P, N, 1, row);
    assert_non_null(p);
    mp_model m = tiny_model(L, E, K);
    int *ids = malloc(T * K * sizeof *ids);
    int32_t *src = malloc(T * sizeof *src);
    uint64_t x = 4242;
    for (int t = 0; t < T; t++) {
        src[t] = (int32_t)(test_rng(&x) % (uint64_t)P);
        for (int k = 0; k < K; k++) {
            int e, dup;
            do {
                e = (int)(test_rng(&x) % (uint64_t)E);
                dup = 0;
                for (int j = 0; j < k; j++) dup |= ids[t * K + j] == e;
            } while (dup);
            ids[t * K + k] = e;
        }
    }
    mp_sim_opts o = mp_sim_opts_default();
    o.threads = 2;
    mp_sim *s;
    assert_int_equal(mp_sim_create(&s, p, &m, &o, NULL), 0);
    mp_step st = {0};
    make_step(&st, 0, L, K, T, ids, src);
    assert_int_equal(mp_sim_feed(s, &st, NULL), 0);
    mp_sim_result *r;
    assert_int_equal(mp_sim_finish(s, &r, NULL), 0);
    /* reference: one slot per GPU, so expert e sits on the GPU g with row[g] == e */
    int32_t *gpu_of = malloc((size_t)E * sizeof *gpu_of);
    for (int32_t g = 0; g < P; g++) gpu_of[row[g]] = g;
    int64_t *tr = calloc((size_t)P * P, sizeof *tr);
    double nvl = 0, net = 0, tb = 100 * 2.0;
    for (int t = 0; t < T; t++) {
        char *seen = calloc((size_t)P, 1), *nseen = calloc((size_t)N, 1);
        int32_t sg = src[t], sn = sg / gpn;
        for (int k = 0; k < K; k++) {
            int32_t g = gpu_of[ids[t * K + k]];
            if (seen[g]) continue;
            seen[g] = 1;
            tr[(int64_t)sg * P + g] += L;
            int32_t nd = g / gpn, via = nd == sn ? sg : nd * gpn + sg % gpn;
            if (nd != sn && !nseen[nd]) {
                nseen[nd] = 1;
                net += L * tb;
            }
            if (g != via) nvl += L * tb;
        }
        free(seen);
        free(nseen);
    }
    assert_memory_equal(r->traffic, tr, (size_t)P * P * sizeof *tr);
    assert_float_equal(r->total_net_bytes, net, 1e-6);
    assert_float_equal(r->total_nvl_bytes, nvl, 1e-6);
    int64_t rows = 0;
    for (int32_t g = 0; g < P; g++) rows += r->gpu_rows[g];
    assert_int_equal(rows, (int64_t)T * K * L);
    free(gpu_of);
    free(tr);
    free(ids);
    free(src);
    free(row);
    mp_sim_result_destroy(r);
    mp_step_release(&st);
    mp_sim_destroy(s);
    mp_plan_destroy(p);
}

/* LB_rep per step against D'Hondt's apportionment done by brute force (every
 * extra seat to the largest rows / copies, no early stop), on steps where the
 * heavy experts fit in the extra slots (the fast exit) and where they do not. */
static void lb_rep_reference(void **state)
{
    (void)state;
    enum { E = 6, P = 4, K = 2, STEPS = 60 };
    const int32_t row[8] = {0, 1, 2, 3, 4, 5, 0, 1}; /* 2 extra slots */
    mp_plan *p = make_plan(1, E, P, 1, 2, row);
    assert_non_null(p);
    mp_model m = tiny_model(1, E, K);
    mp_sim_opts o = mp_sim_opts_default();
    o.keep_series = 1;
    mp_sim *s;
    assert_int_equal(mp_sim_create(&s, p, &m, &o, NULL), 0);
    uint64_t x = 31337;
    double want[STEPS];
    int fits = 0, spills = 0;
    mp_step st = {0};
    for (int step = 0; step < STEPS; step++) {
        int T = 1 + (int)(test_rng(&x) % 40), ids[2 * 40];
        int hot = 20 + (int)(test_rng(&x) % 81); /* percent of tokens on experts 0-2 */
        int64_t rows[E] = {0};
        for (int t = 0; t < T; t++) {
            int base = (int)(test_rng(&x) % 100) < hot ? 0 : 3, a = (int)(test_rng(&x) % 3);
            ids[t * K] = base + a; /* two distinct experts of {0, 1, 2} (hot) or {3, 4, 5} */
            ids[t * K + 1] = base + (a + 1 + (int)(test_rng(&x) % 2)) % 3;
            rows[ids[t * K]]++;
            rows[ids[t * K + 1]]++;
        }
        double mean = (double)(T * K) / P;
        int64_t c[E] = {1, 1, 1, 1, 1, 1};
        for (int seat = 0; seat < 2; seat++) {
            int b = 0;
            for (int e = 1; e < E; e++)
                if (rows[e] * c[b] > rows[b] * c[e]) b = e;
            c[b]++;
        }
        double top = 0;
        int64_t need = 0;
        for (int e = 0; e < E; e++) {
            double q = (double)rows[e] / (double)c[e];
            top = q > top ? q : top;
            for (int64_t k = 1;; k++)
                if ((double)rows[e] / (double)k <= mean) {
                    need += k - 1;
                    break;
                }
        }
        if (need <= 2)
            fits++;
        else
            spills++;
        want[step] = top > mean ? top : mean;
        make_step(&st, step, 1, K, T, ids, NULL);
        assert_int_equal(mp_sim_feed(s, &st, NULL), 0);
    }
    mp_sim_result *r;
    assert_int_equal(mp_sim_finish(s, &r, NULL), 0);
    assert_true(fits > 5 && spills > 5);
    for (int step = 0; step < STEPS; step++) {
        const mp_sim_stepm *sm = &r->series[step];
        double mean = (double)(sm->tokens * K) / P, mx = sm->maxmean * mean, lb = mx / (sm->gap_rep + 1.0);
        assert_float_equal(lb, want[step], 1e-9 * want[step]);
    }
    mp_sim_result_destroy(r);
    mp_step_release(&st);
    mp_sim_destroy(s);
    mp_plan_destroy(p);
}

static void traffic_bitmask_path(void **state)
{
    (void)state;
    traffic_reference(64, 8);
}

static void traffic_general_path(void **state)
{
    (void)state;
    traffic_reference(72, 8);
}

static void summary_percentiles(void **state)
{
    (void)state;
    double v[100];
    for (int i = 0; i < 100; i++) v[i] = 100 - i; /* 1..100 reversed */
    mp_summary s = mp_summarize(v, 100);
    assert_float_equal(s.mean, 50.5, 1e-12);
    assert_float_equal(s.p50, 50, 0);
    assert_float_equal(s.p90, 90, 0);
    assert_float_equal(s.p99, 99, 0);
    assert_float_equal(s.max, 100, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(modulo_by_hand),         cmocka_unit_test(least_loaded_by_hand),
        cmocka_unit_test(static_and_local_by_hand), cmocka_unit_test(local_prefers_node),
        cmocka_unit_test(modulo_is_vllm_rule),    cmocka_unit_test(conservation_and_hosting),
        cmocka_unit_test(thread_invariance),      cmocka_unit_test(even_split_matches_prediction),
        cmocka_unit_test(shared_fusion),          cmocka_unit_test(bad_input),
        cmocka_unit_test(summary_percentiles),   cmocka_unit_test(traffic_bitmask_path),
        cmocka_unit_test(traffic_general_path),   cmocka_unit_test(piece_invariance),
        cmocka_unit_test(piece_invariance_many_per_source),
        cmocka_unit_test(lb_rep_reference),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
