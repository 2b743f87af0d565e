/* engine_files_test.c - the files engines load, checked the way each engine's
 * own code reads them, on a DeepSeek-V3-shaped plan (61 decoder layers, the
 * first 3 dense, 58 MoE layers of 256 experts, 32 GPUs x 9 slots):
 *   SGLang  compute_initial_expert_location_metadata: json.loads, then
 *           init_by_mapping(server_args, model_config, **json): only the key
 *           physical_to_logical_map; shape (num_hidden_layers, E + redundant);
 *           every id in [0, E), every expert in every row.
 *   TRT-LLM MoeLoadBalancerConfig: num_slots, initial_global_assignments
 *           {decoder layer index: list of num_slots ids}, every expert present.
 *   vLLM    (PR #41141 draft) one eplb_initial_mapping record, keys "0".."L-1".
 *   vllm-ascend expert_file_to_tensor: moe_layer_count, layer_list[l]
 *           .device_list[g].device_expert, equal lengths.
 * Then each file read back by mp_engine_file_check, and files it refuses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "planner/mp_planner.h"

enum { D = 61, DENSE = 3, L = 58, E = 256, P = 32, S = 9, R = P * S };

static mp_plan *dsv3_plan(void)
{
    mp_topology t = {P, 4, S};
    mp_plan *p = NULL;
    assert_int_equal(mp_plan_create(&p, L, E, &t, NULL), 0);
    for (int32_t l = 0; l < L; l++)
        for (int32_t s = 0; s < R; s++)
            mp_plan_layer(p, l)[s] = s < E ? (s * 97 + l) % E : (s * 37 + 5 * l) % E;
    assert_int_equal(mp_plan_derive(p, NULL), 0);
    p->model = mp_model_default();
    p->model.layers = L, p->model.experts = E, p->model.top_k = 8, p->model.groups = 8, p->model.topk_group = 4;
    p->model.decoder_layers = D, p->model.first_dense = DENSE;
    assert_int_equal(mp_model_validate(&p->model, "test", NULL), 0);
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
    assert_non_null(b);
    assert_int_equal(fread(b, 1, (size_t)n, fp), (size_t)n);
    b[n] = 0;
    fclose(fp);
    return b;
}

static void tmp_path(char *buf, size_t n, const char *ext)
{
    snprintf(buf, n, "/tmp/engine_files_test.%d.%s", (int)getpid(), ext);
}

/* A row as an engine reads it: R ids in [0, E), every expert present. */
static void assert_row(const cJSON *row, const int32_t *want)
{
    assert_true(cJSON_IsArray(row));
    assert_int_equal(cJSON_GetArraySize(row), R);
    int seen[E] = {0};
    int32_t s = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, row)
    {
        assert_true(cJSON_IsNumber(c));
        assert_true(c->valueint >= 0 && c->valueint < E);
        seen[c->valueint] = 1;
        if (want) assert_int_equal(c->valueint, want[s]);
        s++;
    }
    for (int32_t e = 0; e < E; e++) assert_true(seen[e]);
}

static void test_sglang(void **state)
{
    (void)state;
    mp_plan *p = dsv3_plan();
    char path[80];
    tmp_path(path, sizeof path, "json");
    assert_int_equal(mp_export_decoder_unknown(p, MP_EXPORT_SGLANG), 0);
    assert_int_equal(mp_plan_export(p, MP_EXPORT_SGLANG, path, NULL), 0);
    char *text = slurp(path);
    cJSON *root = cJSON_Parse(text);
    assert_non_null(root);
    /* **json: exactly one key, the one init_by_mapping takes */
    assert_int_equal(cJSON_GetArraySize(root), 1);
    const cJSON *map = cJSON_GetObjectItemCaseSensitive(root, "physical_to_logical_map");
    assert_non_null(map);
    assert_int_equal(cJSON_GetArraySize(map), D); /* num_hidden_layers rows */
    int32_t trivial[R];
    for (int32_t s = 0; s < R; s++) trivial[s] = s % E; /* SGLang's init_trivial */
    for (int32_t d = 0; d < D; d++)
        assert_row(cJSON_GetArrayItem(map, d), d < DENSE ? trivial : mp_plan_layer(p, d - DENSE));
    cJSON_Delete(root);
    free(text);
    /* read back as SGLang would: against the model */
    mp_engine_expect x = {E, P, &p->model};
    mp_engine_info in;
    mp_err err = {0};
    assert_int_equal(mp_engine_file_check(path, &x, &in, &err), 0);
    assert_int_equal(in.kind, MP_EXPORT_SGLANG);
    assert_int_equal(in.rows, D);
    assert_int_equal(in.moe_layers, L);
    assert_int_equal(in.slots, R);
    assert_int_equal(in.experts, E);
    /* a model with another layout is refused */
    mp_model m = p->model;
    m.decoder_layers = 62, m.first_dense = 4;
    x.model = &m;
    assert_int_equal(mp_engine_file_check(path, &x, &in, &err), MP_ESHAPE);
    assert_non_null(strstr(err.msg, "61 rows"));
    /* GPUs the slots do not split over */
    mp_engine_expect y = {E, 5, NULL};
    assert_int_equal(mp_engine_file_check(path, &y, &in, &err), MP_ESHAPE);
    unlink(path);
    mp_plan_destroy(p);
}

