/* exchange.c - the expert-parallel exchange worked out on the CPU (see
 * mp_exchange.h). */
#include "kernels/mp_exchange.h"

#include <stdlib.h>
#include <string.h>

#include "kernels/mp_kx_common.h"

void mp_xg_token_range(int64_t T, int32_t ranks, int32_t rank, int64_t *first, int64_t *count)
{
    int64_t per = ranks > 0 ? (T + ranks - 1) / ranks : T;
    int64_t f = per * rank, e = f + per;
    if (f > T) f = T;
    if (e > T) e = T;
    *first = f;
    *count = e - f;
}

int mp_xg_create(mp_xg **out, int32_t ranks, int32_t rank, int32_t slots, int32_t top_k, int64_t max_tokens,
                 int padded, mp_err *err)
{
    *out = NULL;
    if (ranks < 1 || ranks > MP_XG_MAX_RANKS || rank < 0 || rank >= ranks)
        return mp_err_set(err, MP_EINVAL, "exchange: rank %d of %d out of range (1..%d ranks)", rank, ranks,
                          MP_XG_MAX_RANKS);
    if (slots < 1 || slots > MP_XG_MAX_SLOTS || slots % ranks)
        return mp_err_set(err, MP_EINVAL, "exchange: %d slots must be 1..%d and divide over %d ranks", slots,
                          MP_XG_MAX_SLOTS, ranks);
    if (top_k < 1 || top_k > MP_XG_MAX_TOPK || max_tokens < 0 ||
        (double)max_tokens * top_k * ranks > (double)INT32_MAX)
        return mp_err_set(err, MP_ELIMIT, "exchange: %lld tokens x top-%d x %d ranks exceed 2^31 rows",
                          (long long)max_tokens, top_k, ranks);
    mp_xg *x = calloc(1, sizeof *x);
    if (!x) return mp_err_set(err, MP_ENOMEM, "exchange: out of memory");
    x->ranks = ranks;
    x->rank = rank;
    x->slots = slots;
    x->per_rank = slots / ranks;
    x->top_k = top_k;
    x->max_tokens = max_tokens;
    x->padded = padded ? 1 : 0;
    size_t P = (size_t)ranks, rows = (size_t)max_tokens * (size_t)top_k + 1;
    x->slot = malloc(sizeof *x->slot * rows);
    x->send_pos = malloc(sizeof *x->send_pos * rows);
    x->counts = calloc(P * (size_t)slots, sizeof *x->counts);
    x->pair = calloc(P * P, sizeof *x->pair);
    x->send_count = calloc(P, sizeof(int64_t));
    x->send_displ = calloc(P, sizeof(int64_t));
    x->recv_count = calloc(P, sizeof(int64_t));
    x->recv_displ = calloc(P, sizeof(int64_t));
    x->local_rows = calloc((size_t)x->per_rank, sizeof *x->local_rows);
    if (!x->slot || !x->send_pos || !x->counts || !x->pair || !x->send_count || !x->send_displ || !x->recv_count ||
        !x->recv_displ || !x->local_rows) {
        mp_xg_destroy(x);
        return mp_err_set(err, MP_ENOMEM, "exchange: out of memory");
    }
    *out = x;
    return 0;
}

void mp_xg_destroy(mp_xg *x)
{
    if (!x) return;
    free(x->slot);
    free(x->send_pos);
    free(x->send_token);
    free(x->recv_pos);
    free(x->counts);
    free(x->pair);
    free(x->send_count);
    free(x->send_displ);
    free(x->recv_count);
    free(x->recv_displ);
    free(x->local_rows);
    free(x);
}

int64_t *mp_xg_my_counts(mp_xg *x)
{
    return x->counts + (size_t)x->rank * x->slots;
}

int mp_xg_layout(mp_xg *x, int64_t first_token, int64_t tokens, const uint16_t *ids, int32_t experts,
                 int32_t max_replicas, const int32_t *log2phy, const int32_t *replica_count, int selection,
                 uint64_t seed, mp_err *err)
{
    if (tokens < 0 || tokens > x->max_tokens || first_token < 0)
        return mp_err_set(err, MP_ELIMIT, "exchange: %lld tokens exceed the %lld a rank holds", (long long)tokens,
                          (long long)x->max_tokens);
    const int32_t K = x->top_k;
    int64_t *mine = mp_xg_my_counts(x);
    memset(x->counts, 0, sizeof *x->counts * (size_t)x->ranks * x->slots);
    x->first_token = first_token;
    x->tokens = tokens;
    x->send_rows = tokens * K;
    for (int64_t i = 0; i < x->send_rows; i++) {
        int64_t t = first_token + i / K, a = first_token * K + i;
        int32_t e = ids[i];
        if (e >= experts)
            return mp_err_set(err, MP_ERANGE, "exchange: token %lld choice %d: expert %d >= %d", (long long)t,
                              (int)(i % K), e, experts);
        int32_t cnt = replica_count[e];
        if (cnt < 1 || cnt > max_replicas)
            return mp_err_set(err, MP_ERANGE, "exchange: expert %d has %d replicas (1..%d)", e, cnt, max_replicas);
        int32_t s = log2phy[(int64_t)e * max_replicas + mp__kx_select(selection, seed, a, t, cnt)];
        if (s < 0 || s >= x->slots)
            return mp_err_set(err, MP_ERANGE, "exchange: expert %d in slot %d of %d", e, s, x->slots);
        x->slot[i] = s;
        mine[s]++;
    }
    return 0;
}

