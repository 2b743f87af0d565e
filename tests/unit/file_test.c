/* file_test.c - safe output files (traces/mp_file.h): what a path resolves
 * to, temporaries, modes, hard links, symlinks, cleanup and the sweep. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "traces/mp_file.h"
#include "test_tmpdir.h"

static int setup(void **state)
{
    (void)state;
    return test_tmpdir_make("file");
}

static int teardown(void **state)
{
    (void)state;
    return test_tmpdir_remove();
}

static char *path_in(const char *name)
{
    static char buf[8][1024];
    static int k;
    char *p = buf[k++ % 8];
    snprintf(p, sizeof buf[0], "%s/%s", test_dir, name);
    return p;
}

/* the number of entries of test_dir whose name holds ".mptmp." */
static int temporaries(void)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "ls -A '%s' | grep -c mptmp > /dev/null", test_dir);
    return system(cmd) == 0;
}

static void write_text(const char *path, const char *text)
{
    mp_err err = {0};
    mp_ofile *f;
    assert_int_equal(mp_ofile_open(&f, path, &err), 0);
    fputs(text, mp_ofile_stream(f));
    assert_int_equal(mp_ofile_commit(f, &err), 0);
}

static void expect_text(const char *path, const char *text)
{
    char buf[256] = {0};
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    size_t n = fread(buf, 1, sizeof buf - 1, fp);
    fclose(fp);
    buf[n] = '\0';
    assert_string_equal(buf, text);
}

static void test_tmp_name_pattern(void **state)
{
    (void)state;
    char buf[MP_PATH_MAX], base[256];
    memset(base, 'n', 255);
    base[255] = '\0';
    char target[600];
    snprintf(target, sizeof target, "some/dir/%s", base);
    assert_int_equal(mp_tmp_name(buf, sizeof buf, target), 0);
    assert_memory_equal(buf, "some/dir/.nnn", 13);
    const char *name = strrchr(buf, '/') + 1;
    assert_true(strlen(name) <= 255);
    long pid = 0;
    assert_int_equal(mp_tmp_match(name, &pid), 1);
    assert_int_equal(pid, (long)getpid());
    assert_int_equal(mp_tmp_stale(name), 0); /* our own */
    assert_int_equal(mp_tmp_name(buf, sizeof buf, "x.csv"), 0);
    assert_memory_equal(buf, ".x.csv.mptmp.", 13);
    /* names that are not ours */
    assert_int_equal(mp_tmp_match("x.csv.mptmp.12.0", NULL), 0);
    assert_int_equal(mp_tmp_match(".mptmp.12.0", NULL), 0);
    assert_int_equal(mp_tmp_match(".x.mptmp.12", NULL), 0);
    assert_int_equal(mp_tmp_match(".x.mptmp.12.0a", NULL), 0);
    assert_int_equal(mp_tmp_match(".x.mptmp.0.1", NULL), 0);
    assert_int_equal(mp_tmp_match(".x.mptmp..1", NULL), 0);
    assert_int_equal(mp_tmp_match(".x.mptmp.12.3", &pid), 1);
    assert_int_equal(pid, 12);
    assert_int_equal(mp_tmp_match(".a.mptmp.b.mptmp.7.3", &pid), 1);
    assert_int_equal(pid, 7);
}

