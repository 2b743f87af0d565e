/* mp_file.c - safe output files (see mp_file.h for the rules). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* syscall(SYS_getdents64) for the signal-time cleanup */
#endif
#include "traces/mp_file.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

#define NAME_LIMIT 255 /* NAME_MAX of every file system we care about */
#define LINK_HOPS 40

/* ------------------------------------------------------------ temporaries */

#define TRACK_SLOTS 32
enum { SLOT_FREE = 0, SLOT_BUSY, SLOT_FILE, SLOT_DIR };
static char track_path[TRACK_SLOTS][MP_PATH_MAX];
static atomic_int track_state[TRACK_SLOTS];
static atomic_long track_owner; /* the process that made the list */
static atomic_ulong tmp_counter;

int mp_tmp_track(const char *path, int is_dir)
{
    size_t n = strlen(path);
    if (n >= MP_PATH_MAX) return -1;
    for (int i = 0; i < TRACK_SLOTS; i++) {
        int expect = SLOT_FREE;
        if (!atomic_compare_exchange_strong(&track_state[i], &expect, SLOT_BUSY)) continue;
        memcpy(track_path[i], path, n + 1);
        atomic_store(&track_owner, (long)getpid());
        atomic_store(&track_state[i], is_dir ? SLOT_DIR : SLOT_FILE);
        return i;
    }
    return -1;
}

void mp_tmp_untrack(int slot)
{
    if (slot >= 0 && slot < TRACK_SLOTS) atomic_store(&track_state[slot], SLOT_FREE);
}

/* empties the folder open as dfd, `depth` levels below the tracked one;
 * async-signal-safe: raw getdents64, unlinkat, openat */
