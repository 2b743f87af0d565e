/* doc.c - one record, three renderings (table, JSON, CSV), so they never disagree. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/escape.h"
#include "cli/term.h"
#include "traces/mp_file.h"
#include "traces/mp_jsonw.h"
#include "traces/mp_vocab.h"

typedef enum { CELL_STR, CELL_INT, CELL_NUM } cell_kind;

typedef struct cell {
    cell_kind kind;
    int decimals;
    char *s;
    int64_t i;
    double d;
} cell;

typedef struct col {
    char *name;
    int decimals;
    int prio; /* MP_PRIO_*: which columns a narrow terminal keeps */
} col;

struct cli_tab {
    char *name, *title;
    col *cols;
    int ncols;
    cell *cells;
    size_t ncells, cap;
};

typedef struct scalar {
    char *key;
    cell v;
} scalar;

struct cli_doc {
    char *schema;
    scalar *sc;
    int nsc;
    cli_tab **tabs;
    int ntabs;
};

static void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n);
    if (!q) {
        fprintf(stderr, "moeplace: out of memory\n");
        exit(CLI_EDATA);
    }
    return q;
}

static char *xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    return memcpy(xrealloc(NULL, n), s, n);
}

/* Every name a document carries is a word of the vocabulary (traces/mp_vocab.h):
 * a figure cannot be printed under a name the table does not hold.  A miss is
 * a bug in moeplace: debug builds abort, release builds say so on stderr. */
static const char *word(const char *name)
{
    if (mp_vocab_find(name)) return name;
    fprintf(stderr, "moeplace: internal error: output name '%s' is not in the vocabulary\n", name);
#ifndef NDEBUG
    abort();
#endif
    return name;
}

cli_doc *cli_doc_create(const char *schema)
{
    cli_doc *d = xrealloc(NULL, sizeof *d);
    memset(d, 0, sizeof *d);
    d->schema = xstrdup(schema);
    return d;
}

void cli_doc_destroy(cli_doc *d)
{
    if (!d) return;
    for (int i = 0; i < d->nsc; i++) {
        free(d->sc[i].key);
        free(d->sc[i].v.s);
    }
    free(d->sc);
    for (int t = 0; t < d->ntabs; t++) {
        cli_tab *tb = d->tabs[t];
        for (int c = 0; c < tb->ncols; c++) free(tb->cols[c].name);
        for (size_t i = 0; i < tb->ncells; i++) free(tb->cells[i].s);
        free(tb->cols);
        free(tb->cells);
        free(tb->name);
        free(tb->title);
        free(tb);
    }
    free(d->tabs);
    free(d->schema);
    free(d);
}

static scalar *add_scalar(cli_doc *d, const char *key)
{
    d->sc = xrealloc(d->sc, (size_t)(d->nsc + 1) * sizeof *d->sc);
    scalar *s = &d->sc[d->nsc++];
    memset(s, 0, sizeof *s);
    s->key = xstrdup(word(key));
    return s;
}

void cli_doc_str(cli_doc *d, const char *key, const char *val)
{
    scalar *s = add_scalar(d, key);
    s->v.kind = CELL_STR;
    s->v.s = xstrdup(val);
}

void cli_doc_int(cli_doc *d, const char *key, int64_t val)
{
    scalar *s = add_scalar(d, key);
    s->v.kind = CELL_INT;
    s->v.i = val;
}

void cli_doc_num(cli_doc *d, const char *key, double val, int decimals)
{
    scalar *s = add_scalar(d, key);
    s->v.kind = CELL_NUM;
    s->v.d = val;
    s->v.decimals = decimals;
}

cli_tab *cli_doc_table(cli_doc *d, const char *name, const char *title)
{
    cli_tab *t = xrealloc(NULL, sizeof *t);
    memset(t, 0, sizeof *t);
    t->name = xstrdup(word(name));
    t->title = xstrdup(title ? title : name);
    d->tabs = xrealloc(d->tabs, (size_t)(d->ntabs + 1) * sizeof *d->tabs);
    d->tabs[d->ntabs++] = t;
    return t;
}

void cli_tab_col(cli_tab *t, const char *name, int decimals)
{
    t->cols = xrealloc(t->cols, (size_t)(t->ncols + 1) * sizeof *t->cols);
    t->cols[t->ncols].name = xstrdup(word(name));
    t->cols[t->ncols].decimals = decimals;
    t->cols[t->ncols].prio = t->ncols == 0 ? MP_PRIO_KEY : mp_vocab_priority(name);
    t->ncols++;
}

void cli_tab_prio(cli_tab *t, int prio)
{
    if (t->ncols > 0) t->cols[t->ncols - 1].prio = prio;
}

