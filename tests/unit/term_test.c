/* term_test.c - fitting text to a terminal (cli/term.h): the progress line
 * from done/total/elapsed, counts, cutting and wrapping text, and the choice
 * of columns, labels and widths of a table; the vocabulary's priorities and
 * short labels (traces/mp_vocab.h) they use. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "cli/term.h"
#include "traces/mp_vocab.h"

static const char *line(const char *label, const char *unit, double done, double total, double elapsed, int cols)
{
    static char buf[512];
    cli_progress_format(buf, sizeof buf, label, unit, done, total, elapsed, cols);
    return buf;
}

static void test_progress_line(void **state)
{
    (void)state;
    /* the start: 0%, no rate, no ETA yet */
    assert_string_equal(line("sim", "tokens", 0, 1000, 0, 80),
                        "sim [..............................]   0.0%  - tokens/s  ETA -:--");
    /* a quarter in 2 s: 125 tokens/s, 6 s left */
    assert_string_equal(line("sim", "tokens", 250, 1000, 2, 80),
                        "sim [#######.......................]  25.0%  125 tokens/s  ETA 0:06");
    /* done */
    assert_string_equal(line("report: replaying", "steps", 16, 16, 4, 80),
                        "report: replaying [##############################] 100.0%  4 steps/s  ETA 0:00");
    /* big counts and long waits */
    assert_string_equal(line("gen", "tokens", 1.5e6, 6e6, 3000, 80),
                        "gen [#######.......................]  25.0%  500 tokens/s  ETA 2:30:00");
    assert_string_equal(line("gen", "tokens", 3e6, 6e6, 2, 80),
                        "gen [###############...............]  50.0%  1.50M tokens/s  ETA 0:02");
    /* no total: a count, the rate and the time so far */
    assert_string_equal(line("reading", "tokens", 12345678, -1, 65, 80), "reading  12.3M tokens  190k tokens/s  1:05");
    /* a narrow terminal: a shorter bar, then none, never wider than cols - 1 */
    const char *s = line("report: locality sweep", "tokens", 500, 1000, 1, 72);
    assert_true(strlen(s) <= 71);
    assert_non_null(strstr(s, "[#######........]"));
    s = line("report: locality sweep", "tokens", 500, 1000, 1, 60);
    assert_true(strlen(s) <= 59);
    assert_null(strstr(s, "["));
    assert_non_null(strstr(s, "50.0%"));
    s = line("a very long label that does not fit at all in forty", "tokens", 1, 2, 1, 40);
    assert_true(strlen(s) <= 39);
    /* over 100% is 100% */
    assert_non_null(strstr(line("x", "steps", 12, 10, 1, 80), "100.0%"));
}

static void test_si(void **state)
{
    (void)state;
    char b[16];
    const struct {
        double v;
        const char *s;
    } k[] = {{0, "0"},       {7, "7"},         {2.5, "2.5"},      {999, "999"},  {1000, "1.00k"},
             {12345, "12.3k"}, {999499, "999k"}, {999500, "1.00M"}, {4.56e9, "4.56G"}, {-3, "0"}};
    for (size_t i = 0; i < sizeof k / sizeof k[0]; i++) {
        cli_si(b, sizeof b, k[i].v);
        assert_string_equal(b, k[i].s);
    }
}

static void test_text(void **state)
{
    (void)state;
    char b[64];
    assert_int_equal(cli_text_width("abc"), 3);
    assert_int_equal(cli_text_width("caf\xC3\xA9"), 4);
    assert_int_equal(cli_text_cut(b, sizeof b, "abcdef", 6), 6);
    assert_string_equal(b, "abcdef");
    assert_int_equal(cli_text_cut(b, sizeof b, "abcdefgh", 6), 6);
    assert_string_equal(b, "abc...");
    cli_text_cut(b, sizeof b, "\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9", 4); /* cut at a code point */
    assert_string_equal(b, "\xC3\xA9...");
    cli_text_cut(b, sizeof b, "abcdef", 2);
    assert_string_equal(b, "ab");
    /* wrapping: at the last space that fits, else hard */
    assert_int_equal(cli_wrap_next("one two three", 9), 7);
    assert_int_equal(cli_wrap_next("one two three", 13), 13);
    assert_int_equal(cli_wrap_next("one two", 3), 3);
    assert_int_equal(cli_wrap_next("abcdefghij", 4), 4);
    assert_int_equal(cli_wrap_next("", 4), 0);
}

