// nccl.cu - the multi-GPU replay over NCCL: communicator, per-rank buffers,
// one step phase by phase (see mp_nccl.h), its timing and NCCL's own
// all-to-all at the same byte count.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <algorithm>
#include <vector>

#include "kernels/mp_kx_common.h"
#include "kernels/nx_internal.h"

static const char *const phase_names[MP_NX_PH_COUNT] = {"counts",  "permute", "dispatch", "reorder",
                                                        "experts", "unorder", "return",   "combine"};

extern "C" const char *mp_nx_phase_name(int phase)
{
    return phase >= 0 && phase < MP_NX_PH_COUNT ? phase_names[phase] : "?";
}

int mp__nx_nccl_fail(mp_err *err, ncclResult_t r, const char *what)
{
    return mp_err_set(err, MP_EIO, "NCCL: %s: %s", what, ncclGetErrorString(r));
}

extern "C" int mp_nx_device_count(void)
{
    int count = 0;
    if (cudaGetDeviceCount(&count) != cudaSuccess) return 0;
    return count;
}

extern "C" int mp_nx_unique_id(unsigned char id[MP_NX_ID_BYTES], mp_err *err)
{
    static_assert(sizeof(ncclUniqueId) == MP_NX_ID_BYTES, "ncclUniqueId size");
    ncclUniqueId u;
    NX_NCCL(ncclGetUniqueId(&u));
    memcpy(id, &u, MP_NX_ID_BYTES);
    return 0;
}

// d[i] = bf16(uniform(seed, stream, off + i) * scale): the global-slot weights.
__global__ void k_fill_at(uint16_t *d, size_t n, uint64_t seed, uint64_t stream, uint64_t off, float scale)
{
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    size_t step = (size_t)gridDim.x * blockDim.x;
    for (; i < n; i += step) d[i] = mp__kx_bf16(mp__kx_uniform(seed, stream, off + i) * scale);
}

// dst[i] = src[idx[i]] for idx[i] >= 0 (block per row, 16-byte vectors).
__global__ void k_gather(const uint4 *__restrict__ src, const int32_t *__restrict__ idx, int nv,
                         uint4 *__restrict__ dst)
{
    int64_t i = blockIdx.x;
    int32_t j = idx[i];
    if (j < 0) return;
    for (int v = threadIdx.x; v < nv; v += blockDim.x) dst[i * nv + v] = src[(int64_t)j * nv + v];
}

// dst[idx[i]] = src[i] for idx[i] >= 0.
__global__ void k_scatter(const uint4 *__restrict__ src, const int32_t *__restrict__ idx, int nv,
                          uint4 *__restrict__ dst)
{
    int64_t i = blockIdx.x;
    int32_t j = idx[i];
    if (j < 0) return;
    for (int v = threadIdx.x; v < nv; v += blockDim.x) dst[(int64_t)j * nv + v] = src[i * nv + v];
}

// out[t] = bf16(sum_k w[t][k] * ret[pos[t*K+k]]) in fp32, k in order.
__global__ void k_combine_rows(const uint16_t *__restrict__ ret, const int32_t *__restrict__ pos,
                               const float *__restrict__ w, int K, int H, uint16_t *__restrict__ out)
{
    int64_t t = blockIdx.x;
    for (int h = threadIdx.x; h < H; h += blockDim.x) {
        float acc = 0.0f;
        for (int k = 0; k < K; k++) acc += w[t * K + k] * mp__kx_f32(ret[(int64_t)pos[t * K + k] * H + h]);
        out[t * H + h] = mp__kx_bf16(acc);
    }
}

template <typename T> static int dalloc(T **p, size_t elems, mp_err *err, const char *what)
{
    *p = NULL;
    cudaError_t e = cudaMalloc((void **)p, (elems ? elems : 1) * sizeof(T));
    if (e != cudaSuccess) {
        *p = NULL;
        return mp_err_set(err, MP_ENOMEM, "CUDA: cannot allocate %s (%.2f GiB): %s", what,
                          (double)(elems * sizeof(T)) / (1 << 30), cudaGetErrorString(e));
    }
    return 0;
}

