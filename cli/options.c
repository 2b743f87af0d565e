/* options.c - the option table made code: one parser for every command, the
 * value checks, and the help and man text (cli/options.def). */
#include <ctype.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli/cli.h"
#include "planner/mp_planner.h"
#include "sim/mp_cost.h"
#include "sim/mp_sim.h"

/* ---- the table ---- */

static const cli_option OPTS[CLI_NOPTS] = {
#define ROW(id, l, s, arg, g, kind, ilo, ihi, dlo, dhi, vals, tgt, help, man) \
    [CLI_O_##id] = {l, s, arg, CLI_GROUP_##g, kind, ilo, ihi, dlo, dhi, vals, tgt, help, man},
#define CLI_FLAG(id, l, s, g, help, man) ROW(id, l, s, NULL, g, CLI_K_FLAG, 0, 0, 0, 0, NULL, -1, help, man)
#define CLI_STR(id, l, s, arg, g, help, man) ROW(id, l, s, arg, g, CLI_K_STR, 0, 0, 0, 0, NULL, -1, help, man)
#define CLI_INT(id, l, s, arg, g, lo, hi, help, man) ROW(id, l, s, arg, g, CLI_K_INT, lo, hi, 0, 0, NULL, -1, help, man)
#define CLI_NUM(id, l, s, arg, g, lo, hi, help, man) ROW(id, l, s, arg, g, CLI_K_NUM, 0, 0, lo, hi, NULL, -1, help, man)
#define CLI_COST(id, l, arg, g, key, help, man) ROW(id, l, 0, arg, g, CLI_K_COST, 0, 0, 0, 0, key, -1, help, man)
#define CLI_RANGE(id, l, s, arg, g, help, man) ROW(id, l, s, arg, g, CLI_K_RANGE, 0, 0, 0, 0, NULL, -1, help, man)
#define CLI_ENUM(id, l, s, g, values, help, man) ROW(id, l, s, values, g, CLI_K_ENUM, 0, 0, 0, 0, values, -1, help, man)
#define CLI_NAMES(id, l, arg, g, reg, help, man) ROW(id, l, 0, arg, g, CLI_K_NAMES, 0, 0, 0, 0, #reg, -1, help, man)
#define CLI_OPTSTR(id, l, arg, g, help, man) ROW(id, l, 0, arg, g, CLI_K_OPTSTR, 0, 0, 0, 0, NULL, -1, help, man)
#define CLI_ALIAS(id, l, g, tgt) ROW(id, l, 0, NULL, g, CLI_K_ALIAS, 0, 0, 0, 0, NULL, CLI_O_##tgt, NULL, NULL)
#include "cli/options.def"
#undef ROW
};

typedef struct cmd_row {
    const char *name;
    cli_groups groups;
    unsigned flags;
    const char *usage;
} cmd_row;

static const cmd_row CMDS[] = {
#define CLI_CMD(n, s, g, f) {#n, g, f, cmd_##n##_usage},
#include "cli/commands.def"
#undef CLI_CMD
};
#define NCMDS ((int)(sizeof CMDS / sizeof CMDS[0]))

const cli_option *cli_option_at(int id) { return id >= 0 && id < CLI_NOPTS ? &OPTS[id] : NULL; }

static const cmd_row *find_cmd(const char *cmd)
{
    for (int i = 0; i < NCMDS; i++)
        if (!strcmp(CMDS[i].name, cmd)) return &CMDS[i];
    return NULL;
}

int cli_command_groups(const char *cmd, cli_groups *groups, unsigned *flags)
{
    const cmd_row *c = find_cmd(cmd);
    if (!c) return 0;
    if (groups) *groups = c->groups;
    if (flags) *flags = c->flags;
    return 1;
}

int cli_accepts(const char *cmd, int id)
{
    const cmd_row *c = find_cmd(cmd);
    return c && id >= 0 && id < CLI_NOPTS && (c->groups >> OPTS[id].group & 1u);
}

/* the row an option really is: an alias's target */
static const cli_option *real(int id) { return OPTS[id].kind == CLI_K_ALIAS ? &OPTS[OPTS[id].target] : &OPTS[id]; }

static int has_arg(int id)
{
    const cli_option *o = real(id);
    return o->kind == CLI_K_FLAG ? no_argument : o->kind == CLI_K_OPTSTR ? optional_argument : required_argument;
}

/* ---- word lists ---- */

/* the words of an enum row a command takes: --format html only where the command says */
static int enum_word_ok(const cli_option *o, const char *w, size_t n, unsigned flags)
{
    return !(o == &OPTS[CLI_O_FORMAT] && n == 4 && !strncmp(w, "html", 4) && !(flags & CLI_CMDF_HTML));
}

/* "a, b or c" from n words of the given lengths */
static void words_join(const char *const *w, const size_t *len, int n, char *buf, size_t cap)
{
    buf[0] = 0;
    for (int i = 0; i < n; i++) {
        size_t used = strlen(buf);
        snprintf(buf + used, cap - used, "%s%.*s", i == 0 ? "" : i == n - 1 ? " or " : ", ", (int)len[i], w[i]);
    }
}

/* "a, b or c" from "a|b|c" */
static void enum_list(const cli_option *o, unsigned flags, char *buf, size_t cap)
{
    const char *w[32];
    size_t len[32];
    int n = 0;
    for (const char *p = o->values; *p && n < 32;) {
        size_t l = strcspn(p, "|");
        if (enum_word_ok(o, p, l, flags)) w[n] = p, len[n++] = l;
        p += l;
        if (*p == '|') p++;
    }
    words_join(w, len, n, buf, cap);
}

static int enum_index(const cli_option *o, const char *arg, unsigned flags)
{
    int i = 0;
    for (const char *p = o->values; *p; i++) {
        size_t l = strcspn(p, "|");
        if (strlen(arg) == l && !strncasecmp(p, arg, l) && enum_word_ok(o, p, l, flags)) return i;
        p += l;
        if (*p == '|') p++;
    }
    return -1;
}

int cli_enum_word(int id, const char *word)
{
    const cli_option *o = &OPTS[id];
    if (o->kind != CLI_K_ENUM) return -1;
    int i = 0;
    size_t n = strlen(word);
    for (const char *p = o->values; *p; i++) {
        size_t l = strcspn(p, "|");
        if (l == n && !strncmp(p, word, n)) return i;
        p += l;
        if (*p == '|') p++;
    }
    return -1;
}

static int reg_count(const char *reg) { return !strcmp(reg, "strategy") ? mp_strategy_count() : mp_policy_count(); }

static const char *reg_name(const char *reg, int i, const char **desc)
{
    if (!strcmp(reg, "strategy")) {
        const mp_strategy *s = mp_strategy_at(i);
        if (desc) *desc = s->summary;
        return s->name;
    }
    if (desc) *desc = mp_policy_table()[i].summary;
    return mp_policy_table()[i].name;
}

/* whether w is one of the "|"-separated words of list */
static int in_list(const char *list, const char *w)
{
    size_t n = strlen(w);
    for (const char *p = list; p && *p;) {
        size_t l = strcspn(p, "|");
        if (l == n && !strncmp(p, w, n)) return 1;
        p += l;
        if (*p == '|') p++;
    }
    return 0;
}

static void names_join(const char *reg, const char *only, const char *extra, char *buf, size_t cap)
{
    const char *w[64];
    size_t len[64];
    int n = 0;
    for (int i = 0; i < reg_count(reg) && n < 64; i++) {
        const char *name = reg_name(reg, i, NULL);
        if (!only || in_list(only, name)) w[n] = name, len[n++] = strlen(name);
    }
    for (const char *p = extra; p && *p && n < 64;) {
        size_t l = strcspn(p, "|");
        w[n] = p, len[n++] = l;
        p += l;
        if (*p == '|') p++;
    }
    words_join(w, len, n, buf, cap);
}

void cli_names_list(const char *reg, const char *extra, char *buf, size_t n) { names_join(reg, NULL, extra, buf, n); }

int cli_replica_check(const char *cmd, const char *name, const char *only, const char *extra)
{
    const char *alias = mp_policy_alias_of(name);
    if (alias) fprintf(stderr, "moeplace %s: --replica %s is deprecated; use %s\n", cmd, name, alias);
    const char *canon = alias ? alias : name;
    if ((mp_policy_find(name) && (!only || in_list(only, canon))) || in_list(extra, name)) return 0;
    char list[512];
    names_join("replica", only, extra, list, sizeof list);
    return cli_usage_error(cmd, "--replica wants %s, not '%s'", list, name);
}

/* ---- parsing ---- */

static int check_value(const char *cmd, const char *flag, const cli_option *o, const char *arg, unsigned flags)
{
    int64_t i, b, e;
    double d;
    switch (o->kind) {
    case CLI_K_INT: return cli_parse_i64(cmd, flag, arg, o->ilo, o->ihi, &i);
    case CLI_K_NUM: return cli_parse_double(cmd, flag, arg, o->dlo, o->dhi, &d);
    case CLI_K_COST: {
        const mp_cost_field *f = mp_cost_field_find(o->values);
        if (f->is_int) return cli_parse_i64(cmd, flag, arg, (int64_t)f->lo, (int64_t)f->hi, &i);
        return cli_parse_double(cmd, flag, arg, f->lo, f->hi, &d);
    }
    case CLI_K_RANGE: return cli_parse_range(cmd, flag, arg, &b, &e);
    case CLI_K_ENUM:
        if (enum_index(o, arg, flags) < 0) {
            char list[256];
            enum_list(o, flags, list, sizeof list);
            cli_usage_error(cmd, "%s wants %s, not '%s'", flag, list, arg);
            return -1;
        }
        return 0;
    default: return 0;
    }
}

int cli_args_parse(cli_args *a, cli_common *c, const char *cmd, int argc, char **argv)
{
    static struct option longs[CLI_NOPTS + 1];
    char shorts[3 * CLI_NOPTS + 2];
    int nl = 0, ns = 0;
    cli_groups groups = 0;
    unsigned flags = 0;
    cli_command_groups(cmd, &groups, &flags);
    memset(a, 0, sizeof *a);
    a->cmd = cmd;
    cli_common_init(c, cmd);
    /* the command's own options first, then every other name, so that one of
     * another command is named as such instead of as unknown */
    for (int pass = 0; pass < 2; pass++)
        for (int id = 0; id < CLI_NOPTS; id++) {
            const cli_option *o = &OPTS[id];
            if ((int)(groups >> o->group & 1u) != !pass) continue;
            int dup = 0;
            for (int k = 0; k < nl && !dup; k++) dup = !strcmp(longs[k].name, o->name);
            if (!dup) longs[nl++] = (struct option){o->name, has_arg(id), NULL, 1000 + id};
            if (o->shrt && !memchr(shorts, o->shrt, (size_t)ns)) {
                shorts[ns++] = (char)o->shrt;
                if (has_arg(id) != no_argument) shorts[ns++] = ':';
            }
        }
    longs[nl] = (struct option){NULL, 0, NULL, 0};
    shorts[ns] = 0;

    int warned[CLI_NOPTS] = {0};
#ifdef __GLIBC__
    optind = 0; /* a full re-initialisation of GNU getopt */
#else
    optind = 1;
#endif
    opterr = 1;
    for (;;) {
        int li = -1, opt = getopt_long(argc, argv, shorts, longs, &li);
        if (opt == -1) break;
        if (opt == '?' || opt == ':') {
            /* getopt_long already printed what was wrong */
            fprintf(stderr, "moeplace %s: see 'moeplace help %s'\n", cmd, cmd);
            return CLI_EUSAGE;
        }
        int id = -1;
        if (opt >= 1000) {
            id = opt - 1000;
        } else {
            for (int pass = 0; pass < 2 && id < 0; pass++)
                for (int k = 0; k < CLI_NOPTS && id < 0; k++)
                    if (OPTS[k].shrt == opt && (int)(groups >> OPTS[k].group & 1u) == !pass) id = k;
        }
        if (id < 0) return cli_usage_error(cmd, "unexpected option");
        /* messages name the long spelling, whichever was typed */
        char flag[64];
        snprintf(flag, sizeof flag, "--%s", OPTS[id].name);
        if (!(groups >> OPTS[id].group & 1u)) {
            if (li < 0) snprintf(flag, sizeof flag, "-%c", opt);
            return cli_usage_error(cmd, "%s is not an option of %s", flag, cmd);
        }
        int rid = OPTS[id].kind == CLI_K_ALIAS ? OPTS[id].target : id;
        if (OPTS[id].kind == CLI_K_ALIAS && !warned[id]) {
            warned[id] = 1;
            fprintf(stderr, "moeplace %s: %s is deprecated; use --%s\n", cmd, flag, OPTS[rid].name);
        }
        if (optarg && check_value(cmd, flag, &OPTS[rid], optarg, flags)) return CLI_EUSAGE;
        if (a->nocc == CLI_OCC_MAX) return cli_usage_error(cmd, "more than %d options", CLI_OCC_MAX);
        a->occ[a->nocc].id = rid;
        a->occ[a->nocc].arg = optarg;
        a->nocc++;
    }
    a->first = optind;
    a->argc = argc;
    a->argv = argv;

    /* the options every command reads through cli_common */
    c->help = cli_has(a, CLI_O_HELP) > 0;
    c->quiet = cli_has(a, CLI_O_QUIET) > 0;
    c->wide = cli_has(a, CLI_O_WIDE) > 0;
    c->output = cli_str(a, CLI_O_OUTPUT);
    c->threads = cli_int(a, CLI_O_THREADS, CLI_THREADS_DEFAULT);
    if (cli_has(a, CLI_O_SEED)) {
        c->seed = (uint64_t)cli_i64(a, CLI_O_SEED, CLI_SEED_DEFAULT);
        c->seed_set = 1;
    }
    static const cli_format fmts[] = {CLI_FMT_TABLE, CLI_FMT_JSON, CLI_FMT_CSV, CLI_FMT_TABLE /* html */};
    c->format = fmts[cli_enum(a, CLI_O_FORMAT, 0)];
    static const mp_format files[] = {MP_FMT_MPT,    MP_FMT_NPY,    MP_FMT_CSV,       MP_FMT_JSON,
                                      MP_FMT_PT,     MP_FMT_TRTLLM, MP_FMT_VLLM_EPLB, MP_FMT_ROUTED}; /* as the rows list them */
    if (cli_has(a, CLI_O_INPUT_FORMAT)) c->in_format = files[cli_enum(a, CLI_O_INPUT_FORMAT, 0)];
    if (cli_has(a, CLI_O_TO)) c->out_format = files[cli_enum(a, CLI_O_TO, 0)];
    if (!c->help && cli_has(a, CLI_O_MODEL)) return cli_model_load(c, cli_str(a, CLI_O_MODEL));
    return 0;
}

int cli_has(const cli_args *a, int id)
{
    int n = 0;
    for (int i = 0; i < a->nocc; i++) n += a->occ[i].id == id;
    return n;
}

const char *cli_str(const cli_args *a, int id)
{
    for (int i = a->nocc - 1; i >= 0; i--)
        if (a->occ[i].id == id) return a->occ[i].arg;
    return NULL;
}

const char *cli_nth(const cli_args *a, int id, int k)
{
    for (int i = 0; i < a->nocc; i++)
        if (a->occ[i].id == id && k-- == 0) return a->occ[i].arg;
    return NULL;
}

int64_t cli_i64(const cli_args *a, int id, int64_t def)
{
    const char *s = cli_str(a, id);
    return s ? strtoll(s, NULL, 10) : def; /* checked while parsing */
}

int cli_int(const cli_args *a, int id, int def) { return (int)cli_i64(a, id, def); }

double cli_num(const cli_args *a, int id, double def)
{
    const char *s = cli_str(a, id);
    return s ? strtod(s, NULL) : def;
}

int cli_range(const cli_args *a, int id, int64_t *begin, int64_t *end)
{
    const char *s = cli_str(a, id);
    if (!s) return 0;
    /* checked while parsing: this cannot fail */
    return cli_parse_range(a->cmd, OPTS[id].name, s, begin, end) == 0;
}

int cli_enum(const cli_args *a, int id, int def)
{
    const char *s = cli_str(a, id);
    return s ? enum_index(&OPTS[id], s, CLI_CMDF_HTML) : def;
}

/* ---- help ---- */

static void help_left(const cli_option *o, int id, unsigned flags, char *buf, size_t n)
{
    char arg[128] = "";
    if (o->kind == CLI_K_ENUM) {
        size_t k = 0;
        for (const char *p = o->values; *p && k + 1 < sizeof arg;) {
            size_t l = strcspn(p, "|");
            if (enum_word_ok(o, p, l, flags)) {
                k += (size_t)snprintf(arg + k, sizeof arg - k, "%s%.*s", k ? "|" : "", (int)l, p);
                if (k >= sizeof arg) k = sizeof arg - 1;
            }
            p += l;
            if (*p == '|') p++;
        }
    } else if (o->arg) {
        snprintf(arg, sizeof arg, "%s", o->arg);
    }
    (void)id;
    if (o->kind == CLI_K_OPTSTR)
        snprintf(buf, n, "  --%s[=%s]", o->name, arg);
    else if (o->shrt)
        snprintf(buf, n, "  -%c, --%s%s%s", o->shrt, o->name, arg[0] ? " " : "", arg);
    else
        snprintf(buf, n, "  --%s%s%s", o->name, arg[0] ? " " : "", arg);
}

int cli_help(FILE *fp, const char *cmd)
{
    const cmd_row *c = find_cmd(cmd);
    if (!c) return CLI_EUSAGE;
    fputs(c->usage, fp);
    fputs("\noptions:\n", fp);
    enum { COL = 26 };
    for (int g = 0; g < CLI_NGROUPS; g++) {
        if (!(c->groups >> g & 1u)) continue;
        for (int id = 0; id < CLI_NOPTS; id++) {
            const cli_option *o = &OPTS[id];
            if (o->group != g || o->kind == CLI_K_ALIAS) continue;
            char left[192], list[512] = "";
            help_left(o, id, c->flags, left, sizeof left);
            if (o->kind == CLI_K_NAMES) {
                const char *extra = NULL, *only = NULL;
                if (!strcmp(o->values, "replica") && !strcmp(cmd, "sim")) extra = "all";
                if (!strcmp(o->values, "replica") && !strcmp(cmd, "replay")) only = "vllm-modulo|random", extra = "none";
                names_join(o->values, only, extra, list, sizeof list);
            }
            if ((int)strlen(left) >= COL - 1) fprintf(fp, "%s\n%*s", left, COL, "");
            else fprintf(fp, "%-*s", COL, left);
            fprintf(fp, "%s%s%s%s\n", o->help, list[0] ? ": " : "", list, "");
        }
    }
    return CLI_OK;
}

/* ---- man ---- */

/* a word as an mdoc argument: '-' as \- */
static void mdoc_word(FILE *fp, const char *w, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (w[i] == '-') fputs("\\-", fp);
        else fputc(w[i], fp);
    }
}

