/* bench_holdout.c - the held-out acceptance suite of the placement
 * strategies: every case plans on a training part and is judged on a part
 * the planner never saw.
 *
 *   bench_holdout [-J FILE] [-M] [--set dev|test|all] [--quick] [--esft DIR] [--real DIR]
 *
 * Cases (fixed before any tuning; bench/README.md lists them):
 *  - real, across workloads: DeepSeek ESFT-vanilla-lite selection shares of
 *    four tasks (intent from --real DIR, law, summary, translation from
 *    --esft DIR, default bench/data): planned on one task, judged on another;
 *  - real popularity, sampled steps: Qwen2-57B's SGLang loads (--real DIR) as
 *    the popularity of a multinomial trace (prefill 8192 and decode 256 tokens
 *    per step, top-8), the first half of the steps planned, the second judged;
 *  - synthetic traces of the generator (traces/gen) with drift, topics and an
 *    abrupt shift inside the judged half, prefill (8192 tokens per step) and
 *    decode (256), DeepSeek-V2-Lite, Qwen3-30B and DeepSeek-V3 shapes, 1-8
 *    nodes: the first half of the steps planned, the second judged.
 * Split rule: in time, the first half of the steps trains, the second half is
 * judged; across workloads, one task trains and another is judged.  The
 * development set (--set dev) has other seeds and other workload pairs than
 * the test set (--set test): the strategies' constants are tuned on dev only.
 *
 * Judged figure: per held-out step, every layer's GPU max/mean (each expert's
 * count split evenly over its replicas), averaged over layers, then over the
 * steps: the expected per-step max/mean, the headline.  Also the max/mean of
 * the held-out steps summed.  Excess = figure - 1.
 * Planners: robust (the default), eplb-global, eplb (hierarchical where the
 * groups split over the nodes), deepseek_vec (SGLang's per-step objective,
 * reimplemented here: the replica counts that minimise the sum over the
 * training steps of the step's largest replica load, then a snake order over
 * the GPUs), balanced, and the oracle (balanced planned on the judged part).
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/harness.h"
#include "planner/mp_planner.h"
#include "traces/gen/mp_gen.h"
#include "traces/mp_rng.h"
#include "traces/stats/mp_loads_read.h"

enum { PL_ROBUST, PL_EPLBG, PL_EPLB, PL_DSVEC, PL_BALANCED, PL_ORACLE, NPL };
static const char *const PL_NAME[NPL] = {"robust", "eplb-global", "eplb", "deepseek_vec", "balanced", "oracle"};

typedef struct hcase {
    char name[96];
    int dev;
    mp_loads *train, *test;
    int32_t P, N, S, G;
    double batch_tokens; /* 0: the planner's default */
} hcase;

typedef struct score {
    double step[NPL], sum[NPL], insample;
} score;

static void die(const char *what, const mp_err *err)
{
    fprintf(stderr, "bench_holdout: %s: %s\n", what, err ? err->msg : "failed");
    exit(1);
}

/* steps [a, b) of l as a new matrix */
static mp_loads *slice(const mp_loads *l, int32_t a, int32_t b)
{
    mp_loads *o;
    mp_err err = {0};
    if (mp_loads_create(&o, b - a, l->layers, l->experts, &err)) die("slice", &err);
    o->has_model = l->has_model, o->model = l->model;
    memcpy(o->count, mp_loads_row(l, a, 0), (size_t)(b - a) * l->layers * l->experts * sizeof *o->count);
    return o;
}

