/* trace.c - format registry and the format-independent part of reading and writing traces. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sys/stat.h>

#include "traces/formats/mp__format.h"
#include "traces/formats/mp__mpt.h"
#include "traces/formats/mp_loadfile.h"

/* Sniffers run in this order: the JSON-lines formats before plain JSON. */
static const mp__format *const formats[] = {&mp__format_mpt,       &mp__format_npy,    &mp__format_csv,
                                            &mp__format_vllm_eplb, &mp__format_routed, &mp__format_json,
                                            &mp__format_pt,        &mp__format_trtllm};
#define NFORMATS (sizeof formats / sizeof formats[0])

static const mp__format *format_get(mp_format id)
{
    for (size_t i = 0; i < NFORMATS; i++)
        if (formats[i]->id == id) return formats[i];
    return NULL;
}

const char *mp_format_name(mp_format f)
{
    const mp__format *d = format_get(f);
    return d ? d->name : "auto";
}

int mp_format_parse(const char *name, mp_format *out)
{
    if (strcmp(name, "auto") == 0) {
        *out = MP_FMT_AUTO;
        return 0;
    }
    for (size_t i = 0; i < NFORMATS; i++)
        if (strcmp(formats[i]->name, name) == 0) {
            *out = formats[i]->id;
            return 0;
        }
    return MP_ENOTFOUND;
}

mp_format mp_format_from_path(const char *path)
{
    const char *dot = strrchr(path, '.');
    const char *slash = strrchr(path, '/');
    if (!dot || (slash && dot < slash)) return MP_FMT_AUTO;
    for (size_t i = 0; i < NFORMATS; i++)
        if (formats[i]->ext[0] && strcasecmp(dot, formats[i]->ext) == 0) return formats[i]->id;
    return MP_FMT_AUTO;
}

int mp_format_is_loads(mp_format f)
{
    const mp__format *d = format_get(f);
    return d && d->read_loads != NULL && d->reader == NULL;
}

/* The one place an input's format is told from what it is: a folder by its
 * contents (each folder format's sniff_dir, in table order), a file by its
 * extension, else by its first MP__SNIFF_BYTES bytes (each format's sniff, in
 * table order). */
int mp_format_guess(const char *path, mp_format asked, mp_format *out, mp_err *err)
{
    mp_format f = asked;
    struct stat st;
    if (f == MP_FMT_AUTO && stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        for (size_t i = 0; i < NFORMATS && f == MP_FMT_AUTO; i++)
            if (formats[i]->sniff_dir && formats[i]->sniff_dir(path)) f = formats[i]->id;
        if (f == MP_FMT_AUTO)
            return mp_err_set(err, MP_EFORMAT,
                              "%s: a folder of no known recording (.pt files of one SGLang dump, or a TensorRT-LLM "
                              "statistic folder with rank{r}.safetensors)",
                              path);
    }
    if (f == MP_FMT_AUTO) f = mp_format_from_path(path);
    if (f == MP_FMT_AUTO) {
        FILE *fp = fopen(path, "rb");
        if (!fp) return mp_err_set(err, MP_EIO, "%s: cannot open", path);
        unsigned char *head = malloc(MP__SNIFF_BYTES);
        if (!head) {
            fclose(fp);
            return mp_err_set(err, MP_ENOMEM, "%s: out of memory", path);
        }
        size_t n = fread(head, 1, MP__SNIFF_BYTES, fp);
        fclose(fp);
        for (size_t i = 0; i < NFORMATS && f == MP_FMT_AUTO; i++)
            if (formats[i]->sniff && formats[i]->sniff(head, n)) f = formats[i]->id;
        free(head);
        if (f == MP_FMT_AUTO)
            return mp_err_set(err, MP_EFORMAT,
                              "%s: unknown format (not .mpt, .npy, .csv, .json, .pt or an engine recording by its name "
                              "or contents)",
                              path);
    }
    *out = f;
    return 0;
}

