/*
 * mp_error.h - the one error convention of libmoeplace.
 *
 * Every fallible function returns an int status: 0 on success or a negative
 * MP_E* code.  Functions that can blame their input also take an `mp_err *`
 * (which may be NULL); on failure they fill it with the code and a one-line
 * message naming the file and the offset or line at fault, e.g.
 *   "trace.mpt: offset 4096: chunk 3: CRC mismatch (stored 1a2b3c4d, computed 99aa00ff)".
 * mp_err holds no heap memory: it is a plain value the caller owns.
 */
#ifndef MP_ERROR_H
#define MP_ERROR_H

#include <stddef.h>

#define MP_OK 0
#define MP_EINVAL (-1)       /* bad argument from the caller (a usage error)  */
#define MP_ENOMEM (-2)       /* out of memory                                  */
#define MP_EIO (-3)          /* the operating system refused a read or write   */
#define MP_EFORMAT (-4)      /* malformed input: syntax, truncation, bad field */
#define MP_ECRC (-5)         /* checksum mismatch                              */
#define MP_EVERSION (-6)     /* unsupported format version                     */
#define MP_ERANGE (-7)       /* a value out of range (expert id >= E, NaN ...) */
#define MP_ESHAPE (-8)       /* ragged or mismatched shapes                    */
#define MP_ELIMIT (-9)       /* sizes that overflow or need absurd memory      */
#define MP_EUNSUPPORTED (-10) /* valid but not supported (dtype, conversion)   */
#define MP_ENOTFOUND (-11)   /* a named thing (preset, strategy, file) absent  */
#define MP_ECODE_MIN (-11)

#define MP_ERR_MSG_MAX 512

typedef struct mp_err {
    int code;                  /* 0 or the MP_E* code of the failure */
    char msg[MP_ERR_MSG_MAX];  /* one line, no trailing newline      */
} mp_err;

/* A short fixed description of a status code ("malformed input", ...).
 * Never NULL; the string is static. */
const char *mp_strerror(int code);

/* Fills *err (when err is not NULL) with code and a printf-style message and
 * returns code, so that failures read `return mp_err_set(err, MP_EFORMAT, ...)`. */
int mp_err_set(mp_err *err, int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Clears *err (NULL is fine). */
void mp_err_clear(mp_err *err);

/* Multiplies two non-negative sizes; returns 0 and stores the product, or
 * MP_ELIMIT when it would exceed `limit` (or overflow). */
int mp_mul_size(size_t a, size_t b, size_t limit, size_t *out);

#endif
