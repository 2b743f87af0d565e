/* fuzz_cost.c - the cost-model JSON reader (sim/mp_cost.h) on arbitrary bytes. */
#include <stdint.h>
#include <stdlib.h>

#include "sim/mp_cost.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mp_cost c;
    mp_err err;
    if (mp_cost_from_json(&c, (const char *)data, size, "fuzz", &err) == 0) {
        /* a model that parsed must serialise and parse back to the same figures */
        char *s = mp_cost_to_json(&c);
        if (s) {
            mp_cost d;
            size_t n = 0;
            while (s[n]) n++;
            if (mp_cost_from_json(&d, s, n, "again", &err) != 0) abort();
            if (d.table_len != c.table_len || d.hbm_GBps != c.hbm_GBps || d.hidden != c.hidden) abort();
            (void)mp_cost_expert_us(&d, NULL, 17.0);
            free(s);
        }
    }
    return 0;
}
