/* gen_route_test.c - routing rules of the generator: group limits, no
 * repeated expert, gate weights, determinism across threads and pieces,
 * no idle GPU under uniform grouped routing, and the fast sampler against
 * the faithful scorer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "traces/gen/mp_gen.h"

static mp_gen_opts opts_for(const char *preset, const char *skew, int64_t tokens)
{
    mp_gen_opts o;
    mp_gen_opts_default(&o);
    assert_int_equal(mp_gen_preset_find(preset, &o.model, NULL), 0);
    assert_int_equal(mp_skew_parse(skew, &o.skew, NULL), 0);
    o.steps = 1;
    o.tokens_per_step = tokens;
    return o;
}

static void fill(const mp_gen_opts *o, mp_step *p)
{
    mp_gen *g;
    mp_err err;
    assert_int_equal(mp_gen_create(&g, o, &err), 0);
    assert_int_equal(mp_gen_fill(g, 0, 0, o->tokens_per_step, p, &err), 0);
    mp_gen_destroy(g);
}

/* Every token and layer: ids < E, no expert twice, at most topk_group groups. */
static void check_rules(const mp_model *m, const mp_step *p)
{
    int32_t L = m->layers, K = m->top_k, gsize = m->experts / m->groups;
    for (int64_t t = 0; t < p->tokens; t++)
        for (int32_t l = 0; l < L; l++) {
            const mp_expert_id *id = p->ids + (t * L + l) * K;
            int32_t groups[MP_TOPK_MAX], ng = 0;
            for (int32_t k = 0; k < K; k++) {
                assert_true(id[k] < m->experts);
                for (int32_t j = 0; j < k; j++) assert_true(id[j] != id[k]);
                int32_t g = id[k] / gsize, seen = 0;
                for (int32_t j = 0; j < ng; j++) seen |= groups[j] == g;
                if (!seen) groups[ng++] = g;
            }
            assert_true(ng <= m->topk_group);
            if (p->weights) {
                const float *w = p->weights + (t * L + l) * K;
                double s = 0;
                for (int32_t k = 0; k < K; k++) {
                    assert_true(w[k] > 0 && isfinite(w[k]));
                    s += w[k];
                }
                if (m->normalize_topk) assert_float_equal(s, m->routed_scaling, 1e-4 * m->routed_scaling);
                else if (m->scoring == MP_SCORING_SIGMOID)
                    for (int32_t k = 0; k < K; k++) assert_true(w[k] < 1.0f); /* each a sigmoid */
                else assert_true(s <= 1.0 + 1e-6);
            }
        }
}

static void test_group_limit_and_no_repeats(void **state)
{
    (void)state;
    const char *skews[] = {"uniform", "mixed", "narrow"};
    for (int s = 0; s < 3; s++)
        for (int exact = 0; exact < 2; exact++) {
            mp_gen_opts o = opts_for("deepseek-v3", skews[s], exact ? 300 : 2000);
            o.exact = exact;
            o.group_skew = 1.0;
            o.layer_affinity = 0.5;
            if (exact) mp_model_set_layers(&o.model, 6);
            mp_step p = {0};
            fill(&o, &p);
            check_rules(&o.model, &p);
            mp_step_release(&p);
        }
}

static void test_every_preset(void **state)
{
    (void)state;
    int n;
    const mp_gen_preset *pr = mp_gen_presets(&n);
    assert_int_equal(n, 9);
    for (int i = 0; i < n; i++)
        for (int exact = 0; exact < 2; exact++) {
            mp_gen_opts o = opts_for(pr[i].model.name, "narrow", 200);
            o.exact = exact;
            mp_model_set_layers(&o.model, 4);
            mp_step p = {0};
            fill(&o, &p);
            check_rules(&o.model, &p);
            mp_step_release(&p);
        }
    mp_model m;
    assert_int_equal(mp_gen_preset_find("deepseek-v3", &m, NULL), 0);
    assert_int_equal(m.experts, 256);
    assert_int_equal(m.groups, 8);
    assert_int_equal(m.topk_group, 4);
    assert_int_equal(m.scoring, MP_SCORING_SIGMOID);
    assert_int_equal(mp_gen_preset_find("no-such-model", &m, NULL), MP_ENOTFOUND);
}

static int same_piece(const mp_step *a, const mp_step *b)
{
    int64_t n = mp_step_assignments(a);
    return a->tokens == b->tokens && memcmp(a->ids, b->ids, sizeof(mp_expert_id) * (size_t)n) == 0 &&
           memcmp(a->weights, b->weights, sizeof(float) * (size_t)n) == 0 &&
           memcmp(a->src_rank, b->src_rank, sizeof(int32_t) * (size_t)a->tokens) == 0;
}

