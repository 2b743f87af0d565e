/* fuzz_baseline.c - libFuzzer harness for the baseline reader
 * (mp_baseline_parse, sim/mp_check.h).  A baseline that parses is written
 * back through its setup checks and must parse again, with every figure, so
 * that the gate accepts the copy; the gate accepts the original only when it
 * holds every figure (it fails closed). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sim/mp_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mp_baseline *b = NULL;
    mp_err err;
    int rc = mp_baseline_parse(&b, (const char *)data, size, "fuzz", &err);
    if (rc == 0) {
        if (!b || b->setup.nentries < 1 || b->setup.nentries > MP_EVAL_ENTRIES_MAX) abort();
        if (mp_eval_setup_validate(&b->setup, NULL) != 0) abort();
        /* a fake evaluation of the parsed setup, written and read back */
        mp_eval ev;
        memset(&ev, 0, sizeof ev);
        ev.setup = b->setup;
        ev.n = b->setup.nentries;
        mp_eval_result r[MP_EVAL_ENTRIES_MAX];
        memset(r, 0, sizeof r);
        for (int i = 0; i < ev.n; i++) {
            r[i].entry = b->setup.entry[i];
            for (int m = 0; m < MP_METRICS; m++) r[i].metric[m] = b->has_metrics[i] ? b->metric[i][m] : 1.0;
            for (int m = 0; m < MP_METRICS; m++)
                if (r[i].metric[m] != r[i].metric[m]) r[i].metric[m] = 0; /* NaN: absent */
        }
        ev.r = r;
        char *j = mp_baseline_to_json(&ev);
        if (j) {
            mp_baseline *b2 = NULL;
            if (mp_baseline_parse(&b2, j, strlen(j), "fuzz-rt", NULL) != 0) abort();
            if (b2->setup.nentries != b->setup.nentries) abort();
            if (mp_baseline_gate(b2, NULL, NULL) != 0) abort();
            for (int i = 0; i < ev.n; i++)
                if (strcmp(b2->setup.entry[i].name, b->setup.entry[i].name) != 0) abort();
            mp_baseline_destroy(b2);
            free(j);
        }
        mp_model m = mp_model_default();
        m.layers = 4;
        m.experts = 64;
        m.top_k = 4;
        (void)mp_baseline_fit(b, &m, NULL);
        int gate = mp_baseline_gate(b, &m, NULL);
        for (int i = 0; i < ev.n && gate == 0; i++)
            for (int k = 0; k < MP_METRICS; k++)
                if (!b->has_metrics[i] || b->metric[i][k] != b->metric[i][k] || b->metric[i][k] < 0) abort();
        mp_check_diff *d = NULL;
        if (mp_check_compare(&d, b, &ev, 0.02, NULL) == 0) {
            if (gate == 0 && d->fresh) abort(); /* a gate that passed checks every figure */
            mp_check_diff_destroy(d);
        }
    } else if (b) {
        abort();
    }
    mp_baseline_destroy(b);
    return 0;
}
