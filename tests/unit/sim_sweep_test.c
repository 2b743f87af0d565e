/* sim_sweep_test.c - several lanes over one reading; the locality sweep's
 * Pareto acceptance on grouped DeepSeek-V3-shaped traces with 4 and 8 nodes. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "sim/mp_sweep.h"
#include "tests/unit/sim_helpers.h"

/* Grouped routing as DeepSeek-V3 does it, in memory: per layer a skewed
 * group popularity and a skewed expert popularity inside each group; each
 * token keeps 4 of 8 groups (weighted, without replacement) and takes its 8
 * experts inside them (weighted, without replacement). */
enum { GL = 3, GE = 256, GK = 8, GG = 8, GTG = 4 };
typedef struct ggen {
    int64_t step, steps, T;
    uint64_t seed;
    double gw[GL][GG], ew[GL][GE];
} ggen;

static double unif(uint64_t *x) { return (double)(test_rng(x) >> 11) / 9007199254740992.0; }

static void ggen_init(ggen *g, int64_t steps, int64_t T, uint64_t seed)
{
    memset(g, 0, sizeof *g);
    g->steps = steps;
    g->T = T;
    g->seed = seed;
    uint64_t x = seed;
    for (int l = 0; l < GL; l++) {
        for (int j = 0; j < GG; j++) g->gw[l][j] = exp(0.8 * (unif(&x) * 2 - 1));
        for (int e = 0; e < GE; e++) g->ew[l][e] = exp(1.0 * (unif(&x) * 2 - 1));
    }
}

static int pick(const double *w, const char *taken, int n, uint64_t *x)
{
    double tot = 0;
    for (int i = 0; i < n; i++) tot += taken[i] ? 0 : w[i];
    double u = unif(x) * tot;
    int last = -1;
    for (int i = 0; i < n; i++) {
        if (taken[i]) continue;
        last = i;
        if (u < w[i]) return i;
        u -= w[i];
    }
    return last;
}

static int ggen_next(void *ctx, mp_step *pc, mp_err *err)
{
    ggen *g = ctx;
    if (g->step >= g->steps) return 0;
    mp_step_reserve(pc, g->T, GL, GK, 0, 0, err);
    pc->step = g->step;
    pc->first_token = 0;
    pc->end_of_step = 1;
    uint64_t x = g->seed * 31 + (uint64_t)g->step + 1;
    for (int64_t t = 0; t < g->T; t++)
        for (int l = 0; l < GL; l++) {
            char gt[GG] = {0}, et[GE];
            memset(et, 1, sizeof et);
            for (int j = 0; j < GTG; j++) {
                int gi = pick(g->gw[l], gt, GG, &x);
                gt[gi] = 1;
                memset(et + gi * (GE / GG), 0, GE / GG);
            }
            for (int k = 0; k < GK; k++) {
                int e = pick(g->ew[l], et, GE, &x);
                et[e] = 1;
                pc->ids[(t * GL + l) * GK + k] = (mp_expert_id)e;
            }
        }
    g->step++;
    return 1;
}

static int ggen_rewind(void *ctx, mp_err *err)
{
    (void)err;
    ((ggen *)ctx)->step = 0;
    return 0;
}

static mp_model ds_model(void)
{
    mp_model m = mp_model_default();
    snprintf(m.name, sizeof m.name, "deepseek-v3");
    m.layers = GL;
    m.experts = GE;
    m.top_k = GK;
    m.groups = GG;
    m.topk_group = GTG;
    m.shared = 1;
    m.hidden = 7168;
    m.intermediate = 2048;
    return m;
}

static mp_loads *count_all(ggen *g, const mp_model *m)
{
    mp_loads *ld;
    assert_int_equal(mp_loads_create(&ld, 1, m->layers, m->experts, NULL), 0);
    ld->has_model = 1;
    ld->model = *m;
    mp_step pc = {0};
    while (ggen_next(g, &pc, NULL) == 1)
        for (int64_t i = 0; i < mp_step_assignments(&pc); i++) {
            int64_t l = (i / GK) % GL;
            ld->count[l * GE + pc.ids[i]] += 1;
        }
    mp_step_release(&pc);
    ggen_rewind(g, NULL);
    return ld;
}

static void pareto_case(int gpus, int nodes, int spg)
{
    ggen g;
    ggen_init(&g, 8, 512, 2024 + (uint64_t)nodes);
    mp_model m = ds_model();
    mp_loads *ld = count_all(&g, &m);
    mp_piece_source src = {&g, ggen_next, ggen_rewind};
    mp_plan_request q;
    memset(&q, 0, sizeof q);
    q.topo = (mp_topology){gpus, nodes, spg};
    const double loc[5] = {0, 0.25, 0.5, 0.75, 1};
    mp_sim_opts so = mp_sim_opts_default();
    mp_sweep_result *r;
    mp_err err = {0};
    int rc = mp_sweep_locality(&r, &src, &m, ld, &q, loc, 5, &so, NULL, NULL, &err);
    if (rc) fprintf(stderr, "%s\n", err.msg);
    assert_int_equal(rc, 0);
    assert_int_equal(r->n, 8); /* 5 balanced, eplb, eplb-global, linear */
    for (int i = 0; i < r->n; i++)
        printf("# %d nodes %-14s plan %.4f sim %.4f step %.4f net %.3e time %.1f speedup %.3f pareto %d dominated %d\n", nodes,
               r->pt[i].label, r->pt[i].plan_maxmean, r->pt[i].maxmean, r->pt[i].step_maxmean, r->pt[i].net_bytes, r->pt[i].time_us,
               r->pt[i].speedup, r->pt[i].pareto, r->pt[i].dominated);
    /* EPLB's hierarchical plan is dominated by balanced at locality 1 (same
     * group-to-node packing, better packing inside the nodes) */
    assert_true(r->pt[5].is_eplb && !strcmp(r->pt[5].label, "eplb"));
    assert_true(r->pt[5].dominated);
    assert_true(r->pt[4].plan_maxmean < r->pt[5].plan_maxmean);
    assert_true(r->pt[4].net_bytes <= r->pt[5].net_bytes);
    assert_string_equal(r->pt[7].label, "linear");
    assert_true(r->pt[7].speedup == 1.0);
    /* locality confines groups: fewer network bytes at 1 than at 0 */
    assert_true(r->pt[4].net_bytes < r->pt[0].net_bytes);
    mp_sweep_result_destroy(r);
    mp_loads_destroy(ld);
}

static void pareto_4_nodes(void **state)
{
    (void)state;
    pareto_case(32, 4, 9);
}

static void pareto_8_nodes(void **state)
{
    (void)state;
    pareto_case(64, 8, 5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(pareto_4_nodes),
        cmocka_unit_test(pareto_8_nodes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