static int width_of(const cli_fit_col *c, int n)
{
    int w = 0, k = 0;
    for (int i = 0; i < n; i++)
        if (c[i].shown) w += c[i].width + (k++ ? 2 : 0);
    return w;
}

static void test_fit(void **state)
{
    (void)state;
    /* key, a headline figure with a long name, a detail, a normal one */
    cli_fit_col c[4] = {
        {.head = 8, .shorter = 8, .data = 11, .prio = MP_PRIO_KEY, .text = 1},
        {.head = 17, .shorter = 8, .data = 6, .prio = MP_PRIO_HEAD},
        {.head = 10, .shorter = 3, .data = 6, .prio = MP_PRIO_DETAIL},
        {.head = 12, .shorter = 12, .data = 8, .prio = MP_PRIO_NORMAL},
    };
    /* room for all: whole */
    assert_int_equal(cli_fit(c, 4, 200), 11 + 17 + 10 + 12 + 6);
    for (int i = 0; i < 4; i++) assert_true(c[i].shown && !c[i].abbrev);
    /* the largest saving first: column 1's label alone is enough */
    assert_int_equal(cli_fit(c, 4, 47), 11 + 8 + 10 + 12 + 6);
    assert_true(c[1].abbrev);
    assert_false(c[2].abbrev);
    /* both labels */
    assert_int_equal(cli_fit(c, 4, 44), 11 + 8 + 6 + 12 + 6);
    assert_true(c[1].abbrev && c[2].abbrev);
    /* then the detail goes, not the key or the headline */
    int w = cli_fit(c, 4, 36);
    assert_true(w <= 36);
    assert_int_equal(w, width_of(c, 4));
    assert_true(c[0].shown && c[1].shown && c[3].shown);
    assert_false(c[2].shown);
    /* the narrowest: only the key and the headline; the key is never dropped */
    w = cli_fit(c, 4, 21);
    assert_true(w <= 21);
    assert_true(c[0].shown && c[1].shown && !c[2].shown && !c[3].shown);
    w = cli_fit(c, 4, 5);
    assert_true(c[0].shown);
    assert_int_equal(c[0].width, CLI_FIT_CUT_MIN); /* the key's text cut, no further */

    /* a last text column is cut (not below CLI_FIT_FLEX_MIN) before a column is dropped */
    cli_fit_col d[3] = {
        {.head = 4, .shorter = 4, .data = 10, .prio = MP_PRIO_KEY, .text = 1},
        {.head = 4, .shorter = 4, .data = 5, .prio = MP_PRIO_NORMAL},
        {.head = 11, .shorter = 11, .data = 70, .prio = MP_PRIO_HEAD, .text = 1},
    };
    w = cli_fit(d, 3, 60);
    assert_int_equal(w, 60);
    assert_true(d[1].shown && d[2].shown);
    assert_int_equal(d[2].width, 60 - 10 - 2 - 5 - 2);
    w = cli_fit(d, 3, 38);
    assert_true(w <= 38);
    assert_false(d[1].shown); /* dropped rather than cutting the text below its floor */
    assert_true(d[2].width >= CLI_FIT_FLEX_MIN);
    /* details go first (rightmost first), and one dropped early comes back when a later drop made room */
    cli_fit_col e[4] = {
        {.head = 3, .shorter = 3, .data = 3, .prio = MP_PRIO_KEY},
        {.head = 20, .shorter = 20, .data = 20, .prio = MP_PRIO_DETAIL},
        {.head = 4, .shorter = 4, .data = 4, .prio = MP_PRIO_DETAIL},
        {.head = 20, .shorter = 20, .data = 20, .prio = MP_PRIO_NORMAL},
    };
    w = cli_fit(e, 4, 31);
    assert_int_equal(w, 31);
    assert_false(e[1].shown);
    assert_true(e[2].shown && e[3].shown);
}

