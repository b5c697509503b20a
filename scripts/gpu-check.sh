#!/usr/bin/env bash
# The NCCL backend on a machine with NVIDIA GPUs. Builds collbench with COLLBENCH_NCCL=ON when
# needed, runs the checks below, and prints a table of every check: passed, FAILED (with the
# reason and its log), or skipped and why. Exits 1 when any check failed or was skipped, 0 only
# when all passed ("all checks passed"); otherwise it ends "passed N, failed F, skipped M: ...".
#
#   scripts/gpu-check.sh [--dry-run] [--no-build] [BUILD_DIR]
#     BUILD_DIR   default build-gpu; logs, result files and summary.md go to BUILD_DIR/gpu-check
#     --dry-run   print the plan (every check and its command) without building or running
#     --no-build  use BUILD_DIR as it is
# Environment: CUDA_ARCH (default 90; e.g. "80;90"), MPIRUN (default mpirun), GPUS (act as if
# this many GPUs were visible instead of counting them: for --dry-run, and 0 for the no-GPU path).
#
# Checks (G: GPUs needed; all ranks on this node, one GPU each):
#   native_<coll>          G>=1  1 rank, NCCL's own collective, all four collectives, 16 B to
#                                1 GiB (x4 steps, the last one 1 GiB), every dtype (all-reduce:
#                                every op), both placements, checked on the device
#   graph_<coll>           G>=1  the same through a CUDA graph (the check runs through the graph)
#   own_algorithms         G>=1  every collbench algorithm over the NCCL transport, 1 rank
#   large_count            G>=1  all-reduce of 2^31 + 2^20 one-byte elements (needs 24 GiB)
#   timing_sanity          G>=1  the 1 GiB single-rank all-reduce (a device copy) within physical
#                                bounds; the device test also compares event and wall time
#   device_test            G>=1  tests/test_gpu_device.cc: kernels against the host, every
#                                algorithm on up to 4 GPUs, CUDA graphs, event vs wall time
#   reduce_vs_copy         G>=1  reduction kernel >= 80% of a device copy's traffic rate
#   sanitizer_<tool>       G>=1  compute-sanitizer memcheck, initcheck, racecheck on a short run
#   fault_corrupt[_graph]  G>=1  a corrupted element is counted and named (exit 1)
#   fault_stall, fault_kill G>=1  a stalled rank ends the run (exit 3); a killed one too
#   badinput_*             G>=1  more ranks than GPUs, a repeated or absent --gpu-map GPU,
#                                --cuda-graph with MPI: one line, exit 2
#   multi_<coll>           G>=2  NCCL's collectives on min(G,8) ranks, 16 B to 1 GiB, + graph
#   multi_own_algorithms   G>=2  every own algorithm on min(G,8) ranks, send/recv sizes checked
#   multi_large_count      G>=2  2^31 + 2^20 elements on min(G,8) ranks
#   busbw_floor            G>=2  H100/H200: all-reduce busbw at 1 GiB >= 300 GB/s on 8 GPUs
#                                (a warning on other GPU counts; unknown GPUs: skipped)
#   gpu_map                G>=2  --gpu-map in reverse order: every rank on the GPU it names
#   ranks_sweep            G>=3  --ranks-sweep: one communicator per rank set
#   fault_*_np2            G>=2  stall in a collective, at communicator creation, at a split,
#                                a killed rank: exit 3 (or the kill), the rank named
# It takes about 4 minutes on one H200 after the build, under 10 on 8 GPUs.
set -uo pipefail

dry=0
build_it=1
build=""
for arg in "$@"; do
  case "$arg" in
    --dry-run) dry=1 ;;
    --no-build) build_it=0 ;;
    -h | --help) sed -n '2,41p' "$0"; exit 0 ;;
    -*) echo "gpu-check.sh: unknown option '$arg'" >&2; exit 2 ;;
    *) build=$arg ;;
  esac
done
root=$(cd "$(dirname "$0")/.." && pwd)
build=${build:-$root/build-gpu}
out=$build/gpu-check
arch=${CUDA_ARCH:-90}
mpirun=${MPIRUN:-mpirun}
py=/usr/bin/python3
[ -x "$py" ] || py=python3
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
cb=$build/bench/collbench
start=$(date +%s)