static void test_threads_and_pieces_identical(void **state)
{
    (void)state;
    for (int exact = 0; exact < 2; exact++) {
        mp_gen_opts o = opts_for("deepseek-v3", "mixed", 1000);
        o.exact = exact;
        mp_model_set_layers(&o.model, exact ? 3 : 20);
        o.topics = 3;
        o.dp_ranks = 4;
        o.rank_topic_bias = 0.5;
        o.layer_affinity = 0.3;
        o.drift = 0.1;
        o.steps = 3;
        mp_step a = {0}, b = {0}, c = {0}, h1 = {0}, h2 = {0};
        mp_gen *g1, *g2, *g3;
        assert_int_equal(mp_gen_create(&g1, &o, NULL), 0);
        o.threads = 2;
        assert_int_equal(mp_gen_create(&g2, &o, NULL), 0);
        o.threads = 3;
        assert_int_equal(mp_gen_create(&g3, &o, NULL), 0);
        assert_int_equal(mp_gen_fill(g1, 2, 0, 1000, &a, NULL), 0);
        assert_int_equal(mp_gen_fill(g2, 2, 0, 1000, &b, NULL), 0);
        assert_int_equal(mp_gen_fill(g3, 2, 0, 1000, &c, NULL), 0);
        assert_true(same_piece(&a, &b));
        assert_true(same_piece(&a, &c));
        assert_true(a.end_of_step && a.step == 2);
        /* in two pieces, and after going back a step: the same tokens */
        assert_int_equal(mp_gen_fill(g3, 1, 0, 10, &h1, NULL), 0);
        assert_int_equal(mp_gen_fill(g3, 2, 0, 357, &h1, NULL), 0);
        assert_int_equal(mp_gen_fill(g3, 2, 357, 643, &h2, NULL), 0);
        assert_false(h1.end_of_step);
        assert_true(h2.end_of_step);
        int64_t per = (int64_t)o.model.layers * o.model.top_k;
        assert_memory_equal(h1.ids, a.ids, sizeof(mp_expert_id) * 357 * per);
        assert_memory_equal(h2.ids, a.ids + 357 * per, sizeof(mp_expert_id) * 643 * per);
        assert_memory_equal(h2.src_rank, a.src_rank + 357, sizeof(int32_t) * 643);
        for (int64_t t = 0; t < 1000; t++) assert_true(a.src_rank[t] >= 0 && a.src_rank[t] < 4);
        /* another seed: different routing */
        o.seed = 2;
        mp_gen *g4;
        assert_int_equal(mp_gen_create(&g4, &o, NULL), 0);
        assert_int_equal(mp_gen_fill(g4, 2, 0, 1000, &b, NULL), 0);
        assert_false(same_piece(&a, &b));
        mp_gen_destroy(g1);
        mp_gen_destroy(g2);
        mp_gen_destroy(g3);
        mp_gen_destroy(g4);
        mp_step_release(&a);
        mp_step_release(&b);
        mp_step_release(&c);
        mp_step_release(&h1);
        mp_step_release(&h2);
    }
}

/* SGLang #37741: with a uniform skew and grouped routing, a linear placement
 * (group-aligned blocks of experts per GPU) must not leave GPUs idle: each
 * GPU gets its share of a step's assignments within sampling noise. */
static void test_uniform_grouped_no_idle_gpu(void **state)
{
    (void)state;
    enum { T = 4096 };
    mp_gen_opts o = opts_for("deepseek-v3", "uniform", T);
    mp_model_set_layers(&o.model, 16);
    mp_step p = {0};
    fill(&o, &p);
    int32_t L = o.model.layers, K = o.model.top_k, E = o.model.experts;
    const int gpus[] = {4, 8, 16, 32};
    for (int gi = 0; gi < 4; gi++) {
        int P = gpus[gi];
        for (int32_t l = 0; l < L; l++) {
            double load[32] = {0};
            for (int64_t t = 0; t < T; t++)
                for (int32_t k = 0; k < K; k++) load[p.ids[(t * L + l) * K + k] / (E / P)] += 1;
            double mean = (double)T * K / P;
            /* a GPU's count has sd <= sqrt(mean) (fewer distinct groups only
             * lower it); 6 sd bounds all 16 x 60 GPU-layers together */
            double tol = 6 * sqrt(mean);
            for (int r = 0; r < P; r++) {
                assert_true(load[r] > 0);
                assert_true(fabs(load[r] - mean) < tol);
            }
        }
    }
    mp_step_release(&p);
}

/* Loads, group usage and co-occurrence of the fast sampler against the exact scorer. */
typedef struct {
    double *expert; /* [L][E] shares */
    double group[64];
    double pair[64][64]; /* group pairs used by one token, shares */
    double same_group;   /* mean number of chosen pairs in one group per token-layer */
} profile;

