/* lines.c - capped line reading for the JSON-lines formats (mp__lines.h). */
#include "traces/formats/mp__lines.h"

#include <stdlib.h>
#include <string.h>

int mp__lines_open(mp__lines *r, const char *path, size_t max, mp_err *err)
{
    memset(r, 0, sizeof *r);
    r->path = path;
    r->max = max;
    if (!(r->fp = fopen(path, "rb"))) return mp_err_set(err, MP_EIO, "%s: cannot open", path);
    return 0;
}

void mp__lines_close(mp__lines *r)
{
    if (r->fp) fclose(r->fp);
    free(r->buf);
    memset(r, 0, sizeof *r);
}

int mp__lines_next(mp__lines *r, char **line, size_t *n, mp_err *err)
{
    size_t scanned = 0; /* bytes after start already known to hold no '\n' */
    for (;;) {
        char *nl = r->len > r->start + scanned ? memchr(r->buf + r->start + scanned, '\n', r->len - r->start - scanned)
                                               : NULL;
        size_t have = r->len - r->start;
        if (nl || (feof(r->fp) && have > 0)) {
            size_t ln = nl ? (size_t)(nl - (r->buf + r->start)) : have;
            if (ln > r->max) break;
            r->line++;
            *line = r->buf + r->start;
            (*line)[ln] = 0; /* overwrites the '\n', or the spare byte at len */
            *n = ln;
            r->start += nl ? ln + 1 : ln;
            return 1;
        }
        if (feof(r->fp)) return 0;
        scanned = have;
        if (have > r->max) break;
        if (r->start > 0) { /* keep the unread tail at the front */
            memmove(r->buf, r->buf + r->start, have);
            r->len = have;
            r->start = 0;
        }
        if (r->len + 1 >= r->cap) {
            size_t ncap = r->cap ? r->cap * 2 : 1 << 16;
            if (ncap > r->max + 2 + (1 << 16)) ncap = r->max + 2 + (1 << 16);
            if (ncap <= r->len + 1) break;
            char *nb = realloc(r->buf, ncap);
            if (!nb) return mp_err_set(err, MP_ENOMEM, "%s: line %lld: out of memory", r->path, (long long)r->line + 1);
            r->buf = nb;
            r->cap = ncap;
        }
        size_t got = fread(r->buf + r->len, 1, r->cap - 1 - r->len, r->fp);
        if (got == 0 && ferror(r->fp))
            return mp_err_set(err, MP_EIO, "%s: line %lld: read failed", r->path, (long long)r->line + 1);
        r->len += got;
    }
    return mp_err_set(err, MP_ELIMIT, "%s: line %lld: longer than %zu bytes", r->path, (long long)r->line + 1, r->max);
}

int mp__first_line_has(const unsigned char *head, size_t n, const char *needle)
{
    const unsigned char *nl = memchr(head, '\n', n);
    size_t end = nl ? (size_t)(nl - head) : n, k = strlen(needle);
    for (size_t i = 0; i + k <= end; i++)
        if (head[i] == (unsigned char)needle[0] && memcmp(head + i, needle, k) == 0) return 1;
    return 0;
}

int mp__blank(const char *line, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (line[i] != ' ' && line[i] != '\t' && line[i] != '\r') return 0;
    return 1;
}
