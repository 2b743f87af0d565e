// context.cu - the replay context: allocation, plan and routing upload,
// result read-back, poisoning, phase timing and the copy-bandwidth probe.
#include <stdlib.h>
#include <string.h>

#include <algorithm>
#include <vector>

#include "kernels/kx_internal.h"
#include "kernels/mp_kx_common.h"

#define FLUSH_BYTES ((size_t)256 << 20)
#define CUBLAS_WS_BYTES ((size_t)32 << 20)

int mp__kx_cuda_fail(mp_err *err, cudaError_t e, const char *what)
{
    int code = e == cudaErrorMemoryAllocation ? MP_ENOMEM
               : (e == cudaErrorNoDevice || e == cudaErrorInsufficientDriver) ? MP_EUNSUPPORTED
                                                                             : MP_EIO;
    return mp_err_set(err, code, "CUDA: %s: %s", what, cudaGetErrorString(e));
}

__global__ void k_fill(uint16_t *d, size_t n, uint64_t seed, uint64_t stream, float scale)
{
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    size_t step = (size_t)gridDim.x * blockDim.x;
    for (; i < n; i += step) d[i] = mp__kx_bf16(mp__kx_uniform(seed, stream, i) * scale);
}

int mp__kx_fill(uint16_t *d, size_t n, uint64_t seed, uint64_t stream, float scale, cudaStream_t st, mp_err *err)
{
    if (!n) return 0;
    k_fill<<<4096, 256, 0, st>>>(d, n, seed, stream, scale);
    KX_CK(cudaGetLastError());
    return 0;
}

template <typename T> static int dalloc(T **p, size_t elems, mp_err *err, const char *what)
{
    *p = NULL;
    if (!elems) elems = 1;
    cudaError_t e = cudaMalloc((void **)p, elems * sizeof(T));
    if (e != cudaSuccess) {
        *p = NULL;
        return mp_err_set(err, MP_ENOMEM, "CUDA: cannot allocate %s (%.2f GiB): %s", what,
                          (double)(elems * sizeof(T)) / (1 << 30), cudaGetErrorString(e));
    }
    return 0;
}

static int check_shape(const mp_kx_shape *s, mp_err *err)
{
    if (s->hidden < 128 || s->hidden % 128 || s->hidden > (1 << 16))
        return mp_err_set(err, MP_EINVAL, "replay: hidden %d must be a multiple of 128 up to 65536", s->hidden);
    if (s->with_experts && (s->intermediate < 8 || s->intermediate % 8 || s->intermediate > (1 << 16)))
        return mp_err_set(err, MP_EINVAL, "replay: intermediate %d must be a multiple of 8 up to 65536",
                          s->intermediate);
    if (s->top_k < 1 || s->top_k > MP_KX_MAX_TOPK)
        return mp_err_set(err, MP_EINVAL, "replay: top-k %d out of 1..%d", s->top_k, MP_KX_MAX_TOPK);
    if (s->slots < 1 || s->slots > MP_KX_MAX_SLOTS)
        return mp_err_set(err, MP_EINVAL, "replay: %d slots out of 1..%d", s->slots, MP_KX_MAX_SLOTS);
    if (s->ranks < 1 || s->ranks > MP_KX_MAX_RANKS || s->slots % s->ranks)
        return mp_err_set(err, MP_EINVAL, "replay: %d ranks must divide %d slots (at most %d ranks)", s->ranks,
                          s->slots, MP_KX_MAX_RANKS);
    if (s->experts < 1 || s->experts > 65536 || s->max_replicas < 1 || s->max_replicas > s->slots)
        return mp_err_set(err, MP_EINVAL, "replay: bad experts %d or max replicas %d", s->experts, s->max_replicas);
    if (s->max_tokens < 1 || s->max_tokens * s->top_k > ((int64_t)1 << 24))
        return mp_err_set(err, MP_ELIMIT, "replay: %lld tokens x top-%d exceed 2^24 rows",
                          (long long)s->max_tokens, s->top_k);
    if (s->dtype != MP_KX_BF16 && s->dtype != MP_KX_FP8) return mp_err_set(err, MP_EINVAL, "replay: bad dtype");
    if (s->selection < MP_KX_SEL_NONE || s->selection > MP_KX_SEL_RANDOM)
        return mp_err_set(err, MP_EINVAL, "replay: bad selection policy");
    return 0;
}

