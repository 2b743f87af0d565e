/* stats_count_test.c - the assignment counter against brute-force counts,
 * one thread vs several, windows and totals. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "traces/stats/mp_stats.h"

static uint64_t rng = 88172645463325252ull;
static uint32_t next_u32(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 32);
}

/* a piece of T tokens, L layers, top-k K over E experts, skewed ids */
static void make_piece(mp_step *p, int64_t step, int64_t T, int32_t L, int32_t K, int32_t E)
{
    assert_int_equal(mp_step_reserve(p, T, L, K, 0, 0, NULL), 0);
    p->step = step;
    p->first_token = 0;
    p->end_of_step = 1;
    for (int64_t i = 0; i < T * L * K; i++) {
        uint32_t r = next_u32();
        p->ids[i] = (mp_expert_id)((r & 1) ? (r >> 1) % (uint32_t)E : ((r >> 1) % 4) % (uint32_t)E);
    }
}

static void brute(const mp_step *p, int32_t E, double *out)
{
    for (int64_t t = 0; t < p->tokens; t++)
        for (int32_t l = 0; l < p->layers; l++)
            for (int32_t k = 0; k < p->top_k; k++)
                out[(int64_t)l * E + p->ids[(t * p->layers + l) * p->top_k + k]] += 1;
}

static void check_shape(int32_t L, int32_t K, int32_t E, int64_t T, int threads)
{
    mp_step p = {0};
    mp_counter *c;
    int64_t cells = (int64_t)L * E;
    double *want = calloc((size_t)cells, sizeof *want), *got = calloc((size_t)cells, sizeof *got);
    double *win = calloc((size_t)cells, sizeof *win);
    assert_non_null(want);
    assert_non_null(got);
    assert_non_null(win);
    assert_int_equal(mp_counter_create(&c, L, E, K, threads, NULL), 0);
    for (int s = 0; s < 3; s++) {
        make_piece(&p, s, T + s, L, K, E);
        brute(&p, E, want);
        assert_int_equal(mp_counter_add(c, &p, NULL), 0);
        if (s == 1) { /* the window holds steps 0 and 1 */
            mp_counter_window(c, win);
            double sum = 0;
            for (int64_t i = 0; i < cells; i++) sum += win[i];
            assert_float_equal(sum, (double)(2 * T + 1) * L * K, 0);
            mp_counter_end_window(c);
        }
    }
    mp_counter_end_window(c);
    mp_counter_totals(c, got);
    for (int64_t i = 0; i < cells; i++) assert_float_equal(got[i], want[i], 0);
    mp_counter_destroy(c);
    mp_step_release(&p);
    free(want);
    free(got);
    free(win);
}

static void test_small_shapes(void **state)
{
    (void)state;
    check_shape(3, 8, 64, 50, 1);
    check_shape(2, 6, 64, 40, 1);
    check_shape(4, 1, 16, 30, 1);
    check_shape(2, 3, 10, 30, 2); /* generic K */
    check_shape(1, 2, 7, 30, 4);
}

static void test_threads(void **state)
{
    (void)state;
    /* large enough to be split over threads: 1100 x 30 x 8 > 2^18 assignments */
    check_shape(30, 8, 256, 1100, 1);
    check_shape(30, 8, 256, 1100, 2);
    check_shape(30, 8, 256, 1100, 3);
}

static void test_bad_shape(void **state)
{
    (void)state;
    mp_counter *c;
    mp_step p = {0};
    mp_err err = {0};
    assert_int_equal(mp_counter_create(&c, 0, 8, 2, 1, &err), MP_EINVAL);
    assert_null(c);
    assert_int_equal(mp_counter_create(&c, 2, 8, 2, 1, NULL), 0);
    make_piece(&p, 0, 4, 3, 2, 8);
    assert_int_equal(mp_counter_add(c, &p, &err), MP_ESHAPE);
    mp_counter_destroy(c);
    mp_counter_destroy(NULL);
    mp_step_release(&p);
}

/* Memory follows the data: a shape of more than MP_STATS_CELLS_FREE cells is
 * created for free, and refused at the first piece the data cannot pay for. */
static void test_cells_budget(void **state)
{
    (void)state;
    int64_t free_cells = MP_STATS_CELLS_FREE, per = MP_STATS_CELLS_PER_ASSIGN;
    assert_true(mp_stats_cells_ok(free_cells, 0));
    assert_true(mp_stats_cells_ok(free_cells, -1));
    assert_false(mp_stats_cells_ok(free_cells + 1, 0));
    assert_false(mp_stats_cells_ok(free_cells + 1, -1));
    assert_true(mp_stats_cells_ok(free_cells + 1, 1));
    assert_true(mp_stats_cells_ok(free_cells + per, 1));
    assert_false(mp_stats_cells_ok(free_cells + per + 1, 1));
    assert_true(mp_stats_cells_ok(free_cells + per + 1, 2));

    /* 4096 x 65535 cells: 5 GB of histograms if allocated up front */
    mp_counter *c;
    mp_err err = {0};
    assert_int_equal(mp_counter_create(&c, 4096, 65535, 1, 4, &err), 0);
    double row[4];
    mp_counter_end_window(c); /* nothing allocated, nothing to do */
    mp_step p = {0};
    make_piece(&p, 0, 1, 4096, 1, 65535);
    assert_int_equal(mp_counter_add(c, &p, &err), MP_ELIMIT);
    assert_non_null(strstr(err.msg, "4096 layers x 65535 experts make 268431360 load cells"));
    assert_non_null(strstr(err.msg, "4096 assignments"));
    mp_counter_destroy(c);
    mp_step_release(&p);

    /* a small shape still counts, and an empty counter reads as zeros */
    assert_int_equal(mp_counter_create(&c, 1, 4, 1, 1, &err), 0);
    memset(row, 0xff, sizeof row);
    mp_counter_window(c, row);
    for (int i = 0; i < 4; i++) assert_true(row[i] == 0.0);
    memset(row, 0xff, sizeof row);
    mp_counter_totals(c, row);
    for (int i = 0; i < 4; i++) assert_true(row[i] == 0.0);
    mp_counter_destroy(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_small_shapes),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_bad_shape),
        cmocka_unit_test(test_cells_budget),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
