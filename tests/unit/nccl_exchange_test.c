/* nccl_exchange_test.c - the multi-rank exchange (kernels/exchange.c) run
 * on the CPU as NCCL would: every rank's counts all-gathered, rows moved by
 * send/recv displacements (and in the padded all-to-all layout), then
 * checked against the single-GPU layout of kernels/ref.c: each rank's
 * local rows of a slot are that slot's rows in the single-GPU order, the
 * pair matrix is the per-pair row count, and the combine finds every row
 * of its token back.  Also the nccl-tests bandwidth formulas.  No GPU. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "kernels/exchange.c"
#include "kernels/ref.c"

enum { E = 24, MAXREP = 2, K = 4 };

static int32_t l2p[E * MAXREP], rcnt[E];

/* slots 0..23 hold experts 0..23, slots 24..R-1 replicate experts 0.. */
static int32_t make_plan(int32_t R)
{
    for (int e = 0; e < E; e++) {
        rcnt[e] = 1;
        l2p[e * MAXREP] = e;
        l2p[e * MAXREP + 1] = -1;
    }
    for (int s = E; s < R; s++) {
        l2p[(s - E) * MAXREP + 1] = s;
        rcnt[s - E] = 2;
    }
    return R;
}

static void make_ids(uint16_t *ids, int64_t T)
{
    uint64_t st = 99;
    for (int64_t t = 0; t < T; t++)
        for (int k = 0; k < K; k++) {
            int e, dup;
            do {
                st = mp__kx_mix(st);
                e = (int)((st >> 33) % E);
                if ((st & 3) == 0) e = (int)((st >> 20) % 3); /* skewed towards 0..2 */
                dup = 0;
                for (int j = 0; j < k; j++) dup |= ids[t * K + j] == e;
            } while (dup);
            ids[t * K + k] = (uint16_t)e;
        }
}

static void test_token_range(void **state)
{
    (void)state;
    int64_t f, n;
    mp_xg_token_range(10, 4, 0, &f, &n);
    assert_int_equal(f, 0), assert_int_equal(n, 3);
    mp_xg_token_range(10, 4, 3, &f, &n);
    assert_int_equal(f, 9), assert_int_equal(n, 1);
    mp_xg_token_range(2, 4, 2, &f, &n);
    assert_int_equal(f, 2), assert_int_equal(n, 0);
    mp_xg_token_range(2, 4, 3, &f, &n);
    assert_int_equal(f, 2), assert_int_equal(n, 0);
    mp_xg_token_range(7, 1, 0, &f, &n);
    assert_int_equal(f, 0), assert_int_equal(n, 7);
}

static void test_bandwidth(void **state)
{
    (void)state;
    /* 1 GB in 1000 us = 1000 GB/s; busbw on 8 ranks = 7/8 of it */
    assert_true(fabs(mp_xg_algbw(1e9, 1000) - 1000.0) < 1e-9);
    assert_true(fabs(mp_xg_busbw(1000.0, 8) - 875.0) < 1e-9);
    assert_true(mp_xg_busbw(1000.0, 1) == 0.0);
    assert_true(mp_xg_algbw(1e9, 0) == 0.0);
}

