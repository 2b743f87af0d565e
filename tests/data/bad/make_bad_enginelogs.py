#!/usr/bin/env python3
"""Regenerates the hostile engine recordings of this folder (run once; the
tests do not need Python): safetensors files for a TensorRT-LLM statistic
folder (the tests copy one beside a good meta_info.json as rank0.safetensors),
vLLM EPLB load JSONL and routed-experts JSONL.  Each must be refused with
exit 1 and one line naming the file and the offset, line or JSON path.

Made with: Python 3 and numpy 2.4.6 (/work/venv); the safetensors layout is
written by hand on purpose (the real package refuses to write these).
`python make_bad_enginelogs.py` in this folder.
"""
import base64
import io
import json
import struct

import numpy as np


def st(header, data=b"", length=None):
    h = json.dumps(header).encode()
    return struct.pack("<Q", len(h) if length is None else length) + h + data


def put(name, blob):
    with open(name, "wb") as f:
        f.write(blob)


E = 8
ok = {"50_1": {"dtype": "I64", "shape": [E], "data_offsets": [0, 8 * E]}}
counts = struct.pack("<8q", 1, 2, 3, 4, 5, 6, 7, 8)
put("st_short.safetensors", b"\x05\x00\x00")
put("st_header_2p60.safetensors", struct.pack("<Q", 1 << 60) + b"{}")
put("st_header_cut.safetensors", st(ok, counts)[:40])
put("st_bad_json.safetensors", st(ok, counts).replace(b'"shape"', b'"shape" ', 1)[:-1].replace(b"]}}", b"]}", 1) + b" ")
put("st_offsets_past_end.safetensors",
    st({"50_1": {"dtype": "I64", "shape": [E], "data_offsets": [0, 128]}}, counts))
put("st_dtype_mismatch.safetensors",
    st({"50_1": {"dtype": "I64", "shape": [E], "data_offsets": [0, 32]}}, counts[:32]))
put("st_overlap.safetensors",
    st({"50_1": {"dtype": "I64", "shape": [E], "data_offsets": [0, 64]},
        "51_1": {"dtype": "I64", "shape": [E], "data_offsets": [32, 96]}}, counts + counts[:32]))
put("st_negative.safetensors", st(ok, struct.pack("<8q", 1, 2, 3, -4, 5, 6, 7, 8)))
put("st_bad_name.safetensors", st({"layer1": ok["50_1"]}, counts))
put("st_only_50_1.safetensors", st(ok, counts))  # valid; with st_only_51_2: (50, 2) and (51, 1) are missing
put("st_only_51_2.safetensors", st({"51_2": ok["50_1"]}, counts))

meta = {"record_type": "eplb_load_meta", "version": 1, "num_layers": 2, "num_redundant_experts": 0}


def stats(load, m, step=1):
    return {"record_type": "eplb_load_stats", "version": 1, "step": step, "expert_load": load, "p2l_map": m}


def lines(name, recs):
    with open(name, "w") as f:
        f.write("\n".join(r if isinstance(r, str) else json.dumps(r) for r in recs) + "\n")


ident = [[0, 1, 2, 3], [0, 1, 2, 3]]
lines("vllm_ragged.jsonl", [meta, stats([[1, 2, 3, 4], [1, 2, 3]], ident)])
lines("vllm_map_out_of_range.jsonl", [meta, stats([[1, 2, 3, 4], [1, 2, 3, 4]], [[0, 1, 2, 3], [0, 1, 9, 3]])])
lines("vllm_meta_twice.jsonl", [meta, stats([[1, 2, 3, 4], [1, 2, 3, 4]], ident), meta])
lines("vllm_bad_json.jsonl", [meta, '{"record_type": "eplb_load_stats", "step": 1, "expert_load": [[1, 2'])
lines("vllm_negative.jsonl", [meta, stats([[1, 2, 3, 4], [1, -2, 3, 4]], ident)])


def npy_b64(a):
    b = io.BytesIO()
    np.save(b, a)
    return base64.b64encode(b.getvalue()).decode("ascii")


good = np.array([[[0, 1], [2, 3]], [[4, 5], [6, 7]]], dtype=np.int32)
lines("routed_bad_base64.jsonl", [{"choices": [{"index": 0, "routed_experts": npy_b64(good)[:20] + "*" + npy_b64(good)[21:]}]}])
lines("routed_no_payload.jsonl", [{"choices": [{"index": 0, "text": "hi", "routed_experts": None}]}])
lines("routed_negative.jsonl", [{"choices": [{"index": 0, "routed_experts": npy_b64(np.where(good == 5, -1, good))}]}])
lines("routed_ragged_list.jsonl", [{"choices": [{"index": 0, "routed_experts": [[[0, 1], [2, 3]], [[4, 5]]]}]}])
lines("routed_npy_lies.jsonl", [{"choices": [{"index": 0, "routed_experts": base64.b64encode(
    b"\x93NUMPY\x01\x00\x46\x00{'descr': '<i4', 'fortran_order': False, 'shape': (1000000, 58, 8), }      \n"
    + good.tobytes()).decode("ascii")}]}])
