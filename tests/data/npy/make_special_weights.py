#!/usr/bin/env python3
"""Writes w_special.npy: float32 gate weights [12, 2] for tk_u8.npy that stress
text round trips (CSV): -0, subnormals, FLT_MIN, FLT_MAX and its neighbour,
values that need all 9 significant digits.  Plain Python (no numpy);
`python3 make_special_weights.py` in this folder."""
import struct

bits = [
    0x00000000, 0x80000000,  # 0, -0
    0x00000001, 0x00000003,  # the smallest subnormals
    0x007FFFFF, 0x00800000,  # the largest subnormal, FLT_MIN
    0x7F7FFFFF, 0x7F7FFFFE,  # FLT_MAX and the float below it
    0x3F7FFFFF, 0x3F800001,  # just below and above 1
    0x3EAAAAAB, 0x3DCCCCCD,  # 1/3, 0.1
    0x4B800001, 0x47FFEFFF,  # 16777218, 131039.99
    0x40490FDB, 0x402DF854,  # pi, e
    0x33D6BF95, 0x0DA24260,  # 1e-7, 1e-30
    0x7149F2CA, 0x5F000000,  # 1e30, 2^63
    0x3F000000, 0x3F800000,  # 0.5, 1
    0x38D1B717, 0x7E967699,  # 1e-4, 1e38
]
assert len(bits) == 24
hdr = "{'descr': '<f4', 'fortran_order': False, 'shape': (12, 2), }"
hdr += " " * (64 - 10 - len(hdr) - 1) + "\n"
with open("w_special.npy", "wb") as f:
    f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(hdr)) + hdr.encode())
    f.write(b"".join(struct.pack("<I", b) for b in bits))
