/* nccl_gpu_test.c - the multi-GPU replay (kernels/mp_nccl.h) as one rank:
 * dispatch and combine through NCCL send/recv to itself (and the padded
 * ncclAlltoAll), checked against the CPU reference (#wrong = 0), with a
 * replicated plan and skewed routing on small shapes.  Skips (exit 77)
 * without CUDA and NCCL or without a GPU. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#if !defined(MP_HAVE_KERNELS) || !defined(MP_HAVE_NCCL)
int main(void)
{
    printf("nccl_gpu_test: CUDA and NCCL support not compiled in; skipped\n");
    return 77;
}
#else
#include "kernels/mp_kernels.h"
#include "kernels/mp_kx_common.h"
#include "tests/unit/kx_test_routing.h"
#include "kernels/mp_nccl.h"

enum { H = 256, I = 64, K = 4, E = 16, R = 20, MAXREP = 2, T = 300 };

static int32_t l2p[E * MAXREP], rcnt[E];
static uint16_t ids[T * K];
static float w[T * K];

static void weight_from_state(void *ctx, int64_t t, int k, uint64_t st)
{
    (void)ctx;
    w[t * K + k] = (float)(1 + (st >> 60));
}

static void setup_data(void)
{
    for (int e = 0; e < E; e++) {
        rcnt[e] = 1;
        l2p[e * MAXREP] = e;
        l2p[e * MAXREP + 1] = -1;
    }
    for (int s = 16; s < R; s++) {
        l2p[(s - 16) * MAXREP + 1] = s;
        rcnt[s - 16] = 2;
    }
    uint64_t st = 4242;
    kx_test_routing(ids, T, K, E, &st, weight_from_state, NULL);
    for (int t = 0; t < T; t++) {
        float sum = 0;
        for (int k = 0; k < K; k++) sum += w[t * K + k];
        for (int k = 0; k < K; k++) w[t * K + k] /= sum;
    }
}

static int have_gpu(void)
{
    char d[256];
    return mp_kernels_device(d, sizeof d, NULL) == 0;
}

static void one_rank(int padded, int selection)
{
    unsigned char id[MP_NX_ID_BYTES];
    mp_err err = {0};
    assert_int_equal(mp_nx_unique_id(id, &err), 0);
    mp_nx_shape sh = {.hidden = H, .intermediate = I, .top_k = K, .experts = E, .slots = R, .max_replicas = MAXREP,
                      .max_tokens = T, .selection = selection, .seed = 5, .padded = padded};
    mp_nx *nx = NULL;
    int rc = mp_nx_create(&nx, id, 1, 0, -1, &sh, &err);
    if (rc) fprintf(stderr, "%s\n", err.msg);
    assert_int_equal(rc, 0);
    assert_int_equal(mp_nx_set_plan(nx, l2p, rcnt, &err), 0);
    for (int64_t tokens = 1; tokens <= T; tokens += 299) {
        assert_int_equal(mp_nx_set_routing(nx, tokens, ids, w, &err), 0);
        int64_t wrong = -1;
        rc = mp_nx_check(nx, ids, w, 4, &wrong, &err);
        if (rc) fprintf(stderr, "%s\n", err.msg);
        assert_int_equal(rc, 0);
        assert_int_equal(wrong, 0);
        mp_nx_result r;
        assert_int_equal(mp_nx_run(nx, 3, 1, &r, &err), 0);
        assert_int_equal(r.ranks, 1);
        assert_int_equal(r.pair[0], tokens * K); /* everything to itself */
        assert_int_equal(r.recv_rows_max, tokens * K);
        assert_true(r.step_max_us > 0);
        assert_true(r.dispatch_busbw == 0.0); /* (n-1)/n of one rank */
        double us = 0;
        assert_int_equal(mp_nx_alltoall(nx, (size_t)1 << 20, 3, 1, &us, &err), 0);
        assert_true(us > 0);
    }
    /* routing beyond the shape is refused */
    assert_int_equal(mp_nx_set_routing(nx, T + 1, ids, w, &err), MP_ELIMIT);
    mp_nx_destroy(nx);
    mp_nx_destroy(NULL);
}

static void test_sendrecv(void **state)
{
    (void)state;
    one_rank(0, MP_KX_SEL_MODULO);
}

static void test_padded(void **state)
{
    (void)state;
    one_rank(1, MP_KX_SEL_RANDOM);
}

int main(void)
{
    if (!have_gpu()) {
        printf("nccl_gpu_test: no usable GPU; skipped\n");
        return 77;
    }
    setup_data();
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_sendrecv), cmocka_unit_test(test_padded)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
#endif
