/*
 * mp_jsonw.h - the one JSON writer of moeplace: values written onto a stream
 * or into a growing string, with the one string escaper (mp_text.h) and one
 * rule for numbers ("%.17g" or fixed decimals; null for NaN and infinities).
 * The caller places the punctuation and white space (mp_jw_raw), so every
 * document keeps its own layout; the writer owns escaping, numbers and error
 * tracking.
 *
 * Memory: a string writer's text is the caller's after mp_jw_take (free it
 * with free()); mp_jw_free releases it otherwise.  A stream writer owns
 * nothing.
 */
#ifndef MP_JSONW_H
#define MP_JSONW_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct mp_jw {
    FILE *fp;      /* stream sink, or NULL for a string      */
    char *s;       /* string sink: the text so far          */
    size_t n, cap;
    int failed;    /* a write failed or memory ran out      */
} mp_jw;

/* A writer onto fp (not closed by the writer). */
void mp_jw_file(mp_jw *w, FILE *fp);
/* A writer into a heap string. */
void mp_jw_string(mp_jw *w);

/* Literal JSON text: punctuation, white space, names known to need no
 * escaping.  printf-style. */
void mp_jw_raw(mp_jw *w, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* A string value, quoted and escaped (mp_json_fput's rules). */
void mp_jw_str(mp_jw *w, const char *s);
/* A member name and ": ". */
void mp_jw_key(mp_jw *w, const char *key);
/* An integer. */
void mp_jw_int(mp_jw *w, int64_t v);
/* A number with 17 significant digits (it reads back exactly); null when
 * not finite. */
void mp_jw_num(mp_jw *w, double v);
/* A number with `decimals` fixed decimals (< 0: none); null when not finite. */
void mp_jw_fixed(mp_jw *w, double v, int decimals);

/* 0, or -1 when a write failed or memory ran out. */
int mp_jw_status(const mp_jw *w);
/* The string writer's text (NUL-terminated), now the caller's; NULL when
 * memory ran out (the text is then freed). */
char *mp_jw_take(mp_jw *w);
/* Frees a string writer's text (no-op for a stream writer). */
void mp_jw_free(mp_jw *w);

#endif