static void empty_dir_at(int dfd, int depth)
{
#ifdef SYS_getdents64
    struct ent {
        uint64_t ino;
        int64_t off;
        unsigned short reclen;
        unsigned char type;
        char name[];
    };
    _Alignas(8) char buf[2048];
    for (int pass = 0; pass < 4; pass++) {
        int removed = 0;
        if (lseek(dfd, 0, SEEK_SET) != 0) return;
        for (;;) {
            long n = syscall(SYS_getdents64, dfd, buf, sizeof buf);
            if (n <= 0) break;
            for (long off = 0; off < n;) {
                struct ent *e = (struct ent *)(void *)(buf + off);
                off += e->reclen;
                if (e->name[0] == '.' && (!e->name[1] || (e->name[1] == '.' && !e->name[2]))) continue;
                int isdir = e->type == DT_DIR;
                if (e->type == DT_UNKNOWN) {
                    struct stat st;
                    isdir = fstatat(dfd, e->name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
                }
                if (isdir) {
                    if (depth < 2) {
                        int sub = openat(dfd, e->name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        if (sub >= 0) {
                            empty_dir_at(sub, depth + 1);
                            close(sub);
                        }
                    }
                    if (unlinkat(dfd, e->name, AT_REMOVEDIR) == 0) removed = 1;
                } else if (unlinkat(dfd, e->name, 0) == 0) {
                    removed = 1;
                }
            }
        }
        if (!removed) return;
    }
#else
    (void)dfd;
    (void)depth;
#endif
}

void mp_tmp_cleanup(void)
{
    if (atomic_load(&track_owner) != (long)getpid()) return; /* a forked child */
    for (int i = 0; i < TRACK_SLOTS; i++)
        if (atomic_load(&track_state[i]) == SLOT_FILE) unlink(track_path[i]);
    for (int i = 0; i < TRACK_SLOTS; i++) {
        if (atomic_load(&track_state[i]) != SLOT_DIR) continue;
        int dfd = open(track_path[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (dfd >= 0) {
            empty_dir_at(dfd, 0);
            close(dfd);
        }
        rmdir(track_path[i]);
    }
}

static void on_signal(int sig)
{
    int saved = errno;
    mp_tmp_cleanup();
    /* SA_RESETHAND restored the default action; the signal is blocked until
     * this handler returns, and then it ends the process */
    raise(sig);
    errno = saved;
}

void mp_tmp_catch_signals(void)
{
    static atomic_int done;
    if (atomic_exchange(&done, 1)) return;
    static const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGPIPE};
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESETHAND;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) sigaddset(&sa.sa_mask, sigs[i]);
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
        struct sigaction old;
        if (sigaction(sigs[i], NULL, &old) != 0 || old.sa_handler == SIG_IGN) continue; /* nohup, sh's & */
        sigaction(sigs[i], &sa, NULL);
    }
}

static const char TMP_MARK[] = ".mptmp.";

int mp_tmp_name(char *buf, size_t cap, const char *target)
{
    const char *slash = strrchr(target, '/');
    const char *base = slash ? slash + 1 : target;
    size_t dlen = slash ? (size_t)(slash - target) + 1 : 0; /* with the '/' */
    char suffix[64];
    int sl = snprintf(suffix, sizeof suffix, "%s%ld.%lu", TMP_MARK, (long)getpid(), atomic_fetch_add(&tmp_counter, 1));
    if (sl < 0 || (size_t)sl >= sizeof suffix) return -1;
    size_t blen = strlen(base);
    size_t room = NAME_LIMIT - 1 - (size_t)sl; /* the leading '.' and the suffix */
    if (blen > room) blen = room;
    int n = snprintf(buf, cap, "%.*s.%.*s%s", (int)dlen, target, (int)blen, base, suffix);
    return n < 0 || (size_t)n >= cap ? -1 : 0;
}

int mp_tmp_match(const char *name, long *pid)
{
    if (name[0] != '.' || strchr(name, '/')) return 0;
    /* the last ".mptmp." followed by DIGITS.DIGITS and nothing else */
    const char *m = NULL;
    for (const char *p = name + 1; (p = strstr(p, TMP_MARK)); p++) m = p;
    if (!m || m == name + 1) return 0; /* no NAME part */
    const char *d = m + sizeof TMP_MARK - 1;
    long v = 0;
    const char *q = d;
    while (*q >= '0' && *q <= '9' && q - d < 10) v = v * 10 + (*q++ - '0');
    if (q == d || *q != '.' || v <= 0) return 0;
    const char *r = ++q;
    while (*q >= '0' && *q <= '9' && q - r < 20) q++;
    if (q == r || *q) return 0;
    if (pid) *pid = v;
    return 1;
}

int mp_tmp_stale(const char *name)
{
    long pid;
    if (!mp_tmp_match(name, &pid) || pid == (long)getpid() || (long)(pid_t)pid != pid) return 0;
    return kill((pid_t)pid, 0) == -1 && errno == ESRCH;
}

void mp_tmp_sweep(const char *folder)
{
    const char *f = folder && folder[0] ? folder : ".";
    DIR *d = opendir(f);
    if (!d) return;
    int dfd = dirfd(d);
    struct dirent *de;
    uid_t me = geteuid();
    while ((de = readdir(d))) {
        if (!mp_tmp_stale(de->d_name)) continue;
        struct stat st;
        if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode) || st.st_uid != me)
            continue;
        unlinkat(dfd, de->d_name, 0);
    }
    closedir(d);
}

/* ---------------------------------------------------------------- targets */

/* the descriptor a path names directly (/dev/stdout, /dev/fd/N, ...), or -1 */
static int fd_alias(const char *p)
{
    if (strcmp(p, "/dev/stdin") == 0) return 0;
    if (strcmp(p, "/dev/stdout") == 0) return 1;
    if (strcmp(p, "/dev/stderr") == 0) return 2;
    const char *n = NULL;
    char own[64];
    snprintf(own, sizeof own, "/proc/%ld/fd/", (long)getpid());
    static const char *const pre[] = {"/dev/fd/", "/proc/self/fd/", "/proc/thread-self/fd/"};
    for (size_t i = 0; i < sizeof pre / sizeof pre[0] && !n; i++)
        if (strncmp(p, pre[i], strlen(pre[i])) == 0) n = p + strlen(pre[i]);
    if (!n && strncmp(p, own, strlen(own)) == 0) n = p + strlen(own);
    if (!n || !*n) return -1;
    long v = 0;
    for (const char *q = n; *q; q++) {
        if (*q < '0' || *q > '9' || v > 1000000) return -1;
        v = v * 10 + (*q - '0');
    }
    return (int)v;
}

