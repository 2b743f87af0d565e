#!/bin/sh
# deps.sh [--man] [--fuzz] - installs whichever of moeplace's Debian packages
# are missing.  Idempotent: a second run installs nothing.  Needs root, or
# sudo when not root (a bare Debian 12 has no sudo: run it as root there).
#   --man   also man-db, to read the installed pages with man(1) (or MP_WITH_MAN=1)
#   --fuzz  also clang, for the libFuzzer build (-DMP_FUZZ=ON)
set -eu
pkgs="build-essential cmake pkg-config libcjson-dev zlib1g-dev libcmocka-dev libzip-dev gnuplot-nox mandoc"
[ "${MP_WITH_MAN:-0}" = 1 ] && pkgs="$pkgs man-db"
for a in "$@"; do
  case "$a" in
  --man) pkgs="$pkgs man-db" ;;
  --fuzz) pkgs="$pkgs clang" ;;
  *)
    echo "usage: sh scripts/deps.sh [--man] [--fuzz]" >&2
    exit 2
    ;;
  esac
done
missing=""
for p in $pkgs; do
  case " $missing " in *" $p "*) continue ;; esac
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "deps.sh: installing$missing" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if ! command -v sudo >/dev/null 2>&1; then
    echo "deps.sh: not root and no sudo: run as root: apt-get install$missing" >&2
    exit 1
  fi
  SUDO=sudo
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