/* ---- synthetic traces ---- */
static mp_loads *gen_loads(const char *preset, const char *skew, int decode, int64_t steps, int64_t tps,
                           int32_t topics, double drift, int64_t shift_at, uint64_t seed)
{
    mp_gen_opts o;
    mp_err err = {0};
    mp_gen_opts_default(&o);
    mp_gen_opts_phase(&o, decode);
    if (mp_gen_preset_find(preset, &o.model, &err) || mp_skew_parse(skew, &o.skew, &err)) die(preset, &err);
    o.steps = steps, o.tokens_per_step = tps, o.topics = topics, o.drift = drift, o.shift_at = shift_at;
    o.seed = seed, o.threads = 1, o.with_weights = 0;
    if (!decode && o.request_tokens > tps) o.request_tokens = (int32_t)tps;
    mp_gen *g;
    if (mp_gen_create(&g, &o, &err)) die("gen", &err);
    int32_t L = o.model.layers, E = o.model.experts, K = o.model.top_k;
    mp_loads *l;
    if (mp_loads_create(&l, (int32_t)steps, L, E, &err)) die("gen", &err);
    l->has_model = 1, l->model = o.model;
    mp_step piece;
    memset(&piece, 0, sizeof piece);
    int64_t chunk = mp_gen_piece_tokens(g);
    for (int64_t s = 0; s < steps; s++)
        for (int64_t t0 = 0; t0 < tps; t0 += chunk) {
            int64_t n = tps - t0 < chunk ? tps - t0 : chunk;
            if (mp_gen_fill(g, s, t0, n, &piece, &err)) die("gen", &err);
            for (int64_t t = 0; t < piece.tokens; t++)
                for (int32_t k = 0; k < L; k++) {
                    double *row = mp_loads_row(l, (int32_t)s, k);
                    const mp_expert_id *id = piece.ids + (t * L + k) * K;
                    for (int32_t j = 0; j < K; j++)
                        if (id[j] < E) row[id[j]] += 1;
                }
        }
    mp_step_release(&piece);
    mp_gen_destroy(g);
    return l;
}

/* ---- real popularity, multinomial steps of `tokens` x K assignments ---- */
static mp_loads *sample_loads(const mp_loads *pop, int32_t K, int32_t steps, int64_t tokens, uint64_t seed)
{
    int32_t L = pop->layers, E = pop->experts;
    mp_loads *l;
    mp_err err = {0};
    if (mp_loads_create(&l, steps, L, E, &err)) die("sample", &err);
    double *cdf = malloc((size_t)E * sizeof *cdf);
    if (!cdf) die("sample", NULL);
    for (int32_t k = 0; k < L; k++) {
        const double *p = mp_loads_row(pop, 0, k);
        double t = 0;
        for (int32_t e = 0; e < E; e++) cdf[e] = (t += p[e]);
        for (int32_t s = 0; s < steps; s++) {
            mp_rng r = mp_rng_stream(seed, 0x686f6c64, (uint64_t)s, (uint64_t)k);
            double *row = mp_loads_row(l, s, k);
            for (int64_t a = 0; a < tokens * K; a++) {
                double u = mp_rng_double(&r) * t;
                int32_t lo = 0, hi = E - 1;
                while (lo < hi) {
                    int32_t mid = (lo + hi) / 2;
                    if (cdf[mid] > u) hi = mid;
                    else lo = mid + 1;
                }
                row[lo] += 1;
            }
        }
    }
    free(cdf);
    return l;
}

typedef struct kv {
    double v;
    int32_t i;
} kv;

static int kv_desc(const void *a, const void *b) /* descending, lower index first on ties */
{
    const kv *x = a, *y = b;
    if (x->v != y->v) return x->v > y->v ? -1 : 1;
    return (x->i > y->i) - (x->i < y->i);
}

