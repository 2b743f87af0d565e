#include "traces/mp_error.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

const char *mp_strerror(int code)
{
    switch (code) {
    case MP_OK: return "success";
    case MP_EINVAL: return "invalid argument";
    case MP_ENOMEM: return "out of memory";
    case MP_EIO: return "input/output error";
    case MP_EFORMAT: return "malformed input";
    case MP_ECRC: return "checksum mismatch";
    case MP_EVERSION: return "unsupported format version";
    case MP_ERANGE: return "value out of range";
    case MP_ESHAPE: return "mismatched shape";
    case MP_ELIMIT: return "size limit exceeded";
    case MP_EUNSUPPORTED: return "not supported";
    case MP_ENOTFOUND: return "not found";
    default: return "unknown error";
    }
}

int mp_err_set(mp_err *err, int code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        err->code = code;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        /* keep it one line */
        for (char *p = err->msg; *p; p++)
            if (*p == '\n' || *p == '\r') *p = ' ';
    }
    return code;
}

void mp_err_clear(mp_err *err)
{
    if (err) {
        err->code = 0;
        err->msg[0] = '\0';
    }
}

int mp_mul_size(size_t a, size_t b, size_t limit, size_t *out)
{
    if (a != 0 && b > SIZE_MAX / a) return MP_ELIMIT;
    if (a * b > limit) return MP_ELIMIT;
    *out = a * b;
    return 0;
}
