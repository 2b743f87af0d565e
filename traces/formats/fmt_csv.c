/*
 * fmt_csv.c - CSV routing traces, one row per token and layer:
 *
 *   # moeplace-csv 1 {"name":"...","layers":L,"experts":E,"top_k":K,...}
 *   # provenance {...}                       (optional: where the trace came from)
 *   step,token,layer,e0,...,e{K-1}[,w0,...,w{K-1}][,rank]
 *
 * The first (comment) line carries the model shape; it is optional on read:
 * without it L and K come from the data and E from the model hint or the
 * largest id + 1 (a first pass over the file).  Rows are ordered by step,
 * token and layer; every token has all L layers once; steps and tokens count
 * from 0 without gaps.  Pieces are built row by row in bounded memory.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include <cjson/cJSON.h>

#include "traces/formats/mp__fmtutil.h"
#include "traces/formats/mp__format.h"
#include "traces/mp_file.h"

#define CSV_LINE_MAX 65536
#define CSV_BUF (1 << 20) /* read buffer; holds at least one whole line */
#define CSV_MAGIC "# moeplace-csv "
#define CSV_PROV "# provenance "

static int csv_sniff(const unsigned char *h, size_t n)
{
    return (n >= 5 && memcmp(h, "step,", 5) == 0) || (n >= sizeof CSV_MAGIC - 1 && memcmp(h, CSV_MAGIC, sizeof CSV_MAGIC - 1) == 0);
}

typedef struct csv_row {
    int64_t step, token;
    int32_t layer;
    int32_t rank;
    mp_expert_id ids[MP_TOPK_MAX];
    float w[MP_TOPK_MAX];
} csv_row;

typedef struct csv_reader {
    char *path;
    char *provenance;       /* compact JSON object text, or NULL */
    FILE *fp;
    char *buf;              /* CSV_BUF + 1 bytes; [beg, end) not yet consumed */
    size_t beg, end;
    int buf_eof;
    int64_t buf_pos;        /* file offset of buf[0] */
    char *line;             /* the current line, NUL-terminated, inside buf */
    char *fields[3 + 2 * MP_TOPK_MAX + 2];
    int64_t lineno;
    int32_t K, L;           /* L = 0 while unknown (first pass) */
    int has_w, has_rank, ncols;
    int32_t E;              /* 0 while unknown */
    int64_t max_id;
    /* sequence check */
    int have_prev;
    csv_row prev;
    int64_t steps, tokens;
    /* streaming */
    int have_pending, eof;
    csv_row pending;
    int64_t data_off, data_line;
} csv_reader;

/* Reads the next line into r->line without its newline; returns 1, 0 at EOF, or an error. */
static int read_line(csv_reader *r, mp_err *err)
{
    char *line, *nl;
    size_t len;
    for (;;) {
        nl = memchr(r->buf + r->beg, '\n', r->end - r->beg);
        if (nl) {
            line = r->buf + r->beg;
            len = (size_t)(nl - line);
            r->beg += len + 1;
            break;
        }
        if (r->end - r->beg > CSV_LINE_MAX)
            return mp_err_set(err, MP_ELIMIT, "%s: line %lld: longer than %d bytes", r->path, (long long)r->lineno + 1,
                              CSV_LINE_MAX);
        if (r->buf_eof) {
            if (r->beg == r->end) return 0;
            line = r->buf + r->beg;
            len = r->end - r->beg;
            r->beg = r->end;
            break;
        }
        memmove(r->buf, r->buf + r->beg, r->end - r->beg);
        r->buf_pos += (int64_t)r->beg;
        r->end -= r->beg;
        r->beg = 0;
        size_t got = fread(r->buf + r->end, 1, CSV_BUF - r->end, r->fp);
        if (got == 0) {
            if (ferror(r->fp)) return mp_err_set(err, MP_EIO, "%s: read failed", r->path);
            r->buf_eof = 1;
        }
        r->end += got;
    }
    r->lineno++;
    if (len > CSV_LINE_MAX)
        return mp_err_set(err, MP_ELIMIT, "%s: line %lld: longer than %d bytes", r->path, (long long)r->lineno, CSV_LINE_MAX);
    if (memchr(line, '\0', len))
        return mp_err_set(err, MP_EFORMAT, "%s: line %lld: NUL byte in text", r->path, (long long)r->lineno);
    if (len > 0 && line[len - 1] == '\r') len--;
    line[len] = '\0'; /* the newline's place, or the spare byte after the buffer's end */
    r->line = line;
    return 1;
}

