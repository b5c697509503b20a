#!/usr/bin/env bash
# expect_one_error.sh PATTERN -- COMMAND...
# Passes when COMMAND exits with code 2 and prints exactly one "collbench: error: ..." line,
# which matches the extended regex PATTERN (launcher banners, e.g. mpirun's, may follow).
set -u
pattern="$1"; shift
[ "$1" = "--" ] && shift
out=$(timeout 240 "$@" 2>&1); rc=$?
echo "$out" | tail -n 30
echo "--- exit code $rc"
[ "$rc" -eq 2 ] || { echo "FAIL: expected exit code 2"; exit 1; }
n=$(echo "$out" | grep -c '^collbench: error:')
[ "$n" -eq 1 ] || { echo "FAIL: expected one 'collbench: error:' line, got $n"; exit 1; }
echo "$out" | grep '^collbench: error:' | grep -Eq -- "$pattern" ||
  { echo "FAIL: the error line does not match /$pattern/"; exit 1; }
echo PASS
