/* replay_nccl.c - `moeplace replay --nproc N` (forks N ranks, one GPU each,
 * sharing NCCL's unique id through a pipe) and `--mpi` (under mpirun, with
 * the id broadcast by MPI): flags in, rank 0's report out.  The work is in
 * kernels/mp_nccl.h. */
#include "cli/replay_nccl.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/kernels.h"
#include "kernels/mp_kernels.h"
#include "kernels/mp_nccl.h"
#include "kernels/mp_replay.h"
#include "planner/mp_planner.h"
#include "sim/mp_cost.h"
#include "sim/mp_sim.h"
#ifdef MP_HAVE_MPI
#include <mpi.h>
#endif

/* the kernels module's table, loaded by cli_replay_nccl before any rank starts */
static const mp_kernels_api *K;

/* Figures of the single-GPU emulation of the same plan and tokens (rank 0). */
static int emulate(const cli_nccl_args *a, const cli_common *c, const mp_plan *plan, int32_t layer, int64_t T,
                   int32_t kk, int64_t H, int64_t I, const uint16_t *ids, const float *w, double *step_us,
                   mp_err *err)
{
    mp_kx_shape sh = {.hidden = (int32_t)H, .intermediate = (int32_t)I, .top_k = kk, .experts = plan->experts,
                      .slots = plan->slots, .ranks = plan->topo.gpus,
                      .max_replicas = plan->max_replicas > 1 ? plan->max_replicas : 1, .max_tokens = T,
                      .dtype = MP_KX_BF16, .selection = a->selection, .seed = c->seed, .with_experts = 1,
                      .use_graph = 1};
    mp_kx *kx;
    int rc = K->kx_create(&kx, &sh, err);
    if (rc) return rc;
    mp_kx_step s;
    rc = K->kx_set_plan(kx, mp_plan_replicas(plan, layer, 0), plan->replica_count + (int64_t)layer * plan->experts,
                        err);
    if (!rc) rc = K->kx_set_routing(kx, T, ids, w, err);
    if (!rc) rc = K->kx_measure_step(kx, a->iters, a->warmup, 1, &s, err);
    K->kx_destroy(kx);
    if (!rc) *step_us = s.step_us;
    return rc;
}

/* sim's predicted time of `layer` for the tokens read, under `cost`. */
static int sim_predict(const mp_replay_routing *rt, const mp_plan *plan, int32_t layer, const mp_cost *cost,
                       int selection, uint64_t seed, double *us, mp_err *err)
{
    mp_sim_opts o = mp_sim_opts_default();
    o.cost = *cost;
    o.seed = seed;
    o.policy = mp_policy_find(selection == 0 ? "none" : selection == 2 ? "random" : "vllm-modulo");
    mp_sim *s;
    int rc = mp_sim_create(&s, plan, &rt->model, &o, err);
    if (rc) return rc;
    mp_step p = {.step = 0, .first_token = 0, .tokens = rt->tokens, .end_of_step = 1, .layers = rt->layers,
                 .top_k = rt->top_k, .ids = rt->ids, .weights = rt->weights};
    mp_sim_result *r = NULL;
    rc = mp_sim_feed(s, &p, err);
    if (!rc) rc = mp_sim_finish(s, &r, err);
    if (!rc) *us = r->layer[layer].time_us;
    mp_sim_result_destroy(r);
    mp_sim_destroy(s);
    return rc;
}

