/*
 * mp__ptzip.h - internal: the ZIP layer of torch.save files, on libzip (not
 * part of the public API).
 *
 * torch.save writes a ZIP with one top folder: <prefix>/data.pkl (the
 * pickle), <prefix>/data/<key> (raw storages, STORED), version, byteorder and
 * a few small files.  This layer opens such an archive from a file or from
 * memory, finds the prefix, and reads entries by their name below it.
 *
 * Hostile archives are refused with a one-line error naming the file:
 * encrypted entries, duplicate names, compression methods other than STORE
 * and DEFLATE, a STORED entry whose sizes differ, compression ratios above
 * MP__PTZIP_RATIO_MAX (ZIP bombs), entries larger than the archive allows,
 * big-endian storages, archives without exactly one <prefix>/data.pkl.
 *
 * Memory: mp__ptzip_open returns a handle to free with mp__ptzip_close;
 * mp__ptzip_read hands back a heap buffer the caller frees with free().
 * An archive opened from memory reads the caller's buffer, which must
 * outlive the handle.
 */
#ifndef MP__PTZIP_H
#define MP__PTZIP_H

#include <stddef.h>
#include <stdint.h>

#include "traces/mp_error.h"

#define MP__PTZIP_RATIO_MAX 64                  /* uncompressed / compressed bytes of a DEFLATE entry */
#define MP__PTZIP_ENTRY_MAX ((int64_t)1 << 34)  /* bytes of one entry (16 GiB)                        */
#define MP__PTZIP_ENTRIES_MAX (1 << 20)

typedef struct mp__ptzip mp__ptzip;

/* Opens `path` (mem == NULL) or the memlen bytes at mem (then path only
 * names it in messages) and checks every entry as above. */
int mp__ptzip_open(mp__ptzip **out, const char *path, const void *mem, size_t memlen, mp_err *err);

/* The prefix (the archive's top folder). */
const char *mp__ptzip_prefix(const mp__ptzip *z);

/* Uncompressed size of <prefix>/<rel>, or -1 when there is no such entry. */
int64_t mp__ptzip_size(const mp__ptzip *z, const char *rel);

/* Reads <prefix>/<rel> whole into a new buffer (*len bytes; one extra NUL
 * byte after them).  MP_ENOTFOUND when absent; MP_ELIMIT when larger than
 * max_bytes (> 0); MP_EFORMAT when the bytes do not match what the
 * directory says (truncated, bad CRC). */
int mp__ptzip_read(mp__ptzip *z, const char *rel, int64_t max_bytes, unsigned char **buf, size_t *len, mp_err *err);

/* Frees; NULL is a no-op. */
void mp__ptzip_close(mp__ptzip *z);

#endif
