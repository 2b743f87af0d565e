#!/bin/sh
# load.sh MOEPLACE SRC FAKE_OK FAKE_OLD - how the tool finds and loads the
# CUDA kernels module (cli/kernels.c), in every build, with no GPU needed:
# the binary links no CUDA library; a copy without a module beside it says
# "built without CUDA kernels"; MOEPLACE_KERNELS picks a module, which must
# load and have this ABI version; a module that finds no GPU says "no CUDA
# GPU found: <why>"; each in one line, exit 1.
set -u
moeplace=$1 src=$2 ok=$3 old=$4
data=$src/tests/data
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
fail=0
# expect NAME STATUS STDERR-PATTERN -- COMMAND... (a shell pattern of the one line)
expect() {
  name=$1 want_rc=$2 want=$3
  shift 4
  "$@" >"$tmp/out" 2>"$tmp/err"
  rc=$?
  got=$(cat "$tmp/err")
  match=0
  # shellcheck disable=SC2254
  case $got in $want) match=1 ;; esac
  if [ "$rc" != "$want_rc" ] || [ $match -ne 1 ] || [ -s "$tmp/out" ]; then
    echo "FAIL $name: exit $rc (want $want_rc), stderr:"
    cat "$tmp/err"
    echo "want: $want"
    fail=1
  else
    echo "ok $name"
  fi
}
if command -v ldd >/dev/null 2>&1; then
  if ldd "$moeplace" | grep -E 'libcuda|libcublas|libnccl'; then
    echo "FAIL: the binary links CUDA libraries (above)"
    fail=1
  else
    echo "ok links no CUDA library"
  fi
fi
cp "$moeplace" "$tmp/moeplace"
expect no-module 1 "moeplace replay: moeplace was built without CUDA kernels (no moeplace_kernels.so beside it or in ../lib/moeplace/)" -- \
  env -u MOEPLACE_KERNELS "$tmp/moeplace" replay "$data/small.mpt" --plan linear -e 64
expect no-module-nccl 1 "moeplace replay: moeplace was built without CUDA kernels (no moeplace_kernels.so beside it or in ../lib/moeplace/)" -- \
  env -u MOEPLACE_KERNELS "$tmp/moeplace" replay "$data/small.mpt" --plan linear --nproc 2 -e 64
expect no-gpu 1 "moeplace replay: no CUDA GPU found: fake kernels module, no device" -- \
  env MOEPLACE_KERNELS="$ok" "$moeplace" replay "$data/small.mpt" --plan linear -e 64
expect no-gpu-calibrate 1 "moeplace replay: no CUDA GPU found: fake kernels module, no device" -- \
  env MOEPLACE_KERNELS="$ok" "$moeplace" replay --calibrate -o "$tmp/cost.json"
expect no-nccl 1 "moeplace replay: the CUDA kernels were built without NCCL: no multi-GPU replay" -- \
  env MOEPLACE_KERNELS="$ok" "$moeplace" replay "$data/small.mpt" --plan linear --nproc 2 -e 64
expect old-abi 1 "moeplace replay: $old is not a moeplace kernels module of ABI version 1 (rebuild it with this moeplace)" -- \
  env MOEPLACE_KERNELS="$old" "$moeplace" replay "$data/small.mpt" --plan linear -e 64
echo "not a module" >"$tmp/text.so"
expect not-a-module 1 "moeplace replay: cannot load the CUDA kernels (MOEPLACE_KERNELS): $tmp/text.so: *" -- \
  env MOEPLACE_KERNELS="$tmp/text.so" "$moeplace" replay "$data/small.mpt" --plan linear -e 64
test ! -e "$tmp/cost.json" || { echo "FAIL: --calibrate wrote a file without a GPU"; fail=1; }
exit $fail
