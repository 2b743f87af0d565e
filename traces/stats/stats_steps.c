/* stats_steps.c - per-step variation in bounded memory (mp_stats.h): for
 * each layer and figure, the values themselves up to MP_STEPVAR_EXACT
 * steps, then a log-spaced histogram; running mean and max are exact. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "traces/stats/mp__stats.h"

typedef struct acc {
    int64_t n;
    double sum, min, max;
    double *exact; /* n values while n <= MP_STEPVAR_EXACT */
    int64_t ecap;
    uint32_t *hist; /* once n > MP_STEPVAR_EXACT: nbins bins of 1/MP_STEPVAR_BINS doubling from 1 */
    int32_t nbins;
    int sorted;     /* exact[] is sorted */
} acc;

struct mp_stepvar {
    int32_t layers, experts;
    int64_t steps;
    acc *a; /* [layers][MP_STEPVAR_METRICS] */
};

static const int32_t metric_gpus[MP_STEPVAR_METRICS] = {0, 8, 32};

int mp_stepvar_create(mp_stepvar **out, int32_t layers, int32_t experts, mp_err *err)
{
    *out = NULL;
    if (layers < 1 || experts < 1) return mp_err_set(err, MP_EINVAL, "stepvar: bad shape %d x %d", layers, experts);
    mp_stepvar *sv = calloc(1, sizeof *sv);
    if (!sv || !(sv->a = calloc((size_t)layers * MP_STEPVAR_METRICS, sizeof *sv->a))) {
        free(sv);
        return mp_err_set(err, MP_ENOMEM, "stepvar: out of memory");
    }
    sv->layers = layers;
    sv->experts = experts;
    for (int32_t i = 0; i < layers * MP_STEPVAR_METRICS; i++) {
        int32_t g = metric_gpus[i % MP_STEPVAR_METRICS];
        double hi = g ? g : experts; /* the largest possible value */
        sv->a[i].nbins = (int32_t)ceil(log2(hi) * MP_STEPVAR_BINS) + 2;
    }
    *out = sv;
    return 0;
}

void mp_stepvar_destroy(mp_stepvar *sv)
{
    if (!sv) return;
    for (int32_t i = 0; i < sv->layers * MP_STEPVAR_METRICS; i++) {
        free(sv->a[i].exact);
        free(sv->a[i].hist);
    }
    free(sv->a);
    free(sv);
}

static int32_t bin_of(const acc *a, double v)
{
    double b = v > 1 ? floor(log2(v) * MP_STEPVAR_BINS) : 0;
    return b >= a->nbins - 1 ? a->nbins - 1 : (int32_t)b;
}

static int acc_put(acc *a, double v, mp_err *err)
{
    if (a->n == 0) a->min = a->max = v;
    a->min = v < a->min ? v : a->min;
    a->max = v > a->max ? v : a->max;
    a->sum += v;
    if (!a->hist && a->n < MP_STEPVAR_EXACT) {
        if (a->n == a->ecap) {
            int64_t nc = a->ecap ? a->ecap * 2 : 64;
            double *ne = realloc(a->exact, (size_t)nc * sizeof *ne);
            if (!ne) return mp_err_set(err, MP_ENOMEM, "stepvar: out of memory");
            a->exact = ne;
            a->ecap = nc;
        }
        a->exact[a->n++] = v;
        a->sorted = 0;
        return 0;
    }
    if (!a->hist) { /* switch to the histogram */
        if (!(a->hist = calloc((size_t)a->nbins, sizeof *a->hist)))
            return mp_err_set(err, MP_ENOMEM, "stepvar: out of memory");
        for (int64_t i = 0; i < a->n; i++) a->hist[bin_of(a, a->exact[i])]++;
        free(a->exact);
        a->exact = NULL;
        a->ecap = 0;
    }
    a->hist[bin_of(a, v)]++;
    a->n++;
    return 0;
}

int mp__stepvar_put(mp_stepvar *sv, int32_t layer, double total, double max, double blk8, double blk32, mp_err *err)
{
    if (!(total > 0)) return 0;
    acc *a = sv->a + (int64_t)layer * MP_STEPVAR_METRICS;
    int rc = acc_put(&a[MP_STEPVAR_MAXMEAN], max * sv->experts / total, err);
    if (!rc && sv->experts >= 8) rc = acc_put(&a[MP_STEPVAR_EP8], blk8 * 8 / total, err);
    if (!rc && sv->experts >= 32) rc = acc_put(&a[MP_STEPVAR_EP32], blk32 * 32 / total, err);
    return rc;
}

void mp__stepvar_step_done(mp_stepvar *sv)
{
    sv->steps++;
}

/* hottest block load of P contiguous blocks */
static double hot_block(const double *row, int32_t E, int32_t P)
{
    if (P > E) return 0;
    double hot = 0;
    for (int32_t g = 0; g < P; g++) {
        int32_t a = (int32_t)((int64_t)g * E / P), b = (int32_t)((int64_t)(g + 1) * E / P);
        double s = 0;
        for (int32_t e = a; e < b; e++) s += row[e];
        hot = s > hot ? s : hot;
    }
    return hot;
}

int mp_stepvar_add(mp_stepvar *sv, const double *loads, mp_err *err)
{
    int32_t E = sv->experts;
    for (int32_t l = 0; l < sv->layers; l++) {
        const double *row = loads + (int64_t)l * E;
        double total = 0, max = 0;
        for (int32_t e = 0; e < E; e++) {
            total += row[e];
            max = row[e] > max ? row[e] : max;
        }
        int rc = mp__stepvar_put(sv, l, total, max, hot_block(row, E, 8), hot_block(row, E, 32), err);
        if (rc) return rc;
    }
    sv->steps++;
    return 0;
}

int64_t mp_stepvar_steps(const mp_stepvar *sv)
{
    return sv->steps;
}

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

static double quantile(acc *a, double q)
{
    int64_t r = (int64_t)ceil(q * (double)a->n); /* nearest rank, 1-based */
    if (r < 1) r = 1;
    if (r > a->n) r = a->n;
    if (!a->hist) return a->exact[r - 1];
    int64_t cum = 0;
    for (int32_t b = 0; b < a->nbins; b++) {
        cum += a->hist[b];
        if (cum >= r) {
            double v = exp2((b + 0.5) / MP_STEPVAR_BINS);
            return v < a->min ? a->min : v > a->max ? a->max : v;
        }
    }
    return a->max;
}

void mp_stepvar_get(mp_stepvar *sv, int32_t layer, int metric, mp_dist *out)
{
    memset(out, 0, sizeof *out);
    if (layer < 0 || layer >= sv->layers || metric < 0 || metric >= MP_STEPVAR_METRICS) return;
    acc *a = &sv->a[(int64_t)layer * MP_STEPVAR_METRICS + metric];
    out->n = a->n;
    out->exact = !a->hist;
    if (a->n == 0) return;
    if (!a->hist && !a->sorted) {
        qsort(a->exact, (size_t)a->n, sizeof *a->exact, cmp_double);
        a->sorted = 1;
    }
    out->mean = a->sum / (double)a->n;
    out->max = a->max;
    out->p50 = quantile(a, 0.50);
    out->p90 = quantile(a, 0.90);
    out->p99 = quantile(a, 0.99);
}
