/*
 * io_guard.h - refusing outputs that would overwrite an input or each
 * other, before anything is written.
 *
 * A command lists its inputs and outputs, then calls cli_io_guard_check:
 * an output that is the same file as an input (device and inode, symlinks
 * followed), two outputs naming one file (the same inode, or for files not
 * there yet the same folder and name), an input inside a report folder, or
 * an output that cannot be a file at all (a folder, a trailing '/') is a
 * usage error (exit 2).  Outputs written through (standard output, devices,
 * FIFOs) are exempt: `-o /dev/null` twice is fine; but a descriptor (standard
 * output, `-o -`, /dev/fd/N) that a shell opened on a regular file is that
 * file, so standard output on an input (`>> in.csv`) or on a file another
 * output replaces is refused too.  A file both read and
 * rewritten on purpose (check --update's baseline) is added once with
 * cli_io_guard_add_inout.
 *
 * Memory: the guard borrows the path strings; nothing to free.
 */
#ifndef CLI_IO_GUARD_H
#define CLI_IO_GUARD_H

#define CLI_IO_MAX 40

typedef struct cli_io_guard {
    const char *cmd;
    int n;
    const char *path[CLI_IO_MAX];
    int role[CLI_IO_MAX];
} cli_io_guard;

void cli_io_guard_init(cli_io_guard *g, const char *cmd);
/* The file --model read (cli_model_load): every guard initialised after this
 * call lists it as an input.  The path is copied; NULL forgets it. */
void cli_io_guard_model_file(const char *path);
/* NULL paths are ignored. */
void cli_io_guard_add_input(cli_io_guard *g, const char *path);
void cli_io_guard_add_output(cli_io_guard *g, const char *path);
void cli_io_guard_add_inout(cli_io_guard *g, const char *path);
/* A folder output (report -o DIR): it may exist only as a folder, and no
 * input may lie inside it. */
void cli_io_guard_add_dir(cli_io_guard *g, const char *path);
/* CLI_OK, or prints "moeplace CMD: ..." and returns CLI_EUSAGE. */
int cli_io_guard_check(const cli_io_guard *g);

#endif