// (Re)makes the local expert context for `rows` rows and fills its weights
// with the global slots' values.
static int make_experts(mp_nx *nx, int64_t rows, mp_err *err)
{
    mp_kx_destroy(nx->kx);
    nx->kx = NULL;
    mp_kx_shape ks = {};
    ks.hidden = nx->sh.hidden;
    ks.intermediate = nx->sh.intermediate;
    ks.top_k = 1;
    ks.experts = nx->per_rank;
    ks.slots = nx->per_rank;
    ks.ranks = 1;
    ks.max_replicas = 1;
    ks.max_tokens = rows > 0 ? rows : 1;
    ks.dtype = MP_KX_BF16;
    ks.selection = MP_KX_SEL_NONE;
    ks.seed = nx->sh.seed;
    ks.with_experts = 1;
    int rc = mp_kx_create(&nx->kx, &ks, err);
    if (rc) return rc;
    nx->kx_rows = ks.max_tokens;
    const size_t H = (size_t)nx->sh.hidden, I = (size_t)nx->sh.intermediate, per = (size_t)nx->per_rank;
    const uint64_t base = (uint64_t)nx->rank * per;
    k_fill_at<<<4096, 256, 0, nx->kx->st>>>(nx->kx->d_w13, per * 2 * I * H, nx->sh.seed, MP_KX_STREAM_W13,
                                            base * 2 * I * H, 1.0f / sqrtf((float)H));
    k_fill_at<<<4096, 256, 0, nx->kx->st>>>(nx->kx->d_w2, per * H * I, nx->sh.seed, MP_KX_STREAM_W2, base * H * I,
                                            1.0f / sqrtf((float)I));
    KX_CK(cudaGetLastError());
    KX_CK(cudaStreamSynchronize(nx->kx->st));
    return 0;
}

extern "C" int mp_nx_create(mp_nx **out, const unsigned char id[MP_NX_ID_BYTES], int32_t ranks, int32_t rank,
                            int32_t local_rank, const mp_nx_shape *sh, mp_err *err)
{
    *out = NULL;
    if (ranks < 1 || ranks > MP_XG_MAX_RANKS || rank < 0 || rank >= ranks)
        return mp_err_set(err, MP_EINVAL, "replay: rank %d of %d out of range (1..%d ranks)", rank, ranks,
                          MP_XG_MAX_RANKS);
    if (sh->slots % ranks)
        return mp_err_set(err, MP_EINVAL, "replay: %d slots do not divide over %d ranks", sh->slots, ranks);
    if (sh->hidden < 128 || sh->hidden % 128 || sh->hidden > 65536 || sh->intermediate < 8 ||
        sh->intermediate % 8 || sh->intermediate > 65536)
        return mp_err_set(err, MP_EINVAL, "replay: hidden %d (multiple of 128) or intermediate %d (of 8) invalid",
                          sh->hidden, sh->intermediate);
    int count = 0;
    cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess || count == 0)
        return mp_err_set(err, MP_EUNSUPPORTED, "no CUDA GPU found: %s",
                          e != cudaSuccess ? cudaGetErrorString(e) : "the driver lists no device");
    setenv("NCCL_NVLS_ENABLE", "0", 1);
    mp_nx *nx = (mp_nx *)calloc(1, sizeof *nx);
    if (!nx) return mp_err_set(err, MP_ENOMEM, "replay: out of memory");
    nx->sh = *sh;
    nx->P = ranks;
    nx->rank = rank;
    nx->per_rank = sh->slots / ranks;
    nx->device = (local_rank >= 0 ? local_rank : rank) % count;
    nx->max_local = (sh->max_tokens + ranks - 1) / ranks;
    int rc;
