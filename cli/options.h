/*
 * options.h - the option table (cli/options.def) as code: ids, groups, the
 * one parser every command calls, and the help and man text made from it.
 *
 * A command parses its arguments once:
 *     cli_common c;  cli_args a;
 *     int rc = cli_args_parse(&a, &c, "info", argc, argv);
 *     if (rc) return rc;              (a usage error, already printed)
 *     if (c.help) return cli_help(stdout, "info");
 * then reads values with cli_has / cli_str / cli_int / cli_i64 / cli_num /
 * cli_range / cli_enum; operands are a.argv[a.first .. a.argc).  Every value
 * was checked against the table (range, word list) while parsing.
 *
 * Memory: cli_args holds pointers into argv and nothing it owns.
 */
#ifndef CLI_OPTIONS_H
#define CLI_OPTIONS_H

#include <stdint.h>
#include <stdio.h>

#include "cli/limits.h"
#include "traces/mp_model.h"

enum cli_group_id {
#define CLI_GROUP(g, title) CLI_GROUP_##g,
#include "cli/options.def"
    CLI_NGROUPS
};
/* a command's groups are the bits of a cli_groups mask */
typedef uint64_t cli_groups;
_Static_assert(CLI_NGROUPS <= 64, "more option groups than bits in a command's group mask");
#define CLI_G(g) ((cli_groups)1 << CLI_GROUP_##g)
#define CLI_CMDF_HTML 1u /* the command takes --format html */

typedef enum cli_opt_id {
#define CLI_FLAG(id, l, s, g, help, man) CLI_O_##id,
#define CLI_STR(id, l, s, arg, g, help, man) CLI_O_##id,
#define CLI_INT(id, l, s, arg, g, lo, hi, help, man) CLI_O_##id,
#define CLI_NUM(id, l, s, arg, g, lo, hi, help, man) CLI_O_##id,
#define CLI_COST(id, l, arg, g, key, help, man) CLI_O_##id,
#define CLI_RANGE(id, l, s, arg, g, help, man) CLI_O_##id,
#define CLI_ENUM(id, l, s, g, values, help, man) CLI_O_##id,
#define CLI_NAMES(id, l, arg, g, reg, help, man) CLI_O_##id,
#define CLI_OPTSTR(id, l, arg, g, help, man) CLI_O_##id,
#define CLI_ALIAS(id, l, g, target) CLI_O_##id,
#include "cli/options.def"
    CLI_NOPTS
} cli_opt_id;

typedef enum cli_kind {
    CLI_K_FLAG,
    CLI_K_STR,
    CLI_K_INT,
    CLI_K_NUM,
    CLI_K_COST,
    CLI_K_RANGE,
    CLI_K_ENUM,
    CLI_K_NAMES,
    CLI_K_OPTSTR,
    CLI_K_ALIAS
} cli_kind;

/* One row of the table. */
typedef struct cli_option {
    const char *name; /* long name, without "--"                              */
    int shrt;         /* short letter or 0                                    */
    const char *arg;  /* argument name (NULL: none)                           */
    int group;        /* CLI_GROUP_*                                          */
    cli_kind kind;
    int64_t ilo, ihi; /* CLI_K_INT                                            */
    double dlo, dhi;  /* CLI_K_NUM                                            */
    const char *values; /* ENUM: "a|b|c"; COST: the cost key; NAMES: the registry */
    int target;       /* ALIAS: the option it spells                          */
    const char *help; /* one line                                             */
    const char *man;  /* mdoc                                                 */
} cli_option;

const cli_option *cli_option_at(int id); /* NULL outside 0..CLI_NOPTS-1 */

/* The groups and flags of a command; 0 when the command is unknown. */
int cli_command_groups(const char *cmd, cli_groups *groups, unsigned *flags);
/* Whether a command accepts option id (an alias: its spelling). */
int cli_accepts(const char *cmd, int id);

#define CLI_OCC_MAX 256 /* options on one command line */

typedef struct cli_args {
    const char *cmd;
    int nocc;
    struct cli_occ {
        int id;          /* an alias is recorded as its target */
        const char *arg; /* NULL for flags and a bare --sweep-locality */
    } occ[CLI_OCC_MAX];
    int first, argc; /* operands: argv[first .. argc) */
    char **argv;
} cli_args;

struct cli_common;
/* Parses argv[1..] of a command (argv[0] is its name) against the table and
 * fills *c (cli_common_init first is not needed).  Returns 0, or CLI_EUSAGE
 * after printing one usage line. */
int cli_args_parse(cli_args *a, struct cli_common *c, const char *cmd, int argc, char **argv);

/* How often the option was given. */
int cli_has(const cli_args *a, int id);
/* The last value given (NULL when none); cli_nth: the k-th (from 0). */
const char *cli_str(const cli_args *a, int id);
const char *cli_nth(const cli_args *a, int id, int k);
/* Numbers (already checked against the table's range); def when not given. */
int64_t cli_i64(const cli_args *a, int id, int64_t def);
int cli_int(const cli_args *a, int id, int def);
double cli_num(const cli_args *a, int id, double def);
/* A:B as [begin, end), end -1 = to the end; returns 0 (and leaves them) when not given. */
int cli_range(const cli_args *a, int id, int64_t *begin, int64_t *end);
/* The index of the word given in the row's list; def when not given. */
int cli_enum(const cli_args *a, int id, int def);
/* The index of `word` in an enum row's list, or -1 when the row lacks it. */
int cli_enum_word(int id, const char *word);

/* `moeplace help CMD`: the command's synopsis and description, then its
 * options from the table.  Returns CLI_OK. */
int cli_help(FILE *fp, const char *cmd);
/* `moeplace help --mdoc CMD`: the man page's OPTIONS section (.Sh OPTIONS up
 * to, not including, the next .Sh).  Returns 0, or -1 for an unknown command. */
int cli_mdoc_options(FILE *fp, const char *cmd);

/* The names of a registry ("strategy", "replica") as "a, b, c or d" (or with
 * extra words appended, e.g. "all"), into buf. */
void cli_names_list(const char *reg, const char *extra, char *buf, size_t n);
/* Checks a --replica name: one of the registry's (limited to `only`, a
 * "|"-separated list, when not NULL) or of `extra` ("|"-separated); prints a
 * usage error naming them and returns CLI_EUSAGE, else 0. */
int cli_replica_check(const char *cmd, const char *name, const char *only, const char *extra);

#endif
