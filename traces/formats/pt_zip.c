/* pt_zip.c - the ZIP layer of torch.save files (mp__ptzip.h), on libzip. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zip.h>

#include "traces/formats/mp__ptzip.h"

typedef struct entry {
    const char *name; /* libzip's, valid while the archive is open */
    zip_uint64_t index;
    int64_t size;
} entry;

struct mp__ptzip {
    zip_t *za;
    char *path;
    char *prefix;
    entry *ents; /* sorted by name */
    int64_t nents;
};

static int cmp_entry(const void *a, const void *b) { return strcmp(((const entry *)a)->name, ((const entry *)b)->name); }

/* Printable copy of an entry name for messages. */
static void safe_name(const char *s, char *out, size_t cap)
{
    size_t k = 0;
    for (; s[k] && k + 1 < cap; k++) out[k] = s[k] >= 0x20 && s[k] < 0x7f ? s[k] : '?';
    out[k] = '\0';
}

static int open_archive(mp__ptzip *z, const void *mem, size_t memlen, int64_t *bytes, mp_err *err)
{
    zip_error_t ze;
    zip_error_init(&ze);
    zip_source_t *src = NULL;
    if (mem) {
        *bytes = (int64_t)memlen;
        src = zip_source_buffer_create(mem, memlen, 0, &ze);
    } else {
        struct stat st;
        if (stat(z->path, &st) != 0) return mp_err_set(err, MP_EIO, "%s: cannot open", z->path);
        if (!S_ISREG(st.st_mode)) return mp_err_set(err, MP_EIO, "%s: not a regular file", z->path);
        *bytes = (int64_t)st.st_size;
        src = zip_source_file_create(z->path, 0, -1, &ze);
    }
    if (src) {
        z->za = zip_open_from_source(src, ZIP_RDONLY | ZIP_CHECKCONS, &ze);
        if (!z->za) zip_source_free(src);
    }
    if (!z->za) {
        int code = zip_error_code_zip(&ze);
        int rc = code == ZIP_ER_OPEN || code == ZIP_ER_READ ? MP_EIO : code == ZIP_ER_MEMORY ? MP_ENOMEM : MP_EFORMAT;
        if (code == ZIP_ER_EXISTS) rc = mp_err_set(err, rc, "%s: a zip entry name appears twice (refused)", z->path);
        else rc = mp_err_set(err, rc, "%s: not a readable ZIP archive (%s)", z->path, zip_error_strerror(&ze));
        zip_error_fini(&ze);
        return rc;
    }
    zip_error_fini(&ze);
    return 0;
}

/* Checks one entry's sizes, method and encryption. */
static int check_entry(const mp__ptzip *z, const zip_stat_t *st, int64_t archive_bytes, mp_err *err)
{
    char nm[96];
    safe_name(st->name, nm, sizeof nm);
    zip_uint64_t need = ZIP_STAT_NAME | ZIP_STAT_SIZE | ZIP_STAT_COMP_SIZE | ZIP_STAT_COMP_METHOD | ZIP_STAT_ENCRYPTION_METHOD;
    if ((st->valid & need) != need) return mp_err_set(err, MP_EFORMAT, "%s: zip entry '%s': incomplete directory record", z->path, nm);
    if (st->encryption_method != ZIP_EM_NONE)
        return mp_err_set(err, MP_EFORMAT, "%s: zip entry '%s' is encrypted (refused)", z->path, nm);
    if ((int64_t)st->comp_size > archive_bytes || st->comp_size > (zip_uint64_t)archive_bytes)
        return mp_err_set(err, MP_EFORMAT, "%s: zip entry '%s' claims %llu compressed bytes, the archive has %lld", z->path, nm,
                          (unsigned long long)st->comp_size, (long long)archive_bytes);
    if (st->size > (zip_uint64_t)MP__PTZIP_ENTRY_MAX)
        return mp_err_set(err, MP_ELIMIT, "%s: zip entry '%s' claims %llu bytes (too large)", z->path, nm,
                          (unsigned long long)st->size);
    if (st->comp_method == ZIP_CM_STORE) {
        if (st->size != st->comp_size)
            return mp_err_set(err, MP_EFORMAT, "%s: stored zip entry '%s' claims %llu bytes in %llu", z->path, nm,
                              (unsigned long long)st->size, (unsigned long long)st->comp_size);
    } else if (st->comp_method == ZIP_CM_DEFLATE) {
        if (st->size > (st->comp_size + 1) * MP__PTZIP_RATIO_MAX)
            return mp_err_set(err, MP_ELIMIT,
                              "%s: zip entry '%s' claims %llu bytes from %llu compressed (ratio above %d: a ZIP bomb?)",
                              z->path, nm, (unsigned long long)st->size, (unsigned long long)st->comp_size,
                              MP__PTZIP_RATIO_MAX);
    } else {
        return mp_err_set(err, MP_EUNSUPPORTED, "%s: zip entry '%s' uses compression method %d (torch.save stores)", z->path,
                          nm, (int)st->comp_method);
    }
    return 0;
}

