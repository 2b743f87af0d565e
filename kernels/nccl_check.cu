// nccl_check.cu - one multi-GPU step on poisoned buffers compared with the
// CPU reference (see mp_nx_check in mp_nccl.h).
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <vector>

extern "C" {
#include "kernels/mp_kernels_ref.h"
}
#include "kernels/mp_kx_common.h"
#include "kernels/nx_internal.h"

// Values of a differing by more than tol of ref's largest magnitude, or NaN.
static int64_t count_wrong(const uint16_t *a, const uint16_t *ref, size_t n, double tol)
{
    double scale = 0;
    for (size_t i = 0; i < n; i++) scale = fmax(scale, fabs(mp__kx_f32(ref[i])));
    int64_t wrong = 0;
    for (size_t i = 0; i < n; i++) {
        float x = mp__kx_f32(a[i]);
        wrong += isnan(x) || fabs(x - mp__kx_f32(ref[i])) > tol * scale;
    }
    return wrong;
}

// CPU copy of the hashed values the device fills (k_fill_at).
static void fill_at(uint16_t *d, size_t n, uint64_t seed, uint64_t stream, uint64_t off, float scale)
{
    for (size_t i = 0; i < n; i++) d[i] = mp__kx_bf16(mp__kx_uniform(seed, stream, off + i) * scale);
}

