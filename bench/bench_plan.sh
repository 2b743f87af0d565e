#!/bin/sh
# bench_plan.sh [BUILD_DIR] - runs bench_plan pinned to one core, then our
# Python EPLB reimplementation (bench/eplb_ref.py) on the same inputs, and
# prints C-vs-Python ratios.  Installs NumPy (and tries PyTorch CPU) with pip
# when missing.
set -eu
build=${1:-build}
src=$(cd "$(dirname "$0")/.." && pwd)
python3 -c "import numpy" 2>/dev/null || pip install --quiet numpy
python3 -c "import torch" 2>/dev/null ||
  timeout 120 pip install --quiet torch --index-url https://download.pytorch.org/whl/cpu 2>/dev/null ||
  echo "PyTorch could not be installed: the NumPy reimplementation is the baseline"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT INT TERM
real=$src/../shared/data/real
[ -d "$real" ] || real=/work/shared/data/real
pin=""
command -v taskset >/dev/null && pin="taskset -c 0"
$pin "$build/bench/bench_plan" --dump "$dir" --real "$real"
$pin python3 "$src/bench/eplb_ref.py" "$dir"
