#!/usr/bin/env python3
"""Writes bench/data/esft_<task>_shares.json for the held-out suite
(bench/bench_holdout.c) from DeepSeek's ESFT repository (MIT licence):
results/expert_scores/<task>/summary.json, field token_scores[layer][expert]
= the expert's share of the layer's top-6 selections over ~8k tokens of the
task's training data (DeepSeek-V2-Lite shape: MoE layers 1..26, 64 experts).

usage: make_esft.py ESFT_GIT_DIR COMMIT OUTDIR   (python3, standard library only)
"""
import json, subprocess, sys

git, commit, out = sys.argv[1:4]
for task in ("law", "summary", "translation"):
    path = f"results/expert_scores/{task}/summary.json"
    raw = subprocess.run(["git", "--git-dir", git, "show", f"{commit}:{path}"], check=True,
                         capture_output=True, text=True).stdout
    ts = json.loads(raw)["token_scores"]
    layers = sorted(ts, key=int)
    rows = [[float(ts[l][str(e)]) for e in range(64)] for l in layers]
    doc = {
        "source": f"github.com/deepseek-ai/ESFT {path} @ {commit} (field token_scores)",
        "model": "deepseek-ai/ESFT-vanilla-lite (DeepSeek-V2-Lite shape: 26 MoE layers, 64 routed experts, top-6)",
        "setting": f"offline forward passes over ~8k tokens of the {task} task's training data (not a serving engine)",
        "notes": "shares of the layer's selections per expert, rounded by the source to 4 decimals (rows sum to 1)",
        "shape": [len(rows), 64],
        "logical_count": rows,
    }
    with open(f"{out}/esft_{task}_shares.json", "w") as f:
        json.dump(doc, f, separators=(",", ":"))
        f.write("\n")
