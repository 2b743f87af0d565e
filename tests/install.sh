#!/bin/sh
# install.sh CMAKE BUILD SRC FAKE_KERNELS - `cmake --install BUILD --prefix P`
# into a temporary P puts the binary in P/bin, every man page of man/ in
# P/share/man/man1 or man5, and (in a build with CUDA kernels) the kernels
# module in P/lib/moeplace/, where the installed binary finds it; the
# installed binary runs and `man -w` finds its page.  Without man (bare
# Debian; scripts/deps.sh --man installs it) the rest is checked, then the
# test is skipped (77).
set -u
cmake=$1 build=$2 src=$3 fake=$4
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
P=$tmp/prefix
fail=0
bad() { echo "FAIL: $*"; fail=1; }
"$cmake" --install "$build" --prefix "$P" >"$tmp/log" 2>&1 || { cat "$tmp/log"; bad "cmake --install failed"; exit 1; }
[ -x "$P/bin/moeplace" ] || bad "no executable $P/bin/moeplace"
for page in "$src"/man/*.[1-8]; do
  name=$(basename "$page")
  sec=${name##*.}
  cmp -s "$page" "$P/share/man/man$sec/$name" || bad "man page $name not installed in share/man/man$sec"
done
v=$("$P/bin/moeplace" --version) || bad "installed moeplace --version failed"
case "$v" in "moeplace "[0-9]*) echo "ok $v" ;; *) bad "--version said '$v'" ;; esac
# the installed binary finds the kernels module in ../lib/moeplace/; a build
# without CUDA kernels installs none, and a stand-in is put there instead
mod=$P/lib/moeplace/moeplace_kernels.so
gpu=0
command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1 && gpu=1
if [ -f "$mod" ]; then
  echo "ok kernels module installed"
  expect="moeplace replay: no CUDA GPU found: "
else
  mkdir -p "$P/lib/moeplace" && cp "$fake" "$mod"
  expect="moeplace replay: no CUDA GPU found: fake kernels module, no device"
  gpu=0
fi
if [ $gpu -eq 0 ]; then
  env -u MOEPLACE_KERNELS "$P/bin/moeplace" replay "$src/tests/data/small.mpt" --plan linear -e 64 2>"$tmp/err"
  rc=$?
  case "$(cat "$tmp/err")" in
  "$expect"*) [ $rc -eq 1 ] && echo "ok the installed binary loads lib/moeplace/moeplace_kernels.so" ||
    bad "replay exit $rc" ;;
  *) cat "$tmp/err"; bad "the installed binary did not load $mod" ;;
  esac
fi
[ $fail -eq 0 ] || exit 1
# a "minimized" Ubuntu has a man that only prints how to unminimize: not man-db
if ! command -v man >/dev/null 2>&1 || ! man --version 2>/dev/null | grep -q '^man '; then
  echo "man is not installed (sh scripts/deps.sh --man): skipping man -w"
  exit 77
fi
w=$(MANPATH=$P/share/man man -w moeplace 2>&1)
[ "$w" = "$P/share/man/man1/moeplace.1" ] || bad "MANPATH=$P/share/man man -w moeplace said '$w'"
w=$(MANPATH=$P/share/man man -w 5 mpt 2>&1)
[ "$w" = "$P/share/man/man5/mpt.5" ] || bad "man -w 5 mpt said '$w'"
[ $fail -eq 0 ] && echo "ok man -w finds moeplace(1) and mpt(5)"
exit $fail
