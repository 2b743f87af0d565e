#!/bin/sh
# quick.sh main|test - the README's two Quick start commands.
#   main  installs what is missing, builds, and runs the main job on the
#         built-in default input
#   test  installs what is missing, builds, and runs the whole test suite
# Extra CMake flags may come in $MP_CMAKE_FLAGS; the build goes to build/.
set -eu
cd "$(dirname "$0")/.."
what=${1:-main}
sh scripts/deps.sh
jobs=$(nproc 2>/dev/null || echo 2)
# shellcheck disable=SC2086
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo ${MP_CMAKE_FLAGS:-} >/dev/null
cmake --build build -j"$jobs" >/dev/null
case "$what" in
main)
  ./build/moeplace report -j "$jobs"
  ;;
test)
  ctest --test-dir build --output-on-failure -j"$jobs"
  ;;
*)
  echo "usage: scripts/quick.sh main|test" >&2
  exit 2
  ;;
esac
