/*
 * mp_trace.h - reading and writing routing traces in every format moeplace
 * knows, as a stream of step pieces in bounded memory.
 *
 * Formats: mpt (native, chunked, zlib + CRC32), npy (NumPy top-k id arrays),
 * csv (step,token,layer,e0..), routed (engines' routed-experts API responses,
 * JSON lines), pt (SGLang expert distribution recorder dumps, torch.save files
 * or a folder of them: a per_token dump is a trace, stat and per_pass dumps
 * hold loads; see mp_loadfile.h); load formats, read through mp_loads_read:
 * json (SGLang logical_count and vLLM-style per-layer arrays), trtllm
 * (TensorRT-LLM's expert statistic folder), vllm-eplb (vLLM EPLB load
 * statistics JSONL).
 *
 * Memory: mp_trace_open and mp_writer_open return handles the caller frees
 * with mp_trace_close and mp_writer_commit/mp_writer_abort; every pointer a
 * handle hands out (model, info strings) lives until that handle is freed.
 */
#ifndef MP_TRACE_H
#define MP_TRACE_H

#include <stdint.h>

#include "traces/mp_error.h"
#include "traces/mp_model.h"
#include "traces/mp_step.h"

typedef enum mp_format {
    MP_FMT_AUTO = 0, /* guess from the file name, then the first bytes */
    MP_FMT_MPT,
    MP_FMT_NPY,
    MP_FMT_CSV,
    MP_FMT_JSON,
    MP_FMT_PT,
    MP_FMT_TRTLLM,    /* TensorRT-LLM expert statistic folder (loads)          */
    MP_FMT_VLLM_EPLB, /* vLLM EPLB load statistics, JSON lines (loads)         */
    MP_FMT_ROUTED,    /* routed-experts API responses, JSON lines (routing)    */
    MP_FMT_COUNT
} mp_format;

/* "mpt", "npy", "csv", "json", "pt", "trtllm", "vllm-eplb", "routed"; "auto"
 * for MP_FMT_AUTO. */
const char *mp_format_name(mp_format f);
/* Parses a format name; returns 0, or MP_ENOTFOUND. */
int mp_format_parse(const char *name, mp_format *out);
/* The format a path's extension names (.mpt .npy .csv .json .pt), or MP_FMT_AUTO. */
mp_format mp_format_from_path(const char *path);

/* The format of an input: `asked` unless MP_FMT_AUTO, else the folder's
 * contents (a folder of .pt files is pt, one of rank{r}.safetensors files
 * trtllm), the extension, the first bytes (JSON lines by their first line).
 * Returns 0, or MP_EIO / MP_EFORMAT naming the path. */
int mp_format_guess(const char *path, mp_format asked, mp_format *out, mp_err *err);

/* 1 when files of format f always hold expert loads (json, trtllm,
 * vllm-eplb: read them with mp_loads_read); 0 for routing formats and for pt,
 * which holds either (mp_loads_input tells). */
int mp_format_is_loads(mp_format f);

typedef enum mp_npy_layout {
    MP_NPY_AUTO = 0, /* [T,K] is one layer; 3-D arrays use the model's L to tell */
    MP_NPY_LTK,      /* [L, T, K]                                                */
    MP_NPY_TLK       /* [T, L, K]                                                */
} mp_npy_layout;

typedef struct mp_read_opts {
    mp_format format;        /* MP_FMT_AUTO guesses                                */
    int threads;             /* decoding threads; 0 or 1 = one                     */
    mp_npy_layout npy_layout;
    const char *weights_path; /* npy: matching float16/float32 weights, or NULL    */
    const mp_model *model;   /* shape for formats that lack one (npy, csv without a
                                header line): fields > 0 override what is inferred */
    int64_t tokens_per_step; /* npy: tokens per step (0: the whole array is one step) */
    const mp_model *config;  /* the model from a configuration (a Hugging Face
                                config.json, a preset), or NULL: the trace's model
                                must agree with it and takes what it lacks
                                (mp_model_apply_config); formats that infer the
                                shape (npy, csv without a header line) take its
                                expert count and layers as `model` above would */
    const char *config_name; /* names the configuration in messages            */
    /* Called with one line (no newline) for what a reader decided that the
     * user should know (pt: layers taken as dense); NULL: not told. */
    void (*notice)(void *ctx, const char *line);
    void *notice_ctx;
} mp_read_opts;