/* ---- SGLang's deepseek_vec idea: per-step replica counts, snake packing ---- */
static int32_t *dsvec_plan(const mp_loads *tr, int32_t P, int32_t S)
{
    int32_t L = tr->layers, E = tr->experts, T = tr->steps, R = P * S;
    int32_t *phy = malloc((size_t)L * R * sizeof *phy), *cnt = malloc((size_t)E * sizeof *cnt);
    int32_t *i1 = malloc((size_t)T * sizeof *i1), *ord = malloc((size_t)R * sizeof *ord);
    double *m1 = malloc((size_t)T * sizeof *m1), *m2 = malloc((size_t)T * sizeof *m2);
    double *gain = malloc((size_t)E * sizeof *gain);
    double *tot = malloc((size_t)E * sizeof *tot);
    if (!phy || !cnt || !i1 || !ord || !m1 || !m2 || !gain || !tot) die("deepseek_vec", NULL);
    for (int32_t k = 0; k < L; k++) {
        int32_t *row = phy + (int64_t)k * R;
        for (int32_t e = 0; e < E; e++) cnt[e] = 1, row[e] = e;
        /* score of expert e in step t: w/cnt (+ e * 1e-4 to break ties, as SGLang does) */
        for (int32_t x = E; x < R; x++) {
            for (int32_t t = 0; t < T; t++) {
                const double *w = mp_loads_row(tr, t, k);
                m1[t] = -1, m2[t] = -1, i1[t] = -1;
                for (int32_t e = 0; e < E; e++) {
                    double v = (w[e] + e * 1e-4) / cnt[e];
                    if (v > m1[t]) m2[t] = m1[t], m1[t] = v, i1[t] = e;
                    else if (v > m2[t]) m2[t] = v;
                }
            }
            for (int32_t e = 0; e < E; e++) gain[e] = 0;
            for (int32_t t = 0; t < T; t++) { /* the step's max falls only where e is its argmax */
                int32_t e = i1[t];
                double nv = mp_loads_row(tr, t, k)[e] / (cnt[e] + 1);
                gain[e] += (nv > m2[t] ? nv : m2[t]) - m1[t];
            }
            int32_t best = 0;
            for (int32_t e = 1; e < E; e++)
                if (gain[e] < gain[best]) best = e;
            row[x] = best;
            cnt[best]++;
        }
        /* snake: slots by summed load per replica, descending, dealt 0..P-1, P-1..0, ... */
        for (int32_t e = 0; e < E; e++) {
            tot[e] = 0;
            for (int32_t t = 0; t < T; t++) tot[e] += mp_loads_row(tr, t, k)[e];
        }
        kv *srt = malloc((size_t)R * sizeof *srt);
        if (!srt) die("deepseek_vec", NULL);
        for (int32_t i = 0; i < R; i++) srt[i].v = tot[row[i]] / cnt[row[i]], srt[i].i = i;
        qsort(srt, (size_t)R, sizeof *srt, kv_desc);
        for (int32_t i = 0; i < R; i++) ord[i] = srt[i].i;
        free(srt);
        int32_t *tmp = malloc((size_t)R * sizeof *tmp);
        if (!tmp) die("deepseek_vec", NULL);
        for (int32_t i = 0; i < R; i++) {
            int32_t round = i / P, j = i % P, g = round % 2 ? P - 1 - j : j;
            tmp[g * S + round] = row[ord[i]];
        }
        memcpy(row, tmp, (size_t)R * sizeof *row);
        free(tmp);
    }
    free(cnt), free(i1), free(ord), free(m1), free(m2), free(gain), free(tot);
    return phy;
}

/* ---- judging ---- */
static void judge(const int32_t *phy, int32_t P, int32_t S, const mp_loads *te, double *step_fig, double *sum_fig)
{
    int32_t L = te->layers, E = te->experts, R = P * S, T = te->steps;
    int32_t *cnt = malloc((size_t)E * sizeof *cnt);
    double *gl = malloc((size_t)P * sizeof *gl), *sum = calloc((size_t)E, sizeof *sum);
    if (!cnt || !gl || !sum) die("judge", NULL);
    double acc_step = 0, acc_sum = 0;
    for (int32_t k = 0; k < L; k++) {
        const int32_t *row = phy + (int64_t)k * R;
        memset(cnt, 0, (size_t)E * sizeof *cnt);
        for (int32_t i = 0; i < R; i++) cnt[row[i]]++;
        memset(sum, 0, (size_t)E * sizeof *sum);
        for (int32_t t = -1; t < T; t++) {
            const double *w = t < 0 ? NULL : mp_loads_row(te, t, k);
            if (t >= 0)
                for (int32_t e = 0; e < E; e++) sum[e] += w[e];
            if (t < 0) continue; /* the sum is judged after the loop */
            double mx = 0, tt = 0;
            for (int32_t g = 0; g < P; g++) gl[g] = 0;
            for (int32_t i = 0; i < R; i++) gl[i / S] += w[row[i]] / cnt[row[i]];
            for (int32_t g = 0; g < P; g++) mx = gl[g] > mx ? gl[g] : mx, tt += gl[g];
            acc_step += tt > 0 ? mx / (tt / P) : 1;
        }
        double mx = 0, tt = 0;
        for (int32_t g = 0; g < P; g++) gl[g] = 0;
        for (int32_t i = 0; i < R; i++) gl[i / S] += sum[row[i]] / cnt[row[i]];
        for (int32_t g = 0; g < P; g++) mx = gl[g] > mx ? gl[g] : mx, tt += gl[g];
        acc_sum += tt > 0 ? mx / (tt / P) : 1;
    }
    *step_fig = acc_step / ((double)L * T);
    *sum_fig = acc_sum / L;
    free(cnt), free(gl), free(sum);
}

