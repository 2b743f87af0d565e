/*
 * escape.h - every string that comes from input (a model name from a trace
 * header, a file name, a strategy or plan name, a library message quoting a
 * file) passes through the helper of the place it is written to, and only
 * through that one:
 *
 *   gnuplot script   cli_esc_gnuplot   a single-quoted string: ' doubled
 *   gnuplot data     cli_esc_gpdata    a double-quoted field: " made '
 *   Markdown         cli_esc_md        ASCII punctuation backslashed
 *   HTML             cli_esc_html      & < > " ' as entities
 *   terminal text    cli_esc_term      text only, no escape sequences
 *   CSV              cli_esc_csv       RFC 4180 quoting when needed
 *   file names       cli_esc_filename  [A-Za-z0-9._-] only
 *   JSON             mp_json_fput / mp_json_quote (traces/mp_text.h), the
 *                    one JSON escaper of the library and the command line
 *
 * Except in file names, control characters (mp_text_is_control: C0 with
 * newline and NUL, DEL, C1, bidirectional overrides) and bytes that are not
 * UTF-8 become U+FFFD, so no output line can be ended or a terminal
 * steered by input.  Nothing here starts a program: moeplace runs no shell.
 *
 * Every cli_esc_* writes into dst at most cap - 1 bytes and a NUL, never
 * cuts a character or an escape in two, and ends a text it had to cut with
 * "..." (inside the quotes, for the quoted forms); it returns the length
 * written.  cap must be at least 16.  The input is (s, n) bytes, so a NUL
 * byte inside is a control character like the others.
 *
 * Memory: cli_esc_dup returns heap memory the caller frees with free().
 */
#ifndef CLI_ESCAPE_H
#define CLI_ESCAPE_H

#include <stddef.h>

/* Labels in plots (titles, keys, tick labels) are cut to this many bytes of
 * escaped text, so that a 1 MB name draws a readable plot. */
#define CLI_ESC_LABEL_MAX 200

typedef size_t (*cli_esc_fn)(char *dst, size_t cap, const char *s, size_t n);

size_t cli_esc_gnuplot(char *dst, size_t cap, const char *s, size_t n);
size_t cli_esc_gpdata(char *dst, size_t cap, const char *s, size_t n);
size_t cli_esc_md(char *dst, size_t cap, const char *s, size_t n);
size_t cli_esc_html(char *dst, size_t cap, const char *s, size_t n);
size_t cli_esc_term(char *dst, size_t cap, const char *s, size_t n);
size_t cli_esc_csv(char *dst, size_t cap, const char *s, size_t n);
/* Only [A-Za-z0-9._-]: every other character becomes one '_', a leading '.'
 * becomes '_', and an empty name "_"; cut without "..." when too long. */
size_t cli_esc_filename(char *dst, size_t cap, const char *s, size_t n);

/* The whole of the NUL-terminated s escaped by fn, never cut; NULL when out
 * of memory. */
char *cli_esc_dup(cli_esc_fn fn, const char *s);

#endif
