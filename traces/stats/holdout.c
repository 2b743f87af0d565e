/* holdout.c - splitting per-step loads in time (mp_holdout.h). */
#include "traces/stats/mp_holdout.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

int mp_holdout_steps(int64_t steps, double fraction, int64_t *held, mp_err *err)
{
    *held = 0;
    if (!(fraction > 0 && fraction < 1))
        return mp_err_set(err, MP_EINVAL, "holdout: the held-out fraction %g is not in (0, 1)", fraction);
    if (steps < MP_HOLDOUT_MIN_STEPS)
        return mp_err_set(err, MP_EINVAL,
                          "holdout: %lld step%s: a single matrix cannot be split in time (it needs %d steps or more)",
                          (long long)steps, steps == 1 ? "" : "s", MP_HOLDOUT_MIN_STEPS);
    double h = floor((double)steps * fraction + 0.5);
    if (h < 1) h = 1;
    if (h > (double)(steps - 1)) h = (double)(steps - 1);
    *held = (int64_t)h;
    return 0;
}

int mp_loads_window(mp_loads **out, const mp_loads *in, int32_t begin, int32_t end, mp_err *err)
{
    *out = NULL;
    if (begin < 0 || end > in->steps || begin >= end)
        return mp_err_set(err, MP_EINVAL, "loads: steps %d:%d are not a window of %d steps", begin, end, in->steps);
    mp_loads *l;
    int rc = mp_loads_create(&l, end - begin, in->layers, in->experts, err);
    if (rc) return rc;
    l->has_model = in->has_model;
    l->model = in->model;
    int64_t cells = (int64_t)in->layers * in->experts;
    memcpy(l->count, in->count + (int64_t)begin * cells, (size_t)((int64_t)(end - begin) * cells) * sizeof *l->count);
    *out = l;
    return 0;
}

int mp_loads_split_time(mp_loads **train, mp_loads **held, const mp_loads *in, double fraction, mp_err *err)
{
    *train = *held = NULL;
    int64_t h;
    int rc = mp_holdout_steps(in->steps, fraction, &h, err);
    if (rc) return rc;
    int32_t cut = in->steps - (int32_t)h;
    if ((rc = mp_loads_window(train, in, 0, cut, err))) return rc;
    if ((rc = mp_loads_window(held, in, cut, in->steps, err))) {
        mp_loads_destroy(*train);
        *train = NULL;
    }
    return rc;
}

/* ---- by source rank ---- */

int mp_holdout_ranks(int32_t ranks, double fraction, int32_t *held, mp_err *err)
{
    *held = 0;
    if (!(fraction > 0 && fraction < 1))
        return mp_err_set(err, MP_EINVAL, "holdout: the held-out fraction %g is not in (0, 1)", fraction);
    if (ranks < 2)
        return mp_err_set(err, MP_EINVAL, "holdout: %d source rank%s: a split by rank needs 2 ranks or more", ranks,
                          ranks == 1 ? "" : "s");
    double h = ceil((double)ranks * fraction);
    if (h < 1) h = 1;
    if (h > (double)(ranks - 1)) h = (double)(ranks - 1);
    *held = (int32_t)h;
    return 0;
}

int mp_source_ranks(const mp_piece_source *src, int32_t *ranks, mp_err *err)
{
    *ranks = 0;
    mp_step pc = {0};
    int32_t top = -1;
    int rc;
    while ((rc = src->next(src->ctx, &pc, err)) == 1) {
        if (!pc.src_rank) continue;
        for (int64_t t = 0; t < pc.tokens; t++) {
            int32_t r = pc.src_rank[t];
            if (r < 0 || r >= MP_HOLDOUT_RANKS_MAX) {
                rc = mp_err_set(err, MP_ERANGE, "step %lld token %lld: source rank %d is outside 0..%d",
                                (long long)pc.step, (long long)(pc.first_token + t), r, MP_HOLDOUT_RANKS_MAX - 1);
                goto done;
            }
            if (r > top) top = r;
        }
    }
done:
    mp_step_release(&pc);
    if (rc < 0) return rc;
    if ((rc = src->rewind(src->ctx, err))) return rc;
    *ranks = top + 1;
    return 0;
}

static int no_ranks(const mp_step *pc, mp_err *err)
{
    return mp_err_set(err, MP_EINVAL, "step %lld: a piece records no source ranks", (long long)pc->step);
}

int mp_loads_split_rank(mp_loads **train, mp_loads **held, const mp_piece_source *src, const mp_model *model,
                        int32_t cut, mp_err *err)
{
    *train = *held = NULL;
    int32_t L = model->layers, E = model->experts, K = model->top_k;
    int rc;
    if ((rc = mp_loads_create(train, 1, L, E, err)) || (rc = mp_loads_create(held, 1, L, E, err))) goto fail;
    (*train)->has_model = (*held)->has_model = 1;
    (*train)->model = (*held)->model = *model;
    mp_step pc = {0};
    while ((rc = src->next(src->ctx, &pc, err)) == 1) {
        if (pc.tokens > 0 && !pc.src_rank) {
            rc = no_ranks(&pc, err);
            break;
        }
        if (pc.layers != L || pc.top_k != K) {
            rc = mp_err_set(err, MP_ESHAPE, "step %lld: a piece of %d layers x %d choices in a trace of %d x %d",
                            (long long)pc.step, pc.layers, pc.top_k, L, K);
            break;
        }
        for (int64_t t = 0; t < pc.tokens; t++) {
            mp_loads *dst = pc.src_rank[t] < cut ? *train : *held;
            for (int32_t l = 0; l < L; l++) {
                double *row = mp_loads_row(dst, 0, l);
                const mp_expert_id *id = pc.ids + (t * L + l) * K;
                for (int32_t k = 0; k < K; k++)
                    if (id[k] < E) row[id[k]] += 1;
            }
        }
    }
    mp_step_release(&pc);
    if (rc < 0) goto fail;
    if ((rc = src->rewind(src->ctx, err))) goto fail;
    return 0;
fail:
    mp_loads_destroy(*train);
    mp_loads_destroy(*held);
    *train = *held = NULL;
    return rc;
}

static int rf_next(void *ctx, mp_step *pc, mp_err *err)
{
    mp_rank_filter *f = ctx;
    int rc = f->in->next(f->in->ctx, pc, err);
    if (rc != 1) return rc;
    if (pc->tokens > 0 && !pc->src_rank) return no_ranks(pc, err);
    int64_t per = (int64_t)pc->layers * pc->top_k, n = 0;
    for (int64_t t = 0; t < pc->tokens; t++) {
        if (pc->src_rank[t] < f->lo || pc->src_rank[t] >= f->hi) continue;
        if (n != t) {
            memmove(pc->ids + n * per, pc->ids + t * per, (size_t)per * sizeof *pc->ids);
            if (pc->weights) memmove(pc->weights + n * per, pc->weights + t * per, (size_t)per * sizeof *pc->weights);
            pc->src_rank[n] = pc->src_rank[t];
        }
        n++;
    }
    pc->tokens = n;
    return 1;
}

static int rf_rewind(void *ctx, mp_err *err)
{
    mp_rank_filter *f = ctx;
    return f->in->rewind(f->in->ctx, err);
}

void mp_rank_filter_init(mp_rank_filter *f, const mp_piece_source *in, int32_t lo, int32_t hi)
{
    f->in = in;
    f->lo = lo;
    f->hi = hi;
    f->src.ctx = f;
    f->src.next = rf_next;
    f->src.rewind = rf_rewind;
}