static void test_resolve(void **state)
{
    (void)state;
    mp_otarget t;
    mp_err err = {0};
    assert_int_equal(mp_otarget_resolve(&t, "-", &err), 0);
    assert_int_equal(t.kind, MP_OT_STDOUT);
    assert_int_equal(t.fd, 1);
    assert_int_equal(mp_otarget_resolve(&t, "/dev/stdout", &err), 0);
    assert_int_equal(t.kind, MP_OT_STDOUT);
    assert_int_equal(t.fd, 1);
    if (access("/dev/null", W_OK) == 0) {
        assert_int_equal(mp_otarget_resolve(&t, "/dev/null", &err), 0);
        assert_int_equal(t.kind, MP_OT_THROUGH);
    }
    assert_int_equal(mp_otarget_resolve(&t, path_in("new.txt"), &err), 0);
    assert_int_equal(t.kind, MP_OT_CREATE);
    test_put_file(path_in("reg.txt"), "x");
    assert_int_equal(mp_otarget_resolve(&t, path_in("reg.txt"), &err), 0);
    assert_int_equal(t.kind, MP_OT_REPLACE);
    assert_int_equal(t.nlink, 1);
    /* a relative symlink is followed from its own folder */
    assert_int_equal(symlink("reg.txt", path_in("ln.txt")), 0);
    assert_int_equal(mp_otarget_resolve(&t, path_in("ln.txt"), &err), 0);
    assert_int_equal(t.kind, MP_OT_REPLACE);
    assert_string_equal(t.path, path_in("reg.txt"));
    assert_int_equal(symlink("loop2", path_in("loop1")), 0);
    assert_int_equal(symlink("loop1", path_in("loop2")), 0);
    assert_int_equal(mp_otarget_resolve(&t, path_in("loop1"), &err), MP_EIO);
    assert_int_equal(mp_otarget_resolve(&t, test_dir, &err), MP_EIO);
    assert_non_null(strstr(err.msg, "is a directory"));
    char slash[1100];
    snprintf(slash, sizeof slash, "%s/", test_dir);
    assert_int_equal(mp_otarget_resolve(&t, slash, &err), MP_EIO);
    assert_non_null(strstr(err.msg, "is a directory"));
    assert_int_equal(mp_otarget_resolve(&t, "", &err), MP_EIO);
}

static void test_new_and_replace_keep_mode(void **state)
{
    (void)state;
    mode_t old = umask(022);
    const char *p = path_in("mode.txt");
    write_text(p, "one");
    struct stat st;
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0644);
    assert_int_equal(chmod(p, 0600), 0);
    write_text(p, "two");
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    expect_text(p, "two");
    umask(old);
    assert_false(temporaries());
}

/* the temporary of a replaced file is never readable by more users than the
 * file: a 0600 target's data is not world-readable while it is written */
static void test_temporary_not_wider_than_target(void **state)
{
    (void)state;
    mode_t old = umask(022);
    const char *p = path_in("secret.txt");
    test_put_file(p, "old");
    assert_int_equal(chmod(p, 0600), 0);
    mp_err err = {0};
    mp_ofile *f;
    assert_int_equal(mp_ofile_open(&f, p, &err), 0);
    struct stat st;
    assert_int_equal(fstat(fileno(mp_ofile_stream(f)), &st), 0);
    assert_int_equal(st.st_mode & 0077, 0);
    fputs("new", mp_ofile_stream(f));
    assert_int_equal(mp_ofile_commit(f, &err), 0);
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    expect_text(p, "new");
    /* a new file still gets 0666 less the umask */
    const char *q = path_in("fresh.txt");
    assert_int_equal(mp_ofile_open(&f, q, &err), 0);
    assert_int_equal(fstat(fileno(mp_ofile_stream(f)), &st), 0);
    assert_int_equal(st.st_mode & 0777, 0644);
    mp_ofile_abort(f);
    umask(old);
    assert_false(temporaries());
}

/* a file this user may not write is not replaced (as `>` would not), even
 * though the folder would let a rename through; root may write anything */
static void test_read_only_target_kept(void **state)
{
    (void)state;
    if (geteuid() == 0) skip();
    const char *p = path_in("ro.txt");
    test_put_file(p, "old");
    assert_int_equal(chmod(p, 0444), 0);
    mp_err err = {0};
    mp_ofile *f = NULL;
    assert_int_equal(mp_ofile_open(&f, p, &err), MP_EIO);
    assert_null(f);
    assert_non_null(strstr(err.msg, "cannot write: Permission denied"));
    expect_text(p, "old");
    assert_false(temporaries());
}

static void test_hard_link_kept(void **state)
{
    (void)state;
    const char *a = path_in("ha.txt"), *b = path_in("hb.txt");
    test_put_file(a, "old");
    assert_int_equal(link(a, b), 0);
    write_text(a, "new text");
    expect_text(b, "new text");
    struct stat sa, sb;
    assert_int_equal(stat(a, &sa), 0);
    assert_int_equal(stat(b, &sb), 0);
    assert_true(sa.st_ino == sb.st_ino);
    assert_int_equal(sa.st_nlink, 2);
    assert_false(temporaries());
}