extern "C" int mp_kx_create(mp_kx **out, const mp_kx_shape *shape, mp_err *err)
{
    *out = NULL;
    int rc = check_shape(shape, err);
    if (rc) return rc;
    int count = 0;
    cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess || count == 0)
        return mp_err_set(err, MP_EUNSUPPORTED, "no CUDA GPU found: %s",
                          e != cudaSuccess ? cudaGetErrorString(e) : "the driver lists no device");
    mp_kx *kx = (mp_kx *)calloc(1, sizeof *kx);
    if (!kx) return mp_err_set(err, MP_ENOMEM, "replay: out of memory");
    kx->sh = *shape;
    kx->R = shape->slots;
    kx->MR = shape->max_replicas;
    kx->EX = shape->experts;
    kx->per_rank = shape->slots / shape->ranks;
    kx->max_rows = shape->max_tokens * shape->top_k;
    kx->max_chunks = (kx->max_rows + KX_CHUNK - 1) / KX_CHUNK;
    kx->tokens = -1;
    const size_t T = (size_t)shape->max_tokens, H = (size_t)shape->hidden, I = (size_t)shape->intermediate;
    const size_t R = (size_t)shape->slots, P = (size_t)shape->ranks, rows = (size_t)kx->max_rows;
    kx->h_slot_rows = (int32_t *)calloc(R + 1, sizeof(int32_t));
    kx->h_slot_off = (int32_t *)calloc(R + 1, sizeof(int32_t));
    kx->h_l2p = (int32_t *)calloc((size_t)shape->experts * shape->max_replicas, sizeof(int32_t));
    kx->h_rc = (int32_t *)calloc((size_t)shape->experts, sizeof(int32_t));
    kx->graphs = (cudaGraphExec_t *)calloc(P, sizeof(cudaGraphExec_t));
    if (!kx->h_slot_rows || !kx->h_slot_off || !kx->h_l2p || !kx->h_rc || !kx->graphs) {
        mp_kx_destroy(kx);
        return mp_err_set(err, MP_ENOMEM, "replay: out of memory");
    }
#define TRY(x)                                                                                             \
    do {                                                                                                   \
        if ((rc = (x)) != 0) {                                                                             \
            mp_kx_destroy(kx);                                                                             \
            return rc;                                                                                     \
        }                                                                                                  \
    } while (0)
