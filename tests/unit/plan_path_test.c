/* plan_path_test.c - the migration move path (planner/migrate.c): building
 * it (order, cumulative figures, moves counted independently), choosing
 * within budgets (copies <= N and bytes <= budget exactly, a later smaller
 * layer taken when a larger one does not fit, a layer cap), the knee rule on
 * a crafted case worked out by hand, and applying it (a valid plan: every
 * GPU holds S slots, no expert twice on one GPU, every expert placed, each
 * layer the old row or the new one). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "planner/mp_planner.h"
#include "tests/unit/plan_helpers.h"

/* A plan of L layers, E experts on P GPUs x S slots with the given rows. */
static mp_plan *make_plan(int32_t L, int32_t E, int32_t P, int32_t S, const int32_t *rows)
{
    mp_topology t = {P, 1, S};
    mp_plan *p = NULL;
    mp_err err = {0};
    assert_int_equal(mp_plan_create(&p, L, E, &t, &err), 0);
    memcpy(p->phy2log, rows, (size_t)L * P * S * sizeof *rows);
    p->routed = E;
    p->shared_id = -1;
    assert_int_equal(mp_plan_derive(p, &err), 0);
    return p;
}

/* Expert copies `nw` puts on a GPU that `old` did not hold there, counted
 * with sets (an independent count of the path's "moves"). */
static int64_t count_moves(const mp_plan *old, const mp_plan *nw, int32_t layer)
{
    int32_t P = nw->topo.gpus, S = nw->topo.slots_per_gpu;
    const int32_t *o = mp_plan_layer(old, layer), *n = mp_plan_layer(nw, layer);
    int64_t moved = 0;
    for (int32_t g = 0; g < P; g++)
        for (int32_t k = 0; k < S; k++) {
            int on = 0;
            for (int32_t j = 0; j < S; j++) on |= o[g * S + j] == n[g * S + k];
            moved += !on;
        }
    return moved;
}

/* Validity of an applied plan: exact slot counts, no expert twice on one GPU,
 * every expert placed, replica counts add up. */
static void check_valid(const mp_plan *p)
{
    int32_t P = p->topo.gpus, S = p->topo.slots_per_gpu;
    assert_int_equal(p->slots, P * S);
    for (int32_t l = 0; l < p->layers; l++) {
        const int32_t *row = mp_plan_layer(p, l);
        int64_t total = 0;
        for (int32_t e = 0; e < p->experts; e++) {
            assert_true(mp_plan_count(p, l, e) >= 1);
            total += mp_plan_count(p, l, e);
        }
        assert_int_equal(total, p->slots);
        for (int32_t g = 0; g < P; g++)
            for (int32_t a = 0; a < S; a++) {
                assert_true(row[g * S + a] >= 0 && row[g * S + a] < p->experts);
                for (int32_t b = a + 1; b < S; b++) assert_int_not_equal(row[g * S + a], row[g * S + b]);
            }
    }
}

/* The crafted case: 3 layers, 4 experts, 2 GPUs x 2 slots (mean 5 per GPU).
 *   layer 0, loads 4 3 2 1: old {0,1|2,3} = 7,3 (1.4), new {0,3|1,2} = 5,5 (1.0): 2 moves, gain 0.4/3
 *   layer 1, loads 3 3 2 2: old {0,1|2,3} = 6,4 (1.2), new {0,2|1,3} = 5,5 (1.0): 2 moves, gain 0.2/3
 *   layer 2, loads 1 1 1 1: old 2,2, new 2,2: 2 moves, no gain: not on the path
 * Path: layer 0 (gain/move 0.0667), layer 1 (0.0333); whole path 0.2/4 = 0.05 per move:
 * only layer 0 is at least that, so the knee is 1. */
static const int32_t old_rows[] = {0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3};
static const int32_t new_rows[] = {0, 3, 1, 2, 0, 2, 1, 3, 0, 2, 1, 3};
static const double crafted_load[] = {4, 3, 2, 1, 3, 3, 2, 2, 1, 1, 1, 1};

