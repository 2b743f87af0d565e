/* bench_kernels.c - GPU benchmark of the replay kernels (issue 7 acceptance):
 *   bench_kernels copy|move|gemm|replay|all [DUMPDIR]
 *   bench_kernels trace OUT.mpt
 * copy: cudaMemcpy D2D rate; move: permute/combine at H=7168, K=8 (bf16 and
 * FP8) against that rate, dumping each routing to DUMPDIR for
 * bench/torch_ref.py; gemm: one rank's 32 experts (DeepSeek-V3 shapes) at M
 * rows each; replay: Zipf(s=1) routing, 256 experts on 8 emulated ranks,
 * linear vs a greedy balanced placement (built here; the planner's come
 * later), after a calibration whose table feeds sim's cost model for a
 * predicted ratio; trace: writes that routing as a .mpt file.  Without CUDA
 * support it says so and exits 1. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef MP_HAVE_KERNELS
int main(void)
{
    fprintf(stderr, "bench_kernels: CUDA support not compiled in\n");
    return 1;
}
#else
#include <math.h>

#include "kernels/mp_kernels.h"
#include "kernels/mp_kx_common.h"
#include "sim/mp_cost.h"
#include "traces/formats/mp_trace.h"

enum { H = 7168, I = 2048, K = 8, E = 256, P = 8, TMAX = 16384 };

static double copy_gbps;

static void die(const mp_err *err)
{
    fprintf(stderr, "bench_kernels: %s\n", err->msg);
    exit(1);
}

/* Zipf(s) popularity over E experts, ranks mapped to ids by a seeded
 * shuffle; each token takes K distinct experts. */
static void zipf_routing(int64_t T, double s, uint64_t seed, uint16_t *ids)
{
    int perm[E];
    double cdf[E], sum = 0;
    for (int e = 0; e < E; e++) perm[e] = e;
    uint64_t st = seed;
    for (int e = E - 1; e > 0; e--) {
        st = mp__kx_mix(st);
        int j = (int)(st % (uint64_t)(e + 1));
        int tmp = perm[e];
        perm[e] = perm[j];
        perm[j] = tmp;
    }
    for (int e = 0; e < E; e++) cdf[e] = (sum += 1.0 / pow(e + 1, s));
    for (int64_t t = 0; t < T; t++) {
        unsigned char used[E] = {0};
        for (int k = 0; k < K; k++) {
            int e;
            do {
                st = mp__kx_mix(st);
                double u = (double)(st >> 11) / 9007199254740992.0 * sum;
                int lo = 0, hi = E - 1;
                while (lo < hi) {
                    int mid = (lo + hi) / 2;
                    if (cdf[mid] > u) hi = mid; else lo = mid + 1;
                }
                e = perm[lo];
            } while (used[e]);
            used[e] = 1;
            ids[t * K + k] = (uint16_t)e;
        }
    }
}

static void plan_linear(int32_t *l2p, int32_t *rc)
{
    for (int e = 0; e < E; e++) l2p[e] = e, rc[e] = 1;
}

/* Greedy: experts by load (desc, id asc) to the least-loaded rank with a
 * free slot; slots of a rank filled in order. */
static void plan_balanced(const uint16_t *ids, int64_t T, int32_t *l2p, int32_t *rc)
{
    int64_t load[E] = {0}, rload[P] = {0};
    int order[E], used[P] = {0};
    for (int64_t a = 0; a < T * K; a++) load[ids[a]]++;
    for (int e = 0; e < E; e++) order[e] = e;
    for (int i = 1; i < E; i++)
        for (int j = i; j > 0 && (load[order[j]] > load[order[j - 1]] ||
                                  (load[order[j]] == load[order[j - 1]] && order[j] < order[j - 1]));
             j--) {
            int tmp = order[j];
            order[j] = order[j - 1];
            order[j - 1] = tmp;
        }
    for (int i = 0; i < E; i++) {
        int best = -1;
        for (int r = 0; r < P; r++)
            if (used[r] < E / P && (best < 0 || rload[r] < rload[best])) best = r;
        l2p[order[i]] = best * (E / P) + used[best]++;
        rc[order[i]] = 1;
        rload[best] += load[order[i]];
    }
}

static void bench_copy(void)
{
    mp_err err = {0};
    if (mp_kx_copy_bandwidth((size_t)1 << 30, 30, &copy_gbps, &err)) die(&err);
    printf("copy: cudaMemcpyAsync D2D 1 GiB, median of 30: %.1f GB/s (read + written)\n", copy_gbps);
}

