/* escape.c - one escaping helper per destination (see escape.h). */
#include "cli/escape.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "traces/mp_text.h"

typedef enum dest { D_GNUPLOT, D_GPDATA, D_MD, D_HTML, D_TERM, D_CSV, D_FILE } dest;

#define REPLACEMENT "\xEF\xBF\xBD" /* U+FFFD in UTF-8 */

static int is_ascii_punct(uint32_t c)
{
    return (c >= 0x21 && c <= 0x2F) || (c >= 0x3A && c <= 0x40) || (c >= 0x5B && c <= 0x60) ||
           (c >= 0x7B && c <= 0x7E);
}

/* What the character (s, len) = cp becomes in d; first/last: it opens/closes the text.  At most 6 bytes. */
static size_t unit(dest d, const char *s, size_t len, uint32_t cp, int first, int last, char *out)
{
    int bad = (cp == MP_TEXT_REPLACEMENT && len == 1 && (unsigned char)s[0] >= 0x80) || mp_text_is_control(cp);
    if (d == D_FILE) {
        int ok = (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') || (cp >= '0' && cp <= '9') || cp == '-' ||
                 cp == '_' || (cp == '.' && !first);
        out[0] = ok ? (char)cp : '_';
        return 1;
    }
    if (bad) {
        memcpy(out, REPLACEMENT, 3);
        return 3;
    }
    const char *rep = NULL;
    switch (d) {
    case D_GNUPLOT: /* inside '...' only '' means something: a quote (no backslash, backquote or @ expansion) */
        if (cp == '\'') rep = "''";
        break;
    case D_GPDATA: /* a data file's "..." field has no escape: a " would end it */
        if (cp == '"') rep = "'";
        break;
    case D_MD:
        if (cp == ' ' && (first || last)) rep = "&#32;"; /* kept, not trimmed away */
        else if (is_ascii_punct(cp)) {
            out[0] = '\\';
            out[1] = (char)cp;
            return 2;
        }
        break;
    case D_HTML:
        rep = cp == '&' ? "&amp;" : cp == '<' ? "&lt;" : cp == '>' ? "&gt;" : cp == '"' ? "&quot;" : cp == '\'' ? "&#39;" : NULL;
        break;
    case D_CSV:
        if (cp == '"') rep = "\"\"";
        break;
    default: break;
    }
    if (rep) {
        size_t k = strlen(rep);
        memcpy(out, rep, k);
        return k;
    }
    memcpy(out, s, len);
    return len;
}

static int csv_needs_quotes(const char *s, size_t n)
{
    if (n == 0) return 0;
    if (s[0] == ' ' || s[n - 1] == ' ' || s[0] == '#') return 1; /* kept spaces; not a "# table" line */
    for (size_t i = 0; i < n; i++) /* CR and LF need quotes too, but never remain: they become U+FFFD */
        if (s[i] == ',' || s[i] == '"') return 1;
    return 0;
}

static size_t run(dest d, char *dst, size_t cap, const char *s, size_t n)
{
    if (!dst || cap == 0) return 0;
    dst[0] = 0;
    const char *quote = d == D_GNUPLOT ? "'" : d == D_GPDATA ? "\"" : d == D_CSV && csv_needs_quotes(s, n) ? "\"" : "";
    const char *more = d == D_FILE ? "" : "...";
    size_t pq = strlen(quote), pm = strlen(more);
    if (cap < 2 * pq + pm + 2) return 0;
    char u[8];
    uint32_t cp;
    size_t total = 2 * pq;
    for (size_t i = 0; i < n && total < cap;) {
        size_t len = mp_utf8_decode(s + i, n - i, &cp);
        total += unit(d, s + i, len, cp, i == 0, i + len == n, u);
        i += len;
    }
    int cut = total + 1 > cap;
    size_t limit = cap - 1 - pq - (cut ? pm : 0); /* where the text must stop */
    size_t k = pq;
    memcpy(dst, quote, pq);
    for (size_t i = 0; i < n;) {
        size_t len = mp_utf8_decode(s + i, n - i, &cp);
        size_t ul = unit(d, s + i, len, cp, i == 0, i + len == n, u);
        if (k + ul > limit) break;
        memcpy(dst + k, u, ul);
        k += ul;
        i += len;
    }
    if (d == D_FILE && k == 0) dst[k++] = '_';
    if (cut) {
        memcpy(dst + k, more, pm);
        k += pm;
    }
    memcpy(dst + k, quote, pq);
    k += pq;
    dst[k] = 0;
    return k;
}

size_t cli_esc_gnuplot(char *dst, size_t cap, const char *s, size_t n) { return run(D_GNUPLOT, dst, cap, s, n); }
size_t cli_esc_gpdata(char *dst, size_t cap, const char *s, size_t n) { return run(D_GPDATA, dst, cap, s, n); }
size_t cli_esc_md(char *dst, size_t cap, const char *s, size_t n) { return run(D_MD, dst, cap, s, n); }
size_t cli_esc_html(char *dst, size_t cap, const char *s, size_t n) { return run(D_HTML, dst, cap, s, n); }
size_t cli_esc_term(char *dst, size_t cap, const char *s, size_t n) { return run(D_TERM, dst, cap, s, n); }
size_t cli_esc_csv(char *dst, size_t cap, const char *s, size_t n) { return run(D_CSV, dst, cap, s, n); }
size_t cli_esc_filename(char *dst, size_t cap, const char *s, size_t n) { return run(D_FILE, dst, cap, s, n); }

char *cli_esc_dup(cli_esc_fn fn, const char *s)
{
    size_t n = strlen(s);
    if (n > (SIZE_MAX - 16) / 6) return NULL;
    size_t cap = 6 * n + 16; /* no character grows past 6 bytes per input byte, quotes aside */
    char *out = malloc(cap);
    if (out) fn(out, cap, s, n);
    return out;
}
