/* fuzz_plan.c - libFuzzer harness for the plan JSON reader (in memory):
 * parse, and when it validates, compute metrics on the recorded loads and
 * write it back out, then free everything. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "planner/mp_planner.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mp_plan *p = NULL;
    double *w = NULL;
    mp_err err = {0};
    if (mp_plan_parse_json(&p, &w, (const char *)data, size, "fuzz", &err) == 0) {
        if (!p || p->layers < 1) abort();
        if (w) {
            mp_plan_metrics *m = NULL;
            if (mp_plan_metrics_compute(&m, p, w, NULL) == 0 && m->worst_layer >= p->layers) abort();
            mp_plan_metrics_destroy(m);
        }
        FILE *fp = fopen("/dev/null", "wb");
        if (fp) {
            mp_plan_write_json_fp(p, NULL, fp);
            fclose(fp);
        }
    } else if (p || w || err.code == 0 || !err.msg[0]) {
        abort(); /* failures fill err and leave nothing behind */
    }
    free(w);
    mp_plan_destroy(p);
    return 0;
}
