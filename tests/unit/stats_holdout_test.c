/* stats_holdout_test.c - the held-out split in time (traces/stats/mp_holdout.h):
 * the held-out step count (rounding, clamping to one step on each side,
 * refusals), the split's two parts (contents, model, order) and windows;
 * by source rank: the held-out rank count (ceil, clamping, refusals), the
 * ranks a source records, the loads of each rank group and the rank filter,
 * on an in-memory source of pieces. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "traces/stats/mp_holdout.h"

static int64_t held_of(int64_t steps, double f)
{
    int64_t h = -7;
    mp_err err = {0};
    assert_int_equal(mp_holdout_steps(steps, f, &h, &err), 0);
    return h;
}

static void test_steps_rounding(void **state)
{
    (void)state;
    assert_int_equal(held_of(10, 0.25), 3);  /* 2.5 rounds up */
    assert_int_equal(held_of(10, 0.24), 2);  /* 2.4 rounds down */
    assert_int_equal(held_of(8, 0.25), 2);
    assert_int_equal(held_of(100, 0.05), 5);
    assert_int_equal(held_of(3, 0.5), 2);    /* 1.5 rounds up */
    /* at least one step held out, at least one step to plan from */
    assert_int_equal(held_of(2, 0.25), 1);   /* 0.5 -> 1 */
    assert_int_equal(held_of(2, 0.01), 1);   /* 0.02 -> 0 -> clamped to 1 */
    assert_int_equal(held_of(2, 0.9), 1);    /* 1.8 -> 2 -> clamped to 1 */
    assert_int_equal(held_of(1000, 0.001), 1);
    assert_int_equal(held_of(5, 0.99), 4);
}

static void refused(int64_t steps, double f, const char *needle)
{
    int64_t h = 99;
    mp_err err = {0};
    assert_int_equal(mp_holdout_steps(steps, f, &h, &err), MP_EINVAL);
    assert_int_equal(h, 0);
    assert_non_null(strstr(err.msg, needle));
}

static void test_steps_refused(void **state)
{
    (void)state;
    refused(1, 0.25, "a single matrix cannot be split in time");
    refused(0, 0.25, "0 steps");
    refused(10, 0, "not in (0, 1)");
    refused(10, 1, "not in (0, 1)");
    refused(10, -0.5, "not in (0, 1)");
    refused(10, NAN, "not in (0, 1)");
}

/* S steps x L x E with count = 1000 * step + 10 * layer + expert */
static mp_loads *steps_loads(int32_t S, int32_t L, int32_t E)
{
    mp_loads *l = NULL;
    assert_int_equal(mp_loads_create(&l, S, L, E, NULL), 0);
    for (int32_t s = 0; s < S; s++)
        for (int32_t k = 0; k < L; k++)
            for (int32_t e = 0; e < E; e++) mp_loads_row(l, s, k)[e] = 1000.0 * s + 10.0 * k + e;
    l->has_model = 1;
    l->model.layers = L;
    l->model.experts = E;
    l->model.top_k = 2;
    snprintf(l->model.name, sizeof l->model.name, "%s", "tiny");
    return l;
}

static void check_part(const mp_loads *part, int32_t first, int32_t n, const mp_loads *in)
{
    assert_non_null(part);
    assert_int_equal(part->steps, n);
    assert_int_equal(part->layers, in->layers);
    assert_int_equal(part->experts, in->experts);
    assert_int_equal(part->has_model, 1);
    assert_string_equal(part->model.name, "tiny");
    assert_int_equal(part->model.top_k, 2);
    for (int32_t s = 0; s < n; s++)
        for (int32_t k = 0; k < in->layers; k++)
            for (int32_t e = 0; e < in->experts; e++)
                assert_true(mp_loads_row(part, s, k)[e] == 1000.0 * (first + s) + 10.0 * k + e);
}

static void test_split_two_steps(void **state)
{
    (void)state;
    mp_loads *in = steps_loads(2, 3, 4), *tr = NULL, *ho = NULL;
    mp_err err = {0};
    assert_int_equal(mp_loads_split_time(&tr, &ho, in, 0.5, &err), 0);
    check_part(tr, 0, 1, in);
    check_part(ho, 1, 1, in);
    mp_loads_destroy(tr);
    mp_loads_destroy(ho);
    mp_loads_destroy(in);
}

static void test_split_fractions(void **state)
{
    (void)state;
    mp_loads *in = steps_loads(7, 2, 3);
    const double f[] = {0.1, 0.25, 0.3, 0.5, 0.75, 0.9};
    const int32_t want[] = {1, 2, 2, 4, 5, 6}; /* round(7 f), clamped to 1..6: 0.7, 1.75, 2.1, 3.5, 5.25, 6.3 */
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
        mp_loads *tr = NULL, *ho = NULL;
        mp_err err = {0};
        assert_int_equal(mp_loads_split_time(&tr, &ho, in, f[i], &err), 0);
        check_part(tr, 0, 7 - want[i], in);
        check_part(ho, 7 - want[i], want[i], in);
        mp_loads_destroy(tr);
        mp_loads_destroy(ho);
    }
    mp_loads_destroy(in);
}