static void test_trtllm(void **state)
{
    (void)state;
    mp_plan *p = dsv3_plan();
    char path[80];
    tmp_path(path, sizeof path, "yaml");
    assert_int_equal(mp_plan_export(p, MP_EXPORT_TRTLLM, path, NULL), 0);
    char *text = slurp(path);
    assert_non_null(strstr(text, "num_slots: 288\n"));
    assert_non_null(strstr(text, "layer_updates_per_iter: 0\n"));
    /* keys are decoder layers 3..60, in order, one line each */
    const char *q = strstr(text, "initial_global_assignments:\n");
    assert_non_null(q);
    q += strlen("initial_global_assignments:\n");
    for (int32_t l = 0; l < L; l++) {
        int key, n;
        assert_int_equal(sscanf(q, "  %d: [%n", &key, &n), 1);
        assert_int_equal(key, l + DENSE);
        q = strchr(q, '\n');
        assert_non_null(q);
        q++;
    }
    assert_int_equal(*q, 0);
    free(text);
    mp_engine_expect x = {E, P, &p->model};
    mp_engine_info in;
    mp_err err = {0};
    assert_int_equal(mp_engine_file_check(path, &x, &in, &err), 0);
    assert_int_equal(in.kind, MP_EXPORT_TRTLLM);
    assert_int_equal(in.rows, L);
    int64_t dups = 0; /* extra copies of an expert on one GPU */
    for (int32_t l = 0; l < L; l++)
        for (int32_t g = 0; g < P; g++)
            for (int32_t i = 0; i < S; i++)
                for (int32_t j = 0; j < i; j++)
                    if (mp_plan_layer(p, l)[g * S + i] == mp_plan_layer(p, l)[g * S + j]) {
                        dups++;
                        break;
                    }
    assert_true(dups > 0);
    assert_int_equal(in.duplicates, dups);
    unlink(path);
    mp_plan_destroy(p);
}

static void test_vllm(void **state)
{
    (void)state;
    mp_plan *p = dsv3_plan();
    char path[80];
    tmp_path(path, sizeof path, "jsonl");
    assert_int_equal(mp_plan_export(p, MP_EXPORT_VLLM, path, NULL), 0);
    char *text = slurp(path);
    char *nl = strchr(text, '\n');
    assert_non_null(nl);
    assert_int_equal(nl[1], 0); /* one line */
    cJSON *rec = cJSON_Parse(text);
    assert_non_null(rec);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(rec, "record_type")->valuestring, "eplb_initial_mapping");
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(rec, "version")->valueint, 1);
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(rec, "num_redundant_experts")->valueint, R - E);
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(rec, "num_slots")->valueint, R);
    const cJSON *ga = cJSON_GetObjectItemCaseSensitive(rec, "initial_global_assignments");
    assert_int_equal(cJSON_GetArraySize(ga), L);
    for (int32_t l = 0; l < L; l++) {
        char key[8];
        snprintf(key, sizeof key, "%d", l); /* MoE layer indices */
        assert_row(cJSON_GetObjectItemCaseSensitive(ga, key), mp_plan_layer(p, l));
    }
    cJSON_Delete(rec);
    free(text);
    mp_engine_expect x = {E, P, &p->model};
    mp_engine_info in;
    mp_err err = {0};
    assert_int_equal(mp_engine_file_check(path, &x, &in, &err), 0);
    assert_int_equal(in.kind, MP_EXPORT_VLLM);
    x.experts = 250; /* num_slots - num_redundant_experts says 256 */
    assert_int_equal(mp_engine_file_check(path, &x, &in, &err), MP_ESHAPE);
    unlink(path);
    mp_plan_destroy(p);
}