names=()
results=()
notes=()
record() { names+=("$1"); results+=("$2"); notes+=("$3"); }
elapsed() { echo $(($(date +%s) - start)); }

# --- GPUs: counted before anything is built ---
gpu_reason=""
if [ -n "${GPUS:-}" ]; then
  gpus=$GPUS
  [ "$gpus" -ge 1 ] || gpu_reason="GPUS=$GPUS"
elif command -v nvidia-smi >/dev/null 2>&1; then
  gpus=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU ' || true)
  [ "${gpus:-0}" -ge 1 ] || gpu_reason="nvidia-smi finds none: $(nvidia-smi -L 2>&1 | head -n 1)"
else
  gpus=0
  gpu_reason="no NVIDIA driver (no nvidia-smi)"
fi
gpus=${gpus:-0}
np=$((gpus < 8 ? gpus : 8))
gpu_name=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -n 1 || true)
gpu_mem_mib=$(nvidia-smi --query-gpu=memory.total --format=csv,noheader,nounits 2>/dev/null |
  sort -n | head -n 1 || true)
gpu_mem_mib=${gpu_mem_mib:-0}
sanitizer=$(command -v compute-sanitizer || true)
for c in /usr/local/cuda/bin/compute-sanitizer /usr/local/cuda/compute-sanitizer/compute-sanitizer; do
  [ -z "$sanitizer" ] && [ -x "$c" ] && sanitizer=$c
done

# check NAME [--gpus N] [--limit S] [--rc R] [--grep RE] [--json F] [--reach B] [--incomplete]
#       [--env VAR=VALUE] -- COMMAND...
# Runs COMMAND (time-limited, output in $out/NAME.log) unless fewer than N GPUs are visible,
# and records pass when its exit code is R ("nonzero": any but 0), its output matches RE, and
# the result file F (if given) is complete, has no wrong or unchecked record, and reaches B
# bytes (--incomplete: the file must say the run did not complete).
check() {
  local name=$1 need=1 limit=120 rc_want=0 re="" json="" reach=0 incomplete=0
  local envs=()
  shift
  while [ "$1" != "--" ]; do
    case "$1" in
      --gpus) need=$2; shift 2 ;;
      --limit) limit=$2; shift 2 ;;
      --rc) rc_want=$2; shift 2 ;;
      --grep) re=$2; shift 2 ;;
      --json) json=$2; shift 2 ;;
      --reach) reach=$2; shift 2 ;;
      --incomplete) incomplete=1; shift ;;
      --env) envs+=("$2"); shift 2 ;;
      *) echo "gpu-check.sh: bad check option $1" >&2; exit 2 ;;
    esac
  done
  shift
  if [ -n "$gpu_reason" ] && [ "$dry" = 0 ]; then
    record "$name" skip "no GPU visible ($gpu_reason)"; return
  fi
  if [ "$gpus" -lt "$need" ]; then
    [ "$dry" = 1 ] && echo "  $name: skipped (needs $need GPUs, $gpus visible)"
    record "$name" skip "needs $need GPUs, $gpus visible"; return
  fi
  if [ "$dry" = 1 ]; then
    echo "  $name (${limit} s, exit $rc_want): ${envs[*]:+${envs[*]} }$*"
    record "$name" plan ""; return
  fi
  echo "[$(elapsed) s] $name"
  [ -n "$json" ] && rm -f "$json"
  local t0 rc
  t0=$(date +%s)
  env "${envs[@]}" timeout "$limit" "$@" >"$out/$name.log" 2>&1
  rc=$?
  judge "$name" "$rc" $(($(date +%s) - t0)) "$limit" "$rc_want" "$re" "$json" "$reach" "$incomplete"
}

