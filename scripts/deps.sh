#!/bin/sh
# deps.sh - installs whichever of moeplace's Debian packages are missing.
# Idempotent: a second run installs nothing.  Needs root (or sudo) on Debian 12.
set -eu
pkgs="build-essential cmake pkg-config libcjson-dev zlib1g-dev libcmocka-dev libzip-dev gnuplot-nox mandoc clang"
missing=""
for p in $pkgs; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "deps.sh: installing$missing" >&2
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