static void test_vocab_labels(void **state)
{
    (void)state;
    char b[64];
    assert_int_equal(mp_vocab_priority("strategy"), MP_PRIO_KEY);
    assert_int_equal(mp_vocab_priority("layer"), MP_PRIO_KEY);
    assert_int_equal(mp_vocab_priority("sim_max_over_mean"), MP_PRIO_HEAD);
    assert_int_equal(mp_vocab_priority("step_time_us"), MP_PRIO_HEAD);
    assert_int_equal(mp_vocab_priority("max_over_mean_mean"), MP_PRIO_HEAD);
    assert_int_equal(mp_vocab_priority("max_over_mean_p50"), MP_PRIO_DETAIL);
    assert_int_equal(mp_vocab_priority("max_over_mean_p99"), MP_PRIO_NORMAL);
    assert_int_equal(mp_vocab_priority("trtllm_imbalance"), MP_PRIO_DETAIL);
    assert_int_equal(mp_vocab_priority("no_such_name"), MP_PRIO_NORMAL);
    assert_true(mp_vocab_short("max_over_mean_p99", b, sizeof b));
    assert_string_equal(b, "m/m_p99");
    assert_true(mp_vocab_short("step_time_us", b, sizeof b));
    assert_string_equal(b, "step_us");
    assert_true(mp_vocab_short("net_MB_per_step", b, sizeof b));
    assert_string_equal(b, "net_MB");
    assert_true(mp_vocab_short("holdout_sim_max_over_mean", b, sizeof b));
    assert_string_equal(b, "ho_sim_m/m");
    assert_false(mp_vocab_short("gpu", b, sizeof b));
    assert_string_equal(b, "gpu");
    /* every name: a label no longer than it, a priority in range */
    int n;
    const mp_vocab *v = mp_vocab_table(&n);
    for (int i = 0; i < n; i++) {
        int sh = mp_vocab_short(v[i].name, b, sizeof b);
        assert_true(strlen(b) <= strlen(v[i].name));
        assert_int_equal(sh, strlen(b) < strlen(v[i].name));
        int p = mp_vocab_priority(v[i].name);
        assert_true(p >= MP_PRIO_KEY && p <= MP_PRIO_DETAIL);
    }
}

static char legend[512];
static void collect(void *ctx, const char *s, const char *f)
{
    (void)ctx;
    size_t k = strlen(legend);
    snprintf(legend + k, sizeof legend - k, "%s%s=%s", k ? "," : "", s, f);
}

static void test_vocab_legend(void **state)
{
    (void)state;
    legend[0] = '\0';
    mp_vocab_short_words("holdout_sim_max_over_mean", collect, NULL);
    assert_string_equal(legend, "ho=holdout,m/m=max_over_mean");
    legend[0] = '\0';
    mp_vocab_short_words("net_MB_per_step", collect, NULL);
    assert_string_equal(legend, "net_MB=net_MB_per_step");
    legend[0] = '\0';
    mp_vocab_short_words("step_time_us", collect, NULL);
    assert_string_equal(legend, "step_us=step_time_us");
    legend[0] = '\0';
    mp_vocab_short_words("gpu", collect, NULL);
    assert_string_equal(legend, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_progress_line), cmocka_unit_test(test_si),         cmocka_unit_test(test_text),
        cmocka_unit_test(test_fit),           cmocka_unit_test(test_vocab_labels), cmocka_unit_test(test_vocab_legend),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