# judge NAME RC SECONDS LIMIT RC_WANT RE JSON REACH INCOMPLETE: records what a run's exit code,
# output ($out/NAME.log) and result file say.
judge() {
  local name=$1 rc=$2 took=$3 limit=$4 rc_want=$5 re=$6 json=$7 reach=$8 incomplete=$9 why=""
  if [ "$rc" = 124 ]; then
    why="timed out after $limit s (a hang?)"
  elif [ "$rc_want" = nonzero ] && [ "$rc" = 0 ]; then
    why="exit 0, expected non-zero"
  elif [ "$rc_want" != nonzero ] && [ "$rc" != "$rc_want" ]; then
    why="exit $rc, expected $rc_want"
  elif [ -n "$re" ] && ! grep -Eq -- "$re" "$out/$name.log"; then
    why="output lacks /$re/"
  elif [ -n "$json" ]; then
    why=$("$py" - "$json" "$reach" "$incomplete" <<'PY'
import json, sys
path, reach, incomplete = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1"
try:
    d = json.load(open(path))
except Exception as e:
    print(f"no result file ({e})"); sys.exit()
if incomplete:
    if d.get("complete"): print("the result file says complete")
    sys.exit()
recs = d.get("records", [])
bad = []
if not d.get("complete"): bad.append(f"incomplete: {d.get('failure')}")
if not recs: bad.append("no records")
wrong = sum(max(r["wrong"], 0) for r in recs)
if wrong: bad.append(f"{wrong} wrong elements")
if any(r["wrong"] < 0 for r in recs): bad.append("unchecked records")
if recs and max(r["bytes"] for r in recs) < reach:
    bad.append(f"largest size {max(r['bytes'] for r in recs)} B < {reach} B")
if any(not (r["time_us"]["min"] > 0 and r["time_us"]["p50"] <= r["time_us"]["max"]) for r in recs):
    bad.append("a time that is zero, negative or out of order")
print("; ".join(bad))
PY
)
  fi
  if [ -z "$why" ]; then
    record "$name" pass "${took} s"
  else
    record "$name" fail "$why (log: $out/$name.log)"
    tail -n 8 "$out/$name.log" | sed 's/^/    /'
  fi
}

# A check computed from earlier results: NAME NEED PYTHON-CODE ARGS... The code prints
# "pass: ...", "fail: ...", "warn: ..." (passes, with the warning) or "skip: ...".
derived() {
  local name=$1 need=$2 code=$3
  shift 3
  if [ -n "$gpu_reason" ] && [ "$dry" = 0 ]; then
    record "$name" skip "no GPU visible ($gpu_reason)"; return
  fi
  if [ "$gpus" -lt "$need" ]; then
    [ "$dry" = 1 ] && echo "  $name: skipped (needs $need GPUs, $gpus visible)"
    record "$name" skip "needs $need GPUs, $gpus visible"; return
  fi
  if [ "$dry" = 1 ]; then echo "  $name: computed from earlier results"; record "$name" plan ""; return; fi
  local line verdict
  line=$("$py" -c "$code" "$@" 2>&1 | tail -n 1)
  verdict=${line%%:*}
  case "$verdict" in
    pass | warn) record "$name" pass "${line#*: }" ;;
    skip) record "$name" skip "${line#*: }" ;;
    *) record "$name" fail "${line#*: }" ;;
  esac
}

if [ "$dry" = 1 ]; then
  echo "gpu-check.sh --dry-run: plan for $gpus GPU(s)${gpu_name:+ ($gpu_name)}, build in $build"
  echo "  build: scripts/setup.sh; cmake -DCOLLBENCH_NCCL=ON -DCMAKE_CUDA_ARCHITECTURES=$arch;" \
    "cmake --build (collbench test_gpu_device micro_cuda_reduce gpu_probe)"
fi

# --- build (only with a GPU: without one nothing below could run) ---
if [ "$dry" = 0 ] && [ -z "$gpu_reason" ] && [ "$build_it" = 1 ]; then
  mkdir -p "$out" || { echo "gpu-check.sh: cannot create $out" >&2; exit 2; }
  echo "[$(elapsed) s] build ($build, CUDA architectures $arch)"
  if ! command -v cmake >/dev/null 2>&1 || ! command -v "$mpirun" >/dev/null 2>&1; then
    "$root/scripts/setup.sh" >"$out/setup.log" 2>&1 || echo "  setup.sh failed (log: $out/setup.log)"
  fi
  if ! cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DCOLLBENCH_NCCL=ON \
    -DCMAKE_CUDA_ARCHITECTURES="$arch" >"$out/configure.log" 2>&1; then
    tail -n 20 "$out/configure.log"
    echo "gpu-check.sh: configure failed (log: $out/configure.log)" >&2
    exit 1
  fi
  if ! cmake --build "$build" -j"$(nproc)" --target collbench test_gpu_device micro_cuda_reduce \
    gpu_probe >"$out/build.log" 2>&1; then
    tail -n 30 "$out/build.log"
    echo "gpu-check.sh: build failed (log: $out/build.log)" >&2
    exit 1
  fi
  echo "[$(elapsed) s] built"
