/* fuzz_planner.c - libFuzzer harness for the planner and the simulator: the
 * bytes become a topology (GPUs, nodes, slots, groups, locality, fixed
 * replicas, shared fusion) and a load matrix (small counts, raw doubles,
 * huge, tiny, denormal, NaN, negative, infinite or zero values), sometimes a
 * JSON load file of ragged shape read through mp_loads_read.  Every
 * strategy of the registry plans it, directly and through mp_planner_run;
 * each plan that comes out is checked (ids in range, every expert placed),
 * its metrics computed, and a few pieces of routing decoded from the bytes
 * are replayed through the simulator with every replica policy.
 *
 * Sizes are capped (L <= 4, E <= 24, R <= 512, tokens <= 24) so that an input
 * runs in milliseconds; out-of-range values (0 or negative GPUs, slots,
 * groups, NaN locality, wrong piece shapes) are produced on purpose and must
 * be refused with an error, never a crash.  abort() marks a broken contract. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "planner/mp_planner.h"
#include "sim/mp_sim.h"
#include "traces/stats/mp_loads_read.h"
#include "traces/mp_loads.h"
#include "tests/fuzz/fuzz_file.h"

typedef struct bytes {
    const uint8_t *p;
    size_t n;
} bytes;

static uint8_t u8(bytes *b)
{
    if (!b->n) return 0;
    b->n--;
    return *b->p++;
}

static uint16_t u16(bytes *b) { return (uint16_t)(u8(b) | (uint16_t)u8(b) << 8); }

static uint32_t u32(bytes *b) { return (uint32_t)u16(b) | (uint32_t)u16(b) << 16; }

static double raw_double(bytes *b)
{
    uint64_t x = (uint64_t)u32(b) | (uint64_t)u32(b) << 32;
    double d;
    memcpy(&d, &x, sizeof d);
    return d;
}

static const double SPECIAL[] = {0.0,
                                 -0.0,
                                 1.0,
                                 -1.0,
                                 NAN,
                                 INFINITY,
                                 -INFINITY,
                                 1.7976931348623157e308,
                                 1e308,
                                 2.2250738585072014e-308,
                                 4.9406564584124654e-324,
                                 1e-320,
                                 9007199254740992.0,
                                 9007199254740994.0,
                                 18446744073709551616.0,
                                 1e-300,
                                 0.5,
                                 3.0,
                                 1e6,
                                 4503599627370496.0};
#define N_SPECIAL (sizeof SPECIAL / sizeof SPECIAL[0])

/* One weight, in the style `mode` picks. */
static double weight(bytes *b, int mode)
{
    switch (mode) {
    case 0: return u8(b);                                /* small counts        */
    case 1: return raw_double(b);                        /* anything at all     */
    case 2: return 1e308 * (u8(b) / 255.0);              /* huge: sums overflow */
    case 3: return u8(b) * 4.9406564584124654e-324;      /* denormal            */
    case 4: return SPECIAL[u8(b) % N_SPECIAL];           /* the edge values     */
    case 5: return u8(b) < 200 ? (double)u8(b) : SPECIAL[u8(b) % N_SPECIAL];
    default: return (double)u16(b) * (double)u16(b);     /* large counts        */
    }
}

/* A small count: usually in range, sometimes 0, negative or large. */
static int32_t dim(bytes *b, int32_t max)
{
    uint8_t c = u8(b);
    if (c == 255) return 0;
    if (c == 254) return -1 - (int32_t)u8(b);
    if (c == 253) return 100000 + u8(b);
    return 1 + c % max;
}

static void check_err(int rc, const mp_err *err)
{
    if (rc > 0 || rc < MP_ECODE_MIN) abort();
    if (rc && (err->code != rc || !err->msg[0])) abort();
}

/* A successful plan: every slot holds an expert, every expert has a slot. */
static void check_row_set(const int32_t *phy2log, int32_t L, int32_t E, int32_t R)
{
    uint8_t *seen = calloc((size_t)E, 1);
    if (!seen) return;
    for (int32_t l = 0; l < L; l++) {
        memset(seen, 0, (size_t)E);
        for (int32_t p = 0; p < R; p++) {
            int32_t e = phy2log[(int64_t)l * R + p];
            if (e < 0 || e >= E) abort();
            seen[e] = 1;
        }
        for (int32_t e = 0; e < E; e++)
            if (!seen[e]) abort();
    }
    free(seen);
}

/* Replays a few pieces decoded from the bytes through the plan, with every
 * replica policy. */