static cell *add_cell(cli_tab *t)
{
    if (t->ncells == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 64;
        t->cells = xrealloc(t->cells, t->cap * sizeof *t->cells);
    }
    cell *c = &t->cells[t->ncells];
    memset(c, 0, sizeof *c);
    c->decimals = t->ncols ? t->cols[t->ncells % (size_t)t->ncols].decimals : 0;
    t->ncells++;
    return c;
}

void cli_tab_str(cli_tab *t, const char *val)
{
    cell *c = add_cell(t);
    c->kind = CELL_STR;
    c->s = xstrdup(val);
}

void cli_tab_int(cli_tab *t, int64_t val)
{
    cell *c = add_cell(t);
    c->kind = CELL_INT;
    c->i = val;
}

void cli_tab_num(cli_tab *t, double val)
{
    cell *c = add_cell(t);
    c->kind = CELL_NUM;
    c->d = val;
}

/* The one place a value becomes text; JSON differs only in quoting strings and null for non-finite,
 * CSV in taking strings whole.  Strings come from input: no control character reaches the terminal. */
static void cell_text(const cell *c, char *buf, size_t n)
{
    switch (c->kind) {
    case CELL_STR: cli_esc_term(buf, n, c->s, strlen(c->s)); break;
    case CELL_INT: snprintf(buf, n, "%lld", (long long)c->i); break;
    case CELL_NUM:
        if (!isfinite(c->d)) snprintf(buf, n, "%s", isnan(c->d) ? "nan" : (c->d > 0 ? "inf" : "-inf"));
        else snprintf(buf, n, "%.*f", c->decimals < 0 ? 0 : c->decimals, c->d);
        break;
    }
}

/* a cell as a JSON value: strings escaped, numbers as the text shows them, null for non-finite */
static void json_cell(mp_jw *w, const cell *c)
{
    if (c->kind == CELL_STR) mp_jw_str(w, c->s);
    else if (c->kind == CELL_INT) mp_jw_int(w, c->i);
    else mp_jw_fixed(w, c->d, c->decimals);
}

static void csv_field(FILE *fp, const char *s)
{
    char *e = cli_esc_dup(cli_esc_csv, s);
    if (!e) {
        fprintf(stderr, "moeplace: out of memory\n");
        exit(CLI_EDATA);
    }
    fputs(e, fp);
    free(e);
}

/* a cell as a CSV field: strings whole, the rest as cell_text writes them */
static void csv_cell(FILE *fp, const cell *c)
{
    char buf[128];
    if (c->kind == CELL_STR) {
        csv_field(fp, c->s);
        return;
    }
    cell_text(c, buf, sizeof buf);
    csv_field(fp, buf);
}

/* s padded to w columns (left: text after, else before); the last column of a line is not padded after */
static void pad(FILE *fp, const char *s, int w, int left, int last)
{
    int n = w - cli_text_width(s);
    if (!left)
        for (int i = 0; i < n; i++) fputc(' ', fp);
    fputs(s, fp);
    if (left && !last)
        for (int i = 0; i < n; i++) fputc(' ', fp);
}

/* text wrapped to cols (0: not wrapped); continuation lines start with `indent` spaces */
static void wrapped(FILE *fp, const char *s, int first, int indent, int cols)
{
    if (cols <= 0 || !*s) {
        fprintf(fp, "%s\n", s);
        return;
    }
    int avail = cols - first;
    for (int line = 0; *s; line++) {
        if (line) {
            for (int i = 0; i < indent; i++) fputc(' ', fp);
            avail = cols - indent;
        }
        size_t k = cli_wrap_next(s, avail < 10 ? 10 : avail);
        fwrite(s, 1, k, fp);
        fputc('\n', fp);
        s += k;
        while (*s == ' ') s++;
    }
}

/* a growing string for the legend */
typedef struct sbuf {
    char *s;
    size_t len, cap;
} sbuf;

static void sb_add(sbuf *b, const char *s)
{
    size_t k = strlen(s);
    if (b->len + k + 1 > b->cap) {
        b->cap = (b->len + k + 1) * 2;
        b->s = xrealloc(b->s, b->cap);
    }
    memcpy(b->s + b->len, s, k + 1);
    b->len += k;
}

#define LABEL_MAX 64

typedef struct legend_ctx {
    sbuf *b;
    int *n;
} legend_ctx;

/* "SHORT = FULL" once in the legend */
static void legend_word(void *ctx, const char *shorter, const char *full)
{
    legend_ctx *l = ctx;
    char item[160];
    snprintf(item, sizeof item, "%s = %s", shorter, full);
    size_t k = strlen(item);
    for (const char *p = l->b->s; p && (p = strstr(p, item)) != NULL; p++)
        if ((p == l->b->s || p[-1] == ' ') && (p[k] == ',' || p[k] == '\0')) return;
    sb_add(l->b, (*l->n)++ ? ", " : "");
    sb_add(l->b, item);
}

