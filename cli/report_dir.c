/* report_dir.c - the report folder: built beside its target under a
 * temporary name, marked as moeplace's, swapped into place, and the old one
 * removed file by file (only what moeplace writes). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* syscall(SYS_renameat2) */
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/report.h"
#include "traces/mp_file.h"

#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif

/* ---- removing ---- */

/* removes files and folders below `dir` (two levels are all a report has; a
 * deeper tree is left alone), then dir itself; symlinks are removed, never
 * followed.  For a folder this process built. */
static void remove_tree(const char *dir, int depth)
{
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *de;
        while ((de = readdir(d))) {
            if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) continue;
            char p[MP_PATH_MAX];
            if (snprintf(p, sizeof p, "%s/%s", dir, de->d_name) >= (int)sizeof p) continue;
            struct stat sb;
            if (lstat(p, &sb) != 0) continue;
            if (S_ISDIR(sb.st_mode)) {
                if (depth < 2) remove_tree(p, depth + 1);
            } else {
                unlink(p);
            }
        }
        closedir(d);
    }
    rmdir(dir);
}

void report_dir_remove(const char *dir) { remove_tree(dir, 0); }

static int ends_with(const char *s, const char *suf)
{
    size_t n = strlen(s), k = strlen(suf);
    return n > k && strcmp(s + n - k, suf) == 0;
}

/* is `name` in folder `sub` ("" = the top) a file moeplace writes there? */
static int ours(const char *sub, const char *name)
{
    if (mp_tmp_match(name, NULL)) return 1;
    if (!sub[0])
        return !strcmp(name, REPORT_MARKER) || !strcmp(name, "report.md") || !strcmp(name, "report.html") ||
               !strcmp(name, "plots.gp") || !strcmp(name, "plots.log") || !strcmp(name, "summary.json");
    if (!strcmp(sub, "plans")) return ends_with(name, ".json");
    if (!strcmp(sub, "data")) return ends_with(name, ".dat");
    if (!strcmp(sub, "plots")) return ends_with(name, ".png") || ends_with(name, ".svg");
    return 0;
}

/* removes from an old report folder the regular files moeplace writes and
 * the folders that become empty; returns 0 when `dir` itself is gone */
static int remove_ours(const char *dir, const char *sub)
{
    char here[MP_PATH_MAX];
    if (snprintf(here, sizeof here, "%s%s%s", dir, sub[0] ? "/" : "", sub) >= (int)sizeof here) return -1;
    DIR *d = opendir(here);
    if (!d) return -1;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) continue;
        char p[MP_PATH_MAX];
        if (snprintf(p, sizeof p, "%s/%s", here, de->d_name) >= (int)sizeof p) continue;
        struct stat sb;
        if (lstat(p, &sb) != 0) continue;
        if (S_ISREG(sb.st_mode) && ours(sub, de->d_name))
            unlink(p);
        else if (S_ISDIR(sb.st_mode) && !sub[0] &&
                 (!strcmp(de->d_name, "plans") || !strcmp(de->d_name, "data") || !strcmp(de->d_name, "plots")))
            remove_ours(dir, de->d_name);
    }
    closedir(d);
    return rmdir(here);
}

/* ---- checking ---- */

/* "X", "X/" and "X//" are one folder; "/" stays "/" */
static int normalise(const char *dir, char *out, size_t cap, mp_err *err)
{
    size_t n = strlen(dir);
    if (n == 0) return mp_err_set(err, MP_EINVAL, "an empty report folder name");
    if (n >= cap) return mp_err_set(err, MP_EINVAL, "%.200s...: name too long", dir);
    memcpy(out, dir, n + 1);
    while (n > 1 && out[n - 1] == '/') out[--n] = '\0';
    if (!strcmp(out, "/") || !strcmp(out, ".") || !strcmp(out, "..") || ends_with(out, "/.") || ends_with(out, "/.."))
        return mp_err_set(err, MP_EINVAL, "%s: not a folder moeplace can replace", dir);
    return 0;
}

/* the folder a report goes to: `dir` normalised and, when it is a symlink
 * to a folder, that folder (the link stays a link) */
