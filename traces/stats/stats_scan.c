/* stats_scan.c - one pass over a routing trace feeding the counter and the
 * per-step accumulator (mp_stats.h). */
#include <stdio.h>
#include <stdlib.h>

#include "traces/stats/mp__stats.h"

void mp__stepseen_add(mp__stepseen *s, int64_t step)
{
    if (s->n > 0 && step == s->cur) return;
    if (s->n == 0 || step < s->lo) s->lo = step;
    if (s->n == 0 || step > s->hi) s->hi = step;
    s->n++;
    s->cur = step;
}

int mp__stats_no_steps(mp_trace *t, mp_step *p, mp__stepseen *s, int64_t begin, int64_t end, mp_err *err)
{
    int rc;
    while ((rc = mp_trace_next(t, p, err)) == 1) mp__stepseen_add(s, p->step);
    if (rc < 0) return rc;
    const char *path = mp_trace_path(t) ? mp_trace_path(t) : "trace";
    char range[64];
    if (end >= 0) snprintf(range, sizeof range, "in the range %lld:%lld", (long long)begin, (long long)end);
    else snprintf(range, sizeof range, "from step %lld on", (long long)begin);
    if (s->n == 0) return mp_err_set(err, MP_ERANGE, "%s: no steps %s; the trace has none", path, range);
    return mp_err_set(err, MP_ERANGE, "%s: no steps %s; the trace has %lld step%s (%lld..%lld)", path, range,
                      (long long)s->n, s->n == 1 ? "" : "s", (long long)s->lo, (long long)s->hi);
}

int mp_stats_scan(mp_trace *t, const mp_scan_opts *o, mp_loads **sum, mp_stepvar **sv, mp_scan_totals *totals,
                  mp_err *err)
{
    *sum = NULL;
    if (sv) *sv = NULL;
    if (totals) *totals = (mp_scan_totals){0, 0};
    mp_trace_skip_weights(t); /* counts need ids only: .mpt then never inflates the weights */
    const mp_model *m = mp_trace_model(t);
    int32_t L = m->layers, E = m->experts, K = m->top_k;
    mp_counter *c = NULL;
    mp_stepvar *var = NULL;
    mp_step p = {0};
    int64_t cur = -1, steps = 0, tokens = 0, done = 0, total = mp_trace_get_info(t).assignments;
    int64_t cells = (int64_t)L * E;
    /* a shape the whole trace cannot pay for is refused before reading */
    const char *path = mp_trace_path(t);
    int rc = total >= 0 && !mp_stats_cells_ok(cells, total) ? mp__stats_cells_refuse(path, L, E, total, err) : 0;
    if (!rc) rc = mp_counter_create(&c, L, E, K, o->threads, err);
    if (!rc) mp__counter_expect(c, total, path);
    if (!rc && o->per_step && sv) rc = mp_stepvar_create(&var, L, E, err);
    int open = 0;
    mp__stepseen seen = {0};
    while (!rc && (rc = mp_trace_next(t, &p, err)) == 1) {
        rc = 0;
        mp__stepseen_add(&seen, p.step);
        if (p.step < o->step_begin) continue;
        if (o->step_end >= 0 && p.step >= o->step_end) break;
        if (open && p.step != cur) { /* the previous step ended without its mark */
            if (var) rc = mp__counter_end_step(c, var, err);
            open = 0;
            if (rc) break;
        }
        if (!open) steps++;
        rc = mp_counter_add(c, &p, err);
        if (rc) break;
        cur = p.step;
        open = 1;
        tokens += p.tokens;
        done += mp_step_assignments(&p);
        if (p.end_of_step) {
            if (var) rc = mp__counter_end_step(c, var, err);
            open = 0;
        }
        if (o->progress) o->progress(o->progress_ctx, done, total);
    }
    if (rc == 0 && open && var) rc = mp__counter_end_step(c, var, err);
    if (rc == 0 && steps == 0) rc = mp__stats_no_steps(t, &p, &seen, o->step_begin, o->step_end, err);
    if (rc == 0 && !mp_stats_cells_ok(cells, done)) rc = mp__stats_cells_refuse(path, L, E, done, err);
    if (rc == 0) {
        mp_counter_end_window(c);
        rc = mp_loads_create(sum, 1, L, E, err);
    }
    if (rc == 0) {
        mp_counter_totals(c, (*sum)->count);
        (*sum)->has_model = 1;
        (*sum)->model = *m;
        if (sv) *sv = var;
        var = NULL;
        if (totals) *totals = (mp_scan_totals){steps, tokens};
    }
    mp_step_release(&p);
    mp_stepvar_destroy(var);
    mp_counter_destroy(c);
    return rc;
}

int mp_stats_scan_loads(const mp_loads *in, int64_t begin, int64_t end, mp_loads **sum, mp_stepvar **sv, mp_err *err)
{
    *sum = NULL;
    if (sv) *sv = NULL;
    int64_t last = end < 0 || end > in->steps ? in->steps : end;
    if (begin < 0 || begin >= last) {
        char range[64];
        if (end >= 0) snprintf(range, sizeof range, "in the range %lld:%lld", (long long)begin, (long long)end);
        else snprintf(range, sizeof range, "from step %lld on", (long long)begin);
        return mp_err_set(err, MP_ERANGE, "no steps %s; the loads hold %d step%s (0..%d)", range, in->steps,
                          in->steps == 1 ? "" : "s", in->steps - 1);
    }
    end = last;
    int rc = mp_loads_create(sum, 1, in->layers, in->experts, err);
    if (rc) return rc;
    (*sum)->has_model = in->has_model;
    (*sum)->model = in->model;
    mp_stepvar *var = NULL;
    if (sv && end - begin > 1 && (rc = mp_stepvar_create(&var, in->layers, in->experts, err)) != 0) {
        mp_loads_destroy(*sum);
        *sum = NULL;
        return rc;
    }
    int64_t cells = (int64_t)in->layers * in->experts;
    for (int64_t s = begin; s < end && !rc; s++) {
        const double *src = in->count + s * cells;
        for (int64_t i = 0; i < cells; i++) (*sum)->count[i] += src[i];
        if (var) rc = mp_stepvar_add(var, src, err);
    }
    if (rc) {
        mp_stepvar_destroy(var);
        mp_loads_destroy(*sum);
        *sum = NULL;
        return rc;
    }
    if (sv) *sv = var;
    return 0;
}
