/* escape_test.c - the escaping helpers (cli/escape.h), the JSON escaper and
 * UTF-8 decoding (traces/mp_text.h), and model names refused when read. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/escape.h"
#include "traces/mp_model.h"
#include "traces/mp_text.h"

#define FFFD "\xEF\xBF\xBD"
#define BIG ((size_t)1 << 20)

/* escapes the NUL-terminated s into a roomy buffer */
static const char *esc(cli_esc_fn fn, const char *s)
{
    static char buf[4096];
    fn(buf, sizeof buf, s, strlen(s));
    return buf;
}

static int valid_utf8(const char *s, size_t n) { return mp_text_name_problem(s, n) == NULL; }

/* 1 when s is exactly one gnuplot single-quoted string: '...' where a quote only comes as '' */
static int one_gnuplot_string(const char *s)
{
    size_t n = strlen(s);
    if (n < 2 || s[0] != '\'' || s[n - 1] != '\'') return 0;
    for (size_t i = 1; i + 1 < n; i++) {
        if (s[i] == '\n' || s[i] == '\r') return 0;
        if (s[i] == '\'') {
            if (i + 2 >= n || s[i + 1] != '\'') return 0;
            i++;
        }
    }
    return 1;
}

static char *repeat(const char *unit, size_t count)
{
    size_t u = strlen(unit);
    char *s = malloc(u * count + 1);
    assert_non_null(s);
    for (size_t i = 0; i < count; i++) memcpy(s + i * u, unit, u);
    s[u * count] = 0;
    return s;
}

static void test_gnuplot_quotes(void **state)
{
    (void)state;
    assert_string_equal(esc(cli_esc_gnuplot, "deepseek-v3"), "'deepseek-v3'");
    const char *evil = "x'; system('touch pwned'); print '";
    const char *out = esc(cli_esc_gnuplot, evil);
    assert_string_equal(out, "'x''; system(''touch pwned''); print '''");
    assert_true(one_gnuplot_string(out));
    /* backslashes, backquotes, $(), @macros and ; are literal inside single quotes: kept as they are */
    assert_string_equal(esc(cli_esc_gnuplot, "a\\'`id`$(id)@m;b"), "'a\\''`id`$(id)@m;b'");
    assert_true(one_gnuplot_string(esc(cli_esc_gnuplot, "a\\'`id`$(id)@m;b")));
    /* a newline would end the command: never written */
    out = esc(cli_esc_gnuplot, "a\nsystem('id')\r\x1b");
    assert_null(strchr(out, '\n'));
    assert_null(strchr(out, '\r'));
    assert_string_equal(out, "'a" FFFD "system(''id'')" FFFD FFFD "'");
    assert_string_equal(esc(cli_esc_gnuplot, ""), "''");
}

static void test_gnuplot_nul_and_cap(void **state)
{
    (void)state;
    char buf[CLI_ESC_LABEL_MAX + 1];
    size_t n = cli_esc_gnuplot(buf, sizeof buf, "a\0'\nb", 5);
    assert_int_equal(n, strlen(buf));
    assert_string_equal(buf, "'a" FFFD "''" FFFD "b'");
    /* 1 MB of quotes: cut to the cap, never between the two quotes of a pair */
    char *q = repeat("'", BIG);
    n = cli_esc_gnuplot(buf, sizeof buf, q, BIG);
    assert_true(n <= CLI_ESC_LABEL_MAX);
    assert_true(one_gnuplot_string(buf));
    assert_non_null(strstr(buf, "...'"));
    free(q);
    /* 1 MB of two-byte characters: cut on a character boundary */
    q = repeat("\xC3\xA9", BIG / 2);
    n = cli_esc_gnuplot(buf, sizeof buf, q, BIG);
    assert_true(n <= CLI_ESC_LABEL_MAX && n > CLI_ESC_LABEL_MAX - 8);
    assert_true(valid_utf8(buf, n));
    assert_true(one_gnuplot_string(buf));
    free(q);
    /* too small a buffer: an empty string, not a broken one */
    char tiny[4];
    assert_int_equal(cli_esc_gnuplot(tiny, sizeof tiny, "abcdef", 6), 0);
    assert_string_equal(tiny, "");
}

