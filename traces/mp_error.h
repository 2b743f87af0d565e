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

/* The one list of status codes (libuv's UV_ERRNO_MAP style): the constants,
 * mp_strerror and mp_err_name are all generated from it, so they cannot
 * disagree.  XX(NAME, value, description). */
#define MP_ERRNO_MAP(XX)                                                                                   \
    XX(EINVAL, -1, "invalid argument")            /* bad argument from the caller (a usage error)  */      \
    XX(ENOMEM, -2, "out of memory")               /* out of memory                                  */     \
    XX(EIO, -3, "input/output error")             /* the operating system refused a read or write   */     \
    XX(EFORMAT, -4, "malformed input")            /* malformed input: syntax, truncation, bad field */     \
    XX(ECRC, -5, "checksum mismatch")             /* checksum mismatch                              */     \
    XX(EVERSION, -6, "unsupported format version") /* unsupported format version                    */     \
    XX(ERANGE, -7, "value out of range")          /* a value out of range (expert id >= E, NaN ...) */     \
    XX(ESHAPE, -8, "mismatched shape")            /* ragged or mismatched shapes                    */     \
    XX(ELIMIT, -9, "size limit exceeded")         /* sizes that overflow or need absurd memory      */     \
    XX(EUNSUPPORTED, -10, "not supported")        /* valid but not supported (dtype, conversion)   */      \
    XX(ENOTFOUND, -11, "not found")               /* a named thing (preset, strategy, file) absent  */

#define MP_OK 0
enum {
#define MP__ERR_ENUM(name, val, desc) MP_##name = (val),
    MP_ERRNO_MAP(MP__ERR_ENUM)
#undef MP__ERR_ENUM
};
/* The codes run -1, -2, ... down to MP_ECODE_MIN with no gap (error_test checks). */
#define MP__ERR_ONE(name, val, desc) +1
enum { MP_ECODE_COUNT = 0 MP_ERRNO_MAP(MP__ERR_ONE) };
#undef MP__ERR_ONE
#define MP_ECODE_MIN (-MP_ECODE_COUNT)

#define MP_ERR_MSG_MAX 512

typedef struct mp_err {
    int code;                  /* 0 or the MP_E* code of the failure */
    char msg[MP_ERR_MSG_MAX];  /* one line, no trailing newline      */
} mp_err;

/* A short fixed description of a status code ("malformed input", ...).
 * Never NULL; the string is static. */
const char *mp_strerror(int code);

/* The constant's name of a status code ("MP_EFORMAT", "MP_OK"), or
 * "MP_E_UNKNOWN" for a code not in MP_ERRNO_MAP.  Never NULL; static. */
const char *mp_err_name(int code);

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
