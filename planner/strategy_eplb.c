/* strategy_eplb.c - DeepSeek's EPLB (github.com/deepseek-ai/EPLB, eplb.py)
 * reproduced exactly: hierarchical when G % N == 0, else global;
 * `eplb-global` forces the global policy.  Like eplb.py, the loads are
 * rounded to float32 and every sum and quotient is a float32 one, so replica
 * counts and packings agree with it slot for slot on tie-free inputs
 * (tests/data/eplb holds eplb.py's own outputs and a test compares). */
#include <stdlib.h>

#include "planner/mp__planner.h"

int mp_eplb_policy(int32_t E, int32_t G, int32_t N, int32_t P, int32_t R, int global, mp_err *err)
{
    if (G < 1) G = 1;
    if (N < 1) N = 1;
    if (R < E) return mp_err_set(err, MP_EINVAL, "eplb: %d slots cannot hold %d experts", R, E);
    if (P < 1 || R % P != 0) return mp_err_set(err, MP_EINVAL, "eplb: %d slots do not split over %d GPUs", R, P);
    if (global || G % N != 0) return 0; /* eplb.py: rebalance_experts_hierarchical(w, R, 1, 1, P) */
    if (E % G != 0) return mp_err_set(err, MP_EINVAL, "eplb: %d experts do not split into %d groups", E, G);
    if (P % N != 0) return mp_err_set(err, MP_EINVAL, "eplb: %d GPUs do not split over %d nodes", P, N);
    return 1;
}

int mp__eplb_layer(const double *wd, int32_t E, int32_t R, int32_t G, int32_t N, int32_t P, int32_t nfixed,
                   int32_t *row)
{
    int32_t gs = E / G, gpn = G / N, EN = E / N, RN = R / N, PN = P / N, S = R / P;
    float *w = malloc((size_t)E * sizeof *w), *gw = calloc((size_t)G, sizeof *gw);
    int32_t *gpack = malloc((size_t)G * sizeof *gpack), *grank = malloc((size_t)G * sizeof *grank);
    int32_t *mlog2log = malloc((size_t)E * sizeof *mlog2log);
    float *lw = malloc((size_t)EN * sizeof *lw), *pw = malloc((size_t)RN * sizeof *pw);
    int32_t *cnt = malloc((size_t)EN * sizeof *cnt), *phy = malloc((size_t)RN * sizeof *phy);
    int32_t *pk = malloc((size_t)RN * sizeof *pk), *pl = malloc((size_t)RN * sizeof *pl);
    int rc = MP_ENOMEM;
    if (!w || !gw || !gpack || !grank || !mlog2log || !lw || !pw || !cnt || !phy || !pk || !pl) goto out;
    for (int32_t e = 0; e < E; e++) w[e] = (float)wd[e]; /* weight.float() */
    /* (1) groups onto nodes (the sums matter only when N > 1) */
    for (int32_t g = 0; g < G; g++)
        for (int32_t j = 0; j < gs; j++) gw[g] = (float)(gw[g] + w[g * gs + j]);
    if ((rc = mp__eplb_pack_f32(gw, G, N, gpack, grank))) goto out;
    for (int32_t g = 0; g < G; g++)
        for (int32_t j = 0; j < gs; j++) mlog2log[(gpack[g] * gpn + grank[g]) * gs + j] = g * gs + j;
    for (int32_t n = 0; n < N; n++) {
        /* (2) replicate inside the node */
        for (int32_t i = 0; i < EN; i++) lw[i] = w[mlog2log[n * EN + i]];
        for (int32_t i = 0; i < EN; i++) phy[i] = i;
        if ((rc = mp__dhondt_f32(lw, EN, RN, N == 1 ? nfixed : 0, cnt, phy + EN))) goto out;
        /* (3) replicas onto the node's GPUs, each weighing w / cnt */
        for (int32_t i = 0; i < RN; i++) pw[i] = (float)(lw[phy[i]] / (float)cnt[phy[i]]);
        if ((rc = mp__eplb_pack_f32(pw, RN, PN, pk, pl))) goto out;
        for (int32_t i = 0; i < RN; i++) row[n * RN + pk[i] * S + pl[i]] = mlog2log[n * EN + phy[i]];
    }
    rc = 0;
out:
    free(w), free(gw), free(gpack), free(grank), free(mlog2log), free(lw), free(pw), free(cnt), free(phy), free(pk),
        free(pl);
    return rc;
}

static int run_policy(const mp_strategy_input *in, int32_t *phy2log, int global, mp_err *err)
{
    int rc = mp_strategy_input_check(in, 1, global ? "eplb-global" : "eplb", err);
    if (rc) return rc;
    int32_t G = in->groups > 0 ? in->groups : 1, N = in->topo.nodes, P = in->topo.gpus;
    int32_t R = P * in->topo.slots_per_gpu;
    int hier = mp_eplb_policy(in->experts, G, N, P, R, global, err);
    if (hier < 0) return hier;
    if (!hier) G = 1, N = 1;
    for (int32_t l = 0; l < in->layers; l++) {
        rc = mp__eplb_layer(in->load + (int64_t)l * in->experts, in->experts, R, G, N, P, in->fixed,
                            phy2log + (int64_t)l * R);
        if (rc) return mp_err_set(err, rc, "eplb: layer %d: %s", l, mp_strerror(rc));
    }
    return 0;
}

int mp__strategy_eplb(const mp_strategy_input *in, int32_t *phy2log, mp_err *err)
{
    return run_policy(in, phy2log, 0, err);
}

int mp__strategy_eplb_global(const mp_strategy_input *in, int32_t *phy2log, mp_err *err)
{
    return run_policy(in, phy2log, 1, err);
}
