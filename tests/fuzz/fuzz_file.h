/* fuzz_file.h - how a harness hands libFuzzer's bytes to a reader that opens
 * files: one temporary per process, rewritten for every input. */
#ifndef FUZZ_FILE_H
#define FUZZ_FILE_H

#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

/* "/tmp/fuzz_NAME.PID.EXT"; the same string on every call of one process. */
static const char *fuzz_file_path(const char *name, const char *ext)
{
    static char path[96];
    if (!path[0]) snprintf(path, sizeof path, "/tmp/fuzz_%s.%ld%s", name, (long)getpid(), ext);
    return path;
}

/* Writes the input to path; 0 or -1. */
static int fuzz_file_put(const char *path, const uint8_t *data, size_t size)
{
    FILE *fp = fopen(path, "wb");
    if (!fp) return -1;
    size_t n = fwrite(data, 1, size, fp);
    return fclose(fp) == 0 && n == size ? 0 : -1;
}

#endif
