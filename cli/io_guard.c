/* io_guard.c - outputs that are inputs, or each other, are refused. */
#define _XOPEN_SOURCE 700 /* realpath */
#include "cli/io_guard.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "traces/mp_file.h"

enum { ROLE_IN, ROLE_OUT, ROLE_INOUT, ROLE_DIR };

static char model_file[4096]; /* the one --model file of this process, "" when none */

void cli_io_guard_model_file(const char *path)
{
    if (!path || strlen(path) >= sizeof model_file) model_file[0] = 0;
    else memcpy(model_file, path, strlen(path) + 1);
}

static void add(cli_io_guard *g, const char *path, int role);

void cli_io_guard_init(cli_io_guard *g, const char *cmd)
{
    memset(g, 0, sizeof *g);
    g->cmd = cmd;
    if (model_file[0]) add(g, model_file, ROLE_IN);
}

static void add(cli_io_guard *g, const char *path, int role)
{
    if (!path || g->n >= CLI_IO_MAX) return;
    g->path[g->n] = path;
    g->role[g->n] = role;
    g->n++;
}

void cli_io_guard_add_input(cli_io_guard *g, const char *path) { add(g, path, ROLE_IN); }
void cli_io_guard_add_output(cli_io_guard *g, const char *path) { add(g, path, ROLE_OUT); }
void cli_io_guard_add_inout(cli_io_guard *g, const char *path) { add(g, path, ROLE_INOUT); }
void cli_io_guard_add_dir(cli_io_guard *g, const char *path) { add(g, path, ROLE_DIR); }

/* what one entry is, for the comparisons */
typedef struct ident {
    int in_ok;                  /* an existing input: dev/ino valid */
    unsigned long long idev, iino;
    int out;                    /* 0: not an output or exempt; 1: inode; 2: new file (canon);
                                   3: an open descriptor that is a regular file */
    unsigned long long odev, oino;
    char canon[MP_PATH_MAX];    /* new file, or a folder: folder realpath + name */
} ident;

/* realpath of the folder part of p plus its last name (p need not exist) */
static void canon_new(const char *p, char *out, size_t cap)
{
    char dir[MP_PATH_MAX], real[PATH_MAX > MP_PATH_MAX ? PATH_MAX : MP_PATH_MAX];
    const char *s = strrchr(p, '/');
    const char *base = s ? s + 1 : p;
    if (!s) snprintf(dir, sizeof dir, ".");
    else if (s == p) snprintf(dir, sizeof dir, "/");
    else snprintf(dir, sizeof dir, "%.*s", (int)(s - p), p);
    int n = -1;
    if (realpath(dir, real)) n = snprintf(out, cap, "%s/%s", strcmp(real, "/") ? real : "", base);
    if (n < 0 || (size_t)n >= cap) snprintf(out, cap, "%s", p);
}

/* the names come from the command line: text only (cli_message) */
static int fail(const cli_io_guard *g, const char *msg, const char *a, const char *b)
{
    char line[2 * MP_PATH_MAX + 256];
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
#endif
    snprintf(line, sizeof line, msg, a, b);
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif
    cli_message("moeplace %s: %s", g->cmd, line);
    return CLI_EUSAGE;
}

