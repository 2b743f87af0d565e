/*
 * mp_step.h - one piece of one forward pass of a routing trace.
 *
 * A step (forward pass) of T tokens may arrive in several pieces: runs of
 * consecutive tokens, so that a step larger than memory still streams.  Each
 * piece carries, per token and MoE layer, K logical expert ids, optionally K
 * gate weights, and optionally the token's source rank.
 *
 * Memory: the caller owns an mp_step value and its buffers; readers grow them
 * with mp_step_reserve and the caller frees them once with mp_step_release.
 */
#ifndef MP_STEP_H
#define MP_STEP_H

#include <stdint.h>

#include "traces/mp_error.h"

typedef uint16_t mp_expert_id;

typedef struct mp_step {
    int64_t step;         /* index of the forward pass, from 0                  */
    int64_t first_token;  /* index within the step of this piece's first token */
    int64_t tokens;       /* tokens in this piece                               */
    int end_of_step;      /* 1 when this piece is its step's last               */
    int32_t layers;       /* L                                                  */
    int32_t top_k;        /* K                                                  */
    mp_expert_id *ids;    /* [tokens][layers][top_k]                            */
    float *weights;       /* [tokens][layers][top_k], or NULL when not recorded  */
    int32_t *src_rank;    /* [tokens], or NULL when not recorded                 */
    /* storage behind the pointers above; managed by mp_step_reserve only */
    int64_t capacity;     /* tokens the buffers can hold                        */
    int64_t per_token;    /* layers * top_k the buffers were sized for          */
    float *weights_buf;
    int32_t *src_buf;
} mp_step;

/* The largest piece a reader hands out or a writer needs, in tokens*L*K
 * assignments (64 Mi: 128 MiB of ids). */
#define MP_PIECE_ASSIGNMENTS_MAX ((int64_t)1 << 26)

/* Makes room for `tokens` tokens of L layers and K choices, keeping nothing
 * of the old contents; with_weights/with_src allocate those arrays (and set
 * the pointers), otherwise the pointers are NULL.  Sets layers, top_k and
 * tokens.  Returns 0, MP_ENOMEM, or MP_ELIMIT for a size over
 * MP_PIECE_ASSIGNMENTS_MAX. */
int mp_step_reserve(mp_step *s, int64_t tokens, int32_t layers, int32_t top_k, int with_weights, int with_src,
                    mp_err *err);

/* Frees the buffers and zeroes the value; NULL is a no-op. */
void mp_step_release(mp_step *s);

/* Number of assignments in the piece: tokens * layers * top_k. */
static inline int64_t mp_step_assignments(const mp_step *s)
{
    return s->tokens * (int64_t)s->layers * s->top_k;
}

#endif
