/* kernels_gpu_test.c - the CUDA replay kernels against their CPU reference
 * on small shapes: layout and permutation exact, expert GEMMs and combine
 * within 1e-2 relative error, every output written (poisoned first).
 * Skips (exit 77) without CUDA support or without a GPU. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#ifndef MP_HAVE_KERNELS
int main(void)
{
    printf("kernels_gpu_test: CUDA support not compiled in; skipped\n");
    return 77;
}
#else
#include <math.h>

#include "kernels/mp_kernels.h"
#include "kernels/mp_kernels_ref.h"
#include "kernels/mp_kx_common.h"
#include "tests/unit/kx_test_routing.h"

enum { H = 256, I = 64, K = 4, E = 16, R = 20, P = 4, MAXREP = 2, T = 300 };

static int32_t l2p[E * MAXREP], rc[E];

static void make_plan(void)
{
    /* slots 0..15 hold experts 0..15; slots 16..19 replicate experts 0..3 */
    for (int e = 0; e < E; e++) {
        rc[e] = 1;
        l2p[e * MAXREP] = e;
        l2p[e * MAXREP + 1] = -1;
    }
    for (int s = 16; s < R; s++) {
        int e = s - 16;
        l2p[e * MAXREP + 1] = s;
        rc[e] = 2;
    }
}

static void weight_by_rank(void *ctx, int64_t t, int k, uint64_t st)
{
    (void)st;
    ((float *)ctx)[t * K + k] = 0.1f + 0.2f * (float)k;
}

static void make_routing(uint16_t *ids, float *w, int64_t tokens)
{
    uint64_t st = 12345;
    kx_test_routing(ids, tokens, K, E, &st, weight_by_rank, w);
}

static double rel_err(const uint16_t *a, const uint16_t *ref, size_t n, size_t *nan_count)
{
    double maxd = 0, maxr = 0;
    *nan_count = 0;
    for (size_t i = 0; i < n; i++) {
        float x = mp__kx_f32(a[i]), y = mp__kx_f32(ref[i]);
        if (isnan(x)) {
            (*nan_count)++;
            continue;
        }
        if (fabs(x - y) > maxd) maxd = fabs(x - y);
        if (fabs(y) > maxr) maxr = fabs(y);
    }
    return maxr > 0 ? maxd / maxr : maxd;
}

static void run_case(int selection, int dtype, int use_graph, int64_t tokens)
{
    mp_err err = {0};
    mp_kx_shape sh = {.hidden = H, .intermediate = I, .top_k = K, .experts = E, .slots = R, .ranks = P,
                      .max_replicas = MAXREP, .max_tokens = T, .dtype = dtype, .selection = selection,
                      .seed = 7, .with_experts = 1, .use_graph = use_graph};
    mp_kx *kx = NULL;
    assert_int_equal(mp_kx_create(&kx, &sh, &err), 0);
    make_plan();
    assert_int_equal(mp_kx_set_plan(kx, l2p, rc, &err), 0);
    uint16_t *ids = calloc(T * K, 2);
    float *w = calloc(T * K, 4);
    make_routing(ids, w, tokens);
    assert_int_equal(mp_kx_set_routing(kx, tokens, ids, w, &err), 0);
    assert_int_equal(mp_kx_poison(kx, &err), 0);

    /* layout: exact */
    assert_int_equal(mp_kx_layout(kx, &err), 0);
    int64_t n = tokens * K;
    int32_t *slot = calloc(n + 1, 4), *row = calloc(n + 1, 4), *rslot = calloc(n + 1, 4), *rrow = calloc(n + 1, 4);
    int32_t srows[R], dests[T], rdests[T];
    int64_t traffic[P * P], rtraffic[P * P];
    assert_int_equal(mp_kx_read_assign(kx, slot, row, &err), 0);
    assert_int_equal(mp_kx_read_traffic(kx, traffic, dests, &err), 0);
    assert_int_equal(mp_kref_layout(tokens, K, ids, E, MAXREP, l2p, rc, R, P, selection, 7, rslot, rrow, srows, rdests,
                                    rtraffic),
                     0);
    assert_memory_equal(slot, rslot, n * 4);
    assert_memory_equal(row, rrow, n * 4);
    assert_memory_equal(dests, rdests, tokens * 4);
    assert_memory_equal(traffic, rtraffic, sizeof traffic);
    mp_kx_layout_info info;
    assert_int_equal(mp_kx_layout_get(kx, &info), 0);
    assert_memory_equal(info.slot_rows, srows, sizeof srows);
    if (selection != MP_KX_SEL_NONE) assert_true(srows[16] > 0); /* replicas used */
    else assert_int_equal(srows[16], 0);

    /* permute: exact (bf16), or equal to the FP8 round trip */
    assert_int_equal(mp_kx_permute(kx, &err), 0);
    for (int r = 0; r < P; r++) assert_int_equal(mp_kx_experts(kx, r, &err), 0);
    assert_int_equal(mp_kx_combine(kx, &err), 0);
    uint16_t *x = malloc((size_t)tokens * H * 2), *xp = malloc((size_t)n * H * 2), *rxp = malloc((size_t)n * H * 2);
    uint16_t *y = malloc((size_t)n * H * 2), *ry = malloc((size_t)n * H * 2);
    uint16_t *out = malloc((size_t)tokens * H * 2), *rout = malloc((size_t)tokens * H * 2);
    assert_int_equal(mp_kx_read(kx, MP_KX_BUF_X, x, (size_t)tokens * H, &err), 0);
    assert_int_equal(mp_kx_read(kx, MP_KX_BUF_PERMUTED, xp, (size_t)n * H, &err), 0);
    if (dtype == MP_KX_FP8) {
        uint16_t *xq = malloc((size_t)tokens * H * 2);
        for (int64_t t = 0; t < tokens; t++) mp_kref_fp8_roundtrip(H, x + t * H, NULL, NULL, xq + t * H);
        mp_kref_permute(tokens, K, H, xq, rrow, rxp);
        free(xq);
    } else {
        mp_kref_permute(tokens, K, H, x, rrow, rxp);
    }
    assert_memory_equal(xp, rxp, (size_t)n * H * 2);

    /* experts: each slot's rows through the reference, from the GPU's inputs */
    uint16_t *w13 = malloc((size_t)2 * I * H * 2), *w2 = malloc((size_t)H * I * 2);
    int64_t off = 0;
    for (int s = 0; s < R; s++) {
        assert_int_equal(mp_kx_read_weights(kx, s, w13, w2, &err), 0);
        mp_kref_expert(srows[s], H, I, w13, w2, xp + off * H, ry + off * H);
        off += srows[s];
    }
    assert_int_equal(off, n);
    assert_int_equal(mp_kx_read(kx, MP_KX_BUF_EXPERT_OUT, y, (size_t)n * H, &err), 0);
    size_t nans;
    double ey = rel_err(y, ry, (size_t)n * H, &nans);
    assert_int_equal(nans, 0);
    assert_true(ey < 1e-2);

    /* combine: from the GPU's expert outputs */
    assert_int_equal(mp_kx_read(kx, MP_KX_BUF_OUT, out, (size_t)tokens * H, &err), 0);
    mp_kref_combine(tokens, K, H, y, rrow, w, rout);
    double eo = rel_err(out, rout, (size_t)tokens * H, &nans);
    assert_int_equal(nans, 0);
    assert_true(eo < 1e-2);
    printf("# sel %d dtype %d graph %d T %lld: expert rel err %.2e, combine rel err %.2e\n", selection, dtype,
           use_graph, (long long)tokens, ey, eo);

    /* timing runs and returns a positive median */
    double us = 0;
    assert_int_equal(mp_kx_time(kx, MP_KX_PH_PERMUTE, 0, 3, 1, 1, &us, &err), 0);
    assert_true(us > 0);
    assert_int_equal(mp_kx_time(kx, MP_KX_PH_EXPERTS, 1, 3, 1, 0, &us, &err), 0);
    assert_true(us > 0);

    free(w13), free(w2), free(x), free(xp), free(rxp), free(y), free(ry), free(out), free(rout);
    free(slot), free(row), free(rslot), free(rrow), free(ids), free(w);
    mp_kx_destroy(kx);
}

