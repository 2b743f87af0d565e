/*
 * mp__mpt.h - internal: the pieces of the native .mpt format shared by its
 * files (fmt_mpt.c: reader and writer; mpt_chunk.c: chunk payload coding;
 * mpt_pool.c: the in-order worker pool).  Byte layout: man/mpt.5.
 *
 * Memory: every buffer a function here allocates belongs to the struct it
 * is stored in and is freed by that struct's free function.
 */
#ifndef MP__MPT_H
#define MP__MPT_H

#include <stddef.h>
#include <stdint.h>

#include "traces/mp_error.h"
#include "traces/mp_step.h"

#define MPT_MAGIC "\x89MPT\r\n\x1a\n"  /* 8 bytes                           */
#define MPT_VERSION_MAJOR 1
#define MPT_VERSION_MINOR 0
#define MPT_PREAMBLE_BYTES 16          /* magic, major, minor, header length */
#define MPT_HEADER_MAX (1u << 20)      /* JSON header bytes                  */
#define MPT_CHUNK_TAG "MPTC"
#define MPT_CHUNK_HEADER_BYTES 136      /* fixed fields, six stream descriptors, CRC */
#define MPT_TRAILER_TAG "MPTI"
#define MPT_TRAILER_FIXED_BYTES 48
#define MPT_FOOTER_TAG "MPTE"
#define MPT_FOOTER_BYTES 16
#define MPT_FLAG_END_OF_STEP 1u
#define MPT_FLAGS_KNOWN 1u
/* A chunk's payload is six streams, each stored or zlib-compressed on its own:
 * ids, the four byte planes of the float32 gate weights (byte 0 of every
 * weight, then byte 1, ...), source ranks.  Absent arrays are empty streams. */
#define MPT_STREAMS 6
#define MPT_S_IDS 0
#define MPT_S_PLANE0 1
#define MPT_S_RANKS 5
#define MPT_METHOD_STORED 0u
#define MPT_METHOD_ZLIB 1u
#define MPT_CHUNK_ASSIGN_MAX ((int64_t)1 << 24)      /* per chunk, any reader accepts */
#define MPT_CHUNK_ASSIGN_DEFAULT ((int64_t)1 << 21)  /* what the writer aims for      */
/* Largest count (tokens, assignments, payload bytes, ...) a trailer may
 * hold: 2^53, so that every count is exact as a JSON number, and every
 * product the reader forms with it stays far from int64 overflow. */
#define MPT_COUNT_MAX ((int64_t)1 << 53)
/* A zlib stream of S bytes inflates to at most this many times S bytes
 * (deflate's best: a 258-byte match in 2 bits). */
#define MPT_ZLIB_RATIO_MAX 1032u
/* zlib level when the caller gives none: on `moeplace gen` traces level 1
 * writes 4-5x faster than 6 for a file 1.3% larger (bench/RESULTS.md). */
#define MPT_LEVEL_DEFAULT 1

/* CRC checks; a fuzzing build (FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION, as
 * OSS-Fuzz defines it) lets mismatches pass so that the fuzzer reaches the
 * code behind them. */
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
#define MPT_CRC_BAD(stored, computed) ((void)(stored), (void)(computed), 0)
#else
#define MPT_CRC_BAD(stored, computed) ((stored) != (computed))
#endif

/* Little-endian field access. */
static inline void mpt_put32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static inline void mpt_put64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static inline uint32_t mpt_get32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t mpt_get64(const unsigned char *p)
{
    return (uint64_t)mpt_get32(p) | (uint64_t)mpt_get32(p + 4) << 32;
}

/* zlib's crc32 (the same values), with a faster path on x86-64 CPUs that have PCLMULQDQ. */
uint32_t mpt_crc32(uint32_t crc, const unsigned char *p, size_t n);

/* The largest of n ids. */
unsigned mpt_max_id(const mp_expert_id *v, size_t n);
/* 1 when one of n gate weights is NaN, infinite or negative. */
int mpt_weights_bad(const float *w, size_t n);

/* One stream of a chunk, as its descriptor says. */
typedef struct mpt_stream {
    uint32_t method; /* MPT_METHOD_STORED or MPT_METHOD_ZLIB     */
    uint32_t raw;    /* bytes after decompression               */
    uint32_t size;   /* bytes in the file                       */
    uint32_t crc;    /* CRC-32 of the `size` bytes in the file  */
} mpt_stream;

/* The fixed chunk header, decoded. */
typedef struct mpt_chunk_head {
    uint32_t flags;
    int64_t step;
    int64_t first_token;
    int64_t tokens;
    mpt_stream s[MPT_STREAMS];
} mpt_chunk_head;

/* Shape of every chunk of one file. */
typedef struct mpt_shape {
    int32_t layers, top_k, experts;
    int id_bytes;   /* 1 or 2 */
    int has_weights;
    int has_src;
} mpt_shape;