static int index_entries(mp__ptzip *z, int64_t archive_bytes, mp_err *err)
{
    zip_int64_t n = zip_get_num_entries(z->za, 0);
    if (n < 0 || n > MP__PTZIP_ENTRIES_MAX)
        return mp_err_set(err, MP_ELIMIT, "%s: zip archive with %lld entries", z->path, (long long)n);
    if (n == 0) return mp_err_set(err, MP_EFORMAT, "%s: empty zip archive (no data.pkl)", z->path);
    z->ents = calloc((size_t)n, sizeof *z->ents);
    if (!z->ents) return mp_err_set(err, MP_ENOMEM, "%s: out of memory", z->path);
    for (zip_int64_t i = 0; i < n; i++) {
        zip_stat_t st;
        zip_stat_init(&st);
        if (zip_stat_index(z->za, (zip_uint64_t)i, ZIP_FL_ENC_RAW, &st) != 0 || !st.name)
            return mp_err_set(err, MP_EFORMAT, "%s: zip entry %lld: unreadable directory record", z->path, (long long)i);
        int rc = check_entry(z, &st, archive_bytes, err);
        if (rc) return rc;
        z->ents[i].name = st.name;
        z->ents[i].index = (zip_uint64_t)i;
        z->ents[i].size = (int64_t)st.size;
    }
    z->nents = n;
    qsort(z->ents, (size_t)n, sizeof *z->ents, cmp_entry);
    for (int64_t i = 1; i < n; i++)
        if (strcmp(z->ents[i].name, z->ents[i - 1].name) == 0) {
            char nm[96];
            safe_name(z->ents[i].name, nm, sizeof nm);
            return mp_err_set(err, MP_EFORMAT, "%s: zip entry '%s' appears twice (refused)", z->path, nm);
        }
    /* exactly one <prefix>/data.pkl, with a prefix of one path component */
    const char *pkl = NULL;
    for (int64_t i = 0; i < n; i++) {
        const char *s = z->ents[i].name, *slash = strchr(s, '/');
        if (!slash || slash == s || strcmp(slash + 1, "data.pkl") != 0) continue;
        if (pkl) return mp_err_set(err, MP_EFORMAT, "%s: zip holds more than one data.pkl", z->path);
        pkl = s;
    }
    if (!pkl) return mp_err_set(err, MP_EFORMAT, "%s: zip holds no <folder>/data.pkl (not a torch.save file)", z->path);
    size_t pl = (size_t)(strchr(pkl, '/') - pkl);
    if (!(z->prefix = malloc(pl + 1))) return mp_err_set(err, MP_ENOMEM, "%s: out of memory", z->path);
    memcpy(z->prefix, pkl, pl);
    z->prefix[pl] = '\0';
    return 0;
}

