/* metrics.c - predicted per-GPU loads of a plan under the even split and the
 * balance metrics (defined in moeplace-plan(1)), shared with sim/. */
#include <math.h>
#include <stdlib.h>

#include "planner/mp_planner.h"

double mp_layer_max_load(const int32_t *row, int32_t R, int32_t S, const double *w, int32_t E, int32_t *cnt,
                         double *gpu)
{
    if (S < 1 || R < S || R % S != 0) return NAN;
    int32_t P = R / S;
    for (int32_t e = 0; e < E; e++) cnt[e] = 0;
    for (int32_t p = 0; p < R; p++) {
        if (row[p] < 0 || row[p] >= E) return NAN;
        cnt[row[p]]++;
    }
    double mx = 0;
    for (int32_t g = 0; g < P; g++) {
        double t = 0;
        for (int32_t i = 0; i < S; i++) t += w[row[g * S + i]] / cnt[row[g * S + i]];
        gpu[g] = t;
        if (t > mx) mx = t;
    }
    return mx;
}

void mp_plan_metrics_destroy(mp_plan_metrics *m)
{
    if (!m) return;
    free(m->gpu_load);
    free(m->max);
    free(m->mean);
    free(m->max_over_mean);
    free(m->lb0);
    free(m->lb_rep);
    free(m->duplicates);
    free(m);
}

int mp_plan_metrics_compute(mp_plan_metrics **out, const mp_plan *p, const double *load, mp_err *err)
{
    *out = NULL;
    int32_t L = p->layers, E = p->experts, P = p->topo.gpus, S = p->topo.slots_per_gpu, R = p->slots;
    if (L < 1 || E < 1 || P < 1 || S < 1 || (int64_t)P * S != R || !load)
        return mp_err_set(err, MP_EINVAL, "metrics: bad plan shape %d layers x %d experts on %d GPUs x %d slots", L, E,
                          P, S);
    for (int64_t i = 0; i < (int64_t)L * R; i++)
        if (p->phy2log[i] < 0 || p->phy2log[i] >= E)
            return mp_err_set(err, MP_ERANGE, "metrics: layer %lld slot %lld holds expert %d, outside 0..%d",
                              (long long)(i / R), (long long)(i % R), p->phy2log[i], E - 1);
    mp_plan_metrics *m = calloc(1, sizeof *m);
    int32_t *cnt = malloc((size_t)E * sizeof *cnt), *seen = malloc((size_t)E * sizeof *seen);
    if (m) {
        m->layers = L, m->gpus = P;
        m->gpu_load = malloc((size_t)L * P * sizeof *m->gpu_load);
        m->max = malloc((size_t)L * sizeof(double));
        m->mean = malloc((size_t)L * sizeof(double));
        m->max_over_mean = malloc((size_t)L * sizeof(double));
        m->lb0 = malloc((size_t)L * sizeof(double));
        m->lb_rep = malloc((size_t)L * sizeof(double));
        m->duplicates = calloc((size_t)L, sizeof(int32_t));
    }
    if (!m || !cnt || !seen || !m->gpu_load || !m->max || !m->mean || !m->max_over_mean || !m->lb0 || !m->lb_rep ||
        !m->duplicates) {
        free(cnt), free(seen);
        mp_plan_metrics_destroy(m);
        return mp_err_set(err, MP_ENOMEM, "metrics: out of memory");
    }
    double sum_mean = 0, sum_max = 0;
    m->worst_max_over_mean = 0;
    for (int32_t l = 0; l < L; l++) {
        const double *w = load + (int64_t)l * E;
        const int32_t *row = mp_plan_layer(p, l);
        double *gl = m->gpu_load + (int64_t)l * P;
        double mx = mp_layer_max_load(row, R, S, w, E, cnt, gl);
        double W = 0;
        for (int32_t e = 0; e < E; e++) W += w[e];
        double mean = W / P;
        /* D'Hondt's largest replica for R slots: the smallest possible max w/c */
        int32_t *dc = seen;
        if (mp_dhondt(w, E, R, 0, dc, NULL)) {
            free(cnt), free(seen);
            mp_plan_metrics_destroy(m);
            return mp_err_set(err, MP_ENOMEM, "metrics: out of memory");
        }
        double top = 0;
        for (int32_t e = 0; e < E; e++)
            if (w[e] / dc[e] > top) top = w[e] / dc[e];
        m->max[l] = mx;
        m->mean[l] = mean;
        m->max_over_mean[l] = mean > 0 ? mx / mean : 1;
        m->lb0[l] = mean;
        m->lb_rep[l] = top > mean ? top : mean;
        /* duplicates: replicas beyond the first of an expert on one GPU */
        for (int32_t e = 0; e < E; e++) seen[e] = -1;
        for (int32_t s = 0; s < R; s++) {
            int32_t g = s / S, e = row[s];
            if (seen[e] == g) m->duplicates[l]++;
            else if (seen[e] < g) seen[e] = g;
        }
        /* seen[] only remembers the last GPU: slots of one GPU are consecutive, so that suffices */
        m->total_duplicates += m->duplicates[l];
        sum_mean += mean;
        sum_max += mx;
        m->mean_max_over_mean += m->max_over_mean[l];
        if (l == 0 || m->max_over_mean[l] > m->worst_max_over_mean) {
            m->worst_max_over_mean = m->max_over_mean[l];
            m->worst_layer = l;
        }
        m->sglang_balancedness += (mean + 1e-5) / (mx + 1e-5);
        m->trtllm_imbalance += mean > 0 ? (mx - mean) / mean : 0;
        m->gap_lb0 += mean > 0 ? mx / mean - 1 : 0;
        m->gap_lb_rep += m->lb_rep[l] > 0 ? mx / m->lb_rep[l] - 1 : 0;
    }
    m->mean_max_over_mean /= L;
    m->sglang_balancedness /= L;
    m->trtllm_imbalance /= L;
    m->gap_lb0 /= L;
    m->gap_lb_rep /= L;
    m->vllm_balancedness = sum_max > 0 ? sum_mean / sum_max : 1;
    free(cnt), free(seen);
    *out = m;
    return 0;
}
