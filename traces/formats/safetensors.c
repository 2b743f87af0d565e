/* safetensors.c - a bounds-checked reader of safetensors files (layout and
 * rules in mp__safetensors.h). */
#include "traces/formats/mp__safetensors.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define TWO53 9007199254740992.0

static const struct {
    const char *name;
    mp__st_dtype d;
    int size;
} dtypes[] = {
    {"BOOL", MP__ST_BOOL, 1}, {"U8", MP__ST_U8, 1},       {"I8", MP__ST_I8, 1},   {"U16", MP__ST_U16, 2},
    {"I16", MP__ST_I16, 2},   {"U32", MP__ST_U32, 4},     {"I32", MP__ST_I32, 4}, {"U64", MP__ST_U64, 8},
    {"I64", MP__ST_I64, 8},   {"F16", MP__ST_F16, 2},     {"BF16", MP__ST_BF16, 2}, {"F32", MP__ST_F32, 4},
    {"F64", MP__ST_F64, 8},   {"F8_E4M3", MP__ST_F8_E4M3, 1}, {"F8_E5M2", MP__ST_F8_E5M2, 1},
};
#define NDTYPES ((int)(sizeof dtypes / sizeof dtypes[0]))

const char *mp__st_dtype_name(mp__st_dtype d)
{
    for (int i = 0; i < NDTYPES; i++)
        if (dtypes[i].d == d) return dtypes[i].name;
    return "?";
}

void mp__st_close(mp__st_file *f)
{
    if (!f) return;
    if (f->fp) fclose(f->fp);
    for (int i = 0; i < f->ntensors; i++) free(f->t[i].name);
    free(f->t);
    free(f);
}

/* A JSON number that is a whole number in [0, 2^53]; 1 or 0. */
static int get_size(const cJSON *v, int64_t *out)
{
    if (!cJSON_IsNumber(v)) return 0;
    double d = v->valuedouble;
    if (!(d >= 0 && d <= TWO53) || d != floor(d)) return 0;
    *out = (int64_t)d;
    return 1;
}

static int cmp_offset(const void *a, const void *b)
{
    const mp__st_tensor *x = *(const mp__st_tensor *const *)a, *y = *(const mp__st_tensor *const *)b;
    return x->offset < y->offset ? -1 : x->offset > y->offset ? 1 : (x->bytes > y->bytes) - (x->bytes < y->bytes);
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp((*(const mp__st_tensor *const *)a)->name, (*(const mp__st_tensor *const *)b)->name);
}

/* One header entry into *t (offsets relative to the buffer). */
static int parse_entry(const mp__st_file *f, const cJSON *e, mp__st_tensor *t, int64_t data_size, mp_err *err)
{
    const char *p = f->path, *k = e->string;
    if (!cJSON_IsObject(e)) return mp_err_set(err, MP_EFORMAT, "%s: header[\"%.80s\"]: not an object", p, k);
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(e, "dtype");
    const cJSON *sh = cJSON_GetObjectItemCaseSensitive(e, "shape");
    const cJSON *of = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
    if (!cJSON_IsString(dt)) return mp_err_set(err, MP_EFORMAT, "%s: header[\"%.80s\"].dtype: missing or not a string", p, k);
    int di = -1;
    for (int i = 0; i < NDTYPES; i++)
        if (strcmp(dt->valuestring, dtypes[i].name) == 0) di = i;
    if (di < 0)
        return mp_err_set(err, MP_EFORMAT, "%s: header[\"%.80s\"].dtype: unknown dtype \"%.16s\"", p, k, dt->valuestring);
    t->dtype = dtypes[di].d;
    t->itemsize = dtypes[di].size;
    if (!cJSON_IsArray(sh)) return mp_err_set(err, MP_EFORMAT, "%s: header[\"%.80s\"].shape: missing or not an array", p, k);
    int nd = cJSON_GetArraySize(sh);
    if (nd > MP__ST_NDIM_MAX)
        return mp_err_set(err, MP_ELIMIT, "%s: header[\"%.80s\"].shape: %d dimensions (at most %d)", p, k, nd,
                          MP__ST_NDIM_MAX);
    t->ndim = nd;
    size_t count = 1;
    int d = 0;
    for (const cJSON *x = sh->child; x; x = x->next, d++) {
        int64_t v;
        if (!get_size(x, &v))
            return mp_err_set(err, MP_EFORMAT, "%s: header[\"%.80s\"].shape[%d]: not a size", p, k, d);
        t->shape[d] = v;
        if (mp_mul_size(count, (size_t)v, (size_t)TWO53, &count))
            return mp_err_set(err, MP_ELIMIT, "%s: header[\"%.80s\"].shape: too many elements", p, k);
    }
    t->count = (int64_t)count;
    int64_t b, en;
    if (!cJSON_IsArray(of) || cJSON_GetArraySize(of) != 2 || !get_size(of->child, &b) || !get_size(of->child->next, &en))
        return mp_err_set(err, MP_EFORMAT, "%s: header[\"%.80s\"].data_offsets: not [begin, end]", p, k);
    if (b > en || en > data_size)
        return mp_err_set(err, MP_EFORMAT,
                          "%s: header[\"%.80s\"].data_offsets: [%lld, %lld] outside the %lld-byte buffer", p, k,
                          (long long)b, (long long)en, (long long)data_size);
    size_t bytes;
    if (mp_mul_size(count, (size_t)t->itemsize, (size_t)TWO53, &bytes) || (int64_t)bytes != en - b)
        return mp_err_set(err, MP_ESHAPE,
                          "%s: header[\"%.80s\"]: shape holds %lld %s elements but data_offsets span %lld bytes", p, k,
                          (long long)count, dtypes[di].name, (long long)(en - b));
    t->offset = b;
    t->bytes = en - b;
    return 0;
}

