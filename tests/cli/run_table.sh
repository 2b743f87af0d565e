#!/bin/sh
# run_table.sh MOEPLACE SRCDIR TABLE NAME - runs one row of a table of
# one-line failure cases (tests/cli/failures.tsv).
#
# A row is four fields separated by tabs:
#   name <TAB> exit status <TAB> the one line expected on stderr <TAB> command
# Lines that are empty or start with # are comments.  The command runs with
# `sh -c` in an empty temporary folder with $MOEPLACE, $DATA = tests/data and
# $SRC = the source tree, like a tests/cli/<case>/cmd script.  It must exit
# with the status given, write exactly the expected line to stderr (an empty
# field: nothing) and nothing to stdout; a command that fails must also leave
# no output behind: no file named out* and no *mptmp* temporary.
# MP_UPDATE=1 rewrites the row's exit status and stderr line from what the
# command did (only when it wrote at most one line to stderr).
set -u
# one collation and message language everywhere: `ls` and `sort` order must not
# depend on the machine's locale
export LC_ALL=C
bin=$1 src=$2 table=$3 name=$4
row=$(awk -F '\t' -v n="$name" '$1 == n && !/^#/ { print; exit }' "$table")
[ -n "$row" ] || { echo "$table: no row named $name"; exit 1; }
nf=$(printf '%s\n' "$row" | awk -F '\t' '{ print NF }')
[ "$nf" -eq 4 ] || { echo "$table: row $name has $nf tab-separated fields, not 4"; exit 1; }
want_rc=$(printf '%s\n' "$row" | cut -f 2)
want_err=$(printf '%s\n' "$row" | cut -f 3)
cmd=$(printf '%s\n' "$row" | cut -f 4-)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
mkdir "$tmp/w"
cd "$tmp/w" || exit 1
MOEPLACE=$bin DATA=$src/tests/data SRC=$src sh -c "$cmd" >"$tmp/stdout" 2>"$tmp/stderr" </dev/null
rc=$?
cd "$tmp" || exit 1
if [ "${MP_UPDATE:-0}" = 1 ]; then
  [ "$(wc -l <"$tmp/stderr")" -le 1 ] || { echo "stderr has several lines: not a table case"; cat "$tmp/stderr"; exit 1; }
  got_err=$(cat "$tmp/stderr")
  # one writer at a time: ctest -j runs rows in parallel
  until mkdir "$table.lock" 2>/dev/null; do sleep 0.1; done
  awk -F '\t' -v OFS='\t' -v n="$name" -v rc="$rc" -v e="$got_err" \
    '$1 == n && !/^#/ && !done { $2 = rc; $3 = e; done = 1 } { print }' "$table" >"$table.new" &&
    mv "$table.new" "$table"
  rmdir "$table.lock"
fi
fail=0
if [ "$rc" != "$want_rc" ]; then
  echo "exit status $rc, expected $want_rc"
  fail=1
fi
if [ -n "$want_err" ]; then printf '%s\n' "$want_err" >"$tmp/stderr.exp"; else : >"$tmp/stderr.exp"; fi
if [ "${MP_UPDATE:-0}" != 1 ] && ! diff -u "$tmp/stderr.exp" "$tmp/stderr"; then fail=1; fi
if [ -s "$tmp/stdout" ]; then
  echo "stdout is not empty:"
  head -n 20 "$tmp/stdout"
  fail=1
fi
if [ "$rc" -ne 0 ]; then
  left=$(ls -A "$tmp/w" | grep -E '^out|mptmp')
  [ -z "$left" ] || { echo "a failed command left output behind: $left"; fail=1; }
fi
exit $fail