static int target_of(const char *dir, char *out, size_t cap, mp_err *err)
{
    int rc = normalise(dir, out, cap, err);
    if (rc) return rc;
    struct stat st;
    if (lstat(out, &st) == 0 && S_ISLNK(st.st_mode)) {
        char real[PATH_MAX > MP_PATH_MAX ? PATH_MAX : MP_PATH_MAX];
        if (!realpath(out, real)) return mp_err_set(err, MP_EINVAL, "%s: a symlink to nothing usable: %s", dir, strerror(errno));
        if (strlen(real) >= cap) return mp_err_set(err, MP_EINVAL, "%s: name too long", dir);
        snprintf(out, cap, "%s", real);
    }
    return 0;
}

static int is_empty_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return 0;
    struct dirent *de;
    int empty = 1;
    while (empty && (de = readdir(d)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) empty = 0;
    closedir(d);
    return empty;
}

/* 0 when `real` (a normalised target) may become the report folder */
static int check_target(const char *shown, const char *real, mp_err *err)
{
    struct stat st;
    if (lstat(real, &st) != 0) {
        if (errno == ENOENT) return 0;
        return mp_err_set(err, MP_EIO, "%s: %s", shown, strerror(errno));
    }
    if (!S_ISDIR(st.st_mode)) return mp_err_set(err, MP_EINVAL, "%s: exists and is not a folder; not replacing it", shown);
    char mark[MP_PATH_MAX];
    if (snprintf(mark, sizeof mark, "%s/%s", real, REPORT_MARKER) >= (int)sizeof mark)
        return mp_err_set(err, MP_EINVAL, "%s: name too long", shown);
    if (lstat(mark, &st) == 0 && S_ISREG(st.st_mode)) return 0;
    if (is_empty_dir(real)) return 0;
    return mp_err_set(err, MP_EINVAL,
                      "%s: exists and is not a report folder made by moeplace (no %s in it); not replacing it", shown,
                      REPORT_MARKER);
}

int report_dir_check(const char *dir, mp_err *err)
{
    char real[MP_PATH_MAX];
    int rc = target_of(dir, real, sizeof real, err);
    return rc ? rc : check_target(dir, real, err);
}

/* ---- building ---- */

