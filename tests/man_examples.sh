#!/bin/sh
# man_examples.sh MOEPLACE SRC [PAGE...] - runs the examples of the man pages
# PAGE (names under man/, e.g. moeplace-plan.1; default: every page).  ctest
# runs it once per page (man/examples/PAGE).
# An example is a display block in the EXAMPLES section whose lines start
# with "$ "; they run in order (per page) in a temporary folder, with
# `moeplace` on PATH, $DATA = tests/data and $SRC = the source tree.  A line
# ending in "# fails" must exit non-zero; every other line must exit 0.
export LC_ALL=C # `ls` and `sort` order must not depend on the locale
bin=$(cd "$(dirname "$1")" && pwd)/$(basename "$1") src=$(cd "$2" && pwd)
shift 2
if [ $# -eq 0 ]; then
  set -- "$src"/man/*.[1-8]
else
  for p; do shift; set -- "$@" "$src/man/$p"; done
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
mkdir "$tmp/bin"
ln -s "$bin" "$tmp/bin/moeplace"
PATH="$tmp/bin:$PATH"
export PATH DATA="$src/tests/data" SRC="$src"
fail=0 n=0
for page; do
  [ -f "$page" ] || { echo "$page: no such man page"; fail=1; continue; }
  work="$tmp/$(basename "$page")"
  mkdir "$work"
  # lines after ".Sh EXAMPLES" up to the next .Sh that start with "$ "
  sed -n '/^\.Sh EXAMPLES/,/^\.Sh [^E]/p' "$page" | sed -n 's/^\$ //p' | sed 's/\\e/\\/g; s/\\-/-/g' >"$work/.examples"
  [ -s "$work/.examples" ] || ! grep -q '^\.Sh EXAMPLES' "$page" || { echo "$(basename "$page"): no examples (\"$ \" lines under .Sh EXAMPLES)"; fail=1; }
  while IFS= read -r line; do
    n=$((n + 1))
    case "$line" in
    *"# fails") want=fail ;;
    *) want=ok ;;
    esac
    (cd "$work" && sh -c "$line") >"$work/.out" 2>&1
    rc=$?
    if { [ $want = ok ] && [ $rc -ne 0 ]; } || { [ $want = fail ] && [ $rc -eq 0 ]; }; then
      echo "$(basename "$page"): example failed (exit $rc): $line"
      sed 's/^/  | /' "$work/.out" | head -n 20
      fail=1
    fi
  done <"$work/.examples"
done
echo "$n man-page examples run"
exit $fail
