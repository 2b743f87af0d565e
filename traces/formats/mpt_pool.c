/* mpt_pool.c - an in-order job pool: work runs on threads, results are taken in submission order. */
#include <pthread.h>
#include <stdlib.h>

#include "traces/formats/mp__mpt.h"

struct mpt_pool {
    pthread_mutex_t mu;
    pthread_cond_t work_cv, done_cv;
    int slots;
    int64_t submitted, started, consumed;
    unsigned char *done; /* per slot */
    int stop;
    int running; /* jobs a worker is running now */
    int nthreads;
    pthread_t *th;
    mpt_job_fn fn;
    void *ctx;
};

static void *worker(void *arg)
{
    mpt_pool *p = arg;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->stop && p->started == p->submitted) pthread_cond_wait(&p->work_cv, &p->mu);
        if (p->stop) break;
        int slot = (int)(p->started++ % p->slots);
        p->running++;
        pthread_mutex_unlock(&p->mu);
        p->fn(p->ctx, slot);
        pthread_mutex_lock(&p->mu);
        p->done[slot] = 1;
        p->running--;
        pthread_cond_broadcast(&p->done_cv);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

int mpt_pool_create(mpt_pool **out, int threads, int slots, mpt_job_fn fn, void *ctx, mp_err *err)
{
    *out = NULL;
    if (threads < 1) threads = 1;
    if (slots < 1) slots = 1;
    mpt_pool *p = calloc(1, sizeof *p);
    if (!p || !(p->done = calloc((size_t)slots, 1))) {
        free(p);
        return mp_err_set(err, MP_ENOMEM, "mpt: out of memory for the worker pool");
    }
    p->slots = slots;
    p->fn = fn;
    p->ctx = ctx;
    if (threads > 1) {
        p->th = calloc((size_t)threads, sizeof *p->th);
        if (!p->th) {
            free(p->done);
            free(p);
            return mp_err_set(err, MP_ENOMEM, "mpt: out of memory for the worker pool");
        }
        pthread_mutex_init(&p->mu, NULL);
        pthread_cond_init(&p->work_cv, NULL);
        pthread_cond_init(&p->done_cv, NULL);
        for (int i = 0; i < threads; i++) {
            if (pthread_create(&p->th[i], NULL, worker, p) != 0) break;
            p->nthreads++;
        }
        if (p->nthreads == 0) {
            mpt_pool_destroy(p);
            return mp_err_set(err, MP_ENOMEM, "mpt: cannot start worker threads");
        }
    }
    *out = p;
    return 0;
}

int mpt_pool_free_slot(const mpt_pool *p)
{
    return p->submitted - p->consumed < p->slots ? (int)(p->submitted % p->slots) : -1;
}

void mpt_pool_submit(mpt_pool *p)
{
    int slot = (int)(p->submitted % p->slots);
    if (!p->nthreads) {
        p->submitted++;
        p->started++;
        p->fn(p->ctx, slot);
        p->done[slot] = 1;
        return;
    }
    pthread_mutex_lock(&p->mu);
    p->done[slot] = 0;
    p->submitted++;
    pthread_cond_signal(&p->work_cv);
    pthread_mutex_unlock(&p->mu);
}

int mpt_pool_pending(const mpt_pool *p) { return (int)(p->submitted - p->consumed); }

int mpt_pool_wait_oldest(mpt_pool *p)
{
    int slot = (int)(p->consumed % p->slots);
    if (!p->nthreads) return slot;
    pthread_mutex_lock(&p->mu);
    while (!p->done[slot]) pthread_cond_wait(&p->done_cv, &p->mu);
    pthread_mutex_unlock(&p->mu);
    return slot;
}

void mpt_pool_release_oldest(mpt_pool *p)
{
    if (!p->nthreads) {
        p->consumed++;
        return;
    }
    pthread_mutex_lock(&p->mu);
    p->done[p->consumed % p->slots] = 0;
    p->consumed++;
    pthread_mutex_unlock(&p->mu);
}

void mpt_pool_destroy(mpt_pool *p)
{
    if (!p) return;
    if (p->th) {
        /* no new jobs start; running ones finish before the slots go away */
        pthread_mutex_lock(&p->mu);
        p->stop = 1;
        pthread_cond_broadcast(&p->work_cv);
        while (p->running > 0) pthread_cond_wait(&p->done_cv, &p->mu);
        pthread_mutex_unlock(&p->mu);
        for (int i = 0; i < p->nthreads; i++) pthread_join(p->th[i], NULL);
        pthread_mutex_destroy(&p->mu);
        pthread_cond_destroy(&p->work_cv);
        pthread_cond_destroy(&p->done_cv);
        free(p->th);
    }
    free(p->done);
    free(p);
}