static mp_move_path *crafted_path(mp_plan **old, mp_plan **nw)
{
    *old = make_plan(3, 4, 2, 2, old_rows);
    *nw = make_plan(3, 4, 2, 2, new_rows);
    mp_move_path *path = NULL;
    mp_err err = {0};
    assert_int_equal(mp_move_path_build(&path, *old, *nw, crafted_load, 1000, &err), 0);
    return path;
}

static void test_crafted_build_and_knee(void **state)
{
    (void)state;
    mp_plan *old, *nw;
    mp_move_path *p = crafted_path(&old, &nw);
    assert_int_equal(p->layers, 3);
    assert_int_equal(p->total_moves, 6);
    assert_int_equal(p->n, 2);
    assert_int_equal(p->step[0].layer, 0);
    assert_int_equal(p->step[1].layer, 1);
    assert_int_equal(p->step[0].moves, 2);
    assert_int_equal(p->step[0].bytes, 2000);
    assert_float_equal(p->step[0].gain, 0.4 / 3, 1e-12);
    assert_float_equal(p->step[1].gain, 0.2 / 3, 1e-12);
    assert_float_equal(p->start_max_over_mean, 3.6 / 3, 1e-12);
    assert_float_equal(p->full_max_over_mean, 1.0, 1e-12);
    assert_int_equal(p->step[0].cum_moves, 2);
    assert_int_equal(p->step[1].cum_moves, 4);
    assert_int_equal(p->step[1].cum_bytes, 4000);
    assert_float_equal(p->step[0].max_over_mean, 3.2 / 3, 1e-12);
    assert_float_equal(p->step[1].max_over_mean, 1.0, 1e-12);
    assert_int_equal(p->knee, 1);

    /* the default rule: the knee's prefix */
    mp_move_path_choose(p, -1, -1, -1);
    assert_int_equal(p->chosen_layers, 1);
    assert_int_equal(p->chosen_moves, 2);
    assert_int_equal(p->chosen_bytes, 2000);
    assert_true(p->step[0].taken && !p->step[1].taken);
    assert_float_equal(p->chosen_max_over_mean, 3.2 / 3, 1e-12);

    mp_err err = {0};
    assert_int_equal(mp_move_path_apply(nw, old, p, &err), 0);
    check_valid(nw);
    assert_memory_equal(mp_plan_layer(nw, 0), new_rows, 4 * sizeof(int32_t));
    assert_memory_equal(mp_plan_layer(nw, 1), old_rows + 4, 4 * sizeof(int32_t));
    assert_memory_equal(mp_plan_layer(nw, 2), old_rows + 8, 4 * sizeof(int32_t));
    mp_move_path_destroy(p);
    mp_plan_destroy(old);
    mp_plan_destroy(nw);
}

static void test_crafted_budgets(void **state)
{
    (void)state;
    mp_plan *old, *nw;
    mp_move_path *p = crafted_path(&old, &nw);
    /* {max_moves, max_bytes, max_layers} -> moves taken */
    const struct { int64_t mv, by; int32_t ly; int64_t want; } c[] = {
        {0, -1, -1, 0},    {1, -1, -1, 0},    {2, -1, -1, 2},    {3, -1, -1, 2},   {4, -1, -1, 4},
        {-1, 1999, -1, 0}, {-1, 2000, -1, 2}, {-1, 3999, -1, 2}, {-1, 4000, -1, 4}, {4, 2000, -1, 2},
        {100, -1, 1, 2},   {100, -1, 0, 0},   {-1, 0, -1, 0},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        mp_move_path_choose(p, c[i].mv, c[i].by, c[i].ly);
        assert_int_equal(p->chosen_moves, c[i].want);
        assert_int_equal(p->chosen_bytes, c[i].want * 1000);
        if (c[i].want == 0) assert_float_equal(p->chosen_max_over_mean, p->start_max_over_mean, 1e-12);
        if (c[i].want == 4) assert_float_equal(p->chosen_max_over_mean, 1.0, 1e-12);
    }
    /* a budget gives exactly its moves when it fits: nothing to apply but valid */
    mp_move_path_choose(p, 4, -1, -1);
    mp_err err = {0};
    assert_int_equal(mp_move_path_apply(nw, old, p, &err), 0);
    check_valid(nw);
    assert_memory_equal(mp_plan_layer(nw, 0), new_rows, 8 * sizeof(int32_t)); /* layers 0 and 1 switched */
    assert_memory_equal(mp_plan_layer(nw, 2), old_rows + 8, 4 * sizeof(int32_t));
    mp_move_path_destroy(p);
    mp_plan_destroy(old);
    mp_plan_destroy(nw);
}

