/* fmt_mpt.c - native .mpt container (placeholder until implemented). */
#include <string.h>

#include "traces/mp__format.h"

static int mpt_sniff(const unsigned char *h, size_t n) { return n >= 4 && memcmp(h, "MPT\x01", 4) == 0; }

const mp__format mp__format_mpt = {MP_FMT_MPT, "mpt", ".mpt", 1, NULL, NULL, mpt_sniff};