static int grow(int32_t **p, int64_t *cap, int64_t need, mp_err *err)
{
    if (need <= *cap) return 0;
    int32_t *q = realloc(*p, sizeof *q * (size_t)(need + 1));
    if (!q) return mp_err_set(err, MP_ENOMEM, "exchange: out of memory for %lld rows", (long long)need);
    *p = q;
    *cap = need;
    return 0;
}

int mp_xg_finish(mp_xg *x, mp_err *err)
{
    const int32_t P = x->ranks, R = x->slots, per = x->per_rank, me = x->rank;
    int64_t cap = 0;
    for (int32_t s = 0; s < P; s++)
        for (int32_t d = 0; d < P; d++) {
            int64_t n = 0;
            for (int32_t j = d * per; j < (d + 1) * per; j++) {
                if (x->counts[(size_t)s * R + j] < 0)
                    return mp_err_set(err, MP_ERANGE, "exchange: negative count from rank %d to slot %d", s, j);
                n += x->counts[(size_t)s * R + j];
            }
            x->pair[(size_t)s * P + d] = n;
            if (n > cap) cap = n;
        }
    x->capacity = cap;
    int64_t so = 0, ro = 0;
    for (int32_t d = 0; d < P; d++) {
        x->send_count[d] = x->pair[(size_t)me * P + d];
        x->recv_count[d] = x->pair[(size_t)d * P + me];
        x->send_displ[d] = x->padded ? d * cap : so;
        x->recv_displ[d] = x->padded ? d * cap : ro;
        so += x->send_count[d];
        ro += x->recv_count[d];
    }
    if (so != x->send_rows)
        return mp_err_set(err, MP_ERANGE, "exchange: rank %d counts %lld rows to send, holds %lld", me,
                          (long long)so, (long long)x->send_rows);
    x->recv_rows = ro;
    x->send_buf_rows = x->padded ? (int64_t)P * cap : so;
    x->recv_buf_rows = x->padded ? (int64_t)P * cap : ro;
    if ((double)x->recv_buf_rows > (double)INT32_MAX || (double)x->send_buf_rows > (double)INT32_MAX)
        return mp_err_set(err, MP_ELIMIT, "exchange: %lld rows exceed 2^31", (long long)x->recv_buf_rows);
    int64_t need = x->send_buf_rows > x->recv_buf_rows ? x->send_buf_rows : x->recv_buf_rows;
    int rc = grow(&x->recv_pos, &x->cap_rows, need, err);
    if (rc) return rc;
    if ((rc = grow(&x->send_token, &x->cap_send, need, err))) return rc;
    /* send side: a cursor per slot, starting where its rows go */
    int64_t *cur = malloc(sizeof *cur * (size_t)R);
    if (!cur) return mp_err_set(err, MP_ENOMEM, "exchange: out of memory");
    const int64_t *mine = mp_xg_my_counts(x);
    for (int32_t d = 0; d < P; d++) {
        int64_t o = x->send_displ[d];
        for (int32_t j = d * per; j < (d + 1) * per; j++) {
            cur[j] = o;
            o += mine[j];
        }
    }
    for (int64_t i = 0; i < x->send_buf_rows; i++) x->send_token[i] = -1;
    for (int64_t i = 0; i < x->send_rows; i++) {
        int64_t p = cur[x->slot[i]]++;
        x->send_pos[i] = (int32_t)p;
        x->send_token[p] = (int32_t)(i / x->top_k);
    }
    /* receive side: local slot order, by source within a slot */
    const int32_t base = me * per;
    int64_t o = 0;
    for (int32_t j = 0; j < per; j++) {
        int64_t n = 0;
        for (int32_t s = 0; s < P; s++) n += x->counts[(size_t)s * R + base + j];
        x->local_rows[j] = (int32_t)n;
        cur[j] = o;
        o += n;
    }
    for (int64_t i = 0; i < x->recv_buf_rows; i++) x->recv_pos[i] = -1;
    for (int32_t s = 0; s < P; s++) {
        int64_t p = x->recv_displ[s];
        for (int32_t j = 0; j < per; j++)
            for (int64_t i = 0; i < x->counts[(size_t)s * R + base + j]; i++) x->recv_pos[p++] = (int32_t)cur[j]++;
    }
    free(cur);
    return 0;
}

double mp_xg_algbw(double bytes, double us)
{
    return us > 0 ? bytes / (us * 1e-6) / 1e9 : 0;
}

double mp_xg_busbw(double algbw, int32_t ranks)
{
    return ranks > 0 ? algbw * (double)(ranks - 1) / (double)ranks : 0;
}
