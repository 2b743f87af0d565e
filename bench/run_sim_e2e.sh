#!/bin/sh
# run_sim_e2e.sh TRACE [MOEPLACE...] - end-to-end `moeplace sim` on a file,
# -j 1 and -j 2 interleaved (1,2,1,2,1,2) for each binary given (default
# build/moeplace), with the load average before each run; prints the median
# wall and user+sys seconds per binary and thread count, and the ratio of the
# -j 2 to the -j 1 median wall.  Outputs of -j 1 and -j 2 must be identical.
set -e
trace=$1
shift
[ $# -gt 0 ] || set -- build/moeplace
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
lscpu | head -n 8
for rep in 1 2 3; do
  for bin in "$@"; do
    for j in 1 2; do
      load=$(cut -d' ' -f1 /proc/loadavg)
      /usr/bin/time -f "%e %U %S" -o "$tmp/t" "$bin" sim "$trace" --strategy eplb --gpus 32 --nodes 4 \
        --redundant 32 --no-baseline -j $j -q --format json -o "$tmp/out$j.json"
      echo "$bin j$j load $load $(cat "$tmp/t")" | tee -a "$tmp/runs"
    done
    cmp "$tmp/out1.json" "$tmp/out2.json"
  done
done
med() { sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
for bin in "$@"; do
  for j in 1 2; do
    w=$(grep "^$bin j$j " "$tmp/runs" | awk '{print $5}' | med)
    c=$(grep "^$bin j$j " "$tmp/runs" | awk '{print $6 + $7}' | med)
    echo "$bin -j $j: median wall $w s, median cpu $c s"
  done
done | tee "$tmp/med"
awk '/-j 1:/ {m = $6} /-j 2:/ {printf "%s: -j 2 / -j 1 median wall = %.2f\n", $1, $6 / m}' "$tmp/med"
# Per-thread CPU seconds from perf samples (cpu-clock, which the neighbours'
# load does not inflate): the busiest thread of the -j 2 run bounds its wall
# time on free cores; its ratio to the whole -j 1 run is the cpu-bound ratio.
if command -v perf >/dev/null 2>&1; then
  bin=$(eval echo "\${$#}")
  for j in 1 2; do
    perf record -q -F 1000 -o "$tmp/p$j.data" "$bin" sim "$trace" --strategy eplb --gpus 32 --nodes 4 \
      --redundant 32 --no-baseline -j $j -q --format json -o "$tmp/out$j.json" 2>/dev/null
    perf report -i "$tmp/p$j.data" --sort pid --stdio -F sample,pid 2>/dev/null | grep -v '^#' |
      awk -v j=$j 'NF >= 2 {s[NR] = $1; t += $1} END {m = 0; for (i in s) if (s[i] > m) m = s[i];
        printf "%d\n", j == 1 ? t : m}' > "$tmp/c$j"
    echo "-j $j: $(perf report -i "$tmp/p$j.data" --sort pid --stdio -F sample,pid 2>/dev/null | grep -v '^#' |
      awk 'NF >= 2' | sort -rn | head -n 3 | awk '{printf "%s %.2f s; ", $2, $1 / 1000}')"
  done
  echo "cpu-bound ratio (busiest thread at -j 2 / all threads at -j 1): $(awk -v a=$(cat "$tmp/c2") -v b=$(cat "$tmp/c1") 'BEGIN {printf "%.2f", a / b}')"
fi
