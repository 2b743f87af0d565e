/* fuzz_pt.c - libFuzzer harness for SGLang .pt dumps: ZIP layer, unpickler
 * and readers together.  The input is read from memory as loads, then
 * written to a temporary .pt file and read as loads and as a trace. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "traces/formats/mp__format.h"
#include "traces/formats/mp_loadfile.h"
#include "traces/formats/mp_trace.h"
#include "traces/mp_loads.h"
#include "tests/fuzz/fuzz_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mp_err err;
    mp_loads *l = NULL;
    if (mp__pt_read_mem(data, size, NULL, &l, &err) == 0) mp_loads_destroy(l);
    const char *path = fuzz_file_path("pt", ".pt");
    if (fuzz_file_put(path, data, size)) return 0;
    if (mp_loads_read_pt(&l, path, NULL, &err) == 0) mp_loads_destroy(l);
    mp_trace *t;
    if (mp_trace_open(&t, path, NULL, &err) == 0) {
        mp_step p = {0};
        while (mp_trace_next(t, &p, &err) == 1) {
        }
        mp_step_release(&p);
        mp_trace_close(t);
    }
    remove(path);
    return 0;
}
