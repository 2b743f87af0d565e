/* fuzz_safetensors.c - libFuzzer harness for the safetensors reader behind
 * TensorRT-LLM statistic folders: the input becomes rank0.safetensors of a
 * temporary folder beside a fixed meta_info.json (8 experts, top-2), which
 * is read as loads; everything is freed. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/fuzz/fuzz_file.h"
#include "traces/formats/mp_trace.h"
#include "traces/mp_loads.h"
#include "traces/stats/mp_loads_read.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *dir = fuzz_file_path("trtllm", ".d");
    char meta[160], rank[160];
    snprintf(meta, sizeof meta, "%s/meta_info.json", dir);
    snprintf(rank, sizeof rank, "%s/rank0.safetensors", dir);
    mkdir(dir, 0700);
    static const char m[] = "{\"num_experts\": 8, \"num_experts_per_token\": 2}";
    if (fuzz_file_put(meta, (const uint8_t *)m, sizeof m - 1) || fuzz_file_put(rank, data, size)) return 0;
    mp_read_opts o = {0};
    o.format = MP_FMT_TRTLLM;
    mp_loads *l = NULL;
    mp_err err;
    if (mp_loads_read(&l, dir, &o, 1, &err) == 0) mp_loads_destroy(l);
    remove(rank);
    remove(meta);
    rmdir(dir);
    return 0;
}