static void report(cli_doc *d, const mp_nx_result *r, double a2a_us, double small_us, int64_t wrong,
                   double emul_us)
{
    const int32_t P = r->ranks;
    cli_doc_int(d, "capacity", r->capacity);
    cli_doc_int(d, "rows_max", r->recv_rows_max);
    cli_doc_num(d, "rows_mean", r->recv_rows_mean, 1);
    cli_doc_num(d, "step_max_us", r->step_max_us, 1);
    cli_doc_num(d, "step_mean_us", r->step_mean_us, 1);
    if (emul_us > 0) {
        cli_doc_num(d, "emulated_step_us", emul_us, 1);
        cli_doc_num(d, "measured_vs_emulated", r->step_max_us / emul_us, 3);
    }
    cli_doc_num(d, "latency_us", small_us, 1);
    if (wrong >= 0) cli_doc_int(d, "wrong", wrong);
    else cli_doc_str(d, "wrong", "-");
    cli_tab *t = cli_doc_table(d, "phases", "per-phase time, median of the timed steps, over ranks");
    cli_tab_col(t, "phase", -1);
    cli_tab_col(t, "max_us", 1);
    cli_tab_col(t, "mean_us", 1);
    for (int p = 0; p < MP_NX_PH_COUNT; p++) {
        cli_tab_str(t, K->nx_phase_name(p));
        cli_tab_num(t, r->max_us[p]);
        cli_tab_num(t, r->mean_us[p]);
    }
    cli_tab_str(t, "step");
    cli_tab_num(t, r->step_max_us);
    cli_tab_num(t, r->step_mean_us);
    t = cli_doc_table(d, "bandwidth", "nccl-tests style: algbw = bytes / time, busbw = algbw * (n-1)/n");
    cli_tab_col(t, "op", -1);
    cli_tab_col(t, "bytes", -1);
    cli_tab_col(t, "time_us", 1);
    cli_tab_col(t, "algbw_GBps", 2);
    cli_tab_col(t, "busbw_GBps", 2);
    const char *ops[] = {"dispatch", "return", "ncclAlltoAll"};
    double us[] = {r->max_us[MP_NX_PH_DISPATCH], r->max_us[MP_NX_PH_RETURN], a2a_us};
    for (int i = 0; i < 3; i++) {
        double alg = mp_xg_algbw(r->send_bytes, us[i]);
        cli_tab_str(t, ops[i]);
        cli_tab_int(t, (int64_t)r->send_bytes);
        cli_tab_num(t, us[i]);
        cli_tab_num(t, alg);
        cli_tab_num(t, mp_xg_busbw(alg, P));
    }
    t = cli_doc_table(d, "pairs", "rows sent from rank (row) to rank (column)");
    cli_tab_col(t, "from", -1);
    char name[32];
    for (int32_t j = 0; j < P; j++) {
        snprintf(name, sizeof name, "to_%d", j);
        cli_tab_col(t, name, -1);
    }
    for (int32_t i = 0; i < P; i++) {
        cli_tab_int(t, i);
        for (int32_t j = 0; j < P; j++) cli_tab_int(t, r->pair[i * P + j]);
    }
}

/* One rank's whole run; rank 0 prints.  Collective calls in the same order
 * on every rank. */
