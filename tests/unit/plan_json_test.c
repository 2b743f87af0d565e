/* plan_json_test.c - plan files: round trip, exports, and every validation
 * error of the reader; metrics against hand-computed values. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "planner/mp_planner.h"
#include "tests/unit/plan_helpers.h"

static mp_plan *small_plan(const mp_loads *l, const char *s)
{
    mp_plan_request rq = {s, {4, 2, 5}, 4, 0, 0, 0, 0};
    mp_plan *p = NULL;
    assert_int_equal(mp_planner_run(&p, l, &rq, NULL), 0);
    return p;
}

static char *slurp(const char *path)
{
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    assert_int_equal(fread(b, 1, (size_t)n, fp), (size_t)n);
    b[n] = 0;
    fclose(fp);
    return b;
}

static void test_round_trip(void **state)
{
    (void)state;
    mp_loads *l = th_zipf(3, 16, 1.0, 1000, 4);
    mp_plan *p = small_plan(l, "balanced");
    double *w = mp_plan_expert_loads(p, l);
    mp_plan_metrics *m;
    assert_int_equal(mp_plan_metrics_compute(&m, p, w, NULL), 0);
    char path[64];
    snprintf(path, sizeof path, "/tmp/plan_json_test.%d.json", (int)getpid());
    mp_plan_info info = {0, 0, 4, w, m, -1, 0};
    assert_int_equal(mp_plan_write_json(p, &info, path, NULL), 0);
    char *text = slurp(path);
    assert_non_null(strstr(text, "\"physical_to_logical_map\""));
    assert_null(strstr(text, "logical_count"));
    free(text);
    mp_plan *q;
    double *w2;
    mp_err err = {0};
    assert_int_equal(mp_plan_read_json(&q, &w2, path, &err), 0);
    assert_int_equal(q->layers, 3);
    assert_int_equal(q->slots, 20);
    assert_int_equal(q->topo.nodes, 2);
    assert_string_equal(q->strategy, "balanced");
    assert_memory_equal(q->phy2log, p->phy2log, 3 * 20 * sizeof(int32_t));
    assert_non_null(w2);
    assert_memory_equal(w2, w, 3 * 16 * sizeof(double)); /* %.17g round-trips */
    /* exports */
    assert_int_equal(mp_plan_export(p, MP_EXPORT_TRTLLM, path, NULL), 0);
    text = slurp(path);
    assert_true(strncmp(text, "num_slots: 20\ninitial_global_assignments:\n  0: [", 47) == 0);
    free(text);
    assert_int_equal(mp_plan_export(p, MP_EXPORT_CSV, path, NULL), 0);
    text = slurp(path);
    char want[64];
    snprintf(want, sizeof want, "layer,slot,gpu,node,expert\n0,0,0,0,%d\n", p->phy2log[0]);
    assert_true(strncmp(text, want, strlen(want)) == 0);
    free(text);
    assert_int_equal(mp_plan_export(p, MP_EXPORT_SGLANG, path, NULL), 0);
    mp_plan *r;
    assert_int_equal(mp_plan_read_json(&r, NULL, path, &err), MP_EFORMAT); /* SGLang-only: not our format */
    mp_export k;
    assert_int_equal(mp_export_parse("trtllm", &k), 0);
    assert_int_equal(k, MP_EXPORT_TRTLLM);
    assert_int_equal(mp_export_parse("yaml", &k), MP_ENOTFOUND);
    unlink(path);
    free(w2);
    mp_plan_destroy(q);
    mp_plan_metrics_destroy(m);
    free(w);
    mp_plan_destroy(p);
    mp_loads_destroy(l);
}

#define HEAD "{\"format\":\"moeplace-plan\",\"version\":1,\"topology\":{\"gpus\":2,\"nodes\":1,\"slots_per_gpu\":2},"

static void expect_bad(const char *text, int code, const char *needle)
{
    mp_plan *p = (mp_plan *)1;
    mp_err err = {0};
    int rc = mp_plan_parse_json(&p, NULL, text, strlen(text), "bad.json", &err);
    if (rc != code || !strstr(err.msg, needle)) fprintf(stderr, "rc %d msg '%s' for %s\n", rc, err.msg, text);
    assert_int_equal(rc, code);
    assert_null(p);
    assert_non_null(strstr(err.msg, needle));
    assert_true(strncmp(err.msg, "bad.json", 8) == 0);
}

