/* kernels_ref_test.c - the CPU reference of the replay kernels on hand-made
 * cases.  The reference is compiled into the CUDA kernels target, which
 * CPU-only builds lack, so this test compiles kernels/ref.c itself. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <math.h>
#include <cmocka.h>

#include "kernels/mp_kernels.h" /* the selection enum */
#include "kernels/ref.c"

static void test_bf16(void **st)
{
    (void)st;
    assert_int_equal(mp__kx_bf16(1.0f), 0x3f80);
    assert_int_equal(mp__kx_bf16(-2.0f), 0xc000);
    /* 1 + 2^-8 is halfway between 1 and 1 + 2^-7: ties to even (1.0) */
    assert_int_equal(mp__kx_bf16(1.00390625f), 0x3f80);
    /* 1 + 3*2^-8 is halfway between 1+2^-7 (odd) and 1+2^-6: up */
    assert_int_equal(mp__kx_bf16(1.01171875f), 0x3f82);
    assert_true(isnan(mp__kx_f32(mp__kx_bf16(NAN))));
    assert_true(mp__kx_f32(0x3fc0) == 1.5f);
}

static void test_fp8(void **st)
{
    (void)st;
    assert_int_equal(mp_kref_fp8(0.0f), 0x00);
    assert_int_equal(mp_kref_fp8(1.0f), 0x38);
    assert_int_equal(mp_kref_fp8(-1.0f), 0xb8);
    assert_int_equal(mp_kref_fp8(448.0f), 0x7e);
    assert_int_equal(mp_kref_fp8(1000.0f), 0x7e); /* saturates */
    assert_int_equal(mp_kref_fp8(0.015625f), 0x08); /* 2^-6, smallest normal */
    assert_int_equal(mp_kref_fp8(0.001953125f), 0x01); /* 2^-9, smallest subnormal */
    assert_int_equal(mp_kref_fp8(1.0625f), 0x38); /* tie to even mantissa 0 */
    assert_int_equal(mp_kref_fp8(1.1875f), 0x3a); /* tie to even mantissa 2 */
    assert_int_equal(mp_kref_fp8(1.99f), 0x40);   /* rounds up into the next binade */
    for (int b = 0; b < 256; b++) {
        if ((b & 0x7f) == 0x7f) continue;
        float v = mp_kref_fp8_value((uint8_t)b);
        if (b == 0x80) continue; /* -0 encodes as 0x80 */
        assert_int_equal(mp_kref_fp8(v), b);
    }
    assert_true(mp_kref_fp8_value(0x7e) == 448.0f);
    /* a row of 128: block max maps to 448, values come back within e4m3 precision */
    uint16_t x[256], out[256];
    uint8_t q[256];
    float s[2];
    for (int i = 0; i < 256; i++) x[i] = mp__kx_bf16(i < 128 ? (float)(i - 64) / 8.0f : 0.0f);
    mp_kref_fp8_roundtrip(256, x, q, s, out);
    assert_true(fabsf(s[0] - 8.0f / 448.0f) < 1e-9f);
    assert_true(s[1] == 1.0f);
    assert_int_equal(q[0], 0xfe); /* -8 -> -448 */
    for (int i = 0; i < 256; i++) {
        float a = mp__kx_f32(x[i]), b = mp__kx_f32(out[i]);
        assert_true(fabsf(a - b) <= fabsf(a) / 16.0f + 1e-6f);
    }
}

static void test_layout(void **st)
{
    (void)st;
    /* 4 experts, 6 slots on 3 ranks (2 each): expert 0 twice (slots 0, 4) */
    int32_t l2p[4 * 2] = {0, 4, 1, -1, 2, -1, 3, 5}, rc[4] = {2, 1, 1, 2};
    /* 3 tokens, top-2 */
    uint16_t ids[6] = {0, 1, 0, 3, 2, 0};
    int32_t slot[6], row[6], srows[6], dests[3];
    int64_t traffic[9];
    assert_int_equal(mp_kref_layout(3, 2, ids, 4, 2, l2p, rc, 6, 3, MP_KX_SEL_MODULO, 1, slot, row, srows, dests,
                                    traffic),
                     0);
    /* modulo: assignment a = t*K + k takes replica a % count */
    int32_t eslot[6] = {0, 1, 0, 5, 2, 4};
    assert_memory_equal(slot, eslot, sizeof eslot);
    int32_t esr[6] = {2, 1, 1, 0, 1, 1};
    assert_memory_equal(srows, esr, sizeof esr);
    /* offsets: s0 0, s1 2, s2 3, s3 4, s4 4, s5 5; in assignment order within a slot */
    int32_t erow[6] = {0, 2, 1, 5, 3, 4};
    assert_memory_equal(row, erow, sizeof erow);
    /* token 0 -> ranks {0}; token 1 -> {0, 2}; token 2 -> {1, 2} */
    int32_t ed[3] = {1, 2, 2};
    assert_memory_equal(dests, ed, sizeof ed);
    /* sources: token t from rank t (ceil(3/3) = 1 token each) */
    int64_t etr[9] = {1, 0, 0, 1, 0, 1, 0, 1, 1};
    assert_memory_equal(traffic, etr, sizeof etr);
    /* none: always the first replica */
    assert_int_equal(mp_kref_layout(3, 2, ids, 4, 2, l2p, rc, 6, 3, MP_KX_SEL_NONE, 1, slot, row, srows, dests,
                                    traffic),
                     0);
    assert_int_equal(slot[2], 0);
    assert_int_equal(slot[3], 3);
    /* random: deterministic, and uses both replicas over many tokens */
    uint16_t many[200];
    int32_t s2[200], r2[200], sr2[6], d2[100];
    int64_t t2[9];
    for (int i = 0; i < 200; i++) many[i] = (uint16_t)(i % 2 ? 3 : 0);
    assert_int_equal(mp_kref_layout(100, 2, many, 4, 2, l2p, rc, 6, 3, MP_KX_SEL_RANDOM, 9, s2, r2, sr2, d2, t2), 0);
    assert_true(sr2[0] > 20 && sr2[4] > 20 && sr2[3] > 20 && sr2[5] > 20);
    assert_int_equal(sr2[0] + sr2[4], 100);
    /* an id out of range fails */
    ids[5] = 4;
    assert_int_equal(mp_kref_layout(3, 2, ids, 4, 2, l2p, rc, 6, 3, MP_KX_SEL_NONE, 1, slot, row, srows, dests,
                                    traffic),
                     -1);
}