#define TRYCU(x)                                                                                           \
    do {                                                                                                   \
        cudaError_t e_ = (x);                                                                              \
        if (e_ != cudaSuccess) {                                                                           \
            mp_kx_destroy(kx);                                                                             \
            return mp__kx_cuda_fail(err, e_, #x);                                                          \
        }                                                                                                  \
    } while (0)
    TRYCU(cudaStreamCreateWithFlags(&kx->st, cudaStreamNonBlocking));
    TRYCU(cudaEventCreate(&kx->ev0));
    TRYCU(cudaEventCreate(&kx->ev1));
    TRY(dalloc(&kx->d_l2p, (size_t)shape->experts * shape->max_replicas, err, "log2phy"));
    TRY(dalloc(&kx->d_rc, (size_t)shape->experts, err, "replica counts"));
    TRY(dalloc(&kx->d_ids, rows, err, "expert ids"));
    TRY(dalloc(&kx->d_w, rows, err, "gate weights"));
    TRY(dalloc(&kx->d_x, T * H, err, "token activations"));
    TRY(dalloc(&kx->d_slot, rows, err, "slots"));
    TRY(dalloc(&kx->d_row, rows, err, "rows"));
    TRY(dalloc(&kx->d_chunk, (size_t)kx->max_chunks * R, err, "chunk counts"));
    TRY(dalloc(&kx->d_slot_rows, R, err, "slot rows"));
    TRY(dalloc(&kx->d_slot_off, R, err, "slot offsets"));
    TRY(dalloc(&kx->d_dests, T, err, "destinations"));
    TRY(dalloc(&kx->d_traffic, P * P, err, "traffic"));
    TRY(dalloc(&kx->d_xp, rows * H, err, "permuted rows"));
    TRY(dalloc(&kx->d_y, rows * H, err, "expert outputs"));
    TRY(dalloc(&kx->d_out, T * H, err, "combined output"));
    if (shape->dtype == MP_KX_FP8) {
        TRY(dalloc(&kx->d_xq, T * H, err, "FP8 activations"));
        TRY(dalloc(&kx->d_xs, T * (H / 128), err, "FP8 scales"));
        TRY(dalloc(&kx->d_xpq, rows * H, err, "FP8 rows"));
        TRY(dalloc(&kx->d_xps, rows * (H / 128), err, "FP8 row scales"));
    }
    TRY(dalloc((uint8_t **)&kx->d_flush, FLUSH_BYTES, err, "L2 flush buffer"));
    TRY(mp__kx_fill(kx->d_xp, rows * H, shape->seed, MP_KX_STREAM_X + 16, 1.0f, kx->st, err));
    if (shape->with_experts) {
        TRY(dalloc(&kx->d_h1, rows * 2 * I, err, "gate/up outputs"));
        TRY(dalloc(&kx->d_act, rows * I, err, "activations"));
        TRY(dalloc(&kx->d_w13, R * 2 * I * H, err, "gate/up weights"));
        TRY(dalloc(&kx->d_w2, R * H * I, err, "down weights"));
        TRY(mp__kx_fill(kx->d_w13, R * 2 * I * H, shape->seed, MP_KX_STREAM_W13, 1.0f / sqrtf((float)H), kx->st, err));
        TRY(mp__kx_fill(kx->d_w2, R * H * I, shape->seed, MP_KX_STREAM_W2, 1.0f / sqrtf((float)I), kx->st, err));
        cublasStatus_t cs = cublasCreate(&kx->cb);
        if (cs != CUBLAS_STATUS_SUCCESS) {
            kx->cb = NULL;
            mp_kx_destroy(kx);
            return mp_err_set(err, MP_EIO, "cuBLAS: cublasCreate: status %d", (int)cs);
        }
        TRYCU(cudaMalloc(&kx->cb_ws, CUBLAS_WS_BYTES));
        if (cublasSetStream(kx->cb, kx->st) != CUBLAS_STATUS_SUCCESS ||
            cublasSetWorkspace(kx->cb, kx->cb_ws, CUBLAS_WS_BYTES) != CUBLAS_STATUS_SUCCESS) {
            mp_kx_destroy(kx);
            return mp_err_set(err, MP_EIO, "cuBLAS: cannot set stream or workspace");
        }
    }
    TRYCU(cudaStreamSynchronize(kx->st));
#undef TRY
#undef TRYCU
    *out = kx;
    return 0;
}

extern "C" void mp_kx_destroy(mp_kx *kx)
{
    if (!kx) return;
    if (kx->st) cudaStreamSynchronize(kx->st);
    mp__kx_drop_graphs(kx);
    if (kx->cb) cublasDestroy(kx->cb);
    void *dev[] = {kx->cb_ws, kx->d_l2p, kx->d_rc, kx->d_ids, kx->d_w, kx->d_x, kx->d_slot, kx->d_row,
                   kx->d_chunk, kx->d_slot_rows, kx->d_slot_off, kx->d_dests, kx->d_traffic, kx->d_xq, kx->d_xs,
                   kx->d_xpq, kx->d_xps, kx->d_xp, kx->d_h1, kx->d_act, kx->d_y, kx->d_out, kx->d_w13, kx->d_w2,
                   kx->d_flush};
    for (size_t i = 0; i < sizeof dev / sizeof dev[0]; i++)
        if (dev[i]) cudaFree(dev[i]);
    if (kx->ev0) cudaEventDestroy(kx->ev0);
    if (kx->ev1) cudaEventDestroy(kx->ev1);
    if (kx->st) cudaStreamDestroy(kx->st);
    free(kx->graphs);
    free(kx->h_slot_rows);
    free(kx->h_slot_off);
    free(kx->h_l2p);
    free(kx->h_rc);
    free(kx);
}

extern "C" int mp_kx_set_plan(mp_kx *kx, const int32_t *log2phy, const int32_t *replica_count, mp_err *err)
{
    return mp_kx_set_plan_ex(kx, log2phy, replica_count, kx->sh.experts, kx->sh.max_replicas, kx->sh.slots, err);
}

