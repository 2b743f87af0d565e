/* gen.c - the synthetic trace generator: options, state, requests (topics
 * and source ranks), multi-threaded filling of pieces and the write loop. */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "traces/gen/mp__gen.h"

#define GEN_CELLS_MAX ((int64_t)1 << 24) /* layers * topics * experts */
#define GEN_PIECE_TOKENS 16384
#define GEN_THREADS_MAX 256

static int check_opts(const mp_gen_opts *o, mp_err *err)
{
    if (mp_model_validate(&o->model, "gen", err)) {
        if (err) err->code = MP_EINVAL; /* a shape the caller asked for */
        return MP_EINVAL;
    }
    if (!(o->layer_affinity >= 0 && o->layer_affinity <= 1))
        return mp_err_set(err, MP_EINVAL, "gen: layer_affinity must lie in [0, 1]");
    if (!(o->rank_topic_bias >= 0 && o->rank_topic_bias <= 1))
        return mp_err_set(err, MP_EINVAL, "gen: rank_topic_bias must lie in [0, 1]");
    if (!(o->drift >= 0 && o->drift <= 10)) return mp_err_set(err, MP_EINVAL, "gen: drift must lie in [0, 10]");
    if (!(o->group_skew >= 0 && o->group_skew <= 10))
        return mp_err_set(err, MP_EINVAL, "gen: group_skew must lie in [0, 10]");
    if (!(o->topic_strength >= 0 && o->topic_strength <= 10))
        return mp_err_set(err, MP_EINVAL, "gen: topic strength must lie in [0, 10]");
    if (o->topics < 1) return mp_err_set(err, MP_EINVAL, "gen: topics must be at least 1");
    if (o->dp_ranks < 1) return mp_err_set(err, MP_EINVAL, "gen: dp_ranks must be at least 1");
    if (o->steps < 1 || o->steps > ((int64_t)1 << 40)) return mp_err_set(err, MP_EINVAL, "gen: steps out of range");
    if (o->tokens_per_step < 1 || o->tokens_per_step > ((int64_t)1 << 31))
        return mp_err_set(err, MP_EINVAL, "gen: tokens_per_step out of range");
    if (o->request_tokens < 1 || o->decode_len < 1)
        return mp_err_set(err, MP_EINVAL, "gen: request length must be at least 1");
    if (o->shift_at != -1 && o->shift_at < 1) return mp_err_set(err, MP_EINVAL, "gen: shift_at must be at least 1");
    if (o->threads < 1 || o->threads > GEN_THREADS_MAX)
        return mp_err_set(err, MP_EINVAL, "gen: threads must lie in 1..%d", GEN_THREADS_MAX);
    if (o->skew.kind == MP_SKEW_ZIPF || o->skew.kind == MP_SKEW_LOGNORMAL)
        if (!(o->skew.param >= 0 && o->skew.param <= 8))
            return mp_err_set(err, MP_EINVAL, "gen: skew parameter must lie in [0, 8]");
    int64_t cells = (int64_t)o->model.layers * o->topics * o->model.experts;
    if (cells > GEN_CELLS_MAX)
        return mp_err_set(err, MP_ELIMIT, "gen: layers x topics x experts = %lld exceeds %lld", (long long)cells,
                          (long long)GEN_CELLS_MAX);
    return 0;
}

void mp_gen_destroy(mp_gen *g)
{
    if (!g) return;
    free(g->logw);
    free(g->tilt);
    free(g->succ);
    free(g->share);
    free(g->logshare);
    free(g->wbase);
    free(g->aprob);
    free(g->aidx);
    free(g->gprob);
    free(g->gidx);
    free(g->atab);
    free(g->gtab);
    free(g->gmass);
    free(g->group_of);
    free(g);
}

