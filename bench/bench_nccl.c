/* bench_nccl.c - host cost of the multi-GPU replay's exchange planning
 * (kernels/exchange.c: replica choice and counts per rank, then the
 * displacements and row maps once the counts are all-gathered), against the
 * single-GPU CPU layout of the same tokens (kernels/ref.c) measured in the
 * same run.  CPU only.
 * usage: bench_nccl [ranks] [tokens_per_rank] [reps] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kernels/exchange.c"
#include "kernels/ref.c"

enum { E = 256, K = 8 };

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    int P = argc > 1 ? atoi(argv[1]) : 8;
    int64_t per = argc > 2 ? atoll(argv[2]) : 4096;
    int reps = argc > 3 ? atoi(argv[3]) : 15;
    if (P < 1 || P > MP_XG_MAX_RANKS || E % P || per < 1 || reps < 1 || reps > 1000) {
        fprintf(stderr, "usage: bench_nccl [ranks dividing 256] [tokens_per_rank] [reps]\n");
        return 2;
    }
    const int64_t T = per * P;
    uint16_t *ids = malloc(sizeof *ids * (size_t)(T * K));
    int32_t *slot = malloc(sizeof *slot * (size_t)(T * K)), *row = malloc(sizeof *row * (size_t)(T * K));
    int32_t *srows = malloc(sizeof *srows * E), *dests = malloc(sizeof *dests * (size_t)T);
    int64_t *traffic = malloc(sizeof *traffic * (size_t)(P * P));
    int32_t l2p[E], rc[E];
    mp_xg *x[MP_XG_MAX_RANKS];
    double *tb = malloc(sizeof *tb * (size_t)reps), *tx = malloc(sizeof *tx * (size_t)reps);
    if (!ids || !slot || !row || !srows || !dests || !traffic || !tb || !tx) return 1;
    for (int e = 0; e < E; e++) l2p[e] = e, rc[e] = 1;
    uint64_t st = 1;
    for (int64_t t = 0; t < T; t++) /* Zipf-ish: squares of uniform values favour low ids */
        for (int k = 0; k < K; k++) {
            st = mp__kx_mix(st);
            double u = (double)(st >> 11) / 9007199254740992.0;
            ids[t * K + k] = (uint16_t)((int)(u * u * E) % E);
        }
    for (int r = 0; r < P; r++)
        if (mp_xg_create(&x[r], P, r, E, K, per, 0, NULL)) return 1;
    for (int i = 0; i < reps; i++) {
        double t0 = now_s();
        mp_kref_layout(T, K, ids, E, 1, l2p, rc, E, P, 1, 1, slot, row, srows, dests, traffic);
        double t1 = now_s();
        /* every rank's share of the work, one after another: the sum of
         * what the P ranks do in parallel */
        for (int r = 0; r < P; r++) {
            int64_t f, n;
            mp_xg_token_range(T, P, r, &f, &n);
            mp_xg_layout(x[r], f, n, ids + f * K, E, 1, l2p, rc, 1, 1, NULL);
        }
        for (int r = 0; r < P; r++)
            for (int s = 0; s < P; s++)
                if (s != r) memcpy(x[r]->counts + (size_t)s * E, mp_xg_my_counts(x[s]), sizeof(int64_t) * E);
        for (int r = 0; r < P; r++) mp_xg_finish(x[r], NULL);
        double t2 = now_s();
        tb[i] = t1 - t0;
        tx[i] = t2 - t1;
    }
    qsort(tb, (size_t)reps, sizeof *tb, cmp_d);
    qsort(tx, (size_t)reps, sizeof *tx, cmp_d);
    double b = tb[reps / 2], e = tx[reps / 2];
    printf("ranks %d, tokens %lld (%lld per rank), top-%d of %d experts, %d reps (medians)\n", P, (long long)T,
           (long long)per, K, E, reps);
    printf("baseline  single-GPU CPU layout (mp_kref_layout)     %9.3f ms\n", b * 1e3);
    printf("exchange  all ranks' layout + finish (mp_xg_*)       %9.3f ms  ratio %.2f\n", e * 1e3, e / b);
    printf("exchange  per rank (sum / ranks)                     %9.3f ms  ratio %.2f\n", e / P * 1e3, e / P / b);
    for (int r = 0; r < P; r++) mp_xg_destroy(x[r]);
    free(ids), free(slot), free(row), free(srows), free(dests), free(traffic), free(tb), free(tx);
    return 0;
}
