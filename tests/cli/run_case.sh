#!/bin/sh
# run_case.sh MOEPLACE SRCDIR CASEDIR - runs one CLI test case.
#
# A case is a folder holding `cmd` (a shell script, run in an empty temporary
# folder with $MOEPLACE, $DATA = tests/data and $SRC = the source tree) and
# what it must produce:
#   exit.exp     the exit status (default 0); a script exiting 77 is a skip
#   stdout.exp   exact standard output        stderr.exp   exact standard error
#   stdout.grep  extended regexps, one a line, each must match some line
#   stderr.grep  the same for standard error
# A stream with neither a .exp nor a .grep file must be empty.
# MP_UPDATE=1 rewrites the .exp files that exist from what the case produced,
# and creates the missing ones: stdout.exp / stderr.exp for a non-empty
# stream that has no .grep, exit.exp for a non-zero exit status.
set -u
# one collation and message language everywhere: `ls` and `sort` order must not
# depend on the machine's locale
export LC_ALL=C
bin=$1 src=$2 case=$3
update=${MP_UPDATE:-0}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
cd "$tmp" || exit 1
MOEPLACE=$bin DATA=$src/tests/data SRC=$src sh "$case/cmd" >"$tmp/.stdout" 2>"$tmp/.stderr" </dev/null
rc=$?
# the source tree's path reads as $SRC, so expectations hold no checkout path
for s in stdout stderr; do
  awk -v src="$src" '{ while ((i = index($0, src)) > 0) $0 = substr($0, 1, i - 1) "$SRC" substr($0, i + length(src)); print }' \
    "$tmp/.$s" >"$tmp/.$s.n" && mv "$tmp/.$s.n" "$tmp/.$s"
done
[ "$rc" -eq 77 ] && { echo "skipped: $(tail -n 1 "$tmp/.stderr")"; exit 77; }
exp=0
[ -f "$case/exit.exp" ] && exp=$(cat "$case/exit.exp")
fail=0
if [ "$update" = 1 ] && [ "$rc" != "$exp" ]; then
  echo "$rc" >"$case/exit.exp"
  echo "wrote $case/exit.exp"
elif [ "$rc" != "$exp" ]; then
  echo "exit status $rc, expected $exp"
  fail=1
fi
for s in stdout stderr; do
  if [ -f "$case/$s.exp" ]; then
    if [ "$update" = 1 ]; then cp "$tmp/.$s" "$case/$s.exp"
    elif ! diff -u "$case/$s.exp" "$tmp/.$s"; then fail=1; fi
  fi
  if [ -f "$case/$s.grep" ]; then
    while IFS= read -r pat || [ -n "$pat" ]; do
      [ -z "$pat" ] && continue
      grep -qE -- "$pat" "$tmp/.$s" || { echo "$s has no line matching /$pat/"; fail=1; }
    done <"$case/$s.grep"
  fi
  if [ ! -f "$case/$s.exp" ] && [ ! -f "$case/$s.grep" ] && [ -s "$tmp/.$s" ]; then
    if [ "$update" = 1 ]; then
      cp "$tmp/.$s" "$case/$s.exp"
      echo "wrote $case/$s.exp"
    else
      echo "$s is not empty, and the case has no $s.exp or $s.grep"
      fail=1
    fi
  fi
done
if [ $fail -ne 0 ]; then
  echo "--- stdout (head)"; head -n 40 "$tmp/.stdout"
  echo "--- stderr (head)"; head -n 40 "$tmp/.stderr"
fi
exit $fail
