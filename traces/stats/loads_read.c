/* loads_read.c - expert loads from any input: a JSON load file, or a
 * routing trace counted through mp_counter. */
#include "traces/stats/mp_loads_read.h"

#include <stdlib.h>
#include <string.h>

#include "traces/formats/mp_loadfile.h"
#include "traces/stats/mp__stats.h"
#include "traces/stats/mp_stats.h"

/* Counting goes through mp_counter (stats_count.c): uint32 histograms per
 * layer; with per_step each step's window becomes one matrix. */
int mp_loads_count(mp_loads **out, mp_trace *t, int64_t step_begin, int64_t step_end, int per_step, mp_err *err)
{
    *out = NULL;
    if (!per_step) {
        mp_scan_opts o = {step_begin, step_end, 1, 0, NULL, NULL};
        return mp_stats_scan(t, &o, out, NULL, NULL, err);
    }
    mp_trace_skip_weights(t); /* counts need ids only */
    const mp_model *m = mp_trace_model(t);
    int32_t L = m->layers, E = m->experts;
    int64_t cells = (int64_t)L * E;
    double *acc = NULL; /* grows by one matrix per step */
    int64_t nmat = 0, cap = 0, cur = -1;
    int open = 0;
    mp_step p = {0};
    mp_counter *c = NULL;
    int rc = mp_counter_create(&c, L, E, m->top_k, 1, err);
    mp__stepseen seen = {0};
    while (!rc && (rc = mp_trace_next(t, &p, err)) == 1) {
        rc = 0;
        mp__stepseen_add(&seen, p.step);
        if (p.step < step_begin) continue;
        if (step_end >= 0 && p.step >= step_end) break;
        if (open && p.step != cur) { /* the previous step ended without its mark */
            mp_counter_window(c, acc + (nmat - 1) * cells);
            mp_counter_end_window(c);
            open = 0;
        }
        if (!open) {
            if (nmat >= cap) {
                int64_t ncap = cap ? cap * 2 : 16;
                if (ncap * cells > MP_LOADS_CELLS_MAX) ncap = MP_LOADS_CELLS_MAX / cells;
                if (nmat >= ncap) {
                    rc = mp_err_set(err, MP_ELIMIT, "loads: too many steps to keep per step (%lld)", (long long)nmat);
                    break;
                }
                double *na = realloc(acc, (size_t)(ncap * cells) * sizeof *na);
                if (!na) {
                    rc = mp_err_set(err, MP_ENOMEM, "loads: out of memory");
                    break;
                }
                acc = na;
                cap = ncap;
            }
            nmat++;
            open = 1;
        }
        cur = p.step;
        if ((rc = mp_counter_add(c, &p, err)) != 0) break;
        if (p.end_of_step) {
            mp_counter_window(c, acc + (nmat - 1) * cells);
            mp_counter_end_window(c);
            open = 0;
        }
    }
    if (rc == 0 && open) mp_counter_window(c, acc + (nmat - 1) * cells);
    if (rc == 0 && nmat == 0) rc = mp__stats_no_steps(t, &p, &seen, step_begin, step_end, err);
    mp_step_release(&p);
    mp_counter_destroy(c);
    if (rc < 0) {
        free(acc);
        return rc;
    }
    mp_loads *l = calloc(1, sizeof *l);
    if (!l) {
        free(acc);
        return mp_err_set(err, MP_ENOMEM, "loads: out of memory");
    }
    l->steps = (int32_t)nmat;
    l->layers = L;
    l->experts = E;
    l->count = acc;
    l->has_model = 1;
    l->model = *m;
    *out = l;
    return 0;
}

/* A load file's matrix takes the configuration's model: its layers and
 * experts must be the model's MoE layers and experts. */
static int apply_config(mp_loads *l, const mp_read_opts *opts, const char *path, mp_err *err)
{
    mp_model m;
    if (l->has_model) m = l->model;
    else {
        m = mp_model_default();
        m.layers = l->layers;
        m.experts = l->experts;
        m.top_k = opts->config->top_k; /* a load file does not record it */
    }
    int rc = mp_model_apply_config(&m, opts->config, path, opts->config_name, err);
    if (rc) return rc;
    l->model = m;
    l->has_model = 1;
    return 0;
}

int mp_loads_input(const char *path, const mp_read_opts *opts, int *is_loads, mp_err *err)
{
    *is_loads = 0;
    mp_format f;
    int rc = mp_format_guess(path, opts ? opts->format : MP_FMT_AUTO, &f, err);
    if (rc) return rc;
    if (mp_format_is_loads(f)) *is_loads = 1;
    else if (f == MP_FMT_PT) return mp_pt_holds_loads(path, opts, is_loads, err);
    return 0;
}

int mp_loads_read(mp_loads **out, const char *path, const mp_read_opts *opts, int per_step, mp_err *err)
{
    *out = NULL;
    mp_read_opts o;
    if (opts) o = *opts;
    else memset(&o, 0, sizeof o);
    mp_format f = MP_FMT_AUTO;
    int is_loads = 0;
    if (mp_format_guess(path, o.format, &f, err) == 0) { /* else mp_trace_open below says what is wrong */
        o.format = f;
        is_loads = mp_format_is_loads(f);
        if (f == MP_FMT_PT) {
            int rc = mp_pt_holds_loads(path, &o, &is_loads, err);
            if (rc) return rc;
        }
    }
    if (is_loads) {
        mp_loads *l;
        int rc = mp_loads_read_file(&l, path, &o, err);
        if (rc) return rc;
        if (opts && opts->config && (rc = apply_config(l, opts, path, err))) {
            mp_loads_destroy(l);
            return rc;
        }
        if (l->steps > 1 && !per_step) {
            mp_err sub;
            rc = mp_loads_sum_steps(out, l, &sub);
            mp_loads_destroy(l);
            return rc ? mp_err_set(err, rc, "%s: %s", path, sub.msg) : 0;
        }
        *out = l;
        return 0;
    }
    mp_trace *t;
    int rc = mp_trace_open(&t, path, opts, err);
    if (rc) return rc;
    rc = mp_loads_count(out, t, 0, -1, per_step, err);
    mp_trace_close(t);
    return rc;
}
