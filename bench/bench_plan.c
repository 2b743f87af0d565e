/* bench_plan.c - planning time and quality of eplb (hierarchical), eplb-global,
 * balanced and robust on one core: DeepSeek shape (58 x 256, Zipf s=1 and real-like
 * skew) on 64 GPUs x 5 slots and 32 x 9, the scaling case 60 x 384 on 256
 * GPUs, and the shipped real matrices.
 *
 *   bench_plan [-n RUNS] [-J FILE] [--quick] [--dump DIR] [--real DIR]
 *
 * Times are CPU time of the planning thread, median of RUNS (default 5;
 * --quick: 1 and no scaling cases; the scaling cases run once).
 * --dump DIR writes each synthetic case's loads as DIR/<case>.json (and the
 * eplb plans as DIR/<case>.<policy>.phy.json) for bench/eplb_ref.py, which
 * times our Python reimplementation of the reference on the same input and
 * checks it gives the same phy2log. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/harness.h"
#include "traces/formats/mp_loadfile.h"
#include "traces/stats/mp_loads_read.h"
#include "planner/mp_planner.h"

static uint64_t rs;
static uint64_t rnd(void)
{
    uint64_t z = (rs += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
static double unif(void) { return (rnd() >> 11) * (1.0 / 9007199254740992.0); }

/* Zipf s=1 per layer over a random permutation of the experts. */
static mp_loads *zipf(int32_t L, int32_t E, uint64_t seed)
{
    mp_loads *l;
    if (mp_loads_create(&l, 1, L, E, NULL)) exit(1);
    rs = seed;
    int32_t *perm = malloc((size_t)E * sizeof *perm);
    for (int32_t k = 0; k < L; k++) {
        for (int32_t e = 0; e < E; e++) perm[e] = e;
        for (int32_t e = E - 1; e > 0; e--) {
            int32_t j = (int32_t)(rnd() % (uint64_t)(e + 1)), t = perm[e];
            perm[e] = perm[j], perm[j] = t;
        }
        for (int32_t r = 0; r < E; r++) mp_loads_row(l, 0, k)[perm[r]] = floor(1e6 / (r + 1)) + 1;
    }
    free(perm);
    return l;
}

/* Real-like narrow-domain skew (the shape of the real matrices that
 * moeplace-stats(1) describes): lognormal sigma 2.3
 * with a flat head capped at 10.8x the mean expert, 2% dead experts. */
static mp_loads *skewed(int32_t L, int32_t E, uint64_t seed)
{
    mp_loads *l;
    if (mp_loads_create(&l, 1, L, E, NULL)) exit(1);
    rs = seed;
    for (int32_t k = 0; k < L; k++) {
        double *row = mp_loads_row(l, 0, k);
        for (int32_t e = 0; e < E; e++) {
            double z = sqrt(-2 * log(unif() + 1e-300)) * cos(6.283185307179586 * unif());
            row[e] = unif() < 0.02 ? 0 : exp(2.3 * z);
        }
        double lo = 0, hi = 0;
        for (int32_t e = 0; e < E; e++) hi = row[e] > hi ? row[e] : hi;
        for (int it = 0; it < 100; it++) {
            double c = (lo + hi) / 2, t = 0;
            for (int32_t e = 0; e < E; e++) t += row[e] < c ? row[e] : c;
            if (c / (t / E) > 10.8) hi = c;
            else lo = c;
        }
        for (int32_t e = 0; e < E; e++) row[e] = floor((row[e] < lo ? row[e] : lo * (0.97 + 0.03 * unif())) / lo * 1e5);
    }
    return l;
}

typedef struct result {
    bh_runs runs; /* thread CPU time is the one that counts: one core, whatever else runs */
    double mean, worst;
    int64_t dups;
} result;

static void measure(result *r, const mp_loads *l, const char *strategy, int32_t P, int32_t N, int32_t S, int32_t G,
                    int reps, const char *dump)
{
    mp_plan_request rq = {strategy, {P, N, S}, G, 0, 0, 0, 0};
    mp_plan *p = NULL;
    r->runs.n = 0;
    for (int i = 0; i < reps; i++) {
        mp_plan_destroy(p);
        mp_err err = {0};
        bh_clock c;
        bh_clock_start(&c);
        if (mp_planner_run(&p, l, &rq, &err)) {
            fprintf(stderr, "%s: %s\n", strategy, err.msg);
            exit(1);
        }
        bh_runs_add(&r->runs, bh_clock_stop(&c));
    }
    mp_plan_metrics *m;
    if (mp_plan_metrics_of(&m, p, l, NULL)) exit(1);
    r->mean = m->mean_max_over_mean, r->worst = m->worst_max_over_mean, r->dups = m->total_duplicates;
    if (dump) {
        FILE *fp = fopen(dump, "w");
        if (fp) {
            fputs("[", fp);
            for (int32_t k = 0; k < p->layers; k++) {
                fputs(k ? ",[" : "[", fp);
                for (int32_t s = 0; s < p->slots; s++) fprintf(fp, s ? ",%d" : "%d", mp_plan_layer(p, k)[s]);
                fputs("]", fp);
            }
            fputs("]\n", fp);
            fclose(fp);
        }
    }
    mp_plan_metrics_destroy(m);
    mp_plan_destroy(p);
}