int mp_gen_create(mp_gen **out, const mp_gen_opts *o, mp_err *err)
{
    *out = NULL;
    int rc = check_opts(o, err);
    if (rc) return rc;
    mp_gen *g = calloc(1, sizeof *g);
    if (!g) return mp_err_set(err, MP_ENOMEM, "gen: out of memory");
    g->o = *o;
    g->L = o->model.layers;
    g->E = o->model.experts;
    g->K = o->model.top_k;
    g->G = o->model.groups;
    g->TG = o->model.topk_group;
    g->gsize = g->E / g->G;
    g->T = o->topics;
    size_t le = (size_t)g->L * (size_t)g->E, lte = le * (size_t)g->T;
    g->logw = malloc(sizeof(double) * le);
    g->succ = malloc(sizeof(int32_t) * le);
    g->tilt = malloc(sizeof(double) * lte);
    g->share = malloc(sizeof(double) * lte);
    g->logshare = malloc(sizeof(double) * lte);
    g->wbase = malloc(sizeof(double) * lte);
    g->aprob = malloc(sizeof(uint32_t) * lte);
    g->aidx = malloc(sizeof(uint16_t) * lte);
    g->gprob = malloc(sizeof(uint32_t) * lte);
    g->gidx = malloc(sizeof(uint16_t) * lte);
    g->atab = malloc(sizeof(uint64_t) * lte);
    g->gtab = malloc(sizeof(uint32_t) * lte);
    g->gmass = malloc(sizeof(double) * (size_t)g->L * (size_t)g->T * (size_t)g->G);
    if (!g->logw || !g->succ || !g->tilt || !g->share || !g->logshare || !g->wbase || !g->aprob || !g->aidx || !g->gprob ||
        !g->gidx || !g->atab || !g->gtab || !g->gmass || !(g->group_of = malloc(sizeof(uint16_t) * (size_t)g->E))) {
        mp_gen_destroy(g);
        return mp_err_set(err, MP_ENOMEM, "gen: out of memory");
    }
    for (int32_t e = 0; e < g->E; e++) g->group_of[e] = (uint16_t)(e / g->gsize);
    rc = mp__gen_profile(g, err);
    if (rc) {
        mp_gen_destroy(g);
        return rc;
    }
    *out = g;
    return 0;
}

const mp_model *mp_gen_model(const mp_gen *g) { return &g->o.model; }

int64_t mp_gen_piece_tokens(const mp_gen *g)
{
    int64_t n = MP_PIECE_ASSIGNMENTS_MAX / ((int64_t)g->L * g->K);
    if (n > GEN_PIECE_TOKENS) n = GEN_PIECE_TOKENS;
    return n < 1 ? 1 : n;
}

/* Brings the popularity tables to `step` (serially, before any worker runs). */
static int goto_step(mp_gen *g, int64_t step, mp_err *err)
{
    if (step < g->cur_step) {
        int rc = mp__gen_profile(g, err);
        if (rc) return rc;
    }
    while (g->cur_step < step) mp__gen_advance(g, g->cur_step + 1);
    mp__gen_tables(g);
    return 0;
}

/* The source rank and topic of a token: tokens of one request share both. */
static void token_request(const mp_gen *g, int64_t step, int64_t token, int32_t *rank, int32_t *topic)
{
    const mp_gen_opts *o = &g->o;
    mp_rng r;
    if (o->decode) {
        *rank = (int32_t)(token % o->dp_ranks);
        mp_rng rs = mp_rng_stream(o->seed, MP__RNG_SLOT, (uint64_t)token, 0);
        uint64_t phase = mp_rng_below(&rs, (uint64_t)o->decode_len);
        uint64_t epoch = ((uint64_t)step + phase) / (uint64_t)o->decode_len;
        r = mp_rng_stream(o->seed, MP__RNG_REQUEST, epoch | (1ULL << 63), (uint64_t)token);
    } else {
        int64_t j = token / o->request_tokens;
        *rank = (int32_t)(j % o->dp_ranks);
        r = mp_rng_stream(o->seed, MP__RNG_REQUEST, (uint64_t)step, (uint64_t)j);
    }
    if (g->T == 1) {
        *topic = 0;
        return;
    }
    if (mp_rng_double(&r) < o->rank_topic_bias) *topic = *rank % g->T;
    else *topic = (int32_t)mp_rng_below(&r, (uint64_t)g->T);
}

typedef struct work {
    const mp_gen *g;
    int64_t step, first, begin, end; /* tokens [begin, end) of the piece starting at token `first` */
    mp_step *piece;
    double *scratch;
} work;

