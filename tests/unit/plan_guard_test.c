/* plan_guard_test.c - the planner guards its own indices: every registered
 * strategy refuses NaN, infinite, negative and overflowing loads and absurd
 * shapes before it writes anything; the building blocks refuse what would
 * index out of range; denormal loads plan. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "planner/mp_planner.h"

#define L_ 2
#define E_ 8
#define P_ 2
#define S_ 8

static int32_t out[L_ * P_ * S_];

/* Runs every strategy on in (R == E for the ones without redundant slots)
 * and expects `code` from each, with phy2log untouched and the message
 * holding `needle`. */
static void expect_all_(mp_strategy_input in, int adjust, int code, const char *needle)
{
    for (int i = 0; i < mp_strategy_count(); i++) {
        const mp_strategy *st = mp_strategy_at(i);
        mp_strategy_input x = in;
        if (adjust && !st->redundant && x.topo.gpus > 0 && x.experts > 0 && x.experts % x.topo.gpus == 0)
            x.topo.slots_per_gpu = x.experts / x.topo.gpus;
        for (size_t k = 0; k < sizeof out / sizeof out[0]; k++) out[k] = -7;
        mp_err err = {0};
        int rc = st->run(&x, out, &err);
        if (rc != code || !strstr(err.msg, needle)) fprintf(stderr, "%s: rc %d '%s'\n", st->name, rc, err.msg);
        assert_int_equal(rc, code);
        assert_int_equal(err.code, code);
        assert_non_null(strstr(err.msg, needle));
        for (size_t k = 0; k < sizeof out / sizeof out[0]; k++) assert_int_equal(out[k], -7);
    }
}

#define expect_all(in, code, needle) expect_all_(in, 1, code, needle)

static void fill(double *w, double v)
{
    for (int i = 0; i < L_ * E_; i++) w[i] = 1 + i % 5;
    w[E_ + 3] = v; /* layer 1, expert 3 */
}

static mp_strategy_input input_of(const double *w)
{
    mp_strategy_input in = {L_, E_, w, NULL, 1, {P_, 1, S_}, 0, 0, 0, NULL, 0};
    return in;
}

static void bad_values(void **state)
{
    (void)state;
    double w[L_ * E_];
    fill(w, NAN);
    expect_all(input_of(w), MP_ERANGE, "load of layer 1 expert 3 is");
    fill(w, INFINITY);
    expect_all(input_of(w), MP_ERANGE, "load of layer 1 expert 3 is inf");
    fill(w, -1);
    expect_all(input_of(w), MP_ERANGE, "load of layer 1 expert 3 is -1");
    /* every value finite, the sum not: the balanced heap overflow of issue 11 */
    for (int i = 0; i < L_ * E_; i++) w[i] = i < E_ ? 1 : 1e308;
    expect_all(input_of(w), MP_ERANGE, "the loads of layer 1 sum to inf");
    for (int i = 0; i < L_ * E_; i++) w[i] = 1e19; /* 8e19 a layer, each value finite */
    expect_all(input_of(w), MP_ERANGE, "beyond 2^64");
}

static void bad_shapes(void **state)
{
    (void)state;
    double w[L_ * E_];
    fill(w, 1);
    mp_strategy_input in = input_of(w);
    in.layers = 0;
    expect_all(in, MP_EINVAL, "bad shape");
    in = input_of(w), in.experts = -3;
    expect_all(in, MP_EINVAL, "bad shape");
    in = input_of(w), in.topo.gpus = 0;
    expect_all(in, MP_EINVAL, "topology");
    in = input_of(w), in.topo.nodes = 3;
    expect_all(in, MP_EINVAL, "topology");
    in = input_of(w), in.topo.slots_per_gpu = 2, in.topo.gpus = 2; /* R = 4 < E = 8 */
    expect_all_(in, 0, MP_EINVAL, "cannot hold");
    in = input_of(w), in.fixed = E_ + 1;
    expect_all(in, MP_EINVAL, "fixed");
    in = input_of(w), in.locality = NAN;
    expect_all(in, MP_EINVAL, "locality");
    in = input_of(w), in.groups = -2;
    expect_all(in, MP_EINVAL, "groups");
    int32_t ident[E_] = {0, 1, 2, 3, 4, 5, 6, 8};
    in = input_of(w), in.ident = ident;
    expect_all(in, MP_EINVAL, "identity 8 of expert 7");
    in = input_of(w), in.load = NULL;
    expect_all(in, MP_EINVAL, "no input");
    /* the non-redundant strategies need R == E exactly */
    in = input_of(w);
    mp_err err = {0};
    assert_int_equal(mp_strategy_find("linear")->run(&in, out, &err), MP_EINVAL);
    assert_non_null(strstr(err.msg, "exactly 8 slots, not 16"));
}

