/* gen_source.c - a generated trace as a rewindable source of pieces. */
#include <stdlib.h>

#include "traces/gen/mp_gen.h"

struct mp_gen_source {
    mp_gen *g;
    int64_t steps, tpstep, piece;
    int64_t step, token; /* next piece to make */
};

static int gs_next(void *ctx, mp_step *piece, mp_err *err)
{
    mp_gen_source *s = ctx;
    if (s->step >= s->steps) return 0;
    int64_t n = s->tpstep - s->token < s->piece ? s->tpstep - s->token : s->piece;
    int rc = mp_gen_fill(s->g, s->step, s->token, n, piece, err);
    if (rc) return rc;
    s->token += n;
    if (s->token >= s->tpstep) {
        s->token = 0;
        s->step++;
    }
    return 1;
}

static int gs_rewind(void *ctx, mp_err *err)
{
    (void)err;
    mp_gen_source *s = ctx;
    s->step = s->token = 0;
    return 0;
}

int mp_gen_source_open(mp_gen_source **out, const mp_gen_opts *o, mp_piece_source *src, mp_model *model, mp_err *err)
{
    *out = NULL;
    mp_gen_source *s = calloc(1, sizeof *s);
    if (!s) return mp_err_set(err, MP_ENOMEM, "gen: out of memory");
    int rc = mp_gen_create(&s->g, o, err);
    if (rc) {
        free(s);
        return rc;
    }
    s->steps = o->steps;
    s->tpstep = o->tokens_per_step;
    s->piece = mp_gen_piece_tokens(s->g);
    *model = *mp_gen_model(s->g);
    src->ctx = s;
    src->next = gs_next;
    src->rewind = gs_rewind;
    *out = s;
    return 0;
}

void mp_gen_source_close(mp_gen_source *s)
{
    if (!s) return;
    mp_gen_destroy(s->g);
    free(s);
}
