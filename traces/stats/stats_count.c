/* stats_count.c - the assignment counter (mp_stats.h): per-layer uint32
 * histograms that stay in cache, an unrolled inner loop per common top-k,
 * and threads over the tokens of large pieces, merged by integer addition. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "traces/stats/mp__stats.h"

/* pieces with fewer assignments are counted on the calling thread */
#define PAR_MIN_ASSIGNMENTS ((int64_t)1 << 18)

struct mp_counter {
    int32_t layers, experts, top_k;
    int threads;
    int64_t cells;      /* L * E                                              */
    int64_t assign;     /* assignments counted so far                         */
    int64_t expect;     /* assignments the caller expects (mp__counter_expect) */
    const char *what;   /* names the data in messages                          */
    /* win, total and thist are allocated by the first piece with tokens (after
     * mp_stats_cells_ok), so that a declared shape costs nothing by itself */
    uint32_t *win;      /* [L][E]: the current window (thread 0 counts here)  */
    uint32_t **thist;   /* [threads-1][L][E]: helper threads' histograms      */
    uint64_t *spill;    /* [L][E]: window overflow, allocated when needed     */
    uint64_t *total;    /* [L][E]: closed windows                             */
    uint64_t pending;   /* increments in win since it was last emptied        */
};

/* The hot loop: ids [tokens][L][K]; h advances by E per layer. */
#define COUNT_K(KK)                                                                                            \
    for (int64_t t = 0; t < tokens; t++) {                                                                     \
        uint32_t *hl = h;                                                                                      \
        for (int32_t l = 0; l < L; l++, ids += (KK), hl += E)                                                  \
            for (int32_t k = 0; k < (KK); k++) hl[ids[k]]++;                                                   \
    }

static void count_range(uint32_t *h, const mp_expert_id *ids, int64_t tokens, int32_t L, int32_t K, int32_t E)
{
    switch (K) {
    case 1: COUNT_K(1) break;
    case 2: COUNT_K(2) break;
    case 4: COUNT_K(4) break;
    case 6: COUNT_K(6) break;
    case 8: COUNT_K(8) break;
    default: COUNT_K(K) break;
    }
}

int mp_counter_create(mp_counter **out, int32_t layers, int32_t experts, int32_t top_k, int threads, mp_err *err)
{
    *out = NULL;
    if (layers < 1 || experts < 1 || top_k < 1)
        return mp_err_set(err, MP_EINVAL, "counter: bad shape %d x %d x %d", layers, experts, top_k);
    if ((int64_t)layers * experts > MP_LOADS_CELLS_MAX)
        return mp_err_set(err, MP_ELIMIT, "counter: %d x %d cells exceed the limit", layers, experts);
    if (threads < 1) threads = 1;
    if (threads > 256) threads = 256;
    mp_counter *c = calloc(1, sizeof *c);
    if (!c) return mp_err_set(err, MP_ENOMEM, "counter: out of memory");
    c->layers = layers;
    c->experts = experts;
    c->top_k = top_k;
    c->threads = threads;
    c->cells = (int64_t)layers * experts;
    *out = c;
    return 0;
}

void mp__counter_expect(mp_counter *c, int64_t assignments, const char *what)
{
    c->expect = assignments;
    c->what = what;
}

int mp_stats_cells_ok(int64_t cells, int64_t assignments)
{
    if (cells <= MP_STATS_CELLS_FREE) return 1;
    int64_t need = (cells - MP_STATS_CELLS_FREE + MP_STATS_CELLS_PER_ASSIGN - 1) / MP_STATS_CELLS_PER_ASSIGN;
    return assignments >= need;
}

int mp__stats_cells_refuse(const char *what, int32_t layers, int32_t experts, int64_t assignments, mp_err *err)
{
    return mp_err_set(err, MP_ELIMIT,
                      "%s: %d layers x %d experts make %lld load cells, out of proportion to the %lld assignments it "
                      "holds (beyond %lld cells, one assignment per %d cells is needed)",
                      what ? what : "counter", layers, experts, (long long)layers * experts, (long long)assignments,
                      (long long)MP_STATS_CELLS_FREE, MP_STATS_CELLS_PER_ASSIGN);
}