static void planner_refuses(void **state)
{
    (void)state;
    mp_loads *l;
    assert_int_equal(mp_loads_create(&l, 1, 1, 8, NULL), 0);
    for (int e = 0; e < 8; e++) l->count[e] = e < 4 ? 1e308 : e;
    mp_plan_request rq = {"balanced", {2, 1, 8}, 0, 0, 0, 0, 0};
    mp_plan *p = NULL;
    mp_err err = {0};
    assert_int_equal(mp_planner_run(&p, l, &rq, &err), MP_ERANGE);
    assert_null(p);
    assert_non_null(strstr(err.msg, "plan: the loads of layer 0 sum to inf"));
    /* finite sums plan, and the plan is whole */
    for (int e = 0; e < 8; e++) l->count[e] = e < 4 ? 1e15 : e;
    assert_int_equal(mp_planner_run(&p, l, &rq, &err), 0);
    double *w = mp_plan_expert_loads(p, l);
    assert_non_null(w);
    mp_plan_metrics *m = NULL;
    assert_int_equal(mp_plan_metrics_compute(&m, p, w, &err), 0);
    assert_true(isfinite(m->worst_max_over_mean));
    mp_plan_metrics_destroy(m);
    free(w);
    /* loads of another layer count than the plan's */
    mp_loads *l2;
    assert_int_equal(mp_loads_create(&l2, 1, 2, 8, NULL), 0);
    assert_null(mp_plan_expert_loads(p, l2));
    mp_loads_destroy(l2);
    /* a corrupted plan: metrics refuse it instead of indexing with it */
    double w8[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    p->phy2log[3] = 99;
    assert_int_equal(mp_plan_metrics_compute(&m, p, w8, &err), MP_ERANGE);
    assert_null(m);
    int32_t cnt[8];
    double gpu[2];
    assert_true(isnan(mp_layer_max_load(p->phy2log, 16, 8, w8, 8, cnt, gpu)));
    mp_plan_destroy(p);
    mp_loads_destroy(l);
}

static void blocks_refuse(void **state)
{
    (void)state;
    double w[6] = {1, 2, 3, 4, 5, 6};
    int32_t pack[6], place[6], cnt[6];
    assert_int_equal(mp_eplb_pack(w, 5, 2, pack, place), MP_EINVAL); /* 5 items do not split over 2 packs */
    assert_int_equal(mp_eplb_pack(w, 6, 0, pack, place), MP_EINVAL);
    assert_int_equal(mp_eplb_pack(w, 6, 2, pack, place), 0);
    assert_int_equal(mp_dhondt(w, 0, 4, 0, cnt, NULL), MP_EINVAL);
    /* NaN weights: D'Hondt and the packing still index only in range */
    double nw[6] = {NAN, 1, NAN, 2, 0, NAN};
    int32_t extra[6];
    assert_int_equal(mp_dhondt(nw, 6, 12, 0, cnt, extra), 0);
    int32_t total = 0;
    for (int e = 0; e < 6; e++) total += cnt[e];
    assert_int_equal(total, 12);
    for (int i = 0; i < 6; i++) assert_true(extra[i] >= 0 && extra[i] < 6);
    assert_int_equal(mp_eplb_pack(nw, 6, 3, pack, place), 0);
    for (int i = 0; i < 6; i++) assert_true(pack[i] >= 0 && pack[i] < 3 && place[i] >= 0 && place[i] < 2);
}

static void denormal_loads_plan(void **state)
{
    (void)state;
    /* layer totals so small that W / m rounds to 0: a count of replicas once came from ceil(w / 0) */
    double w[L_ * E_];
    for (int i = 0; i < L_ * E_; i++) w[i] = (i % 3) * 4.9406564584124654e-324;
    for (int i = 0; i < mp_strategy_count(); i++) {
        const mp_strategy *st = mp_strategy_at(i);
        mp_strategy_input in = input_of(w);
        if (!st->redundant) in.topo.slots_per_gpu = E_ / P_;
        mp_err err = {0};
        assert_int_equal(st->run(&in, out, &err), 0);
        int32_t R = in.topo.gpus * in.topo.slots_per_gpu;
        for (int l = 0; l < L_; l++) {
            int seen[E_] = {0};
            for (int32_t s = 0; s < R; s++) {
                int32_t e = out[l * R + s];
                assert_true(e >= 0 && e < E_);
                seen[e] = 1;
            }
            for (int e = 0; e < E_; e++) assert_true(seen[e]);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(bad_values),   cmocka_unit_test(bad_shapes),          cmocka_unit_test(planner_refuses),
        cmocka_unit_test(blocks_refuse), cmocka_unit_test(denormal_loads_plan),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