/* Positions the reader at file offset `off` (line number `lineno`). */
static int seek_to(csv_reader *r, int64_t off, int64_t lineno, mp_err *err)
{
    if (fseeko(r->fp, (off_t)off, SEEK_SET) != 0)
        return mp_err_set(err, MP_EIO, "%s: cannot seek back (not a regular file?)", r->path);
    clearerr(r->fp);
    r->buf_pos = off;
    r->beg = r->end = 0;
    r->buf_eof = 0;
    r->lineno = lineno;
    return 0;
}

/* Splits r->line at commas; returns the field count (up to max), or max + 1 when there are more. */
static int split(csv_reader *r, int max)
{
    int n = 0;
    char *s = r->line;
    for (;;) {
        if (n == max) return max + 1;
        r->fields[n++] = s;
        char *c = strchr(s, ',');
        if (!c) break;
        *c = '\0';
        s = c + 1;
    }
    return n;
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t') s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t')) s[--n] = '\0';
    return s;
}

static void col_name(const csv_reader *r, int c, char *buf, size_t cap)
{
    static const char *const fixed[] = {"step", "token", "layer"};
    if (c < 3) snprintf(buf, cap, "%s", fixed[c]);
    else if (c < 3 + r->K) snprintf(buf, cap, "e%d", c - 3);
    else if (r->has_w && c < 3 + 2 * r->K) snprintf(buf, cap, "w%d", c - 3 - r->K);
    else snprintf(buf, cap, "rank");
}

static int field_int(csv_reader *r, int c, int64_t lo, int64_t hi, int64_t *out, mp_err *err)
{
    char *s = trim(r->fields[c]), *end, name[16];
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (*s == '\0' || *end != '\0' || errno) {
        col_name(r, c, name, sizeof name);
        return mp_err_set(err, MP_EFORMAT, "%s: line %lld, column %d (%s): '%.40s' is not an integer", r->path,
                          (long long)r->lineno, c + 1, name, s);
    }
    if (v < lo || v > hi) {
        col_name(r, c, name, sizeof name);
        return mp_err_set(err, MP_ERANGE, "%s: line %lld, column %d (%s): %lld is out of range %lld..%lld", r->path,
                          (long long)r->lineno, c + 1, name, v, (long long)lo, (long long)hi);
    }
    *out = v;
    return 0;
}

/* Parses the column header line: step,token,layer,e0..,[w0..],[rank]. */
static int parse_header(csv_reader *r, mp_err *err)
{
    int n = split(r, 3 + 2 * MP_TOPK_MAX + 1);
    static const char *const fixed[] = {"step", "token", "layer"};
    if (n > 3 + 2 * MP_TOPK_MAX + 1)
        return mp_err_set(err, MP_ELIMIT, "%s: line %lld: too many columns (top-k is at most %d)", r->path,
                          (long long)r->lineno, MP_TOPK_MAX);
    for (int c = 0; c < 3; c++)
        if (c >= n || strcmp(trim(r->fields[c]), fixed[c]) != 0)
            return mp_err_set(err, MP_EFORMAT, "%s: line %lld, column %d: header must start with step,token,layer,e0,...",
                              r->path, (long long)r->lineno, c + 1);
    int c = 3, k = 0;
    char want[16];
    while (c < n && trim(r->fields[c])[0] == 'e') {
        snprintf(want, sizeof want, "e%d", k);
        if (strcmp(trim(r->fields[c]), want) != 0)
            return mp_err_set(err, MP_EFORMAT, "%s: line %lld, column %d: header column '%.20s', expected '%s'", r->path,
                              (long long)r->lineno, c + 1, r->fields[c], want);
        c++, k++;
    }
    if (k == 0)
        return mp_err_set(err, MP_EFORMAT, "%s: line %lld, column 4: header has no expert columns e0,...", r->path,
                          (long long)r->lineno);
    if (k > MP_TOPK_MAX)
        return mp_err_set(err, MP_ELIMIT, "%s: line %lld: %d expert columns (top-k is at most %d)", r->path,
                          (long long)r->lineno, k, MP_TOPK_MAX);
    r->K = k;
    if (c < n && trim(r->fields[c])[0] == 'w') {
        for (int j = 0; j < k; j++, c++) {
            snprintf(want, sizeof want, "w%d", j);
            if (c >= n || strcmp(trim(r->fields[c]), want) != 0)
                return mp_err_set(err, MP_EFORMAT, "%s: line %lld, column %d: expected '%s' (one weight per expert column)",
                                  r->path, (long long)r->lineno, c + 1, want);
        }
        r->has_w = 1;
    }
    if (c < n && strcmp(trim(r->fields[c]), "rank") == 0) {
        r->has_rank = 1;
        c++;
    }
    if (c < n)
        return mp_err_set(err, MP_EFORMAT, "%s: line %lld, column %d: unexpected header column '%.20s'", r->path,
                          (long long)r->lineno, c + 1, r->fields[c]);
    r->ncols = c;
    return 0;
}

