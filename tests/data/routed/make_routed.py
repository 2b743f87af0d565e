#!/usr/bin/env python3
"""Writes small routed-experts API recordings, one response per line:

  sglang.jsonl  SGLang /generate responses (PR #12162, --enable-return-routed-experts,
                request "return_routed_experts": true): meta_info.routed_experts is
                base64 of int32 [prompt_tokens + completion_tokens - 1, layers, top_k],
                as python/sglang/srt/managers/tokenizer_manager.py encodes it
                (pybase64.b64encode(tensor.numpy().tobytes())); line 2 holds a batch
                (a JSON array of two responses).
  vllm.jsonl    vLLM /v1/completions responses (PR #28284): choices[i].routed_experts
                is base64 of a .npy file (np.save) of [tokens - 1, layers, top_k]
                uint8, as vllm/entrypoints/openai/completion/protocol.py documents.

The same ids are written to *.expected.csv (step,token,layer,e0,e1; one step
per payload in order), what `moeplace convert X.jsonl -o X.csv` must give
after its header line.

Made with: Python 3, numpy 2.4.6 (/work/venv).  Run from this folder:
python make_routed.py
"""
import base64
import io
import json

import numpy as np

L, K, E = 3, 2, 8
rng = np.random.default_rng(20261203)


def routing(tokens):
    return np.stack([np.stack([rng.choice(E, K, replace=False) for _ in range(L)]) for _ in range(tokens)])


def sglang_response(prompt, completion):
    ids = routing(prompt + completion - 1).astype("<i4")
    return {"text": "x" * completion, "output_ids": list(range(completion)),
            "meta_info": {"id": "r%d" % prompt, "finish_reason": {"type": "length", "length": completion},
                          "prompt_tokens": prompt, "completion_tokens": completion, "cached_tokens": 0,
                          "routed_experts": base64.b64encode(ids.tobytes()).decode("ascii")}}, ids


def vllm_response(tokens):
    ids = routing(tokens - 1).astype(np.uint8)
    buf = io.BytesIO()
    np.save(buf, ids)
    return {"id": "cmpl-1", "object": "text_completion", "model": "test-moe",
            "choices": [{"index": 0, "text": "y", "finish_reason": "length",
                         "routed_experts": base64.b64encode(buf.getvalue()).decode("ascii")}],
            "usage": {"prompt_tokens": tokens - 2, "completion_tokens": 2, "total_tokens": tokens}}, ids


def csv_rows(steps):
    out = []
    for s, ids in enumerate(steps):
        for t in range(ids.shape[0]):
            for y in range(L):
                out.append(",".join(str(int(v)) for v in [s, t, y, *ids[t, y]]))
    return "\n".join(out) + "\n"


a, ia = sglang_response(4, 3)
b, ib = sglang_response(2, 2)
c, ic = sglang_response(3, 1)
with open("sglang.jsonl", "w") as f:
    f.write(json.dumps(a) + "\n" + json.dumps([b, c]) + "\n")
with open("sglang.expected.csv", "w") as f:
    f.write("step,token,layer,e0,e1\n" + csv_rows([ia, ib, ic]))

v1, i1 = vllm_response(5)
v2, i2 = vllm_response(4)
with open("vllm.jsonl", "w") as f:
    f.write(json.dumps(v1) + "\n\n" + json.dumps(v2) + "\n")
with open("vllm.expected.csv", "w") as f:
    f.write("step,token,layer,e0,e1\n" + csv_rows([i1, i2]))
