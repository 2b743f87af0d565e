/* fuzz_csv.c - libFuzzer harness for the csv reader: the input is written to a
 * temporary file, opened and read through; everything is freed. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "traces/mp_loads.h"
#include "traces/formats/mp_trace.h"
#include "tests/fuzz/fuzz_file.h"


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (fuzz_file_put(fuzz_file_path("csv", ".csv"), data, size)) return 0;
    mp_read_opts o = {0};
    o.format = MP_FMT_CSV;
    mp_model hint = {0};
    for (int pass = 0; pass < 2; pass++) {
        if (pass) {
            hint.experts = 7;
            o.model = &hint;
        }
        mp_trace *t;
        mp_err err;
        if (mp_trace_open(&t, fuzz_file_path("csv", ".csv"), &o, &err) != 0) continue;
        mp_step p = {0};
        while (mp_trace_next(t, &p, &err) == 1) {
        }
        mp_step_release(&p);
        mp_trace_close(t);
    }
    remove(fuzz_file_path("csv", ".csv"));
    return 0;
}