/* Checks that row c follows the previous one. */
static int sequence(csv_reader *r, const csv_row *c, mp_err *err)
{
    const csv_row *p = &r->prev;
    long long ln = (long long)r->lineno;
    if (!r->have_prev) {
        if (c->step != 0 || c->token != 0 || c->layer != 0)
            return mp_err_set(err, MP_EFORMAT, "%s: line %lld: the first row must be step 0, token 0, layer 0", r->path, ln);
    } else if (c->step == p->step && c->token == p->token) {
        if (c->layer != p->layer + 1)
            return mp_err_set(err, MP_EFORMAT, "%s: line %lld: step %lld token %lld: layer %d after layer %d (rows out of order?)",
                              r->path, ln, (long long)c->step, (long long)c->token, c->layer, p->layer);
        if (r->L && c->layer >= r->L)
            return mp_err_set(err, MP_ESHAPE, "%s: line %lld: layer %d, the trace has %d layers", r->path, ln, c->layer, r->L);
        if (r->has_rank && c->rank != p->rank)
            return mp_err_set(err, MP_EFORMAT, "%s: line %lld: rank %d differs from the token's rank %d", r->path, ln,
                              c->rank, p->rank);
    } else {
        if (!r->L) r->L = p->layer + 1;
        if (p->layer != r->L - 1)
            return mp_err_set(err, MP_ESHAPE, "%s: line %lld: step %lld token %lld has %d layers, want %d (missing layers)",
                              r->path, ln - 1, (long long)p->step, (long long)p->token, p->layer + 1, r->L);
        int ok = c->layer == 0 && ((c->step == p->step && c->token == p->token + 1) ||
                                   (c->step == p->step + 1 && c->token == 0));
        if (!ok)
            return mp_err_set(err, MP_EFORMAT,
                              "%s: line %lld: step %lld token %lld layer %d cannot follow step %lld token %lld (rows must be ordered, without gaps)",
                              r->path, ln, (long long)c->step, (long long)c->token, c->layer, (long long)p->step,
                              (long long)p->token);
    }
    if (!r->have_prev || c->step != p->step || c->token != p->token) {
        r->tokens++;
        if (!r->have_prev || c->step != p->step) r->steps++;
    }
    r->prev = *c;
    r->have_prev = 1;
    return 0;
}

static int sequence_end(csv_reader *r, mp_err *err)
{
    if (!r->have_prev) return 0;
    if (!r->L) r->L = r->prev.layer + 1;
    if (r->prev.layer != r->L - 1)
        return mp_err_set(err, MP_ESHAPE, "%s: line %lld: step %lld token %lld has %d layers, want %d (missing layers)",
                          r->path, (long long)r->lineno, (long long)r->prev.step, (long long)r->prev.token,
                          r->prev.layer + 1, r->L);
    return 0;
}

/* Parses plain digits (no sign, no spaces) up to `max`; returns 0 when the text is anything else. */
static inline int fast_uint(const char **sp, int64_t max, int64_t *out)
{
    const char *s = *sp;
    int64_t v = 0;
    if (*s < '0' || *s > '9') return 0;
    int n = 0;
    while (*s >= '0' && *s <= '9') {
        if (++n > 18) return 0;
        v = v * 10 + (*s++ - '0');
    }
    if (v > max) return 0;
    *out = v;
    *sp = s;
    return 1;
}