static void test_permute_combine(void **st)
{
    (void)st;
    enum { T = 2, K = 2, HH = 3 };
    uint16_t x[T * HH], xp[T * K * HH], y[T * K * HH], out[T * HH];
    for (int i = 0; i < T * HH; i++) x[i] = mp__kx_bf16((float)(i + 1));
    int32_t row[T * K] = {3, 0, 1, 2};
    mp_kref_permute(T, K, HH, x, row, xp);
    for (int h = 0; h < HH; h++) {
        assert_int_equal(xp[3 * HH + h], x[h]);
        assert_int_equal(xp[0 * HH + h], x[h]);
        assert_int_equal(xp[1 * HH + h], x[HH + h]);
        assert_int_equal(xp[2 * HH + h], x[HH + h]);
    }
    for (int r = 0; r < T * K; r++)
        for (int h = 0; h < HH; h++) y[r * HH + h] = mp__kx_bf16((float)(10 * r + h));
    float w[T * K] = {0.5f, 0.25f, 1.0f, -1.0f};
    mp_kref_combine(T, K, HH, y, row, w, out);
    /* token 0: 0.5*y[3] + 0.25*y[0]; token 1: y[1] - y[2] */
    for (int h = 0; h < HH; h++) {
        assert_true(mp__kx_f32(out[h]) == 0.5f * (30 + h) + 0.25f * h);
        assert_true(mp__kx_f32(out[HH + h]) == (10.0f + h) - (20.0f + h));
    }
    mp_kref_combine(T, K, HH, y, row, NULL, out);
    assert_true(mp__kx_f32(out[0]) == 0.5f * 30 + 0.5f * 0);
}

static void test_expert(void **st)
{
    (void)st;
    /* H = 2, I = 1: gate row [1 0], up row [0 1], down [[2] [3]] */
    uint16_t w13[4] = {mp__kx_bf16(1), 0, 0, mp__kx_bf16(1)};
    uint16_t w2[2] = {mp__kx_bf16(2), mp__kx_bf16(3)};
    uint16_t xp[4] = {mp__kx_bf16(1), mp__kx_bf16(2), mp__kx_bf16(-1), mp__kx_bf16(0.5f)};
    uint16_t y[4];
    mp_kref_expert(2, 2, 1, w13, w2, xp, y);
    float a0 = mp__kx_f32(mp__kx_bf16(1.0f / (1.0f + expf(-1.0f)) * 2.0f));
    float a1 = mp__kx_f32(mp__kx_bf16(-1.0f / (1.0f + expf(1.0f)) * 0.5f));
    assert_true(mp__kx_f32(y[0]) == mp__kx_f32(mp__kx_bf16(2 * a0)));
    assert_true(mp__kx_f32(y[1]) == mp__kx_f32(mp__kx_bf16(3 * a0)));
    assert_true(mp__kx_f32(y[2]) == mp__kx_f32(mp__kx_bf16(2 * a1)));
    assert_true(fabsf(mp__kx_f32(y[1]) - 3 * 1.4621172f) < 0.02f);
}

static void test_select_and_uniform(void **st)
{
    (void)st;
    assert_int_equal(mp__kx_select(MP_KX_SEL_MODULO, 1, 17, 5, 3), 2);
    assert_int_equal(mp__kx_select(MP_KX_SEL_MODULO, 1, 18, 5, 3), 0);
    assert_int_equal(mp__kx_select(MP_KX_SEL_NONE, 1, 17, 5, 3), 0);
    assert_int_equal(mp__kx_select(MP_KX_SEL_RANDOM, 1, 17, 5, 1), 0);
    double sum = 0, lo = 1, hi = -1;
    for (int i = 0; i < 10000; i++) {
        float u = mp__kx_uniform(3, 1, (uint64_t)i);
        sum += u;
        if (u < lo) lo = u;
        if (u > hi) hi = u;
    }
    /* mean of 10000 U(-1,1): sd 0.0058; 5 sd */
    assert_true(fabs(sum / 10000) < 0.03);
    assert_true(lo >= -1.0 && lo < -0.99 && hi < 1.0 && hi > 0.99);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bf16),           cmocka_unit_test(test_fp8),   cmocka_unit_test(test_layout),
        cmocka_unit_test(test_permute_combine), cmocka_unit_test(test_expert), cmocka_unit_test(test_select_and_uniform),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