static int run_rank(const cli_nccl_args *a, const cli_common *c, int32_t P, int32_t rank, int32_t local,
                    const unsigned char id[MP_NX_ID_BYTES])
{
    mp_err err = {0};
    mp_read_opts ro = cli_read_opts(c);
    mp_replay_routing *rt = NULL;
    mp_plan *plan = NULL;
    mp_nx *nx = NULL;
    cli_doc *d = NULL;
    uint16_t *ids = NULL;
    float *w = NULL;
    int code = CLI_EDATA, on_gpu = 0; /* input errors are the same on every rank: rank 0 says them */
    int64_t want = a->tokens > 0 ? a->tokens : CLI_REPLAY_TOKENS_MAX;
    if (mp_replay_routing_read(&rt, a->trace, &ro, want, &err)) goto fail;
    const mp_model *m = &rt->model;
    if (!strcmp(a->plan, "linear")) {
        if (mp_plan_linear_baseline(&plan, m, P, 1, &err)) goto fail;
    } else {
        if (mp_plan_read_json(&plan, NULL, a->plan, &err)) goto fail;
        if (plan->layers != rt->layers || plan->routed != m->experts) {
            mp_err_set(&err, MP_ESHAPE, "%s: plan has %d layers and %d routed experts, trace %d and %lld", a->plan,
                       plan->layers, plan->routed, rt->layers, (long long)m->experts);
            goto fail;
        }
        if (plan->topo.gpus != P) {
            mp_err_set(&err, MP_ESHAPE, "%s: plan is for %d GPUs, %d ranks run", a->plan, plan->topo.gpus, P);
            goto fail;
        }
    }
    if (a->layer >= rt->layers) {
        code = rank == 0 ? cli_usage_error("replay", "--layers outside the trace's %d layers", rt->layers)
                         : CLI_EUSAGE;
        goto out;
    }
    const int32_t layer = (int32_t)a->layer, kk = rt->top_k + (plan->shared_id >= 0);
    const int64_t T = rt->tokens, H = m->hidden > 0 ? m->hidden : a->hidden,
                  I = m->intermediate > 0 ? m->intermediate : a->inter;
    if (rank == 0 && (m->hidden <= 0 || m->intermediate <= 0))
        cli_message("moeplace replay: %s has no model shape: assuming hidden %lld and intermediate %lld (--hidden and "
                    "--intermediate; give --model for the model's own)",
                    a->trace, (long long)H, (long long)I);
    ids = malloc(sizeof *ids * (size_t)(T * kk));
    w = malloc(sizeof *w * (size_t)(T * kk));
    if (!ids || !w) {
        mp_err_set(&err, MP_ENOMEM, "replay: out of memory");
        goto fail;
    }
    mp_replay_layer(rt, layer, T, plan->shared_id, ids, w);
    mp_nx_shape sh = {.hidden = (int32_t)H, .intermediate = (int32_t)I, .top_k = kk, .experts = plan->experts,
                      .slots = plan->slots, .max_replicas = plan->max_replicas > 1 ? plan->max_replicas : 1,
                      .max_tokens = T, .selection = a->selection, .seed = c->seed, .padded = a->padded};
    on_gpu = 1;
    if (K->nx_create(&nx, id, P, rank, local, &sh, &err) ||
        K->nx_set_plan(nx, mp_plan_replicas(plan, layer, 0), plan->replica_count + (int64_t)layer * plan->experts,
                       &err) ||
        K->nx_set_routing(nx, T, ids, w, &err))
        goto fail;
    int64_t wrong = -1;
    /* the CPU check regenerates every dispatched row of a rank: up to 2^31
     * values a rank (the same decision on every rank), beyond, wrong is "-" */
    if (a->check && (double)T * kk * H / P <= CLI_REPLAY_CHECK_VALUES_MAX &&
        K->nx_check(nx, ids, w, 4, &wrong, &err))
        goto fail;
    mp_nx_result r;
    double a2a = 0, small = 0, emul = 0;
    if (K->nx_run(nx, a->iters, a->warmup, &r, &err) ||
        K->nx_alltoall(nx, (size_t)r.send_bytes, a->iters, a->warmup, &a2a, &err) ||
        K->nx_alltoall(nx, (size_t)P * H * 2, a->iters, a->warmup, &small, &err))
        goto fail;
    char dev[256] = "";
    K->nx_device(nx, dev, sizeof dev);
    K->nx_destroy(nx);
    nx = NULL;
    if (rank != 0) {
        code = CLI_OK;
        goto out;
    }
    if (a->emulate && emulate(a, c, plan, layer, T, kk, H, I, ids, w, &emul, &err)) goto fail;
    d = cli_doc_create("moeplace.replay.nccl");
    cli_doc_str(d, "device", dev);
    cli_doc_str(d, "trace", a->trace);
    cli_doc_str(d, "plan", a->plan);
    cli_doc_int(d, "ranks", P);
    cli_doc_int(d, "slots", plan->slots);
    cli_doc_int(d, "layer", layer);
    cli_doc_int(d, "tokens", T);
    cli_doc_int(d, "tokens_per_rank", (T + P - 1) / P);
    cli_doc_int(d, "hidden", H);
    cli_doc_int(d, "intermediate", I);
    cli_doc_int(d, "choices_per_token", kk);
    cli_doc_str(d, "exchange", a->padded ? "ncclAlltoAll at capacity" : "ncclSend/ncclRecv (all-to-all-v)");
    report(d, &r, a2a, small, wrong, emul);
    /* the cost model with the measured link: the dispatch busbw as the
     * per-GPU rate (kept when one rank moves nothing over a link), the
     * smallest all-to-all as the fixed latency; sim predicts the layer with it */
    mp_cost cost = mp_cost_default();
    if (a->cost && mp_cost_read(&cost, a->cost, &err)) goto fail;
    snprintf(cost.name, sizeof cost.name, "replay-nccl-%dgpu", (int)P);
    if (!cost.hidden) cost.hidden = H;
    if (!cost.intermediate) cost.intermediate = I;
    if (r.dispatch_busbw > 0) cost.nvlink_GBps = r.dispatch_busbw;
    cost.dispatch_fixed_us = small;
    cost.combine_fixed_us = small;
    double sim_us = 0;
    mp_err serr = {0};
    if (sim_predict(rt, plan, layer, &cost, a->selection, c->seed, &sim_us, &serr)) {
        cli_message("moeplace replay: no sim prediction: %s", serr.msg); /* the measurement stands */
        cli_doc_str(d, "sim_layer_us", "-");
    } else {
        cli_doc_num(d, "sim_layer_us", sim_us, 1);
        cli_doc_num(d, "measured_vs_sim", sim_us > 0 ? r.step_max_us / sim_us : 0, 3);
    }
    if (a->link_cost) {
        if (mp_cost_write(&cost, a->link_cost, &err)) goto fail;
        cli_doc_str(d, "link_cost", a->link_cost);
    }
    code = cli_doc_emit(d, c);
    if (code == CLI_OK && a->json) {
        cli_common j;
        cli_common_init(&j, "replay");
        j.output = a->json;
        j.format = CLI_FMT_JSON;
        code = cli_doc_emit(d, &j);
    }
    goto out;
fail:
    if (rank == 0 || on_gpu) cli_message("moeplace replay: rank %d: %s", (int)rank, err.msg);
    code = err.code == MP_EINVAL ? CLI_EUSAGE : CLI_EDATA;
out:
    cli_doc_destroy(d);
    K->nx_destroy(nx);
    free(ids);
    free(w);
    mp_plan_destroy(plan);
    mp_replay_routing_destroy(rt);
    return code;
}

