/* fuzz_enginelog.c - libFuzzer harness for the JSON-lines engine recordings:
 * the input is written to a temporary file and read both as vLLM EPLB load
 * statistics (loads) and as routed-experts responses (a trace read through,
 * once without a model and once with top-k 2); everything is freed. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "tests/fuzz/fuzz_file.h"
#include "traces/formats/mp_trace.h"
#include "traces/mp_loads.h"
#include "traces/mp_model.h"
#include "traces/stats/mp_loads_read.h"

static void read_trace(const char *path, const mp_model *hint)
{
    mp_read_opts o = {0};
    o.format = MP_FMT_ROUTED;
    o.model = hint;
    mp_trace *t = NULL;
    mp_err err;
    if (mp_trace_open(&t, path, &o, &err) != 0) return;
    mp_step p = {0};
    while (mp_trace_next(t, &p, &err) == 1) {
    }
    mp_step_release(&p);
    mp_trace_close(t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_file_path("enginelog", ".jsonl");
    if (fuzz_file_put(path, data, size)) return 0;
    mp_read_opts o = {0};
    o.format = MP_FMT_VLLM_EPLB;
    mp_loads *l = NULL;
    mp_err err;
    if (mp_loads_read(&l, path, &o, 1, &err) == 0) mp_loads_destroy(l);
    read_trace(path, NULL);
    mp_model hint = mp_model_default();
    hint.top_k = 2;
    read_trace(path, &hint);
    remove(path);
    return 0;
}
