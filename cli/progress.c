/* progress.c - a progress bar on stderr when it is a terminal (never in a
 * pipe, never with --quiet).  The line itself is cli_progress_format
 * (cli/term.c), a pure function the unit tests check. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/term.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

void cli_progress_init(cli_progress *p, const cli_common *c, const char *label)
{
    memset(p, 0, sizeof *p);
    p->cols = c->quiet ? 0 : cli_term_stderr_columns();
    p->on = p->cols > 0;
    p->label = label;
    p->unit = "items";
    p->per = 1;
    p->total = -1;
    p->start = p->last = now();
}

static void draw(cli_progress *p, int64_t done, int64_t total)
{
    char line[512];
    double per = p->per > 0 ? p->per : 1;
    cli_progress_format(line, sizeof line, p->label, p->unit, (double)done / per,
                        total > 0 ? (double)total / per : -1, now() - p->start, p->cols);
    fprintf(stderr, "\r%s\033[K", line);
    fflush(stderr);
    p->drawn = 1;
}

void cli_progress_start(cli_progress *p, const char *label, const char *unit, double per, int64_t total)
{
    if (label) p->label = label;
    p->unit = unit ? unit : "items";
    p->per = per > 0 ? per : 1;
    p->total = total > 0 ? total : -1;
    p->start = p->last = now();
    if (p->on) draw(p, 0, p->total);
}

void cli_progress_trace(cli_progress *p, const char *label, const mp_trace *t)
{
    const mp_model *m = mp_trace_model(t);
    mp_trace_info in = mp_trace_get_info(t);
    cli_progress_start(p, label, "tokens", (double)m->layers * (m->top_k > 0 ? m->top_k : 1), in.assignments);
}

void cli_progress_update(void *ctx, int64_t done, int64_t total)
{
    cli_progress *p = ctx;
    if (!p->on) return;
    if (total <= 0) total = p->total;
    double t = now();
    /* redraw at most 10 times a second, and at the end */
    if (p->drawn && t - p->last < 0.1 && !(total > 0 && done >= total)) return;
    p->last = t;
    draw(p, done, total);
}

void cli_progress_done(cli_progress *p)
{
    if (p->on && p->drawn) {
        fprintf(stderr, "\r\033[K");
        fflush(stderr);
    }
    p->drawn = 0;
}

void cli_eval_progress_init(cli_eval_progress *p, const cli_common *c, const char *label, int64_t steps)
{
    cli_progress_init(&p->bar, c, label);
    p->label = label;
    p->steps = steps > 0 ? steps : -1;
    p->phase = 1;
    snprintf(p->text, sizeof p->text, "%s: reading", label);
    cli_progress_start(&p->bar, p->text, "steps", 1, p->steps);
}

void cli_eval_progress_update(void *ctx, int64_t done, int64_t total)
{
    cli_eval_progress *p = ctx;
    if (total > 0 && p->phase < 2) { /* the replay: steps known now */
        p->phase = 2;
        p->steps = total / 2;
        snprintf(p->text, sizeof p->text, "%s: replaying", p->label);
        cli_progress_start(&p->bar, p->text, "steps", 1, p->steps);
    }
    if (p->phase == 2) cli_progress_update(&p->bar, done - p->steps, p->steps);
    else cli_progress_update(&p->bar, done, p->steps);
}