static int read_full(int fd, unsigned char *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t k = read(fd, buf + got, n - got);
        if (k <= 0) return -1;
        got += (size_t)k;
    }
    return 0;
}

/* Forks N ranks; rank 0 makes the unique id and writes it once for each
 * other rank into one pipe (128-byte writes are atomic). */
static int launch(const cli_nccl_args *a, const cli_common *c)
{
    const int N = a->nproc;
    int fds[2];
    if (pipe(fds)) {
        perror("moeplace replay: pipe");
        return CLI_EDATA;
    }
    fflush(stdout);
    fflush(stderr);
    pid_t pids[MP_XG_MAX_RANKS];
    for (int r = 0; r < N; r++) {
        pid_t p = fork();
        if (p < 0) {
            perror("moeplace replay: fork");
            for (int j = 0; j < r; j++) kill(pids[j], SIGTERM);
            for (int j = 0; j < r; j++) waitpid(pids[j], NULL, 0);
            close(fds[0]), close(fds[1]);
            return CLI_EDATA;
        }
        if (p == 0) {
            unsigned char id[MP_NX_ID_BYTES];
            int code = CLI_EDATA;
            if (r == 0) {
                close(fds[0]);
                mp_err err = {0};
                char dev[256];
                /* no GPU, or too few: one line, and the others see the pipe close */
                if (K->device(dev, sizeof dev, &err)) {
                    cli_message("moeplace replay: %s", err.msg);
                    _exit(CLI_EDATA);
                }
                if (K->nx_device_count() < N) {
                    fprintf(stderr, "moeplace replay: --nproc %d needs %d GPUs, this machine has %d\n", N, N,
                            K->nx_device_count());
                    _exit(CLI_EDATA);
                }
                if (K->nx_unique_id(id, &err)) {
                    cli_message("moeplace replay: rank 0: %s", err.msg);
                    _exit(CLI_EDATA);
                }
                for (int j = 1; j < N; j++)
                    if (write(fds[1], id, sizeof id) != (ssize_t)sizeof id) _exit(CLI_EDATA);
                close(fds[1]);
            } else {
                close(fds[1]);
                if (read_full(fds[0], id, sizeof id)) _exit(CLI_EDATA); /* rank 0 failed first */
                close(fds[0]);
            }
            code = run_rank(a, c, N, r, r, id);
            fflush(stdout);
            fflush(stderr);
            _exit(code);
        }
        pids[r] = p;
    }
    close(fds[0]), close(fds[1]);
    /* the worst status; once a rank fails the others may wait for it in
     * NCCL forever, so they are stopped */
    int worst = CLI_OK, left = N, stopped = 0;
    while (left > 0) {
        int st;
        pid_t p = wait(&st);
        if (p < 0) break;
        left--;
        int code = WIFEXITED(st) ? WEXITSTATUS(st) : CLI_EDATA;
        if (!WIFEXITED(st) && !(stopped && WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM))
            fprintf(stderr, "moeplace replay: a rank ended by signal %d\n", WIFSIGNALED(st) ? WTERMSIG(st) : 0);
        if (code != CLI_OK && worst == CLI_OK) {
            worst = code;
            stopped = 1;
            for (int j = 0; j < N; j++)
                if (pids[j] != p) kill(pids[j], SIGTERM);
        }
    }
    return worst;
}

