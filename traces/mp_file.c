#define _POSIX_C_SOURCE 200809L
#include "traces/mp_file.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct mp_ofile {
    FILE *fp;
    char *path;
    char *tmp; /* NULL when writing to stdout */
};

static unsigned long tmp_counter;

int mp_ofile_open(mp_ofile **out, const char *path, mp_err *err)
{
    *out = NULL;
    mp_ofile *f = calloc(1, sizeof *f);
    if (!f) return mp_err_set(err, MP_ENOMEM, "%s: out of memory", path);
    f->path = strdup(path);
    if (!f->path) {
        free(f);
        return mp_err_set(err, MP_ENOMEM, "%s: out of memory", path);
    }
    if (strcmp(path, "-") == 0) {
        f->fp = stdout;
        *out = f;
        return 0;
    }
    size_t n = strlen(path) + 64;
    f->tmp = malloc(n);
    if (!f->tmp) {
        free(f->path);
        free(f);
        return mp_err_set(err, MP_ENOMEM, "%s: out of memory", path);
    }
    snprintf(f->tmp, n, "%s.tmp.%ld.%lu", path, (long)getpid(), tmp_counter++);
    f->fp = fopen(f->tmp, "wb");
    if (!f->fp) {
        int e = errno;
        free(f->tmp);
        free(f->path);
        free(f);
        return mp_err_set(err, MP_EIO, "%s: cannot create: %s", path, strerror(e));
    }
    *out = f;
    return 0;
}

FILE *mp_ofile_stream(mp_ofile *f) { return f->fp; }

const char *mp_ofile_path(const mp_ofile *f) { return f->path; }

static void ofile_free(mp_ofile *f)
{
    free(f->tmp);
    free(f->path);
    free(f);
}

int mp_ofile_commit(mp_ofile *f, mp_err *err)
{
    int rc = 0;
    if (!f->tmp) {
        if (fflush(f->fp) != 0 || ferror(f->fp)) rc = mp_err_set(err, MP_EIO, "<stdout>: write error: %s", strerror(errno));
        ofile_free(f);
        return rc;
    }
    int bad = ferror(f->fp);
    if (fclose(f->fp) != 0) bad = 1;
    if (bad) {
        int e = errno;
        remove(f->tmp);
        rc = mp_err_set(err, MP_EIO, "%s: write error: %s", f->path, strerror(e));
    } else if (rename(f->tmp, f->path) != 0) {
        int e = errno;
        remove(f->tmp);
        rc = mp_err_set(err, MP_EIO, "%s: cannot rename temporary into place: %s", f->path, strerror(e));
    }
    ofile_free(f);
    return rc;
}

void mp_ofile_abort(mp_ofile *f)
{
    if (!f) return;
    if (f->tmp) {
        fclose(f->fp);
        remove(f->tmp);
    } else {
        fflush(f->fp);
    }
    ofile_free(f);
}

long long mp_file_size(FILE *fp)
{
    struct stat st;
    if (fstat(fileno(fp), &st) != 0 || !S_ISREG(st.st_mode)) return -1;
    return (long long)st.st_size;
}
