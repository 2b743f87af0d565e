#!/bin/sh
# holdout.sh [BUILD] [SET] - the held-out acceptance suite (bench/bench_holdout.c)
# as Markdown rows for bench/RESULTS.md: SET is test (default), dev or all.
# Run from the source tree; needs ../shared/data/real (the real load matrices)
# and bench/data (ESFT task shares, made by bench/data/make_esft.py).
set -eu
build=${1:-build}
set=${2:-test}
exec "$build/bench/bench_holdout" -M --set "$set" --esft bench/data --real ../shared/data/real
