#!/usr/bin/env python3
"""sim_numpy.py - the per-GPU counting of `moeplace sim --replica modulo` in
NumPy, as the same-run baseline for bench_sim (see bench/run_sim_bench.sh).

Per step and layer: vLLM's modulo replica choice (replica = (t*K + k) mod
count), rows per GPU, distinct tokens per GPU, the source-to-destination
token matrix and distinct tokens per node - the counts bench_sim's C engine
keeps.  Same shape as bench_sim: DeepSeek-V3 (58 layers, 256 experts,
top-8), steps of 4096 tokens, 32 GPUs x 9 slots in 4 nodes, Zipf(1)
popularity, round-robin layout with the hottest experts replicated.
Prints assignments per second (wall and CPU).
"""
import argparse
import time

import numpy as np

L, E, K = 58, 256, 8


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--step", type=int, default=4096)
    ap.add_argument("--gpus", type=int, default=32)
    ap.add_argument("--nodes", type=int, default=4)
    ap.add_argument("--slots", type=int, default=9)
    a = ap.parse_args()
    P, N, S, T = a.gpus, a.nodes, a.slots, a.step
    R, gpn = P * S, P // N
    rng = np.random.default_rng(7)
    order = np.stack([rng.permutation(E) for _ in range(L)])
    p = 1.0 / np.arange(1, E + 1)
    p /= p.sum()
    # plan: slot (gpu, j) holds expert j*P + gpu, or a replica of a hot one
    phy2log = np.empty((L, R), dtype=np.int64)
    for l in range(L):
        for s in range(R):
            gpu, j = s % P, s // P
            idx = j * P + gpu
            phy2log[l, gpu * S + j] = idx if idx < E else order[l, (idx - E) % E]
    cnt = np.zeros((L, E), dtype=np.int64)
    for l in range(L):
        np.add.at(cnt[l], phy2log[l], 1)
    maxr = int(cnt.max())
    log2phy = np.full((L, E, maxr), -1, dtype=np.int64)
    fill = np.zeros((L, E), dtype=np.int64)
    for l in range(L):
        for s in range(R):
            e = phy2log[l, s]
            log2phy[l, e, fill[l, e]] = s
            fill[l, e] += 1
    # routing: top-8 distinct experts per token and layer by Zipf popularity
    steps = []
    for i in range(a.steps):
        ids = np.empty((T, L, K), dtype=np.uint16)
        for l in range(L):
            keys = rng.random((T, E)) ** (1.0 / (p[None, :] * E))  # weighted sampling without replacement
            ids[:, l, :] = order[l][np.argpartition(-keys, K, axis=1)[:, :K]]
        steps.append(ids)
    lidx = np.arange(L)[None, :, None]
    pos = (np.arange(T)[:, None, None] * K + np.arange(K)[None, None, :])
    src = np.arange(T) % P
    t0, c0 = time.perf_counter(), time.process_time()
    check = 0
    for ids in steps:
        e = ids.astype(np.int64)
        c = cnt[lidx, e]
        rep = pos % c
        slot = log2phy[lidx, e, rep]
        gpu = slot // S                                             # [T, L, K]
        rows = np.bincount((np.arange(L)[None, :, None] * P + gpu).ravel(), minlength=L * P).reshape(L, P)
        mask = np.zeros((L, T, P), dtype=bool)
        mask[np.broadcast_to(lidx, gpu.shape), np.broadcast_to(np.arange(T)[:, None, None], gpu.shape), gpu] = True
        tokens = mask.sum(axis=1)                                  # distinct tokens per GPU [L, P]
        tmat = mask.reshape(L, T // P, P, P).sum(axis=1)           # [L, src, dst] (src = t mod P)
        ntok = mask.reshape(L, T, N, gpn).any(axis=3).sum(axis=1)  # distinct tokens per node [L, N]
        check += int(rows.max(axis=1).sum() + tokens.sum() + tmat[:, 0, :].sum() + ntok.sum())
    dt, dc = time.perf_counter() - t0, time.process_time() - c0
    n = a.steps * T * L * K
    print(f"numpy {np.__version__}: {a.steps} steps of {T} tokens, {n} assignments: wall {dt:.3f} s, "
          f"{n / dt / 1e6:.1f} M assignments/s; cpu {dc:.3f} s, {n / dc / 1e6:.1f} M assignments per cpu-second "
          f"(check {check})")


if __name__ == "__main__":
    main()