#define TRY(x)                                                                                             \
    do {                                                                                                   \
        if ((rc = (x)) != 0) {                                                                             \
            mp_nx_destroy(nx);                                                                             \
            return rc;                                                                                     \
        }                                                                                                  \
    } while (0)
    if ((e = cudaSetDevice(nx->device)) != cudaSuccess) {
        mp_nx_destroy(nx);
        return mp__kx_cuda_fail(err, e, "cudaSetDevice");
    }
    TRY(mp_xg_create(&nx->xg, ranks, rank, sh->slots, sh->top_k, nx->max_local, sh->padded, err));
    nx->h_l2p = (int32_t *)calloc((size_t)sh->experts * sh->max_replicas, sizeof(int32_t));
    nx->h_rc = (int32_t *)calloc((size_t)sh->experts, sizeof(int32_t));
    nx->h_w = (float *)calloc((size_t)(nx->max_local * sh->top_k + 1), sizeof(float));
    if (!nx->h_l2p || !nx->h_rc || !nx->h_w) TRY(mp_err_set(err, MP_ENOMEM, "replay: out of memory"));
    const size_t H = (size_t)sh->hidden, L = (size_t)nx->max_local, K = (size_t)sh->top_k;
    TRY(dalloc(&nx->d_x, L * H, err, "token activations"));
    TRY(dalloc(&nx->d_out, L * H, err, "combined output"));
    TRY(dalloc(&nx->d_w, L * K, err, "gate weights"));
    TRY(dalloc(&nx->d_send_pos, L * K, err, "send positions"));
    TRY(dalloc(&nx->d_counts, (size_t)ranks * sh->slots, err, "counts"));
    TRY(dalloc(&nx->d_red, 4 * (MP_NX_PH_COUNT + 2) + (size_t)ranks * ranks, err, "reductions"));
    for (int i = 0; i <= MP_NX_PH_COUNT; i++)
        if ((e = cudaEventCreate(&nx->ev[i])) != cudaSuccess) TRY(mp__kx_cuda_fail(err, e, "cudaEventCreate"));
    /* expert rows: an even share with room, grown when a step needs more */
    TRY(make_experts(nx, (int64_t)(L * K * 2 > 64 ? L * K * 2 : 64), err));
    ncclUniqueId u;
    memcpy(&u, id, MP_NX_ID_BYTES);
    ncclResult_t nr = ncclCommInitRank(&nx->comm, ranks, u, rank);
    if (nr != ncclSuccess) {
        nx->comm = NULL;
        TRY(mp__nx_nccl_fail(err, nr, "ncclCommInitRank"));
    }
#undef TRY
    *out = nx;
    return 0;
}

extern "C" void mp_nx_destroy(mp_nx *nx)
{
    if (!nx) return;
    cudaSetDevice(nx->device);
    if (nx->kx) cudaStreamSynchronize(nx->kx->st);
    if (nx->comm) ncclCommDestroy(nx->comm);
    mp_kx_destroy(nx->kx);
    mp_xg_destroy(nx->xg);
    void *dev[] = {nx->d_x, nx->d_out, nx->d_w, nx->d_send, nx->d_ret, nx->d_recv, nx->d_back,
                   nx->d_send_token, nx->d_send_pos, nx->d_recv_pos, nx->d_counts, nx->d_red};
    for (size_t i = 0; i < sizeof dev / sizeof dev[0]; i++)
        if (dev[i]) cudaFree(dev[i]);
    for (int i = 0; i <= MP_NX_PH_COUNT; i++)
        if (nx->ev[i]) cudaEventDestroy(nx->ev[i]);
    free(nx->h_l2p);
    free(nx->h_rc);
    free(nx->h_w);
    free(nx);
}

extern "C" int mp_nx_device(const mp_nx *nx, char *buf, size_t n)
{
    cudaDeviceProp p;
    int count = 0;
    cudaGetDeviceCount(&count);
    if (cudaGetDeviceProperties(&p, nx->device) != cudaSuccess) return MP_EIO;
    snprintf(buf, n, "%s, GPU %d of %d", p.name, nx->device, count);
    return 0;
}

