#!/usr/bin/env python3
"""Writes a small vLLM EPLB load statistics file in the JSON-lines form of
vLLM PR #41141 ("[EPLB] Add offline expert mapping support"): one
eplb_load_meta record, then eplb_load_stats records {step, expert_load [L][P],
p2l_map [L][P]}, loads counted per physical slot.  The map changes after the
second record (a rearrangement), and a marker record of another type sits in
between (readers skip it).

The expected logical loads (each record folded through its own map with a
scatter-add, as the PR's tools/eplb/generate_static_mapping.py does; one step
per record) go to eplb_small.expected.json in moeplace's load format.

Made with: Python 3, numpy 2.4.6 (/work/venv).  Run from this folder:
python make_vllm_eplb.py
"""
import json

import numpy as np

L, E, R = 2, 6, 2  # layers, logical experts, redundant slots
P = E + R
rng = np.random.default_rng(20261203)
maps = [
    np.array([[0, 1, 2, 3, 4, 5, 0, 1], [0, 1, 2, 3, 4, 5, 2, 2]]),
    np.array([[5, 4, 3, 2, 1, 0, 0, 3], [1, 0, 2, 3, 5, 4, 1, 0]]),
]
lines = [json.dumps({"record_type": "eplb_load_meta", "version": 1, "model": "test-moe", "num_ranks": 2,
                     "num_groups": 1, "num_nodes": 1, "num_layers": L, "num_redundant_experts": R})]
expected = []
for i, step in enumerate([1000, 2000, 3000]):
    m = maps[0] if i < 2 else maps[1]
    load = rng.integers(0, 50, size=(L, P))
    logical = np.zeros((L, E), dtype=np.int64)
    for y in range(L):
        np.add.at(logical[y], m[y], load[y])
    expected.append(logical.tolist())
    lines.append(json.dumps({"record_type": "eplb_load_stats", "version": 1, "step": step, "num_ranks": 2,
                             "expert_load": load.tolist(), "p2l_map": m.tolist()}))
    if i == 0:
        lines.append(json.dumps({"record_type": "bench_run_start", "label": "part1"}))
with open("eplb_small.jsonl", "w") as f:
    f.write("\n".join(lines) + "\n")
with open("eplb_small.expected.json", "w") as f:
    json.dump({"format": "moeplace-loads", "version": 1, "logical_count": expected}, f)
    f.write("\n")