static void test_vllm_ascend(void **state)
{
    (void)state;
    mp_plan *p = dsv3_plan();
    char path[80];
    tmp_path(path, sizeof path, "json");
    mp_err err = {0};
    /* the test layout holds some expert twice on a GPU: vllm-ascend cannot */
    int dup = 0;
    for (int32_t l = 0; l < L && !dup; l++)
        for (int32_t g = 0; g < P && !dup; g++)
            for (int32_t i = 0; i < S && !dup; i++)
                for (int32_t j = 0; j < i && !dup; j++)
                    dup = mp_plan_layer(p, l)[g * S + i] == mp_plan_layer(p, l)[g * S + j];
    if (dup) {
        assert_int_equal(mp_plan_export(p, MP_EXPORT_VLLM_ASCEND, path, &err), MP_ERANGE);
        assert_non_null(strstr(err.msg, "twice"));
        assert_int_equal(access(path, F_OK), -1); /* nothing written */
    }
    /* a duplicate-free layout: slot s of layer l holds (s + l) % E, then the
     * redundant slots spread so no GPU repeats */
    for (int32_t l = 0; l < L; l++)
        for (int32_t s = 0; s < R; s++) mp_plan_layer(p, l)[s] = (int32_t)(((int64_t)s * 233 + l) % E);
    assert_int_equal(mp_plan_derive(p, NULL), 0);
    assert_int_equal(mp_plan_export(p, MP_EXPORT_VLLM_ASCEND, path, &err), 0);
    char *text = slurp(path);
    cJSON *root = cJSON_Parse(text);
    assert_non_null(root);
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(root, "moe_layer_count")->valueint, L);
    const cJSON *ll = cJSON_GetObjectItemCaseSensitive(root, "layer_list");
    assert_int_equal(cJSON_GetArraySize(ll), L);
    for (int32_t l = 0; l < L; l++) {
        const cJSON *dl = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(ll, l), "device_list");
        assert_int_equal(cJSON_GetArraySize(dl), P);
        for (int32_t g = 0; g < P; g++) {
            const cJSON *de = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(dl, g), "device_expert");
            assert_int_equal(cJSON_GetArraySize(de), S);
            for (int32_t i = 0; i < S; i++)
                assert_int_equal(cJSON_GetArrayItem(de, i)->valueint, mp_plan_layer(p, l)[g * S + i]);
        }
    }
    cJSON_Delete(root);
    free(text);
    mp_engine_expect x = {E, 0, &p->model};
    mp_engine_info in;
    assert_int_equal(mp_engine_file_check(path, &x, &in, &err), 0);
    assert_int_equal(in.kind, MP_EXPORT_VLLM_ASCEND);
    assert_int_equal(in.gpus, P); /* the file names its devices */
    assert_int_equal(in.duplicates, 0);
    unlink(path);
    mp_plan_destroy(p);
}

static void test_no_decoder_rule_and_fusion(void **state)
{
    (void)state;
    mp_plan *p = dsv3_plan();
    p->model.decoder_layers = 0, p->model.first_dense = 0;
    assert_int_equal(mp_export_decoder_unknown(p, MP_EXPORT_SGLANG), 1);
    assert_int_equal(mp_export_decoder_unknown(p, MP_EXPORT_TRTLLM), 1);
    assert_int_equal(mp_export_decoder_unknown(p, MP_EXPORT_VLLM), 0); /* MoE layer indices */
    char path[80];
    tmp_path(path, sizeof path, "json");
    assert_int_equal(mp_plan_export(p, MP_EXPORT_SGLANG, path, NULL), 0);
    mp_engine_info in;
    mp_err err = {0};
    assert_int_equal(mp_engine_file_check(path, NULL, &in, &err), 0);
    assert_int_equal(in.rows, L); /* MoE layers only */
    unlink(path);
    p->shared_id = E; /* a fused shared expert: no engine places it */
    assert_int_equal(mp_plan_export(p, MP_EXPORT_TRTLLM, path, &err), MP_EINVAL);
    assert_int_equal(access(path, F_OK), -1);
    mp_export k;
    assert_int_equal(mp_export_parse("vllm-ascend", &k), 0);
    assert_int_equal(k, MP_EXPORT_VLLM_ASCEND);
    assert_string_equal(mp_export_name(MP_EXPORT_VLLM), "vllm");
    assert_int_equal(mp_export_parse("yaml", &k), MP_ENOTFOUND);
    mp_plan_destroy(p);
}

/* moeplace's own plan and load files are not engine files */
static void test_not_engine(void **state)
{
    (void)state;
    mp_engine_info in;
    mp_err err = {0};
    const char *plan = "{\"format\": \"moeplace-plan\", \"physical_to_logical_map\": [[0]]}";
    const char *loads = "{\"logical_count\": [[1, 2]]}";
    assert_int_equal(mp_engine_text_check(plan, strlen(plan), "p", NULL, &in, &err), MP_ENOTFOUND);
    assert_int_equal(mp_engine_text_check(loads, strlen(loads), "l", NULL, &in, &err), MP_ENOTFOUND);
    const char *yaml = "num_slots: 4\ninitial_global_assignments:\n  1: [0, 1, 2, 3]\n  2: [3, 2, 1, 0]\n";
    assert_int_equal(mp_engine_text_check(yaml, strlen(yaml), "y", NULL, &in, &err), 0);
    assert_int_equal(in.rows, 2);
    mp_model m = mp_model_default();
    m.layers = 2, m.experts = 4, m.top_k = 1, m.decoder_layers = 3, m.first_dense = 1; /* MoE: decoder 1, 2 */
    mp_engine_expect x = {4, 2, &m};
    assert_int_equal(mp_engine_text_check(yaml, strlen(yaml), "y", &x, &in, &err), 0);
    m.decoder_layers = 4, m.first_dense = 2; /* MoE: decoder 2, 3: key 1 is dense */
    assert_int_equal(mp_engine_text_check(yaml, strlen(yaml), "y", &x, &in, &err), MP_ESHAPE);
    assert_string_equal(err.msg, "y: line 3: layer 1 is not a MoE decoder layer of the model");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sglang),       cmocka_unit_test(test_trtllm),
        cmocka_unit_test(test_vllm),         cmocka_unit_test(test_vllm_ascend),
        cmocka_unit_test(test_no_decoder_rule_and_fusion), cmocka_unit_test(test_not_engine),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