int cli_io_guard_check(const cli_io_guard *g)
{
    ident *id = calloc((size_t)(g->n ? g->n : 1), sizeof *id);
    if (!id) {
        fprintf(stderr, "moeplace: out of memory\n");
        return CLI_EDATA;
    }
    int rc = CLI_OK;
    for (int i = 0; i < g->n && !rc; i++) {
        const char *p = g->path[i];
        ident *d = &id[i];
        int role = g->role[i];
        struct stat st;
        if ((role == ROLE_IN || role == ROLE_INOUT) && strcmp(p, "-") != 0 && stat(p, &st) == 0 && S_ISREG(st.st_mode)) {
            d->in_ok = 1;
            d->idev = (unsigned long long)st.st_dev;
            d->iino = (unsigned long long)st.st_ino;
        }
        if (role == ROLE_OUT || role == ROLE_INOUT) {
            mp_otarget t;
            mp_err err = {0};
            if (mp_otarget_resolve(&t, p, &err)) {
                rc = fail(g, "%s%s", err.msg, "");
                break;
            }
            if (t.kind == MP_OT_REPLACE) {
                d->out = 1;
                d->odev = t.dev;
                d->oino = t.ino;
            } else if (t.kind == MP_OT_STDOUT && fstat(t.fd, &st) == 0 && S_ISREG(st.st_mode)) {
                /* -o - or /dev/fd/N open on a file (`>> in.csv`) */
                d->out = 3;
                d->odev = (unsigned long long)st.st_dev;
                d->oino = (unsigned long long)st.st_ino;
            } else if (t.kind == MP_OT_CREATE) {
                d->out = 2;
                canon_new(t.path, d->canon, sizeof d->canon);
            }
        } else if (role == ROLE_DIR) {
            char q[MP_PATH_MAX];
            snprintf(q, sizeof q, "%s", p);
            size_t n = strlen(q);
            while (n > 1 && q[n - 1] == '/') q[--n] = '\0';
            if (stat(q, &st) == 0) {
                if (!S_ISDIR(st.st_mode)) {
                    rc = fail(g, "'%s' exists and is not a folder%s", p, "");
                    break;
                }
                char real[PATH_MAX > MP_PATH_MAX ? PATH_MAX : MP_PATH_MAX];
                if (realpath(q, real)) snprintf(d->canon, sizeof d->canon, "%s", real);
            } else if (errno == ENOENT && n && q[n - 1] != '/') {
                canon_new(q, d->canon, sizeof d->canon);
            }
        }
    }
    /* standard output, where every command writes its table or summary: a
     * shell redirection may have opened it on an input (`>> in.csv`) or on a
     * file an output replaces (`--write-cost c.json > c.json`) */
    struct stat so;
    if (!rc && fstat(1, &so) == 0 && S_ISREG(so.st_mode)) {
        for (int j = 0; j < g->n && !rc; j++) {
            if (id[j].in_ok && id[j].idev == (unsigned long long)so.st_dev && id[j].iino == (unsigned long long)so.st_ino)
                rc = fail(g, "standard output is input '%s'; refusing to overwrite it%s", g->path[j], "");
            else if (id[j].out == 1 && id[j].odev == (unsigned long long)so.st_dev &&
                     id[j].oino == (unsigned long long)so.st_ino)
                rc = fail(g, "standard output and output '%s' name the same file%s", g->path[j], "");
        }
    }
    for (int i = 0; i < g->n && !rc; i++) {
        if (!id[i].out && g->role[i] != ROLE_DIR) continue;
        for (int j = 0; j < g->n && !rc; j++) {
            if (i == j) continue;
            if (g->role[i] == ROLE_DIR) {
                /* an input inside the folder that is replaced */
                char real[PATH_MAX > MP_PATH_MAX ? PATH_MAX : MP_PATH_MAX];
                size_t cl = strlen(id[i].canon);
                if (cl && id[j].in_ok && realpath(g->path[j], real) && strncmp(real, id[i].canon, cl) == 0 &&
                    (real[cl] == '/' || id[i].canon[cl - 1] == '/'))
                    rc = fail(g, "input '%s' lies inside the report folder '%s'", g->path[j], g->path[i]);
                continue;
            }
            if (id[j].in_ok && (g->role[j] != ROLE_INOUT || id[i].out == 3) && (id[i].out == 1 || id[i].out == 3) &&
                id[i].odev == id[j].idev && id[i].oino == id[j].iino)
                rc = fail(g, "output '%s' is also input '%s'; refusing to overwrite it", g->path[i], g->path[j]);
            else if (j > i && id[j].out && id[i].out && (id[i].out == 2) == (id[j].out == 2) &&
                     !(id[i].out == 3 && id[j].out == 3) &&
                     (id[i].out != 2 ? id[i].odev == id[j].odev && id[i].oino == id[j].oino
                                     : strcmp(id[i].canon, id[j].canon) == 0))
                rc = fail(g, "outputs '%s' and '%s' name the same file", g->path[i], g->path[j]);
        }
    }
    free(id);
    return rc;
}