/* Runs the exchange of T tokens over P ranks on the CPU and checks it. */
static void exchange(int32_t P, int32_t R, int64_t T, int selection, int padded)
{
    make_plan(R);
    uint16_t *ids = malloc(sizeof *ids * (size_t)(T * K + 1));
    int32_t *slot = malloc(sizeof *slot * (size_t)(T * K + 1)), *row = malloc(sizeof *row * (size_t)(T * K + 1));
    int32_t *srows = malloc(sizeof *srows * (size_t)R), *dests = malloc(sizeof *dests * (size_t)(T + 1));
    int64_t *traffic = malloc(sizeof *traffic * (size_t)(P * P));
    assert_non_null(ids), assert_non_null(slot), assert_non_null(row), assert_non_null(srows);
    assert_non_null(dests), assert_non_null(traffic);
    make_ids(ids, T);
    assert_int_equal(mp_kref_layout(T, K, ids, E, MAXREP, l2p, rcnt, R, P, selection, 7, slot, row, srows, dests,
                                    traffic),
                     0);
    int64_t per_tok = (T + P - 1) / P;
    mp_xg *x[MP_XG_MAX_RANKS];
    for (int32_t r = 0; r < P; r++) {
        int64_t f, n;
        mp_xg_token_range(T, P, r, &f, &n);
        assert_int_equal(mp_xg_create(&x[r], P, r, R, K, per_tok, padded, NULL), 0);
        assert_int_equal(mp_xg_layout(x[r], f, n, ids + f * K, E, MAXREP, l2p, rcnt, selection, 7, NULL), 0);
        for (int64_t i = 0; i < n * K; i++) assert_int_equal(x[r]->slot[i], slot[f * K + i]);
    }
    /* the all-gather: every rank gets every rank's row of counts */
    for (int32_t r = 0; r < P; r++)
        for (int32_t s = 0; s < P; s++)
            if (s != r) memcpy(x[r]->counts + (size_t)s * R, mp_xg_my_counts(x[s]), sizeof(int64_t) * (size_t)R);
    for (int32_t r = 0; r < P; r++) assert_int_equal(mp_xg_finish(x[r], NULL), 0);
    /* the pair matrix counts rows (token copies), never fewer than the
     * deduplicated token traffic of the single-GPU layout */
    int64_t total = 0, cap = 0;
    for (int32_t s = 0; s < P; s++)
        for (int32_t d = 0; d < P; d++) {
            int64_t n = 0;
            for (int64_t a = 0; a < T * K; a++) n += a / K / per_tok == s && slot[a] / (R / P) == d;
            assert_int_equal(x[0]->pair[s * P + d], n);
            assert_true(n >= traffic[s * P + d]);
            total += n;
            if (n > cap) cap = n;
        }
    assert_int_equal(total, T * K);
    for (int32_t r = 0; r < P; r++) {
        assert_int_equal(x[r]->capacity, cap);
        assert_memory_equal(x[r]->pair, x[0]->pair, sizeof(int64_t) * (size_t)(P * P));
        int64_t so = 0;
        for (int32_t d = 0; d < P; d++) {
            assert_int_equal(x[r]->send_count[d], x[0]->pair[r * P + d]);
            assert_int_equal(x[r]->recv_count[d], x[0]->pair[d * P + r]);
            assert_int_equal(x[r]->send_displ[d], padded ? d * cap : so);
            so += x[r]->send_count[d];
        }
        assert_int_equal(x[r]->send_buf_rows, padded ? P * cap : x[r]->send_rows);
    }
    /* payload = global assignment index; the send buffers */
    int64_t **sendb = calloc((size_t)P, sizeof *sendb), **recvb = calloc((size_t)P, sizeof *recvb);
    for (int32_t r = 0; r < P; r++) {
        sendb[r] = malloc(sizeof(int64_t) * (size_t)(x[r]->send_buf_rows + 1));
        recvb[r] = malloc(sizeof(int64_t) * (size_t)(x[r]->recv_buf_rows + 1));
        for (int64_t i = 0; i < x[r]->send_buf_rows; i++) sendb[r][i] = -1;
        for (int64_t i = 0; i < x[r]->send_rows; i++) {
            int32_t p = x[r]->send_pos[i];
            assert_true(p >= 0 && p < x[r]->send_buf_rows);
            assert_int_equal(sendb[r][p], -1); /* a permutation */
            sendb[r][p] = x[r]->first_token * K + i;
            assert_int_equal(x[r]->send_token[p], i / K);
        }
    }
    /* grouped send/recv: block d of s's send buffer -> block s of d's */
    for (int32_t s = 0; s < P; s++)
        for (int32_t d = 0; d < P; d++) {
            int64_t n = padded ? cap : x[s]->send_count[d];
            assert_true(!padded ? x[d]->recv_count[s] == n : x[d]->recv_count[s] <= n);
            memcpy(recvb[d] + x[d]->recv_displ[s], sendb[s] + x[s]->send_displ[d], sizeof(int64_t) * (size_t)n);
        }
    /* reorder into local slot order: equals the single-GPU rows of each slot */
    int32_t per = R / P;
    int64_t *slot_off = malloc(sizeof *slot_off * (size_t)(R + 1));
    slot_off[0] = 0;
    for (int32_t s = 0; s < R; s++) slot_off[s + 1] = slot_off[s] + srows[s];
    for (int32_t r = 0; r < P; r++) {
        int64_t local_total = slot_off[(r + 1) * per] - slot_off[r * per];
        assert_int_equal(x[r]->recv_rows, local_total);
        int64_t *local = malloc(sizeof(int64_t) * (size_t)(local_total + 1));
        for (int64_t i = 0; i < local_total; i++) local[i] = -1;
        for (int64_t i = 0; i < x[r]->recv_buf_rows; i++) {
            int32_t p = x[r]->recv_pos[i];
            if (p < 0) continue; /* padding */
            assert_true(p < local_total);
            assert_int_equal(local[p], -1);
            local[p] = recvb[r][i];
        }
        for (int32_t j = 0; j < per; j++) assert_int_equal(x[r]->local_rows[j], srows[r * per + j]);
        for (int64_t a = 0; a < T * K; a++)
            if (slot[a] / per == r) assert_int_equal(local[row[a] - slot_off[r * per]], a);
        /* the return trip: received row i goes back to block i's source at
         * the same place; the combine reads send_pos and must find its own
         * assignment */
        free(local);
    }
    for (int32_t s = 0; s < P; s++)
        for (int64_t i = 0; i < x[s]->send_rows; i++) {
            int32_t p = x[s]->send_pos[i];
            /* find the destination block holding p and read the row back */
            int32_t d = 0;
            while (d + 1 < P && x[s]->send_displ[d + 1] <= p) d++;
            int64_t back = recvb[d][x[d]->recv_displ[s] + (p - x[s]->send_displ[d])];
            assert_int_equal(back, x[s]->first_token * K + i);
        }
    for (int32_t r = 0; r < P; r++) {
        free(sendb[r]), free(recvb[r]);
        mp_xg_destroy(x[r]);
    }
    free(sendb), free(recvb), free(slot_off);
    free(ids), free(slot), free(row), free(srows), free(dests), free(traffic);
}