static void test_gpdata(void **state)
{
    (void)state;
    assert_string_equal(esc(cli_esc_gpdata, "round-robin"), "\"round-robin\"");
    assert_string_equal(esc(cli_esc_gpdata, "a \"b\"\nc"), "\"a 'b'" FFFD "c\"");
}

static void test_markdown(void **state)
{
    (void)state;
    assert_string_equal(esc(cli_esc_md, "<script>alert(1)</script>"), "\\<script\\>alert\\(1\\)\\<\\/script\\>");
    assert_string_equal(esc(cli_esc_md, "a|b"), "a\\|b");
    assert_string_equal(esc(cli_esc_md, "$(rm -rf x)`id`"), "\\$\\(rm \\-rf x\\)\\`id\\`");
    assert_string_equal(esc(cli_esc_md, "[x](javascript:y) ![i](u) *b* _i_ #h {c} +.!\\"),
                        "\\[x\\]\\(javascript\\:y\\) \\!\\[i\\]\\(u\\) \\*b\\* \\_i\\_ \\#h \\{c\\} \\+\\.\\!\\\\");
    assert_string_equal(esc(cli_esc_md, " a b "), "&#32;a b&#32;");
    assert_string_equal(esc(cli_esc_md, "l1\nl2\r\x7f"), "l1" FFFD "l2" FFFD FFFD);
    assert_string_equal(esc(cli_esc_md, "qwen3-235b"), "qwen3\\-235b");
    assert_string_equal(esc(cli_esc_md, "\xE6\xA8\xA1\xE5\x9E\x8B"), "\xE6\xA8\xA1\xE5\x9E\x8B"); /* text stays */
}

static void test_html(void **state)
{
    (void)state;
    assert_string_equal(esc(cli_esc_html, "<script>alert(\"x\")</script> & 'y'"),
                        "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;y&#39;");
    assert_string_equal(esc(cli_esc_html, "a\nb\x01"), "a" FFFD "b" FFFD);
    /* a cut never splits an entity */
    char buf[20];
    size_t n = cli_esc_html(buf, sizeof buf, "<<<<<<<<<<", 10);
    assert_string_equal(buf, "&lt;&lt;&lt;&lt;...");
    assert_int_equal(n, 19);
}

static void test_term(void **state)
{
    (void)state;
    assert_string_equal(esc(cli_esc_term, "\x1b[2J\x1b]0;title\x07ok"), FFFD "[2J" FFFD "]0;title" FFFD "ok");
    assert_string_equal(esc(cli_esc_term, "c1\xC2\x9B" "31m"), "c1" FFFD "31m");   /* C1 CSI */
    assert_string_equal(esc(cli_esc_term, "bidi\xE2\x80\xAE" "x"), "bidi" FFFD "x"); /* U+202E */
    assert_string_equal(esc(cli_esc_term, "raw\x9b" "x\xff"), "raw" FFFD "x" FFFD);  /* not UTF-8 */
    assert_string_equal(esc(cli_esc_term, "caf\xC3\xA9 \xF0\x9F\x98\x80"), "caf\xC3\xA9 \xF0\x9F\x98\x80");
}

static void test_csv(void **state)
{
    (void)state;
    assert_string_equal(esc(cli_esc_csv, "plain"), "plain");
    assert_string_equal(esc(cli_esc_csv, "a,b"), "\"a,b\"");
    assert_string_equal(esc(cli_esc_csv, "say \"hi\""), "\"say \"\"hi\"\"\"");
    assert_string_equal(esc(cli_esc_csv, "# table"), "\"# table\"");
    assert_string_equal(esc(cli_esc_csv, " pad"), "\" pad\"");
    assert_string_equal(esc(cli_esc_csv, "l1\nl2"), "l1" FFFD "l2");
    assert_string_equal(esc(cli_esc_csv, ""), "");
}

