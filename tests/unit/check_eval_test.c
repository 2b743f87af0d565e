/* check_eval_test.c - evaluating several placements over one in-memory trace:
 * loads counted right, exact balance on even routing, the best entry, thread
 * independence, setup errors and source failures. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "sim/mp_check.h"
#include "traces/gen/mp_gen.h"
#include "tests/unit/sim_helpers.h"

#define L_ 3
#define E_ 16
#define K_ 2
#define STEPS_ 4
#define T_ 96

/* a trace in memory: STEPS_ steps of T_ tokens, two pieces per step */
typedef struct memsrc {
    int skewed;     /* 0: token t picks experts t%E and (t+1)%E on every layer */
    int pos;        /* next piece: step * 2 + half */
    int fail_at;    /* piece index at which next fails (-1: never) */
    uint64_t seed;
} memsrc;

static int ms_next(void *ctx, mp_step *pc, mp_err *err)
{
    memsrc *m = ctx;
    if (m->pos == m->fail_at) return mp_err_set(err, MP_EFORMAT, "memsrc: offset %d: broken piece", m->pos);
    if (m->pos >= STEPS_ * 2) return 0;
    int64_t step = m->pos / 2, half = m->pos % 2, n = T_ / 2;
    if (mp_step_reserve(pc, n, L_, K_, 0, 1, err)) return MP_ENOMEM;
    pc->step = step;
    pc->first_token = half * n;
    pc->end_of_step = half == 1;
    uint64_t x = m->seed + (uint64_t)m->pos * 7919u + 1;
    for (int64_t t = 0; t < n; t++) {
        int64_t tok = pc->first_token + t;
        pc->src_rank[t] = (int32_t)(tok % 4);
        for (int32_t l = 0; l < L_; l++) {
            int a, b;
            if (!m->skewed) {
                a = (int)(tok % E_);
                b = (int)((tok + 1) % E_);
            } else {
                /* experts 0..3 hot: half the picks */
                a = (int)(test_rng(&x) % 2 ? test_rng(&x) % 4 : test_rng(&x) % E_);
                b = (a + 1 + (int)(test_rng(&x) % (E_ - 1))) % E_;
            }
            pc->ids[(t * L_ + l) * K_] = (mp_expert_id)a;
            pc->ids[(t * L_ + l) * K_ + 1] = (mp_expert_id)b;
        }
    }
    m->pos++;
    return 1;
}

static int ms_rewind(void *ctx, mp_err *err)
{
    (void)err;
    ((memsrc *)ctx)->pos = 0;
    return 0;
}

static mp_model model(void)
{
    mp_model m = tiny_model(L_, E_, K_);
    snprintf(m.name, sizeof m.name, "tiny");
    m.groups = 1;
    m.topk_group = 1;
    m.shared = 0;
    return m;
}

static mp_eval_setup setup(const char *list)
{
    mp_eval_setup s = mp_eval_setup_default();
    s.gpus = 4;
    s.nodes = 2;
    s.redundant = 4;
    assert_int_equal(mp_eval_add_strategies(&s, list, NULL), 0);
    return s;
}

static mp_eval *run(const mp_eval_setup *s, int skewed, int threads)
{
    memsrc m = {skewed, 0, -1, 42};
    mp_piece_source src = {&m, ms_next, ms_rewind};
    mp_model md = model();
    mp_eval *ev = NULL;
    mp_err err = {0};
    int rc = mp_eval_run(&ev, s, &src, &md, threads, NULL, NULL, NULL, &err);
    if (rc) fprintf(stderr, "%s\n", err.msg);
    assert_int_equal(rc, 0);
    return ev;
}

static void test_counts_and_even_balance(void **state)
{
    (void)state;
    mp_eval_setup s = setup("linear,round-robin,eplb,balanced");
    mp_eval *ev = run(&s, 0, 1);
    assert_int_equal(ev->n, 4);
    assert_int_equal(ev->steps, STEPS_);
    assert_int_equal(ev->tokens, STEPS_ * T_);
    for (int32_t l = 0; l < L_; l++) {
        double sum = 0;
        for (int32_t e = 0; e < E_; e++) {
            /* every expert is picked by 2 of every 16 consecutive tokens */
            assert_true(mp_loads_row(ev->loads, 0, l)[e] == STEPS_ * T_ * K_ / E_);
            sum += mp_loads_row(ev->loads, 0, l)[e];
        }
        assert_true(sum == STEPS_ * T_ * K_);
    }
    /* even loads: linear and round-robin are perfectly balanced on the summed loads */
    assert_string_equal(ev->r[0].entry.name, "linear");
    assert_int_equal(ev->r[0].plan->topo.slots_per_gpu, E_ / 4);
    assert_int_equal(ev->r[2].plan->topo.slots_per_gpu, (E_ + 4) / 4);
    assert_true(fabs(ev->r[0].metric[MP_M_PLAN_MAXMEAN] - 1.0) < 1e-12);
    assert_true(fabs(ev->r[1].metric[MP_M_PLAN_WORST] - 1.0) < 1e-12);
    for (int i = 0; i < ev->n; i++) {
        assert_non_null(ev->r[i].sim);
        assert_int_equal(ev->r[i].sim->steps, STEPS_);
        assert_true(ev->r[i].metric[MP_M_SIM_MAXMEAN] >= 1.0);
        assert_true(ev->r[i].metric[MP_M_VLLM_BAL] > 0 && ev->r[i].metric[MP_M_VLLM_BAL] <= 1.0 + 1e-12);
        assert_true(ev->r[i].metric[MP_M_STEP_US] > 0);
        assert_true(ev->r[i].bound_us <= ev->r[i].metric[MP_M_STEP_US] + 1e-9);
        assert_true(ev->r[ev->best].metric[MP_M_STEP_US] <= ev->r[i].metric[MP_M_STEP_US]);
    }
    mp_eval_destroy(ev);
}