static void test_exchange_4(void **state)
{
    (void)state;
    exchange(4, 32, 301, 1, 0);
}
static void test_exchange_padded(void **state)
{
    (void)state;
    exchange(4, 32, 301, 2, 1);
}
static void test_exchange_8_uneven(void **state)
{
    (void)state;
    exchange(8, 24, 13, 0, 0); /* fewer tokens than ranks x 2: empty ranks */
    exchange(8, 24, 5, 1, 1);
}
static void test_exchange_1(void **state)
{
    (void)state;
    exchange(1, 30, 77, 1, 0); /* one rank: everything to itself */
    exchange(1, 30, 77, 1, 1);
}

static void test_bad_input(void **state)
{
    (void)state;
    mp_xg *x = NULL;
    mp_err err = {0};
    assert_int_equal(mp_xg_create(&x, 3, 0, 32, K, 10, 0, &err), MP_EINVAL); /* 32 % 3 */
    assert_null(x);
    assert_int_equal(mp_xg_create(&x, 4, 4, 32, K, 10, 0, &err), MP_EINVAL);
    assert_int_equal(mp_xg_create(&x, 4, 0, 32, 33, 10, 0, &err), MP_ELIMIT);
    assert_int_equal(mp_xg_create(&x, 64, 0, 64, 32, (int64_t)1 << 24, 0, &err), MP_ELIMIT);
    mp_xg_destroy(NULL);
    make_plan(32);
    assert_int_equal(mp_xg_create(&x, 4, 1, 32, K, 2, 0, &err), 0);
    uint16_t ids[3 * K] = {0, 1, 2, 3, 4, 5, 6, 7, 0, 1, 2, E};
    assert_int_equal(mp_xg_layout(x, 2, 3, ids, E, MAXREP, l2p, rcnt, 1, 7, &err), MP_ELIMIT); /* 3 > 2 */
    assert_int_equal(mp_xg_layout(x, 2, 2, ids + K, E, MAXREP, l2p, rcnt, 1, 7, &err), MP_ERANGE); /* id E */
    assert_non_null(strstr(err.msg, "expert 24"));
    /* counts that do not add up to the rows held are refused */
    assert_int_equal(mp_xg_layout(x, 2, 2, ids, E, MAXREP, l2p, rcnt, 1, 7, &err), 0);
    mp_xg_my_counts(x)[0] += 1;
    assert_int_equal(mp_xg_finish(x, &err), MP_ERANGE);
    x->counts[5] = -1;
    assert_int_equal(mp_xg_finish(x, &err), MP_ERANGE);
    mp_xg_destroy(x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_token_range),      cmocka_unit_test(test_bandwidth),
        cmocka_unit_test(test_exchange_4),       cmocka_unit_test(test_exchange_padded),
        cmocka_unit_test(test_exchange_8_uneven), cmocka_unit_test(test_exchange_1),
        cmocka_unit_test(test_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
