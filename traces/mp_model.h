/*
 * mp_model.h - the shape of a Mixture-of-Experts model, as a routing trace
 * records it.
 *
 * Memory: mp_model is a plain value with no pointers; functions that return
 * a string return heap memory the caller frees with free().
 */
#ifndef MP_MODEL_H
#define MP_MODEL_H

#include <stdint.h>

#include "traces/mp_error.h"

#define MP_MODEL_NAME_MAX 64
#define MP_LAYERS_MAX 4096     /* sanity limits for headers read from files */
#define MP_EXPERTS_MAX 65535   /* expert ids are stored as uint16_t          */
#define MP_TOPK_MAX 64

typedef enum mp_scoring {
    MP_SCORING_SOFTMAX = 0,      /* softmax over all experts, then top-k        */
    MP_SCORING_SIGMOID = 1,      /* sigmoid + selection bias (DeepSeek-V3)      */
    MP_SCORING_SOFTMAX_TOPK = 2  /* top-k of logits, softmax over the chosen k  */
} mp_scoring;

typedef struct mp_model {
    char name[MP_MODEL_NAME_MAX]; /* "deepseek-v3", or "" when unknown      */
    int32_t layers;               /* MoE layers L                           */
    int32_t experts;              /* routed experts per layer E             */
    int32_t top_k;                /* experts chosen per token and layer K   */
    int32_t groups;               /* expert groups G (1 = ungrouped)        */
    int32_t topk_group;           /* groups kept per token (1..G)           */
    int32_t shared;               /* shared experts (always active)         */
    int64_t hidden;               /* hidden size H (0 = unknown)            */
    int64_t intermediate;         /* expert intermediate size (0 = unknown) */
    mp_scoring scoring;
    int normalize_topk;           /* gate weights normalised to sum 1       */
    double routed_scaling;        /* factor on the gate weights (1 = none)  */
} mp_model;

/* A model with every field at its neutral value: groups = topk_group = 1,
 * routed_scaling = 1, everything else 0. */
mp_model mp_model_default(void);

/* Checks the fields against each other and the limits above: 1 <= L <= MP_LAYERS_MAX,
 * 1 <= E <= MP_EXPERTS_MAX, 1 <= K <= min(E, MP_TOPK_MAX), G >= 1 divides E,
 * 1 <= topk_group <= G, K <= topk_group * E/G, shared, hidden, intermediate >= 0.
 * Returns 0 or MP_ERANGE with a message starting with `what` (a file name, say). */
int mp_model_validate(const mp_model *m, const char *what, mp_err *err);

/* Serialises the model as a compact JSON object (keys: name, layers, experts,
 * top_k, groups, topk_group, shared, hidden, intermediate, scoring,
 * normalize_topk, routed_scaling).  Returns a heap string the caller frees,
 * or NULL when out of memory. */
char *mp_model_to_json(const mp_model *m);

/* Parses the object written by mp_model_to_json from `json` (len bytes, not
 * necessarily NUL-terminated).  Missing optional keys keep default values;
 * layers, experts and top_k are required.  The result is validated.  `what`
 * names the input in error messages. */
int mp_model_from_json(mp_model *out, const char *json, size_t len, const char *what, mp_err *err);

const char *mp_scoring_name(mp_scoring s);
/* Returns 0 and sets *out, or MP_ENOTFOUND for an unknown name. */
int mp_scoring_parse(const char *name, mp_scoring *out);

#endif
