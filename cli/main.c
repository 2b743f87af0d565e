/* main.c - `moeplace CMD ...`: dispatch, help and version; temporaries
 * removed on signals; standard output checked at the end. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "traces/mp_file.h"

static int stdout_errno; /* the first write error noted on standard output */

void cli_stdout_error(void)
{
    if (!stdout_errno) stdout_errno = errno ? errno : EIO;
}

/* a write error on standard output is an error: exit 1 with one line */
static int finish(int rc)
{
    errno = 0;
    int bad = fflush(stdout) != 0;
    int e = bad ? errno : 0;
    if (ferror(stdout)) bad = 1;
    if (bad || stdout_errno) {
        if (!e) e = stdout_errno ? stdout_errno : EIO;
        fprintf(stderr, "moeplace: write error on standard output: %s\n", strerror(e));
        clearerr(stdout);
        return rc ? rc : CLI_EDATA;
    }
    return rc;
}

static const cli_command commands[] = {
#define CLI_CMD(n, s, g, f) {#n, s, cmd_##n},
#include "cli/commands.def"
#undef CLI_CMD
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

static void usage(FILE *fp)
{
    fprintf(fp, "usage: moeplace COMMAND [options] [args]\n\n"
                "Expert placement planner and simulator for Mixture-of-Experts serving.\n\ncommands:\n");
    for (size_t i = 0; i < NCOMMANDS; i++) fprintf(fp, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(fp, "\n  help CMD   show a command's options (help --mdoc CMD: its man page OPTIONS)\n"
                "  help metrics [NAME...]  every output name: unit, better direction, meaning\n"
                "\nmoeplace --version prints the version; man moeplace has the whole story.\n");
}

static const cli_command *find(const char *name)
{
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (strcmp(commands[i].name, name) == 0) return &commands[i];
    return NULL;
}

/* `help NAME` for a name that is no command: the list, and where it is
 * (not "see 'moeplace help help'": the usage line of cli_usage_error) */
static int unknown_help(const char *name)
{
    char list[512] = "";
    size_t len = 0;
    for (size_t i = 0; i < NCOMMANDS && len < sizeof list; i++)
        len += (size_t)snprintf(list + len, sizeof list - len, "%s, ", commands[i].name);
    cli_message("moeplace help: unknown command '%s' (commands: %smetrics; see 'moeplace help')", name, list);
    return CLI_EUSAGE;
}

static int run(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return CLI_EUSAGE;
    }
    const char *a = argv[1];
    if (strcmp(a, "--version") == 0 || strcmp(a, "-V") == 0 || strcmp(a, "version") == 0) {
        printf("moeplace %s\n", MOEPLACE_VERSION);
        return CLI_OK;
    }
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
        usage(stdout);
        return CLI_OK;
    }
    if (strcmp(a, "help") == 0) {
        if (argc < 3 || (argc == 3 && (strcmp(argv[2], "help") == 0 || strcmp(argv[2], "--help") == 0))) {
            usage(stdout);
            return CLI_OK;
        }
        if (strcmp(argv[2], "metrics") == 0) return cli_help_metrics(argc - 2, argv + 2);
        if (strcmp(argv[2], "--mdoc") == 0) {
            if (argc != 4) return cli_usage_error("help", "--mdoc wants one command");
            if (!find(argv[3])) return unknown_help(argv[3]);
            return cli_mdoc_options(stdout, argv[3]) ? CLI_EDATA : CLI_OK;
        }
        const cli_command *c = find(argv[2]);
        if (!c) return unknown_help(argv[2]);
        return cli_help(stdout, c->name);
    }
    const cli_command *c = find(a);
    if (!c) {
        cli_message("moeplace: unknown command '%s' (see 'moeplace --help')", a);
        return CLI_EUSAGE;
    }
    return c->run(argc - 1, argv + 1);
}

int main(int argc, char **argv)
{
    mp_tmp_catch_signals();
    return finish(run(argc, argv));
}
