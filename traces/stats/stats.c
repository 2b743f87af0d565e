/* stats.c - skew statistics of one expert load vector (mp_stats.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "traces/stats/mp_stats.h"

typedef struct ranked {
    double v;
    int32_t id;
} ranked;

/* hottest first; equal loads: lower id first (a total order, so qsort is deterministic) */
static int by_load_desc(const void *a, const void *b)
{
    const ranked *x = a, *y = b;
    if (x->v != y->v) return x->v < y->v ? 1 : -1;
    return (x->id > y->id) - (x->id < y->id);
}

int mp_stats_layer(const double *loads, int32_t experts, mp_layer_stats *out, mp_err *err)
{
    memset(out, 0, sizeof *out);
    if (experts < 1) return mp_err_set(err, MP_EINVAL, "stats: no experts");
    ranked *r = malloc((size_t)experts * sizeof *r);
    if (!r) return mp_err_set(err, MP_ENOMEM, "stats: out of memory");
    double total = 0, mn = loads[0], mx = loads[0];
    int32_t dead = 0;
    for (int32_t e = 0; e < experts; e++) {
        double v = loads[e];
        r[e].v = v;
        r[e].id = e;
        total += v;
        mn = v < mn ? v : mn;
        mx = v > mx ? v : mx;
        dead += v == 0;
    }
    qsort(r, (size_t)experts, sizeof *r, by_load_desc);
    out->experts = experts;
    out->total = total;
    out->mean = total / experts;
    out->min = mn;
    out->max = mx;
    out->dead = dead;
    out->nhot = experts < MP_STATS_HOT ? experts : MP_STATS_HOT;
    for (int32_t i = 0; i < out->nhot; i++) {
        out->hottest[i] = r[i].id;
        out->hottest_share[i] = total > 0 ? r[i].v / total : 0;
    }
    if (total > 0) {
        double mean = out->mean, var = 0, ent = 0, gsum = 0, top = 0;
        int32_t ntop = (experts + 9) / 10;
        for (int32_t i = 0; i < experts; i++) {
            double v = r[i].v, d = v - mean, s = v / total;
            var += d * d;
            if (s > 0) ent -= s * log(s);
            /* ascending rank i' = experts-1-i, Gini = sum (2i'-n+1) x / (n sum) */
            gsum += (double)(2 * (experts - 1 - i) - experts + 1) * v;
            if (i < ntop) top += v;
        }
        out->max_over_mean = mx / mean;
        out->cv = sqrt(var / experts) / mean;
        out->gini = gsum / ((double)experts * total);
        out->entropy_norm = experts > 1 ? ent / log((double)experts) : 1.0;
        out->top10_share = top / total;
        out->ep8 = mp_stats_gpu_imbalance(loads, experts, 8);
        out->ep32 = mp_stats_gpu_imbalance(loads, experts, 32);
    }
    free(r);
    return 0;
}

double mp_stats_gpu_imbalance(const double *loads, int32_t experts, int32_t gpus)
{
    if (gpus < 1 || gpus > experts) return 0;
    double total = 0, hot = 0;
    for (int32_t g = 0; g < gpus; g++) {
        int32_t a = (int32_t)((int64_t)g * experts / gpus), b = (int32_t)((int64_t)(g + 1) * experts / gpus);
        double s = 0;
        for (int32_t e = a; e < b; e++) s += loads[e];
        total += s;
        hot = s > hot ? s : hot;
    }
    return total > 0 ? hot * gpus / total : 0;
}

int mp_stats_rank(const double *loads, int32_t experts, int32_t *order, mp_err *err)
{
    if (experts < 1) return 0;
    ranked *r = malloc((size_t)experts * sizeof *r);
    if (!r) return mp_err_set(err, MP_ENOMEM, "stats: out of memory");
    for (int32_t e = 0; e < experts; e++) {
        r[e].v = loads[e];
        r[e].id = e;
    }
    qsort(r, (size_t)experts, sizeof *r, by_load_desc);
    for (int32_t e = 0; e < experts; e++) order[e] = r[e].id;
    free(r);
    return 0;
}

void mp_stats_summarize(const double *v, int64_t n, mp_summary *out)
{
    out->mean = out->min = out->max = 0;
    if (n < 1) return;
    double s = 0, mn = v[0], mx = v[0];
    for (int64_t i = 0; i < n; i++) {
        s += v[i];
        mn = v[i] < mn ? v[i] : mn;
        mx = v[i] > mx ? v[i] : mx;
    }
    out->mean = s / (double)n;
    out->min = mn;
    out->max = mx;
}

void mp_stats_groups(const double *loads, int32_t experts, int32_t groups, double *out)
{
    int32_t per = experts / groups;
    for (int32_t g = 0; g < groups; g++) {
        double s = 0;
        for (int32_t e = g * per; e < (g + 1) * per; e++) s += loads[e];
        out[g] = s;
    }
}

/* average ranks (1-based) of v into rk */
static int avg_ranks(const double *v, int32_t n, double *rk)
{
    ranked *r = malloc((size_t)n * sizeof *r);
    if (!r) return -1;
    for (int32_t i = 0; i < n; i++) {
        r[i].v = v[i];
        r[i].id = i;
    }
    qsort(r, (size_t)n, sizeof *r, by_load_desc);
    for (int32_t i = 0; i < n;) {
        int32_t j = i;
        while (j + 1 < n && r[j + 1].v == r[i].v) j++;
        double avg = (i + j) / 2.0 + 1;
        for (int32_t k = i; k <= j; k++) rk[r[k].id] = avg;
        i = j + 1;
    }
    free(r);
    return 0;
}

double mp_stats_rank_corr(const double *a, const double *b, int32_t n)
{
    if (n < 2) return 0;
    double *ra = malloc((size_t)n * sizeof *ra), *rb = malloc((size_t)n * sizeof *rb);
    double c = 0;
    if (ra && rb && avg_ranks(a, n, ra) == 0 && avg_ranks(b, n, rb) == 0) {
        double ma = (n + 1) / 2.0, sab = 0, saa = 0, sbb = 0;
        for (int32_t i = 0; i < n; i++) {
            sab += (ra[i] - ma) * (rb[i] - ma);
            saa += (ra[i] - ma) * (ra[i] - ma);
            sbb += (rb[i] - ma) * (rb[i] - ma);
        }
        c = saa > 0 && sbb > 0 ? sab / sqrt(saa * sbb) : 0;
    }
    free(ra);
    free(rb);
    return c;
}