extern "C" int mp_nx_set_plan(mp_nx *nx, const int32_t *log2phy, const int32_t *replica_count, mp_err *err)
{
    const int E = nx->sh.experts, M = nx->sh.max_replicas;
    for (int e = 0; e < E; e++) {
        if (replica_count[e] < 1 || replica_count[e] > M)
            return mp_err_set(err, MP_ERANGE, "replay: expert %d has %d replicas (1..%d)", e, replica_count[e], M);
        for (int j = 0; j < replica_count[e]; j++)
            if (log2phy[(int64_t)e * M + j] < 0 || log2phy[(int64_t)e * M + j] >= nx->sh.slots)
                return mp_err_set(err, MP_ERANGE, "replay: expert %d replica %d in slot %d of %d", e, j,
                                  log2phy[(int64_t)e * M + j], nx->sh.slots);
    }
    memcpy(nx->h_l2p, log2phy, sizeof(int32_t) * (size_t)E * M);
    memcpy(nx->h_rc, replica_count, sizeof(int32_t) * (size_t)E);
    nx->plan_set = 1;
    nx->routed = 0;
    return 0;
}

extern "C" int mp_nx_set_routing(mp_nx *nx, int64_t T, const uint16_t *ids, const float *weights, mp_err *err)
{
    if (!nx->plan_set) return mp_err_set(err, MP_EINVAL, "replay: routing before a plan");
    if (T < 0 || T > nx->sh.max_tokens)
        return mp_err_set(err, MP_ELIMIT, "replay: %lld tokens exceed the context's %lld", (long long)T,
                          (long long)nx->sh.max_tokens);
    const int32_t K = nx->sh.top_k;
    int64_t first, n;
    mp_xg_token_range(T, nx->P, nx->rank, &first, &n);
    int rc = mp_xg_layout(nx->xg, first, n, ids + first * K, nx->sh.experts, nx->sh.max_replicas, nx->h_l2p,
                          nx->h_rc, nx->sh.selection, nx->sh.seed, err);
    if (rc) return rc;
    for (int64_t i = 0; i < n * K; i++) nx->h_w[i] = weights ? weights[first * K + i] : 1.0f / (float)K;
    cudaStream_t st = nx->kx->st;
    const size_t H = (size_t)nx->sh.hidden;
    if (n) {
        KX_CK(cudaMemcpyAsync(nx->d_w, nx->h_w, sizeof(float) * (size_t)(n * K), cudaMemcpyHostToDevice, st));
        k_fill_at<<<4096, 256, 0, st>>>(nx->d_x, (size_t)n * H, nx->sh.seed, MP_KX_STREAM_X, (uint64_t)first * H,
                                        1.0f);
        KX_CK(cudaGetLastError());
    }
    KX_CK(cudaStreamSynchronize(st));
    nx->T = T;
    nx->routed = 1;
    return 0;
}

// Grows a device row buffer pair to `rows` rows (with a quarter of room).
static int grow_rows(uint16_t **a, uint16_t **b, int32_t **idx, int64_t *cap, int64_t rows, size_t H, mp_err *err)
{
    if (rows <= *cap && *a) return 0;
    int64_t n = rows + rows / 4 + 16;
    cudaFree(*a), cudaFree(*b), cudaFree(*idx);
    *a = *b = NULL;
    *idx = NULL;
    *cap = 0;
    int rc;
    if ((rc = dalloc(a, (size_t)n * H, err, "exchange rows")) || (rc = dalloc(b, (size_t)n * H, err, "exchange rows")) ||
        (rc = dalloc(idx, (size_t)n, err, "row maps")))
        return rc;
    *cap = n;
    return 0;
}

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

// Grouped send/recv of variable row counts (skipping empty pairs, which
// both sides know from the same count matrix), or one ncclAlltoAll.
static int exchange_rows(mp_nx *nx, const uint16_t *src, const int64_t *scount, const int64_t *sdispl,
                         uint16_t *dst, const int64_t *rcount, const int64_t *rdispl, mp_err *err)
{
    const size_t H = (size_t)nx->sh.hidden;
    cudaStream_t st = nx->kx->st;
    if (nx->sh.padded) {
        if (nx->xg->capacity > 0)
            NX_NCCL(ncclAlltoAll(src, dst, (size_t)nx->xg->capacity * H, ncclBfloat16, nx->comm, st));
        return 0;
    }
    NX_NCCL(ncclGroupStart());
    for (int32_t p = 0; p < nx->P; p++) {
        if (scount[p] > 0) {
            ncclResult_t r = ncclSend(src + (size_t)sdispl[p] * H, (size_t)scount[p] * H, ncclBfloat16, p, nx->comm, st);
            if (r != ncclSuccess) {
                ncclGroupEnd();
                return mp__nx_nccl_fail(err, r, "ncclSend");
            }
        }
        if (rcount[p] > 0) {
            ncclResult_t r = ncclRecv(dst + (size_t)rdispl[p] * H, (size_t)rcount[p] * H, ncclBfloat16, p, nx->comm, st);
            if (r != ncclSuccess) {
                ncclGroupEnd();
                return mp__nx_nccl_fail(err, r, "ncclRecv");
            }
        }
    }
    NX_NCCL(ncclGroupEnd());
    return 0;
}