static void test_filename(void **state)
{
    (void)state;
    assert_string_equal(esc(cli_esc_filename, "round-robin"), "round-robin");
    assert_string_equal(esc(cli_esc_filename, "../../etc/passwd"), "_._.._etc_passwd");
    assert_string_equal(esc(cli_esc_filename, ".hidden"), "_hidden");
    assert_string_equal(esc(cli_esc_filename, ""), "_");
    assert_string_equal(esc(cli_esc_filename, "a b'$(x)\xC3\xA9"), "a_b___x__");
    char buf[32];
    char *big = repeat("a/", BIG / 2);
    assert_int_equal(cli_esc_filename(buf, sizeof buf, big, BIG), 31);
    assert_string_equal(buf, "a_a_a_a_a_a_a_a_a_a_a_a_a_a_a_a");
    free(big);
    assert_int_equal(cli_esc_filename(buf, sizeof buf, "\0\0", 2), 2);
    assert_string_equal(buf, "__");
}

static void test_dup_never_cuts(void **state)
{
    (void)state;
    char *big = repeat("\"<'", BIG / 3);
    size_t n = strlen(big);
    char *h = cli_esc_dup(cli_esc_html, big);
    assert_non_null(h);
    assert_int_equal(strlen(h), (n / 3) * (6 + 4 + 5));
    assert_null(strstr(h, "..."));
    free(h);
    char *m = cli_esc_dup(cli_esc_md, big);
    assert_non_null(m);
    assert_int_equal(strlen(m), 2 * n);
    free(m);
    free(big);
}

static void test_utf8_decode(void **state)
{
    (void)state;
    uint32_t cp;
    assert_int_equal(mp_utf8_decode("\xC3\xA9", 2, &cp), 2);
    assert_int_equal(cp, 0xE9);
    assert_int_equal(mp_utf8_decode("\xF0\x9F\x98\x80", 4, &cp), 4);
    assert_int_equal(cp, 0x1F600);
    static const char *const bad[] = {"\xC0\xAF", "\xE0\x80\xAF", "\xED\xA0\x80", "\xF4\x90\x80\x80", "\xE2\x82",
                                      "\x80", "\xFF"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(mp_utf8_decode(bad[i], strlen(bad[i]), &cp), 1);
        assert_int_equal(cp, MP_TEXT_REPLACEMENT);
    }
    char out[4];
    assert_int_equal(mp_utf8_encode(0x20AC, out), 3);
    assert_memory_equal(out, "\xE2\x82\xAC", 3);
    assert_true(mp_text_is_control(0) && mp_text_is_control(0x1B) && mp_text_is_control(0x7F));
    assert_true(mp_text_is_control(0x9B) && mp_text_is_control(0x202E) && mp_text_is_control(0x2028));
    assert_false(mp_text_is_control('a') || mp_text_is_control(0xE9) || mp_text_is_control(0xFFFD));
}

static void test_json_quote(void **state)
{
    (void)state;
    size_t n;
    char *q = mp_json_quote("say \"hi\" \\ /", 12, &n);
    assert_string_equal(q, "\"say \\\"hi\\\" \\\\ /\"");
    assert_int_equal(n, strlen(q));
    free(q);
    q = mp_json_quote("a\0b\n\t\x1b\x7f", 7, NULL);
    assert_string_equal(q, "\"a\\u0000b\\n\\t\\u001b\\u007f\"");
    free(q);
    q = mp_json_quote("\xff\xC3\xA9\xE2\x80\xA8<script>", 14, NULL);
    assert_string_equal(q, "\"\\ufffd\xC3\xA9\\u2028<script>\"");
    free(q);
    q = mp_json_quote("\xC2\x9B\xE2\x80\xAE", 5, NULL); /* C1 CSI, right-to-left override */
    assert_string_equal(q, "\"\\u009b\\u202e\"");
    free(q);
    /* the stream form writes the same bytes */
    char *mem = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&mem, &len);
    assert_non_null(fp);
    assert_int_equal(mp_json_fput(fp, "x\"\x01\xC3", 4), 0);
    fclose(fp);
    q = mp_json_quote("x\"\x01\xC3", 4, NULL);
    assert_string_equal(mem, q);
    assert_string_equal(q, "\"x\\\"\\u0001\\ufffd\"");
    free(q);
    free(mem);
    /* 1 MB: whole, and fast enough to be a non-event */
    char *big = repeat("\"", BIG);
    q = mp_json_quote(big, BIG, &n);
    assert_non_null(q);
    assert_int_equal(n, 2 * BIG + 2);
    free(q);
    free(big);
}