/* A larger layer that does not fit is skipped and a later smaller one taken. */
static void test_skip_then_fit(void **state)
{
    (void)state;
    /* 4 GPUs x 2 slots.  layer 0, loads 5 4 2 2 1 1 1 0 (mean 4): old 9,4,2,1 (2.25), new
     *   {0,7|1,6|2,5|3,4} 5,5,3,3 (1.25): 6 moves, gain 0.5, 0.083 per move, first on the path;
     * layer 1, loads 3 3 2 2 2 2 2 2 (mean 4.5): old 6,4,4,4, new {0,2|1,3} 5,5,4,4: 2 moves,
     *   gain (6 - 5) / 4.5 / 2 = 0.111, 0.056 per move, second */
    const int32_t o[] = {0, 1, 2, 3, 4, 5, 6, 7, /* layer 1 */ 0, 1, 2, 3, 4, 5, 6, 7};
    const int32_t n[] = {0, 7, 1, 6, 2, 5, 3, 4, /* layer 1 */ 0, 2, 1, 3, 4, 5, 6, 7};
    const double w[] = {5, 4, 2, 2, 1, 1, 1, 0, /* layer 1 */ 3, 3, 2, 2, 2, 2, 2, 2};
    mp_plan *old = make_plan(2, 8, 4, 2, o), *nw = make_plan(2, 8, 4, 2, n);
    mp_move_path *p = NULL;
    mp_err err = {0};
    assert_int_equal(mp_move_path_build(&p, old, nw, w, 1, &err), 0);
    assert_int_equal(p->n, 2);
    int64_t m0 = count_moves(old, nw, 0), m1 = count_moves(old, nw, 1);
    assert_int_equal(m0, 6);
    assert_int_equal(m1, 2);
    assert_int_equal(p->step[0].layer, 0);
    assert_int_equal(p->step[0].moves, 6);
    assert_float_equal(p->step[0].gain, 0.5, 1e-12);
    assert_int_equal(p->step[1].moves, 2);
    assert_float_equal(p->step[1].gain, 1.0 / 9, 1e-12);
    /* a budget of 5 copies: layer 0 (6) does not fit, the later layer 1 (2) does */
    mp_move_path_choose(p, 5, -1, -1);
    assert_int_equal(p->chosen_moves, 2);
    assert_true(p->step[1].taken && !p->step[0].taken);
    assert_int_equal(mp_move_path_apply(nw, old, p, &err), 0);
    check_valid(nw);
    assert_memory_equal(mp_plan_layer(nw, 0), o, 8 * sizeof(int32_t));
    assert_memory_equal(mp_plan_layer(nw, 1), n + 8, 8 * sizeof(int32_t));
    mp_move_path_destroy(p);
    mp_plan_destroy(old);
    mp_plan_destroy(nw);
}

static mp_plan *run(const mp_loads *l)
{
    mp_plan_request rq = {"balanced", {8, 2, 5}, 1, 0, 0, 0, 0};
    mp_plan *p = NULL;
    assert_int_equal(mp_planner_run(&p, l, &rq, NULL), 0);
    return p;
}

