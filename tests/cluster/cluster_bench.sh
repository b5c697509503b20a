#!/usr/bin/env bash
# ctest `cluster`: every algorithm of COLLECTIVE checked across NODES emulated nodes x PER ranks,
# and the result file valid and recording the nodes. Exit 77 (skipped) where the emulated
# cluster cannot run.
# usage: cluster_bench.sh COLLBENCH NODES PER COLLECTIVE ALGORITHM...
set -euo pipefail
collbench=$1 nodes=$2 per=$3 collective=$4
shift 4
algos=("$@")
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cluster="$here/../../scripts/emulate-cluster.sh"
export CB_CLUSTER_NAME="cb-${collective}-${nodes}x${per}"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

"$cluster" down >/dev/null 2>&1 || true  # a cluster left by a killed earlier run
rc=0
# Small sizes (the check is what matters), two check rounds with fresh data, both placements.
"$cluster" with "$nodes" 1gbit -n "$per" -t 240 -- "$collbench" "$collective" -a all \
  -b 8 -e 192K -f 5 -n 2 -w 1 -c 2 -T 60 --json "$out/result.json" \
  >"$out/stdout" 2>"$out/stderr" || rc=$?
if ((rc == 77)); then
  cat "$out/stderr"
  exit 77
fi
tail -n 25 "$out/stdout"
if ((rc != 0)); then
  echo "collbench $collective failed with exit status $rc:"
  cat "$out/stderr"
  exit 1
fi
/usr/bin/python3 "$here/check_results.py" "$out/result.json" "$nodes" "$per" "$CB_CLUSTER_NAME" \
  "$collective" "${algos[@]}"