/* a line of text from a registry: never read as a macro or with escapes */
static void mdoc_text(FILE *fp, const char *s)
{
    if (s[0] == '.' || s[0] == '\'') fputs("\\&", fp);
    for (; *s; s++) {
        if (*s == '\\') fputs("\\e", fp);
        else fputc(*s, fp);
    }
    fputc('\n', fp);
}

static void mdoc_it(FILE *fp, const cli_option *o, unsigned flags)
{
    fputs(".It ", fp);
    if (o->shrt) fprintf(fp, "Fl %c , ", o->shrt);
    fputs("Fl \\-", fp);
    mdoc_word(fp, o->name, strlen(o->name));
    if (o->kind == CLI_K_ENUM) {
        fputs(" Cm", fp);
        int first = 1;
        for (const char *p = o->values; *p;) {
            size_t l = strcspn(p, "|");
            if (enum_word_ok(o, p, l, flags)) {
                fputs(first ? " " : " | ", fp);
                mdoc_word(fp, p, l);
                first = 0;
            }
            p += l;
            if (*p == '|') p++;
        }
    } else if (o->kind == CLI_K_OPTSTR) {
        fprintf(fp, " Ns Op = Ns Ar %s", o->arg);
    } else if (o->arg) {
        fprintf(fp, " Ar %s", o->arg);
    }
    fputc('\n', fp);
}