/* The table as text: whole when cols is 0, else fitted to cols columns
 * (term.h: cli_fit), with a legend naming short labels and dropped columns. */
static void print_table_text(const cli_tab *t, FILE *fp, int cols)
{
    char buf[128];
    size_t nrows = t->ncols ? t->ncells / (size_t)t->ncols : 0;
    cli_fit_col *fc = calloc((size_t)t->ncols + 1, sizeof *fc);
    char(*label)[LABEL_MAX] = calloc((size_t)t->ncols + 1, LABEL_MAX);
    if (!fc || !label) {
        free(fc);
        free(label);
        return;
    }
    for (int c = 0; c < t->ncols; c++) {
        fc[c].head = cli_text_width(t->cols[c].name);
        fc[c].shorter = mp_vocab_short(t->cols[c].name, label[c], LABEL_MAX) ? cli_text_width(label[c]) : fc[c].head;
        fc[c].prio = t->cols[c].prio;
        fc[c].text = nrows > 0 && t->cells[c].kind == CELL_STR;
        fc[c].shown = 1;
    }
    for (size_t i = 0; i < t->ncells; i++) {
        cell_text(&t->cells[i], buf, sizeof buf);
        int l = cli_text_width(buf), c = (int)(i % (size_t)t->ncols);
        if (l > fc[c].data) fc[c].data = l;
    }
    if (cols > 0) {
        cli_fit(fc, t->ncols, cols);
    } else {
        for (int c = 0; c < t->ncols; c++) fc[c].width = fc[c].head > fc[c].data ? fc[c].head : fc[c].data;
    }
    int lastc = -1;
    for (int c = 0; c < t->ncols; c++)
        if (fc[c].shown) lastc = c;
    wrapped(fp, t->title, 0, 2, cols);
    /* a column's header aligns like its cells: strings left, numbers right */
    int first = 1;
    for (int c = 0; c < t->ncols; c++) {
        if (!fc[c].shown) continue;
        cli_text_cut(buf, sizeof buf, fc[c].abbrev ? label[c] : t->cols[c].name, fc[c].width);
        if (!first) fputs("  ", fp);
        pad(fp, buf, fc[c].width, fc[c].text, c == lastc);
        first = 0;
    }
    fputc('\n', fp);
    int lastx = 0; /* where the last column starts */
    for (int c = 0, k = 0; c < lastc; c++)
        if (fc[c].shown) lastx += fc[c].width + 2, k++;
    for (size_t r = 0; r < nrows; r++) {
        first = 1;
        for (int c = 0; c < t->ncols; c++) {
            if (!fc[c].shown) continue;
            const cell *ce = &t->cells[r * (size_t)t->ncols + (size_t)c];
            char cut[128];
            cell_text(ce, buf, sizeof buf);
            if (!first) fputs("  ", fp);
            first = 0;
            if (c == lastc && ce->kind == CELL_STR && cli_text_width(buf) > fc[c].width) {
                /* the last column's text goes on under itself */
                wrapped(fp, buf, lastx, lastx, lastx + fc[c].width);
                goto next_row;
            }
            cli_text_cut(cut, sizeof cut, buf, fc[c].width);
            pad(fp, cut, fc[c].width, ce->kind == CELL_STR, c == lastc);
        }
        fputc('\n', fp);
    next_row:;
    }
    /* the legend: what a short label stands for, which columns are not shown */
    sbuf lg = {0};
    int nabbrev = 0, ndropped = 0;
    legend_ctx lc = {&lg, &nabbrev};
    for (int c = 0; c < t->ncols; c++) {
        if (fc[c].shown && fc[c].abbrev) mp_vocab_short_words(t->cols[c].name, legend_word, &lc);
        ndropped += !fc[c].shown;
    }
    if (ndropped) {
        snprintf(buf, sizeof buf, "%s%d more column%s (--wide or --format csv): ", nabbrev ? "; " : "", ndropped,
                 ndropped > 1 ? "s" : "");
        sb_add(&lg, buf);
        int k = 0;
        for (int c = 0; c < t->ncols; c++)
            if (!fc[c].shown) {
                sb_add(&lg, k++ ? ", " : "");
                sb_add(&lg, t->cols[c].name);
            }
    }
    if (lg.len) wrapped(fp, lg.s, 0, 2, cols);
    free(lg.s);
    free(label);
    free(fc);
}

int cli_doc_print(const cli_doc *d, FILE *fp, cli_format f) { return cli_doc_print_fit(d, fp, f, 0); }