static void bench_move(const char *dump)
{
    mp_err err = {0};
    int64_t Ts[] = {1024, 2048, 4096, 8192, 16384};
    int32_t l2p[E], rc[E];
    uint16_t *ids = malloc(sizeof *ids * TMAX * K);
    plan_linear(l2p, rc);
    for (int dt = 0; dt < 2; dt++) {
        mp_kx_shape sh = {.hidden = H, .intermediate = I, .top_k = K, .experts = E, .slots = E, .ranks = P,
                          .max_replicas = 1, .max_tokens = TMAX, .dtype = dt, .seed = 1};
        mp_kx *kx;
        if (mp_kx_create(&kx, &sh, &err)) die(&err);
        if (mp_kx_set_plan(kx, l2p, rc, &err)) die(&err);
        printf("\nmove (%s): H=%d K=%d, L2 flushed, median of 50\n", dt ? "fp8 e4m3 + per-128 scales" : "bf16", H, K);
        printf("%7s %12s %10s %8s %12s %10s %8s\n", "T", "permute_us", "GB/s", "%copy", "combine_us", "GB/s", "%copy");
        for (size_t i = 0; i < sizeof Ts / sizeof Ts[0]; i++) {
            int64_t T = Ts[i];
            zipf_routing(T, 1.0, 100 + (uint64_t)T, ids);
            if (mp_kx_set_routing(kx, T, ids, NULL, &err) || mp_kx_layout(kx, &err)) die(&err);
            double pu, cu;
            if (mp_kx_time(kx, MP_KX_PH_PERMUTE, 0, 50, 5, 1, &pu, &err) ||
                mp_kx_time(kx, MP_KX_PH_COMBINE, 0, 50, 5, 1, &cu, &err))
                die(&err);
            /* permute: read a token once, write K copies; fp8 also reads bf16 and
             * writes its FP8 copy and scales once when quantising */
            double row = dt ? H + H / 128 * 4.0 : 2.0 * H;
            double pbytes = dt ? T * (2.0 * H + row) + T * row * (1 + K) : T * row * (1 + K);
            double cbytes = (double)T * 2 * H * (1 + K);
            printf("%7lld %12.1f %10.1f %7.1f%% %12.1f %10.1f %7.1f%%\n", (long long)T, pu, pbytes / pu / 1e3,
                   100 * pbytes / pu / 1e3 / copy_gbps, cu, cbytes / cu / 1e3, 100 * cbytes / cu / 1e3 / copy_gbps);
            if (dump && dt == 0) {
                char path[512];
                snprintf(path, sizeof path, "%s/route_%lld.bin", dump, (long long)T);
                int32_t *row_of = malloc(sizeof *row_of * T * K);
                if (mp_kx_read_assign(kx, NULL, row_of, &err)) die(&err);
                FILE *f = fopen(path, "wb");
                int64_t hdr[3] = {T, K, H};
                if (!f || fwrite(hdr, sizeof hdr, 1, f) != 1 || fwrite(row_of, 4, (size_t)(T * K), f) != (size_t)(T * K) ||
                    fclose(f))
                    fprintf(stderr, "bench_kernels: cannot write %s\n", path);
                free(row_of);
            }
        }
        mp_kx_destroy(kx);
    }
    free(ids);
}

static void bench_gemm(void)
{
    mp_err err = {0};
    int Ms[] = {16, 32, 64, 128, 256, 512, 1024, 2048, 4096};
    mp_kx_shape sh = {.hidden = H, .intermediate = I, .top_k = K, .experts = E, .slots = E, .ranks = P,
                      .max_replicas = 1, .max_tokens = TMAX, .seed = 1, .with_experts = 1, .use_graph = 1};
    mp_kx *kx;
    if (mp_kx_create(&kx, &sh, &err)) die(&err);
    int per = E / P;
    double wbytes = (double)per * 3 * H * I * 2;
    printf("\ngemm: one rank, %d experts, gate/up %dx%d + down %dx%d bf16, L2 flushed, median of 20\n", per, 2 * I, H,
           H, I);
    printf("floor: %.0f MB of weights at the copy rate %.1f GB/s = %.1f us\n", wbytes / 1e6, copy_gbps,
           wbytes / copy_gbps / 1e3);
    printf("%6s %12s %10s %10s %12s %10s\n", "M", "graph_us", "TFLOP/s", "x_floor", "nograph_us", "TFLOP/s");
    int32_t counts[E];
    for (size_t i = 0; i < sizeof Ms / sizeof Ms[0]; i++) {
        for (int s = 0; s < E; s++) counts[s] = s < per ? Ms[i] : 0;
        double g, ng;
        if (mp_kx_set_counts(kx, counts, &err)) die(&err);
        mp_kx_set_graph(kx, 1);
        if (mp_kx_time(kx, MP_KX_PH_EXPERTS, 0, 20, 3, 1, &g, &err)) die(&err);
        mp_kx_set_graph(kx, 0);
        if (mp_kx_time(kx, MP_KX_PH_EXPERTS, 0, 20, 3, 1, &ng, &err)) die(&err);
        double flops = mp_kx_flops_per_row(kx) * Ms[i] * per;
        printf("%6d %12.1f %10.1f %10.2f %12.1f %10.1f\n", Ms[i], g, flops / g / 1e6,
               g / (wbytes / copy_gbps / 1e3), ng, flops / ng / 1e6);
    }
    mp_kx_destroy(kx);
}

