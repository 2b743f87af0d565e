/* fuzz_mpt.c - libFuzzer harness for the .mpt reader: the input becomes a
 * file, which is opened and read through (one thread, or two when the size
 * is odd); every outcome but a crash, hang or leak is fine. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "traces/formats/mp_trace.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char path[64];
    if (!path[0]) snprintf(path, sizeof path, "/tmp/fuzz_mpt.%ld.mpt", (long)getpid());
    FILE *fp = fopen(path, "wb");
    if (!fp) return 0;
    if (size) fwrite(data, 1, size, fp);
    fclose(fp);
    mp_read_opts ro = {0};
    ro.format = MP_FMT_MPT;
    ro.threads = (size & 1) ? 2 : 1;
    mp_trace *t;
    mp_err err;
    if (mp_trace_open(&t, path, &ro, &err) == 0) {
        mp_step p = {0};
        int64_t n = 0;
        while (mp_trace_next(t, &p, &err) == 1) n += p.tokens;
        if (n < 0) abort(); /* a piece of negative size */
        (void)mp_trace_get_info(t);
        mp_step_release(&p);
        mp_trace_close(t);
    }
    unlink(path);
    return 0;
}
