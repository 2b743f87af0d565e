/* report_dir.c - moving a report folder built beside its target into place,
 * and removing one. */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/report.h"

/* removes files and folders below `dir` (two levels are all a report has; a
 * deeper tree is left alone), then dir itself */
static void remove_tree(const char *dir, int depth)
{
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *de;
        while ((de = readdir(d))) {
            if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) continue;
            char p[4096];
            snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
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

int report_dir_commit(const char *tmp, const char *dir, mp_err *err)
{
    struct stat sb;
    if (lstat(dir, &sb) == 0) {
        char mark[4096];
        snprintf(mark, sizeof mark, "%s/report.md", dir);
        if (!S_ISDIR(sb.st_mode) || access(mark, F_OK) != 0)
            return mp_err_set(err, MP_EIO, "%s: exists and is not a moeplace report; not replacing it", dir);
        char old[4096];
        snprintf(old, sizeof old, "%s.old.%ld", dir, (long)getpid());
        if (rename(dir, old) != 0) return mp_err_set(err, MP_EIO, "%s: cannot move the old report aside", dir);
        if (rename(tmp, dir) != 0) {
            rename(old, dir);
            return mp_err_set(err, MP_EIO, "%s: cannot move the new report into place", dir);
        }
        remove_tree(old, 0);
        return 0;
    }
    if (rename(tmp, dir) != 0) return mp_err_set(err, MP_EIO, "%s: cannot move the new report into place", dir);
    return 0;
}
