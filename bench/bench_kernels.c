/* bench_kernels.c - GPU benchmark of the replay kernels (issue 7 acceptance):
 *   bench_kernels [-n ROUNDS] [-J FILE] copy|move|gemm|replay|all [DUMPDIR]
 *   bench_kernels trace OUT.mpt
 * copy: cudaMemcpy D2D rate; move: permute/combine at H=7168, K=8 (bf16 and
 * FP8) against that rate, dumping each routing to DUMPDIR for
 * bench/torch_ref.py; gemm: one rank's 32 experts (DeepSeek-V3 shapes) at M
 * rows each; replay: Zipf(s=1) routing, 256 experts on 8 emulated ranks,
 * linear vs a greedy balanced placement (built here; the planner's come
 * later), interleaved over ROUNDS rounds (default 5, the median round kept),
 * after a calibration whose table feeds sim's cost model for a predicted
 * ratio; trace: writes that routing as a .mpt file.  The GPU phases are timed
 * by CUDA events inside the kernels library (medians of their iterations), so
 * the rows carry figures, not the harness's CPU timer.  Built only with the
 * CUDA kernels (bench/CMakeLists.txt). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/harness.h"
#include "kernels/mp_kernels.h"
#include "kernels/mp_kx_common.h"
#include "sim/mp_cost.h"
#include "traces/formats/mp_trace.h"

enum { H = 7168, I = 2048, K = 8, E = 256, P = 8, TMAX = 16384 };

static double copy_gbps;
static bh *g_bh; /* the harness */

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
    bh_section(g_bh, "copy: cudaMemcpyAsync D2D 1 GiB, median of 30 (bytes read + written)");
    bh_row *x = bh_row_begin(g_bh, "copy D2D", NULL);
    bh_row_num(x, "GB/s", "%.1f", copy_gbps);
    bh_row_end(x);
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
        char title[128];
        snprintf(title, sizeof title, "move (%s): H=%d K=%d, L2 flushed, median of 50",
                 dt ? "fp8 e4m3 + per-128 scales" : "bf16", H, K);
        bh_section(g_bh, title);
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
            char name[32];
            snprintf(name, sizeof name, "T=%lld", (long long)T);
            bh_row *x = bh_row_begin(g_bh, name, NULL);
            bh_row_num(x, "permute_us", "%.1f", pu);
            bh_row_num(x, "permute GB/s", "%.1f", pbytes / pu / 1e3);
            bh_row_num(x, "permute %copy", "%.1f", 100 * pbytes / pu / 1e3 / copy_gbps);
            bh_row_num(x, "combine_us", "%.1f", cu);
            bh_row_num(x, "combine GB/s", "%.1f", cbytes / cu / 1e3);
            bh_row_num(x, "combine %copy", "%.1f", 100 * cbytes / cu / 1e3 / copy_gbps);
            bh_row_end(x);
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
    char title[160];
    snprintf(title, sizeof title, "gemm: one rank, %d experts, gate/up %dx%d + down %dx%d bf16, L2 flushed, median of 20",
             per, 2 * I, H, H, I);
    bh_section(g_bh, title);
    bh_note(g_bh, "floor: %.0f MB of weights at the copy rate %.1f GB/s = %.1f us", wbytes / 1e6, copy_gbps,
            wbytes / copy_gbps / 1e3);
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
        char name[32];
        snprintf(name, sizeof name, "M=%d", Ms[i]);
        bh_row *x = bh_row_begin(g_bh, name, NULL);
        bh_row_num(x, "graph_us", "%.1f", g);
        bh_row_num(x, "TFLOP/s", "%.1f", flops / g / 1e6);
        bh_row_num(x, "x_floor", "%.2f", g / (wbytes / copy_gbps / 1e3));
        bh_row_num(x, "nograph_us", "%.1f", ng);
        bh_row_num(x, "nograph TFLOP/s", "%.1f", flops / ng / 1e6);
        bh_row_end(x);
    }
    mp_kx_destroy(kx);
}

