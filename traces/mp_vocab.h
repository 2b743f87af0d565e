/*
 * mp_vocab.h - the output vocabulary: one table of every name moeplace
 * exports (figures, labels, table names, baseline metrics), each with its
 * unit, which direction is better, how many decimals text shows, and one line
 * saying what it is.  Every table, JSON and CSV writer of the command line
 * names its figures from here, and the baseline metrics of sim/mp_check.h
 * are entries of it, so a figure has one spelling everywhere.
 *
 * A plain data table at the ground layer, so that every folder can use it.
 *
 * Families: an entry marked MP_VOCAB_DIST also stands for the five summary
 * names NAME_mean, NAME_p50, NAME_p90, NAME_p99 and NAME_max (a distribution
 * over steps or layers); one marked MP_VOCAB_INDEXED stands for NAME followed
 * by a decimal index (to_0, to_1, ...).
 *
 * Memory: everything returned is static.
 */
#ifndef MP_VOCAB_H
#define MP_VOCAB_H

enum { MP_DIR_NONE = 0, MP_DIR_LOWER, MP_DIR_HIGHER }; /* which direction is better */
enum { MP_VOCAB_EXACT = 0, MP_VOCAB_DIST, MP_VOCAB_INDEXED };

typedef struct mp_vocab {
    const char *name;  /* "max_over_mean"                                         */
    const char *unit;  /* "ratio", "us", "bytes", "count", "text", "table" ...      */
    int direction;     /* MP_DIR_*                                                  */
    int decimals;      /* decimals in text output; -1: an integer or text           */
    int family;        /* MP_VOCAB_*                                                */
    const char *was;   /* the spelling before schema_version 2, or NULL             */
    const char *desc;  /* one line                                                  */
} mp_vocab;

/* The entries, sorted by name; *n gets their count. */
const mp_vocab *mp_vocab_table(int *n);

/* The entry that `name` is spelled by (exactly, or as a member of a DIST or
 * INDEXED family), or NULL when the vocabulary does not hold it. */
const mp_vocab *mp_vocab_find(const char *name);

/* The entry whose spelling before schema_version 2 was exactly `old`, or
 * NULL.  For readers of files written before the names were unified. */
const mp_vocab *mp_vocab_find_was(const char *old);

/* "lower", "higher" or "none". */
const char *mp_vocab_direction_name(int direction);

#endif