static int32_t *plan_with(const char *strategy, const mp_loads *l, const hcase *c)
{
    mp_plan_request rq = {strategy, {c->P, c->N, c->S}, c->G, 0, 0, 0, c->batch_tokens};
    mp_plan *p;
    mp_err err = {0};
    if (mp_planner_run(&p, l, &rq, &err)) die(strategy, &err);
    int32_t *phy = malloc((size_t)p->layers * p->slots * sizeof *phy);
    if (!phy) die("plan", NULL);
    memcpy(phy, p->phy2log, (size_t)p->layers * p->slots * sizeof *phy);
    mp_plan_destroy(p);
    return phy;
}

static void run_case(const hcase *c, score *sc)
{
    for (int i = 0; i < NPL; i++) {
        int32_t *phy;
        if (i == PL_DSVEC) phy = dsvec_plan(c->train, c->P, c->S);
        else if (i == PL_ORACLE) phy = plan_with("balanced", c->test, c);
        else phy = plan_with(PL_NAME[i], c->train, c);
        judge(phy, c->P, c->S, c->test, &sc->step[i], &sc->sum[i]);
        if (i == PL_ROBUST) {
            mp_loads *sum;
            mp_err err = {0};
            if (mp_loads_sum_steps(&sum, c->train, &err)) die("sum", &err);
            double st;
            judge(phy, c->P, c->S, sum, &st, &sc->insample);
            mp_loads_destroy(sum);
        }
        free(phy);
    }
}

/* ---- the case list ---- */
#define MAX_CASES 96
static hcase cases[MAX_CASES];
static int ncases;

static hcase *add(const char *name, int dev, mp_loads *train, mp_loads *test, int32_t P, int32_t N, int32_t S,
                  int32_t G)
{
    if (ncases == MAX_CASES) die("too many cases", NULL);
    hcase *c = &cases[ncases++];
    snprintf(c->name, sizeof c->name, "%s", name);
    c->dev = dev, c->train = train, c->test = test, c->P = P, c->N = N, c->S = S, c->G = G, c->batch_tokens = 0;
    return c;
}

static void add_split(const char *name, int dev, mp_loads *all, int32_t P, int32_t N, int32_t S, int32_t G)
{
    int32_t h = all->steps / 2;
    add(name, dev, slice(all, 0, h), slice(all, h, all->steps), P, N, S, G);
    mp_loads_destroy(all);
}

typedef struct synth {
    const char *preset, *skew;
    int decode;
    int32_t topics;
    double drift;
    int shift; /* 1: popularity changes at 3/4 of the steps (inside the judged half) */
    int32_t P, N, S, G;
} synth;