static void print_step(const char *name, const mp_kx_step *s, double ref)
{
    bh_row *x = bh_row_begin(g_bh, name, NULL);
    bh_row_num(x, "rows_max", "%.0f", (double)s->rows_max);
    bh_row_num(x, "rows_mean", "%.0f", s->rows_mean);
    bh_row_num(x, "layout_us", "%.1f", s->layout_us);
    bh_row_num(x, "permute_us", "%.1f", s->permute_us);
    bh_row_num(x, "combine_us", "%.1f", s->combine_us);
    bh_row_num(x, "expert_max", "%.1f", s->expert_max_us);
    bh_row_num(x, "expert_mean", "%.1f", s->expert_mean_us);
    bh_row_num(x, "step_us", "%.1f", s->step_us);
    bh_row_num(x, "TFLOP/s", "%.1f", s->gemm_tflops);
    bh_row_num(x, "/linear", "%.3f", ref > 0 ? s->step_us / ref : 1.0);
    bh_row_end(x);
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
    bh_section(g_bh, "calibrate: one rank's expert time (mp_kx_calibrate, T=8192)");
    bh_note(g_bh, "copy %.1f GB/s, permute %.1f GB/s, combine %.1f GB/s, layout %.1f us", cal.copy_gbps,
            cal.permute_gbps, cal.combine_gbps, cal.layout_us);
    calibrated = mp_cost_default();
    calibrated.hidden = H;
    calibrated.intermediate = I;
    for (int i = 0; i < cal.npoints; i++) {
        const mp_kx_calib_point *p = &cal.points[i];
        char name[48];
        snprintf(name, sizeof name, "active %d, rows %d", p->active, p->rows_per_expert);
        bh_row *x = bh_row_begin(g_bh, name, NULL);
        bh_row_num(x, "us", "%.1f", p->us);
        bh_row_num(x, "us/expert", "%.2f", p->us / p->active);
        bh_row_end(x);
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
    bh_note(g_bh, "trace: wrote %s (Zipf s=1, seed 7, %d tokens, 1 layer)", path, TMAX);
}

static int cmp_step(const void *a, const void *b)
{
    double x = ((const mp_kx_step *)a)->step_us, y = ((const mp_kx_step *)b)->step_us;
    return (x > y) - (x < y);
}

static void bench_replay(int rounds)
{
    mp_err err = {0};
    int64_t Ts[] = {512, 4096, 16384};
    mp_kx_shape sh = {.hidden = H, .intermediate = I, .top_k = K, .experts = E, .slots = E, .ranks = P,
                      .max_replicas = 1, .max_tokens = TMAX, .seed = 1, .with_experts = 1, .use_graph = 1};
    mp_kx *kx;
    if (mp_kx_create(&kx, &sh, &err)) die(&err);
    uint16_t *ids = malloc(sizeof *ids * TMAX * K);
    int32_t lin[E], bal[E], rc[E];
    mp_kx_step *st[3];
    for (int p = 0; p < 3; p++)
        if (!(st[p] = malloc(sizeof *st[p] * (size_t)rounds))) exit(1);
    bh_note(g_bh, "replay: Zipf s=1 over %d experts (shuffled ids), top-%d, %d emulated ranks, H=%d I=%d bf16; each phase "
               "median of 9; linear, balanced, linear again interleaved over %d rounds, median round",
            E, K, P, H, I, rounds);
    bh_note(g_bh, "step = layout + (permute + combine)/ranks + max over ranks of expert time (links not modelled)");
    for (size_t i = 0; i < sizeof Ts / sizeof Ts[0]; i++) {
        int64_t T = Ts[i];
        zipf_routing(T, 1.0, 7, ids);
        plan_linear(lin, rc);
        plan_balanced(ids, T, bal, rc);
        /* the three measurements interleave over rounds so that clock and
         * temperature drift reach them alike; each keeps its median round */
        const int32_t *plans[3] = {lin, bal, lin};
        if (mp_kx_set_routing(kx, T, ids, NULL, &err)) die(&err);
        for (int r = 0; r < rounds; r++)
            for (int p = 0; p < 3; p++)
                if (mp_kx_set_plan(kx, plans[p], rc, &err) || mp_kx_measure_step(kx, 9, 2, 1, &st[p][r], &err))
                    die(&err);
        mp_kx_step med[3];
        for (int p = 0; p < 3; p++) {
            qsort(st[p], (size_t)rounds, sizeof *st[p], cmp_step);
            med[p] = st[p][rounds / 2];
        }
        mp_kx_step sl = med[0], sb = med[1], sl2 = med[2];
        char title[64];
        snprintf(title, sizeof title, "replay T=%lld", (long long)T);
        bh_section(g_bh, title);
        print_step("linear", &sl, sl.step_us);
        print_step("balanced", &sb, sl.step_us);
        print_step("linear#2", &sl2, sl.step_us);
        bh_note(g_bh, "linear/balanced step ratio %.3f; linear twice: %.3f; measured expert-max ratio %.3f",
                sl.step_us / sb.step_us, sl2.step_us / sl.step_us, sl.expert_max_us / sb.expert_max_us);
        if (have_calibration) {
            double pl = predict_expert_max(ids, T, lin), pb = predict_expert_max(ids, T, bal);
            double fixed_l = sl.layout_us + (sl.permute_us + sl.combine_us) / P;
            double fixed_b = sb.layout_us + (sb.permute_us + sb.combine_us) / P;
            bh_note(g_bh,
                    "sim cost model (calibrated table): expert-max %.1f / %.1f us, ratio %.3f; with the measured "
                    "layout/permute/combine terms added, step ratio %.3f (replay %.3f, prediction/measurement %.3f)",
                    pl, pb, pl / pb, (pl + fixed_l) / (pb + fixed_b), sl.step_us / sb.step_us,
                    ((pl + fixed_l) / (pb + fixed_b)) / (sl.step_us / sb.step_us));
        }
    }
    for (int p = 0; p < 3; p++) free(st[p]);
    free(ids);
    mp_kx_destroy(kx);
}

int main(int argc, char **argv)
{
    int rc = bh_open(&g_bh, "bench_kernels", "copy|move|gemm|replay|all [DUMPDIR] | trace OUT.mpt", 5, &argc, argv);
    if (!g_bh) return rc;
    const char *what = argc > 1 ? argv[1] : "all";
    const char *dump = argc > 2 ? argv[2] : NULL;
    int known = !strcmp(what, "trace") || !strcmp(what, "copy") || !strcmp(what, "move") || !strcmp(what, "gemm") ||
                !strcmp(what, "replay") || !strcmp(what, "all");
    if (!known || argc > 3 || (!strcmp(what, "trace") && !dump)) {
        bh_usage(g_bh);
        bh_close(g_bh);
        return 2;
    }
    if (!strcmp(what, "trace")) {
        write_trace(dump);
        return bh_close(g_bh);
    }
    char dev[256];
    mp_err err = {0};
    if (mp_kernels_device(dev, sizeof dev, &err)) die(&err);
    bh_param(g_bh, "device", "%s", dev);
    bench_copy();
    if (!strcmp(what, "move") || !strcmp(what, "all")) bench_move(dump);
    if (!strcmp(what, "gemm") || !strcmp(what, "all")) bench_gemm();
    if (!strcmp(what, "replay") || !strcmp(what, "all")) {
        bench_calibrate();
        bench_replay(bh_runs_wanted(g_bh));
    }
    return bh_close(g_bh);
}
