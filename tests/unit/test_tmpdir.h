/* test_tmpdir.h - one scratch folder per test program, and small text files in
 * it (include after cmocka.h). */
#ifndef TEST_TMPDIR_H
#define TEST_TMPDIR_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char test_dir[64];

/* Makes /tmp/mp_NAME.XXXXXX; 0 or -1 (a cmocka group setup's contract). */
static int test_tmpdir_make(const char *name)
{
    snprintf(test_dir, sizeof test_dir, "/tmp/mp_%s.XXXXXX", name);
    return mkdtemp(test_dir) ? 0 : -1;
}

/* Removes the folder and everything in it; 0 or -1. */
static int test_tmpdir_remove(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", test_dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* Writes text to path (the test fails when it cannot). */
static void test_put_file(const char *path, const char *text)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
}

#endif