/* A gate weight as every writer stores it: a float32 that is finite and not
 * negative (-0 included, as in .mpt).  Weights are parsed with strtof, so a
 * value the writer printed with %.9g (enough digits for every float32,
 * subnormals and FLT_MAX included) reads back bit for bit; text beyond
 * float32's range (above FLT_MAX once rounded) is refused, not turned into
 * infinity. */
static int weight_ok(float f)
{
    return isfinite(f) && !(f < 0.0f);
}

/* The common case of a row, parsed in one walk; returns 0 to let the
 * careful path below parse it (and name what is wrong). */
static int fast_row(csv_reader *r, csv_row *row)
{
    const char *s = r->line;
    int64_t v;
    if (!fast_uint(&s, INT64_MAX / 2, &row->step) || *s++ != ',') return 0;
    if (!fast_uint(&s, INT64_MAX / 2, &row->token) || *s++ != ',') return 0;
    if (!fast_uint(&s, r->L ? r->L - 1 : MP_LAYERS_MAX - 1, &v) || *s != ',') return 0;
    row->layer = (int32_t)v;
    int64_t emax = r->E ? r->E - 1 : MP_EXPERTS_MAX - 1, mx = r->max_id;
    for (int k = 0; k < r->K; k++) {
        s++;
        if (!fast_uint(&s, emax, &v) || (*s != ',' && *s != '\0')) return 0;
        row->ids[k] = (mp_expert_id)v;
        if (v > mx) mx = v;
    }
    for (int k = 0; r->has_w && k < r->K; k++) {
        if (*s != ',') return 0;
        char *end;
        float f = strtof(++s, &end);
        if (end == s || !weight_ok(f) || (*end != ',' && *end != '\0')) return 0;
        row->w[k] = f;
        s = end;
    }
    row->rank = 0;
    if (r->has_rank) {
        if (*s++ != ',' || !fast_uint(&s, INT32_MAX, &v)) return 0;
        row->rank = (int32_t)v;
    }
    if (*s != '\0') return 0;
    r->max_id = mx;
    return 1;
}

/* Reads and checks the next data row; returns 1, 0 at the end, or an error. */
static int read_row(csv_reader *r, csv_row *row, mp_err *err)
{
    int rc;
    do {
        if ((rc = read_line(r, err)) <= 0) return rc;
    } while (trim(r->line)[0] == '\0');
    if (fast_row(r, row)) return 1;
    int n = split(r, r->ncols);
    if (n != r->ncols)
        return mp_err_set(err, MP_ESHAPE, "%s: line %lld: %s%d columns, the header has %d", r->path, (long long)r->lineno,
                          n > r->ncols ? "more than " : "", n > r->ncols ? r->ncols : n, r->ncols);
    int64_t v;
    if ((rc = field_int(r, 0, 0, INT64_MAX / 2, &row->step, err)) || (rc = field_int(r, 1, 0, INT64_MAX / 2, &row->token, err)) ||
        (rc = field_int(r, 2, 0, r->L ? r->L - 1 : MP_LAYERS_MAX - 1, &v, err)))
        return rc;
    row->layer = (int32_t)v;
    int64_t emax = r->E ? r->E - 1 : MP_EXPERTS_MAX - 1;
    for (int k = 0; k < r->K; k++) {
        if ((rc = field_int(r, 3 + k, 0, emax, &v, err))) return rc;
        row->ids[k] = (mp_expert_id)v;
        if (v > r->max_id) r->max_id = v;
    }
    if (r->has_w)
        for (int k = 0; k < r->K; k++) {
            int c = 3 + r->K + k;
            char *s = trim(r->fields[c]), *end;
            float f = strtof(s, &end);
            if (*s == '\0' || *end != '\0' || !weight_ok(f))
                return mp_err_set(err, MP_ERANGE, "%s: line %lld, column %d (w%d): '%.40s' is not a finite non-negative weight",
                                  r->path, (long long)r->lineno, c + 1, k, s);
            row->w[k] = f;
        }
    row->rank = 0;
    if (r->has_rank) {
        if ((rc = field_int(r, r->ncols - 1, 0, INT32_MAX, &v, err))) return rc;
        row->rank = (int32_t)v;
    }
    return 1;
}