static void build(int want_dev, int want_test, int quick, const char *esft_dir, const char *real_dir)
{
    /* synthetic: the same list for dev and test, other seeds */
    static const synth sy[] = {
        {"deepseek-v2-lite", "mixed", 0, 1, 0.02, 0, 8, 1, 9, 1},
        {"deepseek-v2-lite", "mixed", 1, 4, 0, 0, 8, 1, 9, 1},
        {"deepseek-v2-lite", "narrow", 0, 4, 0, 1, 16, 2, 5, 1},
        {"qwen3-30b-a3b", "narrow", 0, 1, 0.02, 0, 16, 2, 9, 1},
        {"qwen3-30b-a3b", "chat", 1, 1, 0, 1, 32, 4, 5, 1},
        {"qwen3-30b-a3b", "mixed", 0, 8, 0, 0, 32, 4, 5, 1},
        {"deepseek-v3", "narrow", 0, 4, 0.01, 0, 32, 4, 9, 8},
        {"deepseek-v3", "mixed", 1, 4, 0.01, 1, 64, 8, 5, 8},
        {"deepseek-v3", "narrow", 0, 1, 0, 1, 64, 8, 5, 8},
        {"deepseek-v3", "mixed", 1, 1, 0.02, 0, 16, 2, 17, 8},
    };
    int nsy = (int)(sizeof sy / sizeof sy[0]);
    for (int set = 0; set < 2; set++) {
        int dev = set == 0;
        if ((dev && !want_dev) || (!dev && !want_test)) continue;
        for (int i = 0; i < nsy && !(quick && i > 0); i++) {
            const synth *s = &sy[i];
            int64_t steps = quick ? 4 : s->decode ? 32 : 16, tps = s->decode ? 256 : 8192;
            if (quick) tps = 256;
            uint64_t seed = (dev ? 7000 : 101000) + (uint64_t)i;
            char name[96];
            snprintf(name, sizeof name, "%s %s %s%s%s%s P%dN%dS%d", s->preset, s->skew, s->decode ? "decode" : "prefill",
                     s->topics > 1 ? " topics" : "", s->drift > 0 ? " drift" : "", s->shift ? " shift" : "", s->P, s->N,
                     s->S);
            mp_loads *all = gen_loads(s->preset, s->skew, s->decode, steps, tps, s->topics, s->drift,
                                      s->shift ? steps * 3 / 4 : -1, seed);
            add_split(name, dev, all, s->P, s->N, s->S, s->G);
        }
    }
    if (quick) return;
    /* real popularity, sampled steps */
    char path[1024];
    mp_err err = {0};
    mp_loads *qw = NULL;
    snprintf(path, sizeof path, "%s/qwen2-57b-a14b_sharegpt_sglang.json", real_dir);
    if (mp_loads_read(&qw, path, NULL, 0, &err)) die(path, &err);
    static const int32_t qshape[][3] = {{8, 1, 9}, {16, 2, 5}};
    for (int set = 0; set < 2; set++) {
        int dev = set == 0;
        if ((dev && !want_dev) || (!dev && !want_test)) continue;
        for (int dec = 0; dec < 2; dec++)
            for (int q = 0; q < 2; q++) {
                char name[96];
                snprintf(name, sizeof name, "qwen2-57b sharegpt sampled %s P%dN%dS%d", dec ? "decode" : "prefill",
                         qshape[q][0], qshape[q][1], qshape[q][2]);
                mp_loads *all = sample_loads(qw, 8, dec ? 32 : 16, dec ? 256 : 8192,
                                             (dev ? 7100 : 102000) + (uint64_t)(dec * 2 + q));
                add_split(name, dev, all, qshape[q][0], qshape[q][1], qshape[q][2], 1);
            }
    }
    mp_loads_destroy(qw);
    /* real, across workloads: ESFT tasks; dev = the pairs within {summary, translation} */
    static const char *const task[] = {"intent", "law", "summary", "translation"};
    mp_loads *es[4];
    for (int t = 0; t < 4; t++) {
        if (t == 0) snprintf(path, sizeof path, "%s/esft-vanilla-lite_intent_shares.json", real_dir);
        else snprintf(path, sizeof path, "%s/esft_%s_shares.json", esft_dir, task[t]);
        if (mp_loads_read(&es[t], path, NULL, 0, &err)) die(path, &err);
    }
    static const int32_t eshape[][3] = {{8, 1, 9}, {16, 2, 5}};
    for (int a = 0; a < 4; a++)
        for (int b = 0; b < 4; b++) {
            if (a == b) continue;
            int dev = a >= 2 && b >= 2;
            if ((dev && !want_dev) || (!dev && !want_test)) continue;
            for (int q = 0; q < 2; q++) {
                char name[96];
                snprintf(name, sizeof name, "esft %s -> %s P%dN%dS%d", task[a], task[b], eshape[q][0], eshape[q][1],
                         eshape[q][2]);
                add(name, dev, slice(es[a], 0, 1), slice(es[b], 0, 1), eshape[q][0], eshape[q][1], eshape[q][2], 1);
            }
        }
    for (int t = 0; t < 4; t++) mp_loads_destroy(es[t]);
}

