/* metrics.c - summaries over steps and a plan's balance under an even split. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "planner/mp_planner.h"
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

double mp_plan_even_maxmean(const mp_plan *plan, const mp_loads *loads, double *per_layer)
{
    /* the planner's definitions (planner/mp_planner.h): 1 / vLLM balancedness */
    mp_plan_metrics *m = NULL;
    if (mp_plan_metrics_of(&m, plan, loads, NULL)) return NAN;
    if (per_layer) memcpy(per_layer, m->max_over_mean, (size_t)plan->layers * sizeof *per_layer);
    double r = m->vllm_balancedness > 0 ? 1.0 / m->vllm_balancedness : 1.0;
    mp_plan_metrics_destroy(m);
    return r;
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
