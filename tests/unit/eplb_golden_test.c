/* eplb_golden_test.c - moeplace's `eplb` against DeepSeek's own eplb.py.
 *
 * tests/data/eplb/golden.json holds eplb.py's outputs (made by
 * tests/data/eplb/make_golden.py, which runs the real eplb.py): random inputs
 * of every shape eplb.py accepts or refuses (groups that do not divide the
 * experts, GPUs that do not split over the nodes, both policies) and recorded
 * load files.  Tie-free cases must match slot for slot; cases with equal
 * loads must give the same per-GPU loads; refused cases must be refused. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "planner/mp_planner.h"

static char *slurp(const char *path)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) return NULL;
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    if (b && fread(b, 1, (size_t)n, fp) != (size_t)n) {
        free(b);
        b = NULL;
    }
    if (b) b[n] = 0;
    fclose(fp);
    return b;
}

static int geti(const cJSON *o, const char *k) { return cJSON_GetObjectItemCaseSensitive(o, k)->valueint; }

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* sorted per-GPU loads of a layer: every slot weighs w / (replicas of its expert) */
static void gpu_loads(const double *w, const int32_t *row, int32_t E, int32_t R, int32_t P, double *out)
{
    int32_t *cnt = calloc((size_t)E, sizeof *cnt);
    assert_non_null(cnt);
    for (int32_t s = 0; s < R; s++) cnt[row[s]]++;
    for (int32_t g = 0; g < P; g++) out[g] = 0;
    for (int32_t s = 0; s < R; s++) out[s / (R / P)] += (float)w[row[s]] / cnt[row[s]];
    qsort(out, (size_t)P, sizeof *out, cmp_double);
    free(cnt);
}

static void test_golden(void **state)
{
    (void)state;
    char *text = slurp(MP_TEST_DATA "/eplb/golden.json");
    assert_non_null(text);
    cJSON *root = cJSON_Parse(text);
    free(text);
    assert_non_null(root);
    const cJSON *cases = cJSON_GetObjectItemCaseSensitive(root, "cases");
    const cJSON *mats = cJSON_GetObjectItemCaseSensitive(root, "matrices");
    const mp_strategy *st = mp_strategy_find("eplb"), *st_global = mp_strategy_find("eplb-global");
    assert_true(st && st_global);
    int n_exact = 0, n_tie_free = 0, n_refused = 0, n_tied = 0, n_tied_exact = 0, n_tied_loads = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, cases)
    {
        const char *name = cJSON_GetObjectItemCaseSensitive(c, "name")->valuestring;
        const cJSON *wj = cJSON_GetObjectItemCaseSensitive(c, "weight");
        if (!wj) wj = cJSON_GetObjectItemCaseSensitive(mats, cJSON_GetObjectItemCaseSensitive(c, "weight_of")->valuestring);
        assert_non_null(wj);
        int32_t L = cJSON_GetArraySize(wj), E = cJSON_GetArraySize(cJSON_GetArrayItem(wj, 0));
        int32_t R = geti(c, "slots"), G = geti(c, "groups"), N = geti(c, "nodes"), P = geti(c, "gpus");
        double *w = malloc((size_t)L * E * sizeof *w);
        int32_t *got = malloc((size_t)L * R * sizeof *got);
        assert_true(w && got);
        for (int32_t l = 0; l < L; l++)
            for (int32_t e = 0; e < E; e++) w[l * E + e] = cJSON_GetArrayItem(cJSON_GetArrayItem(wj, l), e)->valuedouble;
        mp_err err = {0};
        /* the CLI's rule: nodes that do not divide the GPUs leave eplb.py only
         * its global policy, which ignores nodes: eplb-global on one node */
        int pol = mp_eplb_policy(E, G, N, P, R, 0, &err);
        int refused = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(c, "refused"));
        if (refused) {
            if (pol >= 0) fail_msg("%s: eplb.py refuses, moeplace's policy accepts", name);
            n_refused++;
            free(w), free(got);
            continue;
        }
        if (pol < 0) fail_msg("%s: eplb.py accepts, moeplace refuses: %s", name, err.msg);
        mp_strategy_input in = {.layers = L, .experts = E, .load = w, .groups = G,
                                .topo = {P, P % N != 0 ? 1 : N, R / P}};
        if ((P % N == 0 ? st : st_global)->run(&in, got, &err)) fail_msg("%s: %s", name, err.msg);
        const cJSON *want = cJSON_GetObjectItemCaseSensitive(c, "phy2log");
        int same = 1;
        for (int32_t l = 0; l < L; l++)
            for (int32_t s = 0; s < R; s++)
                same &= cJSON_GetArrayItem(cJSON_GetArrayItem(want, l), s)->valueint == got[l * R + s];
        if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(c, "tie_free"))) {
            n_tie_free++;
            if (!same) fail_msg("%s: moeplace's eplb differs from eplb.py", name);
            n_exact++;
        } else {
            n_tied++;
            n_tied_exact += same;
            double *a = malloc((size_t)P * sizeof *a), *b = malloc((size_t)P * sizeof *b);
            int32_t *row = malloc((size_t)R * sizeof *row);
            assert_true(a && b && row);
            int loads_same = 1;
            for (int32_t l = 0; l < L; l++) {
                for (int32_t s = 0; s < R; s++) row[s] = cJSON_GetArrayItem(cJSON_GetArrayItem(want, l), s)->valueint;
                gpu_loads(w + l * E, row, E, R, P, a);
                gpu_loads(w + l * E, got + l * R, E, R, P, b);
                for (int32_t g = 0; g < P; g++) loads_same &= fabs(a[g] - b[g]) <= 1e-9 * fabs(a[g]);
            }
            if (!loads_same) fail_msg("%s: moeplace's per-GPU loads differ from eplb.py's", name);
            n_tied_loads++;
            free(a), free(b), free(row);
        }
        free(w), free(got);
    }
    printf("eplb golden: %d of %d tie-free cases equal slot for slot; %d refused as eplb.py refuses; "
           "%d of %d cases with ties equal slot for slot, all %d with eplb.py's per-GPU loads\n",
           n_exact, n_tie_free, n_refused, n_tied_exact, n_tied, n_tied_loads);
    assert_true(n_tie_free >= 200);
    cJSON_Delete(root);
}

/* the two inputs moeplace refused before: eplb.py falls back to its global policy */
static void test_fallbacks(void **state)
{
    (void)state;
    mp_err err = {0};
    assert_int_equal(mp_eplb_policy(256, 8, 3, 32, 288, 0, &err), 0); /* 32 GPUs, 3 nodes, 8 % 3 != 0 */
    assert_int_equal(mp_eplb_policy(4, 3, 2, 2, 4, 0, &err), 0);      /* 4 experts, 3 groups, 3 % 2 != 0 */
    assert_int_equal(mp_eplb_policy(12, 4, 2, 8, 16, 0, &err), 1);
    assert_int_equal(mp_eplb_policy(12, 4, 2, 8, 16, 1, &err), 0);
    assert_true(mp_eplb_policy(12, 5, 1, 4, 16, 0, &err) < 0); /* hierarchical: 12 % 5 */
    assert_string_equal(err.msg, "eplb: 12 experts do not split into 5 groups");
    assert_true(mp_eplb_policy(16, 4, 2, 3, 18, 0, &err) < 0); /* hierarchical: 3 GPUs, 2 nodes */
    assert_true(mp_eplb_policy(16, 1, 1, 4, 12, 0, &err) < 0); /* 12 slots, 16 experts */
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_golden), cmocka_unit_test(test_fallbacks)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
