/* fmt_json.c - JSON load files (placeholder until implemented). */
#include "traces/mp__format.h"

static int json_sniff(const unsigned char *h, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (h[i] != ' ' && h[i] != '\n' && h[i] != '\t' && h[i] != '\r') return h[i] == '{' || h[i] == '[';
    return 0;
}

int mp__json_read_loads(mp_loads **out, const char *path, mp_err *err)
{
    *out = NULL;
    return mp_err_set(err, MP_EUNSUPPORTED, "%s: JSON load files are not implemented yet", path);
}

int mp_loads_write_json(const mp_loads *l, const char *path, int keep_steps, mp_err *err)
{
    (void)l;
    (void)keep_steps;
    return mp_err_set(err, MP_EUNSUPPORTED, "%s: JSON load files are not implemented yet", path);
}

const mp__format mp__format_json = {MP_FMT_JSON, "json", ".json", 0, NULL, NULL, json_sniff};
