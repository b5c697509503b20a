#!/usr/bin/env bash
# expect.sh RC PATTERN [--no-file FILE] [--json FILE] -- COMMAND...
# Runs COMMAND; passes when its exit code is RC ("nonzero" = anything but 0) and its output
# (stdout+stderr) matches the extended regex PATTERN ("" = anything). --no-file FILE: FILE must
# not exist afterwards. --json FILE: FILE must be a result file (schema v1) with records;
# (or a `workload run` file); then --json-complete true|false, --json-bytes B1,B2,... (the distinct record sizes, ascending)
# and --json-failure REGEX (matched against its failure text) check more of it.
set -u
want_rc="$1"; pattern="$2"; shift 2
no_file=""; json_file=""; json_complete=""; json_bytes=""; json_failure=""
while [ "$1" != "--" ]; do
  case "$1" in
    --no-file) no_file="$2"; shift 2 ;;
    --json) json_file="$2"; shift 2 ;;
    --json-complete) json_complete="$2"; shift 2 ;;
    --json-bytes) json_bytes="$2"; shift 2 ;;
    --json-failure) json_failure="$2"; shift 2 ;;
    *) echo "expect.sh: bad option $1"; exit 2 ;;
  esac
done
shift
[ -n "$no_file" ] && rm -f "$no_file"
[ -n "$json_file" ] && rm -f "$json_file"
out=$(timeout 240 "$@" 2>&1); rc=$?
echo "$out" | tail -n 40
echo "--- exit code $rc"
if [ "$want_rc" = nonzero ]; then
  [ "$rc" -ne 0 ] || { echo "FAIL: expected a non-zero exit code"; exit 1; }
else
  [ "$rc" -eq "$want_rc" ] || { echo "FAIL: expected exit code $want_rc"; exit 1; }
fi
[ "$rc" -ne 124 ] || { echo "FAIL: timed out (hang)"; exit 1; }
if [ -n "$pattern" ] && ! echo "$out" | grep -Eq -- "$pattern"; then
  echo "FAIL: output does not match /$pattern/"; exit 1
fi
if [ -n "$no_file" ] && [ -e "$no_file" ]; then echo "FAIL: $no_file was written"; exit 1; fi
if [ -n "$json_file" ]; then
  /usr/bin/python3 - "$json_file" "${json_complete}" "${json_bytes}" "${json_failure}" <<'PY' || exit 1
import json, re, sys
path, complete, sizes, failure = sys.argv[1:5]
d = json.load(open(path))
if d.get("schema") == "collbench.workload_run":
    # `collbench workload run`: one item per collective of the step, each checked.
    assert d["schema_version"] == 1, "schema_version"
    assert d["collectives"], "no collectives"
    if complete:
        assert d["complete"] is (complete == "true"), f"complete is {d['complete']}"
    for c in d["collectives"]:
        assert c["wrong"] == 0 and c["time_each_us"] > 0 and c["count"] > 0, c
    print(f"json ok: {len(d['collectives'])} collectives, complete={d['complete']}")
    sys.exit(0)
assert d["schema"] == "collbench.result" and d["schema_version"] == 1, "schema"
assert isinstance(d["records"], list) and d["records"], "no records"
if complete:
    want = complete == "true"
    assert d["complete"] is want, f"complete is {d['complete']}, expected {want}"
if sizes:
    got = ",".join(str(b) for b in sorted({r["bytes"] for r in d["records"]}))
    assert got == sizes, f"record sizes {got}, expected {sizes}"
if failure:
    assert re.search(failure, d["failure"] or ""), f"failure {d['failure']!r} does not match /{failure}/"
print(f"json ok: {len(d['records'])} records, complete={d['complete']}, failure={d['failure']!r}")
PY
fi
echo PASS
