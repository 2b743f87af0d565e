/*
 * mp__safetensors.h - internal: a reader of safetensors files, the tensor
 * container Hugging Face's `safetensors` package writes
 * (https://github.com/huggingface/safetensors, "Format" in its README):
 *
 *   8 bytes   N, the header length, unsigned little-endian
 *   N bytes   a JSON object: {"NAME": {"dtype": "I64", "shape": [d0, ...],
 *             "data_offsets": [BEGIN, END]}, ..., "__metadata__": {str: str}}
 *   rest      the byte buffer; offsets count from its start
 *
 * Every bound is checked before anything is allocated or read: N at most
 * MP__ST_HEADER_MAX and inside the file; the header an object of objects with
 * known dtypes, at most MP__ST_NDIM_MAX dimensions, shape product times the
 * item size equal to END - BEGIN (no overflow); the tensors, sorted by their
 * offsets, tile the buffer exactly (no gap, no overlap, the last ending at
 * the end of the file), as the reference implementation requires; names
 * unique.  Errors name the file and the byte offset or the header key.
 *
 * Memory: mp__st_open returns a handle freed with mp__st_close (NULL is a
 * no-op); the tensor table and its names live until then.
 */
#ifndef MP__SAFETENSORS_H
#define MP__SAFETENSORS_H

#include <stdint.h>
#include <stdio.h>

#include "traces/mp_error.h"

#define MP__ST_HEADER_MAX (100 * 1000 * 1000) /* the reference reader's own cap */
#define MP__ST_NDIM_MAX 8

typedef enum mp__st_dtype {
    MP__ST_BOOL,
    MP__ST_U8,
    MP__ST_I8,
    MP__ST_U16,
    MP__ST_I16,
    MP__ST_U32,
    MP__ST_I32,
    MP__ST_U64,
    MP__ST_I64,
    MP__ST_F16,
    MP__ST_BF16,
    MP__ST_F32,
    MP__ST_F64,
    MP__ST_F8_E4M3,
    MP__ST_F8_E5M2
} mp__st_dtype;

typedef struct mp__st_tensor {
    char *name;
    mp__st_dtype dtype;
    int itemsize;
    int ndim;
    int64_t shape[MP__ST_NDIM_MAX];
    int64_t count;  /* elements: the product of shape (1 for a scalar)   */
    int64_t offset; /* absolute file offset of the first byte            */
    int64_t bytes;  /* count * itemsize                                  */
} mp__st_tensor;

typedef struct mp__st_file {
    FILE *fp;
    const char *path; /* the caller's string; must outlive the handle */
    int64_t file_size;
    int ntensors;
    mp__st_tensor *t; /* in header order */
} mp__st_file;

/* Opens `path` and checks its header and layout (above).  Returns 0, or
 * MP_EIO, MP_EFORMAT, MP_ELIMIT, MP_ENOMEM with err naming the file. */
int mp__st_open(mp__st_file **out, const char *path, mp_err *err);

void mp__st_close(mp__st_file *f);

/* The dtype's name as the header spells it ("I64"). */
const char *mp__st_dtype_name(mp__st_dtype d);

/* Adds tensor i's elements, read as counts, to acc[0..count): integer
 * dtypes and F32/F64; negative, NaN or infinite values, and values of 2^53 or
 * more, are MP_ERANGE naming the tensor and the element's byte offset; other
 * dtypes are MP_EUNSUPPORTED. */
int mp__st_add_counts(mp__st_file *f, int i, double *acc, mp_err *err);

#endif
