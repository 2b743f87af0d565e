/*
 * mp_gen.h - synthetic routing traces that behave like real MoE routers:
 * model presets, popularity skew profiles calibrated to measured loads,
 * group-limited top-k routing (a faithful scorer and a fast sampler),
 * topics, inter-layer affinity, source ranks, drift and abrupt shifts.
 *
 * The model of one token at one MoE layer l: every expert e has a weight
 * w'_e = (1 - A) * w_{l,topic}(e) + A * [e is the successor of one of the
 * token's K experts at layer l-1] / K, where w_{l,topic} is the layer's
 * popularity (skew profile over a random order of experts, times group
 * factors, times the topic's tilt, moved by drift and shift) and A the
 * layer affinity.  The faithful scorer (exact = 1) draws a score
 * x_e = ln w'_e + Gumbel noise for all E experts, applies sigmoid or softmax
 * as the preset says, keeps the topk_group groups with the best sum of their
 * two highest scores, and takes the top K experts inside them.  Without
 * groups this is exactly sequential sampling without replacement from w'
 * (the Gumbel-top-k identity); the fast sampler does that with alias tables
 * and rejection, and limits groups by admitting only the first topk_group
 * groups drawn (an approximation of the group score that the tests bound);
 * once those groups are full it draws a group by its mass and an expert
 * inside it from a per-group alias table (16-bit coin: thresholds rounded
 * to 2^-16).  Gate weights of the fast sampler are the expert's base score
 * (sigmoid of its scaled share, or its share) times a jitter in [0.5, 1.5),
 * normalised and scaled as the model does: plausible, not calibrated.
 *
 * Determinism: every random number is drawn from mp_rng streams keyed by
 * (seed, purpose, step, token or layer), so the output does not depend on
 * threads, piece sizes or the machine.
 *
 * A generator serves one caller at a time (it runs its own worker threads
 * inside mp_gen_fill).
 *
 * Memory: mp_gen_create returns a generator freed with mp_gen_destroy;
 * preset tables are static; pieces are the caller's (mp_step.h).
 */
#ifndef MP_GEN_H
#define MP_GEN_H

#include <stdint.h>

#include "traces/mp_error.h"
#include "traces/mp_model.h"
#include "traces/mp_step.h"
#include "traces/formats/mp_source.h"
#include "traces/formats/mp_trace.h"

/* ---- presets: shapes from the models' published configs (moeplace gen --list-presets) ---- */
typedef struct mp_gen_preset {
    mp_model model;
    int32_t total_layers; /* layers including dense ones */
    const char *note;     /* one line: source of the shape and scoring */
} mp_gen_preset;

/* The preset table; *n receives its length. */
const mp_gen_preset *mp_gen_presets(int *n);
/* Copies the preset's model into *out; MP_ENOTFOUND for an unknown name. */
int mp_gen_preset_find(const char *name, mp_model *out, mp_err *err);

/* ---- popularity skew ---- */
typedef enum mp_skew_kind {
    MP_SKEW_UNIFORM = 0,
    MP_SKEW_ZIPF,      /* weight of the r-th most popular expert ~ (r+1)^-S   */
    MP_SKEW_LOGNORMAL, /* weights exp(SIGMA * N(0,1))                          */
    MP_SKEW_CHAT,      /* mixed chat traffic: Gini ~0.15, hottest 10% ~15%      */
    MP_SKEW_MIXED,     /* between: Gini ~0.35, hottest 10% ~26% (ESFT-lite)     */
    MP_SKEW_NARROW     /* narrow domain: Gini ~0.69, hottest 10% ~53%, dead tail */
} mp_skew_kind;

typedef struct mp_skew {
    mp_skew_kind kind;
    double param; /* S for zipf, SIGMA for lognormal, unused otherwise */
} mp_skew;

/* Parses "uniform", "zipf:S", "lognormal:SIGMA", "chat", "mixed", "narrow".
 * Returns 0 or MP_EINVAL with a message. */
int mp_skew_parse(const char *spec, mp_skew *out, mp_err *err);
/* Writes the canonical spelling ("zipf:1.2") into buf. */
void mp_skew_format(const mp_skew *s, char *buf, int size);