static void csv_close(void *state)
{
    csv_reader *r = state;
    if (!r) return;
    if (r->fp) fclose(r->fp);
    free(r->buf);
    free(r->provenance);
    free(r->path);
    free(r);
}

static int csv_open(void **state, const char *path, const mp_read_opts *opts, mp_model *model, mp_trace_info *info,
                    mp_err *err)
{
    *state = NULL;
    csv_reader *r = calloc(1, sizeof *r);
    if (!r || !(r->path = strdup(path)) || !(r->buf = malloc(CSV_BUF + 1))) {
        if (r) free(r->path);
        free(r);
        return mp_err_set(err, MP_ENOMEM, "%s: out of memory", path);
    }
    *state = r;
    if (!(r->fp = fopen(path, "rb"))) return mp_err_set(err, MP_EIO, "%s: cannot open", path);
    int rc, have_model = 0;
    mp_model m = mp_model_default();
    for (;;) {
        if ((rc = read_line(r, err)) < 0) return rc;
        if (rc == 0) return mp_err_set(err, MP_EFORMAT, "%s: line %lld: no header line step,token,layer,e0,...", path, (long long)r->lineno + 1);
        if (r->lineno == 1 && strncmp(r->line, "\xEF\xBB\xBF", 3) == 0) /* UTF-8 byte-order mark */
            r->line += 3;
        if (strncmp(r->line, CSV_MAGIC, sizeof CSV_MAGIC - 1) == 0 && r->lineno == 1) {
            char *s = r->line + sizeof CSV_MAGIC - 1, *end;
            long ver = strtol(s, &end, 10);
            if (end == s || *end != ' ')
                return mp_err_set(err, MP_EFORMAT, "%s: line 1: bad moeplace-csv line (want '# moeplace-csv 1 {model}')", path);
            if (ver != 1)
                return mp_err_set(err, MP_EVERSION, "%s: line 1: moeplace-csv version %ld is not supported (know 1)", path, ver);
            char what[600];
            snprintf(what, sizeof what, "%s: line 1", path);
            if ((rc = mp_model_from_json(&m, end + 1, strlen(end + 1), what, err))) return rc;
            have_model = 1;
            continue;
        }
        if (strncmp(r->line, CSV_PROV, sizeof CSV_PROV - 1) == 0 && !r->provenance) {
            cJSON *pv = cJSON_Parse(r->line + sizeof CSV_PROV - 1);
            if (!cJSON_IsObject(pv)) {
                cJSON_Delete(pv);
                return mp_err_set(err, MP_EFORMAT, "%s: line %lld: provenance is not a JSON object", path, (long long)r->lineno);
            }
            r->provenance = cJSON_PrintUnformatted(pv);
            cJSON_Delete(pv);
            if (!r->provenance) return mp_err_set(err, MP_ENOMEM, "%s: out of memory", path);
            info->provenance = r->provenance;
            continue;
        }
        if (r->line[0] == '#') continue;
        break;
    }
    if ((rc = parse_header(r, err))) return rc;
    if (have_model && m.top_k != r->K)
        return mp_err_set(err, MP_ESHAPE, "%s: line %lld: %d expert columns, the model line says top_k %d", path,
                          (long long)r->lineno, r->K, m.top_k);
    r->data_off = r->buf_pos + (int64_t)r->beg;
    r->data_line = r->lineno;
    info->has_weights = r->has_w;
    info->has_src_rank = r->has_rank;
    info->file_bytes = mp_file_size(r->fp);
    if (have_model) {
        r->L = m.layers;
        r->E = m.experts;
    } else {
        /* first pass: L, the largest id, counts; every row checked */
        csv_row row;
        r->max_id = -1;
        while ((rc = read_row(r, &row, err)) == 1)
            if ((rc = sequence(r, &row, err))) return rc;
        if (rc < 0 || (rc = sequence_end(r, err))) return rc;
        if (!r->have_prev) return mp_err_set(err, MP_EFORMAT, "%s: line %lld: no data rows", path, (long long)r->lineno);
        m.layers = r->L;
        m.top_k = r->K;
        m.experts = (int32_t)(r->max_id + 1 > r->K ? r->max_id + 1 : r->K);
        info->steps = r->steps;
        info->tokens = r->tokens;
        info->assignments = r->tokens * r->L * r->K;
        info->raw_bytes = info->assignments * (r->has_w ? 6 : 2) + (r->has_rank ? 4 * r->tokens : 0);
        if ((rc = seek_to(r, r->data_off, r->data_line, err))) return rc;
        r->have_prev = 0;
        r->steps = r->tokens = 0;
    }
    /* a configuration's model stands in for a missing header line */
    const mp_model *hint = opts->model ? opts->model : !have_model ? opts->config : NULL;
    if ((rc = mp__model_apply_hint(&m, hint, path, err))) return rc;
    if (!have_model && hint && hint->experts > 0 && r->max_id >= hint->experts)
        return mp_err_set(err, MP_ERANGE, "%s: expert id %lld >= experts %d", path, (long long)r->max_id, hint->experts);
    r->E = m.experts;
    *model = m;
    return 0;
}