static void *work_run(void *arg)
{
    work *w = arg;
    const mp_gen *g = w->g;
    int64_t per = (int64_t)g->L * g->K;
    mp_rng r[MP__GEN_BLOCK];
    int32_t topic[MP__GEN_BLOCK];
    for (int64_t b = w->begin; b < w->end; b += MP__GEN_BLOCK) {
        int32_t n = (int32_t)(w->end - b < MP__GEN_BLOCK ? w->end - b : MP__GEN_BLOCK);
        for (int32_t i = 0; i < n; i++) {
            int64_t token = w->first + b + i;
            int32_t rank;
            token_request(g, w->step, token, &rank, &topic[i]);
            r[i] = mp_rng_stream(g->o.seed, MP__RNG_TOKEN, (uint64_t)w->step, (uint64_t)token);
            w->piece->src_rank[b + i] = rank;
        }
        mp__gen_tokens(g, n, r, topic, w->piece->ids + b * per, w->piece->weights ? w->piece->weights + b * per : NULL,
                       w->scratch);
    }
    return NULL;
}

int mp_gen_fill(mp_gen *g, int64_t step, int64_t first_token, int64_t tokens, mp_step *piece, mp_err *err)
{
    if (step < 0 || first_token < 0 || tokens < 1 || first_token + tokens > g->o.tokens_per_step)
        return mp_err_set(err, MP_EINVAL, "gen: tokens [%lld, %lld) of step %lld lie outside the step",
                          (long long)first_token, (long long)(first_token + tokens), (long long)step);
    int rc = goto_step(g, step, err);
    if (rc) return rc;
    rc = mp_step_reserve(piece, tokens, g->L, g->K, g->o.with_weights, 1, err);
    if (rc) return rc;
    piece->step = step;
    piece->first_token = first_token;
    piece->end_of_step = first_token + tokens == g->o.tokens_per_step;

    int nt = g->o.threads;
    if (nt > tokens) nt = (int)tokens;
    int64_t sn = mp__gen_scratch(g);
    double *scratch = calloc((size_t)sn * (size_t)nt, sizeof(double));
    work *ws = malloc(sizeof(work) * (size_t)nt);
    pthread_t *th = malloc(sizeof(pthread_t) * (size_t)nt);
    if (!scratch || !ws || !th) {
        free(scratch);
        free(ws);
        free(th);
        return mp_err_set(err, MP_ENOMEM, "gen: out of memory");
    }
    for (int i = 0; i < nt; i++) {
        ws[i] = (work){g, step, first_token, tokens * i / nt, tokens * (i + 1) / nt, piece, scratch + sn * i};
    }
    int started = 0;
    for (int i = 1; i < nt; i++) {
        if (pthread_create(&th[i], NULL, work_run, &ws[i])) break;
        started = i;
    }
    work_run(&ws[0]);
    for (int i = started + 1; i < nt; i++) work_run(&ws[i]); /* threads that would not start: run here */
    for (int i = 1; i <= started; i++) pthread_join(th[i], NULL);
    free(scratch);
    free(ws);
    free(th);
    return 0;
}

int mp_gen_popularity(mp_gen *g, int64_t step, int32_t layer, int32_t topic, double *out, mp_err *err)
{
    if (step < 0 || layer < 0 || layer >= g->L || topic < 0 || topic >= g->T)
        return mp_err_set(err, MP_EINVAL, "gen: no popularity for step %lld layer %d topic %d", (long long)step,
                          (int)layer, (int)topic);
    int rc = goto_step(g, step, err);
    if (rc) return rc;
    memcpy(out, g->share + ((int64_t)layer * g->T + topic) * g->E, sizeof(double) * (size_t)g->E);
    return 0;
}

int mp_gen_write(mp_gen *g, mp_writer *w, mp_progress_fn progress, void *ctx, mp_err *err)
{
    mp_step p = {0};
    int64_t pt = mp_gen_piece_tokens(g), per = (int64_t)g->L * g->K;
    int64_t total = g->o.steps * g->o.tokens_per_step * per, done = 0;
    int rc = 0;
    for (int64_t s = 0; s < g->o.steps && !rc; s++) {
        for (int64_t t = 0; t < g->o.tokens_per_step && !rc; t += pt) {
            int64_t n = g->o.tokens_per_step - t < pt ? g->o.tokens_per_step - t : pt;
            rc = mp_gen_fill(g, s, t, n, &p, err);
            if (!rc) rc = mp_writer_put(w, &p, err);
            done += n * per;
            if (!rc && progress) progress(ctx, done, total);
        }
    }
    mp_step_release(&p);
    return rc;
}
