#!/usr/bin/env bash
# Installs what is missing, builds from scratch and runs every test, then prints the summary.
#   scripts/test.sh [--sanitize] [-L LABEL_REGEX]
# --sanitize: AddressSanitizer + UndefinedBehaviorSanitizer build in build-asan; runs the unit
# tests and the mpirun subset labelled `sanitize` (unless -L is given). Leaks inside Open MPI's
# own libraries are suppressed by tests/sanitizers/lsan.supp; nothing of collbench is.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
source scripts/common.sh

build=build-test
cmake_args=(-DCMAKE_BUILD_TYPE=Release)
ctest_args=()
sanitize=0
while [ $# -gt 0 ]; do
  case "$1" in
    --sanitize) build=build-asan; sanitize=1
                cmake_args=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DCOLLBENCH_SANITIZE=ON) ;;
    -L) ctest_args+=(-L "$2"); shift ;;
    -h|--help) sed -n '2,6p' "$0"; exit 0 ;;
    *) echo "test.sh: unknown option '$1'" >&2; exit 2 ;;
  esac
  shift
done

if [ "$sanitize" = 1 ]; then
  [ ${#ctest_args[@]} -gt 0 ] || ctest_args=(-L 'unit|sanitize')
  # Any report fails the test; leaks are checked at exit of every process, mpirun's ranks too.
  export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:exitcode=23"
  export LSAN_OPTIONS="suppressions=$root/tests/sanitizers/lsan.supp:print_suppressions=0"
  export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
fi

scripts/setup.sh --test
rm -rf "$build"
cmake -S . -B "$build" "${cmake_args[@]}"
cmake --build "$build" -j"$jobs"
cd "$build"
ctest --output-on-failure --timeout 600 "${ctest_args[@]}"