int mp__nx_step(mp_nx *nx, double *phase_us, mp_err *err)
{
    if (!nx->routed) return mp_err_set(err, MP_EINVAL, "replay: a step before routing");
    mp_xg *xg = nx->xg;
    cudaStream_t st = nx->kx->st;
    const int32_t R = nx->sh.slots, K = nx->sh.top_k;
    const size_t H = (size_t)nx->sh.hidden;
    const int nv = (int)(H / 8);
    int rc;
    /* counts: all-gather every rank's row, then the maps on the host */
    double t0 = now_us();
    int64_t *mine = mp_xg_my_counts(xg);
    KX_CK(cudaMemcpyAsync(nx->d_counts + (size_t)nx->rank * R, mine, sizeof(int64_t) * R, cudaMemcpyHostToDevice, st));
    NX_NCCL(ncclAllGather(nx->d_counts + (size_t)nx->rank * R, nx->d_counts, (size_t)R, ncclInt64, nx->comm, st));
    KX_CK(cudaMemcpyAsync(xg->counts, nx->d_counts, sizeof(int64_t) * (size_t)nx->P * R, cudaMemcpyDeviceToHost, st));
    KX_CK(cudaStreamSynchronize(st));
    if ((rc = mp_xg_finish(xg, err))) return rc;
    if ((rc = grow_rows(&nx->d_send, &nx->d_ret, &nx->d_send_token, &nx->send_cap, xg->send_buf_rows, H, err)) ||
        (rc = grow_rows(&nx->d_recv, &nx->d_back, &nx->d_recv_pos, &nx->recv_cap, xg->recv_buf_rows, H, err)))
        return rc;
    if (xg->recv_rows > nx->kx_rows && (rc = make_experts(nx, xg->recv_rows + xg->recv_rows / 4, err))) return rc;
    st = nx->kx->st;
    if (xg->send_buf_rows)
        KX_CK(cudaMemcpyAsync(nx->d_send_token, xg->send_token, sizeof(int32_t) * (size_t)xg->send_buf_rows,
                              cudaMemcpyHostToDevice, st));
    if (xg->send_rows)
        KX_CK(cudaMemcpyAsync(nx->d_send_pos, xg->send_pos, sizeof(int32_t) * (size_t)xg->send_rows,
                              cudaMemcpyHostToDevice, st));
    if (xg->recv_buf_rows)
        KX_CK(cudaMemcpyAsync(nx->d_recv_pos, xg->recv_pos, sizeof(int32_t) * (size_t)xg->recv_buf_rows,
                              cudaMemcpyHostToDevice, st));
    if ((rc = mp_kx_set_counts(nx->kx, xg->local_rows, err))) return rc;
    KX_CK(cudaStreamSynchronize(st));
    double t1 = now_us();
    /* the device phases, an event between each */
    KX_CK(cudaEventRecord(nx->ev[1], st));
    if (xg->send_buf_rows)
        k_gather<<<(unsigned)xg->send_buf_rows, 128, 0, st>>>((const uint4 *)nx->d_x, nx->d_send_token, nv,
                                                              (uint4 *)nx->d_send);
    KX_CK(cudaGetLastError());
    KX_CK(cudaEventRecord(nx->ev[2], st));
    if ((rc = exchange_rows(nx, nx->d_send, xg->send_count, xg->send_displ, nx->d_recv, xg->recv_count,
                            xg->recv_displ, err)))
        return rc;
    KX_CK(cudaEventRecord(nx->ev[3], st));
    if (xg->recv_buf_rows)
        k_scatter<<<(unsigned)xg->recv_buf_rows, 128, 0, st>>>((const uint4 *)nx->d_recv, nx->d_recv_pos, nv,
                                                               (uint4 *)nx->kx->d_xp);
    KX_CK(cudaGetLastError());
    KX_CK(cudaEventRecord(nx->ev[4], st));
    if ((rc = mp_kx_experts(nx->kx, 0, err))) return rc;
    KX_CK(cudaEventRecord(nx->ev[5], st));
    if (xg->recv_buf_rows)
        k_gather<<<(unsigned)xg->recv_buf_rows, 128, 0, st>>>((const uint4 *)nx->kx->d_y, nx->d_recv_pos, nv,
                                                              (uint4 *)nx->d_back);
    KX_CK(cudaGetLastError());
    KX_CK(cudaEventRecord(nx->ev[6], st));
    if ((rc = exchange_rows(nx, nx->d_back, xg->recv_count, xg->recv_displ, nx->d_ret, xg->send_count,
                            xg->send_displ, err)))
        return rc;
    KX_CK(cudaEventRecord(nx->ev[7], st));
    if (xg->tokens)
        k_combine_rows<<<(unsigned)xg->tokens, 128, 0, st>>>(nx->d_ret, nx->d_send_pos, nx->d_w, K, (int)H,
                                                             nx->d_out);
    KX_CK(cudaGetLastError());
    KX_CK(cudaEventRecord(nx->ev[8], st));
    KX_CK(cudaEventSynchronize(nx->ev[8]));
    if (phase_us) {
        phase_us[MP_NX_PH_COUNTS] = t1 - t0;
        for (int p = 1; p < MP_NX_PH_COUNT; p++) {
            float ms = 0;
            KX_CK(cudaEventElapsedTime(&ms, nx->ev[p], nx->ev[p + 1]));
            phase_us[p] = 1000.0 * ms;
        }
    }
    return 0;
}

