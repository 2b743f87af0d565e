/* fuzz_engine.c - libFuzzer harness for the engine-file checker (in memory):
 * sglang JSON, trtllm YAML, vllm JSONL, vllm-ascend JSON, detected by
 * content.  A file that passes must describe a sane shape; one that fails
 * must say why. */
#include <stdint.h>
#include <stdlib.h>

#include "planner/mp_planner.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mp_err err = {0};
    mp_engine_info info;
    mp_engine_expect x = {0, 0, NULL};
    int rc = mp_engine_text_check((const char *)data, size, "fuzz", &x, &info, &err);
    if (rc == 0) {
        if (info.rows < 1 || info.slots < info.experts || info.experts < 1 || info.max_replicas < 1) abort();
    } else if (rc != MP_ENOTFOUND && (err.code == 0 || !err.msg[0])) {
        abort();
    }
    /* the same text against a fixed shape: 2 GPUs, 4 experts */
    mp_engine_expect y = {4, 2, NULL};
    rc = mp_engine_text_check((const char *)data, size, "fuzz", &y, &info, &err);
    if (rc == 0 && (info.experts != 4 || info.gpus != 2 || info.slots % 2 != 0)) abort();
    return 0;
}
