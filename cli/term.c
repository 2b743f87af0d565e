/* term.c - text that fits a terminal (term.h). */
#define _POSIX_C_SOURCE 200809L
#include "cli/term.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "traces/mp_vocab.h"

/* a width from the environment: a whole number in [CLI_TERM_MIN_COLUMNS, 100000], else 0 */
static int env_columns(const char *name)
{
    const char *s = getenv(name);
    if (!s || !*s) return 0;
    char *end;
    long v = strtol(s, &end, 10);
    if (*end || v < 1 || v > 100000) return 0;
    return v < CLI_TERM_MIN_COLUMNS ? CLI_TERM_MIN_COLUMNS : (int)v;
}

static int window_columns(int fd)
{
#ifdef TIOCGWINSZ
    struct winsize ws;
    if (ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
        return ws.ws_col < CLI_TERM_MIN_COLUMNS ? CLI_TERM_MIN_COLUMNS : ws.ws_col;
#else
    (void)fd;
#endif
    return 0;
}

int cli_term_columns(int wide)
{
    if (wide) return 0;
    int forced = env_columns("MOEPLACE_TTY_COLUMNS");
    if (forced) return forced;
    if (!isatty(STDOUT_FILENO)) return 0;
    int w = window_columns(STDOUT_FILENO);
    if (w) return w;
    w = env_columns("COLUMNS");
    return w ? w : CLI_TERM_DEFAULT_COLUMNS;
}

int cli_term_stderr_columns(void)
{
    if (!isatty(STDERR_FILENO)) return 0;
    int w = window_columns(STDERR_FILENO);
    if (w) return w;
    w = env_columns("COLUMNS");
    return w ? w : CLI_TERM_DEFAULT_COLUMNS;
}

/* ---- text ---- */

static int cont(unsigned char ch) { return (ch & 0xC0) == 0x80; }

int cli_text_width(const char *s)
{
    int w = 0;
    for (; *s; s++) w += !cont((unsigned char)*s);
    return w;
}

/* bytes of s that make its first `width` columns */
static size_t bytes_for(const char *s, int width)
{
    size_t i = 0;
    int w = 0;
    while (s[i]) {
        if (!cont((unsigned char)s[i])) {
            if (w == width) break;
            w++;
        }
        i++;
    }
    return i;
}

int cli_text_cut(char *buf, size_t n, const char *s, int width)
{
    if (n == 0) return 0;
    if (width < 0) width = 0;
    int w = cli_text_width(s);
    size_t k;
    const char *tail = "";
    if (w <= width) {
        k = strlen(s);
    } else if (width <= 3) {
        k = bytes_for(s, width);
        w = width;
    } else {
        k = bytes_for(s, width - 3);
        tail = "...";
        w = width;
    }
    if (k + strlen(tail) + 1 > n) { /* buffer too small: whole code points only */
        k = n - 1 > strlen(tail) ? n - 1 - strlen(tail) : 0;
        while (k > 0 && cont((unsigned char)s[k])) k--;
        w = -1;
    }
    memcpy(buf, s, k);
    strcpy(buf + k, tail);
    return w < 0 ? cli_text_width(buf) : w;
}

size_t cli_wrap_next(const char *s, int width)
{
    if (width < 1) width = 1;
    size_t all = bytes_for(s, width);
    if (!s[all] || s[all] == ' ') return all; /* the rest fits, or it ends at a space */
    size_t sp = all;
    while (sp > 0 && s[sp - 1] != ' ') sp--;
    if (sp == 0) return all ? all : strlen(s); /* one long word: cut hard */
    while (sp > 0 && s[sp - 1] == ' ') sp--;    /* the line ends before its spaces */
    return sp ? sp : all;
}

void cli_print_wrapped(FILE *fp, const char *first, const char *s, int cols)
{
    int indent = cli_text_width(first);
    fputs(first, fp);
    int width = cols > indent + 20 ? cols - indent : 1 << 20;
    for (int line = 0; *s; line++) {
        size_t n = cli_wrap_next(s, width);
        if (line) fprintf(fp, "%*s", indent, "");
        fwrite(s, 1, n, fp);
        fputc('\n', fp);
        s += n;
        while (*s == ' ') s++;
    }
}

/* ---- fitting a table ---- */

static int line_width(const cli_fit_col *c, int n)
{
    int w = 0, k = 0;
    for (int i = 0; i < n; i++)
        if (c[i].shown) w += c[i].width + (k++ ? 2 : 0);
    return w;
}

static int max2(int a, int b) { return a > b ? a : b; }

/* labels and cuts for the columns shown; returns the line width */
static int fit_shown(cli_fit_col *c, int n, int cols)
{
    for (int i = 0; i < n; i++) {
        c[i].abbrev = 0;
        c[i].width = max2(c[i].head, c[i].data);
    }
    int tot = line_width(c, n);
    while (tot > cols) { /* the short label that saves most */
        int best = -1, gain = 0;
        for (int i = 0; i < n; i++) {
            if (!c[i].shown || c[i].abbrev) continue;
            int g = c[i].width - max2(c[i].shorter, c[i].data);
            if (g > gain) gain = g, best = i;
        }
        if (best < 0) break;
        c[best].abbrev = 1;
        c[best].width -= gain;
        tot -= gain;
    }
    if (tot > cols) { /* the last text column cut */
        int flex = -1;
        for (int i = 0; i < n; i++)
            if (c[i].shown && c[i].text) flex = i;
        if (flex >= 0) {
            int head = c[flex].abbrev ? c[flex].shorter : c[flex].head;
            int floor = max2(CLI_FIT_FLEX_MIN, head);
            int w = max2(floor, c[flex].width - (tot - cols));
            if (w < c[flex].width) {
                tot -= c[flex].width - w;
                c[flex].width = w;
            }
        }
    }
    return tot;
}

/* columns of text cut away over the columns shown */
static int cut_total(const cli_fit_col *c, int n)
{
    int cut = 0;
    for (int i = 0; i < n; i++)
        if (c[i].shown && c[i].width < c[i].data) cut += c[i].data - c[i].width;
    return cut;
}

int cli_fit(cli_fit_col *c, int n, int cols)
{
    for (int i = 0; i < n; i++) c[i].shown = 1;
    int tot = fit_shown(c, n, cols);
    if (tot <= cols || n == 0) return tot;
    /* drop order: highest priority number first, rightmost first among equals */
    int *order = malloc((size_t)n * sizeof *order), nd = 0;
    if (!order) return tot;
    for (int p = MP_PRIO_DETAIL; p > MP_PRIO_KEY; p--)
        for (int i = n - 1; i > 0; i--) /* the first column says which row it is: never dropped */
            if (c[i].prio == p || (p == MP_PRIO_DETAIL && c[i].prio > p)) order[nd++] = i;
    int k = 0;
    while (k < nd && tot > cols) {
        c[order[k++]].shown = 0;
        tot = fit_shown(c, n, cols);
    }
    /* bring back what fits again, most important first, unless it cuts text more */
    for (int j = k - 2; j >= 0 && tot <= cols; j--) {
        int cut = cut_total(c, n);
        c[order[j]].shown = 1;
        if ((tot = fit_shown(c, n, cols)) > cols || cut_total(c, n) > cut) {
            c[order[j]].shown = 0;
            tot = fit_shown(c, n, cols);
        }
    }
    free(order);
    while (tot > cols) { /* only keys left: cut the widest text column */
        int best = -1;
        for (int i = 0; i < n; i++)
            if (c[i].shown && c[i].text && c[i].width > CLI_FIT_CUT_MIN && (best < 0 || c[i].width > c[best].width))
                best = i;
        if (best < 0) break;
        int w = max2(CLI_FIT_CUT_MIN, c[best].width - (tot - cols));
        tot -= c[best].width - w;
        c[best].width = w;
        if (c[best].shorter < c[best].head) c[best].abbrev = 1;
    }
    return tot;
}

/* ---- progress line ---- */

void cli_si(char *buf, size_t n, double v)
{
    static const char pre[] = " kMGTPE";
    int p = 0;
    if (!(v >= 0) || !isfinite(v)) v = 0;
    if (v < 999.5) { /* a whole count as it is; a rate below 100 with one decimal */
        snprintf(buf, n, v == floor(v) || v >= 99.95 ? "%.0f" : "%.1f", v);
        return;
    }
    while (v >= 999.5 && p < 6) v /= 1000, p++;
    snprintf(buf, n, v < 9.995 ? "%.2f%c" : v < 99.95 ? "%.1f%c" : "%.0f%c", v, pre[p]);
}

static void clock_text(char *buf, size_t n, double s)
{
    if (!(s >= 0) || s > 359999) s = 359999;
    long t = (long)(s + 0.5);
    if (t >= 3600) snprintf(buf, n, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else snprintf(buf, n, "%ld:%02ld", t / 60, t % 60);
}

size_t cli_progress_format(char *buf, size_t n, const char *label, const char *unit, double done, double total,
                           double elapsed, int cols)
{
    if (n == 0) return 0;
    if (cols <= 0) cols = 80;
    if (!unit) unit = "items";
    char cnt[16], rate[64], tail[160], t[32];
    int timed = elapsed > 0 && done > 0;
    if (timed) {
        cli_si(cnt, sizeof cnt, done / elapsed);
        snprintf(rate, sizeof rate, "%s %s/s", cnt, unit);
    } else {
        snprintf(rate, sizeof rate, "- %s/s", unit);
    }
    int barw = 0;
    double f = 0;
    if (total > 0) {
        f = done / total;
        if (!(f >= 0)) f = 0;
        if (f > 1) f = 1;
        if (timed && f < 1) clock_text(t, sizeof t, elapsed * (1 - f) / f);
        else if (f >= 1) clock_text(t, sizeof t, 0);
        else snprintf(t, sizeof t, "-:--");
        snprintf(tail, sizeof tail, "%5.1f%%  %s  ETA %s", 100 * f, rate, t);
        /* "LABEL [bar] tail" */
        int room = cols - 1 - cli_text_width(label) - 4 - cli_text_width(tail);
        barw = room > 30 ? 30 : room;
        if (barw < 10) barw = 0;
    } else {
        cli_si(cnt, sizeof cnt, done);
        clock_text(t, sizeof t, elapsed);
        snprintf(tail, sizeof tail, "%s %s  %s  %s", cnt, unit, rate, t);
    }
    char line[512];
    size_t at = 0;
    at += (size_t)snprintf(line + at, sizeof line - at, "%s ", label);
    if (barw > 0 && at + (size_t)barw + 4 < sizeof line) {
        int full = (int)(f * barw);
        line[at++] = '[';
        for (int i = 0; i < barw; i++) line[at++] = i < full ? '#' : '.';
        line[at++] = ']';
        line[at++] = ' ';
        line[at] = '\0';
    } else if (at < sizeof line - 1) {
        line[at++] = ' ';
        line[at] = '\0';
    }
    if (at < sizeof line) snprintf(line + at, sizeof line - at, "%s", tail);
    cli_text_cut(buf, n, line, cols - 1);
    return strlen(buf);
}