fi
[ "$dry" = 1 ] || mkdir -p "$out"
if [ "$dry" = 0 ] && [ -z "$gpu_reason" ]; then
  if ! probe=$("$build/tests/gpu_probe" 2>&1); then
    gpu_reason="the build cannot use the GPU: $probe"
  fi
fi
checks_start=$(date +%s)
mp1=("$mpirun" -np 1)
mpn=("$mpirun" -np "$np" --bind-to none)
G=$((1 << 30))
sweep=(-b 16 -e 1G -f 4 -n 10 -w 2 --check 1 -q)  # 16 B x 4^13 = 1 GiB: the last size is 1 GiB

# --- one rank ---
# ops_of COLL OPS: the -o flag for the collectives that reduce (the others would repeat per op).
ops_of() { case "$1" in allreduce | reducescatter) echo "-o $2" ;; esac; }
for coll in allreduce alltoall reducescatter allgather; do
  read -ra ops <<<"$(ops_of "$coll" all)"
  check "native_$coll" --limit 150 --json "$out/native_$coll.json" --reach "$G" -- \
    "${mp1[@]}" "$cb" "$coll" --backend nccl -d all "${ops[@]}" "${sweep[@]}" \
    --json "$out/native_$coll.json"
done
for coll in allreduce alltoall; do
  read -ra ops <<<"$(ops_of "$coll" sum,max)"
  check "graph_$coll" --limit 150 --json "$out/graph_$coll.json" --reach "$G" -- \
    "${mp1[@]}" "$cb" "$coll" --backend nccl --cuda-graph 3 -d f32,bf16,i8 "${ops[@]}" \
    "${sweep[@]}" --json "$out/graph_$coll.json"
done
check own_algorithms --limit 120 --json "$out/own_algorithms.json" -- \
  "${mp1[@]}" "$cb" allreduce --backend nccl -a all -d f32,bf16,i32 -o sum,max -b 8 -e 64M -f 8 \
  -n 5 -w 1 --check 1 -q --json "$out/own_algorithms.json"
if [ -n "$gpu_reason" ] || [ "$gpu_mem_mib" -ge 24576 ] || [ "$dry" = 1 ]; then
  check large_count --limit 120 --json "$out/large_count.json" --reach $((2 * G + (1 << 20))) -- \
    "${mp1[@]}" "$cb" allreduce --backend nccl -a nccl,ring -d u8 -o sum -b 2049M -e 2049M \
    -n 3 -w 1 --check 1 -q --json "$out/large_count.json"
else
  record large_count skip "needs 24 GiB of GPU memory, ${gpu_mem_mib} MiB here"
fi
# The single-rank out-of-place all-reduce is a device copy: 2 x 1 GiB of memory traffic.
derived timing_sanity 1 '
import json, sys
try:
    recs = json.load(open(sys.argv[1]))["records"]
except Exception as e:
    print(f"fail: no result ({e})"); sys.exit()
r = [x for x in recs if x["bytes"] == 1 << 30 and not x["in_place"] and x["dtype"] == "f32"]
if not r: print("fail: no 1 GiB f32 out-of-place record"); sys.exit()
gbps = r[0]["algbw_gbps"]
ok = 50 <= gbps <= 10000
print(("pass" if ok else "fail") + f": 1 GiB copy at {gbps:.0f} GB/s algbw (bounds 50-10000: "
      "events must bracket the work)")
' "$out/native_allreduce.json"
check device_test --limit 240 -- "$build/tests/test_gpu_device"
check reduce_vs_copy --limit 120 -- "$build/bench/micro/micro_cuda_reduce" \
  --benchmark_format=json --benchmark_out="$out/micro_cuda_reduce.json"