static void test_symlink_stays(void **state)
{
    (void)state;
    const char *t = path_in("target.txt"), *l = path_in("link.txt");
    test_put_file(t, "old");
    assert_int_equal(symlink("target.txt", l), 0);
    write_text(l, "via link");
    struct stat st;
    assert_int_equal(lstat(l, &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    expect_text(t, "via link");
    /* dangling: written where it points */
    assert_int_equal(symlink("fresh.txt", path_in("dangle.txt")), 0);
    write_text(path_in("dangle.txt"), "fresh");
    expect_text(path_in("fresh.txt"), "fresh");
    assert_false(temporaries());
}

static void test_abort_keeps_old(void **state)
{
    (void)state;
    const char *p = path_in("abort.txt");
    test_put_file(p, "keep");
    mp_err err = {0};
    mp_ofile *f;
    assert_int_equal(mp_ofile_open(&f, p, &err), 0);
    fputs("half", mp_ofile_stream(f));
    assert_true(temporaries());
    mp_ofile_abort(f);
    mp_ofile_abort(NULL);
    expect_text(p, "keep");
    assert_false(temporaries());
}

static void test_cleanup_and_sweep(void **state)
{
    (void)state;
    /* tracked temporaries (a file, a folder two levels deep) go */
    const char *f = path_in(".t.mptmp.1.1"), *d = path_in("tdir");
    test_put_file(f, "x");
    assert_int_equal(mkdir(d, 0777), 0);
    assert_int_equal(mkdir(path_in("tdir/plans"), 0777), 0);
    test_put_file(path_in("tdir/plans/a.json"), "x");
    test_put_file(path_in("tdir/report.md"), "x");
    test_put_file(path_in("outside.txt"), "x");
    assert_int_equal(symlink("../outside.txt", path_in("tdir/out")), 0);
    int s1 = mp_tmp_track(f, 0), s2 = mp_tmp_track(d, 1);
    assert_true(s1 >= 0 && s2 >= 0);
    mp_tmp_cleanup();
    mp_tmp_untrack(s1);
    mp_tmp_untrack(s2);
    mp_tmp_untrack(-1);
    assert_int_equal(access(f, F_OK), -1);
    assert_int_equal(access(d, F_OK), -1);
    assert_int_equal(access(path_in("outside.txt"), F_OK), 0); /* the symlink was not followed */

    /* a dead process's temporary is swept, a live one's is not */
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) _exit(0);
    assert_int_equal(waitpid(child, NULL, 0), child);
    char dead[64], live[64];
    snprintf(dead, sizeof dead, ".o.csv.mptmp.%ld.0", (long)child);
    snprintf(live, sizeof live, ".o.csv.mptmp.%ld.0", (long)getppid());
    test_put_file(path_in(dead), "x");
    test_put_file(path_in(live), "x");
    assert_int_equal(mp_tmp_stale(dead), kill(child, 0) == -1);
    mp_tmp_sweep(test_dir);
    assert_int_equal(access(path_in(dead), F_OK), -1);
    assert_int_equal(access(path_in(live), F_OK), 0);
    unlink(path_in(live));
}

static void test_signal_removes_temporary(void **state)
{
    (void)state;
    const char *p = path_in("sig.txt");
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        mp_tmp_catch_signals();
        mp_err err = {0};
        mp_ofile *f;
        if (mp_ofile_open(&f, p, &err)) _exit(3);
        fputs("never", mp_ofile_stream(f));
        fflush(mp_ofile_stream(f));
        raise(SIGTERM);
        _exit(4);
    }
    int status = 0;
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGTERM);
    assert_int_equal(access(p, F_OK), -1);
    assert_false(temporaries());
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tmp_name_pattern),
        cmocka_unit_test(test_resolve),
        cmocka_unit_test(test_new_and_replace_keep_mode),
        cmocka_unit_test(test_temporary_not_wider_than_target),
        cmocka_unit_test(test_read_only_target_kept),
        cmocka_unit_test(test_hard_link_kept),
        cmocka_unit_test(test_symlink_stays),
        cmocka_unit_test(test_abort_keeps_old),
        cmocka_unit_test(test_cleanup_and_sweep),
        cmocka_unit_test(test_signal_removes_temporary),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
