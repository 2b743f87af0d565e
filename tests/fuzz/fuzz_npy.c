/* fuzz_npy.c - libFuzzer harness for the npy reader: the input is written to a
 * temporary file, opened and read through; everything is freed. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "traces/mp_loads.h"
#include "traces/formats/mp_trace.h"
#include "tests/fuzz/fuzz_file.h"


static void read_through(const mp_read_opts *o)
{
    mp_trace *t;
    mp_err err;
    if (mp_trace_open(&t, fuzz_file_path("npy", ".npy"), o, &err) != 0) return;
    mp_step p = {0};
    while (mp_trace_next(t, &p, &err) == 1) {
    }
    mp_step_release(&p);
    mp_trace_close(t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (fuzz_file_put(fuzz_file_path("npy", ".npy"), data, size)) return 0;
    mp_read_opts o = {0};
    o.format = MP_FMT_NPY;
    read_through(&o); /* layout inferred */
    o.npy_layout = MP_NPY_LTK;
    o.tokens_per_step = 3;
    read_through(&o);
    o.npy_layout = MP_NPY_TLK;
    mp_model hint = {0};
    hint.experts = 5;
    o.model = &hint;
    read_through(&o);
    o.model = NULL;
    o.weights_path = fuzz_file_path("npy", ".npy"); /* the same array as weights: exercises the float path */
    read_through(&o);
    remove(fuzz_file_path("npy", ".npy"));
    return 0;
}