/* ---- options ---- */
typedef struct mp_gen_opts {
    mp_model model;
    mp_skew skew;
    double group_skew;       /* sigma of per-group log factors; 0 = none            */
    double layer_affinity;   /* A in [0, 1]                                         */
    int32_t topics;          /* >= 1 topics (1 = no topic tilt)                      */
    double topic_strength;   /* sigma of a topic's tilt of log-popularity (1.0)      */
    int32_t dp_ranks;        /* source ranks requests come from (>= 1)               */
    double rank_topic_bias;  /* chance that a request takes its rank's home topic    */
    double drift;            /* sigma per step of the random walk of log-popularity  */
    int64_t shift_at;        /* step at which the popularity order changes; -1: none */
    int64_t steps;           /* forward passes                                       */
    int64_t tokens_per_step; /* tokens per forward pass                              */
    int decode;              /* 1: decode (a step is one token of each of T sequences,
                                a sequence lasts decode_len steps); 0: prefill        */
    int32_t request_tokens;  /* prefill: tokens of one request within a step         */
    int32_t decode_len;      /* decode: steps a sequence lasts                        */
    uint64_t seed;
    int threads;             /* worker threads (>= 1); output does not depend on it  */
    int exact;               /* 1: faithful scorer; 0: fast sampler                  */
    int with_weights;        /* produce gate weights                                 */
} mp_gen_opts;

/* Defaults: deepseek-v3, skew mixed, prefill, 8 steps of 4096 tokens,
 * no topics/affinity/drift/shift, one rank, seed 1, one thread, fast sampler,
 * gate weights on. */
void mp_gen_opts_default(mp_gen_opts *o);
/* Sets steps, tokens_per_step, request_tokens and decode for a phase:
 * prefill 8 x 4096 tokens (requests of 512 tokens), decode 64 x 256 tokens
 * (sequences of 256 steps). */
void mp_gen_opts_phase(mp_gen_opts *o, int decode);

typedef struct mp_gen mp_gen;

/* Validates the options (model, ranges) and builds the popularity tables.
 * Returns 0, MP_EINVAL (a bad option, message names it), MP_ERANGE,
 * MP_ELIMIT or MP_ENOMEM. */
int mp_gen_create(mp_gen **out, const mp_gen_opts *o, mp_err *err);
void mp_gen_destroy(mp_gen *g);

const mp_model *mp_gen_model(const mp_gen *g);

/* Largest piece (tokens) mp_gen_fill produces in one call within the
 * MP_PIECE_ASSIGNMENTS_MAX bound; at least 1. */
int64_t mp_gen_piece_tokens(const mp_gen *g);

/* Generates tokens [first_token, first_token + tokens) of step `step` into
 * *piece (grown with mp_step_reserve; ids, weights when with_weights,
 * src_rank always), using the generator's threads.  Steps may come in any
 * order (going back recomputes drift from step 0).  end_of_step is set when
 * the piece reaches tokens_per_step. */
int mp_gen_fill(mp_gen *g, int64_t step, int64_t first_token, int64_t tokens, mp_step *piece, mp_err *err);

/* The expected popularity shares (sum 1) the sampler uses at `step` for
 * `layer` and `topic`, before affinity: out[E]. */
int mp_gen_popularity(mp_gen *g, int64_t step, int32_t layer, int32_t topic, double *out, mp_err *err);

/* Generates every step into the writer (which must have been opened with
 * mp_gen_model(g)); progress may be NULL. */
int mp_gen_write(mp_gen *g, mp_writer *w, mp_progress_fn progress, void *ctx, mp_err *err);

/* The provenance JSON object of the options (heap string, caller frees;
 * NULL when out of memory). */
char *mp_gen_provenance(const mp_gen_opts *o);

/* The generator as a piece source (traces/formats/mp_source.h): steps are
 * generated again on rewind, identically; *model gets the model's shape.
 * Memory: freed with mp_gen_source_close (NULL is a no-op). */
typedef struct mp_gen_source mp_gen_source;
int mp_gen_source_open(mp_gen_source **out, const mp_gen_opts *o, mp_piece_source *src, mp_model *model, mp_err *err);
void mp_gen_source_close(mp_gen_source *g);

#endif
