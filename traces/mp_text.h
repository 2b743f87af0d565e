/*
 * mp_text.h - strings that come from input: UTF-8 decoding, which code
 * points are controls, and the one JSON string escaper every JSON writer of
 * moeplace uses (library and command line).
 *
 * Every function takes its input as (s, n) bytes, so a NUL byte inside is
 * just another control character.
 *
 * Memory: mp_json_quote returns heap memory the caller frees with free();
 * nothing else allocates.
 */
#ifndef MP_TEXT_H
#define MP_TEXT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define MP_TEXT_REPLACEMENT 0xFFFDu /* stands for a byte that is not UTF-8 */

/* Decodes the character at s (n > 0 bytes left): returns its length 1..4 and
 * sets *cp, or returns 1 with *cp = MP_TEXT_REPLACEMENT when the byte does
 * not start a valid UTF-8 sequence (overlong forms, surrogates and code
 * points above U+10FFFF are invalid). */
size_t mp_utf8_decode(const char *s, size_t n, uint32_t *cp);

/* Encodes cp (<= U+10FFFF) into out[4]; returns its length. */
size_t mp_utf8_encode(uint32_t cp, char *out);

/* 1 for code points that steer a terminal or a layout rather than show a
 * glyph: C0 controls (NUL..U+001F), DEL, C1 controls (U+0080..U+009F), the
 * line/paragraph separators U+2028/U+2029 and the bidirectional embedding,
 * override and isolate controls (U+202A..U+202E, U+2066..U+2069). */
int mp_text_is_control(uint32_t cp);

/* Checks a name read from input: valid UTF-8 and no C0 control or DEL
 * (NUL included).  Returns NULL when it is acceptable, else a short reason
 * ("holds a control character", "is not valid UTF-8"). */
const char *mp_text_name_problem(const char *s, size_t n);

/* The offset of the first \u0000 escape in JSON text (which a JSON parser
 * would turn into a NUL that ends a C string early), or -1 when none. */
long long mp_json_nul_escape(const char *s, size_t n);

/* Writes s as a JSON string, quotes included: '"' and '\' escaped, control
 * characters (mp_text_is_control) as \uXXXX or their short forms, so the
 * text is kept but shows no control to a reader; every byte that is not
 * valid UTF-8 as \ufffd; other characters as they are.
 * Returns 0, or -1 when the stream reports an error. */
int mp_json_fput(FILE *fp, const char *s, size_t n);

/* The same text in a NUL-terminated heap string (quotes included); *len
 * (may be NULL) gets its length.  NULL when out of memory. */
char *mp_json_quote(const char *s, size_t n, size_t *len);

#endif