/* Allocates the histograms, once the data pays for them. */
static int counter_alloc(mp_counter *c, mp_err *err)
{
    int64_t paid = c->assign > c->expect ? c->assign : c->expect;
    if (!mp_stats_cells_ok(c->cells, paid)) return mp__stats_cells_refuse(c->what, c->layers, c->experts, paid, err);
    c->win = calloc((size_t)c->cells, sizeof *c->win);
    c->total = calloc((size_t)c->cells, sizeof *c->total);
    c->thist = c->threads > 1 ? calloc((size_t)c->threads - 1, sizeof *c->thist) : NULL;
    int bad = !c->win || !c->total || (c->threads > 1 && !c->thist);
    for (int i = 0; !bad && i < c->threads - 1; i++)
        bad = !(c->thist[i] = calloc((size_t)c->cells, sizeof **c->thist));
    if (bad) return mp_err_set(err, MP_ENOMEM, "counter: out of memory for %lld cells", (long long)c->cells);
    return 0;
}

void mp_counter_destroy(mp_counter *c)
{
    if (!c) return;
    if (c->thist)
        for (int i = 0; i < c->threads - 1; i++) free(c->thist[i]); /* NULL past a failed allocation */
    free(c->thist);
    free(c->win);
    free(c->spill);
    free(c->total);
    free(c);
}

/* moves win into spill (64-bit) so that win cannot overflow */
static int spill_window(mp_counter *c, mp_err *err)
{
    if (!c->spill && !(c->spill = calloc((size_t)c->cells, sizeof *c->spill)))
        return mp_err_set(err, MP_ENOMEM, "counter: out of memory");
    for (int64_t i = 0; i < c->cells; i++) {
        c->spill[i] += c->win[i];
        c->win[i] = 0;
    }
    c->pending = 0;
    return 0;
}

typedef struct job {
    uint32_t *h;
    const mp_expert_id *ids;
    int64_t tokens;
    int32_t L, K, E;
} job;

static void *run_job(void *arg)
{
    job *j = arg;
    count_range(j->h, j->ids, j->tokens, j->L, j->K, j->E);
    return NULL;
}

int mp_counter_add(mp_counter *c, const mp_step *p, mp_err *err)
{
    if (p->layers != c->layers || p->top_k != c->top_k)
        return mp_err_set(err, MP_ESHAPE, "counter: piece of %d x %d, counter of %d x %d", p->layers, p->top_k,
                          c->layers, c->top_k);
    if (p->tokens <= 0) return 0;
    c->assign += p->tokens * (int64_t)c->layers * c->top_k;
    if (!c->win) {
        int rc = counter_alloc(c, err);
        if (rc) return rc;
    }
    /* one cell gains at most tokens*K in this piece */
    uint64_t most = (uint64_t)p->tokens * (uint64_t)c->top_k;
    if (most > UINT32_MAX - c->pending) {
        int rc = spill_window(c, err);
        if (rc) return rc;
    }
    c->pending += most;
    int32_t L = c->layers, K = c->top_k, E = c->experts;
    int64_t per_token = (int64_t)L * K;
    int nt = c->threads;
    if (nt > 1 && p->tokens * per_token < PAR_MIN_ASSIGNMENTS) nt = 1;
    if (nt > p->tokens) nt = (int)p->tokens;
    if (nt <= 1) {
        count_range(c->win, p->ids, p->tokens, L, K, E);
        return 0;
    }
    job jobs[256];
    pthread_t tid[256];
    int started[256] = {0};
    for (int i = 0; i < nt; i++) {
        int64_t a = p->tokens * i / nt, b = p->tokens * (i + 1) / nt;
        jobs[i] = (job){i ? c->thist[i - 1] : c->win, p->ids + a * per_token, b - a, L, K, E};
    }
    for (int i = 1; i < nt; i++) started[i] = pthread_create(&tid[i], NULL, run_job, &jobs[i]) == 0;
    run_job(&jobs[0]);
    for (int i = 1; i < nt; i++) {
        if (started[i]) pthread_join(tid[i], NULL);
        else run_job(&jobs[i]); /* could not start a thread: count here */
    }
    for (int i = 1; i < nt; i++) {
        uint32_t *h = c->thist[i - 1];
        for (int64_t x = 0; x < c->cells; x++) {
            c->win[x] += h[x];
            h[x] = 0;
        }
    }
    return 0;
}

void mp_counter_window(const mp_counter *c, double *row)
{
    if (!c->win) {
        memset(row, 0, (size_t)c->cells * sizeof *row);
        return;
    }
    for (int64_t i = 0; i < c->cells; i++) row[i] = (double)c->win[i] + (c->spill ? (double)c->spill[i] : 0.0);
}