static void measure(const mp_gen_opts *o, profile *pf)
{
    mp_step p = {0};
    fill(o, &p);
    int32_t L = o->model.layers, K = o->model.top_k, E = o->model.experts, G = o->model.groups, gs = E / G;
    pf->expert = calloc((size_t)L * E, sizeof(double));
    memset(pf->group, 0, sizeof pf->group);
    memset(pf->pair, 0, sizeof pf->pair);
    pf->same_group = 0;
    double npairs = 0;
    for (int64_t t = 0; t < p.tokens; t++)
        for (int32_t l = 0; l < L; l++) {
            const mp_expert_id *id = p.ids + (t * L + l) * K;
            int used[64] = {0};
            for (int32_t k = 0; k < K; k++) {
                pf->expert[l * E + id[k]] += 1.0 / ((double)p.tokens * K);
                used[id[k] / gs] = 1;
                for (int32_t j = 0; j < k; j++) pf->same_group += id[j] / gs == id[k] / gs;
            }
            for (int32_t a = 0; a < G; a++) {
                pf->group[a] += used[a];
                for (int32_t b = a + 1; b < G; b++)
                    if (used[a] && used[b]) {
                        pf->pair[a][b] += 1;
                        npairs += 1;
                    }
            }
        }
    double tl = (double)p.tokens * L;
    pf->same_group /= tl;
    for (int32_t a = 0; a < G; a++) {
        pf->group[a] /= tl;
        for (int32_t b = 0; b < G; b++) pf->pair[a][b] /= npairs;
    }
    mp_step_release(&p);
}

static void compare_samplers(const char *skew, double group_skew)
{
    enum { T = 3000 };
    mp_gen_opts o = opts_for("deepseek-v3", skew, T);
    mp_model_set_layers(&o.model, 6);
    o.group_skew = group_skew;
    profile f, x;
    measure(&o, &f);
    o.exact = 1;
    measure(&o, &x);
    int32_t L = o.model.layers, E = o.model.experts, G = o.model.groups;
    /* per-expert shares: a share p measured on N = T*K draws has sd
     * sqrt(p/N) (at most; draws without replacement are less noisy) for
     * each sampler; allow 5 sd of the difference plus 10% of p for the
     * group-admission approximation */
    double n = (double)T * o.model.top_k;
    for (int32_t l = 0; l < L; l++)
        for (int32_t e = 0; e < E; e++) {
            double a = f.expert[l * E + e], b = x.expert[l * E + e], p = (a + b) / 2;
            assert_true(fabs(a - b) <= 5 * sqrt(2 * p / n) + 0.10 * p + 1e-12);
        }
    /* group usage (fraction of token-layers using a group; 4 of 8 on average) */
    double tl = (double)T * L;
    for (int32_t g = 0; g < G; g++) assert_true(fabs(f.group[g] - x.group[g]) < 5 * sqrt(2 * 0.25 / tl) + 0.02);
    /* group co-occurrence: total variation distance of the pair distributions */
    double tv = 0;
    for (int32_t a = 0; a < G; a++)
        for (int32_t b = a + 1; b < G; b++) tv += fabs(f.pair[a][b] - x.pair[a][b]) / 2;
    print_message("tv %.4f same %.4f vs %.4f g0 %.4f vs %.4f\n", tv, f.same_group, x.same_group, f.group[0], x.group[0]);
    assert_true(tv < 0.05);
    /* expert co-occurrence inside groups: pairs of chosen experts sharing a group */
    assert_true(fabs(f.same_group - x.same_group) < 0.05 * x.same_group + 0.05);
    free(f.expert);
    free(x.expert);
}

static void test_fast_matches_exact(void **state)
{
    (void)state;
    compare_samplers("uniform", 0);
    compare_samplers("mixed", 0);
    compare_samplers("mixed", 1.0);
}

static void test_bad_options(void **state)
{
    (void)state;
    mp_gen_opts o = opts_for("deepseek-v3", "mixed", 10);
    mp_gen *g;
    mp_err err;
    o.layer_affinity = 1.5;
    assert_int_equal(mp_gen_create(&g, &o, &err), MP_EINVAL);
    assert_null(g);
    o.layer_affinity = 0;
    o.model.groups = 3; /* does not divide 256 */
    assert_int_equal(mp_gen_create(&g, &o, &err), MP_EINVAL);
    o.model.groups = 8;
    o.topics = 100000;
    assert_int_equal(mp_gen_create(&g, &o, &err), MP_ELIMIT);
    o.topics = 1;
    o.shift_at = 0;
    assert_int_equal(mp_gen_create(&g, &o, &err), MP_EINVAL);
    o.shift_at = -1;
    assert_int_equal(mp_gen_create(&g, &o, &err), 0);
    mp_step p = {0};
    assert_int_equal(mp_gen_fill(g, 0, 5, 10, &p, &err), MP_EINVAL);
    mp_gen_destroy(g);
    mp_gen_destroy(NULL);
    mp_skew s;
    assert_int_equal(mp_skew_parse("zipf:x", &s, &err), MP_EINVAL);
    assert_int_equal(mp_skew_parse("zipf:-1", &s, &err), MP_EINVAL);
    assert_int_equal(mp_skew_parse("lognormal:0.5", &s, &err), 0);
    assert_int_equal(s.kind, MP_SKEW_LOGNORMAL);
    char buf[32];
    mp_skew_format(&s, buf, sizeof buf);
    assert_string_equal(buf, "lognormal:0.5");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_group_limit_and_no_repeats), cmocka_unit_test(test_every_preset),
        cmocka_unit_test(test_threads_and_pieces_identical), cmocka_unit_test(test_uniform_grouped_no_idle_gpu),
        cmocka_unit_test(test_fast_matches_exact), cmocka_unit_test(test_bad_options),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
