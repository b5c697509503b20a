#!/usr/bin/env bash
# ctest `cluster`: `collbench topo` across NODES emulated nodes x PER ranks finds the nodes, the
# leaders and the rank map. Exit 77 (skipped) where the emulated cluster cannot run.
# usage: cluster_topology.sh COLLBENCH NODES PER
set -euo pipefail
collbench=$1 nodes=$2 per=$3
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cluster="$here/../../scripts/emulate-cluster.sh"
export CB_CLUSTER_NAME="cbt${nodes}x${per}"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

"$cluster" down >/dev/null 2>&1 || true  # a cluster left by a killed earlier run
rc=0
"$cluster" with "$nodes" 1gbit -n "$per" -t 120 -- "$collbench" topo --json "$out/topo.json" \
  >"$out/stdout" 2>"$out/stderr" || rc=$?
cat "$out/stdout"
if ((rc == 77)); then
  cat "$out/stderr"
  exit 77
fi
if ((rc != 0)); then
  echo "collbench topo failed with exit status $rc:"
  cat "$out/stderr"
  exit 1
fi
grep -q "on $nodes nodes ($per per node)" "$out/stdout" ||
  { echo "the printed map does not say '$nodes nodes ($per per node)'"; exit 1; }
/usr/bin/python3 "$here/check_topology.py" "$out/topo.json" "$nodes" "$per" "$CB_CLUSTER_NAME"
