// layout.cu - replica selection, rows per slot, destination rows and
// per-rank traffic, all on the GPU (see mp_kernels.h for the row order).
#include <cub/block/block_scan.cuh>

#include "kernels/kx_internal.h"
#include "kernels/mp_kx_common.h"

// One block per chunk of KX_CHUNK assignments: choose each replica and count
// the chunk's rows per slot.
__global__ void k_select(const uint16_t *ids, int64_t n, int K, const int32_t *l2p, const int32_t *rc, int maxrep,
                         int R, int sel, uint64_t seed, int32_t *slot, int32_t *chunk_counts)
{
    extern __shared__ int32_t hist[];
    for (int s = threadIdx.x; s < R; s += blockDim.x) hist[s] = 0;
    __syncthreads();
    int64_t base = (int64_t)blockIdx.x * KX_CHUNK;
    for (int i = threadIdx.x; i < KX_CHUNK; i += blockDim.x) {
        int64_t a = base + i;
        if (a >= n) break;
        int e = ids[a];
        int j = mp__kx_select(sel, seed, a, a / K, rc[e]);
        int s = l2p[(int64_t)e * maxrep + j];
        slot[a] = s;
        atomicAdd(&hist[s], 1);
    }
    __syncthreads();
    for (int s = threadIdx.x; s < R; s += blockDim.x) chunk_counts[(int64_t)blockIdx.x * R + s] = hist[s];
}

// One block: per-slot totals, their exclusive scan, and each chunk's first
// row per slot (overwrites chunk_counts).
#define SCAN_THREADS 1024
#define SCAN_ITEMS (MP_KX_MAX_SLOTS / SCAN_THREADS)
__global__ void k_scan(int32_t *chunk_counts, int chunks, int R, int32_t *slot_rows, int32_t *slot_off)
{
    typedef cub::BlockScan<int32_t, SCAN_THREADS> scan_t;
    __shared__ typename scan_t::TempStorage tmp;
    __shared__ int32_t off[MP_KX_MAX_SLOTS];
    for (int s = threadIdx.x; s < MP_KX_MAX_SLOTS; s += SCAN_THREADS) {
        int32_t run = 0;
        if (s < R) {
#pragma unroll 8
            for (int c = 0; c < chunks; c++) run += chunk_counts[(int64_t)c * R + s];
            slot_rows[s] = run;
        }
        off[s] = run;
    }
    __syncthreads();
    int32_t items[SCAN_ITEMS];
    for (int i = 0; i < SCAN_ITEMS; i++) items[i] = off[threadIdx.x * SCAN_ITEMS + i];
    __syncthreads();
    scan_t(tmp).ExclusiveSum(items, items);
    for (int i = 0; i < SCAN_ITEMS; i++) off[threadIdx.x * SCAN_ITEMS + i] = items[i];
    __syncthreads();
    for (int s = threadIdx.x; s < R; s += SCAN_THREADS) {
        int32_t run = off[s];
        slot_off[s] = run;
        for (int c = 0; c < chunks; c++) {
            int32_t v = chunk_counts[(int64_t)c * R + s];
            chunk_counts[(int64_t)c * R + s] = run;
            run += v;
        }
    }
}

// One block of 8 warps per chunk: each assignment's row, in assignment order
// within its slot (warps take their 128 assignments in turn).
__global__ void k_rows(const int32_t *slot, int64_t n, int R, const int32_t *chunk_first, int32_t *row)
{
    extern __shared__ int32_t cursor[];
    for (int s = threadIdx.x; s < R; s += blockDim.x) cursor[s] = chunk_first[(int64_t)blockIdx.x * R + s];
    __syncthreads();
    int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    int64_t base = (int64_t)blockIdx.x * KX_CHUNK;
    for (int w = 0; w < 8; w++) {
        if (warp == w) {
            for (int r = 0; r < KX_CHUNK / 8 / 32; r++) {
                int64_t a = base + w * (KX_CHUNK / 8) + r * 32 + lane;
                int valid = a < n;
                int s = valid ? slot[a] : -1 - lane;
                unsigned peers = __match_any_sync(0xffffffffu, s);
                int leader = __ffs(peers) - 1;
                int rank = __popc(peers & ((1u << lane) - 1u));
                int first = 0;
                if (lane == leader && valid) {
                    first = cursor[s];
                    cursor[s] = first + __popc(peers);
                }
                first = __shfl_sync(0xffffffffu, first, leader);
                if (valid) row[a] = first + rank;
                __syncwarp(); /* this round's cursor updates before the next round's reads */
            }
        }
        __syncthreads();
    }
}