/* Planned plans with replicas: the path's invariants and every budget. */
static void test_planned_budgets(void **state)
{
    (void)state;
    for (uint64_t seed = 1; seed <= 4; seed++) {
        mp_loads *a = th_zipf(6, 32, 1.0, 1000, seed), *b = th_lognormal(6, 32, 1.0, 0.1, seed + 10);
        mp_plan *old = run(a);
        mp_plan *nw = run(b);
        mp_migration mig;
        mp_err err = {0};
        assert_int_equal(mp_plan_migrate(nw, old, 1000, &mig, &err), 0);
        double *w = mp_plan_expert_loads(nw, b);
        assert_non_null(w);
        mp_move_path *p = NULL;
        assert_int_equal(mp_move_path_build(&p, old, nw, w, 1000, &err), 0);
        assert_true(p->n >= 2); /* a path worth testing budgets on */
        int64_t total = 0;
        for (int32_t l = 0; l < 6; l++) total += count_moves(old, nw, l);
        assert_int_equal(p->total_moves, total);
        int64_t cum = 0;
        double cur = p->start_max_over_mean, G = 0;
        int64_t M = 0;
        for (int32_t i = 0; i < p->n; i++) G += p->step[i].gain, M += p->step[i].moves;
        for (int32_t i = 0; i < p->n; i++) {
            const mp_move_step *st = &p->step[i];
            assert_true(st->moves > 0 && st->gain > 0);
            assert_int_equal(st->moves, count_moves(old, nw, st->layer));
            assert_int_equal(st->bytes, st->moves * 1000);
            if (i) assert_true(st->gain / st->moves <= p->step[i - 1].gain / p->step[i - 1].moves + 1e-15);
            cum += st->moves;
            cur -= st->gain;
            assert_int_equal(st->cum_moves, cum);
            assert_float_equal(st->max_over_mean, cur, 1e-9);
            /* the knee: exactly the prefix of steps at least as good per move as the whole path */
            assert_int_equal(i < p->knee, st->gain * (double)M >= G * (double)st->moves);
        }
        assert_true(p->knee >= (p->n > 0) && p->knee <= p->n);
        const int64_t budgets[] = {0, 1, 3, 7, 12, cum / 2, cum - 1, cum, cum + 5};
        for (size_t j = 0; j < sizeof budgets / sizeof budgets[0]; j++)
            for (int by = 0; by < 2; by++) {
                int64_t N = budgets[j];
                if (by) mp_move_path_choose(p, -1, N * 1000 + 999, -1);
                else mp_move_path_choose(p, N, -1, -1);
                assert_true(p->chosen_moves <= N);
                assert_true(p->chosen_bytes <= N * 1000 + (by ? 999 : 0));
                /* greedy in path order: an untaken step did not fit beside those taken before it */
                int64_t before = 0;
                for (int32_t i = 0; i < p->n; i++) {
                    if (p->step[i].taken) before += p->step[i].moves;
                    else assert_true(before + p->step[i].moves > N);
                }
                assert_int_equal(before, p->chosen_moves);
                if (N >= cum) assert_int_equal(p->chosen_moves, cum);
                mp_plan *applied = run(b);
                assert_int_equal(mp_plan_migrate(applied, old, 1000, &mig, &err), 0);
                assert_int_equal(mp_move_path_apply(applied, old, p, &err), 0);
                check_valid(applied);
                int64_t moved = 0;
                for (int32_t l = 0; l < 6; l++) {
                    int same_new = !memcmp(mp_plan_layer(applied, l), mp_plan_layer(nw, l), 40 * sizeof(int32_t));
                    int same_old = !memcmp(mp_plan_layer(applied, l), mp_plan_layer(old, l), 40 * sizeof(int32_t));
                    assert_true(same_new || same_old);
                    moved += count_moves(old, applied, l);
                }
                /* the copies the applied plan moves are the ones chosen (layers off the path that
                   move something but gain nothing stay old) */
                assert_int_equal(moved, p->chosen_moves);
                mp_plan_destroy(applied);
            }
        mp_move_path_destroy(p);
        free(w);
        mp_plan_destroy(old);
        mp_plan_destroy(nw);
        mp_loads_destroy(a);
        mp_loads_destroy(b);
    }
}

static void test_shape_refused(void **state)
{
    (void)state;
    mp_plan *old = make_plan(3, 4, 2, 2, old_rows);
    const int32_t r[] = {0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3};
    mp_plan *nw = make_plan(4, 4, 2, 2, r);
    mp_move_path *p = (mp_move_path *)1;
    mp_err err = {0};
    assert_int_equal(mp_move_path_build(&p, old, nw, crafted_load, 1, &err), MP_ESHAPE);
    assert_null(p);
    mp_plan_destroy(nw);
    mp_move_path_destroy(NULL);
    mp_plan_destroy(old);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crafted_build_and_knee), cmocka_unit_test(test_crafted_budgets),
        cmocka_unit_test(test_skip_then_fit),          cmocka_unit_test(test_planned_budgets),
        cmocka_unit_test(test_shape_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
