#!/usr/bin/env bash
# Installs what is missing, builds from scratch and runs every test, then prints the summary.
#   scripts/test.sh [--sanitize] [-L LABEL_REGEX]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
source scripts/common.sh

build=build-test
cmake_args=(-DCMAKE_BUILD_TYPE=Release)
ctest_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --sanitize) build=build-asan; cmake_args=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DCOLLBENCH_SANITIZE=ON) ;;
    -L) ctest_args+=(-L "$2"); shift ;;
    -h|--help) sed -n '2,3p' "$0"; exit 0 ;;
    *) echo "test.sh: unknown option '$1'" >&2; exit 2 ;;
  esac
  shift
done

scripts/setup.sh --test
rm -rf "$build"
cmake -S . -B "$build" "${cmake_args[@]}"
cmake --build "$build" -j"$jobs"
cd "$build"
ctest --output-on-failure --timeout 600 "${ctest_args[@]}"