#ifdef MP_HAVE_MPI
static int run_mpi(const cli_nccl_args *a, const cli_common *c)
{
    int rank = 0, size = 1, code;
    MPI_Init(NULL, NULL);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    const char *lr = getenv("OMPI_COMM_WORLD_LOCAL_RANK");
    if (!lr) lr = getenv("MPI_LOCALRANKID");
    if (!lr) lr = getenv("SLURM_LOCALID");
    int local = lr ? atoi(lr) : rank;
    unsigned char id[MP_NX_ID_BYTES];
    int ok = 1;
    if (rank == 0) {
        mp_err err = {0};
        if (K->nx_unique_id(id, &err)) {
            cli_message("moeplace replay: rank 0: %s", err.msg);
            ok = 0;
        }
    }
    MPI_Bcast(&ok, 1, MPI_INT, 0, MPI_COMM_WORLD);
    if (!ok) {
        MPI_Finalize();
        return CLI_EDATA;
    }
    MPI_Bcast(id, MP_NX_ID_BYTES, MPI_BYTE, 0, MPI_COMM_WORLD);
    if (size > MP_XG_MAX_RANKS) {
        if (rank == 0) fprintf(stderr, "moeplace replay: %d MPI ranks, at most %d\n", size, MP_XG_MAX_RANKS);
        MPI_Finalize();
        return CLI_EUSAGE;
    }
    code = run_rank(a, c, size, rank, local, id);
    int worst = code;
    MPI_Allreduce(&code, &worst, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    MPI_Finalize();
    return worst;
}
#endif

int cli_replay_nccl(const cli_nccl_args *a, const cli_common *c)
{
#ifndef MP_HAVE_MPI
    if (a->mpi) {
        fprintf(stderr, "moeplace replay: --mpi needs a build with -DMP_MPI=ON\n");
        return CLI_EDATA;
    }
#endif
    /* no GPU call here: CUDA must not start before the ranks are forked */
    K = cli_kernels_load("replay", 0, NULL, 0);
    if (!K) return CLI_EDATA;
    if (!K->nx_create) {
        fprintf(stderr, "moeplace replay: the CUDA kernels were built without NCCL: no multi-GPU replay\n");
        return CLI_EDATA;
    }
    setenv("NCCL_NVLS_ENABLE", "0", 1); /* NVLink multicast off in every rank */
#ifdef MP_HAVE_MPI
    if (a->mpi) return run_mpi(a, c);
#endif
    return launch(a, c);
}
