#!/bin/sh
# gpu_nccl.sh - on a GPU machine, from the repository root: build (Release,
# sm_90a), run the NCCL replay's GPU and CPU-model tests (and memcheck on
# the GPU test), then `moeplace replay --nproc N` with N = every GPU of the
# machine on a DeepSeek-V3-like trace of 4096 tokens per rank: linear and
# balanced plans, all-to-all-v and padded ncclAlltoAll, --link-cost.  Debian
# packages of cJSON/cmocka/zlib headers may be placed in .kxdebs/ when the
# machine lacks them; logs go to $OUT (or /tmp) as well as stdout.
set -u
OUT=${OUT:-/tmp}
export NCCL_NVLS_ENABLE=0 # NVLink multicast stays off
if ls .kxdebs/*.deb >/dev/null 2>&1; then
  mkdir -p /tmp/deps && for f in .kxdebs/*.deb; do dpkg -x "$f" /tmp/deps; done
  [ -e /usr/include/zlib.h ] || ln -sf /usr/lib/x86_64-linux-gnu/libz.so.1 /tmp/deps/usr/lib/x86_64-linux-gnu/libz.so
  export LD_LIBRARY_PATH=/tmp/deps/usr/lib/x86_64-linux-gnu:${LD_LIBRARY_PATH:-}
  PFX=-DCMAKE_PREFIX_PATH=/tmp/deps/usr
fi
# NCCL: the toolkit's, else the one of the Python wheel nvidia-nccl
if [ ! -e /usr/local/cuda/include/nccl.h ] && [ ! -e /usr/include/nccl.h ]; then
  d=$(python3 -c 'import nvidia.nccl as m; print(list(m.__path__)[0])' 2>/dev/null)
  if [ -n "$d" ]; then
    mkdir -p /tmp/nccl/lib && ln -sf "$d/include" /tmp/nccl/include
    ln -sf "$d"/lib/libnccl.so.2 /tmp/nccl/lib/libnccl.so
    export NCCL_HOME=/tmp/nccl LD_LIBRARY_PATH=$d/lib:${LD_LIBRARY_PATH:-}
    echo "NCCL from $d"
  fi
fi
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
NG=$(nvidia-smi -L | wc -l)
nvidia-smi topo -m 2>/dev/null | head -12
cmake -S . -B /tmp/b -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_ARCHITECTURES=90a ${PFX:-} >"$OUT/cmake.log" 2>&1 ||
  { tail -30 "$OUT/cmake.log"; exit 1; }
grep -i nccl "$OUT/cmake.log"
cmake --build /tmp/b -j16 --target moeplace nccl_gpu_test nccl_exchange_test >"$OUT/build.log" 2>&1 ||
  { grep -A5 -E "error" "$OUT/build.log" | head -60; exit 1; }
/tmp/b/tests/nccl_exchange_test 2>&1 | tail -1
/tmp/b/tests/nccl_gpu_test 2>&1 | tee "$OUT/nccl_gpu_test.txt"
timeout 240 compute-sanitizer --tool memcheck --error-exitcode 9 /tmp/b/tests/nccl_gpu_test 2>&1 | tail -3
B=/tmp/b/moeplace
$B replay tests/data/small.mpt --plan linear --nproc 1 -n 10 2>&1 | tee "$OUT/small.txt"
$B replay tests/data/small.mpt --plan linear --nproc 1 -n 10 --padded --emulate 0 --format csv
TPR=${TPR:-4096}
$B gen --preset deepseek-v3 --layers 2 --steps 1 --tokens-per-step $((TPR * NG)) -o /tmp/ds.mpt -q
$B plan /tmp/ds.mpt --gpus "$NG" --strategy balanced -q -o /tmp/ds_bal.json >/dev/null
$B replay /tmp/ds.mpt --plan linear --nproc "$NG" -J "$OUT/linear.json" --link-cost "$OUT/link.json" 2>&1 |
  tee "$OUT/linear.txt"
$B replay /tmp/ds.mpt --plan /tmp/ds_bal.json --nproc "$NG" -J "$OUT/balanced.json" 2>&1 | tee "$OUT/balanced.txt"
$B replay /tmp/ds.mpt --plan linear --nproc "$NG" --padded -c 0 --emulate 0 2>&1 | tee "$OUT/padded.txt"
# sim's prediction for the same plans with the measured link
$B sim /tmp/ds.mpt --plan /tmp/ds_bal.json --cost "$OUT/link.json" 2>&1 | tail -25