static void print_step(const char *name, const mp_kx_step *s, double ref)
{
    printf("%-10s %8lld %9.0f %10.1f %10.1f %10.1f %11.1f %11.1f %10.1f %8.1f %7.3f\n", name, (long long)s->rows_max,
           s->rows_mean, s->layout_us, s->permute_us, s->combine_us, s->expert_max_us, s->expert_mean_us, s->step_us,
           s->gemm_tflops, ref > 0 ? s->step_us / ref : 1.0);
}

static mp_cost calibrated;
static int have_calibration;

/* sim's cost model (mp_cost_expert_us over the calibrated table): the
 * slowest rank's summed expert time under a placement. */
static double predict_expert_max(const uint16_t *ids, int64_t T, const int32_t *l2p)
{
    int64_t rows[E] = {0};
    double rank_us[P] = {0}, mx = 0;
    mp_model m = {0};
    m.hidden = H;
    m.intermediate = I;
    for (int64_t a = 0; a < T * K; a++) rows[l2p[ids[a]]]++;
    for (int s = 0; s < E; s++) rank_us[s / (E / P)] += mp_cost_expert_us(&calibrated, &m, (double)rows[s]);
    for (int r = 0; r < P; r++)
        if (rank_us[r] > mx) mx = rank_us[r];
    return mx;
}

static void bench_calibrate(void)
{
    mp_err err = {0};
    mp_kx_shape sh = {.hidden = H, .intermediate = I, .top_k = K, .experts = E, .slots = E, .ranks = P,
                      .max_replicas = 1, .max_tokens = 8192, .seed = 1, .with_experts = 1, .use_graph = 1};
    mp_kx *kx;
    int32_t l2p[E], rc[E];
    plan_linear(l2p, rc);
    mp_kx_calibration cal;
    if (mp_kx_create(&kx, &sh, &err) || mp_kx_set_plan(kx, l2p, rc, &err) || mp_kx_calibrate(kx, NULL, 9, &cal, &err))
        die(&err);
    mp_kx_destroy(kx);
    printf("\ncalibrate: copy %.1f GB/s, permute %.1f GB/s, combine %.1f GB/s, layout %.1f us (T=8192)\n",
           cal.copy_gbps, cal.permute_gbps, cal.combine_gbps, cal.layout_us);
    printf("%6s %6s %10s %12s\n", "active", "rows", "us", "us/expert");
    calibrated = mp_cost_default();
    calibrated.hidden = H;
    calibrated.intermediate = I;
    for (int i = 0; i < cal.npoints; i++) {
        const mp_kx_calib_point *p = &cal.points[i];
        printf("%6d %6d %10.1f %12.2f\n", p->active, p->rows_per_expert, p->us, p->us / p->active);
        if (p->active == 32) {
            calibrated.table[calibrated.table_len].rows = p->rows_per_expert;
            calibrated.table[calibrated.table_len].us = p->us / p->active;
            calibrated.table_len++;
        }
    }
    have_calibration = calibrated.table_len >= 2;
}

/* Writes the replay's Zipf routing as a one-layer DeepSeek-V3-shaped trace
 * (16384 tokens, one step) for `moeplace plan` and `moeplace replay`. */
static void write_trace(const char *path)
{
    mp_err err = {0};
    mp_model m = mp_model_default();
    snprintf(m.name, sizeof m.name, "zipf1-deepseek-v3-layer");
    m.layers = 1;
    m.experts = E;
    m.top_k = K;
    m.groups = 8;
    m.topk_group = 4;
    m.shared = 1;
    m.hidden = H;
    m.intermediate = I;
    mp_step st = {0};
    mp_writer *w;
    mp_write_opts wo = {0};
    if (mp_step_reserve(&st, TMAX, 1, K, 0, 0, &err) || mp_writer_open(&w, path, &m, &wo, &err)) die(&err);
    zipf_routing(TMAX, 1.0, 7, st.ids);
    st.tokens = TMAX;
    st.end_of_step = 1;
    if (mp_writer_put(w, &st, &err) || mp_writer_commit(w, &err)) die(&err);
    mp_step_release(&st);
    printf("trace: wrote %s (Zipf s=1, seed 7, %d tokens, 1 layer)\n", path, TMAX);
}