static void run_case(bh *h, const char *name, const mp_loads *l, int32_t P, int32_t N, int32_t S, int32_t G, int reps,
                     const char *dir)
{
    static const char *strategies[] = {"eplb", "eplb-global", "balanced", "robust"};
    static result r;
    char path[512];
    if (dir) {
        snprintf(path, sizeof path, "%s/%s.json", dir, name);
        mp_loads_write_json(l, path, 0, NULL);
    }
    double ms[4] = {0};
    for (int i = 0; i < 4; i++) {
        char dump[512], row_name[160], shape[64];
        if (dir && i < 2) snprintf(dump, sizeof dump, "%s/%s.%s.phy.json", dir, name, strategies[i]);
        measure(&r, l, strategies[i], P, N, S, G, reps, dir && i < 2 ? dump : NULL);
        snprintf(row_name, sizeof row_name, "%s %s", name, strategies[i]);
        snprintf(shape, sizeof shape, "%dx%d P=%d N=%d S=%d G=%d", l->layers, l->experts, P, N, S, G);
        ms[i] = bh_runs_median(&r.runs, BH_THREAD_CPU) * 1e3;
        bh_row *row = bh_row_begin(h, row_name, &r.runs);
        bh_row_text(row, "shape", shape);
        bh_row_num(row, "thread cpu ms", "%.2f", ms[i]);
        bh_row_num(row, "x eplb", "%.2f", i ? ms[i] / ms[0] : 1.0);
        bh_row_num(row, "max/mean mean", "%.5f", r.mean);
        bh_row_num(row, "max/mean worst", "%.5f", r.worst);
        bh_row_num(row, "dups", "%.0f", (double)r.dups);
        bh_row_end(row);
    }
    if (dir) {
        snprintf(path, sizeof path, "%s/cases.txt", dir);
        FILE *fp = fopen(path, "a");
        if (fp) {
            fprintf(fp, "%s %d %d %d %d %.3f %.3f %.3f %.3f\n", name, P, N, S, G, ms[0], ms[1], ms[2], ms[3]);
            fclose(fp);
        }
    }
}

int main(int argc, char **argv)
{
    int quick = 0;
    for (int i = 1; i < argc; i++) quick |= !strcmp(argv[i], "--quick"); /* its default runs */
    bh *h;
    int rc = bh_open(&h, "bench_plan", "[--quick] [--dump DIR] [--real DIR]", quick ? 1 : 5, &argc, argv);
    if (!h) return rc;
    const char *dir = NULL, *real = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick")) quick = 1;
        else if (!strcmp(argv[i], "--dump") && i + 1 < argc) dir = argv[++i];
        else if (!strcmp(argv[i], "--real") && i + 1 < argc) real = argv[++i];
        else {
            bh_usage(h);
            bh_close(h);
            return 2;
        }
    }
    int reps = bh_runs_wanted(h);
    bh_param(h, "strategies", "eplb, eplb-global, balanced, robust (x eplb: time over eplb's in the same run)");
    bh_param(h, "clock", "thread CPU time (one core)");
    bh_section(h, "synthetic loads: Zipf s=1 and real-like skew, DeepSeek shape");
    mp_loads *z = zipf(58, 256, 7), *s = skewed(58, 256, 11);
    run_case(h, "zipf_58x256_64x5", z, 64, 8, 5, 8, reps, dir);
    run_case(h, "zipf_58x256_32x9", z, 32, 4, 9, 8, reps, dir);
    run_case(h, "skewed_58x256_64x5", s, 64, 8, 5, 8, reps, dir);
    run_case(h, "skewed_58x256_32x9", s, 32, 4, 9, 8, reps, dir);
    mp_loads_destroy(z);
    mp_loads_destroy(s);
    if (!quick) {
        bh_section(h, "scaling: 60 x 384 on 256 GPUs (one run each)");
        mp_loads *big = zipf(60, 384, 13), *bs = skewed(60, 384, 17);
        run_case(h, "zipf_60x384_256x2", big, 256, 32, 2, 8, 1, dir);
        run_case(h, "zipf_60x384_256x3", big, 256, 32, 3, 8, 1, dir);
        run_case(h, "skewed_60x384_256x2", bs, 256, 32, 2, 8, 1, dir);
        mp_loads_destroy(big);
        mp_loads_destroy(bs);
    }
    if (real) {
        static const char *files[] = {"qwen2-57b-a14b_sharegpt_sglang.json", "esft-vanilla-lite_intent_shares.json"};
        static const int32_t shapes[][2] = {{16, 5}, {16, 4}, {32, 3}, {8, 9}};
        bh_section(h, "real load matrices");
        for (int f = 0; f < 2; f++) {
            char path[1024];
            snprintf(path, sizeof path, "%s/%s", real, files[f]);
            mp_loads *l;
            mp_err err = {0};
            if (mp_loads_read(&l, path, NULL, 0, &err)) {
                fprintf(stderr, "%s\n", err.msg);
                continue;
            }
            for (int c = 0; c < 4; c++) {
                char name[64];
                snprintf(name, sizeof name, "%s_%dx%d", f ? "esft" : "qwen2", shapes[c][0], shapes[c][1]);
                run_case(h, name, l, shapes[c][0], 1, shapes[c][1], 1, reps, NULL);
            }
            mp_loads_destroy(l);
        }
    }
    return bh_close(h);
}
