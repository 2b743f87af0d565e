#!/usr/bin/env python3
"""eplb_ref.py - our own NumPy (or PyTorch, when installed) reimplementation of
DeepSeek's EPLB, written from the semantics of github.com/deepseek-ai/EPLB (eplb.py), as the
timing baseline for bench_plan.  It keeps the reference's structure (layers
vectorised in replicate, Python loops in the greedy packing, float32 weights),
so its time is representative of running EPLB in Python.  Times are CPU
time (time.process_time), as bench_plan's are (thread CPU time).

    eplb_ref.py DIR      reads DIR/cases.txt and DIR/<case>.json written by
                         `bench_plan --dump DIR`, times the hierarchical and
                         global policies, compares phy2log with the C plans
                         DIR/<case>.<policy>.phy.json, prints ratios.
"""
import json
import sys
import time

import numpy as np

try:
    import torch  # noqa: F401  (only reported: the NumPy code path is the one timed)
    BACKEND = "numpy (torch " + torch.__version__ + " present)"
except ImportError:
    BACKEND = "numpy " + np.__version__


def pack(weight, num_packs):
    """weight [rows][n] -> (pack_index, rank_in_pack); exactly n/num_packs items per pack."""
    rows, n = weight.shape
    per = n // num_packs
    if per == 1:
        return np.tile(np.arange(n), (rows, 1)), np.zeros((rows, n), dtype=np.int64)
    order = np.argsort(-weight, axis=-1, kind="stable")  # descending, lower index first on ties
    pack_index = np.full((rows, n), -1, dtype=np.int64)
    rank = np.full((rows, n), -1, dtype=np.int64)
    for i in range(rows):
        pw = [0.0] * num_packs
        pn = [0] * num_packs
        for item in order[i]:
            p = min((j for j in range(num_packs) if pn[j] < per), key=pw.__getitem__)
            pack_index[i, item] = p
            rank[i, item] = pn[p]
            pw[p] += weight[i, item]
            pn[p] += 1
    return pack_index, rank


def replicate(weight, num_phy):
    """D'Hondt: each extra slot to the largest weight/count, first index on ties."""
    rows, num_log = weight.shape
    phy2log = np.tile(np.arange(num_phy), (rows, 1))
    rank = np.zeros((rows, num_phy), dtype=np.int64)
    cnt = np.ones((rows, num_log), dtype=np.int64)
    ar = np.arange(rows)
    for i in range(num_log, num_phy):
        red = (weight / cnt).argmax(axis=-1)
        phy2log[:, i] = red
        rank[:, i] = cnt[ar, red]
        cnt[ar, red] += 1
    return phy2log, rank, cnt


def inverse(perm):
    inv = np.empty_like(perm)
    np.put_along_axis(inv, perm, np.tile(np.arange(perm.shape[1]), (perm.shape[0], 1)), axis=1)
    return inv


def hierarchical(weight, num_phy, groups, nodes, gpus):
    rows, num_log = weight.shape
    gsize = num_log // groups
    gpn = groups // nodes
    per_gpu = num_phy // gpus
    # (1) groups onto nodes
    gw = weight.reshape(rows, groups, gsize).sum(-1)
    gpack, grank = pack(gw, nodes)
    log2mlog = (((gpack * gpn + grank) * gsize)[:, :, None] + np.arange(gsize)).reshape(rows, -1)
    mlog2log = inverse(log2mlog)
    # (2) replicate inside each node
    mw = np.take_along_axis(weight, mlog2log, axis=1).reshape(-1, num_log // nodes)
    phy2mlog, phyrank, mcnt = replicate(mw, num_phy // nodes)
    # (3) replicas onto the node's GPUs
    tpp = np.take_along_axis(mw / mcnt, phy2mlog, axis=1)
    pidx, prank = pack(tpp, gpus // nodes)
    phy2pphy = pidx * per_gpu + prank
    pphy2phy = inverse(phy2pphy)
    pphy2mlog = np.take_along_axis(phy2mlog, pphy2phy, axis=1)
    pphy2mlog = (pphy2mlog.reshape(rows, nodes, -1) + np.arange(0, num_log, num_log // nodes)[None, :, None]).reshape(rows, -1)
    return np.take_along_axis(mlog2log, pphy2mlog, axis=1)


def rebalance(weight, num_phy, groups, nodes, gpus, force_global=False):
    weight = np.asarray(weight, dtype=np.float32)
    if not force_global and groups % nodes == 0:
        return hierarchical(weight, num_phy, groups, nodes, gpus)
    return hierarchical(weight, num_phy, 1, 1, gpus)


def readme_vector():
    w = [[90, 132, 40, 61, 104, 165, 39, 4, 73, 56, 183, 86], [20, 107, 104, 64, 19, 197, 187, 157, 172, 86, 16, 27]]
    got = rebalance(w, 16, 4, 2, 8).tolist()
    want = [[5, 6, 5, 7, 8, 4, 3, 4, 10, 9, 10, 2, 0, 1, 11, 1], [7, 10, 6, 8, 6, 11, 8, 9, 2, 4, 5, 1, 5, 0, 3, 1]]
    return got == want


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    d = sys.argv[1]
    print("backend:", BACKEND, "| README vector:", "match" if readme_vector() else "MISMATCH")
    print("%-22s %-12s %10s %10s %9s  %s" % ("case", "policy", "python ms", "C ms", "ratio", "phy2log vs C"))
    for line in open(d + "/cases.txt"):
        name, P, N, S, G, c_hier, c_glob = line.split()[:7]
        P, N, S, G = int(P), int(N), int(S), int(G)
        with open("%s/%s.json" % (d, name)) as f:
            w = np.array(json.load(f)["logical_count"], dtype=np.float64)
        for policy, c_ms in (("eplb", float(c_hier)), ("eplb-global", float(c_glob))):
            best = 1e30
            for _ in range(2):
                t0 = time.process_time()
                phy = rebalance(w, P * S, G, N, P, force_global=policy == "eplb-global")
                best = min(best, time.process_time() - t0)
            with open("%s/%s.%s.phy.json" % (d, name, policy)) as f:
                ours = np.array(json.load(f))
            same = int((ours == phy).all(axis=1).sum())
            print("%-22s %-12s %10.1f %10.2f %8.0fx  %d/%d layers identical" % (
                name, policy, best * 1e3, c_ms, best * 1e3 / max(c_ms, 1e-6), same, phy.shape[0]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