static void test_split_one_step_refused(void **state)
{
    (void)state;
    mp_loads *in = steps_loads(1, 2, 3), *tr = (mp_loads *)1, *ho = (mp_loads *)1;
    mp_err err = {0};
    assert_int_equal(mp_loads_split_time(&tr, &ho, in, 0.25, &err), MP_EINVAL);
    assert_null(tr);
    assert_null(ho);
    assert_non_null(strstr(err.msg, "cannot be split in time"));
    mp_loads_destroy(in);
}

static void test_window(void **state)
{
    (void)state;
    mp_loads *in = steps_loads(5, 2, 2), *w = NULL;
    mp_err err = {0};
    assert_int_equal(mp_loads_window(&w, in, 1, 4, &err), 0);
    check_part(w, 1, 3, in);
    mp_loads_destroy(w);
    const int32_t bad[][2] = {{2, 2}, {3, 2}, {-1, 2}, {0, 6}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        w = (mp_loads *)1;
        assert_int_equal(mp_loads_window(&w, in, bad[i][0], bad[i][1], &err), MP_EINVAL);
        assert_null(w);
        assert_non_null(strstr(err.msg, "not a window of 5 steps"));
    }
    mp_loads_destroy(in);
}

/* ---- by source rank: an in-memory source of 2 steps, 2 pieces each ----
 * L = 2, K = 2, E = 4; token t of a piece has rank ranks[t] and experts
 * (t % 4, (t + 1) % 4) in layer 0, (3, t % 4 == 3 ? 0 : t % 4) in layer 1. */
typedef struct fake {
    int next;            /* pieces handed out */
    int with_ranks;
    const int32_t *ranks; /* [4 pieces][3 tokens] */
    int bad_rank;        /* put -1 in the last piece */
} fake;

static int fake_next(void *ctx, mp_step *pc, mp_err *err)
{
    fake *f = ctx;
    if (f->next == 4) return 0;
    int i = f->next++;
    int rc = mp_step_reserve(pc, 3, 2, 2, 0, f->with_ranks, err);
    if (rc) return rc;
    pc->step = i / 2;
    pc->first_token = (i % 2) * 3;
    pc->end_of_step = i % 2;
    for (int t = 0; t < 3; t++) {
        mp_expert_id *id = pc->ids + t * 4;
        id[0] = (mp_expert_id)(t % 4), id[1] = (mp_expert_id)((t + 1) % 4);
        id[2] = 3, id[3] = (mp_expert_id)(t % 4 == 3 ? 0 : t % 4);
        if (f->with_ranks) pc->src_rank[t] = f->ranks[i * 3 + t];
    }
    if (f->bad_rank && i == 3) pc->src_rank[2] = -1;
    return 1;
}

static int fake_rewind(void *ctx, mp_err *err)
{
    (void)err;
    ((fake *)ctx)->next = 0;
    return 0;
}

static const int32_t fake_ranks[12] = {0, 1, 2, 0, 1, 2, 3, 3, 0, 1, 2, 3};

static mp_piece_source fake_source(fake *f, int with_ranks)
{
    memset(f, 0, sizeof *f);
    f->with_ranks = with_ranks;
    f->ranks = fake_ranks;
    mp_piece_source s = {f, fake_next, fake_rewind};
    return s;
}

static void test_ranks_count(void **state)
{
    (void)state;
    const struct { int32_t r; double f; int32_t want; } c[] = {
        {4, 0.25, 1}, {4, 0.26, 2}, {4, 0.5, 2}, {4, 0.9, 3}, {2, 0.01, 1}, {2, 0.9, 1}, {3, 0.34, 2}, {10, 0.1, 1},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        int32_t h = -1;
        mp_err err = {0};
        assert_int_equal(mp_holdout_ranks(c[i].r, c[i].f, &h, &err), 0);
        assert_int_equal(h, c[i].want);
    }
    int32_t h = 5;
    mp_err err = {0};
    assert_int_equal(mp_holdout_ranks(1, 0.5, &h, &err), MP_EINVAL);
    assert_int_equal(h, 0);
    assert_non_null(strstr(err.msg, "1 source rank: a split by rank needs 2 ranks or more"));
    assert_int_equal(mp_holdout_ranks(0, 0.5, &h, &err), MP_EINVAL);
    assert_int_equal(mp_holdout_ranks(4, 1, &h, &err), MP_EINVAL);
}

static void test_source_ranks(void **state)
{
    (void)state;
    fake f;
    mp_piece_source s = fake_source(&f, 1);
    int32_t R = -1;
    mp_err err = {0};
    assert_int_equal(mp_source_ranks(&s, &R, &err), 0);
    assert_int_equal(R, 4);
    assert_int_equal(f.next, 0); /* rewound */
    s = fake_source(&f, 0);
    assert_int_equal(mp_source_ranks(&s, &R, &err), 0);
    assert_int_equal(R, 0);
    s = fake_source(&f, 1);
    f.bad_rank = 1;
    assert_int_equal(mp_source_ranks(&s, &R, &err), MP_ERANGE);
    assert_non_null(strstr(err.msg, "step 1 token 5: source rank -1"));
}

