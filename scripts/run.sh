#!/usr/bin/env bash
# The main job on this machine: installs what is missing, builds, runs an all-reduce and an
# all-to-all sweep of every algorithm, and writes results and curves to results/runs/<time>/.
#   scripts/run.sh [--ranks N] [--max-bytes SIZE] [--out DIR]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
source scripts/common.sh

ranks=$(( jobs < 2 ? 2 : jobs ))
max_bytes=16M
out="results/runs/$(date -u +%Y%m%dT%H%M%SZ)"
usage_error() { echo "run.sh: error: $*" >&2; exit 2; }
# Every option is checked here, before anything is installed or built.
while [ $# -gt 0 ]; do
  case "$1" in
    --ranks|--max-bytes|--out)
      [ $# -ge 2 ] && [ -n "$2" ] || usage_error "$1 needs a value (see --help)"
      case "$1" in
        --ranks) ranks="$2" ;;
        --max-bytes) max_bytes="$2" ;;
        --out) out="$2" ;;
      esac
      shift 2 ;;
    -h|--help) sed -n '2,4p' "$0"; exit 0 ;;
    *) usage_error "unknown option '$1' (see --help)" ;;
  esac
done
[[ "$ranks" =~ ^[0-9]+$ ]] && [ "${#ranks}" -le 6 ] && [ "$ranks" -ge 1 ] ||
  usage_error "--ranks '$ranks': expected a whole number of ranks, at least 1"
[[ "$max_bytes" =~ ^[0-9]+[KMGT]?$ ]] ||
  usage_error "--max-bytes '$max_bytes': expected a size such as 16M (K/M/G/T = 1024^k)"
[ ! -e "$out" ] || [ -d "$out" ] || usage_error "--out '$out' exists and is not a folder"

# Ranks bound to cores when each can have one (a rank the scheduler moves mid-point measures the
# move); more ranks than cores float.
bind=none
if [ "$ranks" -le "$(nproc)" ]; then bind=core; fi

# Ctrl-C or SIGTERM: the run is ended (collbench keeps the rows measured, marked incomplete) and
# this script exits 130 or 143. Open MPI's mpirun, signalled itself, would exit 1 (the code of
# wrong results), so the signal is forwarded to it and its status replaced.
interrupted=0
child=0
on_signal() {
  interrupted=$1
  if [ "$child" != 0 ]; then kill -TERM "$child" 2>/dev/null || true; fi
}
trap 'on_signal 130' INT
trap 'on_signal 143' TERM
trap 'on_signal 129' HUP
launch() {
  local rc=0
  "$@" &
  child=$!
  wait "$child" || rc=$?
  while kill -0 "$child" 2>/dev/null; do wait "$child" || rc=$?; done
  child=0
  if [ "$interrupted" != 0 ]; then
    echo "run.sh: interrupted; results so far in $out (marked incomplete)" >&2
    exit "$interrupted"
  fi
  return "$rc"
}

scripts/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$jobs" --target collbench
mkdir -p "$out"

for coll in allreduce alltoall; do
  echo "== $coll, $ranks ranks, 4 B .. $max_bytes, every algorithm =="
  launch mpirun -np "$ranks" --bind-to "$bind" build/bench/collbench "$coll" --algo all -b 4 \
    -e "$max_bytes" -f 4 -n 20 -w 5 --json "$out/$coll.json" --csv "$out/$coll.csv"
done

if [ -x scripts/collbench-plot ]; then
  "$COLLBENCH_PYTHON" scripts/collbench-plot "$out/allreduce.json" "$out/alltoall.json" -o "$out"
fi
echo "results and curves: $out"
