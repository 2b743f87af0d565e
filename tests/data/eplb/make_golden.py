#!/usr/bin/env python3
"""Golden outputs of DeepSeek's EPLB (eplb.py) for moeplace's `eplb` strategy.

Runs the real eplb.py on random inputs and on recorded load files and writes
golden.json: every case's input (weights, or "weight_of" naming one of the
"matrices", slots, groups, nodes, GPUs) and
eplb.py's physical_to_logical_map, or "refused" where eplb.py's asserts fail.
tests/unit/eplb_golden_test.c replans every case with moeplace and compares
slot for slot.

eplb.py is not part of this repository; fetch it first (MIT licence):
    git clone https://github.com/deepseek-ai/EPLB /tmp/EPLB
    (commit d52c72d5b2f2fb4c41afbf8eb21366820239913d, 2025-03-24)
then, from the repository root:
    python3 tests/data/eplb/make_golden.py /tmp/EPLB/eplb.py > tests/data/eplb/golden.json
Made with Python 3 (the venv's), torch 2.15.0+cu132 on CPU, numpy.

Cases are "tie_free" when no two of the float32 quantities eplb.py sorts or
compares can be equal: the quotients w/c (every expert, every replica count
it could get) and the group sums.  On tie-free inputs the output does not
depend on how torch orders equal keys, and moeplace must match exactly.  The
recorded load shares carry 3-4 significant digits and have ties: they are
marked tie_free false (the test then compares the per-GPU loads).
"""
import importlib.util
import json
import os
import random
import sys

import numpy as np
import torch

SEED = 20260512
RANDOM_CASES = 320