int main(int argc, char **argv)
{
    bh *h;
    int rc = bh_open(&h, "bench_holdout", "[--set dev|test|all] [--quick] [--esft DIR] [--real DIR]", 1, &argc, argv);
    if (!h) return rc;
    const char *set = "test", *esft = "bench/data", *real = "../shared/data/real";
    int quick = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick")) quick = 1;
        else if (!strcmp(argv[i], "--set") && i + 1 < argc) set = argv[++i];
        else if (!strcmp(argv[i], "--esft") && i + 1 < argc) esft = argv[++i];
        else if (!strcmp(argv[i], "--real") && i + 1 < argc) real = argv[++i];
        else {
            bh_usage(h);
            bh_close(h);
            return 2;
        }
    }
    int want_dev = !strcmp(set, "dev") || !strcmp(set, "all"), want_test = !strcmp(set, "test") || !strcmp(set, "all");
    if (!want_dev && !want_test) {
        bh_usage(h);
        bh_close(h);
        return 2;
    }
    bh_param(h, "set", "%s", set);
    bh_param(h, "split", "time: first half of the steps planned, second half judged; workloads: one task planned, another judged");
    bh_param(h, "headline", "held-out excess = expected per-step GPU max/mean - 1 (layers averaged, then steps)");
    build(want_dev, want_test, quick, esft, real);
    double tot_step[2][NPL] = {{0}}, tot_sum[2][NPL] = {{0}}, worst_in = 0;
    int n[2] = {0}, worse[2] = {0};
    for (int i = 0; i < ncases; i++) {
        hcase *c = &cases[i];
        score sc;
        run_case(c, &sc);
        if (i == 0 || cases[i - 1].dev != c->dev) bh_section(h, c->dev ? "development cases (tuning)" : "test cases");
        bh_row *r = bh_row_begin(h, c->name, NULL);
        for (int p = 0; p < NPL; p++) {
            char key[48];
            snprintf(key, sizeof key, "%s", PL_NAME[p]);
            bh_row_num(r, key, "%.4f", sc.step[p] - 1);
        }
        bh_row_num(r, "robust/eplb-g", "%.3f", (sc.step[PL_ROBUST] - 1) / (sc.step[PL_EPLBG] - 1));
        bh_row_num(r, "robust sum", "%.4f", sc.sum[PL_ROBUST] - 1);
        bh_row_num(r, "eplb-g sum", "%.4f", sc.sum[PL_EPLBG] - 1);
        bh_row_num(r, "robust in-sample", "%.4f", sc.insample);
        bh_row_end(r);
        int d = c->dev ? 0 : 1;
        n[d]++;
        for (int p = 0; p < NPL; p++) tot_step[d][p] += sc.step[p] - 1, tot_sum[d][p] += sc.sum[p] - 1;
        worse[d] += sc.step[PL_ROBUST] > sc.step[PL_EPLBG];
        if (c->train->steps == 1 && sc.insample > worst_in) worst_in = sc.insample;
    }
    for (int d = 0; d < 2; d++) {
        if (!n[d]) continue;
        bh_section(h, d ? "test set: mean held-out excess over its cases" : "development set: mean held-out excess");
        for (int k = 0; k < 2; k++) {
            bh_row *r = bh_row_begin(h, k ? "per-step excess (headline)" : "excess of the held-out sum", NULL);
            for (int p = 0; p < NPL; p++) bh_row_num(r, PL_NAME[p], "%.4f", (k ? tot_step : tot_sum)[d][p] / n[d]);
            double *t = (k ? tot_step : tot_sum)[d];
            bh_row_num(r, "robust/eplb-g", "%.3f", t[PL_ROBUST] / t[PL_EPLBG]);
            bh_row_end(r);
        }
        bh_note(h, "%s: %d cases, robust worse than eplb-global per step in %d", d ? "test" : "dev", n[d], worse[d]);
    }
    if (worst_in > 0) bh_note(h, "robust in-sample max/mean on single-matrix cases: worst %.5f", worst_in);
    for (int i = 0; i < ncases; i++) mp_loads_destroy(cases[i].train), mp_loads_destroy(cases[i].test);
    return bh_close(h);
}
