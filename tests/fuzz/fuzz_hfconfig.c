/* fuzz_hfconfig.c - the Hugging Face config.json reader (traces/formats/mp_hfconfig.h)
 * on arbitrary bytes, through the file reader (size cap) and the parser. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "traces/formats/mp_hfconfig.h"
#include "traces/mp_model.h"
#include "tests/fuzz/fuzz_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_file_path("hfconfig", ".json");
    if (fuzz_file_put(path, data, size)) return 0;
    mp_model m, p;
    mp_err err;
    int rc = mp_hfconfig_read(&m, path, &err);
    remove(path);
    /* the file reader and the parser agree on input under the cap */
    int rp = mp_hfconfig_parse(&p, (const char *)data, size, path, &err);
    if (size <= MP_HFCONFIG_BYTES_MAX && (rc == 0) != (rp == 0)) abort();
    if (rc == 0) {
        /* a model that parsed is valid, its layer rule is consistent, and it
         * survives the trace header's JSON form */
        if (mp_model_validate(&m, "fuzz", &err) != 0) abort();
        for (int32_t l = 0; l < m.layers; l++)
            if (mp_model_moe_of(&m, mp_model_decoder_of(&m, l)) != l) abort();
        char *s = mp_model_to_json(&m);
        if (s) {
            mp_model back;
            if (mp_model_from_json(&back, s, strlen(s), "again", &err) != 0) abort();
            if (back.layers != m.layers || back.decoder_layers != m.decoder_layers || back.weight_bits != m.weight_bits)
                abort();
            free(s);
        }
        mp_model t = m;
        if (mp_model_apply_config(&t, &m, "self", "self", &err) != 0) abort();
    }
    return 0;
}
