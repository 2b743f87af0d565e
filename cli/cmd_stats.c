/* cmd_stats.c - `moeplace stats` (placeholder until implemented). */
#include "cli/cli.h"

const char cmd_stats_usage[] = "usage: moeplace stats FILE [--layer N] [--format table|json|csv]\n";

int cmd_stats(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "moeplace stats: not implemented yet\n");
    return CLI_EDATA;
}