/* Sorted by offsets the tensors must tile [0, data_size); names unique. */
static int check_layout(mp__st_file *f, int64_t data_size, int64_t data_start, mp_err *err)
{
    int n = f->ntensors;
    mp__st_tensor **v = malloc((size_t)(n ? n : 1) * sizeof *v);
    if (!v) return mp_err_set(err, MP_ENOMEM, "%s: out of memory", f->path);
    for (int i = 0; i < n; i++) v[i] = &f->t[i];
    int rc = 0;
    qsort(v, (size_t)n, sizeof *v, cmp_name);
    for (int i = 1; i < n && !rc; i++)
        if (strcmp(v[i - 1]->name, v[i]->name) == 0)
            rc = mp_err_set(err, MP_EFORMAT, "%s: header: tensor \"%.80s\" appears twice", f->path, v[i]->name);
    qsort(v, (size_t)n, sizeof *v, cmp_offset);
    int64_t end = 0;
    for (int i = 0; i < n && !rc; i++) {
        if (v[i]->offset != end)
            rc = mp_err_set(err, MP_EFORMAT, "%s: offset %lld: tensor \"%.80s\" %s", f->path,
                            (long long)(data_start + v[i]->offset), v[i]->name,
                            v[i]->offset < end ? "overlaps the tensor before it" : "leaves a gap before it");
        end = v[i]->offset + v[i]->bytes;
    }
    if (!rc && end != data_size)
        rc = mp_err_set(err, MP_EFORMAT, "%s: offset %lld: %lld bytes after the last tensor", f->path,
                        (long long)(data_start + end), (long long)(data_size - end));
    free(v);
    for (int i = 0; i < n && !rc; i++) f->t[i].offset += data_start;
    return rc;
}

static int parse_header(mp__st_file *f, const char *text, size_t len, int64_t data_start, mp_err *err)
{
    const char *p = f->path;
    size_t i = 0;
    while (i < len && (text[i] == ' ' || text[i] == '\n' || text[i] == '\r' || text[i] == '\t')) i++;
    if (i == len || text[i] != '{') return mp_err_set(err, MP_EFORMAT, "%s: offset 8: the header is not a JSON object", p);
    const char *end = NULL;
    cJSON *h = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    if (!h) {
        const char *at = cJSON_GetErrorPtr();
        long long off = at && at >= text && at <= text + len ? (long long)(at - text) : 0;
        return mp_err_set(err, MP_EFORMAT, "%s: offset %lld: invalid JSON in the header", p, 8 + off);
    }
    for (const char *q = end; q && q < text + len; q++)
        if (*q != ' ' && *q != '\n' && *q != '\r' && *q != '\t') {
            cJSON_Delete(h);
            return mp_err_set(err, MP_EFORMAT, "%s: offset %lld: bytes after the header's JSON object", p,
                              8 + (long long)(q - text));
        }
    if (!cJSON_IsObject(h)) {
        cJSON_Delete(h);
        return mp_err_set(err, MP_EFORMAT, "%s: offset 8: the header is not a JSON object", p);
    }
    int n = 0;
    for (const cJSON *e = h->child; e; e = e->next) n += strcmp(e->string, "__metadata__") != 0;
    f->t = calloc((size_t)(n ? n : 1), sizeof *f->t);
    if (!f->t) {
        cJSON_Delete(h);
        return mp_err_set(err, MP_ENOMEM, "%s: out of memory", p);
    }
    int64_t data_size = f->file_size - data_start;
    int rc = 0;
    for (const cJSON *e = h->child; e && !rc; e = e->next) {
        if (strcmp(e->string, "__metadata__") == 0) {
            if (!cJSON_IsObject(e) && !cJSON_IsNull(e))
                rc = mp_err_set(err, MP_EFORMAT, "%s: header[\"__metadata__\"]: not an object", p);
            continue;
        }
        mp__st_tensor *t = &f->t[f->ntensors];
        if (!(t->name = strdup(e->string))) {
            rc = mp_err_set(err, MP_ENOMEM, "%s: out of memory", p);
            break;
        }
        f->ntensors++;
        rc = parse_entry(f, e, t, data_size, err);
    }
    cJSON_Delete(h);
    return rc ? rc : check_layout(f, data_size, data_start, err);
}

