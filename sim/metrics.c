/* metrics.c - summaries over steps and a plan's balance under an even split. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sim/mp_sim.h"

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y); /* values are never NaN: a total order */
}

mp_summary mp_summarize(const double *v, int64_t n)
{
    mp_summary s = {0, 0, 0, 0, 0};
    if (n <= 0) return s;
    double *c = malloc((size_t)n * sizeof *c);
    double sum = 0;
    for (int64_t i = 0; i < n; i++) sum += v[i];
    s.mean = sum / (double)n;
    if (!c) { /* out of memory: keep the mean and the max */
        s.max = v[0];
        for (int64_t i = 1; i < n; i++) s.max = v[i] > s.max ? v[i] : s.max;
        s.p50 = s.p90 = s.p99 = s.max;
        return s;
    }
    memcpy(c, v, (size_t)n * sizeof *c);
    qsort(c, (size_t)n, sizeof *c, cmp_double);
    /* nearest rank: the ceil(q*n)-th smallest */
    const double q[3] = {0.50, 0.90, 0.99};
    double *dst[3] = {&s.p50, &s.p90, &s.p99};
    for (int i = 0; i < 3; i++) {
        int64_t r = (int64_t)ceil(q[i] * (double)n - 1e-9);
        if (r < 1) r = 1;
        *dst[i] = c[r - 1];
    }
    s.max = c[n - 1];
    free(c);
    return s;
}

double mp_plan_even_maxmean(const mp_plan *plan, const mp_loads *loads, int32_t step, double *per_layer)
{
    int32_t P = plan->topo.gpus, spg = plan->topo.slots_per_gpu;
    double *g = calloc((size_t)P, sizeof *g);
    if (!g) return NAN;
    double sum_max = 0, sum_mean = 0;
    int32_t s = step < 0 ? 0 : step;
    for (int32_t l = 0; l < plan->layers; l++) {
        const double *w = mp_loads_row(loads, s, l);
        memset(g, 0, (size_t)P * sizeof *g);
        const int32_t *row = mp_plan_layer(plan, l);
        double total = 0;
        for (int32_t p = 0; p < plan->slots; p++) {
            int32_t e = row[p];
            double we = e < loads->experts ? w[e] : 0.0;
            g[p / spg] += we / mp_plan_count(plan, l, e);
        }
        double mx = 0;
        for (int32_t i = 0; i < P; i++) {
            total += g[i];
            mx = g[i] > mx ? g[i] : mx;
        }
        double mean = total / P;
        if (per_layer) per_layer[l] = mean > 0 ? mx / mean : 1.0;
        sum_max += mx;
        sum_mean += mean;
    }
    free(g);
    return sum_mean > 0 ? sum_max / sum_mean : 1.0;
}

void mp_sim_result_destroy(mp_sim_result *r)
{
    if (!r) return;
    free(r->layer);
    free(r->series);
    free(r->gpu_rows);
    free(r->node_tokens);
    free(r->traffic);
    free(r);
}
