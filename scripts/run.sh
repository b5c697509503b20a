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
while [ $# -gt 0 ]; do
  case "$1" in
    --ranks) ranks="$2"; shift 2 ;;
    --max-bytes) max_bytes="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    -h|--help) sed -n '2,4p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown option '$1'" >&2; exit 2 ;;
  esac
done

scripts/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$jobs" --target collbench
mkdir -p "$out"

for coll in allreduce alltoall; do
  echo "== $coll, $ranks ranks, 4 B .. $max_bytes, every algorithm =="
  mpirun -np "$ranks" --bind-to none build/bench/collbench "$coll" --algo all -b 4 -e "$max_bytes" \
    -f 4 -n 20 -w 5 --json "$out/$coll.json" --csv "$out/$coll.csv"
done

if [ -x scripts/collbench-plot ]; then
  "$COLLBENCH_PYTHON" scripts/collbench-plot "$out/allreduce.json" "$out/alltoall.json" -o "$out"
fi
echo "results and curves: $out"