static int csv_next(void *state, mp_step *piece, mp_trace_info *info, mp_err *err)
{
    csv_reader *r = state;
    int rc;
    if (!r->have_pending) {
        if (r->eof) return 0;
        rc = read_row(r, &r->pending, err);
        if (rc == 1) rc = sequence(r, &r->pending, err);
        else if (rc == 0) {
            r->eof = 1;
            if ((rc = sequence_end(r, err)) == 0) {
                info->steps = r->steps;
                info->tokens = r->tokens;
                info->assignments = r->tokens * r->L * r->K;
                info->raw_bytes = info->assignments * (r->has_w ? 6 : 2) + (r->has_rank ? 4 * r->tokens : 0);
            }
            return rc;
        }
        if (rc < 0) return rc;
        r->have_pending = 1;
    }
    int64_t cap = mp__piece_tokens(r->L, r->K);
    if ((rc = mp_step_reserve(piece, cap, r->L, r->K, r->has_w, r->has_rank, err))) return rc;
    piece->step = r->pending.step;
    piece->first_token = r->pending.token;
    piece->end_of_step = 0;
    int64_t n = 0;
    for (;;) {
        if (!r->have_pending) {
            rc = read_row(r, &r->pending, err);
            if (rc == 1 && (rc = sequence(r, &r->pending, err)) == 0) rc = 1;
            if (rc < 0) return rc;
            if (rc == 0) {
                if ((rc = sequence_end(r, err))) return rc;
                r->eof = 1;
                info->steps = r->steps;
                info->tokens = r->tokens;
                info->assignments = r->tokens * r->L * r->K;
                info->raw_bytes = info->assignments * (r->has_w ? 6 : 2) + (r->has_rank ? 4 * r->tokens : 0);
                piece->end_of_step = 1;
                break;
            }
            r->have_pending = 1;
        }
        const csv_row *c = &r->pending;
        if (c->step != piece->step) {
            piece->end_of_step = 1;
            break;
        }
        if (c->layer == 0) {
            if (n == cap) break;
            n++;
        }
        int64_t at = ((n - 1) * r->L + c->layer) * r->K;
        memcpy(piece->ids + at, c->ids, (size_t)r->K * sizeof *c->ids);
        if (r->has_w) memcpy(piece->weights + at, c->w, (size_t)r->K * sizeof *c->w);
        if (r->has_rank) piece->src_rank[n - 1] = c->rank;
        r->have_pending = 0;
    }
    piece->tokens = n;
    return 1;
}

/* ---------------------------------------------------------------- writer */

typedef struct csv_writer {
    mp_ofile *of;
    int with_w, with_rank;
} csv_writer;