static void test_bad_plans(void **state)
{
    (void)state;
    mp_plan *p;
    const char *good = HEAD "\"experts\":3,\"physical_to_logical_map\":[[0,1,2,0]]}";
    assert_int_equal(mp_plan_parse_json(&p, NULL, good, strlen(good), "ok", NULL), 0);
    assert_int_equal(mp_plan_count(p, 0, 0), 2);
    mp_plan_destroy(p);
    expect_bad("{\"format\":", MP_EFORMAT, "offset");
    expect_bad("[1,2]", MP_EFORMAT, "JSON object");
    expect_bad("{\"logical_count\":[[1,2]]}", MP_EFORMAT, "load file");
    expect_bad("{\"format\":\"other\"}", MP_EFORMAT, "format");
    expect_bad("{\"format\":\"moeplace-plan\",\"version\":2}", MP_EVERSION, "version 2");
    expect_bad("{\"format\":\"moeplace-plan\",\"version\":1}", MP_EFORMAT, "topology");
    expect_bad(HEAD "\"physical_to_logical_map\":[[0,1,2,0]]}", MP_EFORMAT, "experts");
    expect_bad("{\"format\":\"moeplace-plan\",\"version\":1,\"topology\":{\"gpus\":3,\"nodes\":2,\"slots_per_gpu\":2},"
               "\"experts\":3,\"physical_to_logical_map\":[[0,1,2,0,1,2]]}",
               MP_ERANGE, "do not divide");
    expect_bad(HEAD "\"experts\":3}", MP_EFORMAT, "physical_to_logical_map");
    expect_bad(HEAD "\"experts\":3,\"physical_to_logical_map\":[]}", MP_ERANGE, "0 layers");
    expect_bad(HEAD "\"experts\":3,\"physical_to_logical_map\":[[0,1,2]]}", MP_ESHAPE, "must list 4 slots");
    expect_bad(HEAD "\"experts\":3,\"physical_to_logical_map\":[[0,1,2,3]]}", MP_ERANGE, "[0][3]");
    expect_bad(HEAD "\"experts\":3,\"physical_to_logical_map\":[[0,1,2,1.5]]}", MP_ERANGE, "[0][3]");
    expect_bad(HEAD "\"experts\":3,\"physical_to_logical_map\":[[0,1,1,0]]}", MP_ERANGE, "expert 2 has no slot");
    expect_bad(HEAD "\"experts\":5,\"physical_to_logical_map\":[[0,1,2,0]]}", MP_ERANGE, "cannot hold");
    expect_bad(HEAD "\"experts\":3,\"physical_to_logical_map\":[[0,1,2,0]],\"replica_count\":[[1,1,1]]}", MP_ERANGE,
               "replica_count[0][0]");
    expect_bad(HEAD "\"experts\":3,\"physical_to_logical_map\":[[0,1,2,0]],\"logical_to_physical_map\":[[[0,1],[1,-1],[2,-1]]]}",
               MP_ERANGE, "logical_to_physical_map[0][0]");
    expect_bad(HEAD "\"experts\":3,\"physical_to_logical_map\":[[0,1,2,0]],\"expert_load\":[[1,-2,3]]}", MP_ERANGE,
               "expert_load");
    expect_bad(HEAD "\"experts\":3,\"shared_expert_id\":1,\"physical_to_logical_map\":[[0,1,2,0]]}", MP_ERANGE,
               "disagree");
    expect_bad(HEAD "\"experts\":3,\"physical_to_logical_map\":[[0,1,2,0]],\"model\":{\"layers\":2,\"experts\":3,\"top_k\":1}}",
               MP_ESHAPE, "model is 2 layers");
}

/* Metrics by hand: 2 GPUs x 2 slots, w = [4, 2, 2], expert 0 twice. */
static void test_metrics_by_hand(void **state)
{
    (void)state;
    const char *t = HEAD "\"experts\":3,\"physical_to_logical_map\":[[0,1,0,2],[0,0,1,2]]}";
    mp_plan *p;
    assert_int_equal(mp_plan_parse_json(&p, NULL, t, strlen(t), "m", NULL), 0);
    const double w[6] = {4, 2, 2, 4, 2, 2};
    mp_plan_metrics *m;
    assert_int_equal(mp_plan_metrics_compute(&m, p, w, NULL), 0);
    /* layer 0: GPU loads 2+2, 2+2: perfect.  layer 1: 2+2=4 (duplicate), 2+2=4 */
    assert_float_equal(m->gpu_load[0], 4, 1e-12);
    assert_float_equal(m->max[0], 4, 1e-12);
    assert_float_equal(m->lb0[0], 4, 1e-12);
    assert_float_equal(m->lb_rep[0], 4, 1e-12);
    assert_int_equal(m->duplicates[0], 0);
    assert_int_equal(m->duplicates[1], 1);
    assert_float_equal(m->vllm_balancedness, 1.0, 1e-12);
    mp_plan_metrics_destroy(m);
    const double v[6] = {6, 1, 1, 6, 1, 1};
    assert_int_equal(mp_plan_metrics_compute(&m, p, v, NULL), 0);
    /* layer 0: GPU0 = 3 + 1 = 4, GPU1 = 3 + 1 = 4; layer 1: GPU0 = 3 + 3 = 6, GPU1 = 2 */
    assert_float_equal(m->max[1], 6, 1e-12);
    assert_float_equal(m->mean[1], 4, 1e-12);
    assert_float_equal(m->max_over_mean[1], 1.5, 1e-12);
    assert_float_equal(m->mean_max_over_mean, 1.25, 1e-12);
    assert_float_equal(m->worst_max_over_mean, 1.5, 1e-12);
    assert_int_equal(m->worst_layer, 1);
    assert_float_equal(m->vllm_balancedness, 8.0 / 10.0, 1e-12);
    assert_float_equal(m->sglang_balancedness, ((4 + 1e-5) / (4 + 1e-5) + (4 + 1e-5) / (6 + 1e-5)) / 2, 1e-12);
    assert_float_equal(m->trtllm_imbalance, 0.25, 1e-12);
    assert_float_equal(m->gap_lb0, 0.25, 1e-12);
    assert_float_equal(m->lb_rep[1], 4, 1e-12); /* D'Hondt max 3 < LB0 4 */
    mp_plan_metrics_destroy(m);
    mp_plan_destroy(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_bad_plans),
        cmocka_unit_test(test_metrics_by_hand),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
