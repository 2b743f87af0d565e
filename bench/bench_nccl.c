/* bench_nccl.c - host cost of the multi-GPU replay's exchange planning
 * (kernels/exchange.c: replica choice and counts per rank, then the
 * displacements and row maps once the counts are all-gathered), against the
 * single-GPU CPU layout of the same tokens (kernels/ref.c) measured in the
 * same run, interleaved; medians of RUNS (default 15).  CPU only.
 * usage: bench_nccl [-n RUNS] [-J FILE] [ranks] [tokens_per_rank] */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/harness.h"
#include "kernels/exchange.c"
#include "kernels/ref.c"

enum { E = 256, K = 8 };

int main(int argc, char **argv)
{
    bh *h;
    int brc = bh_open(&h, "bench_nccl", "[ranks dividing 256] [tokens_per_rank]", 15, &argc, argv);
    if (!h) return brc;
    int P = argc > 1 ? atoi(argv[1]) : 8;
    int64_t per = argc > 2 ? atoll(argv[2]) : 4096;
    int reps = bh_runs_wanted(h);
    if (P < 1 || P > MP_XG_MAX_RANKS || E % P || per < 1 || argc > 3) {
        bh_usage(h);
        bh_close(h);
        return 2;
    }
    const int64_t T = per * P;
    uint16_t *ids = malloc(sizeof *ids * (size_t)(T * K));
    int32_t *slot = malloc(sizeof *slot * (size_t)(T * K)), *row = malloc(sizeof *row * (size_t)(T * K));
    int32_t *srows = malloc(sizeof *srows * E), *dests = malloc(sizeof *dests * (size_t)T);
    int64_t *traffic = malloc(sizeof *traffic * (size_t)(P * P));
    int32_t l2p[E], rc[E];
    mp_xg *xg[MP_XG_MAX_RANKS];
    static bh_runs tb, tx;
    if (!ids || !slot || !row || !srows || !dests || !traffic) return 1;
    for (int e = 0; e < E; e++) l2p[e] = e, rc[e] = 1;
    uint64_t st = 1;
    for (int64_t t = 0; t < T; t++) /* Zipf-ish: squares of uniform values favour low ids */
        for (int k = 0; k < K; k++) {
            st = mp__kx_mix(st);
            double u = (double)(st >> 11) / 9007199254740992.0;
            ids[t * K + k] = (uint16_t)((int)(u * u * E) % E);
        }
    for (int r = 0; r < P; r++)
        if (mp_xg_create(&xg[r], P, r, E, K, per, 0, NULL)) return 1;
    for (int i = 0; i < reps; i++) {
        bh_clock c;
        bh_clock_start(&c);
        mp_kref_layout(T, K, ids, E, 1, l2p, rc, E, P, 1, 1, slot, row, srows, dests, traffic);
        bh_runs_add(&tb, bh_clock_stop(&c));
        bh_clock_start(&c);
        /* every rank's share of the work, one after another: the sum of
         * what the P ranks do in parallel */
        for (int r = 0; r < P; r++) {
            int64_t f, n;
            mp_xg_token_range(T, P, r, &f, &n);
            mp_xg_layout(xg[r], f, n, ids + f * K, E, 1, l2p, rc, 1, 1, NULL);
        }
        for (int r = 0; r < P; r++)
            for (int s = 0; s < P; s++)
                if (s != r) memcpy(xg[r]->counts + (size_t)s * E, mp_xg_my_counts(xg[s]), sizeof(int64_t) * E);
        for (int r = 0; r < P; r++) mp_xg_finish(xg[r], NULL);
        bh_runs_add(&tx, bh_clock_stop(&c));
    }
    bh_param(h, "ranks", "%d", P);
    bh_param(h, "tokens", "%lld", (long long)T);
    bh_param(h, "tokens per rank", "%lld", (long long)per);
    bh_param(h, "top_k", "%d", K);
    bh_param(h, "experts", "%d", E);
    double b = bh_runs_median(&tb, BH_WALL), e = bh_runs_median(&tx, BH_WALL);
    bh_section(h, "exchange planning on the host (x baseline: time over the baseline's)");
    bh_row *x = bh_row_begin(h, "baseline: single-GPU CPU layout", &tb);
    bh_row_num(x, "per rank ms", "%.3f", NAN);
    bh_row_num(x, "x baseline", "%.2f", NAN);
    bh_row_num(x, "per rank x baseline", "%.2f", NAN);
    bh_row_end(x);
    x = bh_row_begin(h, "exchange: all ranks' layout + finish", &tx);
    bh_row_num(x, "per rank ms", "%.3f", e / P * 1e3);
    bh_row_num(x, "x baseline", "%.2f", e / b);
    bh_row_num(x, "per rank x baseline", "%.2f", e / P / b);
    bh_row_end(x);
    for (int r = 0; r < P; r++) mp_xg_destroy(xg[r]);
    free(ids), free(slot), free(row), free(srows), free(dests), free(traffic);
    return bh_close(h);
}
