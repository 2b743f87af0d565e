/* fmt_npy.c - NumPy .npy top-k id arrays (placeholder until implemented). */
#include <string.h>

#include "traces/mp__format.h"

static int npy_sniff(const unsigned char *h, size_t n) { return n >= 6 && memcmp(h, "\x93NUMPY", 6) == 0; }

const mp__format mp__format_npy = {MP_FMT_NPY, "npy", ".npy", 1, NULL, NULL, npy_sniff};