static void simulate(bytes *b, const mp_plan *plan, int32_t E)
{
    mp_model m = mp_model_default();
    m.layers = plan->layers;
    m.experts = E;
    m.top_k = 1 + u8(b) % (E < 4 ? E : 4);
    m.shared = u8(b) % 2;
    m.hidden = u8(b) % 3 == 0 ? 0 : 16 * (1 + u8(b) % 8);
    m.intermediate = u8(b) % 3 == 0 ? 0 : 16 * (1 + u8(b) % 8);
    uint8_t twist = u8(b);
    if (twist == 7) m.layers += 1;    /* wrong shapes must be refused */
    if (twist == 8) m.experts += 1;
    if (twist == 9) m.top_k = 0;
    if (twist == 10) m.top_k = 1000;
    int pieces = 1 + u8(b) % 3;
    for (int pi = 0; pi < mp_policy_count(); pi++) {
        mp_sim_opts o = mp_sim_opts_default();
        o.policy = &mp_policy_table()[pi];
        o.seed = u8(b);
        o.threads = u8(b) % 8 == 0 ? 2 : 1;
        o.keep_series = u8(b) % 2;
        if (u8(b) % 16 == 0) o.cost.hbm_GBps = SPECIAL[u8(b) % N_SPECIAL]; /* must be refused or used */
        mp_sim *s = NULL;
        mp_err err = {0};
        int rc = mp_sim_create(&s, plan, &m, &o, &err);
        check_err(rc, &err);
        if (rc) {
            if (s) abort();
            continue;
        }
        const bytes save = *b; /* every policy plays the same pieces */
        int64_t step = 0, first = 0;
        for (int k = 0; k < pieces; k++) {
            mp_step p = {0};
            int64_t T = u8(b) % 25;
            int with_src = u8(b) % 2;
            int32_t pl = m.layers, pk = m.top_k;
            uint8_t bad = u8(b);
            if (bad == 1) pl++;
            if (bad == 2) pk++;
            if (pk < 1 || pk > 64 || mp_step_reserve(&p, T, pl, pk, 0, with_src, &err)) {
                mp_step_release(&p);
                break;
            }
            p.step = bad == 3 ? step - 1 : step;
            p.first_token = bad == 4 ? -5 : first;
            p.end_of_step = u8(b) % 2;
            for (int64_t i = 0; i < T * pl * pk; i++) {
                uint8_t c = u8(b);
                p.ids[i] = c == 255 ? (mp_expert_id)u16(b) : (mp_expert_id)(c % (E + 1));
            }
            if (with_src)
                for (int64_t i = 0; i < T; i++) p.src_rank[i] = u8(b) == 0 ? (int32_t)u32(b) : (int32_t)u8(b);
            rc = mp_sim_feed(s, &p, &err);
            check_err(rc, &err);
            if (p.end_of_step) {
                step++;
                first = 0;
            } else {
                first += T;
            }
            mp_step_release(&p);
            if (rc) break;
        }
        mp_sim_result *res = NULL;
        rc = mp_sim_finish(s, &res, &err);
        check_err(rc, &err);
        if (!rc && (!res || res->layers != plan->layers)) abort();
        mp_sim_result_destroy(res);
        mp_sim_destroy(s);
        *b = save;
    }
}

/* Relabels the plan against an old one of the same shape decoded from the
 * bytes (ids sometimes out of range: refused); the loads per GPU must not
 * change. */
static void migrate(bytes *b, mp_plan *p)
{
    if (u8(b) % 2) return;
    mp_plan *old = NULL;
    mp_err err = {0};
    if (mp_plan_create(&old, p->layers, p->experts, &p->topo, &err)) return;
    for (int64_t i = 0; i < (int64_t)p->layers * p->slots; i++) {
        uint8_t c = u8(b);
        old->phy2log[i] = c == 255 ? -1 : c == 254 ? p->experts : c % p->experts;
    }
    int32_t *before = malloc((size_t)p->layers * p->slots * sizeof *before);
    if (before) memcpy(before, p->phy2log, (size_t)p->layers * p->slots * sizeof *before);
    mp_migration mg;
    int rc = mp_plan_migrate(p, old, 1000, &mg, &err);
    check_err(rc, &err);
    int64_t *cnt = calloc((size_t)p->experts, sizeof *cnt);
    if (!rc && before && cnt) { /* the same experts in every layer, all slots accounted for */
        check_row_set(p->phy2log, p->layers, p->experts, p->slots);
        if (mg.moved_experts + mg.kept_experts != (int64_t)p->layers * p->slots) abort();
        for (int32_t l = 0; l < p->layers; l++) {
            for (int32_t s = 0; s < p->slots; s++) {
                cnt[before[(int64_t)l * p->slots + s]]++;
                cnt[p->phy2log[(int64_t)l * p->slots + s]]--;
            }
            for (int32_t e = 0; e < p->experts; e++)
                if (cnt[e]) abort();
        }
    }
    free(cnt);
    free(before);
    mp_plan_destroy(old);
}

