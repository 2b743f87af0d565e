#!/usr/bin/env python3
"""torch_ref.py DUMPDIR - PyTorch baseline for the permute and combine
kernels, timed in the same run on the same routing (the route_T.bin files
that `bench_kernels move DUMPDIR` writes: int64 T, K, H, then int32 row of
each assignment t*K+k).

permute: xp = x.index_select(0, token_of_row)            (bf16)
combine: out = zeros(T, H, fp32).index_add_(0, token_of_row, y.float() * w)
         then .bfloat16()  (fp32 accumulation, as the CUDA combine does)
Each is timed with CUDA events, L2 flushed (256 MiB written) before each
run, median of 50 after 5 warm-ups; the D2D copy rate is measured alongside.
"""
import glob
import os
import statistics
import sys

import numpy as np
import torch


def timed(fn, iters=50, warmup=5):
    flush = torch.empty(256 << 20, dtype=torch.uint8, device="cuda")
    times = []
    for i in range(warmup + iters):
        flush.fill_(i & 0xFF)
        a = torch.cuda.Event(enable_timing=True)
        b = torch.cuda.Event(enable_timing=True)
        a.record()
        fn()
        b.record()
        b.synchronize()
        if i >= warmup:
            times.append(a.elapsed_time(b) * 1000.0)
    return statistics.median(times)


def main():
    d = sys.argv[1]
    src = torch.empty(1 << 30, dtype=torch.uint8, device="cuda")
    dst = torch.empty_like(src)
    cu = timed(lambda: dst.copy_(src), iters=30, warmup=3)
    copy = 2.0 * (1 << 30) / cu / 1e3
    print(f"torch {torch.__version__}, {torch.cuda.get_device_name()}")
    print(f"copy: tensor.copy_ 1 GiB: {copy:.1f} GB/s (read + written)")
    print(f"{'T':>7} {'permute_us':>12} {'GB/s':>8} {'%copy':>7} {'combine_us':>12} {'GB/s':>8} {'%copy':>7}")
    files = sorted(glob.glob(os.path.join(d, "route_*.bin")),
                   key=lambda p: int(p.rsplit("_", 1)[1].split(".")[0]))
    for path in files:
        raw = np.fromfile(path, dtype=np.uint8)
        T, K, H = (int(v) for v in raw[:24].view(np.int64))
        row = torch.from_numpy(raw[24:].view(np.int32).astype(np.int64)).cuda()
        tok = torch.empty(T * K, dtype=torch.int64, device="cuda")
        tok[row] = torch.arange(T * K, device="cuda") // K
        x = torch.randn(T, H, device="cuda").bfloat16()
        y = torch.randn(T * K, H, device="cuda").bfloat16()
        w = torch.full((T * K, 1), 1.0 / K, device="cuda")
        xp = x.index_select(0, tok)
        assert torch.equal(xp[row[5]], x[5 // K])

        def combine():
            out = torch.zeros(T, H, dtype=torch.float32, device="cuda")
            out.index_add_(0, tok, y.float() * w)
            return out.bfloat16()

        pu = timed(lambda: x.index_select(0, tok))
        cu = timed(combine)
        nbytes = T * H * 2 * (1 + K)
        print(f"{T:7d} {pu:12.1f} {nbytes / pu / 1e3:8.1f} {100 * nbytes / pu / 1e3 / copy:6.1f}% "
              f"{cu:12.1f} {nbytes / cu / 1e3:8.1f} {100 * nbytes / cu / 1e3 / copy:6.1f}%")


if __name__ == "__main__":
    main()
