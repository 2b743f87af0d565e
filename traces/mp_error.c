#include "traces/mp_error.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

const char *mp_strerror(int code)
{
    switch (code) {
    case MP_OK: return "success";
#define MP__ERR_DESC(name, val, desc) \
    case MP_##name: return desc;
        MP_ERRNO_MAP(MP__ERR_DESC)
#undef MP__ERR_DESC
    default: return "unknown error";
    }
}

const char *mp_err_name(int code)
{
    switch (code) {
    case MP_OK: return "MP_OK";
#define MP__ERR_NAME(name, val, desc) \
    case MP_##name: return "MP_" #name;
        MP_ERRNO_MAP(MP__ERR_NAME)
#undef MP__ERR_NAME
    default: return "MP_E_UNKNOWN";
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