extern "C" int mp_kx_set_plan_ex(mp_kx *kx, const int32_t *log2phy, const int32_t *replica_count, int32_t experts,
                                 int32_t max_replicas, int32_t slots, mp_err *err)
{
    const int E = experts, M = max_replicas;
    if (E < 1 || E > kx->sh.experts || M < 1 || M > kx->sh.max_replicas || slots < 1 || slots > kx->sh.slots ||
        slots % kx->sh.ranks)
        return mp_err_set(err, MP_EINVAL,
                          "replay: plan of %d experts, %d replicas, %d slots does not fit the context (%d, %d, %d; "
                          "%d ranks)",
                          E, M, slots, kx->sh.experts, kx->sh.max_replicas, kx->sh.slots, kx->sh.ranks);
    for (int e = 0; e < E; e++) {
        int c = replica_count[e];
        if (c < 1 || c > M) return mp_err_set(err, MP_ERANGE, "replay: expert %d has %d replicas (1..%d)", e, c, M);
        for (int j = 0; j < c; j++) {
            int s = log2phy[(int64_t)e * M + j];
            if (s < 0 || s >= slots)
                return mp_err_set(err, MP_ERANGE, "replay: expert %d replica %d in slot %d of %d", e, j, s, slots);
        }
    }
    memcpy(kx->h_l2p, log2phy, sizeof(int32_t) * (size_t)E * M);
    memcpy(kx->h_rc, replica_count, sizeof(int32_t) * (size_t)E);
    KX_CK(cudaMemcpy(kx->d_l2p, log2phy, sizeof(int32_t) * (size_t)E * M, cudaMemcpyHostToDevice));
    KX_CK(cudaMemcpy(kx->d_rc, replica_count, sizeof(int32_t) * (size_t)E, cudaMemcpyHostToDevice));
    kx->EX = E;
    kx->MR = M;
    kx->R = slots;
    kx->per_rank = slots / kx->sh.ranks;
    kx->plan_set = 1;
    kx->counts_ready = 0;
    mp__kx_drop_graphs(kx);
    return 0;
}

extern "C" int mp_kx_set_routing(mp_kx *kx, int64_t tokens, const uint16_t *ids, const float *weights, mp_err *err)
{
    if (tokens < 0 || tokens > kx->sh.max_tokens)
        return mp_err_set(err, MP_ELIMIT, "replay: %lld tokens exceed the context's %lld", (long long)tokens,
                          (long long)kx->sh.max_tokens);
    const int64_t n = tokens * kx->sh.top_k;
    for (int64_t a = 0; a < n; a++)
        if (ids[a] >= kx->EX)
            return mp_err_set(err, MP_ERANGE, "replay: token %lld choice %lld: expert %u >= %d",
                              (long long)(a / kx->sh.top_k), (long long)(a % kx->sh.top_k), (unsigned)ids[a],
                              kx->EX);
    if (n) {
        KX_CK(cudaMemcpy(kx->d_ids, ids, sizeof(uint16_t) * (size_t)n, cudaMemcpyHostToDevice));
        if (weights) {
            KX_CK(cudaMemcpy(kx->d_w, weights, sizeof(float) * (size_t)n, cudaMemcpyHostToDevice));
        } else {
            std::vector<float> w((size_t)n, 1.0f / (float)kx->sh.top_k);
            KX_CK(cudaMemcpy(kx->d_w, w.data(), sizeof(float) * (size_t)n, cudaMemcpyHostToDevice));
        }
    }
    kx->tokens = tokens;
    kx->counts_ready = 0;
    int rc = mp__kx_fill(kx->d_x, (size_t)tokens * kx->sh.hidden, kx->sh.seed, MP_KX_STREAM_X, 1.0f, kx->st, err);
    if (rc) return rc;
    KX_CK(cudaStreamSynchronize(kx->st));
    return 0;
}

extern "C" int mp_kx_layout_get(const mp_kx *kx, mp_kx_layout_info *info)
{
    info->tokens = kx->tokens < 0 ? 0 : kx->tokens;
    info->rows = info->tokens * kx->sh.top_k;
    info->slot_rows = kx->counts_ready ? kx->h_slot_rows : NULL;
    return kx->counts_ready ? 0 : MP_EINVAL;
}

extern "C" int mp_kx_read_assign(mp_kx *kx, int32_t *slot, int32_t *row, mp_err *err)
{
    size_t n = (size_t)(kx->tokens < 0 ? 0 : kx->tokens) * kx->sh.top_k;
    KX_CK(cudaStreamSynchronize(kx->st));
    if (!n) return 0;
    if (slot) KX_CK(cudaMemcpy(slot, kx->d_slot, n * sizeof(int32_t), cudaMemcpyDeviceToHost));
    if (row) KX_CK(cudaMemcpy(row, kx->d_row, n * sizeof(int32_t), cudaMemcpyDeviceToHost));
    return 0;
}

