/* source.c - a routing trace file as a rewindable source of pieces. */
#include "traces/formats/mp_source.h"

#include <stdlib.h>
#include <string.h>

static int ts_next(void *ctx, mp_step *piece, mp_err *err)
{
    mp_trace_source *s = ctx;
    return mp_trace_next(s->trace, piece, err);
}

static int ts_rewind(void *ctx, mp_err *err)
{
    mp_trace_source *s = ctx;
    mp_trace *t;
    int rc = mp_trace_open(&t, s->path, &s->opts, err);
    if (rc) return rc;
    if (!s->keep_weights) mp_trace_skip_weights(t); /* the simulator routes ids only */
    mp_trace_close(s->trace);
    s->trace = t;
    return 0;
}

int mp_trace_source_open(mp_trace_source **out, const char *path, const mp_read_opts *opts, mp_err *err)
{
    *out = NULL;
    mp_trace_source *s = calloc(1, sizeof *s);
    size_t n = strlen(path);
    char *p = malloc(n + 1);
    if (!s || !p) {
        free(s);
        free(p);
        return mp_err_set(err, MP_ENOMEM, "%s: out of memory", path);
    }
    memcpy(p, path, n + 1);
    s->path = p;
    if (opts) s->opts = *opts;
    int rc = mp_trace_open(&s->trace, path, opts, err);
    if (rc) {
        free(p);
        free(s);
        return rc;
    }
    mp_trace_skip_weights(s->trace); /* the simulator routes ids only */
    s->src.ctx = s;
    s->src.next = ts_next;
    s->src.rewind = ts_rewind;
    *out = s;
    return 0;
}

int mp_trace_source_keep_weights(mp_trace_source *s, mp_err *err)
{
    s->keep_weights = 1;
    return ts_rewind(s, err);
}

void mp_trace_source_close(mp_trace_source *s)
{
    if (!s) return;
    mp_trace_close(s->trace);
    free(s->path);
    free(s);
}