def load_eplb(path):
    spec = importlib.util.spec_from_file_location("eplb", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def f32_text(v):
    """Shortest decimal that parses (as a double, then rounded to float) back to v."""
    s = repr(float(np.float32(v)))  # exact double of the float32: always safe
    short = np.format_float_positional(np.float32(v), unique=True, trim="-")
    return short if np.float32(float(short)) == np.float32(v) else s


def tie_free(w32, R, G, N):
    L, E = w32.shape
    cmax = R - E + 1
    for l in range(L):
        seen = set()
        for e in range(E):
            for c in range(1, cmax + 1):
                q = float(np.float32(w32[l, e]) / np.float32(c))
                if q in seen:
                    return False
                seen.add(q)
        if G > 1 and G % N == 0:
            gs = torch.tensor(w32[l]).unflatten(-1, (G, E // G)).sum(-1).tolist()
            if len(set(gs)) != len(gs):
                return False
    return True


def run(eplb, w, R, G, N, P):
    try:
        phy2log, _, logcnt = eplb.rebalance_experts(torch.tensor(w), R, G, N, P)
    except (AssertionError, ZeroDivisionError, RuntimeError):
        return None, None
    return phy2log.tolist(), logcnt.tolist()


def double_counts(eplb, w, R, G, N, P):
    """Replica counts eplb.py would give if it computed in double (for the report)."""
    wd = torch.tensor(w, dtype=torch.float64)
    if G % N == 0:
        _, _, logcnt = eplb.rebalance_experts_hierarchical(wd, R, G, N, P)
    else:
        _, _, logcnt = eplb.rebalance_experts_hierarchical(wd, R, 1, 1, P)
    return logcnt.tolist()


def random_case(rng):
    E = rng.choice([4, 6, 8, 12, 16, 20, 24, 32, 48, 64, 96, 128])
    divisors = [g for g in range(1, E + 1) if E % g == 0]
    G = rng.choice(divisors) if rng.random() < 0.8 else rng.randint(2, 9)  # some G that do not divide E
    N = rng.choice([1, 1, 2, 2, 3, 4, 8])
    if rng.random() < 0.8:
        P = N * rng.choice([1, 2, 3, 4])
    else:
        P = rng.randint(1, 24)  # some GPUs that do not split over the nodes
    S = (E + P - 1) // P + rng.choice([0, 0, 1, 1, 2, 3])
    R = P * S
    L = rng.randint(1, 3)
    kind = rng.choice(["int", "f32", "zipf"])
    if kind == "int":
        w = np.array([[rng.randint(1, 1_000_000) for _ in range(E)] for _ in range(L)], dtype=np.float32)
    elif kind == "f32":
        w = np.array([[rng.lognormvariate(0, 1.5) for _ in range(E)] for _ in range(L)], dtype=np.float32)
    else:
        w = np.array([[1e5 / (1 + rng.randint(0, 4 * E)) ** 1.1 + rng.random() for _ in range(E)]
                      for _ in range(L)], dtype=np.float32)
    return kind, w, R, G, N, P


def real_files(root):
    out = []
    for rel in ["../shared/data/real/esft-vanilla-lite_intent_shares.json",
                "../shared/data/real/qwen2-57b-a14b_sharegpt_sglang.json",
                "tests/data/plan/zipf_2x4x32.json"]:
        path = os.path.join(root, rel)
        if not os.path.exists(path):
            print(f"make_golden: {path} is missing, skipped", file=sys.stderr)
            continue
        d = json.load(open(path))
        m = d.get("logical_count") or d.get("load_share")
        a = np.array(m, dtype=np.float64)
        if a.ndim == 3:
            a = a.sum(0)
        out.append((os.path.basename(rel), a))
    return out


def main():
    eplb = load_eplb(sys.argv[1])
    root = sys.argv[2] if len(sys.argv) > 2 else "."
    rng = random.Random(SEED)
    cases = []
    stats = {"random": 0, "random_refused": 0, "random_dropped_ties": 0, "real": 0, "real_tie_free": 0,
             "real_double_counts_differ": 0}

    # the README's test vector
    w = [[90, 132, 40, 61, 104, 165, 39, 4, 73, 56, 183, 86], [20, 107, 104, 64, 19, 197, 187, 157, 172, 86, 16, 27]]
    p2l, _ = run(eplb, np.array(w, dtype=np.float32), 16, 4, 2, 8)
    cases.append({"name": "readme", "tie_free": True, "slots": 16, "groups": 4, "nodes": 2, "gpus": 8,
                  "weight": w, "phy2log": p2l})

    while stats["random"] + stats["random_refused"] < RANDOM_CASES:
        kind, w32, R, G, N, P = random_case(rng)
        p2l, _ = run(eplb, w32, R, G, N, P)
        if p2l is not None and not tie_free(w32, R, G, N):
            stats["random_dropped_ties"] += 1
            continue
        weight = [[int(v) if kind == "int" else float(f32_text(v)) for v in row] for row in w32]
        c = {"name": f"random-{len(cases)}-{kind}", "tie_free": True, "slots": R, "groups": G, "nodes": N,
             "gpus": P, "weight": weight}
        if p2l is None:
            c["refused"] = True
            stats["random_refused"] += 1
        else:
            c["phy2log"] = p2l
            stats["random"] += 1
        cases.append(c)

    matrices = {}
    for name, a in real_files(root):
        L, E = a.shape
        matrices[name] = a.tolist()
        for (P, N, X, G) in [(8, 1, 0, 1), (8, 2, 16, 8), (16, 4, 16, 8), (16, 3, 32, 8), (32, 4, 32, 1),
                             (4, 1, 4, 1), (6, 3, 14, 4)]:
            R = E + X
            if R % P:
                continue
            w32 = a.astype(np.float32)
            p2l, cnt = run(eplb, a, R, G, N, P)  # a double tensor: eplb.py rounds it to float32 itself
            if p2l is None:
                continue
            tf = tie_free(w32, R, G, N)
            stats["real"] += 1
            stats["real_tie_free"] += tf
            stats["real_double_counts_differ"] += double_counts(eplb, a, R, G, N, P) != cnt
            cases.append({"name": f"{name}-P{P}-N{N}-X{X}-G{G}", "tie_free": tf, "slots": R, "groups": G,
                          "nodes": N, "gpus": P, "weight_of": name, "phy2log": p2l})

    json.dump({"generator": "tests/data/eplb/make_golden.py", "eplb_py": "github.com/deepseek-ai/EPLB eplb.py @ "
               "d52c72d5b2f2fb4c41afbf8eb21366820239913d", "torch": torch.__version__, "seed": SEED, "stats": stats,
               "matrices": matrices, "cases": cases}, sys.stdout, separators=(",", ":"))
    sys.stdout.write("\n")
    print(f"make_golden: {stats}", file=sys.stderr)


if __name__ == "__main__":
    main()