static void test_bf16_none(void **st) { (void)st; run_case(MP_KX_SEL_NONE, MP_KX_BF16, 0, T); }
static void test_bf16_modulo_graph(void **st) { (void)st; run_case(MP_KX_SEL_MODULO, MP_KX_BF16, 1, T); }
static void test_bf16_random_graph(void **st) { (void)st; run_case(MP_KX_SEL_RANDOM, MP_KX_BF16, 1, 77); }
static void test_fp8_modulo(void **st) { (void)st; run_case(MP_KX_SEL_MODULO, MP_KX_FP8, 1, T); }

static void test_bad_inputs(void **st)
{
    (void)st;
    mp_err err = {0};
    mp_kx *kx = NULL;
    mp_kx_shape sh = {.hidden = 100, .intermediate = I, .top_k = K, .experts = E, .slots = R, .ranks = P,
                      .max_replicas = MAXREP, .max_tokens = T};
    assert_int_equal(mp_kx_create(&kx, &sh, &err), MP_EINVAL);
    assert_null(kx);
    sh.hidden = H;
    sh.ranks = 3;
    assert_int_equal(mp_kx_create(&kx, &sh, &err), MP_EINVAL);
    sh.ranks = P;
    assert_int_equal(mp_kx_create(&kx, &sh, &err), 0);
    make_plan();
    rc[3] = 0;
    assert_int_equal(mp_kx_set_plan(kx, l2p, rc, &err), MP_ERANGE);
    make_plan();
    assert_int_equal(mp_kx_set_plan(kx, l2p, rc, &err), 0);
    uint16_t ids[K] = {1, 2, 3, E};
    assert_int_equal(mp_kx_set_routing(kx, 1, ids, NULL, &err), MP_ERANGE);
    assert_int_equal(mp_kx_set_routing(kx, T + 1, ids, NULL, &err), MP_ELIMIT);
    assert_int_equal(mp_kx_permute(kx, &err), MP_EINVAL); /* before layout */
    assert_int_equal(mp_kx_experts(kx, 0, &err), MP_EINVAL); /* no weights */
    mp_kx_destroy(kx);
    mp_kx_destroy(NULL);
}

static void test_copy_probe(void **st)
{
    (void)st;
    mp_err err = {0};
    double gbps = 0;
    assert_int_equal(mp_kx_copy_bandwidth((size_t)64 << 20, 5, &gbps, &err), 0);
    assert_true(gbps > 10.0);
}

int main(void)
{
    char dev[256];
    mp_err err = {0};
    if (mp_kernels_device(dev, sizeof dev, &err)) {
        printf("kernels_gpu_test: %s; skipped\n", err.msg);
        return 77;
    }
    printf("# device: %s\n", dev);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bf16_none),         cmocka_unit_test(test_bf16_modulo_graph),
        cmocka_unit_test(test_bf16_random_graph), cmocka_unit_test(test_fp8_modulo),
        cmocka_unit_test(test_bad_inputs),        cmocka_unit_test(test_copy_probe),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
#endif