int mp_otarget_resolve(mp_otarget *t, const char *path, mp_err *err)
{
    memset(t, 0, sizeof *t);
    t->fd = -1;
    if (strcmp(path, "-") == 0) {
        t->kind = MP_OT_STDOUT;
        t->fd = 1;
        return 0;
    }
    size_t n = strlen(path);
    if (n == 0) return mp_err_set(err, MP_EIO, "an empty output name");
    if (n >= MP_PATH_MAX) return mp_err_set(err, MP_EIO, "%.200s...: name too long", path);
    if (path[n - 1] == '/') {
        struct stat st;
        if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) return mp_err_set(err, MP_EIO, "%s: is a directory", path);
        return mp_err_set(err, MP_EIO, "%s: names a folder (trailing '/'), not a file", path);
    }
    char *cur = t->path;
    memcpy(cur, path, n + 1);
    for (int hops = 0;; hops++) {
        int fd = fd_alias(cur);
        if (fd >= 0) {
            if (fcntl(fd, F_GETFD) == -1) return mp_err_set(err, MP_EIO, "%s: descriptor %d is not open", path, fd);
            t->kind = MP_OT_STDOUT;
            t->fd = fd;
            t->path[0] = '\0';
            return 0;
        }
        struct stat st;
        if (lstat(cur, &st) != 0) {
            if (errno == ENOENT) {
                t->kind = MP_OT_CREATE;
                return 0;
            }
            return mp_err_set(err, MP_EIO, "%s: cannot create: %s", path, strerror(errno));
        }
        if (S_ISLNK(st.st_mode)) {
            if (hops >= LINK_HOPS) return mp_err_set(err, MP_EIO, "%s: cannot create: %s", path, strerror(ELOOP));
            char link[MP_PATH_MAX];
            ssize_t k = readlink(cur, link, sizeof link - 1);
            if (k < 0) return mp_err_set(err, MP_EIO, "%s: cannot read the symlink: %s", path, strerror(errno));
            if (k == 0) return mp_err_set(err, MP_EIO, "%s: an empty symlink", path);
            link[k] = '\0';
            if (link[0] == '/') {
                memcpy(cur, link, (size_t)k + 1);
            } else {
                char *s = strrchr(cur, '/');
                size_t keep = s ? (size_t)(s - cur) + 1 : 0;
                if (keep + (size_t)k + 1 > MP_PATH_MAX) return mp_err_set(err, MP_EIO, "%s: name too long", path);
                memcpy(cur + keep, link, (size_t)k + 1);
            }
            continue;
        }
        if (S_ISDIR(st.st_mode)) return mp_err_set(err, MP_EIO, "%s: is a directory", path);
        t->kind = S_ISREG(st.st_mode) ? MP_OT_REPLACE : MP_OT_THROUGH;
        t->dev = (unsigned long long)st.st_dev;
        t->ino = (unsigned long long)st.st_ino;
        t->nlink = (unsigned long long)st.st_nlink;
        t->mode = (unsigned)st.st_mode;
        t->uid = (unsigned)st.st_uid;
        t->gid = (unsigned)st.st_gid;
        return 0;
    }
}

/* ------------------------------------------------------------------ files */

struct mp_ofile {
    FILE *fp;
    char *path;  /* as given */
    char *final; /* where the temporary goes; NULL when written directly */
    char *tmp;   /* the temporary; NULL when written directly */
    int slot;    /* mp_tmp_track's */
    int own_fp;  /* fp is ours to close (not stdout/stderr) */
    mp_otarget t;
};

static void ofile_free(mp_ofile *f)
{
    mp_tmp_untrack(f->slot);
    free(f->tmp);
    free(f->final);
    free(f->path);
    free(f);
}

/* f writes through fd (its own, closed with the stream); on failure f is
 * freed and MP_EIO returned */
static int stream_on(mp_ofile **out, mp_ofile *f, int fd, const char *path, mp_err *err)
{
    if (fd < 0 || !(f->fp = fdopen(fd, "wb"))) {
        int e = errno;
        if (fd >= 0) close(fd);
        ofile_free(f);
        return mp_err_set(err, MP_EIO, "%s: cannot write: %s", path, strerror(e));
    }
    f->own_fp = 1;
    *out = f;
    return 0;
}