extern "C" int mp_kx_read_traffic(mp_kx *kx, int64_t *traffic, int32_t *dests, mp_err *err)
{
    size_t P = (size_t)kx->sh.ranks, T = (size_t)(kx->tokens < 0 ? 0 : kx->tokens);
    KX_CK(cudaStreamSynchronize(kx->st));
    if (traffic) {
        std::vector<unsigned long long> tr(P * P);
        KX_CK(cudaMemcpy(tr.data(), kx->d_traffic, P * P * sizeof(unsigned long long), cudaMemcpyDeviceToHost));
        for (size_t i = 0; i < P * P; i++) traffic[i] = (int64_t)tr[i];
    }
    if (dests && T) KX_CK(cudaMemcpy(dests, kx->d_dests, T * sizeof(int32_t), cudaMemcpyDeviceToHost));
    return 0;
}

extern "C" int mp_kx_read(mp_kx *kx, mp_kx_buffer which, uint16_t *dst, size_t elems, mp_err *err)
{
    size_t T = (size_t)(kx->tokens < 0 ? 0 : kx->tokens), H = (size_t)kx->sh.hidden;
    size_t rows = T * kx->sh.top_k, avail;
    const uint16_t *src;
    switch (which) {
    case MP_KX_BUF_X: src = kx->d_x; avail = T * H; break;
    case MP_KX_BUF_PERMUTED: src = kx->d_xp; avail = rows * H; break;
    case MP_KX_BUF_EXPERT_OUT: src = kx->d_y; avail = rows * H; break;
    case MP_KX_BUF_OUT: src = kx->d_out; avail = T * H; break;
    default: return mp_err_set(err, MP_EINVAL, "replay: unknown buffer");
    }
    if (elems > avail) return mp_err_set(err, MP_EINVAL, "replay: read of %zu values, %zu held", elems, avail);
    KX_CK(cudaStreamSynchronize(kx->st));
    if (elems) KX_CK(cudaMemcpy(dst, src, elems * sizeof(uint16_t), cudaMemcpyDeviceToHost));
    return 0;
}

extern "C" int mp_kx_read_weights(mp_kx *kx, int32_t slot, uint16_t *w13, uint16_t *w2, mp_err *err)
{
    if (!kx->sh.with_experts || slot < 0 || slot >= kx->sh.slots)
        return mp_err_set(err, MP_EINVAL, "replay: no weights for slot %d", slot);
    size_t H = (size_t)kx->sh.hidden, I = (size_t)kx->sh.intermediate;
    KX_CK(cudaStreamSynchronize(kx->st));
    if (w13) KX_CK(cudaMemcpy(w13, kx->d_w13 + (size_t)slot * 2 * I * H, 2 * I * H * 2, cudaMemcpyDeviceToHost));
    if (w2) KX_CK(cudaMemcpy(w2, kx->d_w2 + (size_t)slot * H * I, H * I * 2, cudaMemcpyDeviceToHost));
    return 0;
}

extern "C" int mp_kx_poison(mp_kx *kx, mp_err *err)
{
    size_t T = (size_t)(kx->tokens < 0 ? 0 : kx->tokens), H = (size_t)kx->sh.hidden, I = (size_t)kx->sh.intermediate;
    size_t rows = T * kx->sh.top_k;
    KX_CK(cudaMemsetAsync(kx->d_xp, 0xff, rows * H * 2, kx->st));
    KX_CK(cudaMemsetAsync(kx->d_y, 0xff, rows * H * 2, kx->st));
    KX_CK(cudaMemsetAsync(kx->d_out, 0xff, T * H * 2, kx->st));
    KX_CK(cudaMemsetAsync(kx->d_row, 0xff, rows * 4, kx->st));
    if (kx->sh.with_experts) {
        KX_CK(cudaMemsetAsync(kx->d_h1, 0xff, rows * 2 * I * 2, kx->st));
        KX_CK(cudaMemsetAsync(kx->d_act, 0xff, rows * I * 2, kx->st));
    }
    KX_CK(cudaStreamSynchronize(kx->st));
    return 0;
}

static int run_phase(mp_kx *kx, mp_kx_phase ph, int32_t rank, mp_err *err)
{
    switch (ph) {
    case MP_KX_PH_LAYOUT: return mp__kx_layout_device(kx, err);
    case MP_KX_PH_PERMUTE: return mp_kx_permute(kx, err);
    case MP_KX_PH_EXPERTS: return mp_kx_experts(kx, rank, err);
    case MP_KX_PH_COMBINE: return mp_kx_combine(kx, err);
    default: return mp_err_set(err, MP_EINVAL, "replay: unknown phase");
    }
}