typedef struct mp_trace_info {
    mp_format format;
    int64_t steps;         /* forward passes; -1 when unknown before reading through */
    int64_t tokens;        /* tokens over all steps; -1 when unknown                */
    int64_t assignments;   /* tokens * L * K; -1 when unknown                       */
    int64_t file_bytes;    /* size on disk; -1 when not a regular file             */
    int64_t raw_bytes;     /* ids (2 B), weights (4 B) and ranks (4 B) uncompressed; -1 unknown */
    int has_weights;
    int has_src_rank;
    const char *provenance; /* JSON text ("{}" when none); owned by the trace      */
} mp_trace_info;

typedef struct mp_trace mp_trace;

/* Opens a routing trace for streaming.  opts may be NULL (all defaults).
 * Validates the header (shape, version, sizes) before returning.  Returns 0,
 * or MP_EIO, MP_EFORMAT, MP_EVERSION, MP_ELIMIT, MP_EUNSUPPORTED (a load-only
 * JSON file), ... with a message naming the file and offset. */
int mp_trace_open(mp_trace **out, const char *path, const mp_read_opts *opts, mp_err *err);

/* The model shape; never NULL for an open trace. */
const mp_model *mp_trace_model(const mp_trace *t);

/* The path the trace was opened with; owned by the trace. */
const char *mp_trace_path(const mp_trace *t);

/* Sizes known so far (see the -1 cases above); after mp_trace_next has
 * returned 0 every count is known. */
mp_trace_info mp_trace_get_info(const mp_trace *t);

/* Tells the reader that the caller needs no gate weights: pieces read from
 * now on carry weights == NULL, and formats that store them apart (.mpt)
 * neither read, inflate nor check them.  Best called after mp_trace_open and
 * before the first mp_trace_next; mp_trace_get_info's has_weights still
 * describes the file.  NULL is a no-op. */
void mp_trace_skip_weights(mp_trace *t);

/* Reads the next piece into *piece (buffers grown with mp_step_reserve).
 * Returns 1 when a piece was read, 0 at the end of the trace, or a negative
 * MP_E* code (then the trace is unusable except for mp_trace_close).  Every
 * id is checked to be < E. */
int mp_trace_next(mp_trace *t, mp_step *piece, mp_err *err);

/* Frees the trace; NULL is a no-op. */
void mp_trace_close(mp_trace *t);

typedef struct mp_write_opts {
    mp_format format;        /* MP_FMT_AUTO: from the path's extension           */
    int with_weights;        /* write gate weights (when pieces carry them)      */
    int with_src_rank;       /* write source ranks (when pieces carry them)      */
    int level;               /* mpt: zlib level 1..9; 0 = default (1)            */
    int threads;             /* mpt: compression threads                         */
    int64_t chunk_assignments; /* mpt: target assignments per chunk; 0 = default */
    const char *provenance;  /* JSON object text stored in the header, or NULL   */
    const char *weights_path; /* npy: also write weights here, or NULL           */
    int loads_per_step;      /* json: write [S][L][E] instead of [L][E]          */
} mp_write_opts;

typedef struct mp_writer mp_writer;

/* Opens a writer (to a temporary; see mp_file.h).  opts may be NULL. */
int mp_writer_open(mp_writer **out, const char *path, const mp_model *m, const mp_write_opts *opts, mp_err *err);

/* Appends one piece.  Pieces come in order: steps ascending, a step's tokens
 * in order, and `end_of_step` on each step's last piece. */
int mp_writer_put(mp_writer *w, const mp_step *piece, mp_err *err);

/* Finishes the file and renames it into place; frees w (also on failure). */
int mp_writer_commit(mp_writer *w, mp_err *err);

/* Discards the temporary; frees w.  NULL is a no-op. */
void mp_writer_abort(mp_writer *w);

/* A progress callback of the long-running calls (gen, stats, sim, check):
 * called after each piece with the assignments done so far and the total
 * (-1 when unknown). */
typedef void (*mp_progress_fn)(void *ctx, int64_t done, int64_t total);

#endif