static double median(std::vector<double> v)
{
    std::sort(v.begin(), v.end());
    size_t n = v.size();
    return n == 0 ? 0 : n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// Max and sum over ranks of n doubles (in place: v[0..n) max, v[n..2n) sum).
static int reduce_max_sum(mp_nx *nx, double *v, int n, mp_err *err)
{
    cudaStream_t st = nx->kx->st;
    KX_CK(cudaMemcpyAsync(nx->d_red, v, sizeof(double) * n, cudaMemcpyHostToDevice, st));
    KX_CK(cudaMemcpyAsync(nx->d_red + n, v, sizeof(double) * n, cudaMemcpyHostToDevice, st));
    NX_NCCL(ncclGroupStart());
    NX_NCCL(ncclAllReduce(nx->d_red, nx->d_red, (size_t)n, ncclDouble, ncclMax, nx->comm, st));
    NX_NCCL(ncclAllReduce(nx->d_red + n, nx->d_red + n, (size_t)n, ncclDouble, ncclSum, nx->comm, st));
    NX_NCCL(ncclGroupEnd());
    KX_CK(cudaMemcpyAsync(v, nx->d_red, sizeof(double) * 2 * n, cudaMemcpyDeviceToHost, st));
    KX_CK(cudaStreamSynchronize(st));
    return 0;
}

extern "C" int mp_nx_run(mp_nx *nx, int iters, int warmup, mp_nx_result *out, mp_err *err)
{
    memset(out, 0, sizeof *out);
    if (iters < 1) return mp_err_set(err, MP_EINVAL, "replay: need at least one timed iteration");
    cudaSetDevice(nx->device);
    std::vector<std::vector<double>> ph(MP_NX_PH_COUNT);
    std::vector<double> step;
    double us[MP_NX_PH_COUNT];
    int rc;
    for (int i = 0; i < warmup + iters; i++) {
        if ((rc = mp__nx_step(nx, us, err))) return rc;
        if (i < warmup) continue;
        double s = 0;
        for (int p = 0; p < MP_NX_PH_COUNT; p++) ph[p].push_back(us[p]), s += us[p];
        step.push_back(s);
    }
    const mp_xg *xg = nx->xg;
    const int n = MP_NX_PH_COUNT + 3;
    double v[2 * (MP_NX_PH_COUNT + 3)];
    for (int p = 0; p < MP_NX_PH_COUNT; p++) v[p] = median(ph[p]);
    v[MP_NX_PH_COUNT] = median(step);
    v[MP_NX_PH_COUNT + 1] = (double)xg->recv_rows;
    v[MP_NX_PH_COUNT + 2] = (double)xg->send_buf_rows * nx->sh.hidden * 2.0;
    if ((rc = reduce_max_sum(nx, v, n, err))) return rc;
    out->ranks = nx->P;
    for (int p = 0; p < MP_NX_PH_COUNT; p++) {
        out->max_us[p] = v[p];
        out->mean_us[p] = v[n + p] / nx->P;
    }
    out->step_max_us = v[MP_NX_PH_COUNT];
    out->step_mean_us = v[n + MP_NX_PH_COUNT] / nx->P;
    out->recv_rows_max = (int64_t)v[MP_NX_PH_COUNT + 1];
    out->recv_rows_mean = v[n + MP_NX_PH_COUNT + 1] / nx->P;
    out->send_bytes = v[MP_NX_PH_COUNT + 2];
    out->capacity = xg->capacity;
    memcpy(out->pair, xg->pair, sizeof(int64_t) * (size_t)nx->P * nx->P);
    out->dispatch_algbw = mp_xg_algbw(out->send_bytes, out->max_us[MP_NX_PH_DISPATCH]);
    out->dispatch_busbw = mp_xg_busbw(out->dispatch_algbw, nx->P);
    out->return_algbw = mp_xg_algbw(out->send_bytes, out->max_us[MP_NX_PH_RETURN]);
    out->return_busbw = mp_xg_busbw(out->return_algbw, nx->P);
    return 0;
}

extern "C" int mp_nx_alltoall(mp_nx *nx, size_t bytes, int iters, int warmup, double *us, mp_err *err)
{
    *us = 0;
    if (iters < 1) return mp_err_set(err, MP_EINVAL, "replay: need at least one timed iteration");
    cudaSetDevice(nx->device);
    size_t count = bytes / 2 / (size_t)nx->P; /* bf16 values a pair */
    uint16_t *a = NULL, *b = NULL;
    int rc = 0;
    cudaStream_t st = nx->kx->st;
    std::vector<double> t;
    if ((rc = dalloc(&a, count * nx->P, err, "all-to-all buffer")) ||
        (rc = dalloc(&b, count * nx->P, err, "all-to-all buffer")))
        goto out;
    for (int i = 0; i < warmup + iters && count; i++) {
        cudaError_t e;
        ncclResult_t r;
        if ((e = cudaEventRecord(nx->ev[0], st)) != cudaSuccess) {
            rc = mp__kx_cuda_fail(err, e, "cudaEventRecord");
            goto out;
        }
        if ((r = ncclAlltoAll(a, b, count, ncclBfloat16, nx->comm, st)) != ncclSuccess) {
            rc = mp__nx_nccl_fail(err, r, "ncclAlltoAll");
            goto out;
        }
        float ms = 0;
        if ((e = cudaEventRecord(nx->ev[1], st)) != cudaSuccess || (e = cudaEventSynchronize(nx->ev[1])) != cudaSuccess ||
            (e = cudaEventElapsedTime(&ms, nx->ev[0], nx->ev[1])) != cudaSuccess) {
            rc = mp__kx_cuda_fail(err, e, "all-to-all timing");
            goto out;
        }
        if (i >= warmup) t.push_back(1000.0 * ms);
    }
    {
        double v[2] = {median(t), 0};
        rc = reduce_max_sum(nx, v, 1, err);
        if (!rc) *us = v[0];
    }
out:
    cudaFree(a);
    cudaFree(b);
    return rc;
}
