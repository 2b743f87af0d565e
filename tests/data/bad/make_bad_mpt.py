#!/usr/bin/env python3
"""Regenerates the hostile .mpt files of this folder (run once; the tests do not need Python).

Each file is well formed as far as its CRCs go (every CRC matches), so that a
reader must catch the lie itself.  Layout: man/mpt.5.  `python3 make_bad_mpt.py`
in this folder.
"""
import json
import struct
import zlib

MAGIC = b"\x89MPT\r\n\x1a\n"


def crc(b):
    return zlib.crc32(b) & 0xFFFFFFFF


def header(layers, experts, top_k, weights=False, ranks=False):
    h = {"format": "moeplace-trace",
         "model": {"name": "crafted", "layers": layers, "experts": experts, "top_k": top_k},
         "id_bytes": 1 if experts <= 256 else 2, "gate_weights": weights, "source_ranks": ranks}
    hj = json.dumps(h, separators=(",", ":")).encode()
    return MAGIC + struct.pack("<HHI", 1, 0, len(hj)) + hj + struct.pack("<I", crc(hj)), h["id_bytes"]


def chunk(step, first, ids, tokens, eos, id_bytes, per_tok):
    """A chunk of `tokens` tokens whose ids are the bytes `ids` (stored raw)."""
    assert len(ids) == tokens * per_tok * id_bytes
    desc = struct.pack("<IIII", 0, len(ids), len(ids), crc(ids) if ids else 0)
    desc += struct.pack("<IIII", 0, 0, 0, 0) * 5
    h = b"MPTC" + struct.pack("<IQQII", 1 if eos else 0, step, first, tokens, 0) + desc + struct.pack("<I", 0)
    return h + struct.pack("<I", crc(h)) + ids


def finish(body, offsets, steps, tokens, assign, payload, chunks=None):
    n = len(offsets) if chunks is None else chunks
    t = b"MPTI" + struct.pack("<IQQQQQ", 0, n, steps, tokens, assign, payload)
    t += b"".join(struct.pack("<Q", o) for o in offsets)
    return body + t + struct.pack("<QI", len(body), crc(t)) + b"MPTE"


def write(name, data):
    with open(name, "wb") as f:
        f.write(data)


# The largest legal shape (4096 layers, 65535 experts, top-8) and one empty step.
pre, ib = header(4096, 65535, 8)
c = chunk(0, 0, b"", 0, True, ib, 4096 * 8)
write("huge_shape_empty_step.mpt", finish(pre + c, [len(pre)], 1, 0, 0, 0))

# A small honest trace: 1 layer, 4 experts, top-1, one step of 3 tokens.
pre, ib = header(1, 4, 1)
ids = bytes([0, 1, 3])
c = chunk(0, 0, ids, 3, True, ib, 1)
write("small_ok.mpt", finish(pre + c, [len(pre)], 1, 3, 3, 3))
# The same chunk, its trailer claiming 2^40 tokens (and assignments and payload to match).
write("index_lies_2p40.mpt", finish(pre + c, [len(pre)], 1, 1 << 40, 1 << 40, 1 << 40))
# ... claiming 4 tokens where the chunk holds 3 (counts that fit together, and the file).
write("index_lies_tokens.mpt", finish(pre + c, [len(pre)], 1, 4, 4, 4))
# ... the chunk offset pointing into the header.
write("index_lies_offset.mpt", finish(pre + c, [8], 1, 3, 3, 3))
# A trailer of 2^62 tokens: tokens * 6 overflows a signed 64-bit count.
write("trailer_overflow.mpt", finish(pre + c, [len(pre)], 1, 1 << 62, 1 << 62, 1 << 62))

# A zlib stream of 8 bytes claiming 8257 raw bytes: more than deflate's best
# ratio (1032:1) allows, refused before any buffer is sized for it.
pre, ib = header(1, 4, 1)
z = b"\x78\x9c" + bytes(6)
desc = struct.pack("<IIII", 1, 8257, len(z), crc(z)) + struct.pack("<IIII", 0, 0, 0, 0) * 5
h = b"MPTC" + struct.pack("<IQQII", 1, 0, 0, 8257, 0) + desc + struct.pack("<I", 0)
c = h + struct.pack("<I", crc(h)) + z
write("zlib_ratio.mpt", finish(pre + c, [len(pre)], 1, 8257, 8257, 8257))