static const entry *find(const mp__ptzip *z, const char *rel)
{
    size_t pl = strlen(z->prefix), rl = strlen(rel);
    char stackbuf[256];
    char *full = pl + rl + 2 <= sizeof stackbuf ? stackbuf : malloc(pl + rl + 2);
    if (!full) return NULL;
    memcpy(full, z->prefix, pl);
    full[pl] = '/';
    memcpy(full + pl + 1, rel, rl + 1);
    entry key = {full, 0, 0};
    const entry *e = bsearch(&key, z->ents, (size_t)z->nents, sizeof *z->ents, cmp_entry);
    if (full != stackbuf) free(full);
    return e;
}

int mp__ptzip_open(mp__ptzip **out, const char *path, const void *mem, size_t memlen, mp_err *err)
{
    *out = NULL;
    mp__ptzip *z = calloc(1, sizeof *z);
    if (!z || !(z->path = strdup(path))) {
        free(z);
        return mp_err_set(err, MP_ENOMEM, "%s: out of memory", path);
    }
    int64_t bytes = 0;
    int rc = open_archive(z, mem, memlen, &bytes, err);
    if (!rc) rc = index_entries(z, bytes, err);
    if (!rc && mp__ptzip_size(z, "byteorder") >= 0) {
        unsigned char *bo = NULL;
        size_t n = 0;
        rc = mp__ptzip_read(z, "byteorder", 64, &bo, &n, err);
        if (!rc && !(n == 6 && memcmp(bo, "little", 6) == 0))
            rc = mp_err_set(err, MP_EUNSUPPORTED, "%s: storages are not little-endian (byteorder entry)", path);
        free(bo);
    }
    if (rc) {
        mp__ptzip_close(z);
        return rc;
    }
    *out = z;
    return 0;
}

const char *mp__ptzip_prefix(const mp__ptzip *z) { return z->prefix; }

int64_t mp__ptzip_size(const mp__ptzip *z, const char *rel)
{
    const entry *e = find(z, rel);
    return e ? e->size : -1;
}

int mp__ptzip_read(mp__ptzip *z, const char *rel, int64_t max_bytes, unsigned char **buf, size_t *len, mp_err *err)
{
    *buf = NULL;
    *len = 0;
    const entry *e = find(z, rel);
    if (!e) return mp_err_set(err, MP_ENOTFOUND, "%s: zip has no entry %s/%s", z->path, z->prefix, rel);
    if (max_bytes > 0 && e->size > max_bytes)
        return mp_err_set(err, MP_ELIMIT, "%s: zip entry %s/%s has %lld bytes (more than the %lld expected)", z->path,
                          z->prefix, rel, (long long)e->size, (long long)max_bytes);
    unsigned char *b = malloc((size_t)e->size + 1);
    if (!b) return mp_err_set(err, MP_ENOMEM, "%s: out of memory reading %s/%s", z->path, z->prefix, rel);
    zip_file_t *f = zip_fopen_index(z->za, e->index, 0);
    if (!f) {
        free(b);
        return mp_err_set(err, MP_EFORMAT, "%s: zip entry %s/%s: %s", z->path, z->prefix, rel, zip_strerror(z->za));
    }
    int64_t got = 0;
    while (got < e->size) {
        zip_int64_t r = zip_fread(f, b + got, (zip_uint64_t)(e->size - got));
        if (r <= 0) break;
        got += r;
    }
    char extra;
    zip_int64_t tail = got == e->size ? zip_fread(f, &extra, 1) : 0;
    int bad = got != e->size || tail != 0;
    const char *why = bad ? zip_file_strerror(f) : NULL;
    char whybuf[128];
    snprintf(whybuf, sizeof whybuf, "%s", why ? why : "");
    zip_fclose(f);
    if (bad) {
        free(b);
        return mp_err_set(err, MP_EFORMAT, "%s: zip entry %s/%s: read %lld of %lld bytes (%s)", z->path, z->prefix, rel,
                          (long long)got, (long long)e->size, whybuf[0] ? whybuf : "truncated or corrupt");
    }
    b[e->size] = '\0';
    *buf = b;
    *len = (size_t)e->size;
    return 0;
}

void mp__ptzip_close(mp__ptzip *z)
{
    if (!z) return;
    if (z->za) zip_discard(z->za);
    free(z->ents);
    free(z->prefix);
    free(z->path);
    free(z);
}
