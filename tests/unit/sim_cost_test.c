/* sim_cost_test.c - the cost model: defaults, JSON round trip, errors, expert times. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "sim/mp_cost.h"

static void defaults_are_valid(void **state)
{
    (void)state;
    mp_cost c = mp_cost_default();
    assert_int_equal(mp_cost_validate(&c, "d", NULL), 0);
    assert_true(c.net_GBps == 50.0);
    assert_int_equal(c.table_len, 0);
}

static void json_round_trip(void **state)
{
    (void)state;
    mp_cost c = mp_cost_default();
    c.hidden = 7168;
    c.table_len = 3;
    c.table[0] = (mp_cost_point){0, 20};
    c.table[1] = (mp_cost_point){128, 60};
    c.table[2] = (mp_cost_point){1024, 300.5};
    snprintf(c.name, sizeof c.name, "cal \"x\"");
    char *s = mp_cost_to_json(&c);
    assert_non_null(s);
    mp_cost d;
    mp_err err = {0};
    assert_int_equal(mp_cost_from_json(&d, s, strlen(s), "rt", &err), 0);
    free(s);
    assert_string_equal(d.name, "cal \"x\"");
    assert_int_equal(d.hidden, 7168);
    assert_int_equal(d.table_len, 3);
    assert_true(d.table[2].us == 300.5);
    assert_true(d.hbm_GBps == c.hbm_GBps);
}

static void json_errors(void **state)
{
    (void)state;
    mp_cost d;
    mp_err err = {0};
    const char *v2 = "{\"schema\": \"moeplace.cost\", \"schema_version\": 2}";
    assert_int_equal(mp_cost_from_json(&d, v2, strlen(v2), "f.json", &err), MP_EVERSION);
    const char *neg = "{\"schema\": \"moeplace.cost\", \"schema_version\": 1, \"net_GBps\": 0}";
    assert_int_equal(mp_cost_from_json(&d, neg, strlen(neg), "f.json", &err), MP_ERANGE);
    assert_non_null(strstr(err.msg, "net_GBps"));
    const char *unk = "{\"schema\": \"moeplace.cost\", \"schema_version\": 1, \"nvlink\": 1}";
    assert_int_equal(mp_cost_from_json(&d, unk, strlen(unk), "f.json", &err), MP_EFORMAT);
    assert_non_null(strstr(err.msg, "unknown key"));
    const char *bad = "{\"schema\": ";
    assert_int_equal(mp_cost_from_json(&d, bad, strlen(bad), "f.json", &err), MP_EFORMAT);
    assert_non_null(strstr(err.msg, "f.json: offset"));
    const char *noschema = "{\"schema_version\": 1}";
    assert_int_equal(mp_cost_from_json(&d, noschema, strlen(noschema), "f.json", &err), MP_EFORMAT);
}

/* One range per figure, the same for files and flags: tiny bandwidths that
 * made every time infinite are refused; each field's ends are accepted. */
static void field_ranges(void **state)
{
    (void)state;
    mp_cost d;
    mp_err err = {0};
    const char *tiny = "{\"schema\": \"moeplace.cost\", \"schema_version\": 1, \"hbm_GBps\": 1e-300}";
    assert_int_equal(mp_cost_from_json(&d, tiny, strlen(tiny), "cost.json", &err), MP_ERANGE);
    assert_string_equal(err.msg, "cost.json: hbm_GBps: 1e-300 is outside [1e-06, 1e+15]");
    const mp_cost_field *f = mp_cost_field_find("hbm_GBps");
    assert_non_null(f);
    assert_true(f->lo == 1e-6 && f->hi == 1e15);
    assert_null(mp_cost_field_find("nope"));
    f = mp_cost_field_find("hidden");
    assert_true(f->is_int && f->lo == 0 && f->hi == 16777216.0);
    assert_int_equal(mp_cost_field_check(f, 1.5, "w", &err), MP_ERANGE);
    assert_non_null(strstr(err.msg, "not a whole number"));
    char buf[256];
    for (int i = 0; i < mp_cost_field_count(); i++) {
        f = mp_cost_field_at(i);
        const double ends[2] = {f->lo, f->hi};
        for (int k = 0; k < 2; k++) {
            snprintf(buf, sizeof buf, "{\"schema\": \"moeplace.cost\", \"schema_version\": 1, \"%s\": %.17g}", f->key, ends[k]);
            assert_int_equal(mp_cost_from_json(&d, buf, strlen(buf), "e", &err), 0);
        }
        snprintf(buf, sizeof buf, "{\"schema\": \"moeplace.cost\", \"schema_version\": 1, \"%s\": %.17g}", f->key,
                 f->hi * 2);
        assert_int_equal(mp_cost_from_json(&d, buf, strlen(buf), "e", &err), MP_ERANGE);
        mp_cost c = mp_cost_default();
        double *slot = (double *)(void *)((char *)&c + f->off);
        if (!f->is_int) {
            *slot = f->lo / 2; /* validate applies the same table */
            assert_int_equal(mp_cost_validate(&c, "v", &err), f->lo > 0 ? MP_ERANGE : 0);
        }
    }
    assert_null(mp_cost_field_at(-1));
    assert_null(mp_cost_field_at(mp_cost_field_count()));
}

static void analytic_expert_time(void **state)
{
    (void)state;
    mp_cost c = mp_cost_default();
    mp_model m = mp_model_default();
    m.hidden = 7168;
    m.intermediate = 2048;
    /* weights 3*7168*2048*2 B = 88,080,384 B at 3000 GB/s = 29.36 us; + 4 fixed */
    double w_us = 3.0 * 7168 * 2048 * 2 / 3000e3;
    assert_true(mp_cost_expert_us(&c, &m, 0) == 0.0);
    assert_float_equal(mp_cost_expert_us(&c, &m, 1), w_us + 4.0, 1e-9);
    /* flops 2*44M*rows at 800 TFLOP/s: bound by compute above ~ 29.36/0.11 = 266 rows */
    double fl_us = 2.0 * 3 * 7168 * 2048 * 4096 / 800e6;
    assert_float_equal(mp_cost_expert_us(&c, &m, 4096), fl_us + 4.0, 1e-9);
    assert_float_equal(mp_cost_link_us(&c, 450e3, 0), 1.0, 1e-12);
    assert_float_equal(mp_cost_link_us(&c, 450e3, 100e3), 2.0, 1e-12);
}

static void table_interpolation(void **state)
{
    (void)state;
    mp_cost c = mp_cost_default();
    c.table_len = 3;
    c.table[0] = (mp_cost_point){1, 10};
    c.table[1] = (mp_cost_point){101, 30};
    c.table[2] = (mp_cost_point){201, 130};
    assert_float_equal(mp_cost_expert_us(&c, NULL, 51), 20.0, 1e-12);
    assert_float_equal(mp_cost_expert_us(&c, NULL, 151), 80.0, 1e-12);
    assert_float_equal(mp_cost_expert_us(&c, NULL, 301), 230.0, 1e-12); /* extrapolated */
    assert_float_equal(mp_cost_expert_us(&c, NULL, 101), 30.0, 1e-12);
    assert_true(mp_cost_expert_us(&c, NULL, 0) == 0.0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(defaults_are_valid), cmocka_unit_test(json_round_trip), cmocka_unit_test(json_errors), cmocka_unit_test(field_ranges),
        cmocka_unit_test(analytic_expert_time), cmocka_unit_test(table_interpolation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
