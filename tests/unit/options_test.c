/* options_test.c - the option table (cli/options.def) and the command table
 * (cli/commands.def) hold together: no command accepts two options of one
 * spelling, every group is some command's, aliases lead to options their
 * commands take, ranges are ranges, help is one line, man text is mdoc. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "cli/options.h"

typedef struct row {
    const char *name;
    int shrt, group, alias_of;
    int64_t ilo, ihi;
    double dlo, dhi;
    const char *help, *man, *values;
} row;

static const row ROWS[CLI_NOPTS] = {
#define R(id, l, s, g, ilo, ihi, dlo, dhi, tgt, help, man, vals) \
    [CLI_O_##id] = {l, s, CLI_GROUP_##g, tgt, ilo, ihi, dlo, dhi, help, man, vals},
#define CLI_FLAG(id, l, s, g, help, man) R(id, l, s, g, 0, 0, 0, 0, -1, help, man, NULL)
#define CLI_STR(id, l, s, arg, g, help, man) R(id, l, s, g, 0, 0, 0, 0, -1, help, man, NULL)
#define CLI_INT(id, l, s, arg, g, lo, hi, help, man) R(id, l, s, g, lo, hi, 0, 0, -1, help, man, NULL)
#define CLI_NUM(id, l, s, arg, g, lo, hi, help, man) R(id, l, s, g, 0, 0, lo, hi, -1, help, man, NULL)
#define CLI_COST(id, l, arg, g, key, help, man) R(id, l, 0, g, 0, 0, 0, 0, -1, help, man, NULL)
#define CLI_RANGE(id, l, s, arg, g, help, man) R(id, l, s, g, 0, 0, 0, 0, -1, help, man, NULL)
#define CLI_ENUM(id, l, s, g, values, help, man) R(id, l, s, g, 0, 0, 0, 0, -1, help, man, values)
#define CLI_NAMES(id, l, arg, g, reg, help, man) R(id, l, 0, g, 0, 0, 0, 0, -1, help, man, NULL)
#define CLI_OPTSTR(id, l, arg, g, help, man) R(id, l, 0, g, 0, 0, 0, 0, -1, help, man, NULL)
#define CLI_ALIAS(id, l, g, tgt) R(id, l, 0, g, 0, 0, 0, 0, CLI_O_##tgt, NULL, NULL, NULL)
#include "cli/options.def"
#undef R
};

typedef struct cmd {
    const char *name;
    cli_groups groups;
} cmd;

static const cmd CMDS[] = {
#define CLI_CMD(n, s, g, f) {#n, g},
#include "cli/commands.def"
#undef CLI_CMD
};
#define NCMDS ((int)(sizeof CMDS / sizeof CMDS[0]))

static int takes(const cmd *c, int id) { return (int)(c->groups >> ROWS[id].group & 1u); }

static void no_command_takes_a_spelling_twice(void **state)
{
    (void)state;
    for (int c = 0; c < NCMDS; c++)
        for (int i = 0; i < CLI_NOPTS; i++)
            for (int j = i + 1; j < CLI_NOPTS; j++) {
                if (!takes(&CMDS[c], i) || !takes(&CMDS[c], j)) continue;
                if (!strcmp(ROWS[i].name, ROWS[j].name))
                    fail_msg("%s takes --%s twice (rows %d and %d)", CMDS[c].name, ROWS[i].name, i, j);
                if (ROWS[i].shrt && ROWS[i].shrt == ROWS[j].shrt)
                    fail_msg("%s takes -%c twice (--%s, --%s)", CMDS[c].name, ROWS[i].shrt, ROWS[i].name, ROWS[j].name);
            }
}

static void every_group_is_a_commands(void **state)
{
    (void)state;
    cli_groups all = 0;
    for (int c = 0; c < NCMDS; c++) all |= CMDS[c].groups;
    for (int g = 0; g < CLI_NGROUPS; g++)
        if (!(all >> g & 1u)) fail_msg("group %d is no command's", g);
    for (int id = 0; id < CLI_NOPTS; id++) assert_true(ROWS[id].group >= 0 && ROWS[id].group < CLI_NGROUPS);
    /* and every command takes help and the common group */
    for (int c = 0; c < NCMDS; c++) assert_true(takes(&CMDS[c], CLI_O_HELP) && takes(&CMDS[c], CLI_O_OUTPUT));
}

static void aliases_lead_to_options_their_commands_take(void **state)
{
    (void)state;
    for (int id = 0; id < CLI_NOPTS; id++) {
        int t = ROWS[id].alias_of;
        if (t < 0) continue;
        assert_true(t < CLI_NOPTS);
        assert_int_equal(ROWS[t].alias_of, -1); /* no alias of an alias */
        for (int c = 0; c < NCMDS; c++)
            if (takes(&CMDS[c], id) && !takes(&CMDS[c], t))
                fail_msg("%s takes --%s but not --%s it spells", CMDS[c].name, ROWS[id].name, ROWS[t].name);
    }
}

static void ranges_and_texts(void **state)
{
    (void)state;
    for (int id = 0; id < CLI_NOPTS; id++) {
        const row *r = &ROWS[id];
        assert_non_null(r->name);
        assert_true(strlen(r->name) > 1 && r->name[0] != '-');
        assert_true(r->ilo <= r->ihi);
        assert_true(r->dlo <= r->dhi);
        if (r->alias_of >= 0) continue;
        assert_non_null(r->help);
        assert_non_null(r->man);
        if (strchr(r->help, '\n') || !r->help[0]) fail_msg("--%s: help is not one line", r->name);
        /* mdoc: no empty line, no line starting with a blank or a quote, no trailing blank */
        const char *p = r->man;
        for (;;) {
            size_t n = strcspn(p, "\n");
            if (n == 0 || p[0] == ' ' || p[0] == '\'' || p[n - 1] == ' ')
                fail_msg("--%s: man line '%.*s' is not mdoc-clean", r->name, (int)n, p);
            if (!p[n]) break;
            p += n + 1;
        }
        if (r->values && (!r->values[0] || strstr(r->values, "||") || r->values[strlen(r->values) - 1] == '|'))
            fail_msg("--%s: bad word list '%s'", r->name, r->values);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(no_command_takes_a_spelling_twice),
        cmocka_unit_test(every_group_is_a_commands),
        cmocka_unit_test(aliases_lead_to_options_their_commands_take),
        cmocka_unit_test(ranges_and_texts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