if [ "$dry" = 0 ] && [ -z "$gpu_reason" ]; then
  verdict=$("$py" - "$out/micro_cuda_reduce.json" <<'PY'
import json, sys
try:
    bench = json.load(open(sys.argv[1]))["benchmarks"]
except Exception as e:
    print(f"no result ({e})"); sys.exit()
rate = {b["name"]: b.get("mem_GBps", 0) for b in bench}
worst, where = 9.0, ""
for size in (1 << 28, 1 << 30):
    copy = rate.get(f"copy/{size}/manual_time")
    for name, r in rate.items():
        if copy and name.startswith("reduce/") and name.endswith(f"/{size}/manual_time"):
            if r / copy < worst: worst, where = r / copy, name
print("" if worst >= 0.8 else f"{where} at {worst:.0%} of the copy's rate (< 80%)")
PY
)
  if [ -n "$verdict" ] && [ "${results[-1]}" = pass ]; then
    results[-1]=fail
    notes[-1]=$verdict
  fi
fi

# compute-sanitizer: three short runs side by side (each tool slows the GPU work 10-100x).
if [ -n "$gpu_reason" ] || [ "$dry" = 1 ] || [ -z "$sanitizer" ]; then
  for tool in memcheck initcheck racecheck; do
    if [ -z "$sanitizer" ] && [ -z "$gpu_reason" ] && [ "$dry" = 0 ]; then
      record "sanitizer_$tool" skip "compute-sanitizer not found (PATH, /usr/local/cuda)"
    else
      check "sanitizer_$tool" --limit 150 -- "${mp1[@]}" compute-sanitizer --tool "$tool" \
        --error-exitcode 97 "$cb" allreduce --backend nccl -a nccl,ring -d f32,bf16 -b 1K \
        -e 64K -f 64 -n 2 -w 1 --check 1 --timeout 120 -q
    fi
  done
else
  # Side by side: each tool slows the GPU work 10-100x, and they share nothing.
  echo "[$(elapsed) s] sanitizer_memcheck, sanitizer_initcheck, sanitizer_racecheck"
  t0=$(date +%s)
  for tool in memcheck initcheck racecheck; do
    (
      timeout 150 "${mp1[@]}" "$sanitizer" --tool "$tool" --error-exitcode 97 "$cb" allreduce \
        --backend nccl -a nccl,ring -d f32,bf16 -b 1K -e 64K -f 64 -n 2 -w 1 --check 1 \
        --timeout 120 -q >"$out/sanitizer_$tool.log" 2>&1
      echo $? >"$out/sanitizer_$tool.rc"
    ) &
  done
  wait
  for tool in memcheck initcheck racecheck; do
    judge "sanitizer_$tool" "$(cat "$out/sanitizer_$tool.rc")" $(($(date +%s) - t0)) 150 0 \
      "SUMMARY: 0 (errors|hazards)" "" 0 0
  done
fi

check fault_corrupt --rc 1 --grep "wrong result: rank 0, first wrong element 5" \
  --env COLLBENCH_FAULT=corrupt:0:5 -- \
  "${mp1[@]}" "$cb" allreduce --backend nccl -b 64 -e 256 -n 2 -w 1
check fault_corrupt_graph --rc 1 --grep "wrong result: rank 0, first wrong element 5" \
  --env COLLBENCH_FAULT=corrupt:0:5 -- \
  "${mp1[@]}" "$cb" allreduce --backend nccl --cuda-graph 2 -a nccl,ring -b 64 -e 256 -n 2 -w 1
check fault_stall --limit 60 --rc 3 --grep "collbench: timeout: no progress" \
  --json "$out/fault_stall.json" --incomplete --env COLLBENCH_FAULT=stall:0:4K -- \
  "${mp1[@]}" "$cb" allreduce --backend nccl -b 1K -e 16K -f 4 -n 2 -w 1 --timeout 5 \
  --json "$out/fault_stall.json"
check fault_kill --limit 60 --rc nonzero --grep "signal 9|Killed|killed" \
  --json "$out/fault_kill.json" --incomplete --env COLLBENCH_FAULT=kill:0:4K -- \
  "${mp1[@]}" "$cb" allreduce --backend nccl -b 1K -e 16K -f 4 -n 2 -w 1 --timeout 20 \
  --json "$out/fault_kill.json"
check badinput_more_ranks_than_gpus --limit 60 --rc 2 \
  --grep "collbench: error: --backend nccl: .*(has no GPU of its own|both use GPU)" -- \
  "$mpirun" -np $((gpus + 1)) --bind-to none "$cb" allreduce --backend nccl -e 1K