int cli_doc_print_fit(const cli_doc *d, FILE *fp, cli_format f, int cols)
{
    char buf[128];
    if (f == CLI_FMT_JSON) {
        mp_jw w;
        mp_jw_file(&w, fp);
        mp_jw_raw(&w, "{\n  ");
        mp_jw_key(&w, "schema");
        mp_jw_str(&w, d->schema);
        mp_jw_raw(&w, ",\n  ");
        mp_jw_key(&w, "schema_version");
        mp_jw_int(&w, CLI_SCHEMA_VERSION);
        for (int i = 0; i < d->nsc; i++) {
            mp_jw_raw(&w, ",\n  ");
            mp_jw_key(&w, d->sc[i].key);
            json_cell(&w, &d->sc[i].v);
        }
        for (int t = 0; t < d->ntabs; t++) {
            const cli_tab *tb = d->tabs[t];
            mp_jw_raw(&w, ",\n  ");
            mp_jw_key(&w, tb->name);
            mp_jw_raw(&w, "[");
            size_t nrows = tb->ncols ? tb->ncells / (size_t)tb->ncols : 0;
            for (size_t r = 0; r < nrows; r++) {
                mp_jw_raw(&w, "%s\n    {", r ? "," : "");
                for (int c = 0; c < tb->ncols; c++) {
                    mp_jw_raw(&w, "%s", c ? ", " : "");
                    mp_jw_key(&w, tb->cols[c].name);
                    json_cell(&w, &tb->cells[r * (size_t)tb->ncols + (size_t)c]);
                }
                mp_jw_raw(&w, "}");
            }
            mp_jw_raw(&w, "%s]", nrows ? "\n  " : "");
        }
        mp_jw_raw(&w, "\n}\n");
    } else if (f == CLI_FMT_CSV) {
        /* scalars as a key,value table first; then each table after a "# name" line */
        if (d->nsc) {
            fprintf(fp, "# summary\nkey,value\n");
            for (int i = 0; i < d->nsc; i++) {
                csv_field(fp, d->sc[i].key);
                fputc(',', fp);
                csv_cell(fp, &d->sc[i].v);
                fputc('\n', fp);
            }
        }
        for (int t = 0; t < d->ntabs; t++) {
            const cli_tab *tb = d->tabs[t];
            if (d->nsc || t) fputc('\n', fp);
            fprintf(fp, "# %s\n", tb->name);
            for (int c = 0; c < tb->ncols; c++) {
                if (c) fputc(',', fp);
                csv_field(fp, tb->cols[c].name);
            }
            fputc('\n', fp);
            for (size_t i = 0; i < tb->ncells; i++) {
                csv_cell(fp, &tb->cells[i]);
                fputc((i + 1) % (size_t)tb->ncols ? ',' : '\n', fp);
            }
        }
    } else {
        int kw = 0;
        for (int i = 0; i < d->nsc; i++)
            if ((int)strlen(d->sc[i].key) > kw) kw = (int)strlen(d->sc[i].key);
        for (int i = 0; i < d->nsc; i++) {
            cell_text(&d->sc[i].v, buf, sizeof buf);
            fprintf(fp, "%-*s  ", kw + 1, d->sc[i].key);
            wrapped(fp, buf, kw + 3, kw + 3, cols);
        }
        for (int t = 0; t < d->ntabs; t++) {
            if (d->nsc || t) fputc('\n', fp);
            print_table_text(d->tabs[t], fp, cols);
        }
    }
    return ferror(fp) ? -1 : 0;
}

int cli_doc_stdout(const cli_doc *d, const cli_common *c)
{
    /* a table on a terminal fits it; anything else prints whole */
    int cols = c->format == CLI_FMT_TABLE ? cli_term_columns(c->wide) : 0;
    /* standard output: main reports a write error, once */
    if (cli_doc_print_fit(d, stdout, c->format, cols) != 0 || fflush(stdout) != 0) {
        cli_stdout_error();
        return CLI_EDATA;
    }
    return CLI_OK;
}

int cli_doc_emit(const cli_doc *d, const cli_common *c)
{
    mp_err err = {0};
    if (!c->output || strcmp(c->output, "-") == 0) return cli_doc_stdout(d, c);
    mp_ofile *f;
    if (mp_ofile_open(&f, c->output, &err)) return cli_fail(&err);
    if (cli_doc_print(d, mp_ofile_stream(f), c->format) != 0) {
        int e = errno;
        mp_ofile_abort(f);
        cli_message("moeplace: %s: write error: %s", c->output, strerror(e ? e : EIO));
        return CLI_EDATA;
    }
    if (mp_ofile_commit(f, &err)) return cli_fail(&err);
    return CLI_OK;
}
