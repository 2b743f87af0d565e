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

#include <stddef.h>

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

/* ---- narrow terminals: which columns a table keeps, and shorter headers ----
 * A table too wide for the terminal keeps its columns by priority and may
 * print a short label in place of a name (a legend names it in full).  The
 * priority of NAME: MP_PRIO_KEY for columns that say which row it is (never
 * dropped), MP_PRIO_HEAD for headline figures, MP_PRIO_DETAIL for figures
 * that repeat others (percentiles, engine-specific spellings of the balance),
 * MP_PRIO_NORMAL for the rest and for names the vocabulary does not hold. */
enum { MP_PRIO_KEY = 0, MP_PRIO_HEAD, MP_PRIO_NORMAL, MP_PRIO_DETAIL };
int mp_vocab_priority(const char *name);

/* Writes NAME's short label into buf (n bytes, truncated to fit): the one
 * listed for it, else NAME with long words shortened ("max_over_mean" ->
 * "m/m", "balancedness" -> "bal", ...; a family member keeps its suffix).
 * Returns 1 when the label is shorter than NAME, 0 when it is NAME. */
int mp_vocab_short(const char *name, char *buf, size_t n);

/* What NAME's short label abbreviates, for a legend: calls each(ctx, SHORT,
 * FULL) once per listed label ("step_us", "step_time_us") or word rule used
 * ("m/m", "max_over_mean"); a rule that drops a word names the whole label
 * ("net_MB", "net_MB_per_step").  Calls nothing when NAME has no shorter label. */
void mp_vocab_short_words(const char *name, void (*each)(void *ctx, const char *shorter, const char *full), void *ctx);

/* "lower", "higher" or "none". */
const char *mp_vocab_direction_name(int direction);

#endif