check badinput_gpu_map_repeated --limit 60 --rc 2 --grep "GPU 0 is listed for node-local ranks" -- \
  "${mp1[@]}" "$cb" allreduce --backend nccl --gpu-map 0,0 -e 1K
check badinput_gpu_map_absent --limit 60 --rc 2 --grep "GPU 63 but only" -- \
  "${mp1[@]}" "$cb" allreduce --backend nccl --gpu-map 63 -e 1K
check badinput_graph_mpi --limit 60 --rc 2 --grep "cuda-graph needs --backend nccl" -- \
  "${mp1[@]}" "$cb" allreduce --cuda-graph 2 -e 1K

# --- several ranks, one GPU each ---
for coll in allreduce alltoall reducescatter allgather; do
  read -ra ops <<<"$(ops_of "$coll" sum,max)"
  check "multi_$coll" --gpus 2 --limit 150 --json "$out/multi_$coll.json" --reach "$G" -- \
    "${mpn[@]}" "$cb" "$coll" --backend nccl -d f32,bf16,i8 "${ops[@]}" "${sweep[@]}" \
    --json "$out/multi_$coll.json"
done
check multi_graph_allreduce --gpus 2 --limit 150 --json "$out/multi_graph_allreduce.json" \
  --reach "$G" -- "${mpn[@]}" "$cb" allreduce --backend nccl --cuda-graph 3 -a nccl,ring \
  -d f32 "${sweep[@]}" --json "$out/multi_graph_allreduce.json"
check multi_own_algorithms --gpus 2 --limit 180 --json "$out/multi_own_algorithms.json" \
  --env COLLBENCH_CHECK_P2P_SIZES=1 -- \
  "${mpn[@]}" "$cb" allreduce --backend nccl -a all -d f32,bf16 -b 8 -e 16M -f 8 -n 3 -w 1 \
  --check 1 -q --json "$out/multi_own_algorithms.json"
check multi_own_alltoall --gpus 2 --limit 120 --json "$out/multi_own_alltoall.json" \
  --env COLLBENCH_CHECK_P2P_SIZES=1 -- \
  "${mpn[@]}" "$cb" alltoall --backend nccl -a all -d f32 -b 8 -e 16M -f 8 -n 3 -w 1 \
  --check 1 -q --json "$out/multi_own_alltoall.json"
check multi_large_count --gpus 2 --limit 120 --json "$out/multi_large_count.json" \
  --reach $((2 * G + (1 << 20))) -- \
  "${mpn[@]}" "$cb" allreduce --backend nccl -d u8 -o sum -b 2049M -e 2049M -n 3 -w 1 -q \
  --json "$out/multi_large_count.json"
derived busbw_floor 2 '
import json, sys
try:
    d = json.load(open(sys.argv[1]))
except Exception as e:
    print(f"fail: no result ({e})"); sys.exit()
r = [x for x in d["records"] if x["bytes"] == 1 << 30 and not x["in_place"] and x["dtype"] == "f32"
     and x["op"] == "sum"]
if not r: print("fail: no 1 GiB f32 sum out-of-place record"); sys.exit()
busbw, n = r[0]["busbw_gbps"], r[0]["ranks"]
name = (d["provenance"].get("gpus") or [{}])[0].get("name", "")
if "H100" not in name and "H200" not in name:
    print(f"skip: no floor known for {name or "this GPU"} (busbw {busbw:.0f} GB/s on {n} GPUs)")
elif n != 8:
    print(f"warn: {busbw:.0f} GB/s busbw on {n} GPUs; the 300 GB/s floor is for 8 {name}")
else:
    print(("pass" if busbw >= 300 else "fail") + f": {busbw:.0f} GB/s busbw on 8 {name} (floor 300)")
' "$out/multi_allreduce.json"
reverse=$(seq $((np - 1)) -1 0 | paste -sd, -)
check gpu_map --gpus 2 --limit 90 --json "$out/gpu_map.json" -- \
  "${mpn[@]}" "$cb" allreduce --backend nccl --gpu-map "$reverse" -b 1K -e 1M -f 32 -n 3 -w 1 \
  --json "$out/gpu_map.json"