/* Raw payload bytes of a chunk of `tokens` tokens, or -1 past MPT_CHUNK_ASSIGN_MAX. */
int64_t mpt_raw_size(const mpt_shape *s, int64_t tokens);
/* Raw bytes of stream i of such a chunk (0 for an absent array); tokens must pass mpt_raw_size. */
int64_t mpt_stream_raw(const mpt_shape *s, int64_t tokens, int i);

/* Writes the chunk header (with its own CRC) into out. */
void mpt_chunk_head_encode(const mpt_chunk_head *h, unsigned char *out);
/* Decodes it; returns 0, or 1 when the tag or header CRC is wrong, 2 for
 * unknown flags, 3 for a reserved field that is not 0. */
int mpt_chunk_head_decode(const unsigned char *in, mpt_chunk_head *h);

/* A chunk being encoded: the arrays of the payload, then its compressed form. */
typedef struct mpt_enc {
    unsigned char *ids; /* [tokens][L][K] of id_bytes each */
    int32_t *src;       /* or NULL */
    unsigned char *planes; /* the weights' four byte planes, cap_tokens * L * K bytes apart, or NULL */
    void *z;            /* a deflate stream (z_stream), made on first use */
    int zlevel;
    int64_t cap_tokens;
    int64_t tokens;
    int64_t step, first_token;
    int end_of_step;
    unsigned char *out; /* chunk header, then the deflated streams */
    size_t out_cap;
    /* the payload to write after the header, stream by stream: in out when
     * deflated, else the stream's own array (stored streams are not copied) */
    const unsigned char *seg[MPT_STREAMS];
    size_t seg_len[MPT_STREAMS];
} mpt_enc;

int mpt_enc_reserve(mpt_enc *e, const mpt_shape *s, int64_t cap_tokens, mp_err *err);
void mpt_enc_free(mpt_enc *e);
/* Splits n gate weights into the byte planes at assignment `at` of the chunk. */
void mpt_enc_put_weights(mpt_enc *e, const mpt_shape *s, size_t at, const float *w, size_t n);
/* Compresses the chunk at `level`: the header into e->out, the payload as
 * e->seg; stores each stream raw when deflate does not make it at least 1/32
 * smaller.  Returns 0 or MP_ENOMEM. */
int mpt_enc_finish(mpt_enc *e, const mpt_shape *s, int level);

/* A chunk being decoded: its payload as read, then the piece. */
typedef struct mpt_dec {
    mpt_chunk_head head;
    int fd;          /* the file, read with pread (thread-safe) */
    int64_t index;   /* chunk number      */
    int64_t offset;  /* file offset of its header */
    int want_weights; /* decode the gate weights (else the piece has none) */
    unsigned char *payload; /* one compressed stream as read */
    size_t payload_cap;
    unsigned char *planes;  /* the weights' byte planes */
    size_t planes_cap;
    mp_step piece;
    mp_err err;      /* code != 0 when decoding failed */
} mpt_dec;

/* Reads the payload's streams (whose sizes were checked against the file),
 * checks their CRCs, inflates and validates them into d->piece; streams it
 * does not need (weights unless want_weights) are neither read nor checked.
 * The message names `path`.
 * Returns 0 or a negative code (also in d->err). */
int mpt_dec_run(mpt_dec *d, const mpt_shape *s, const char *path);
void mpt_dec_free(mpt_dec *d);

/* An in-order pool: jobs are numbered, run on worker threads (or inline
 * when threads <= 1) in any order, and consumed in submission order. */
typedef struct mpt_pool mpt_pool;
typedef void (*mpt_job_fn)(void *ctx, int slot);
int mpt_pool_create(mpt_pool **out, int threads, int slots, mpt_job_fn fn, void *ctx, mp_err *err);
/* The slot the next job must be prepared in, or -1 when all are in use. */
int mpt_pool_free_slot(const mpt_pool *p);
/* Submits the job prepared in mpt_pool_free_slot's slot. */
void mpt_pool_submit(mpt_pool *p);
/* Jobs submitted but not yet released. */
int mpt_pool_pending(const mpt_pool *p);
/* Waits for the oldest pending job and returns its slot (pending must be > 0). */
int mpt_pool_wait_oldest(mpt_pool *p);
/* Frees the oldest job's slot. */
void mpt_pool_release_oldest(mpt_pool *p);
/* Waits for running jobs, stops the threads and frees p; NULL is a no-op. */
void mpt_pool_destroy(mpt_pool *p);

/* fmt_mpt.c: makes the reader (mp__format reader state) leave gate weights
 * out of the chunks it has not started decoding; see mp_trace_skip_weights. */
void mp__mpt_skip_weights(void *reader_state);

#endif