static int csvw_open(void **state, const char *path, const mp_model *m, const mp_write_opts *opts, mp_err *err)
{
    *state = NULL;
    csv_writer *w = calloc(1, sizeof *w);
    if (!w) return mp_err_set(err, MP_ENOMEM, "%s: out of memory", path);
    w->with_w = opts->with_weights;
    w->with_rank = opts->with_src_rank;
    int rc = mp_ofile_open(&w->of, path, err);
    if (rc) {
        free(w);
        return rc;
    }
    char *js = mp_model_to_json(m);
    FILE *fp = mp_ofile_stream(w->of);
    int bad = !js || fprintf(fp, CSV_MAGIC "1 %s\n", js) < 0;
    free(js);
    if (!bad && opts->provenance && strcmp(opts->provenance, "{}") != 0) {
        if (strchr(opts->provenance, '\n')) {
            mp_ofile_abort(w->of);
            free(w);
            return mp_err_set(err, MP_EINVAL, "%s: provenance must be one line of JSON", path);
        }
        bad = fprintf(fp, CSV_PROV "%s\n", opts->provenance) < 0;
    }
    if (!bad) bad = fputs("step,token,layer", fp) < 0;
    for (int k = 0; !bad && k < m->top_k; k++) bad = fprintf(fp, ",e%d", k) < 0;
    for (int k = 0; !bad && w->with_w && k < m->top_k; k++) bad = fprintf(fp, ",w%d", k) < 0;
    if (!bad && w->with_rank) bad = fputs(",rank", fp) < 0;
    if (!bad) bad = fputc('\n', fp) < 0;
    if (bad) {
        int e = errno;
        int rc = mp_err_set(err, MP_EIO, "%s: write error: %s", mp_ofile_path(w->of), strerror(e));
        mp_ofile_abort(w->of);
        free(w);
        return rc;
    }
    *state = w;
    return 0;
}

/* Appends the decimal form of v to *p. */
static inline void put_u64(char **p, uint64_t v)
{
    char tmp[24];
    int n = 0;
    do tmp[n++] = (char)('0' + v % 10), v /= 10;
    while (v);
    while (n) *(*p)++ = tmp[--n];
}

static int csvw_put(void *state, const mp_step *p, mp_err *err)
{
    csv_writer *w = state;
    FILE *fp = mp_ofile_stream(w->of);
    if ((w->with_w && !p->weights) || (w->with_rank && !p->src_rank))
        return mp_err_set(err, MP_EINVAL, "%s: step %lld lacks the weights or ranks the header promised",
                          mp_ofile_path(w->of), (long long)p->step);
    char line[64 + 40 * MP_TOPK_MAX];
    int32_t L = p->layers, K = p->top_k;
    for (int64_t t = 0; t < p->tokens; t++)
        for (int32_t l = 0; l < L; l++) {
            char *q = line;
            put_u64(&q, (uint64_t)p->step);
            *q++ = ',';
            put_u64(&q, (uint64_t)(p->first_token + t));
            *q++ = ',';
            put_u64(&q, (uint64_t)l);
            const mp_expert_id *ids = p->ids + (t * L + l) * K;
            for (int32_t k = 0; k < K; k++) {
                *q++ = ',';
                put_u64(&q, ids[k]);
            }
            if (w->with_w) {
                const float *wt = p->weights + (t * L + l) * K;
                for (int32_t k = 0; k < K; k++) q += snprintf(q, 40, ",%.9g", (double)wt[k]);
            }
            if (w->with_rank) {
                int32_t rk = p->src_rank[t];
                *q++ = ',';
                if (rk < 0) *q++ = '-';
                put_u64(&q, rk < 0 ? (uint64_t)(-(int64_t)rk) : (uint64_t)rk);
            }
            *q++ = '\n';
            if (fwrite(line, 1, (size_t)(q - line), fp) != (size_t)(q - line))
                return mp_err_set(err, MP_EIO, "%s: write error: %s", mp_ofile_path(w->of), strerror(errno));
        }
    return 0;
}

static int csvw_commit(void *state, mp_err *err)
{
    csv_writer *w = state;
    int rc = mp_ofile_commit(w->of, err);
    free(w);
    return rc;
}

static void csvw_abort(void *state)
{
    csv_writer *w = state;
    if (!w) return;
    mp_ofile_abort(w->of);
    free(w);
}

static const mp__reader_ops csv_reader_ops = {csv_open, csv_next, csv_close};
static const mp__writer_ops csv_writer_ops = {csvw_open, csvw_put, csvw_commit, csvw_abort};

const mp__format mp__format_csv = {MP_FMT_CSV, "csv", ".csv", &csv_reader_ops, &csv_writer_ops, csv_sniff, NULL, NULL};
