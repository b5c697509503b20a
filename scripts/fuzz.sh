#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz/) with clang into build-fuzz and runs each for a
# bounded time, then prints the executions per target.
#   scripts/fuzz.sh [--seconds N] [--jobs N] [--no-build] [--build-dir DIR] [TARGET...]
# (default: 30 s, every target, build-fuzz; `scripts/test.sh --sanitize` builds them too, in
# build-asan, when clang is there: --no-build --build-dir build-asan runs those.)
# Targets: size cli result fabric workload calibration selection. Each starts from its seed corpus
# (tests/fuzz/corpus/<target>/); what it discovers stays in <build-dir>/corpus/<target>/.
# A crash, leak, timeout or out-of-memory input is copied to tests/fuzz/regressions/<target>/,
# where the unit test test_fuzz_regressions replays it in every build: fix the bug, keep the file.
# --jobs N runs N targets at once (default 1; each fuzzer is one process on one core).
# Exit code: 0 no crash, 1 a target crashed (or failed to run), 2 bad usage.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
source scripts/common.sh

seconds=30
parallel=1
build_it=1
build=build-fuzz
targets=()
all_targets=(size cli result fabric workload calibration selection)
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds="${2:-}"; shift ;;
    --no-build) build_it=0 ;;
    --build-dir) build="${2:-}"; shift ;;
    --jobs) parallel="${2:-}"; shift ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    -*) echo "fuzz.sh: unknown option '$1'" >&2; exit 2 ;;
    *) targets+=("$1") ;;
  esac
  shift
done
[[ "$seconds" =~ ^[1-9][0-9]*$ ]] || { echo "fuzz.sh: --seconds needs a positive integer" >&2; exit 2; }
[[ "$parallel" =~ ^[1-9][0-9]*$ ]] || { echo "fuzz.sh: --jobs needs a positive integer" >&2; exit 2; }
[ ${#targets[@]} -gt 0 ] || targets=("${all_targets[@]}")
for t in "${targets[@]}"; do
  [[ " ${all_targets[*]} " == *" $t "* ]] || {
    echo "fuzz.sh: unknown target '$t' (known: ${all_targets[*]})" >&2; exit 2; }
done

[ -n "$build" ] || { echo "fuzz.sh: --build-dir needs a directory" >&2; exit 2; }
if [ "$build_it" = 1 ]; then
  find_clang
  [ -n "$cxx" ] || { echo "fuzz.sh: clang++ not found (scripts/setup.sh --test installs it)" >&2; exit 1; }
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER="$cc" \
    -DCMAKE_CXX_COMPILER="$cxx" -DCOLLBENCH_FUZZ=ON -DCOLLBENCH_TESTS=OFF -DCOLLBENCH_NCCL=OFF \
    > "$build.configure.log" 2>&1 || { cat "$build.configure.log"; exit 1; }
  cmake --build "$build" -j"$jobs" --target "${targets[@]/#/fuzz_}"
fi

# Sanitizer reports end the run with a stack trace; leaks count as crashes.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

for t in "${targets[@]}"; do
  exe="$build/tests/fuzz/fuzz_$t"
  [ -x "$exe" ] || { echo "fuzz.sh: $exe is missing (run without --no-build)" >&2; exit 1; }
done

# One target: its log and exit status land in $build/fuzz_<t>.{log,rc}.
fuzz_one() {
  local t=$1 rc=0
  local work="$build/corpus/$t" artifacts="$build/artifacts/$t"
  mkdir -p "$work" "$artifacts"
  local dict=()
  [ -f "tests/fuzz/$t.dict" ] && dict=(-dict="tests/fuzz/$t.dict")
  "$build/tests/fuzz/fuzz_$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$artifacts/" "${dict[@]}" "$work" \
    "tests/fuzz/corpus/$t" > "$build/fuzz_$t.log" 2>&1 || rc=$?
  echo "$rc" > "$build/fuzz_$t.rc"
}
for t in "${targets[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$parallel" ]; do wait -n || true; done
  echo "== fuzz_$t for ${seconds} s"
  rm -f "$build/fuzz_$t.rc"
  fuzz_one "$t" &
done
wait

status=0
summary=()
for t in "${targets[@]}"; do
  work="$build/corpus/$t"
  artifacts="$build/artifacts/$t"
  log="$build/fuzz_$t.log"
  rc=$(cat "$build/fuzz_$t.rc" 2>/dev/null || echo 1)
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
  corpus=$(find "$work" -type f | wc -l)
  found=()
  for a in "$artifacts"/*; do
    [ -f "$a" ] || continue
    mkdir -p "tests/fuzz/regressions/$t"
    cp "$a" "tests/fuzz/regressions/$t/"
    found+=("tests/fuzz/regressions/$t/$(basename "$a")")
    rm -f "$a"
  done
  if [ "$rc" -ne 0 ] || [ ${#found[@]} -gt 0 ]; then
    status=1
    echo "fuzz_$t FAILED (exit $rc); the end of $log:"
    grep -E "ERROR|SUMMARY|runtime error|Assertion|terminate|what\(\)" "$log" | head -n 20 || true
    tail -n 15 "$log"
    for f in "${found[@]}"; do echo "  kept the input as $f (replayed by test_fuzz_regressions)"; done
  fi
  summary+=("$(printf '%-10s %12s %10s %8s   %s' "$t" "${execs:-?}" "${rate:-?}" "$corpus" \
    "$([ "$rc" -eq 0 ] && [ ${#found[@]} -eq 0 ] && echo ok || echo "CRASH: ${found[*]:-exit $rc}")")")
done

echo
printf '%-10s %12s %10s %8s   %s\n' target executions "exec/s" corpus result
printf '%s\n' "${summary[@]}"
exit "$status"
