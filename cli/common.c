/* common.c - number parsing and error printing shared by every command. */
#include <errno.h>
#include <sys/stat.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/escape.h"
#include "cli/io_guard.h"
#include "traces/formats/mp_hfconfig.h"
#include "traces/gen/mp_gen.h"

void cli_common_init(cli_common *c, const char *cmd)
{
    memset(c, 0, sizeof *c);
    c->cmd = cmd;
    c->threads = CLI_THREADS_DEFAULT;
    c->seed = CLI_SEED_DEFAULT;
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
    char msg[1024], safe[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    cli_esc_term(safe, sizeof safe, msg, strlen(msg)); /* arguments and names from files: text only */
    fprintf(stderr, "moeplace %s: %s (see 'moeplace help %s')\n", cmd, safe, cmd);
    return CLI_EUSAGE;
}

void cli_message(const char *fmt, ...)
{
    char msg[2048], safe[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    cli_esc_term(safe, sizeof safe, msg, strlen(msg));
    fprintf(stderr, "%s\n", safe);
}

int cli_topology_error(const char *cmd, const mp_err *err)
{
    /* the planner names fields: the flags that set them */
    static const char *const flag[][2] = {
        {"give redundant or slots_per_gpu, not both", "give --redundant or --slots-per-gpu, not both"},
        {"slots_per_gpu", "--slots-per-gpu"},
        {"shared_fusion", "--shared-fusion"},
        {"redundant is", "--redundant is"},
        {"gpus is", "--gpus is"},
        {"nodes is", "--nodes is"},
    };
    const char *m = err->msg[0] ? err->msg : mp_strerror(err->code);
    char out[2 * MP_ERR_MSG_MAX];
    size_t n = 0;
    while (*m && n + 64 < sizeof out) {
        size_t i = 0, k = sizeof flag / sizeof flag[0];
        for (; i < k; i++)
            if (!strncmp(m, flag[i][0], strlen(flag[i][0]))) break;
        if (i < k) {
            n += (size_t)snprintf(out + n, sizeof out - n, "%s", flag[i][1]);
            m += strlen(flag[i][0]);
        } else {
            out[n++] = *m++;
        }
    }
    out[n] = 0;
    return cli_usage_error(cmd, "%s", out);
}

int cli_fail(const mp_err *err)
{
    /* library messages name fields, never flags: the flag that sets a field,
     * or that answers the message, is put in here */
    static const char *const hint[][2] = {
        {": unknown format (", "; name it with --input-format mpt|npy|csv|json|pt|trtllm|vllm-eplb|routed"},
        {"top-k apart: give the model", " (moeplace convert --top-k K -o trace.mpt, once)"},
        {": cannot tell the output format from the name", "; name it with --to mpt|npy|csv|json"},
        {": the layout must be given", " with --layout LTK or TLK"},
        {" is too large for the oracle to hold", " (--no-oracle)"},
    };
    /* messages of the planner (they start with its name, never with a file's) naming request fields */
    static const char *const field[][2] = {
        {"plan: shared_fusion needs the model's top_k", "plan: --shared-fusion needs the model's top-k (give --top-k)"},
        {"plan: shared_fusion ", "plan: --shared-fusion "},
    };
    char safe[2 * MP_ERR_MSG_MAX], named[2 * MP_ERR_MSG_MAX];
    const char *msg = err->msg[0] ? err->msg : mp_strerror(err->code), *add = "";
    for (size_t i = 0; i < sizeof field / sizeof field[0]; i++) {
        size_t n = strlen(field[i][0]);
        if (strncmp(msg, field[i][0], n) == 0) {
            snprintf(named, sizeof named, "%s%s", field[i][1], msg + n);
            msg = named;
            break;
        }
    }
    for (size_t i = 0; i < sizeof hint / sizeof hint[0]; i++)
        if (strstr(msg, hint[i][0])) add = hint[i][1];
    cli_esc_term(safe, sizeof safe, msg, strlen(msg)); /* messages quote input: text only */
    fprintf(stderr, "moeplace: %s%s\n", safe, add);
    return err->code == MP_EINVAL ? CLI_EUSAGE : CLI_EDATA;
}

int cli_parse_i64(const char *cmd, const char *flag, const char *arg, int64_t lo, int64_t hi, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(arg, &end, 10);
    if (errno || end == arg || *end) {
        cli_usage_error(cmd, "%s wants an integer, not '%s'", flag, arg);
        return -1;
    }
    if (v < lo || v > hi) {
        cli_usage_error(cmd, "%s %lld is outside %lld..%lld", flag, v, (long long)lo, (long long)hi);
        return -1;
    }
    *out = v;
    return 0;
}

int cli_parse_int(const char *cmd, const char *flag, const char *arg, int lo, int hi, int *out)
{
    int64_t v;
    if (cli_parse_i64(cmd, flag, arg, lo, hi, &v)) return -1;
    *out = (int)v;
    return 0;
}

int cli_parse_double(const char *cmd, const char *flag, const char *arg, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(arg, &end);
    if (errno || end == arg || *end || !isfinite(v)) {
        cli_usage_error(cmd, "%s wants a number, not '%s'", flag, arg);
        return -1;
    }
    if (v < lo || v > hi) {
        cli_usage_error(cmd, "%s %g is outside %g..%g", flag, v, lo, hi);
        return -1;
    }
    *out = v;
    return 0;
}

int cli_parse_bytes(const char *cmd, const char *flag, const char *arg, int64_t *out)
{
    char *end;
    errno = 0;
    double v = strtod(arg, &end);
    double mul = 1;
    if (!errno && end != arg && isfinite(v)) {
        switch (*end) {
        case 'k': case 'K': mul = 1e3, end++; break;
        case 'M': mul = 1e6, end++; break;
        case 'G': mul = 1e9, end++; break;
        case 'T': mul = 1e12, end++; break;
        default: break;
        }
        if (*end == 'B') end++;
    }
    if (errno || end == arg || *end || !isfinite(v) || v < 0 || v * mul > 4611686018427387904.0) {
        cli_usage_error(cmd, "%s wants a byte count such as 4096, 800M or 1.5G, not '%s'", flag, arg);
        return -1;
    }
    *out = (int64_t)(v * mul);
    return 0;
}

int cli_parse_range(const char *cmd, const char *flag, const char *arg, int64_t *begin, int64_t *end)
{
    const char *colon = strchr(arg, ':');
    char buf[64];
    *begin = 0;
    *end = -1;
    if (!colon) {
        if (cli_parse_i64(cmd, flag, arg, 0, INT64_MAX - 1, begin)) return -1;
        *end = *begin + 1;
        return 0;
    }
    size_t n = (size_t)(colon - arg);
    if (n >= sizeof buf) return cli_usage_error(cmd, "%s: bad range '%s'", flag, arg), -1;
    memcpy(buf, arg, n);
    buf[n] = '\0';
    if (n && cli_parse_i64(cmd, flag, buf, 0, INT64_MAX, begin)) return -1;
    if (colon[1] && cli_parse_i64(cmd, flag, colon + 1, 0, INT64_MAX, end)) return -1;
    if (*end >= 0 && *end <= *begin) {
        cli_usage_error(cmd, "%s: empty range '%s'", flag, arg);
        return -1;
    }
    return 0;
}

const char *cli_flag_msg(const char *msg, const char *field, const char *flag, char *buf, size_t n)
{
    size_t l = strlen(field);
    if (strncmp(msg, field, l) == 0 && msg[l] == ' ') snprintf(buf, n, "%s%s", flag, msg + l);
    else snprintf(buf, n, "%s: %s", flag, msg);
    return buf;
}

/* A reader's notice: one line on stderr, unless -q; a file read twice
 * (sim reopens its trace) says it once. */
static void read_notice(void *ctx, const char *line)
{
    static char last[512];
    (void)ctx;
    if (strncmp(last, line, sizeof last - 1) == 0) return;
    snprintf(last, sizeof last, "%s", line);
    fprintf(stderr, "moeplace: note: %s\n", line);
}

mp_read_opts cli_read_opts(const cli_common *c)
{
    mp_read_opts o;
    memset(&o, 0, sizeof o);
    o.format = c->in_format;
    o.threads = c->threads;
    if (c->has_model) {
        o.config = &c->model;
        o.config_name = c->model_path;
    }
    if (!c->quiet) o.notice = read_notice;
    return o;
}

int cli_model_load(cli_common *c, const char *arg)
{
    mp_err err = {0};
    struct stat st;
    if (stat(arg, &st) == 0) {
        char path[4096];
        if (S_ISDIR(st.st_mode)) {
            /* a model folder: its config.json */
            if ((size_t)snprintf(path, sizeof path, "%s/config.json", arg) >= sizeof path)
                return cli_usage_error(c->cmd, "--model: folder name too long");
        } else {
            snprintf(path, sizeof path, "%s", arg);
        }
        if (mp_hfconfig_read(&c->model, path, &err)) return cli_fail(&err);
        cli_io_guard_model_file(path); /* an output must not replace it */
    } else if (mp_gen_preset_find(arg, &c->model, NULL) != 0) {
        char names[512] = "";
        int n;
        const mp_gen_preset *p = mp_gen_presets(&n);
        for (int i = 0; i < n; i++) {
            size_t l = strlen(names);
            snprintf(names + l, sizeof names - l, "%s%s", i ? ", " : "", p[i].model.name);
        }
        return cli_usage_error(c->cmd, "--model %s is neither a file nor a preset (%s)", arg, names);
    }
    c->has_model = 1;
    c->model_path = arg;
    return 0;
}

int cli_need_sizes(const char *cmd, const char *input, const mp_model *m, int64_t hidden, int64_t inter, int flags)
{
    int64_t h = hidden > 0 ? hidden : m->hidden, i = inter > 0 ? inter : m->intermediate;
    if (h > 0 && i > 0) return 0;
    return cli_usage_error(cmd,
                           "%s has no model shape (%s unknown), and the times and traffic depend on it: give --model "
                           "CONFIG.json|PRESET%s",
                           input, h <= 0 && i <= 0 ? "hidden and intermediate sizes" : h <= 0 ? "hidden size" : "intermediate size",
                           flags ? ", or --hidden and --intermediate" : "");
}

void cli_moe_layers_text(const mp_model *m, char *buf, size_t n)
{
    int32_t a = mp_model_decoder_of(m, 0), b = mp_model_decoder_of(m, m->layers - 1);
    int32_t step = m->layers > 1 ? mp_model_decoder_of(m, 1) - a : 1;
    if (a == b) snprintf(buf, n, "%d", (int)a);
    else if (step == 1) snprintf(buf, n, "%d-%d", (int)a, (int)b);
    else snprintf(buf, n, "%d-%d/%d", (int)a, (int)b, (int)step);
}