/* Picks the format of an input: the option, else the folder, the extension, the first bytes. */
static int guess_format(const char *path, mp_format asked, const mp__format **out, mp_err *err)
{
    mp_format f;
    int rc = mp_format_guess(path, asked, &f, err);
    if (rc) return rc;
    *out = format_get(f);
    return 0;
}

int mp_loads_read_file(mp_loads **out, const char *path, const mp_read_opts *opts, mp_err *err)
{
    *out = NULL;
    const mp__format *d = NULL;
    int rc = guess_format(path, opts ? opts->format : MP_FMT_AUTO, &d, err);
    if (rc) return rc;
    if (!d->read_loads)
        return mp_err_set(err, MP_EUNSUPPORTED, "%s: a %s file holds per-token routing, not loads", path, d->name);
    return d->read_loads(out, path, opts, err);
}

struct mp_trace {
    const mp__format *fmt;
    void *state;
    char *path;
    mp_model model;
    mp_trace_info info;
    int failed;
    int skip_weights;
};

int mp_trace_open(mp_trace **out, const char *path, const mp_read_opts *opts, mp_err *err)
{
    static const mp_read_opts defaults;
    if (!opts) opts = &defaults;
    *out = NULL;
    const mp__format *fmt = NULL;
    int rc = guess_format(path, opts->format, &fmt, err);
    if (rc) return rc;
    if (!fmt->reader)
        return mp_err_set(err, MP_EUNSUPPORTED, "%s: a %s file holds expert loads, not per-token routing", path,
                          fmt->name);
    mp_trace *t = calloc(1, sizeof *t);
    if (!t || !(t->path = strdup(path))) {
        free(t);
        return mp_err_set(err, MP_ENOMEM, "%s: out of memory", path);
    }
    t->fmt = fmt;
    t->model = mp_model_default();
    t->info.format = fmt->id;
    t->info.steps = t->info.tokens = t->info.assignments = t->info.file_bytes = t->info.raw_bytes = -1;
    t->info.provenance = "{}";
    rc = fmt->reader->open(&t->state, path, opts, &t->model, &t->info, err);
    if (rc == 0) rc = mp_model_validate(&t->model, path, err);
    if (rc == 0 && opts->config)
        rc = mp_model_apply_config(&t->model, opts->config, path, opts->config_name, err);
    if (rc) {
        if (t->state) fmt->reader->close(t->state);
        free(t->path);
        free(t);
        return rc;
    }
    *out = t;
    return 0;
}

const mp_model *mp_trace_model(const mp_trace *t) { return &t->model; }

const char *mp_trace_path(const mp_trace *t) { return t->path; }

mp_trace_info mp_trace_get_info(const mp_trace *t) { return t->info; }

/* The largest of n ids; restrict and fixed-length inner loops let GCC vectorise it at -O2. */
static unsigned max_id(const mp_expert_id *restrict v, int64_t n)
{
    mp_expert_id m = 0;
    int64_t i = 0;
    for (; i + 64 <= n; i += 64)
        for (int j = 0; j < 64; j++) m = v[i + j] > m ? v[i + j] : m;
    for (; i < n; i++) m = v[i] > m ? v[i] : m;
    return m;
}

/* Finds the first id >= E; the fast path is a branch-free max. */
static int check_ids(const mp_trace *t, const mp_step *p, mp_err *err)
{
    const mp_expert_id *ids = p->ids;
    int64_t n = mp_step_assignments(p);
    if ((int)max_id(ids, n) < t->model.experts) return 0;
    int64_t per_tok = (int64_t)p->layers * p->top_k;
    for (int64_t i = 0; i < n; i++)
        if (ids[i] >= t->model.experts)
            return mp_err_set(err, MP_ERANGE, "%s: step %lld token %lld layer %lld: expert id %u >= experts %d",
                              t->path, (long long)p->step, (long long)(p->first_token + i / per_tok),
                              (long long)(i % per_tok / p->top_k), (unsigned)ids[i], t->model.experts);
    return 0;
}

