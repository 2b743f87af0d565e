/*
 * mp__json.h - a small JSON tree for the files sim/ reads (baselines);
 * internal, not part of the public API.
 *
 * Memory: mp__json_parse returns a tree freed with mp__json_free.
 */
#ifndef MP__JSON_H
#define MP__JSON_H

#include <stddef.h>

#include "traces/mp_error.h"

enum { MP__J_NULL = 0, MP__J_BOOL, MP__J_NUM, MP__J_STR, MP__J_ARR, MP__J_OBJ };

#define MP__JSON_DEPTH_MAX 32
#define MP__JSON_STR_MAX 4096

typedef struct mp__json {
    int type;
    double num;             /* NUM, BOOL (0 or 1)                 */
    char *str;              /* STR                                */
    int n;                  /* ARR, OBJ: members                  */
    char **keys;            /* OBJ: [n]                           */
    struct mp__json *kid;   /* ARR, OBJ: [n]                      */
    size_t offset;          /* byte offset of the value in the text */
} mp__json;

/* Parses len bytes; `what` names the input in messages ("FILE: offset N:
 * ...").  Rejects trailing text, duplicate keys and nesting deeper than
 * MP__JSON_DEPTH_MAX.  Returns 0, MP_EFORMAT, MP_ELIMIT or MP_ENOMEM. */
int mp__json_parse(mp__json **out, const char *text, size_t len, const char *what, mp_err *err);
void mp__json_free(mp__json *j);

/* The member `key` of an object, or NULL. */
const mp__json *mp__json_get(const mp__json *obj, const char *key);

#endif