int mp_ofile_open(mp_ofile **out, const char *path, mp_err *err)
{
    *out = NULL;
    mp_ofile *f = calloc(1, sizeof *f);
    if (!f) return mp_err_set(err, MP_ENOMEM, "%s: out of memory", path);
    f->slot = -1;
    if (!(f->path = strdup(path))) {
        free(f);
        return mp_err_set(err, MP_ENOMEM, "%s: out of memory", path);
    }
    int rc = mp_otarget_resolve(&f->t, path, err);
    if (rc) {
        ofile_free(f);
        return rc;
    }
    int fd = -1;
    switch (f->t.kind) {
    case MP_OT_STDOUT:
        if (f->t.fd == 1) {
            f->fp = stdout;
        } else if (f->t.fd == 2) {
            f->fp = stderr;
        } else {
            return stream_on(out, f, fcntl(f->t.fd, F_DUPFD_CLOEXEC, 3), path, err);
        }
        *out = f;
        return 0;
    case MP_OT_THROUGH:
        return stream_on(out, f, open(f->t.path, O_WRONLY | O_NOCTTY | O_CLOEXEC), path, err);
    case MP_OT_REPLACE:
    case MP_OT_CREATE: break;
    }
    /* a file this user may not write stays as it is, as with `>`: renaming
     * over it needs only the folder's permission */
    if (f->t.kind == MP_OT_REPLACE && faccessat(AT_FDCWD, f->t.path, W_OK, AT_EACCESS) != 0) {
        int e = errno;
        ofile_free(f);
        return mp_err_set(err, MP_EIO, "%s: cannot write: %s", path, strerror(e));
    }
    size_t cap = strlen(f->t.path) + NAME_LIMIT + 2;
    f->final = strdup(f->t.path);
    f->tmp = malloc(cap);
    if (!f->final || !f->tmp) {
        ofile_free(f);
        return mp_err_set(err, MP_ENOMEM, "%s: out of memory", path);
    }
    /* the folder: sweep what killed runs left there */
    {
        char *s = strrchr(f->final, '/');
        if (s) {
            char c = s[1];
            s[1] = '\0';
            mp_tmp_sweep(f->final);
            s[1] = c;
        } else {
            mp_tmp_sweep(NULL);
        }
    }
    for (int tries = 0; fd < 0; tries++) {
        if (mp_tmp_name(f->tmp, cap, f->final) != 0) {
            ofile_free(f);
            return mp_err_set(err, MP_EIO, "%s: name too long", path);
        }
        /* a replaced file's data is never shown to more readers than the
         * file itself allows, not even while it is written (0400 so that a
         * hard-linked target can be copied from it) */
        mode_t mode = f->t.kind == MP_OT_REPLACE ? (mode_t)((f->t.mode & 0777) | 0400) : 0666;
        /* listed before it exists: a signal between the two must not leave it
         * (the name holds our PID and a counter, so it names no one else's file) */
        f->slot = mp_tmp_track(f->tmp, 0);
        fd = open(f->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
        if (fd < 0) {
            int e = errno;
            mp_tmp_untrack(f->slot);
            f->slot = -1;
            errno = e;
        }
        if (fd < 0 && (errno != EEXIST || tries > 100)) {
            int e = errno, replace = f->t.kind == MP_OT_REPLACE;
            ofile_free(f);
            if (replace)
                return mp_err_set(err, MP_EIO, "%s: cannot create a temporary file beside it: %s", path, strerror(e));
            return mp_err_set(err, MP_EIO, "%s: cannot create: %s", path, strerror(e));
        }
    }
    if (!(f->fp = fdopen(fd, "wb"))) {
        int e = errno;
        close(fd);
        unlink(f->tmp);
        ofile_free(f);
        return mp_err_set(err, MP_EIO, "%s: cannot create: %s", path, strerror(e));
    }
    f->own_fp = 1;
    *out = f;
    return 0;
}

FILE *mp_ofile_stream(mp_ofile *f) { return f->fp; }

const char *mp_ofile_path(const mp_ofile *f) { return strcmp(f->path, "-") ? f->path : "standard output"; }

/* copies the finished temporary into a hard-linked target in place */
static int copy_into(const char *tmp, const char *dst, int *err_no)
{
    int in = open(tmp, O_RDONLY | O_CLOEXEC);
    if (in < 0) return *err_no = errno, -1;
    int out = open(dst, O_WRONLY | O_TRUNC | O_NOCTTY | O_CLOEXEC);
    if (out < 0) {
        *err_no = errno;
        close(in);
        return -1;
    }
    char buf[1 << 16];
    int rc = 0;
    for (;;) {
        ssize_t n = read(in, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            *err_no = errno, rc = -1;
            break;
        }
        if (n == 0) break;
        for (ssize_t w = 0; w < n;) {
            ssize_t k = write(out, buf + w, (size_t)(n - w));
            if (k < 0 && errno == EINTR) continue;
            if (k <= 0) {
                *err_no = k < 0 ? errno : EIO, rc = -1;
                break;
            }
            w += k;
        }
        if (rc) break;
    }
    close(in);
    if (close(out) != 0 && !rc) *err_no = errno, rc = -1;
    return rc;
}

int mp_ofile_commit(mp_ofile *f, mp_err *err)
{
    int rc = 0;
    if (!f->tmp) {
        int bad = fflush(f->fp) != 0;
        int e = errno;
        if (ferror(f->fp)) bad = 1;
        if (f->own_fp && fclose(f->fp) != 0 && !bad) bad = 1, e = errno;
        if (bad) {
            if (f->t.kind == MP_OT_STDOUT && f->t.fd == 1) {
                rc = mp_err_set(err, MP_EIO, "write error on standard output: %s", strerror(e));
                clearerr(f->fp); /* reported once, here */
            } else {
                rc = mp_err_set(err, MP_EIO, "%s: write error: %s", f->path, strerror(e));
            }
        }
        ofile_free(f);
        return rc;
    }
    int bad = fflush(f->fp) != 0 || ferror(f->fp);
    int e = errno;
    if (!bad && f->t.kind == MP_OT_REPLACE && f->t.nlink <= 1) {
        int fd = fileno(f->fp);
        /* owner first (chown clears set-id bits), then the mode; an owner we
         * may not give is left as it is */
        if ((f->t.uid != (unsigned)geteuid() || f->t.gid != (unsigned)getegid()) &&
            fchown(fd, (uid_t)f->t.uid, (gid_t)f->t.gid) != 0 && fchown(fd, (uid_t)-1, (gid_t)f->t.gid) != 0) {
            /* keep our own */
        }
        if (fchmod(fd, (mode_t)(f->t.mode & 07777)) != 0) bad = 1, e = errno;
    }
    if (fclose(f->fp) != 0 && !bad) bad = 1, e = errno;
    f->fp = NULL;
    if (bad) {
        rc = mp_err_set(err, MP_EIO, "%s: write error: %s", f->path, strerror(e));
    } else if (f->t.kind == MP_OT_REPLACE && f->t.nlink > 1) {
        if (copy_into(f->tmp, f->final, &e) != 0)
            rc = mp_err_set(err, MP_EIO, "%s: cannot write (hard-linked target): %s", f->path, strerror(e));
    } else if (rename(f->tmp, f->final) != 0) {
        e = errno;
        rc = mp_err_set(err, MP_EIO, "%s: cannot rename the temporary into place: %s", f->path, strerror(e));
    } else {
        free(f->tmp);
        f->tmp = NULL; /* renamed: nothing to remove */
    }
    if (f->tmp) unlink(f->tmp);
    ofile_free(f);
    return rc;
}

void mp_ofile_abort(mp_ofile *f)
{
    if (!f) return;
    if (f->tmp) {
        fclose(f->fp);
        unlink(f->tmp);
    } else if (f->own_fp) {
        fclose(f->fp);
    } else {
        /* the caller gives up on this output and reports why: a write error
         * on the stream is part of that, not to be reported again */
        fflush(f->fp);
        clearerr(f->fp);
    }
    ofile_free(f);
}

long long mp_file_size(FILE *fp)
{
    struct stat st;
    if (fstat(fileno(fp), &st) != 0 || !S_ISREG(st.st_mode)) return -1;
    return (long long)st.st_size;
}
