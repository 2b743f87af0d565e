#!/bin/sh
# run_sim_bench.sh BUILD_DIR - bench_sim and its NumPy baseline in one run
# (installs numpy with pip when it is missing).  Timings are noisy on a shared
# machine: compare the ratio of rates measured in the same run.
set -e
build=${1:-build}
[ $# -gt 0 ] && shift
here=$(dirname "$0")
python3 -c "import numpy" 2>/dev/null || python3 -m pip install --quiet numpy
echo "== bench_sim"; "$build/bench/bench_sim" -J /tmp/bench_sim.$$.json "$@"
echo "== numpy"; python3 "$here/sim_numpy.py" | tee /tmp/bench_np.$$
# the 1-thread row (its median over -n RUNS)
c=$(python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
print([r for r in d["rows"] if r["name"] == "threads 1"][0]["figures"]["M assign/cpu-s"])' /tmp/bench_sim.$$.json)
n=$(sed -n 's/.*; cpu [0-9.]* s, \([0-9.]*\) M assignments per cpu-second.*/\1/p' /tmp/bench_np.$$ | head -n 1)
echo "== ratio (per cpu-second, 1 thread): C $c / NumPy $n = $(python3 -c "print(round($c / $n, 1))")"
rm -f /tmp/bench_sim.$$.json /tmp/bench_np.$$