/* removes report folders that killed runs left in the folder of `target` */
static void sweep(const char *target)
{
    char parent[MP_PATH_MAX];
    const char *s = strrchr(target, '/');
    if (!s) snprintf(parent, sizeof parent, ".");
    else if (s == target) snprintf(parent, sizeof parent, "/");
    else snprintf(parent, sizeof parent, "%.*s", (int)(s - target), target);
    DIR *d = opendir(parent);
    if (!d) return;
    struct dirent *de;
    uid_t me = geteuid();
    while ((de = readdir(d))) {
        if (!mp_tmp_stale(de->d_name)) continue;
        char p[MP_PATH_MAX];
        struct stat st;
        if (snprintf(p, sizeof p, "%s/%s", parent, de->d_name) >= (int)sizeof p) continue;
        if (lstat(p, &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != me) continue;
        remove_ours(p, ""); /* only what moeplace writes: it may be an old report swapped out */
    }
    closedir(d);
}

int report_dir_begin(report_dir *rd, const char *dir, mp_err *err)
{
    memset(rd, 0, sizeof *rd);
    rd->slot = -1;
    rd->shown = dir;
    int rc = target_of(dir, rd->dir, sizeof rd->dir, err);
    if (rc || (rc = check_target(dir, rd->dir, err))) return rc;
    sweep(rd->dir);
    if (mp_tmp_name(rd->tmp, sizeof rd->tmp, rd->dir) != 0) return mp_err_set(err, MP_EINVAL, "%s: name too long", dir);
    /* listed before it exists, so a signal in between cannot leave it */
    rd->slot = mp_tmp_track(rd->tmp, 1);
    if (mkdir(rd->tmp, 0777) != 0) {
        int e = errno;
        mp_tmp_untrack(rd->slot);
        rd->slot = -1;
        return mp_err_set(err, MP_EIO, "%s: cannot create the report folder beside it: %s", dir, strerror(e));
    }
    char mark[MP_PATH_MAX + sizeof REPORT_MARKER + 1];
    snprintf(mark, sizeof mark, "%s/%s", rd->tmp, REPORT_MARKER);
    FILE *fp = fopen(mark, "wb");
    int bad = !fp;
    if (fp) {
        fprintf(fp, "moeplace %s report folder\n"
                    "moeplace report -o replaces this folder only while this file is in it.\n",
                MOEPLACE_VERSION);
        if (ferror(fp)) bad = 1;
        if (fclose(fp) != 0) bad = 1;
    }
    if (bad) {
        int e = errno;
        report_dir_abort(rd);
        return mp_err_set(err, MP_EIO, "%s: cannot write: %s", mark, strerror(e));
    }
    return 0;
}

void report_dir_abort(report_dir *rd)
{
    if (!rd->tmp[0]) return;
    mp_tmp_untrack(rd->slot);
    rd->slot = -1;
    remove_tree(rd->tmp, 0);
    rd->tmp[0] = '\0';
}

/* moves a folder that still holds files moeplace did not write out of the
 * temporary name, to DIR.old (or DIR.old.N), and says so */
static void keep_leftover(const report_dir *rd, const char *old)
{
    char to[MP_PATH_MAX];
    struct stat st;
    for (int i = 0; i < 1000; i++) {
        int n = i ? snprintf(to, sizeof to, "%s.old.%d", rd->dir, i) : snprintf(to, sizeof to, "%s.old", rd->dir);
        if (n < 0 || n >= (int)sizeof to) break;
        if (lstat(to, &st) == 0 || errno != ENOENT) continue;
        if (rename(old, to) == 0) {
            cli_message("moeplace report: warning: the old report folder held files moeplace did not write: "
                        "moved them to '%s'", to);
            return;
        }
        break;
    }
    cli_message("moeplace report: warning: the old report folder held files moeplace did not write: they are "
                "in '%s'", old);
}

int report_dir_commit(report_dir *rd, mp_err *err)
{
    int rc = check_target(rd->shown, rd->dir, err);
    if (rc) {
        report_dir_abort(rd);
        return rc;
    }
    struct stat st;
    /* from here a signal leaves the new folder under its temporary name (the
     * next run's sweep removes it), never half of a swap undone */
    mp_tmp_untrack(rd->slot);
    rd->slot = -1;
    if (lstat(rd->dir, &st) != 0) {
        if (rename(rd->tmp, rd->dir) != 0) {
            int e = errno;
            report_dir_abort(rd);
            return mp_err_set(err, MP_EIO, "%s: cannot move the new report into place: %s", rd->shown, strerror(e));
        }
        rd->tmp[0] = '\0';
        return 0;
    }
    char old[MP_PATH_MAX];
    int swapped = 0;
#ifdef SYS_renameat2
    /* one step: DIR is never missing */
    if (syscall(SYS_renameat2, AT_FDCWD, rd->tmp, AT_FDCWD, rd->dir, RENAME_EXCHANGE) == 0) {
        swapped = 1;
        snprintf(old, sizeof old, "%s", rd->tmp);
    } else if (errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP) {
        int e = errno;
        report_dir_abort(rd);
        return mp_err_set(err, MP_EIO, "%s: cannot swap the new report into place: %s", rd->shown, strerror(e));
    }
#endif
    if (!swapped) {
        /* no exchange here: the old folder goes aside, then the new one in (a
         * moment without DIR) */
        if (mp_tmp_name(old, sizeof old, rd->dir) != 0 || rename(rd->dir, old) != 0) {
            int e = errno;
            report_dir_abort(rd);
            return mp_err_set(err, MP_EIO, "%s: cannot move the old report aside: %s", rd->shown, strerror(e));
        }
        if (rename(rd->tmp, rd->dir) != 0) {
            int e = errno;
            rename(old, rd->dir);
            report_dir_abort(rd);
            return mp_err_set(err, MP_EIO, "%s: cannot move the new report into place: %s", rd->shown, strerror(e));
        }
    }
    rd->tmp[0] = '\0';
    if (remove_ours(old, "") != 0) keep_leftover(rd, old);
    return 0;
}