/* Metrics of a derived plan on loads [L][plan->experts]. */
static void metrics(const mp_plan *p, const double *w)
{
    mp_plan_metrics *m = NULL;
    mp_err err = {0};
    int rc = mp_plan_metrics_compute(&m, p, w, &err);
    check_err(rc, &err);
    if (!rc && (m->worst_layer < 0 || m->worst_layer >= p->layers)) abort();
    mp_plan_metrics_destroy(m);
}

/* The loads as a JSON text of (perhaps) ragged shape, through the reader. */
static mp_loads *json_loads(bytes *b, int mode)
{
    size_t cap = 1 << 16, n = 0;
    char *t = malloc(cap);
    if (!t) return NULL;
    int S = 1 + u8(b) % 3, L = 1 + u8(b) % 4, E = 1 + u8(b) % 16, three = u8(b) % 2;
    const char *key = u8(b) % 2 ? "logical_count" : "expert_load";
    n += (size_t)snprintf(t + n, cap - n, "{\"%s\": [", key);
    for (int s = 0; s < (three ? S : 1); s++) {
        if (three) n += (size_t)snprintf(t + n, cap - n, "%s[", s ? "," : "");
        int Ls = L + (u8(b) == 0); /* ragged now and then */
        for (int l = 0; l < Ls && n + 512 < cap; l++) {
            n += (size_t)snprintf(t + n, cap - n, "%s[", l ? "," : "");
            int Es = E + (u8(b) == 0) - (u8(b) == 0);
            for (int e = 0; e < Es && n + 64 < cap; e++) {
                double v = weight(b, mode);
                if (isnan(v)) n += (size_t)snprintf(t + n, cap - n, "%sNaN", e ? "," : "");
                else if (isinf(v)) n += (size_t)snprintf(t + n, cap - n, "%s%s1e999", e ? "," : "", v < 0 ? "-" : "");
                else n += (size_t)snprintf(t + n, cap - n, "%s%.17g", e ? "," : "", v);
            }
            n += (size_t)snprintf(t + n, cap - n, "]");
        }
        if (three) n += (size_t)snprintf(t + n, cap - n, "]");
    }
    n += (size_t)snprintf(t + n, cap - n, "]}");
    const char *path = fuzz_file_path("planner", ".json");
    mp_loads *l = NULL;
    if (fuzz_file_put(path, (const uint8_t *)t, n) == 0) {
        mp_err err = {0};
        int rc = mp_loads_read(&l, path, NULL, u8(b) % 2, &err);
        check_err(rc, &err);
        if (!rc) { /* what a reader lets through is what the planner may count on */
            for (int64_t i = 0; i < (int64_t)l->steps * l->layers * l->experts; i++)
                if (!(l->count[i] >= 0 && l->count[i] < MP_LOADS_SUM_MAX)) abort();
        }
        remove(path);
    }
    free(t);
    return l;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    bytes b = {data, size};
    int mode = u8(&b) % 7;
    int32_t L = dim(&b, 4), E = dim(&b, 24), P = dim(&b, 12), N = dim(&b, 4), S = dim(&b, 6);
    int32_t groups = (int32_t)(u8(&b) % 6) - (u8(&b) == 0);
    double locality = u8(&b) % 4 == 0 ? weight(&b, 4) : (u8(&b) % 3) / 2.0;
    int32_t fixed = u8(&b) % 4 == 0 ? (int32_t)(u8(&b) % 4) : 0;
    int use_ident = u8(&b) % 4 == 0;
    if (P > 0 && N > 0 && u8(&b) % 2) N = P % N == 0 ? N : 1; /* mostly valid topologies */
    int64_t R = (int64_t)P * S;
    /* the matrix handed to the strategies: L x E, or a dummy when the shape is absurd */
    int sane = L >= 1 && L <= 4 && E >= 1 && E <= 24;
    int64_t cells = sane ? (int64_t)L * E : 1;
    double *w = malloc((size_t)cells * sizeof *w), *win = NULL;
    int32_t *ident = malloc((size_t)(sane ? E : 1) * sizeof *ident);
    int64_t out_cells = sane && R >= 1 && R <= 512 ? (int64_t)L * R : 1;
    int32_t *phy2log = malloc((size_t)out_cells * sizeof *phy2log);
    if (!w || !ident || !phy2log) goto out;
    for (int64_t i = 0; i < cells; i++) w[i] = weight(&b, mode);
    for (int32_t e = 0; e < (sane ? E : 1); e++) ident[e] = u8(&b) % 8 == 0 ? (int32_t)u8(&b) - 2 : e;

    /* 1. every strategy, called directly */
    mp_strategy_input in = {sane ? L : 1, sane ? E : 1, w, use_ident ? ident : NULL, groups, {P, N, S}, locality, fixed, 0, NULL, 0};
    if (!sane) in.layers = L, in.experts = E; /* the guard must refuse before touching w */
    /* sometimes windows of per-step loads and a served batch (robust reads them;
     * the guard checks them for every strategy) */
    if (u8(&b) % 3 == 0) {
        int32_t nw = (int32_t)(u8(&b) % 5); /* 0..4: 1 is refused */
        if ((win = malloc((size_t)(nw > 0 ? nw : 1) * cells * sizeof *win))) {
            for (int64_t i = 0; i < (int64_t)nw * cells; i++) win[i] = weight(&b, mode);
            in.windows = nw, in.step_load = u8(&b) % 8 ? win : NULL;
            in.batch_load = u8(&b) % 4 ? u8(&b) * 16.0 : weight(&b, 1);
        }
    }
    for (int i = 0; i < mp_strategy_count(); i++) {
        const mp_strategy *st = mp_strategy_at(i);
        mp_err err = {0};
        for (int64_t c = 0; c < out_cells; c++) phy2log[c] = -1;
        int rc = st->run(&in, phy2log, &err);
        check_err(rc, &err);
        if (rc) continue;
        /* it ran: its input passed the guard and its output must keep the contract */
        if (mp_strategy_input_check(&in, st->redundant, "fuzz", &err) != 0) abort();
        check_row_set(phy2log, L, E, (int32_t)R);
        mp_plan *p = NULL;
        if (mp_plan_create(&p, L, E, &in.topo, &err) == 0) {
            memcpy(p->phy2log, phy2log, (size_t)L * R * sizeof *phy2log);
            if (mp_plan_derive(p, &err) != 0) abort();
            metrics(p, w);
        }
        mp_plan_destroy(p);
    }

    /* 2. the whole planner on loads (from the bytes, or a JSON file), then the simulator */
    mp_loads *loads = NULL;
    if (u8(&b) % 4 == 0) {
        loads = json_loads(&b, mode);
    } else if (sane) {
        int32_t steps = 1 + u8(&b) % 3;
        if (mp_loads_create(&loads, steps, L, E, NULL) == 0)
            for (int64_t i = 0; i < (int64_t)steps * L * E; i++) loads->count[i] = weight(&b, mode);
    }
    if (loads) {
        const mp_strategy *st = mp_strategy_at(u8(&b) % mp_strategy_count());
        mp_plan_request q = {0};
        q.strategy = st->name;
        int32_t X = u8(&b) % 2 ? (int32_t)(u8(&b) % 17) : 0;
        int32_t Pq = P >= 1 && P <= 16 ? P : 1 + u8(&b) % 8;
        q.shared_fusion = u8(&b) % 4 == 0 ? 1 + u8(&b) % 4 : 0;
        int64_t items = (int64_t)loads->experts + q.shared_fusion;
        int32_t Sq = (int32_t)((items + X + Pq - 1) / Pq);
        q.topo = (mp_topology){Pq, N >= 1 && Pq % N == 0 ? N : 1, Sq < 1 ? 1 : Sq};
        q.groups = groups > 0 ? groups : 0;
        q.locality = locality;
        q.top_k = u8(&b) % 3;
        mp_plan *p = NULL;
        mp_err err = {0};
        int rc = mp_planner_run(&p, loads, &q, &err);
        check_err(rc, &err);
        if (!rc) {
            check_row_set(p->phy2log, p->layers, p->experts, p->slots);
            double *pw = mp_plan_expert_loads(p, loads);
            if (pw) metrics(p, pw);
            free(pw);
            double per[4];
            double mm = mp_plan_even_maxmean(p, loads, p->layers <= 4 ? per : NULL);
            (void)mm;
            migrate(&b, p);
            simulate(&b, p, loads->experts);
        }
        mp_plan_destroy(p);
    }
    mp_loads_destroy(loads);
out:
    free(w);
    free(win);
    free(ident);
    free(phy2log);
    return 0;
}
