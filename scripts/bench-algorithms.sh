#!/usr/bin/env bash
# Own algorithms against the MPI library's collectives, measured side by side in one run.
#
# For each rank count (default 2 and 4) and collective, runs `collbench <coll> --algo all,auto`
# (every own algorithm, the native MPI collective and the --algo auto choice) over one size
# sweep, writes the JSON results, and prints per size the busbw ratio own/native of every
# algorithm, the best own one, and the issue's targets met or missed. Ratios use the median
# (p50) busbw, which a noisy shared machine disturbs least; --stat mean uses the mean instead.
#
# usage: scripts/bench-algorithms.sh [--build DIR] [--ranks "2 4"] [-b MIN] [-e MAX]
#                                    [--out DIR] [--stat p50|mean] [--report FILE.json]
#                                    [-- extra collbench flags]
#   e.g. scripts/bench-algorithms.sh --build build-algo -- -n 20 -w 5 --segment 256K
# Table only, from existing results: scripts/bench-algorithms.sh --table-only DIR
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
build="$root/build"
ranks="2 4"
min_bytes="4"
max_bytes="64M"
out=""
stat="p50"
report=""
table_only=""
extra=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --build) build="$2"; shift 2 ;;
    --ranks) ranks="$2"; shift 2 ;;
    -b) min_bytes="$2"; shift 2 ;;
    -e) max_bytes="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --stat) stat="$2"; shift 2 ;;
    --report) report="$2"; shift 2 ;;
    --table-only) table_only="$2"; shift 2 ;;
    --) shift; extra=("$@"); break ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "bench-algorithms.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
py=/usr/bin/python3
[[ -x "$py" ]] || py=python3

if [[ -z "$table_only" ]]; then
  exe="$build/bench/collbench"
  [[ -x "$exe" ]] || { echo "bench-algorithms.sh: $exe not found (build first, or pass --build DIR)" >&2; exit 2; }
  out="${out:-$root/results/runs/algorithms-$(date -u +%Y%m%dT%H%M%SZ)}"
  mkdir -p "$out"
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
  for np in $ranks; do
    mpi=(mpirun -np "$np" --bind-to none)
    # More ranks than cores: let waiting ranks yield, or they steal each other's core.
    if (( np > $(nproc) )); then mpi+=(--oversubscribe --mca mpi_yield_when_idle 1); fi
    for coll in allreduce alltoall; do
      json="$out/$coll-np$np.json"
      echo "== $coll, $np ranks -> $json" >&2
      "${mpi[@]}" "$exe" "$coll" --algo all,auto -b "$min_bytes" -e "$max_bytes" --placement out \
        --json "$json" -q "${extra[@]}"
    done
  done
else
  out="$table_only"
fi

"$py" - "$out" "$stat" "$report" <<'PY'
import glob, json, os, sys

out, stat, report = sys.argv[1], sys.argv[2], sys.argv[3]
NATIVE = {"allreduce": "MPI_Allreduce", "alltoall": "MPI_Alltoall"}
MiB, KiB = 1 << 20, 1 << 10

def human(b):
    for unit, k in (("G", 1 << 30), ("M", MiB), ("K", KiB)):
        if b >= k and b % k == 0:
            return f"{b // k}{unit}"
    return f"{b}"

files = sorted(glob.glob(os.path.join(out, "*.json")))
if not files:
    sys.exit(f"bench-algorithms.sh: no JSON results in {out}")
summary, failed_targets = [], []
for path in files:
    with open(path) as f:
        doc = json.load(f)
    recs = [r for r in doc["records"] if r.get("repeat", 0) == 0]
    if not recs:
        continue
    coll = recs[0]["collective"]
    native = NATIVE[coll]
    ranks = recs[0]["ranks"]
    key = "busbw_p50_gbps" if stat == "p50" else "busbw_gbps"
    bw, wrong = {}, 0
    for r in recs:
        bw.setdefault(r["bytes"], {})[r["algorithm"]] = r[key]
        wrong += max(r.get("wrong", 0), 0)
    algos = sorted({r["algorithm"] for r in recs} - {native, "auto"})
    has_auto = any(r["algorithm"] == "auto" for r in recs)
    cols = algos + (["auto"] if has_auto else [])
    print(f"\n{coll}, {ranks} ranks: busbw ratio own/{native} ({stat}); {native} busbw in GB/s"
          f"{'' if doc.get('complete', True) else '  [RUN INCOMPLETE: ' + str(doc.get('failure')) + ']'}")
    head = f"{'size':>6} {native + ' GB/s':>18} " + " ".join(f"{a[:12]:>12}" for a in cols) + \
           f" {'best own':>18}"
    print(head)
    print("-" * len(head))
    for size in sorted(bw):
        row = bw[size]
        nat = row.get(native)
        if not nat:
            continue
        ratios = {a: row[a] / nat for a in cols if a in row}
        own = {a: v for a, v in ratios.items() if a != "auto"}
        best = max(own, key=own.get) if own else None
        cells = " ".join(f"{ratios[a]:>12.2f}" if a in ratios else f"{'-':>12}" for a in cols)
        best_cell = f"{best} {own[best]:.2f}" if best else "-"
        print(f"{human(size):>6} {nat:>18.3f} {cells} {best_cell:>18}")
        entry = {"collective": coll, "ranks": ranks, "bytes": size, "native_busbw": nat,
                 "ratios": ratios, "best": best}
        summary.append(entry)
        # The issue's targets.
        if best and coll == "allreduce" and size >= MiB and own[best] < 1.0:
            failed_targets.append(f"{coll} np{ranks} {human(size)}: best own {best} {own[best]:.2f} < 1.0")
        if coll == "allreduce" and size == 64 * MiB and "ring" in own and own["ring"] < 0.9:
            failed_targets.append(f"{coll} np{ranks} 64M: ring {own['ring']:.2f} < 0.9")
        if best and coll == "alltoall" and size >= 64 * KiB and own[best] < 0.9:
            failed_targets.append(f"{coll} np{ranks} {human(size)}: best own {best} {own[best]:.2f} < 0.9")
        if has_auto and best and "auto" in row and row["auto"] < 0.95 * row[best]:
            failed_targets.append(f"{coll} np{ranks} {human(size)}: auto {row['auto'] / row[best]:.2f} of best ({best})")
    if wrong:
        print(f"WRONG RESULTS: {wrong} wrong elements in {path}")
        failed_targets.append(f"{path}: {wrong} wrong elements")

print("\ntargets: " + ("all met" if not failed_targets else f"{len(failed_targets)} missed"))
for f in failed_targets:
    print("  missed: " + f)
if report:
    with open(report, "w") as f:
        json.dump({"stat": stat, "rows": summary, "missed": failed_targets}, f, indent=1)
PY
