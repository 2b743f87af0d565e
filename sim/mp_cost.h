/*
 * mp_cost.h - the cost model: predicted time of one MoE layer of one step
 * from what each GPU computes and what crosses NVLink and the network.
 *
 * Expert time of one GPU = sum over its active expert slots of t(rows) (+ the
 * unfused shared experts of the tokens it sources), where t(rows) is either
 * interpolated from a table of measured points or the analytic
 *   max(weight bytes / HBM bandwidth, 2 * 3 * H * I * rows / peak) + fixed.
 * Dispatch (and combine) time = fixed latency + max over GPUs of
 * max(NVLink bytes / NVLink bandwidth, network bytes / network bandwidth),
 * counting each GPU's bytes sent and received.  Layer time = max over GPUs of
 * expert time + dispatch + combine; step time = sum over layers.
 *
 * JSON form (schema "moeplace.cost", schema_version 1): one object, every key
 * optional (missing keys keep the H100 + NVLink + 400 Gb/s defaults):
 *   {"schema": "moeplace.cost", "schema_version": 1, "name": "h100-nvlink-400g",
 *    "hbm_GBps": 3000, "peak_tflops": 800, "expert_fixed_us": 4,
 *    "weight_bytes": 2, "act_bytes": 2, "hidden": 0, "intermediate": 0,
 *    "nvlink_GBps": 450, "net_GBps": 50, "dispatch_fixed_us": 10,
 *    "combine_fixed_us": 10,
 *    "expert_table": [[rows, us], ...]}          (rows ascending, >= 0)
 * hidden/intermediate 0 take the model's sizes.  Written by `moeplace replay
 * --calibrate` (kernels) and read by `moeplace sim --cost FILE`.
 *
 * Memory: mp_cost is a plain value (the table is inline); nothing to free.
 * mp_cost_to_json returns a heap string the caller frees with free().
 */
#ifndef MP_COST_H
#define MP_COST_H

#include <stddef.h>
#include <stdint.h>

#include "traces/mp_error.h"
#include "traces/mp_model.h"

#define MP_COST_SCHEMA "moeplace.cost"
#define MP_COST_SCHEMA_VERSION 1
#define MP_COST_TABLE_MAX 256   /* measured points of the expert-time table */
#define MP_COST_FILE_MAX (1 << 20) /* largest cost file read, bytes          */

typedef struct mp_cost_point {
    double rows; /* token-expert rows given to one expert          */
    double us;   /* measured time of that expert's FFN, microseconds */
} mp_cost_point;

typedef struct mp_cost {
    char name[64];
    double hbm_GBps;          /* HBM bandwidth, GB/s (1e9 bytes)              */
    double peak_tflops;       /* dense GEMM peak, TFLOP/s                     */
    double expert_fixed_us;   /* fixed cost per active expert, us             */
    double weight_bytes;      /* bytes per expert weight parameter (2 bf16, 1 fp8) */
    double act_bytes;         /* bytes per activation element sent (dispatch, combine) */
    int64_t hidden;           /* H; 0 = the model's                           */
    int64_t intermediate;     /* expert I; 0 = the model's                    */
    double nvlink_GBps;       /* per-GPU NVLink bandwidth, one direction      */
    double net_GBps;          /* per-GPU network bandwidth, one direction     */
    double dispatch_fixed_us; /* latency of one dispatch                      */
    double combine_fixed_us;  /* latency of one combine                       */
    int32_t table_len;        /* 0: analytic expert time                      */
    mp_cost_point table[MP_COST_TABLE_MAX];
} mp_cost;

/* The numeric fields and the one range each accepts, shared by cost files and
 * the command-line flags that set the same figures: bandwidths, peak and byte
 * sizes in [1e-6, 1e15], fixed costs in [0, 1e15], hidden and intermediate
 * whole numbers in [0, 2^24] (0: the model's). */
typedef struct mp_cost_field {
    const char *key; /* JSON key, e.g. "hbm_GBps"                */
    size_t off;      /* offsetof(mp_cost, ...)                   */
    double lo, hi;   /* accepted range, both ends included        */
    int is_int;      /* an int64_t field (whole numbers)          */
} mp_cost_field;

int mp_cost_field_count(void);
const mp_cost_field *mp_cost_field_at(int i);
/* NULL when `key` is no numeric field. */
const mp_cost_field *mp_cost_field_find(const char *key);
/* 0, or MP_ERANGE with "WHAT: KEY: V is outside [LO, HI]" (or "is not a
 * whole number"). */
int mp_cost_field_check(const mp_cost_field *f, double v, const char *what, mp_err *err);

/* H100 SXM + NVLink (450 GB/s per direction) + 400 Gb/s (50 GB/s) network, bf16. */
mp_cost mp_cost_default(void);

/* Checks every figure against its mp_cost_field range and the table is
 * ascending in rows.  Returns 0 or MP_ERANGE naming `what`. */
int mp_cost_validate(const mp_cost *c, const char *what, mp_err *err);

/* Parses the JSON form from `json` (len bytes, need not be NUL-terminated)
 * over the defaults.  Rejects unknown keys, wrong types, a wrong schema or
 * version, and invalid figures.  Returns 0, MP_EFORMAT, MP_EVERSION,
 * MP_ERANGE, MP_ELIMIT or MP_ENOMEM with a message naming `what`. */
int mp_cost_from_json(mp_cost *out, const char *json, size_t len, const char *what, mp_err *err);

/* Reads a cost file (at most MP_COST_FILE_MAX bytes). */
int mp_cost_read(mp_cost *out, const char *path, mp_err *err);

/* The JSON form (keys in the order above, "%.17g" numbers); NULL when out of memory. */
char *mp_cost_to_json(const mp_cost *c);

/* Writes the JSON form atomically ("-" = standard output). */
int mp_cost_write(const mp_cost *c, const char *path, mp_err *err);

/* Hidden and intermediate sizes in force: the cost's when set, else the model's. */
int64_t mp_cost_hidden(const mp_cost *c, const mp_model *m);
int64_t mp_cost_intermediate(const mp_cost *c, const mp_model *m);

/* Time in microseconds of one expert given `rows` rows (0 rows: 0). */
double mp_cost_expert_us(const mp_cost *c, const mp_model *m, double rows);

/* Time in microseconds to move nvl_bytes over NVLink and net_bytes over the
 * network from one GPU (the slower of the two links). */
double mp_cost_link_us(const mp_cost *c, double nvl_bytes, double net_bytes);

#endif