extern "C" int mp_kx_time(mp_kx *kx, mp_kx_phase phase, int32_t rank, int iters, int warmup, int flush_l2,
                          double *median_us, mp_err *err)
{
    if (iters < 1) return mp_err_set(err, MP_EINVAL, "replay: need at least one timed iteration");
    if (phase == MP_KX_PH_LAYOUT ? !kx->plan_set || kx->tokens < 0 : !kx->counts_ready)
        return mp_err_set(err, MP_EINVAL, "replay: timing a phase before its inputs exist");
    std::vector<float> ms((size_t)iters);
    for (int i = 0; i < warmup + iters; i++) {
        if (flush_l2) KX_CK(cudaMemsetAsync(kx->d_flush, i & 0xff, FLUSH_BYTES, kx->st));
        KX_CK(cudaEventRecord(kx->ev0, kx->st));
        int rc = run_phase(kx, phase, rank, err);
        if (rc) return rc;
        KX_CK(cudaEventRecord(kx->ev1, kx->st));
        KX_CK(cudaEventSynchronize(kx->ev1));
        if (i >= warmup) KX_CK(cudaEventElapsedTime(&ms[(size_t)(i - warmup)], kx->ev0, kx->ev1));
    }
    std::sort(ms.begin(), ms.end());
    size_t n = ms.size();
    *median_us = 1000.0 * (n % 2 ? ms[n / 2] : 0.5 * ((double)ms[n / 2 - 1] + ms[n / 2]));
    return 0;
}

extern "C" int mp_kx_copy_bandwidth(size_t bytes, int iters, double *gbps, mp_err *err)
{
    void *a = NULL, *b = NULL;
    cudaEvent_t e0 = NULL, e1 = NULL;
    std::vector<float> ms;
    int rc = 0;
    cudaError_t e;
    if (iters < 1) return mp_err_set(err, MP_EINVAL, "replay: need at least one iteration");
    if ((e = cudaMalloc(&a, bytes)) != cudaSuccess || (e = cudaMalloc(&b, bytes)) != cudaSuccess ||
        (e = cudaEventCreate(&e0)) != cudaSuccess || (e = cudaEventCreate(&e1)) != cudaSuccess ||
        (e = cudaMemset(a, 0x5a, bytes)) != cudaSuccess) {
        rc = mp__kx_cuda_fail(err, e, "copy probe setup");
        goto out;
    }
    for (int i = 0; i < iters + 3; i++) {
        if ((e = cudaEventRecord(e0)) != cudaSuccess || (e = cudaMemcpyAsync(b, a, bytes, cudaMemcpyDeviceToDevice)) != cudaSuccess ||
            (e = cudaEventRecord(e1)) != cudaSuccess || (e = cudaEventSynchronize(e1)) != cudaSuccess) {
            rc = mp__kx_cuda_fail(err, e, "copy probe");
            goto out;
        }
        float t = 0;
        cudaEventElapsedTime(&t, e0, e1);
        if (i >= 3) ms.push_back(t);
    }
    std::sort(ms.begin(), ms.end());
    *gbps = 2.0 * (double)bytes / (ms[ms.size() / 2] * 1e-3) / 1e9;
out:
    if (e0) cudaEventDestroy(e0);
    if (e1) cudaEventDestroy(e1);
    cudaFree(a);
    cudaFree(b);
    return rc;
}

extern "C" void mp_kx_config_get(const mp_kx *kx, mp_kx_config *out)
{
    *out = kx->sh;
    out->slots = kx->R;
    out->max_replicas = kx->MR;
    out->experts = kx->EX;
}

extern "C" void mp_kx_plan_get(const mp_kx *kx, int32_t *log2phy, int32_t *replica_count)
{
    memcpy(log2phy, kx->h_l2p, sizeof(int32_t) * (size_t)kx->EX * kx->MR);
    memcpy(replica_count, kx->h_rc, sizeof(int32_t) * (size_t)kx->EX);
}

extern "C" double mp_kx_flops_per_row(const mp_kx *kx)
{
    return 2.0 * (3.0 * kx->sh.hidden * (double)kx->sh.intermediate);
}
