/* vocab.c - `moeplace help metrics [NAME...] [--format F]`: the output
 * vocabulary (traces/mp_vocab.h) as a document, whole or for some names. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "traces/mp_vocab.h"

/* the name as users meet it: a family shows its members' pattern */
static void shown_name(const mp_vocab *v, char *buf, size_t cap)
{
    if (v->family == MP_VOCAB_DIST) snprintf(buf, cap, "%s[_mean|_p50|_p90|_p99|_max]", v->name);
    else if (v->family == MP_VOCAB_INDEXED) snprintf(buf, cap, "%sN", v->name);
    else snprintf(buf, cap, "%s", v->name);
}

static void row(cli_tab *t, const mp_vocab *v)
{
    char name[96];
    shown_name(v, name, sizeof name);
    cli_tab_str(t, name);
    cli_tab_str(t, v->unit);
    cli_tab_str(t, mp_vocab_direction_name(v->direction));
    cli_tab_int(t, v->decimals);
    cli_tab_str(t, v->was ? v->was : "-");
    cli_tab_str(t, v->desc);
}

int cli_help_metrics(int argc, char **argv)
{
    cli_common c;
    cli_common_init(&c, "help");
    const char *names[256];
    int nnames = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--format") == 0 || strncmp(a, "--format=", 9) == 0) {
            const char *v = a[8] == '=' ? a + 9 : (i + 1 < argc ? argv[++i] : NULL);
            if (!v) return cli_usage_error("help", "--format wants table, json or csv");
            if (strcmp(v, "table") == 0) c.format = CLI_FMT_TABLE;
            else if (strcmp(v, "json") == 0) c.format = CLI_FMT_JSON;
            else if (strcmp(v, "csv") == 0) c.format = CLI_FMT_CSV;
            else return cli_usage_error("help", "--format wants table, json or csv, not '%s'", v);
        } else if (strcmp(a, "--wide") == 0) {
            c.wide = 1;
        } else if (a[0] == '-' && a[1]) {
            return cli_usage_error("help", "unknown option '%s' (help metrics takes --format, --wide and names)", a);
        } else if (nnames < (int)(sizeof names / sizeof names[0])) {
            names[nnames++] = a;
        } else {
            return cli_usage_error("help", "more than %d names", (int)(sizeof names / sizeof names[0]));
        }
    }
    cli_doc *d = cli_doc_create("moeplace.vocabulary");
    cli_tab *t = cli_doc_table(d, "vocabulary", "every name moeplace outputs (better: which direction is better)");
    cli_tab_col(t, "name", -1);
    cli_tab_col(t, "unit", -1);
    cli_tab_col(t, "better", -1);
    cli_tab_col(t, "decimals", -1);
    cli_tab_col(t, "was", -1);
    cli_tab_col(t, "description", -1);
    int missing = 0;
    if (nnames == 0) {
        int n;
        const mp_vocab *v = mp_vocab_table(&n);
        for (int i = 0; i < n; i++) row(t, &v[i]);
    }
    for (int i = 0; i < nnames; i++) {
        const mp_vocab *v = mp_vocab_find(names[i]);
        if (v) {
            row(t, v);
            continue;
        }
        const mp_vocab *now = mp_vocab_find_was(names[i]);
        if (now) cli_message("moeplace help: '%s' is not in the vocabulary (renamed %s in schema_version 2)", names[i], now->name);
        else cli_message("moeplace help: '%s' is not in the vocabulary", names[i]);
        missing++;
    }
    int rc = cli_doc_emit(d, &c);
    cli_doc_destroy(d);
    return rc ? rc : missing ? CLI_EDATA : CLI_OK;
}