int cli_mdoc_options(FILE *fp, const char *cmd)
{
    const cmd_row *c = find_cmd(cmd);
    if (!c) return -1;
    fprintf(fp, ".Sh OPTIONS\n.Bl -tag -width Ds\n");
    for (int g = 0; g < CLI_NGROUPS; g++) {
        if (!(c->groups >> g & 1u)) continue;
        for (int id = 0; id < CLI_NOPTS; id++) {
            const cli_option *o = &OPTS[id];
            if (o->group != g || o->kind == CLI_K_ALIAS) continue;
            mdoc_it(fp, o, c->flags);
            fprintf(fp, "%s\n", o->man);
            if (o->kind == CLI_K_NAMES) {
                fprintf(fp, "The %s:\n.Bl -tag -width Ds\n", !strcmp(o->values, "replica") ? "policies" : "strategies");
                for (int i = 0; i < reg_count(o->values); i++) {
                    const char *desc, *name = reg_name(o->values, i, &desc);
                    fputs(".It Cm ", fp);
                    mdoc_word(fp, name, strlen(name));
                    fputc('\n', fp);
                    mdoc_text(fp, desc);
                }
                fprintf(fp, ".El\n");
            }
            if (o->kind == CLI_K_COST) {
                const mp_cost_field *f = mp_cost_field_find(o->values);
                fprintf(fp, "The cost file's\n.Ql %s ,\nin [%.15g, %.15g].\n", f->key, f->lo, f->hi);
            }
        }
    }
    /* the deprecated spellings still taken */
    int any = 0;
    for (int id = 0; id < CLI_NOPTS; id++) {
        const cli_option *o = &OPTS[id];
        if (o->kind != CLI_K_ALIAS || !(c->groups >> o->group & 1u)) continue;
        if (!any) fprintf(fp, ".El\n.Pp\nDeprecated spellings, taken with a warning:\n.Bl -tag -width Ds\n");
        any = 1;
        fputs(".It Fl \\-", fp);
        mdoc_word(fp, o->name, strlen(o->name));
        fputs("\nis\n.Fl \\-", fp);
        mdoc_word(fp, OPTS[o->target].name, strlen(OPTS[o->target].name));
        fputs(" .\n", fp);
    }
    fprintf(fp, ".El\n");
    return 0;
}
