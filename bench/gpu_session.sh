#!/bin/sh
# gpu_session.sh [copy|move|gemm|replay|all] - on a GPU machine, from the
# repository root: build (Release, sm_90a), run the GPU and CPU-reference
# kernel tests, bench_kernels and bench/torch_ref.py.  Debian packages of
# cJSON/cmocka/zlib headers may be placed in .kxdebs/ when the machine lacks
# them; logs go to $OUT (or /tmp) as well as stdout.
set -u
OUT=${OUT:-/tmp}
if ls .kxdebs/*.deb >/dev/null 2>&1; then
  mkdir -p /tmp/deps && for f in .kxdebs/*.deb; do dpkg -x "$f" /tmp/deps; done
  [ -e /usr/include/zlib.h ] || ln -sf /usr/lib/x86_64-linux-gnu/libz.so.1 /tmp/deps/usr/lib/x86_64-linux-gnu/libz.so
  export LD_LIBRARY_PATH=/tmp/deps/usr/lib/x86_64-linux-gnu:${LD_LIBRARY_PATH:-}
  # libzip's .pc names /usr: read it from the extracted tree
  export PKG_CONFIG_PATH=/tmp/deps/usr/lib/x86_64-linux-gnu/pkgconfig PKG_CONFIG_SYSROOT_DIR=/tmp/deps
  PFX=-DCMAKE_PREFIX_PATH=/tmp/deps/usr
fi
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,memory.total --format=csv,noheader
nvcc --version | tail -1
cmake -S . -B /tmp/b -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_ARCHITECTURES=90a ${PFX:-} >"$OUT/cmake.log" 2>&1 ||
  { tail -30 "$OUT/cmake.log"; exit 1; }
cmake --build /tmp/b -j16 >"$OUT/build.log" 2>&1 || { grep -A5 -E "error" "$OUT/build.log" | head -60; exit 1; }
/tmp/b/tests/kernels_gpu_test 2>&1 | tee "$OUT/gpu_test.txt"
/tmp/b/tests/kernels_ref_test 2>&1 | tail -1
mkdir -p /tmp/dump
/tmp/b/bench/bench_kernels -J "$OUT/bench_kernels.json" "${1:-all}" /tmp/dump 2>&1 | tee "$OUT/bench.txt"
if [ "${1:-all}" = move ] || [ "${1:-all}" = all ]; then
  python3 bench/torch_ref.py /tmp/dump 2>&1 | tee "$OUT/torch.txt"
fi
# the CLI end to end: a Zipf trace, the planner's balanced plan, replay
B=/tmp/b
if [ "${1:-all}" = all ] || [ "${1:-all}" = cli ]; then
  $B/bench/bench_kernels trace /tmp/z.mpt
  $B/moeplace plan /tmp/z.mpt --gpus 8 --strategy balanced -q -o /tmp/zb.json
  $B/moeplace replay /tmp/z.mpt --plan /tmp/zb.json -b 512 -e 16384 -f 2 -J "$OUT/replay.json" 2>&1 | tee "$OUT/replay.txt"
  $B/moeplace plan tests/data/small.mpt --gpus 8 --redundant 32 -q -o /tmp/sb.json
  $B/moeplace replay tests/data/small.mpt --plan /tmp/sb.json -b 64 -e 224 --layers 0:2 -n 5
  $B/moeplace replay tests/data/small.mpt --plan /tmp/sb.json --dtype fp8 --replica random -n 5 -G 0
  $B/moeplace replay --calibrate -o "$OUT/cost.json"
  ctest --test-dir /tmp/b -j8 2>&1 | tail -4
  # the kernels are a module that only replay loads: --version touches no CUDA
  ldd $B/moeplace | grep -c -E "cuda|cublas|nccl" || true
  ls -la $B/moeplace_kernels.so 2>&1 | tail -1
fi
# sanitizers: compute-sanitizer on the GPU test, and the host code under
# ASan+UBSan with the kernels (replay with the CPU check, plan with replicas)
if [ "${1:-all}" = sanitize ]; then
  timeout 300 compute-sanitizer --tool memcheck --leak-check full --error-exitcode 9 $B/tests/kernels_gpu_test 2>&1 | tail -4
  timeout 300 compute-sanitizer --tool racecheck --error-exitcode 9 $B/tests/kernels_gpu_test 2>&1 | tail -4
  cmake -S . -B /tmp/ba -DMP_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CUDA_ARCHITECTURES=90a ${PFX:-} >/dev/null 2>&1
  cmake --build /tmp/ba -j16 --target moeplace kernels_gpu_test >"$OUT/build_asan.log" 2>&1 || tail -20 "$OUT/build_asan.log"
  export ASAN_OPTIONS=protect_shadow_gap=0:detect_leaks=1
  /tmp/ba/tests/kernels_gpu_test 2>&1 | tail -2
  /tmp/ba/moeplace plan tests/data/small.mpt --gpus 8 --redundant 32 -q -o /tmp/sb.json
  /tmp/ba/moeplace replay tests/data/small.mpt --plan /tmp/sb.json -b 100 -e 224 -f 2 -n 3 --dtype fp8 --replica random --format csv
  echo "asan replay rc=$?"
  /tmp/ba/moeplace replay --calibrate -o /tmp/c.json -n 3 -q
  echo "asan calibrate rc=$?"
fi
