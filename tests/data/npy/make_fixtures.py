#!/usr/bin/env python3
"""Regenerates the .npy fixtures of this folder (run once; the tests do not need Python).

ids[12][3][2] (T, L, K) of E = 8 experts, distinct per row like torch.topk gives them,
saved in the layouts and dtypes users have, plus broken files for the error tests.
Made with numpy 2.4; `python3 make_fixtures.py` in this folder.
"""
import numpy as np

rng = np.random.default_rng(7)
T, L, K, E = 12, 3, 2, 8


def topk(prefix):
    n = int(np.prod(prefix))
    out = np.empty((n, K), dtype=np.int64)
    for i in range(n):
        out[i] = rng.choice(E, size=K, replace=False)
    return out.reshape(*prefix, K)


tlk = topk((T, L))  # [T, L, K] int64, as np.save of a torch topk_ids tensor
np.save('tlk_i64.npy', tlk)
np.save('ltk_i32.npy', np.ascontiguousarray(tlk.transpose(1, 0, 2)).astype(np.int32))
np.save('tk_u8.npy', tlk[:, 0, :].astype(np.uint8))
w = rng.random((T, L, K)).astype(np.float16)
np.save('tlk_w16.npy', w)
np.save('ltk_w32.npy', np.ascontiguousarray(w.transpose(1, 0, 2)).astype(np.float32))
with open('tk_v2.npy', 'wb') as f:
    np.lib.format.write_array(f, tlk[:, 1, :].astype(np.int16), version=(2, 0))
with open('tk_v3.npy', 'wb') as f:
    np.lib.format.write_array(f, tlk[:, 1, :].astype(np.uint64), version=(3, 0))

np.save('bad_bigendian.npy', tlk.astype('>i4'))
np.save('bad_fortran.npy', np.asfortranarray(tlk[:, 0, :].astype(np.int32)))
np.save('bad_float.npy', tlk.astype(np.float32))
neg = tlk.astype(np.int32).copy()
neg[5, 1, 0] = -1
np.save('bad_negative.npy', neg)
np.save('bad_1d.npy', np.arange(10, dtype=np.int32))
wn = w.copy()
wn[2, 2, 1] = np.nan
np.save('bad_w_nan.npy', wn)
np.save('bad_w_shape.npy', w[:6])
raw = open('tlk_i64.npy', 'rb').read()
open('bad_truncated.npy', 'wb').write(raw[:-5])
open('bad_truncated_header.npy', 'wb').write(raw[:40])
open('bad_magic.npy', 'wb').write(b'x' + raw[1:])
open('bad_version.npy', 'wb').write(raw[:6] + b'\x09' + raw[7:])
np.save('ambig_3x3.npy', topk((3, 3)).astype(np.int32))  # [3, 3, 2]: the layout must be said

# a header as Python 2 numpy wrote it: (12L, 2L)
raw = open('tk_u8.npy', 'rb').read()
hl = raw[8] | (raw[9] << 8)
h = raw[10:10 + hl].decode().replace('(12, 2)', '(12L, 2L)').rstrip()
h = h + ' ' * (hl - 1 - len(h)) + '\n'
open('tk_py2_long.npy', 'wb').write(raw[:10] + h.encode() + raw[10 + hl:])
