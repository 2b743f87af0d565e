#!/bin/sh
# deps_test.sh SRC - scripts/deps.sh against stand-in id, dpkg-query,
# apt-get and sudo (nothing is installed): what it asks apt-get for with and
# without --man, MP_WITH_MAN=1 and --fuzz, that it calls no sudo as root,
# uses sudo when not root, and says what to do when neither is there.
set -u
src=$1
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
fail=0
bin=$tmp/bin
mkdir "$bin"
for t in grep sh env; do ln -s "$(command -v $t)" "$bin/$t"; done
printf '#!/bin/sh\necho "${FAKE_UID:-0}"\n' >"$bin/id"
printf '#!/bin/sh\nexit 1\n' >"$bin/dpkg-query" # nothing installed
printf '#!/bin/sh\necho "apt-get $*" >>"$LOG"\n' >"$bin/apt-get"
chmod +x "$bin"/id "$bin"/dpkg-query "$bin"/apt-get
withsudo=$tmp/sudo
mkdir "$withsudo"
printf '#!/bin/sh\nprintf "sudo " >>"$LOG"\n"$@"\n' >"$withsudo/sudo"
chmod +x "$withsudo/sudo"
# run NAME WANT-STATUS PATH [ENV...] -- ARGS: the log in $tmp/NAME
run() {
  name=$1 want=$2 path=$3
  shift 3
  envs=""
  while [ "$1" != "--" ]; do envs="$envs $1"; shift; done
  shift
  # shellcheck disable=SC2086
  LOG=$tmp/$name PATH=$path env $envs sh "$src/scripts/deps.sh" "$@" 2>"$tmp/$name.err"
  rc=$?
  touch "$tmp/$name"
  [ $rc -eq "$want" ] || { echo "FAIL $name: exit $rc, want $want"; cat "$tmp/$name.err"; fail=1; }
}
has() { grep -q -- "$2" "$tmp/$1" || { echo "FAIL $1: no '$2' in: $(cat "$tmp/$1")"; fail=1; }; }
lacks() { ! grep -q -- "$2" "$tmp/$1" || { echo "FAIL $1: '$2' in: $(cat "$tmp/$1")"; fail=1; }; }
run root 0 "$bin:$withsudo" --
has root "^apt-get install .*libcjson-dev"
lacks root "sudo"
lacks root " clang"
lacks root "man-db"
run fuzz 0 "$bin" -- --fuzz
has fuzz "^apt-get install .* clang"
lacks fuzz "man-db"
run man 0 "$bin" -- --man
has man "^apt-get install .* man-db"
lacks man " clang"
run man_env 0 "$bin" MP_WITH_MAN=1 --
has man_env "^apt-get install .* man-db"
run user 0 "$bin:$withsudo" FAKE_UID=1000 --
has user "^sudo apt-get install"
run user_nosudo 1 "$bin" FAKE_UID=1000 --
lacks user_nosudo "apt-get"
grep -q "not root and no sudo: run as root: apt-get install" "$tmp/user_nosudo.err" ||
  { echo "FAIL user_nosudo: $(cat "$tmp/user_nosudo.err")"; fail=1; }
run bad 2 "$bin" -- --nosuch
[ $fail -eq 0 ] && echo "deps.sh ok"
exit $fail
