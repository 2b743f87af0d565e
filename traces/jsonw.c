/* jsonw.c - the one JSON writer (mp_jsonw.h). */
#include "traces/mp_jsonw.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "traces/mp_text.h"

void mp_jw_file(mp_jw *w, FILE *fp)
{
    memset(w, 0, sizeof *w);
    w->fp = fp;
}

void mp_jw_string(mp_jw *w) { memset(w, 0, sizeof *w); }

/* appends n bytes to the string sink */
static void append(mp_jw *w, const char *s, size_t n)
{
    if (w->failed) return;
    if (w->fp) {
        if (fwrite(s, 1, n, w->fp) != n) w->failed = 1;
        return;
    }
    if (w->n + n + 1 > w->cap) {
        size_t cap = w->cap ? w->cap : 256;
        while (cap < w->n + n + 1) cap *= 2;
        char *p = realloc(w->s, cap);
        if (!p) {
            w->failed = 1;
            return;
        }
        w->s = p;
        w->cap = cap;
    }
    memcpy(w->s + w->n, s, n);
    w->n += n;
    w->s[w->n] = '\0';
}

static void vput(mp_jw *w, const char *fmt, va_list ap)
{
    char buf[256];
    va_list aq;
    va_copy(aq, ap);
    int k = vsnprintf(buf, sizeof buf, fmt, aq);
    va_end(aq);
    if (k < 0) {
        w->failed = 1;
        return;
    }
    if ((size_t)k < sizeof buf) {
        append(w, buf, (size_t)k);
        return;
    }
    char *big = malloc((size_t)k + 1);
    if (!big) {
        w->failed = 1;
        return;
    }
    vsnprintf(big, (size_t)k + 1, fmt, ap);
    append(w, big, (size_t)k);
    free(big);
}

void mp_jw_raw(mp_jw *w, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vput(w, fmt, ap);
    va_end(ap);
}

void mp_jw_str(mp_jw *w, const char *s)
{
    size_t n;
    char *q = mp_json_quote(s, strlen(s), &n);
    if (!q) {
        w->failed = 1;
        return;
    }
    append(w, q, n);
    free(q);
}

void mp_jw_key(mp_jw *w, const char *key)
{
    mp_jw_str(w, key);
    append(w, ": ", 2);
}

void mp_jw_int(mp_jw *w, int64_t v) { mp_jw_raw(w, "%lld", (long long)v); }

void mp_jw_num(mp_jw *w, double v)
{
    if (!isfinite(v)) append(w, "null", 4);
    else mp_jw_raw(w, "%.17g", v);
}

void mp_jw_fixed(mp_jw *w, double v, int decimals)
{
    if (!isfinite(v)) append(w, "null", 4);
    else mp_jw_raw(w, "%.*f", decimals < 0 ? 0 : decimals, v);
}

int mp_jw_status(const mp_jw *w) { return w->failed || (w->fp && ferror(w->fp)) ? -1 : 0; }

char *mp_jw_take(mp_jw *w)
{
    if (w->fp) return NULL;
    if (w->failed) {
        mp_jw_free(w);
        return NULL;
    }
    if (!w->s) append(w, "", 0);
    char *s = w->s;
    w->s = NULL;
    w->n = w->cap = 0;
    return s;
}

void mp_jw_free(mp_jw *w)
{
    if (w->fp) return;
    free(w->s);
    w->s = NULL;
    w->n = w->cap = 0;
}