static int64_t check_local(mp_nx *nx, const uint16_t *ids, const float *weights, int sample, mp_err *err, int *rc)
{
    const mp_xg *xg = nx->xg;
    const int32_t P = nx->P, R = nx->sh.slots, K = nx->sh.top_k, per = nx->per_rank, me = nx->rank;
    const size_t H = (size_t)nx->sh.hidden, I = (size_t)nx->sh.intermediate;
    const int64_t T = nx->T, n = T * K;
    int64_t wrong = 0;
    *rc = 0;
    /* the single-GPU layout of all T tokens over P ranks */
    std::vector<int32_t> slot((size_t)n + 1), row((size_t)n + 1), srows(R), dests((size_t)T + 1);
    std::vector<int64_t> traffic((size_t)P * P);
    if (mp_kref_layout(T, K, ids, nx->sh.experts, nx->sh.max_replicas, nx->h_l2p, nx->h_rc, R, P, nx->sh.selection,
                       nx->sh.seed, slot.data(), row.data(), srows.data(), dests.data(), traffic.data())) {
        *rc = mp_err_set(err, MP_ERANGE, "replay check: the reference rejects the routing");
        return 0;
    }
    /* 1. the all-gathered counts */
    std::vector<int64_t> cref((size_t)P * R, 0);
    int64_t per_tok = (T + P - 1) / P;
    for (int64_t a = 0; a < n; a++) cref[(size_t)(a / K / (per_tok ? per_tok : 1)) * R + slot[a]]++;
    for (size_t i = 0; i < cref.size(); i++) wrong += cref[i] != xg->counts[i];
    /* 2. every dispatched row, in local slot order, bit-exact */
    int64_t first_off = 0;
    for (int32_t s = 0; s < me * per; s++) first_off += srows[s];
    const int64_t local = xg->recv_rows;
    std::vector<uint16_t> xp((size_t)local * H + 1), xr(H);
#define CK(call)                                                                                           \
    do {                                                                                                   \
        cudaError_t e_ = (call);                                                                           \
        if (e_ != cudaSuccess) {                                                                           \
            *rc = mp__kx_cuda_fail(err, e_, #call);                                                        \
            return 0;                                                                                      \
        }                                                                                                  \
    } while (0)
    CK(cudaStreamSynchronize(nx->kx->st));
    if (local) CK(cudaMemcpy(xp.data(), nx->kx->d_xp, (size_t)local * H * 2, cudaMemcpyDeviceToHost));
    for (int64_t a = 0; a < n; a++) {
        if (slot[a] / per != me) continue;
        int64_t lr = row[a] - first_off;
        fill_at(xr.data(), H, nx->sh.seed, MP_KX_STREAM_X, (uint64_t)(a / K) * H, 1.0f);
        wrong += lr < 0 || lr >= local || memcmp(xp.data() + lr * H, xr.data(), H * 2) != 0;
    }
    /* 3. the first row of up to `sample` local slots through the expert */
    std::vector<uint16_t> y((size_t)local * H + 1), w13(2 * I * H), w2(H * I), ref(H + 1);
    if (local) CK(cudaMemcpy(y.data(), nx->kx->d_y, (size_t)local * H * 2, cudaMemcpyDeviceToHost));
    int64_t off = 0;
    for (int32_t j = 0, done = 0; j < per && done < sample; j++) {
        if (xg->local_rows[j] > 0) {
            if ((*rc = mp_kx_read_weights(nx->kx, j, w13.data(), w2.data(), err))) return 0;
            mp_kref_expert(1, (int32_t)H, (int32_t)I, w13.data(), w2.data(), xp.data() + off * H, ref.data());
            wrong += count_wrong(y.data() + off * H, ref.data(), H, 1e-2);
            done++;
        }
        off += xg->local_rows[j];
    }
    /* 4. the rows returned for this rank's first token, from the owners'
     * weights (global slot hash), and the combine of every token */
    const int64_t tok = xg->tokens, sb = xg->send_buf_rows;
    std::vector<uint16_t> ret((size_t)sb * H + 1), out((size_t)tok * H + 1), cref_out((size_t)tok * H + 1);
    if (sb) CK(cudaMemcpy(ret.data(), nx->d_ret, (size_t)sb * H * 2, cudaMemcpyDeviceToHost));
    if (tok) CK(cudaMemcpy(out.data(), nx->d_out, (size_t)tok * H * 2, cudaMemcpyDeviceToHost));
    for (int64_t i = 0; i < xg->send_rows; i++) {
        const uint16_t *r = ret.data() + (size_t)xg->send_pos[i] * H;
        for (size_t h = 0; h < H; h++) wrong += isnan(mp__kx_f32(r[h]));
    }
    if (tok) {
        fill_at(xr.data(), H, nx->sh.seed, MP_KX_STREAM_X, (uint64_t)xg->first_token * H, 1.0f);
        for (int32_t k = 0; k < K; k++) {
            uint64_t s = (uint64_t)xg->slot[k];
            fill_at(w13.data(), 2 * I * H, nx->sh.seed, MP_KX_STREAM_W13, s * 2 * I * H, 1.0f / sqrtf((float)H));
            fill_at(w2.data(), H * I, nx->sh.seed, MP_KX_STREAM_W2, s * H * I, 1.0f / sqrtf((float)I));
            mp_kref_expert(1, (int32_t)H, (int32_t)I, w13.data(), w2.data(), xr.data(), ref.data());
            wrong += count_wrong(ret.data() + (size_t)xg->send_pos[k] * H, ref.data(), H, 1e-2);
        }
        mp_kref_combine(tok, K, (int32_t)H, ret.data(), xg->send_pos, nx->h_w, cref_out.data());
        wrong += count_wrong(out.data(), cref_out.data(), (size_t)tok * H, 1e-2);
    }
    (void)weights;
#undef CK
    return wrong;
}

extern "C" int mp_nx_check(mp_nx *nx, const uint16_t *ids, const float *weights, int sample, int64_t *wrong,
                           mp_err *err)
{
    *wrong = 0;
    cudaSetDevice(nx->device);
    int rc = mp__nx_step(nx, NULL, err); /* sizes the buffers for this routing */
    if (rc) return rc;
    cudaStream_t st = nx->kx->st;
    const size_t H = (size_t)nx->sh.hidden;
    KX_CK(cudaMemsetAsync(nx->kx->d_xp, 0xff, (size_t)nx->kx_rows * H * 2, st));
    KX_CK(cudaMemsetAsync(nx->kx->d_y, 0xff, (size_t)nx->kx_rows * H * 2, st));
    KX_CK(cudaMemsetAsync(nx->d_recv, 0xff, (size_t)nx->recv_cap * H * 2, st));
    KX_CK(cudaMemsetAsync(nx->d_ret, 0xff, (size_t)nx->send_cap * H * 2, st));
    KX_CK(cudaMemsetAsync(nx->d_out, 0xff, (size_t)nx->max_local * H * 2, st));
    KX_CK(cudaStreamSynchronize(st));
    if ((rc = mp__nx_step(nx, NULL, err))) return rc;
    double v[2] = {(double)check_local(nx, ids, weights, sample, err, &rc), 0};
    /* every rank reaches the reduction, also after a local failure */
    double fail = rc ? 1 : 0;
    double vv[4] = {v[0], fail, 0, 0};
    int rc2 = 0;
    {
        cudaStream_t s2 = nx->kx->st;
        KX_CK(cudaMemcpyAsync(nx->d_red, vv, sizeof(double) * 2, cudaMemcpyHostToDevice, s2));
        NX_NCCL(ncclAllReduce(nx->d_red, nx->d_red, 2, ncclDouble, ncclSum, nx->comm, s2));
        KX_CK(cudaMemcpyAsync(vv, nx->d_red, sizeof(double) * 2, cudaMemcpyDeviceToHost, s2));
        KX_CK(cudaStreamSynchronize(s2));
    }
    if (rc) return rc;
    if (vv[1] > 0) rc2 = mp_err_set(err, MP_EIO, "replay check: another rank failed its check");
    *wrong = (int64_t)vv[0];
    return rc2;
}
