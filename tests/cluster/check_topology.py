#!/usr/bin/python3
"""Checks a `collbench topo --json` file from an emulated cluster of NODES nodes x PER ranks.

usage: check_topology.py FILE NODES PER HOST_PREFIX
Node i is named HOST_PREFIX-node<i> (scripts/emulate-cluster.sh) and mpirun places ranks by
node (ppr:PER:node), so rank r sits on node r // PER with local rank r % PER.
"""
import json
import sys


def main():
    path, nodes, per, prefix = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    with open(path) as f:
        doc = json.load(f)
    errors = []

    def expect(what, got, want):
        if got != want:
            errors.append(f"{what}: got {got!r}, want {want!r}")

    expect("schema", doc.get("schema"), "collbench.topology")
    t = doc["topology"]
    ranks = nodes * per
    expect("nodes", t["nodes"], nodes)
    expect("ranks", t["ranks"], ranks)
    expect("ranks_per_node", t["ranks_per_node"], [per] * nodes)
    expect("leaders", t["leaders"], [n * per for n in range(nodes)])
    expect("node_map length", len(t["node_map"]), nodes)
    for n, node in enumerate(t["node_map"]):
        expect(f"node {n} host", node["host"], f"{prefix}-node{n}")
        expect(f"node {n} leader", node["leader"], n * per)
        first, last = n * per, n * per + per - 1
        expect(f"node {n} ranks", node["ranks"], str(first) if per == 1 else f"{first}-{last}")
        if node["hardware"] is None:
            errors.append(f"node {n}: no hardware description")
    expect("rank_map length", len(t["rank_map"]), ranks)
    for r, entry in enumerate(t["rank_map"]):
        expect(f"rank {r} rank", entry["rank"], r)
        expect(f"rank {r} node", entry["node"], r // per)
        expect(f"rank {r} local_rank", entry["local_rank"], r % per)
        expect(f"rank {r} host", entry["host"], f"{prefix}-node{r // per}")
        if not entry["cpuset"]:
            errors.append(f"rank {r}: empty cpuset")
    if t["discovery_ms"]["max"] <= 0:
        errors.append("discovery_ms.max is not positive")
    if errors:
        print("topology check FAILED:\n  " + "\n  ".join(errors))
        return 1
    print(f"topology check passed: {nodes} nodes x {per} ranks, leaders {t['leaders']}, "
          f"discovery {t['discovery_ms']['max']:.1f} ms max wall, "
          f"{t['discovery_ms'].get('cpu_max', 0):.1f} ms max CPU")
    return 0


if __name__ == "__main__":
    sys.exit(main())