static void bench_replay(void)
{
    mp_err err = {0};
    int64_t Ts[] = {512, 4096, 16384};
    mp_kx_shape sh = {.hidden = H, .intermediate = I, .top_k = K, .experts = E, .slots = E, .ranks = P,
                      .max_replicas = 1, .max_tokens = TMAX, .seed = 1, .with_experts = 1, .use_graph = 1};
    mp_kx *kx;
    if (mp_kx_create(&kx, &sh, &err)) die(&err);
    uint16_t *ids = malloc(sizeof *ids * TMAX * K);
    int32_t lin[E], bal[E], rc[E];
    printf("\nreplay: Zipf s=1 over %d experts (shuffled ids), top-%d, %d emulated ranks, H=%d I=%d bf16,\n"
           "each phase median of 9; linear, balanced, linear again interleaved over 5 rounds, median round\n",
           E, K, P, H, I);
    printf("step = layout + (permute + combine)/ranks + max over ranks of expert time (links not modelled)\n");
    for (size_t i = 0; i < sizeof Ts / sizeof Ts[0]; i++) {
        int64_t T = Ts[i];
        zipf_routing(T, 1.0, 7, ids);
        plan_linear(lin, rc);
        plan_balanced(ids, T, bal, rc);
        /* the three measurements interleave over rounds so that clock and
         * temperature drift reach them alike; each keeps its median round */
        enum { ROUNDS = 5 };
        mp_kx_step st[3][ROUNDS];
        const int32_t *plans[3] = {lin, bal, lin};
        if (mp_kx_set_routing(kx, T, ids, NULL, &err)) die(&err);
        for (int r = 0; r < ROUNDS; r++)
            for (int p = 0; p < 3; p++)
                if (mp_kx_set_plan(kx, plans[p], rc, &err) || mp_kx_measure_step(kx, 9, 2, 1, &st[p][r], &err))
                    die(&err);
        mp_kx_step med[3];
        for (int p = 0; p < 3; p++) {
            int idx[ROUNDS];
            for (int r = 0; r < ROUNDS; r++) idx[r] = r;
            for (int a = 1; a < ROUNDS; a++)
                for (int b = a; b > 0 && st[p][idx[b]].step_us < st[p][idx[b - 1]].step_us; b--) {
                    int tmp = idx[b];
                    idx[b] = idx[b - 1];
                    idx[b - 1] = tmp;
                }
            med[p] = st[p][idx[ROUNDS / 2]];
        }
        mp_kx_step sl = med[0], sb = med[1], sl2 = med[2];
        printf("\nT=%lld\n%-10s %8s %9s %10s %10s %10s %11s %11s %10s %8s %7s\n", (long long)T, "layout", "rows_max",
               "rows_mean", "layout_us", "permute_us", "combine_us", "expert_max", "expert_mean", "step_us", "TFLOP/s",
               "/linear");
        print_step("linear", &sl, sl.step_us);
        print_step("balanced", &sb, sl.step_us);
        print_step("linear#2", &sl2, sl.step_us);
        printf("linear/balanced step ratio %.3f; linear twice: %.3f\n", sl.step_us / sb.step_us,
               sl2.step_us / sl.step_us);
        printf("measured expert-max ratio %.3f", sl.expert_max_us / sb.expert_max_us);
        if (have_calibration) {
            double pl = predict_expert_max(ids, T, lin), pb = predict_expert_max(ids, T, bal);
            double fixed_l = sl.layout_us + (sl.permute_us + sl.combine_us) / P;
            double fixed_b = sb.layout_us + (sb.permute_us + sb.combine_us) / P;
            printf("; sim cost model (calibrated table): expert-max %.1f / %.1f us, ratio %.3f; with the measured\n"
                   "  layout/permute/combine terms added, step ratio %.3f (replay %.3f, prediction/measurement %.3f)",
                   pl, pb, pl / pb, (pl + fixed_l) / (pb + fixed_b), sl.step_us / sb.step_us,
                   ((pl + fixed_l) / (pb + fixed_b)) / (sl.step_us / sb.step_us));
        }
        printf("\n");
    }
    free(ids);
    mp_kx_destroy(kx);
}

int main(int argc, char **argv)
{
    const char *what = argc > 1 ? argv[1] : "all";
    const char *dump = argc > 2 ? argv[2] : NULL;
    if (!strcmp(what, "trace")) {
        if (!dump) {
            fprintf(stderr, "usage: bench_kernels trace OUT.mpt\n");
            return 2;
        }
        write_trace(dump);
        return 0;
    }
    char dev[256];
    mp_err err = {0};
    if (mp_kernels_device(dev, sizeof dev, &err)) die(&err);
    printf("device: %s\n", dev);
    bench_copy();
    if (!strcmp(what, "move") || !strcmp(what, "all")) bench_move(dump);
    if (!strcmp(what, "gemm") || !strcmp(what, "all")) bench_gemm();
    if (!strcmp(what, "replay") || !strcmp(what, "all")) {
        bench_calibrate();
        bench_replay();
    }
    return 0;
}
#endif
