#!/usr/bin/env python3
"""Writes a small TensorRT-LLM expert statistic folder the way TensorRT-LLM's
ExpertStatistic does (tensorrt_llm/tools/layer_wise_benchmarks, PyTorch
backend; EXPERT_STATISTIC_ITER_RANGE=50-52, EXPERT_STATISTIC_PATH=ds_small):
meta_info.json from rank 0, and per rank `rank{r}.safetensors` holding
torch.bincount(token_selected_experts.flatten(), minlength=num_experts)
(int64 [E]) under "{iter}_{layer}", layer being the decoder layer index
(here a model whose decoder layer 0 is dense: MoE layers 1..3).  Also a
`rank0_raw.safetensors` of raw ids, which readers must skip.

The expected loads (summed over ranks, one step per iteration, layers in
ascending order) go to ds_small.expected.json in moeplace's load format.

Made with: Python 3, torch 2.15.0, safetensors 0.8.0 (/work/venv).
Run from this folder: python make_trtllm.py
"""
import json
import os

import safetensors.torch
import torch

E, K = 8, 2
ITERS = [50, 51, 52]
LAYERS = [1, 2, 3]  # decoder layer indices
RANKS = 2

g = torch.Generator().manual_seed(20261203)
weights = torch.tensor([8.0, 4, 2, 1, 1, 1, 0.5, 0.5])
out = "ds_small"
os.makedirs(out, exist_ok=True)
expected = [[[0] * E for _ in LAYERS] for _ in ITERS]
for r in range(RANKS):
    bincount, raw = {}, {}
    for s, it in enumerate(ITERS):
        for y, layer in enumerate(LAYERS):
            ntok = int(torch.randint(3, 12, (1,), generator=g))
            ids = torch.stack([torch.multinomial(weights, K, replacement=False, generator=g) for _ in range(ntok)])
            ids = ids.to(torch.int32)
            key = f"{it}_{layer}"
            counts = torch.bincount(ids.flatten(), minlength=E)
            bincount[key] = counts
            raw[key] = ids.contiguous()
            for e in range(E):
                expected[s][y][e] += int(counts[e])
    safetensors.torch.save_file(bincount, f"{out}/rank{r}.safetensors")
    if r == 0:
        safetensors.torch.save_file(raw, f"{out}/rank{r}_raw.safetensors")
with open(f"{out}/meta_info.json", "w") as f:
    json.dump({"num_experts": E, "num_experts_per_token": K}, f)
with open("ds_small.expected.json", "w") as f:
    json.dump({"format": "moeplace-loads", "version": 1, "logical_count": expected}, f)
    f.write("\n")
