#!/bin/sh
# fuzz_long.sh [SECONDS] [HARNESS...] - a longer libFuzzer run of every
# harness in tests/fuzz (or of the ones named), each for SECONDS
# of wall time on one core each (default 1800 = 30 minutes; the CPU column
# says how much CPU time each really got), over a copy of its seed corpus.
# Prints one row per harness (executions, coverage, crashes) for
# bench/RESULTS.md; a crash input is copied into tests/fuzz/corpus/NAME/ so
# that the ctest replay keeps it, and the script exits 1.
#   needs clang (scripts/deps.sh installs it); builds into build-fuzz/.
# Runs the harnesses two at a time on a 2-core machine (FUZZ_JOBS to change).
set -eu
cd "$(dirname "$0")/.."
secs=${1:-1800}
[ $# -gt 0 ] && shift
jobs=${FUZZ_JOBS:-$(nproc 2>/dev/null || echo 2)}
CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Debug -DMP_FUZZ=ON -DMP_KERNELS=OFF -DBUILD_TESTING=ON >/dev/null
cmake --build build-fuzz -j"$jobs" >/dev/null
names=$*
if [ -z "$names" ]; then
  for f in tests/fuzz/fuzz_*.c; do names="$names $(basename "$f" .c | sed 's/^fuzz_//')"; done
fi
out=$(mktemp -d)
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 ASAN_OPTIONS=detect_leaks=1
run_one() {
  r=$1
  work=$out/$r.corpus
  mkdir -p "$work" "$out/$r.crash"
  cp tests/fuzz/corpus/"$r"/* "$work"/ 2>/dev/null || true
  timer=""
  [ -x /usr/bin/time ] && timer="/usr/bin/time -f %U_%S -o $out/$r.cpu"
  rc=0
  $timer ./build-fuzz/tests/fuzz_"$r" -max_total_time="$secs" -rss_limit_mb=2048 -malloc_limit_mb=2048 -timeout=10 \
    -artifact_prefix="$out/$r.crash/" -print_final_stats=1 "$work" >"$out/$r.log" 2>&1 || rc=$?
  echo "$rc" >"$out/$r.rc"
}
set -- $names
while [ $# -gt 0 ]; do
  n=0
  while [ $# -gt 0 ] && [ $n -lt "$jobs" ]; do
    run_one "$1" &
    n=$((n + 1))
    shift
  done
  wait
done
fail=0
printf '| harness | wall s | CPU s | executions | exec/s | coverage (edges) | corpus | crashes |\n|---|---|---|---|---|---|---|---|\n'
for r in $names; do
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$out/$r.log" | grep -o '[0-9]*$' || echo "?")
  rate=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$out/$r.log" | grep -o '[0-9]*$' || echo "?")
  cov=$(grep -o 'cov: [0-9]*' "$out/$r.log" | tail -n 1 | grep -o '[0-9]*' || echo "?")
  cpu=$(tr _ ' ' <"$out/$r.cpu" 2>/dev/null | awk '{printf "%.0f", $1 + $2}' || echo "?")
  ncorp=$(ls "$out/$r.corpus" | wc -l)
  ncrash=$(ls "$out/$r.crash" | wc -l)
  printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "$r" "$secs" "$cpu" "$execs" "$rate" "$cov" "$ncorp" "$ncrash"
  if [ "$ncrash" -gt 0 ] || [ "$(cat "$out/$r.rc")" != 0 ]; then
    fail=1
    for c in "$out/$r.crash"/*; do [ -f "$c" ] && cp "$c" tests/fuzz/corpus/"$r"/; done
    grep -m 5 -A 15 'ERROR\|SUMMARY' "$out/$r.log" >&2 || tail -n 30 "$out/$r.log" >&2
  fi
done
echo "machine: $(uname -m), $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(clang --version | head -n 1)"
rm -rf "$out"
exit $fail