static void test_skew_favours_replication(void **state)
{
    (void)state;
    mp_eval_setup s = setup("linear,balanced");
    mp_eval *ev = run(&s, 1, 1);
    /* hot experts 0..3 sit on GPU 0 under linear placement */
    assert_true(ev->r[0].metric[MP_M_PLAN_MAXMEAN] > 1.5);
    assert_true(ev->r[1].metric[MP_M_PLAN_MAXMEAN] < ev->r[0].metric[MP_M_PLAN_MAXMEAN]);
    assert_true(ev->r[1].metric[MP_M_SIM_MAXMEAN] < ev->r[0].metric[MP_M_SIM_MAXMEAN]);
    mp_eval_destroy(ev);
}

static void test_threads_do_not_matter(void **state)
{
    (void)state;
    mp_eval_setup s = setup("linear,eplb,balanced");
    mp_eval *a = run(&s, 1, 1), *b = run(&s, 1, 3);
    for (int i = 0; i < a->n; i++) {
        assert_memory_equal(a->r[i].metric, b->r[i].metric, sizeof a->r[i].metric);
        assert_memory_equal(a->r[i].plan->phy2log, b->r[i].plan->phy2log,
                            (size_t)a->r[i].plan->layers * a->r[i].plan->slots * sizeof(int32_t));
    }
    assert_int_equal(a->best, b->best);
    char *ja = mp_baseline_to_json(a), *jb = mp_baseline_to_json(b);
    assert_string_equal(ja, jb);
    free(ja), free(jb);
    mp_eval_destroy(a);
    mp_eval_destroy(b);
}

static void test_setup_errors(void **state)
{
    (void)state;
    mp_err err = {0};
    mp_eval_setup s = mp_eval_setup_default();
    assert_int_equal(mp_eval_add_strategies(&s, "linear,nope", &err), MP_EINVAL);
    assert_non_null(strstr(err.msg, "nope"));
    s = mp_eval_setup_default();
    assert_int_equal(mp_eval_add_strategies(&s, "eplb,eplb", &err), MP_EINVAL);
    assert_int_equal(mp_eval_add_strategies(&s, "", &err), MP_EINVAL);
    s = setup("eplb");
    assert_int_equal(mp_eval_setup_validate(&s, &err), 0);
    s.gpus = 6;
    s.nodes = 4;
    assert_int_equal(mp_eval_setup_validate(&s, &err), MP_EINVAL);
    s = setup("eplb");
    snprintf(s.policy, sizeof s.policy, "bogus");
    assert_int_equal(mp_eval_setup_validate(&s, &err), MP_EINVAL);
    s = mp_eval_setup_default();
    assert_int_equal(mp_eval_setup_validate(&s, &err), MP_EINVAL); /* no entries */

    /* 16 + 3 slots do not split over 4 GPUs: named, nothing leaked */
    s = setup("linear,eplb");
    s.redundant = 3;
    memsrc m = {0, 0, -1, 1};
    mp_piece_source src = {&m, ms_next, ms_rewind};
    mp_model md = model();
    mp_eval *ev = (mp_eval *)1;
    assert_int_equal(mp_eval_run(&ev, &s, &src, &md, 1, NULL, NULL, NULL, &err), MP_EINVAL);
    assert_null(ev);
    assert_non_null(strstr(err.msg, "19 slots"));
}

static void test_source_failure(void **state)
{
    (void)state;
    mp_eval_setup s = setup("linear,eplb");
    mp_model md = model();
    mp_err err = {0};
    for (int at = 0; at < STEPS_ * 2; at += 3) {
        /* fails in the counting pass */
        memsrc m = {1, 0, at, 1};
        mp_piece_source src = {&m, ms_next, ms_rewind};
        mp_eval *ev = NULL;
        assert_int_equal(mp_eval_run(&ev, &s, &src, &md, 1, NULL, NULL, NULL, &err), MP_EFORMAT);
        assert_null(ev);
        assert_non_null(strstr(err.msg, "broken piece"));
    }
    /* an empty trace */
    memsrc m = {1, STEPS_ * 2, -1, 1};
    mp_piece_source src = {&m, ms_next, NULL};
    mp_eval *ev = NULL;
    assert_int_equal(mp_eval_run(&ev, &s, &src, &md, 1, NULL, NULL, NULL, &err), MP_EFORMAT);
    assert_null(ev);
}

static void test_destroy_null(void **state)
{
    (void)state;
    mp_eval_destroy(NULL);
    mp_baseline_destroy(NULL);
    mp_check_diff_destroy(NULL);
    mp_gen_source_close(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counts_and_even_balance), cmocka_unit_test(test_skew_favours_replication),
        cmocka_unit_test(test_threads_do_not_matter),   cmocka_unit_test(test_setup_errors),
        cmocka_unit_test(test_source_failure),          cmocka_unit_test(test_destroy_null),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
