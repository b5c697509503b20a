#!/usr/bin/python3
"""Checks a collbench result file from an emulated cluster of NODES nodes x PER ranks.

usage: check_results.py FILE NODES PER HOST_PREFIX COLLECTIVE [ALGORITHM...]
The file must follow results/schema/result-v1.schema.json (required fields, types checked here
without the jsonschema package), record the nodes (provenance and topology), every record must
have run on NODES nodes with 0 wrong elements, and every ALGORITHM named must appear.
"""
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SCHEMA = os.path.join(HERE, "..", "..", "results", "schema", "result-v1.schema.json")

TYPES = {"object": dict, "array": list, "string": str, "boolean": bool, "null": type(None),
         "number": (int, float), "integer": int}


def check_schema(value, schema, path, errors):
    """The subset of JSON Schema the result schema uses: type, required, properties, items,
    enum, const, minimum."""
    if "const" in schema and value != schema["const"]:
        errors.append(f"{path}: {value!r} is not {schema['const']!r}")
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{path}: {value!r} not in {schema['enum']}")
    if "type" in schema:
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        ok = any(isinstance(value, TYPES[t]) and not (t in ("integer", "number") and isinstance(value, bool))
                 for t in types)
        if not ok:
            errors.append(f"{path}: {type(value).__name__} is not {types}")
            return
    if "minimum" in schema and isinstance(value, (int, float)) and value < schema["minimum"]:
        errors.append(f"{path}: {value} below {schema['minimum']}")
    if isinstance(value, dict):
        for key in schema.get("required", []):
            if key not in value:
                errors.append(f"{path}: missing '{key}'")
        for key, sub in schema.get("properties", {}).items():
            if key in value:
                check_schema(value[key], sub, f"{path}.{key}", errors)
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            check_schema(item, schema["items"], f"{path}[{i}]", errors)


def main():
    path, nodes, per, prefix, collective = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), \
        sys.argv[4], sys.argv[5]
    want_algos = set(sys.argv[6:])
    with open(path) as f:
        doc = json.load(f)
    with open(SCHEMA) as f:
        schema = json.load(f)
    errors = []
    check_schema(doc, schema, "$", errors)
    ranks = nodes * per
    prov = doc.get("provenance", {})
    if prov.get("nodes") != nodes:
        errors.append(f"provenance.nodes is {prov.get('nodes')}, want {nodes}")
    if prov.get("ranks") != ranks:
        errors.append(f"provenance.ranks is {prov.get('ranks')}, want {ranks}")
    want_hosts = [f"{prefix}-node{r // per}" for r in range(ranks)]
    if prov.get("hostnames") != want_hosts:
        errors.append(f"provenance.hostnames is {prov.get('hostnames')}, want {want_hosts}")
    topo = doc.get("topology")
    if not isinstance(topo, dict) or "error" in topo:
        errors.append(f"no topology recorded: {topo!r}")
    else:
        if topo.get("nodes") != nodes:
            errors.append(f"topology.nodes is {topo.get('nodes')}, want {nodes}")
        if topo.get("leaders") != [n * per for n in range(nodes)]:
            errors.append(f"topology.leaders is {topo.get('leaders')}")
        hosts = [e.get("host") for e in topo.get("rank_map", [])]
        if hosts != want_hosts:
            errors.append(f"topology.rank_map hosts are {hosts}")
    if not doc.get("complete"):
        errors.append(f"run incomplete: {doc.get('failure')}")
    records = doc.get("records", [])
    if not records:
        errors.append("no records")
    seen = set()
    for i, r in enumerate(records):
        seen.add(r.get("algorithm"))
        where = f"record {i} ({r.get('algorithm')}, {r.get('bytes')} B)"
        if r.get("collective") != collective:
            errors.append(f"{where}: collective {r.get('collective')}")
        if r.get("nodes") != nodes or r.get("ranks") != ranks:
            errors.append(f"{where}: ran on {r.get('ranks')} ranks / {r.get('nodes')} nodes")
        if r.get("wrong") != 0:
            errors.append(f"{where}: {r.get('wrong')} wrong elements, first {r.get('first_wrong')}")
    missing = want_algos - seen
    if missing:
        errors.append(f"algorithms missing from the records: {sorted(missing)} (seen {sorted(seen)})")
    if errors:
        print(f"result check FAILED ({path}):\n  " + "\n  ".join(errors[:40]))
        return 1
    print(f"result check passed: {len(records)} records, algorithms {sorted(seen)}, "
          f"{nodes} nodes x {per} ranks, 0 wrong elements")
    return 0


if __name__ == "__main__":
    sys.exit(main())