static void test_split_rank(void **state)
{
    (void)state;
    fake f;
    mp_piece_source s = fake_source(&f, 1);
    mp_model m;
    memset(&m, 0, sizeof m);
    m.layers = 2, m.experts = 4, m.top_k = 2;
    mp_loads *tr = NULL, *ho = NULL;
    mp_err err = {0};
    assert_int_equal(mp_loads_split_rank(&tr, &ho, &s, &m, 3, &err), 0); /* ranks 0-2 train, 3 held */
    assert_int_equal(f.next, 0);
    /* expected counts, summed independently over the pieces */
    double want[2][2][4] = {{{0}}};
    for (int i = 0; i < 4; i++)
        for (int t = 0; t < 3; t++) {
            int h = fake_ranks[i * 3 + t] >= 3;
            want[h][0][t % 4] += 1, want[h][0][(t + 1) % 4] += 1;
            want[h][1][3] += 1, want[h][1][t % 4 == 3 ? 0 : t % 4] += 1;
        }
    double tot = 0;
    for (int l = 0; l < 2; l++)
        for (int e = 0; e < 4; e++) {
            assert_true(mp_loads_row(tr, 0, l)[e] == want[0][l][e]);
            assert_true(mp_loads_row(ho, 0, l)[e] == want[1][l][e]);
            tot += mp_loads_row(ho, 0, l)[e];
        }
    assert_true(tot == 3 * 2 * 2); /* three rank-3 tokens, 2 layers x 2 choices */
    assert_int_equal(tr->steps, 1);
    assert_int_equal(tr->has_model, 1);
    mp_loads_destroy(tr);
    mp_loads_destroy(ho);
    /* a source without ranks is refused, nothing handed back */
    s = fake_source(&f, 0);
    assert_int_equal(mp_loads_split_rank(&tr, &ho, &s, &m, 3, &err), MP_EINVAL);
    assert_null(tr);
    assert_null(ho);
    assert_non_null(strstr(err.msg, "records no source ranks"));
}

static void test_rank_filter(void **state)
{
    (void)state;
    fake f;
    mp_piece_source in = fake_source(&f, 1);
    mp_rank_filter rf;
    mp_rank_filter_init(&rf, &in, 1, 3); /* ranks 1 and 2 */
    mp_step pc = {0};
    mp_err err = {0};
    int pieces = 0, ends = 0;
    int64_t kept = 0;
    for (int pass = 0; pass < 2; pass++) {
        pieces = ends = 0;
        kept = 0;
        assert_int_equal(rf.src.rewind(rf.src.ctx, &err), 0);
        int rc;
        while ((rc = rf.src.next(rf.src.ctx, &pc, &err)) == 1) {
            for (int64_t t = 0; t < pc.tokens; t++) {
                assert_true(pc.src_rank[t] >= 1 && pc.src_rank[t] < 3);
                /* the token's experts came along: layer 1's first choice is always 3 */
                assert_int_equal(pc.ids[t * 4 + 2], 3);
            }
            kept += pc.tokens;
            ends += pc.end_of_step;
            pieces++;
        }
        assert_int_equal(rc, 0);
        assert_int_equal(pieces, 4); /* every piece, even one left empty, keeps its end of step */
        assert_int_equal(ends, 2);
        assert_int_equal(kept, 6);   /* ranks 1, 2 among 0 1 2 | 0 1 2 | 3 3 0 | 1 2 3 */
    }
    /* rank 3 alone: the two pieces of ranks {0, 1, 2} are left empty */
    mp_rank_filter_init(&rf, &in, 3, 4);
    assert_int_equal(rf.src.rewind(rf.src.ctx, &err), 0);
    int64_t per[4];
    for (int i = 0; i < 4; i++) {
        assert_int_equal(rf.src.next(rf.src.ctx, &pc, &err), 1);
        per[i] = pc.tokens;
    }
    assert_int_equal(per[0], 0);
    assert_int_equal(per[1], 0);
    assert_int_equal(per[2], 2);
    assert_int_equal(per[3], 1);
    mp_step_release(&pc);
    /* pieces without ranks are refused */
    in = fake_source(&f, 0);
    mp_rank_filter_init(&rf, &in, 0, 1);
    assert_int_equal(rf.src.next(rf.src.ctx, &pc, &err), MP_EINVAL);
    mp_step_release(&pc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_steps_rounding),     cmocka_unit_test(test_steps_refused),
        cmocka_unit_test(test_split_two_steps),    cmocka_unit_test(test_split_fractions),
        cmocka_unit_test(test_split_one_step_refused), cmocka_unit_test(test_window),
        cmocka_unit_test(test_ranks_count),        cmocka_unit_test(test_source_ranks),
        cmocka_unit_test(test_split_rank),         cmocka_unit_test(test_rank_filter),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
