/* progress.c - a progress bar on stderr when it is a terminal. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

void cli_progress_init(cli_progress *p, const cli_common *c, const char *label)
{
    p->on = !c->quiet && isatty(STDERR_FILENO);
    p->label = label;
    p->start = p->last = now();
    p->drawn = 0;
}

void cli_progress_update(void *ctx, int64_t done, int64_t total)
{
    cli_progress *p = ctx;
    if (!p->on) return;
    double t = now();
    /* stay silent for short jobs and redraw at most 10 times a second */
    if (t - p->start < 0.5 || t - p->last < 0.1) return;
    p->last = t;
    p->drawn = 1;
    if (total > 0) {
        double f = (double)done / (double)total;
        if (f > 1) f = 1;
        int w = 30, n = (int)(f * w);
        double eta = f > 0 ? (t - p->start) * (1 - f) / f : 0;
        fprintf(stderr, "\r%s [", p->label);
        for (int i = 0; i < w; i++) fputc(i < n ? '#' : '.', stderr);
        fprintf(stderr, "] %5.1f%%  %.0fs left ", 100 * f, eta);
    } else {
        fprintf(stderr, "\r%s %lld done, %.0fs ", p->label, (long long)done, t - p->start);
    }
    fflush(stderr);
}

void cli_progress_done(cli_progress *p)
{
    if (p->on && p->drawn) {
        fprintf(stderr, "\r\033[K");
        fflush(stderr);
    }
}
