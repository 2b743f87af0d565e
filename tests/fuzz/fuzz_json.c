/* fuzz_json.c - libFuzzer harness for the json reader: the input is written to a
 * temporary file, opened and read through; everything is freed. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "traces/mp_loads.h"
#include "traces/mp_trace.h"

static const char *tmp_path(void)
{
    static char path[64];
    if (!path[0]) snprintf(path, sizeof path, "/tmp/fuzz_json.%ld.json", (long)getpid());
    return path;
}

static int put(const uint8_t *data, size_t size)
{
    FILE *fp = fopen(tmp_path(), "wb");
    if (!fp) return -1;
    size_t n = fwrite(data, 1, size, fp);
    fclose(fp);
    return n == size ? 0 : -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (put(data, size)) return 0;
    mp_read_opts o = {0};
    o.format = MP_FMT_JSON;
    mp_loads *l = NULL;
    mp_err err;
    if (mp_loads_read(&l, tmp_path(), &o, 0, &err) == 0) mp_loads_destroy(l);
    remove(tmp_path());
    return 0;
}