if [ "$dry" = 0 ] && [ "${results[-1]}" = pass ]; then
  mapped=$("$py" - "$out/gpu_map.json" "$np" <<'PY'
import json, sys
gpus, np = json.load(open(sys.argv[1]))["provenance"]["gpus"], int(sys.argv[2])
bad = [g for g in gpus if g["device"] != np - 1 - g["rank"]]
buses = {g["pci_bus_id"] for g in gpus}
print("" if not bad and len(buses) == np else f"ranks not on the GPUs --gpu-map names: {bad}")
PY
)
  [ -n "$mapped" ] && { results[-1]=fail; notes[-1]=$mapped; }
fi
check ranks_sweep --gpus 3 --limit 120 --json "$out/ranks_sweep.json" -- \
  "${mpn[@]}" "$cb" allreduce --backend nccl --ranks-sweep -a nccl,ring -b 1K -e 16M -f 16 \
  -n 3 -w 1 --json "$out/ranks_sweep.json"
check fault_stall_np2 --gpus 2 --limit 60 --rc 3 --grep "Ranks that had not arrived: 1" \
  --env COLLBENCH_FAULT=stall:1:4K -- \
  "$mpirun" -np 2 --bind-to none "$cb" allreduce --backend nccl -b 1K -e 16K -f 4 -n 2 -w 1 \
  --timeout 5
check fault_init_hang_np2 --gpus 2 --limit 60 --rc 3 \
  --grep "creating the communicator.*Ranks that had not arrived: 1" \
  --env COLLBENCH_FAULT=stallinit:1:0 -- \
  "$mpirun" -np 2 --bind-to none "$cb" allreduce --backend nccl -e 4K -n 2 -w 1 --timeout 5
check fault_split_hang_np2 --gpus 2 --limit 60 --rc 3 \
  --grep "prepare hierarchical on 2 ranks, communicator set-up. Ranks that had not arrived: 1" \
  --env COLLBENCH_FAULT=stallsplit:1:0 -- \
  "$mpirun" -np 2 --bind-to none "$cb" allreduce --backend nccl -a hierarchical -e 4K -n 2 -w 1 \
  --timeout 5
check fault_kill_np2 --gpus 2 --limit 60 --rc nonzero --grep "signal 9|Killed|killed" \
  --env COLLBENCH_FAULT=kill:1:4K -- \
  "$mpirun" -np 2 --bind-to none "$cb" allreduce --backend nccl -b 1K -e 16K -f 4 -n 2 -w 1 \
  --timeout 20

# --- summary ---
[ "$dry" = 1 ] && { echo "gpu-check.sh --dry-run: ${#names[@]} checks planned"; exit 0; }
passed=0 failed=0 skipped=0
reasons=()  # distinct skip reasons, in order, with their counts
counts=()
{
  echo "| check | result | note |"
  echo "|---|---|---|"
  for i in "${!names[@]}"; do echo "| ${names[$i]} | ${results[$i]} | ${notes[$i]} |"; done
} >"$out/summary.md"
echo
echo "gpu-check.sh: $gpus GPU(s)${gpu_name:+ ($gpu_name)}, checks took $(($(date +%s) - checks_start)) s"
for i in "${!names[@]}"; do
  case "${results[$i]}" in
    pass) passed=$((passed + 1)); tag="pass" ;;
    fail) failed=$((failed + 1)); tag="FAILED:" ;;
    *)
      skipped=$((skipped + 1)); tag="skipped:"
      found=0
      for j in "${!reasons[@]}"; do
        [ "${reasons[$j]}" = "${notes[$i]}" ] && { counts[j]=$((counts[j] + 1)); found=1; }
      done
      [ "$found" = 1 ] || { reasons+=("${notes[$i]}"); counts+=(1); }
      ;;
  esac
  printf '  %-30s %s %s\n' "${names[$i]}" "$tag" "${notes[$i]}"
done
echo "  summary table: $out/summary.md; total $(elapsed) s"
if [ "$failed" = 0 ] && [ "$skipped" = 0 ]; then
  echo "gpu-check.sh: all checks passed"
  exit 0
fi
line="passed $passed"
[ "$failed" = 0 ] || line+=", failed $failed"
if [ "$skipped" != 0 ]; then
  line+=", skipped $skipped:"
  for j in "${!reasons[@]}"; do line+=" ${reasons[$j]} (${counts[$j]});"; done
  line=${line%;}
fi
echo "gpu-check.sh: $line"
exit 1