void mp_counter_end_window(mp_counter *c)
{
    if (!c->win) return;
    for (int64_t i = 0; i < c->cells; i++) {
        c->total[i] += c->win[i];
        c->win[i] = 0;
    }
    if (c->spill)
        for (int64_t i = 0; i < c->cells; i++) {
            c->total[i] += c->spill[i];
            c->spill[i] = 0;
        }
    c->pending = 0;
}

void mp_counter_totals(const mp_counter *c, double *out)
{
    if (!c->total) {
        memset(out, 0, (size_t)c->cells * sizeof *out);
        return;
    }
    for (int64_t i = 0; i < c->cells; i++) out[i] = (double)c->total[i];
}

/* hottest of P contiguous blocks of a uint32 row plus its 64-bit spill */
static double hot_block_u(const uint32_t *w, const uint64_t *sp, int32_t E, int32_t P)
{
    if (P > E) return 0;
    uint64_t hot = 0;
    for (int32_t g = 0; g < P; g++) {
        int32_t a = (int32_t)((int64_t)g * E / P), b = (int32_t)((int64_t)(g + 1) * E / P);
        uint64_t s = 0;
        for (int32_t e = a; e < b; e++) s += w[e] + (sp ? sp[e] : 0);
        hot = s > hot ? s : hot;
    }
    return (double)hot;
}

/* The common case in one pass over the window: no spill and E a multiple of
 * 32, so that each EP8 block is four EP32 blocks.  Folds the window into the
 * totals and empties it on the way. */
static int end_step_fused(mp_counter *c, mp_stepvar *sv, mp_err *err)
{
    int32_t E = c->experts, bs = E / 32;
    for (int32_t l = 0; l < c->layers; l++) {
        uint32_t *w = c->win + (int64_t)l * E;
        uint64_t *tot = c->total + (int64_t)l * E;
        uint64_t blk[32], total = 0;
        uint32_t max = 0;
        for (int32_t g = 0; g < 32; g++) {
            uint64_t s = 0;
            for (int32_t e = g * bs; e < (g + 1) * bs; e++) {
                uint32_t v = w[e];
                s += v;
                max = v > max ? v : max;
                tot[e] += v;
                w[e] = 0;
            }
            blk[g] = s;
            total += s;
        }
        if (total == 0) continue;
        uint64_t h8 = 0, h32 = 0;
        for (int32_t g = 0; g < 32; g++) h32 = blk[g] > h32 ? blk[g] : h32;
        for (int32_t g = 0; g < 8; g++) {
            uint64_t s = blk[4 * g] + blk[4 * g + 1] + blk[4 * g + 2] + blk[4 * g + 3];
            h8 = s > h8 ? s : h8;
        }
        int rc = mp__stepvar_put(sv, l, (double)total, (double)max, (double)h8, (double)h32, err);
        if (rc) return rc;
    }
    mp__stepvar_step_done(sv);
    c->pending = 0;
    return 0;
}

int mp__counter_end_step(mp_counter *c, mp_stepvar *sv, mp_err *err)
{
    int32_t E = c->experts;
    if (!c->win) { /* nothing counted yet: every layer's load is 0 */
        mp__stepvar_step_done(sv);
        return 0;
    }
    if (!c->spill && E % 32 == 0) return end_step_fused(c, sv, err);
    for (int32_t l = 0; l < c->layers; l++) {
        const uint32_t *w = c->win + (int64_t)l * E;
        const uint64_t *sp = c->spill ? c->spill + (int64_t)l * E : NULL;
        uint64_t total = 0, max = 0;
        if (sp) {
            for (int32_t e = 0; e < E; e++) {
                uint64_t v = w[e] + sp[e];
                total += v;
                max = v > max ? v : max;
            }
        } else {
            uint32_t m = 0;
            for (int32_t e = 0; e < E; e++) {
                total += w[e];
                m = w[e] > m ? w[e] : m;
            }
            max = m;
        }
        if (total == 0) continue;
        int rc = mp__stepvar_put(sv, l, (double)total, (double)max, hot_block_u(w, sp, E, 8),
                                 hot_block_u(w, sp, E, 32), err);
        if (rc) return rc;
    }
    mp__stepvar_step_done(sv);
    mp_counter_end_window(c);
    return 0;
}
