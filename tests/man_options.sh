#!/bin/sh
# man_options.sh MOEPLACE SRCDIR [-u] - the OPTIONS section of every command's
# man page (.Sh OPTIONS up to the next .Sh) must be what `moeplace help --mdoc
# CMD` makes from the option table (cli/options.def).  -u rewrites the pages'
# sections from it instead of comparing.
set -u
# one collation and message language everywhere: `ls` and `sort` order must not
# depend on the machine's locale
export LC_ALL=C
bin=$1 src=$2 update=${3:-}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
fail=0
for cmd in $("$bin" --help | sed -n 's/^  \([a-z]*\)  .*/\1/p'); do
  [ "$cmd" = help ] && continue
  page=$src/man/moeplace-$cmd.1
  [ -f "$page" ] || { echo "$cmd: no man page $page"; fail=1; continue; }
  "$bin" help --mdoc "$cmd" >"$tmp/gen" || { echo "$cmd: help --mdoc failed"; fail=1; continue; }
  grep -q '^\.Sh OPTIONS$' "$page" || { echo "$page: no .Sh OPTIONS section"; fail=1; continue; }
  # the page without its OPTIONS section (before, after) and the section itself
  awk -v sec="$tmp/sec" -v rest="$tmp/rest" '
    /^\.Sh / { in_opt = ($0 == ".Sh OPTIONS"); if (in_opt) { print ".\\\" OPTIONS" > rest } }
    { if (in_opt) print > sec; else print > rest }' "$page"
  if [ "$update" = -u ]; then
    awk -v gen="$tmp/gen" '$0 == ".\\\" OPTIONS" { while ((getline l < gen) > 0) print l; next } { print }' \
      "$tmp/rest" >"$page"
  elif ! diff -u "$tmp/sec" "$tmp/gen" >"$tmp/diff"; then
    echo "$page: OPTIONS differs from 'moeplace help --mdoc $cmd' (regenerate: tests/man_options.sh BIN . -u)"
    cat "$tmp/diff"
    fail=1
  fi
done
exit $fail
