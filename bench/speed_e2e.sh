#!/bin/sh
# speed_e2e.sh OLD NEW [RUNS [STEPS]] - whole-process speed of `moeplace gen`
# and `moeplace sim` on one core (-j 1), a new binary against an old one in
# the same run (issue 14), their runs interleaved (old, new, old, new, ...).
#
#   gen: 100,000 tokens x 58 layers of deepseek-v3 with gate weights
#        (gen --steps 10 --tokens-per-step 10000), in M token-layers per
#        CPU-second of the process;
#   sim: a deepseek-v3 trace of STEPS x 10,000 tokens (default 25) replayed
#        through `plan --gpus 64 --redundant 64`, with and without the linear
#        baseline, in M trace assignments per CPU-second.
#
# Prints the median user+sys seconds of RUNS runs (default 5) per binary and
# case, the rates and new/old speed-ups; exits 1 when the new binary's
# outputs differ from the old one's (the .mpt bytes, the sim JSON).  Public
# tools only (/usr/bin/time).  Example, from a checkout with build/ made and
# main built aside in /tmp/main-build:
#   sh bench/speed_e2e.sh /tmp/main-build/moeplace build/moeplace 5
set -e
old=$1
new=$2
runs=${3:-5}
steps=${4:-25}
[ -x "$old" ] && [ -x "$new" ] || { echo "usage: speed_e2e.sh OLD NEW [RUNS [STEPS]]" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "# $(uname -m), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(nproc) cores," \
  "load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u '+%Y-%m-%d %H:%M UTC')"
"$new" gen --preset deepseek-v3 --steps "$steps" --tokens-per-step 10000 -j 2 -q -o "$tmp/big.mpt"
"$new" plan "$tmp/big.mpt" --gpus 64 --redundant 64 -q -o "$tmp/plan.json" >/dev/null
bad=0
# one timed run: case name, binary tag, then the command; user+sys seconds to $tmp/runs
timed() {
  c=$1 tag=$2
  shift 2
  /usr/bin/time -f "%U %S" -o "$tmp/t" "$@" >/dev/null
  echo "$c $tag $(awk '{print $1 + $2}' "$tmp/t")" >>"$tmp/runs"
}
i=0
while [ "$i" -lt "$runs" ]; do
  for tag in old new; do
    eval bin=\$$tag
    timed gen $tag "$bin" gen --steps 10 --tokens-per-step 10000 -j 1 -q -o "$tmp/g_$tag.mpt"
    timed sim $tag "$bin" sim "$tmp/big.mpt" --plan "$tmp/plan.json" -j 1 -q -o "$tmp/s_$tag.json"
    timed sim-no-baseline $tag "$bin" sim "$tmp/big.mpt" --plan "$tmp/plan.json" --no-baseline -j 1 -q \
      -o "$tmp/n_$tag.json"
  done
  for f in g:mpt s:json n:json; do
    cmp -s "$tmp/${f%%:*}_old.${f#*:}" "$tmp/${f%%:*}_new.${f#*:}" || { echo "DIFFERENT: ${f%%:*} outputs" >&2; bad=1; }
  done
  i=$((i + 1))
done
assign=$(awk -v s="$steps" 'BEGIN {print s * 10000 * 58 * 8}')
med() { sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
for c in gen sim sim-no-baseline; do
  o=$(grep "^$c old " "$tmp/runs" | awk '{print $3}' | med)
  n=$(grep "^$c new " "$tmp/runs" | awk '{print $3}' | med)
  if [ "$c" = gen ]; then work=5800000 unit="M token-layers/s"; else work=$assign unit="M assignments/s"; fi
  awk -v c="$c" -v o="$o" -v n="$n" -v w="$work" -v u="$unit" -v r="$runs" 'BEGIN {
    printf "%-16s old %.2f s (%.1f %s), new %.2f s (%.1f %s), new/old speed %.2fx, median of %d\n",
      c, o, w / o / 1e6, u, n, w / n / 1e6, u, o / n, r }'
done
[ "$bad" -eq 0 ] && echo "outputs identical (gen .mpt bytes, sim JSON)"
exit "$bad"
