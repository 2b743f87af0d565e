/* fuzz_json.c - libFuzzer harness for the json reader: the input is written to a
 * temporary file, opened and read through; everything is freed. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "traces/stats/mp_loads_read.h"
#include "traces/mp_loads.h"
#include "traces/formats/mp_trace.h"
#include "tests/fuzz/fuzz_file.h"


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (fuzz_file_put(fuzz_file_path("json", ".json"), data, size)) return 0;
    mp_read_opts o = {0};
    o.format = MP_FMT_JSON;
    mp_loads *l = NULL;
    mp_err err;
    if (mp_loads_read(&l, fuzz_file_path("json", ".json"), &o, 0, &err) == 0) mp_loads_destroy(l);
    remove(fuzz_file_path("json", ".json"));
    return 0;
}
