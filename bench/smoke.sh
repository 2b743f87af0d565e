#!/bin/sh
# smoke.sh BENCH [ARGS...] - runs a benchmark once on a tiny workload (ctest
# bench/<name>): it must exit 0, print the machine line and a table, and
# write -J JSON that parses (python3 when there is one) and holds rows.
set -u
bin=$1
shift
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
cd "$tmp" || exit 1
"$bin" -n 1 -J out.json "$@" >out.txt 2>err.txt
rc=$?
fail=0
[ $rc -eq 0 ] || { echo "exit status $rc"; fail=1; }
grep -q '^# machine: .* cores, .* build, ' out.txt || { echo "no machine line"; fail=1; }
[ ! -s err.txt ] || { echo "stderr is not empty"; fail=1; }
if [ ! -s out.json ]; then
  echo "no JSON written"; fail=1
elif command -v python3 >/dev/null 2>&1; then
  python3 - out.json <<'PY' || fail=1
import json, sys
d = json.load(open(sys.argv[1]))
assert d["rows"], "no rows"
assert all(r["name"] for r in d["rows"]), "a row without a name"
assert all(c["ok"] for c in d["checks"]), "a failed check"
for k in ("cpu", "cores", "compiler", "build_type", "date"):
    assert k in d["machine"], "machine has no " + k
PY
else
  grep -q '"rows":[[:space:]]*\[[[:space:]]*{' out.json || { echo "JSON without rows"; fail=1; }
fi
if [ $fail -ne 0 ]; then
  echo "--- stdout"; head -n 60 out.txt
  echo "--- stderr"; head -n 20 err.txt
fi
exit $fail
