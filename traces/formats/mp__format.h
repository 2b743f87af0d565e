/*
 * mp__format.h - internal: the table every format registers in.  Not part of
 * the public API (double underscore).
 *
 * A format implements a reader (open/next/close over its own state) and a
 * writer (open/put/commit/abort).  traces/trace.c dispatches; it owns the
 * mp_trace / mp_writer wrappers, argument checks and the final id check.
 */
#ifndef MP__FORMAT_H
#define MP__FORMAT_H

#include "traces/formats/mp_trace.h"
#include "traces/mp_loads.h"

typedef struct mp__reader_ops {
    /* Opens `path`; fills *model and *info (as far as known); returns its state in *state. */
    int (*open)(void **state, const char *path, const mp_read_opts *opts, mp_model *model, mp_trace_info *info,
                mp_err *err);
    /* As mp_trace_next; may update *info (counts become known). */
    int (*next)(void *state, mp_step *piece, mp_trace_info *info, mp_err *err);
    void (*close)(void *state);
} mp__reader_ops;

typedef struct mp__writer_ops {
    int (*open)(void **state, const char *path, const mp_model *m, const mp_write_opts *opts, mp_err *err);
    int (*put)(void *state, const mp_step *piece, mp_err *err);
    int (*commit)(void *state, mp_err *err); /* frees state */
    void (*abort)(void *state);              /* frees state */
} mp__writer_ops;

typedef struct mp__format {
    mp_format id;
    const char *name;
    const char *ext; /* ".mpt" */
    const mp__reader_ops *reader; /* NULL when the format cannot be read as a trace */
    const mp__writer_ops *writer; /* NULL when it cannot be written from a trace   */
    /* Returns 1 when the first bytes (n of them, up to MP__SNIFF_BYTES) look like this format. */
    int (*sniff)(const unsigned char *head, size_t n);
    /* Load formats: reads the file (or folder) as loads, one matrix per
     * recorded step (opts may be NULL); NULL for routing formats.  A format
     * with both a reader and read_loads (pt) holds either, as its contents
     * say (mp_loads_input). */
    int (*read_loads)(mp_loads **out, const char *path, const mp_read_opts *opts, mp_err *err);
    /* Folder formats: returns 1 when the folder's contents look like this
     * format; NULL when the format is a single file. */
    int (*sniff_dir)(const char *dir);
} mp__format;

/* Bytes of a file's head the sniffers see. */
#define MP__SNIFF_BYTES (1 << 20)

extern const mp__format mp__format_mpt;
extern const mp__format mp__format_npy;
extern const mp__format mp__format_csv;
extern const mp__format mp__format_json;
extern const mp__format mp__format_trtllm;
extern const mp__format mp__format_vllm_eplb;
extern const mp__format mp__format_routed;
extern const mp__format mp__format_pt;

/* 1 when path is a folder holding a .pt file (fmt_pt.c). */
int mp__pt_dir_sniff(const char *path);

/* The loads of an SGLang stat/per_pass dump held in memory (memlen bytes at
 * mem, named "memory.pt" in messages): what mp_loads_read_pt does for a file;
 * for the fuzz harness. */
int mp__pt_read_mem(const void *mem, size_t memlen, const mp_read_opts *opts, mp_loads **out, mp_err *err);

#endif