int mp__st_open(mp__st_file **out, const char *path, mp_err *err)
{
    *out = NULL;
    mp__st_file *f = calloc(1, sizeof *f);
    if (!f) return mp_err_set(err, MP_ENOMEM, "%s: out of memory", path);
    f->path = path;
    struct stat st;
    if (!(f->fp = fopen(path, "rb")) || fstat(fileno(f->fp), &st) != 0 || !S_ISREG(st.st_mode)) {
        mp__st_close(f);
        return mp_err_set(err, MP_EIO, "%s: cannot open (not a readable file)", path);
    }
    f->file_size = (int64_t)st.st_size;
    unsigned char lenb[8];
    if (fread(lenb, 1, 8, f->fp) != 8) {
        mp__st_close(f);
        return mp_err_set(err, MP_EFORMAT, "%s: offset 0: truncated: no 8-byte header length", path);
    }
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = n << 8 | lenb[i];
    if (n > MP__ST_HEADER_MAX || n > (uint64_t)(f->file_size - 8)) {
        int rc = mp_err_set(err, n > MP__ST_HEADER_MAX ? MP_ELIMIT : MP_EFORMAT,
                            "%s: offset 0: header length %llu %s", path, (unsigned long long)n,
                            n > MP__ST_HEADER_MAX ? "over the 100 MB limit" : "runs past the end of the file");
        mp__st_close(f);
        return rc;
    }
    char *text = malloc((size_t)n + 1);
    if (!text) {
        mp__st_close(f);
        return mp_err_set(err, MP_ENOMEM, "%s: out of memory", path);
    }
    int rc = 0;
    if (fread(text, 1, (size_t)n, f->fp) != (size_t)n)
        rc = mp_err_set(err, MP_EIO, "%s: offset 8: read failed", path);
    else {
        text[n] = 0;
        rc = parse_header(f, text, (size_t)n, 8 + (int64_t)n, err);
    }
    free(text);
    if (rc) {
        mp__st_close(f);
        return rc;
    }
    *out = f;
    return 0;
}

/* Little-endian element j of buffer b as a double; sets *neg for a negative integer. */
static double element(const unsigned char *b, mp__st_dtype d, int *bad)
{
    uint64_t u = 0;
    switch (d) {
    case MP__ST_U8: return b[0];
    case MP__ST_I8: return (double)(int8_t)b[0];
    case MP__ST_U16: return (double)(uint16_t)(b[0] | b[1] << 8);
    case MP__ST_I16: return (double)(int16_t)(uint16_t)(b[0] | b[1] << 8);
    case MP__ST_U32: return (double)((uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24);
    case MP__ST_I32:
        return (double)(int32_t)((uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24);
    case MP__ST_U64:
    case MP__ST_I64:
        for (int i = 7; i >= 0; i--) u = u << 8 | b[i];
        if (d == MP__ST_I64 && (u >> 63)) return -1.0;
        if (u >= (uint64_t)1 << 53) return TWO53;
        return (double)u;
    case MP__ST_F32: {
        uint32_t w = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
        float v;
        memcpy(&v, &w, 4);
        return v;
    }
    case MP__ST_F64: {
        for (int i = 7; i >= 0; i--) u = u << 8 | b[i];
        double v;
        memcpy(&v, &u, 8);
        return v;
    }
    default: *bad = 1; return 0;
    }
}

int mp__st_add_counts(mp__st_file *f, int i, double *acc, mp_err *err)
{
    const mp__st_tensor *t = &f->t[i];
    switch (t->dtype) {
    case MP__ST_BOOL:
    case MP__ST_F16:
    case MP__ST_BF16:
    case MP__ST_F8_E4M3:
    case MP__ST_F8_E5M2:
        return mp_err_set(err, MP_EUNSUPPORTED, "%s: tensor \"%.80s\": dtype %s does not hold counts", f->path, t->name,
                          mp__st_dtype_name(t->dtype));
    default: break;
    }
    if (fseeko(f->fp, (off_t)t->offset, SEEK_SET) != 0)
        return mp_err_set(err, MP_EIO, "%s: offset %lld: seek failed", f->path, (long long)t->offset);
    unsigned char buf[1 << 14];
    int64_t per = (int64_t)sizeof buf / t->itemsize;
    for (int64_t j = 0; j < t->count; j += per) {
        int64_t n = t->count - j < per ? t->count - j : per;
        if (fread(buf, (size_t)t->itemsize, (size_t)n, f->fp) != (size_t)n)
            return mp_err_set(err, MP_EIO, "%s: offset %lld: read failed (truncated?)", f->path,
                              (long long)(t->offset + j * t->itemsize));
        for (int64_t k = 0; k < n; k++) {
            int bad = 0;
            double v = element(buf + k * t->itemsize, t->dtype, &bad);
            if (!(v >= 0 && v < TWO53))
                return mp_err_set(err, MP_ERANGE, "%s: offset %lld: tensor \"%.80s\" element %lld is %s", f->path,
                                  (long long)(t->offset + (j + k) * t->itemsize), t->name, (long long)(j + k),
                                  v < 0 ? "negative" : "not a count below 2^53");
            acc[j + k] += v;
        }
    }
    return 0;
}