// Thread per token: distinct destination ranks, and tokens sent per
// (source rank, destination rank), accumulated in shared memory first.
__global__ void k_traffic(const int32_t *slot, int64_t T, int K, int per_rank, int P, int64_t per_src,
                          int32_t *dests, unsigned long long *traffic)
{
    extern __shared__ unsigned long long tr[];
    for (int i = threadIdx.x; i < P * P; i += blockDim.x) tr[i] = 0;
    __syncthreads();
    int64_t t = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (t < T) {
        unsigned long long mask = 0;
        for (int k = 0; k < K; k++) mask |= 1ULL << (slot[t * K + k] / per_rank);
        dests[t] = __popcll(mask);
        int src = (int)(t / per_src);
        while (mask) {
            int r = __ffsll((long long)mask) - 1;
            mask &= mask - 1;
            atomicAdd(&tr[src * P + r], 1ULL);
        }
    }
    __syncthreads();
    for (int i = threadIdx.x; i < P * P; i += blockDim.x)
        if (tr[i]) atomicAdd(&traffic[i], tr[i]);
}

int mp__kx_layout_device(mp_kx *kx, mp_err *err)
{
    const mp_kx_shape *s = &kx->sh;
    int64_t n = kx->tokens * s->top_k;
    int chunks = (int)((n + KX_CHUNK - 1) / KX_CHUNK);
    if (chunks < 1) chunks = 1;
    int R = kx->R, P = s->ranks;
    size_t hist_bytes = sizeof(int32_t) * (size_t)R;
    k_select<<<chunks, 256, hist_bytes, kx->st>>>(kx->d_ids, n, s->top_k, kx->d_l2p, kx->d_rc, kx->MR, R,
                                                   s->selection, s->seed, kx->d_slot, kx->d_chunk);
    KX_CK(cudaGetLastError());
    k_scan<<<1, SCAN_THREADS, 0, kx->st>>>(kx->d_chunk, chunks, R, kx->d_slot_rows, kx->d_slot_off);
    KX_CK(cudaGetLastError());
    k_rows<<<chunks, 256, hist_bytes, kx->st>>>(kx->d_slot, n, R, kx->d_chunk, kx->d_row);
    KX_CK(cudaGetLastError());
    KX_CK(cudaMemsetAsync(kx->d_traffic, 0, sizeof(unsigned long long) * (size_t)P * P, kx->st));
    if (kx->tokens > 0) {
        int64_t per_src = (kx->tokens + P - 1) / P;
        int blocks = (int)((kx->tokens + 255) / 256);
        k_traffic<<<blocks, 256, sizeof(unsigned long long) * (size_t)P * P, kx->st>>>(
            kx->d_slot, kx->tokens, s->top_k, kx->per_rank, P, per_src, kx->d_dests, kx->d_traffic);
        KX_CK(cudaGetLastError());
    }
    return 0;
}

extern "C" int mp_kx_layout(mp_kx *kx, mp_err *err)
{
    if (!kx->plan_set || kx->tokens < 0) return mp_err_set(err, MP_EINVAL, "replay: layout needs a plan and routing");
    int rc = mp__kx_layout_device(kx, err);
    if (rc) return rc;
    int R = kx->R;
    KX_CK(cudaMemcpyAsync(kx->h_slot_rows, kx->d_slot_rows, sizeof(int32_t) * R, cudaMemcpyDeviceToHost, kx->st));
    KX_CK(cudaStreamSynchronize(kx->st));
    int32_t off = 0;
    for (int s = 0; s < R; s++) {
        kx->h_slot_off[s] = off;
        off += kx->h_slot_rows[s];
    }
    kx->h_slot_off[R] = off;
    kx->counts_ready = 1;
    mp__kx_drop_graphs(kx);
    return 0;
}