void mp_trace_skip_weights(mp_trace *t)
{
    if (!t) return;
    t->skip_weights = 1;
    if (t->fmt->id == MP_FMT_MPT) mp__mpt_skip_weights(t->state);
}

int mp_trace_next(mp_trace *t, mp_step *piece, mp_err *err)
{
    if (t->failed) return mp_err_set(err, MP_EINVAL, "%s: read after an error", t->path);
    int rc = t->fmt->reader->next(t->state, piece, &t->info, err);
    if (rc == 1) {
        if (t->skip_weights) piece->weights = NULL; /* the storage stays in weights_buf */
        if (piece->layers != t->model.layers || piece->top_k != t->model.top_k)
            rc = mp_err_set(err, MP_ESHAPE, "%s: step %lld has %d layers x %d choices, header says %d x %d",
                            t->path, (long long)piece->step, piece->layers, piece->top_k, t->model.layers,
                            t->model.top_k);
        else if (t->fmt->id != MP_FMT_MPT) { /* the .mpt reader checks ids itself, naming the chunk */
            int c = check_ids(t, piece, err);
            if (c) rc = c;
        }
    }
    if (rc < 0) t->failed = 1;
    return rc;
}

void mp_trace_close(mp_trace *t)
{
    if (!t) return;
    t->fmt->reader->close(t->state);
    free(t->path);
    free(t);
}

struct mp_writer {
    const mp__format *fmt;
    void *state;
    int64_t next_step;
    int64_t next_token;
};

int mp_writer_open(mp_writer **out, const char *path, const mp_model *m, const mp_write_opts *opts, mp_err *err)
{
    static const mp_write_opts defaults;
    if (!opts) opts = &defaults;
    *out = NULL;
    int rc = mp_model_validate(m, path, err);
    if (rc) return rc;
    mp_format f = opts->format != MP_FMT_AUTO ? opts->format : mp_format_from_path(path);
    if (f == MP_FMT_AUTO)
        return mp_err_set(err, MP_EINVAL, "%s: cannot tell the output format from the name (not .mpt, .npy, .csv or .json)",
                          path);
    const mp__format *fmt = format_get(f);
    if (!fmt) return mp_err_set(err, MP_EINVAL, "%s: unknown output format", path);
    if (!fmt->writer) return mp_err_set(err, MP_EUNSUPPORTED, "%s: cannot write %s", path, fmt->name);
    mp_writer *w = calloc(1, sizeof *w);
    if (!w) return mp_err_set(err, MP_ENOMEM, "%s: out of memory", path);
    w->fmt = fmt;
    rc = fmt->writer->open(&w->state, path, m, opts, err);
    if (rc) {
        free(w);
        return rc;
    }
    *out = w;
    return 0;
}

int mp_writer_put(mp_writer *w, const mp_step *piece, mp_err *err)
{
    if (piece->step != w->next_step || piece->first_token != w->next_token)
        return mp_err_set(err, MP_EINVAL, "writer: piece (step %lld, token %lld) out of order, expected (%lld, %lld)",
                          (long long)piece->step, (long long)piece->first_token, (long long)w->next_step,
                          (long long)w->next_token);
    int rc = w->fmt->writer->put(w->state, piece, err);
    if (rc) return rc;
    if (piece->end_of_step) {
        w->next_step++;
        w->next_token = 0;
    } else {
        w->next_token += piece->tokens;
    }
    return 0;
}

int mp_writer_commit(mp_writer *w, mp_err *err)
{
    if (w->next_token != 0) {
        int rc = mp_err_set(err, MP_EINVAL, "writer: the last step was not finished (end_of_step missing)");
        mp_writer_abort(w);
        return rc;
    }
    int rc = w->fmt->writer->commit(w->state, err);
    free(w);
    return rc;
}

void mp_writer_abort(mp_writer *w)
{
    if (!w) return;
    w->fmt->writer->abort(w->state);
    free(w);
}
