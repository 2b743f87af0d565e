/*
 * mp__gen.h - internal: the generator's state shared by traces/gen_*.c.
 * Not part of the public API (double underscore).
 *
 * Memory: every array below belongs to the mp_gen and is freed by
 * mp_gen_destroy; callers of mp__gen_tokens own their buffers and scratch.
 */
#ifndef MP__GEN_H
#define MP__GEN_H

#include "traces/gen/mp_gen.h"
#include "traces/mp_rng.h"

/* Purposes that key the random streams. */
enum {
    MP__RNG_ORDER = 1, /* per layer: expert order and profile parameters */
    MP__RNG_GROUP,     /* per layer: group factors                       */
    MP__RNG_TOPIC,     /* per layer and topic: tilts                     */
    MP__RNG_SUCC,      /* per layer: successor map                       */
    MP__RNG_DRIFT,     /* per step and layer: drift increments           */
    MP__RNG_SHIFT,     /* per layer: the shifted order                   */
    MP__RNG_TOKEN,     /* per step and token: routing                    */
    MP__RNG_REQUEST,   /* per request: topic                             */
    MP__RNG_SLOT       /* per decode slot: phase of its sequences         */
};

struct mp_gen {
    mp_gen_opts o;
    int32_t L, E, K, G, gsize, TG, T; /* T: topics */
    double *logw;      /* [L][E] current log-popularity (-inf: dead)           */
    double *tilt;      /* [L][T][E] topic tilts of log-popularity              */
    int32_t *succ;     /* [L][E] successor of expert e at layer l + 1          */
    double *share;     /* [L][T][E] popularity shares for the current step     */
    double *logshare;  /* [L][T][E] their logs                                 */
    double *wbase;     /* [L][T][E] base gate score of each expert (fast path)  */
    uint32_t *aprob;   /* [L][T][E] alias thresholds (scaled to 2^32)          */
    uint16_t *aidx;    /* [L][T][E] alias targets                              */
    uint32_t *gprob;   /* [L][T][E] alias thresholds inside each group          */
    uint16_t *gidx;    /* [L][T][E] alias targets inside each group (offsets)   */
    uint64_t *atab;    /* [L][T][E] fast_plain's packed alias entries: threshold
                        * | target << 32 | group(slot) << 48 | group(target) << 56 */
    uint32_t *gtab;    /* [L][T][E] packed group alias: 16-bit threshold | target << 16 */
    uint16_t *group_of; /* [E] group of each expert                           */
    double *gmass;     /* [L][T][G] popularity mass of each group               */
    int64_t cur_step;  /* step the tables describe                            */
    int tables_valid;
};

/* gen_profile.c: the initial log-popularity of every layer into g->logw. */
int mp__gen_profile(mp_gen *g, mp_err *err);
/* gen_profile.c: moves g->logw from step s-1 to step s (drift, shift). */
void mp__gen_advance(mp_gen *g, int64_t s);
/* gen_profile.c: rebuilds share, logshare and alias tables from logw and tilt. */
void mp__gen_tables(mp_gen *g);

/* gen_sampler.c: routes n tokens through all layers, token i drawing from
 * r[i] with topic[i]; ids[n][L][K], weights[n][L][K] or NULL. */
#define MP__GEN_BLOCK 64
void mp__gen_tokens(const mp_gen *g, int32_t n, mp_rng *r, const int32_t *topic, mp_expert_id *ids, float *weights,
                    double *scratch);
/* scratch doubles gen_sampler needs per thread */
int64_t mp__gen_scratch(const mp_gen *g);

#endif