static void test_json_nul_escape(void **state)
{
    (void)state;
    const char *a = "{\"name\": \"ab\\u0000cd\"}";
    assert_int_equal(mp_json_nul_escape(a, strlen(a)), 12);
    const char *b = "{\"name\": \"ab\\\\u0000cd\"}"; /* a backslash, then the text u0000 */
    assert_int_equal(mp_json_nul_escape(b, strlen(b)), -1);
    const char *c = "{\"name\": \"\\\\\\u0000\"}";
    assert_int_equal(mp_json_nul_escape(c, strlen(c)), 12);
    assert_int_equal(mp_json_nul_escape("\\u000", 5), -1);
}

static int model_with_name(const char *json_name, mp_err *err)
{
    size_t n = strlen(json_name);
    char *s = malloc(n + 64);
    assert_non_null(s);
    sprintf(s, "{\"name\": %s, \"layers\": 2, \"experts\": 4, \"top_k\": 2}", json_name);
    mp_model m;
    int rc = mp_model_from_json(&m, s, strlen(s), "evil.csv: line 1", err);
    free(s);
    return rc;
}

static void test_model_names_read(void **state)
{
    (void)state;
    mp_err err;
    /* names are data: quotes and shell text are kept (and escaped wherever they are written) */
    assert_int_equal(model_with_name("\"x'; system('touch pwned'); print '\"", &err), 0);
    assert_int_equal(model_with_name("\"$(id) `id` <b>\"", &err), 0);
    assert_int_equal(model_with_name("null", &err), 0);
    assert_int_equal(model_with_name("\"ab\\u0000cd\"", &err), MP_EFORMAT);
    assert_non_null(strstr(err.msg, "evil.csv: line 1"));
    assert_non_null(strstr(err.msg, "NUL"));
    assert_int_equal(model_with_name("\"a\\nb\"", &err), MP_EFORMAT);
    assert_non_null(strstr(err.msg, "control character"));
    assert_int_equal(model_with_name("\"\xff\"", &err), MP_EFORMAT);
    assert_non_null(strstr(err.msg, "UTF-8"));
    assert_int_equal(model_with_name("42", &err), MP_EFORMAT);
    /* longer than the field: refused, not cut; a 1 MB name is refused quickly */
    char name[80];
    memset(name, 'n', sizeof name);
    name[0] = '"';
    name[64 + 1] = '"';
    name[64 + 2] = 0;
    assert_int_equal(model_with_name(name, &err), MP_ERANGE);
    assert_non_null(strstr(err.msg, "64 bytes"));
    name[63 + 1] = '"';
    name[63 + 2] = 0;
    assert_int_equal(model_with_name(name, &err), 0);
    char *big = repeat("\\\"", BIG / 2);
    char *json = malloc(BIG + 3);
    assert_non_null(json);
    sprintf(json, "\"%s\"", big);
    assert_int_equal(model_with_name(json, &err), MP_ERANGE);
    assert_non_null(strstr(err.msg, "524288 bytes"));
    free(json);
    free(big);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gnuplot_quotes),  cmocka_unit_test(test_gnuplot_nul_and_cap),
        cmocka_unit_test(test_gpdata),          cmocka_unit_test(test_markdown),
        cmocka_unit_test(test_html),            cmocka_unit_test(test_term),
        cmocka_unit_test(test_csv),             cmocka_unit_test(test_filename),
        cmocka_unit_test(test_dup_never_cuts),  cmocka_unit_test(test_utf8_decode),
        cmocka_unit_test(test_json_quote),      cmocka_unit_test(test_json_nul_escape),
        cmocka_unit_test(test_model_names_read),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
