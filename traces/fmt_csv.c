/* fmt_csv.c - CSV routing traces (placeholder until implemented). */
#include <string.h>

#include "traces/mp__format.h"

static int csv_sniff(const unsigned char *h, size_t n) { return n >= 5 && memcmp(h, "step,", 5) == 0; }

const mp__format mp__format_csv = {MP_FMT_CSV, "csv", ".csv", 1, NULL, NULL, csv_sniff};
