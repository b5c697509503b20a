#!/usr/bin/env bash
# The GPU backend on a machine with at least one NVIDIA GPU, in under 5 minutes:
#   1. builds collbench with COLLBENCH_NCCL=ON (the needed targets only) in BUILD_DIR;
#   2. one rank, native NCCL: all-reduce and all-to-all from 8 B to 1 GiB (x4 per step), every
#      dtype (and op), both placements, device checks, without and with a CUDA graph;
#   3. one rank, collbench's own algorithms over the NCCL transport (every one, with checks),
#      and, with 2 or more GPUs, the same on min(GPUs, 8) ranks;
#   4. the device-kernel test (tests/test_gpu_device.cc: kernels against the host, every
#      algorithm over NCCL on every visible GPU, also captured in a CUDA graph);
#   5. the device reduction kernel against a device-to-device copy (Google Benchmark): its memory
#      traffic rate should reach >= 80% of the copy's at 256 MiB and 1 GiB;
# then prints a short summary and exits non-zero when anything failed.
#
#   scripts/gpu-check.sh [BUILD_DIR]        (default: build-gpu; results in BUILD_DIR/gpu-check)
# Environment: CUDA_ARCH (default 90; e.g. "80;90"), MPIRUN (default mpirun).
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build-gpu}
out=$build/gpu-check
arch=${CUDA_ARCH:-90}
mpirun=${MPIRUN:-mpirun}
py=/usr/bin/python3
[ -x "$py" ] || py=python3
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
start=$(date +%s)
failures=()
summary=()

die() { echo "gpu-check.sh: $*" >&2; exit 2; }
step() { echo; echo "=== $* ($(( $(date +%s) - start )) s)"; }
# run NAME SECONDS COMMAND...: runs with a time limit, logs to $out/NAME.log, records a failure.
run() {
  local name=$1 limit=$2; shift 2
  if timeout "$limit" "$@" >"$out/$name.log" 2>&1; then
    summary+=("ok    $name")
  else
    local rc=$?
    tail -n 15 "$out/$name.log"
    failures+=("$name (exit $rc, log $out/$name.log)")
    summary+=("FAIL  $name (exit $rc)")
  fi
}

# --- 0. is there a GPU at all? (before spending minutes on a build) ---
if command -v nvidia-smi >/dev/null 2>&1; then
  gpus=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU ' || true)
  [ "${gpus:-0}" -ge 1 ] || die "nvidia-smi finds no GPU ($(nvidia-smi -L 2>&1 | head -n 1)); run this on a machine with an NVIDIA GPU"
else
  [ -e /dev/nvidiactl ] || die "no NVIDIA driver here (no nvidia-smi, no /dev/nvidiactl); run this on a machine with an NVIDIA GPU"
  gpus=1
fi
command -v "$mpirun" >/dev/null 2>&1 || die "$mpirun not found (install OpenMPI: scripts/setup.sh)"
mkdir -p "$out" || die "cannot create $out"

# --- 1. build ---
step "build ($build, CUDA architectures $arch)"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DCOLLBENCH_NCCL=ON \
  -DCMAKE_CUDA_ARCHITECTURES="$arch" >"$out/configure.log" 2>&1 ||
  { tail -n 20 "$out/configure.log"; die "configure failed (log: $out/configure.log)"; }
cmake --build "$build" -j"$(nproc)" --target collbench micro_cuda_reduce test_gpu_device \
  gpu_probe >"$out/build.log" 2>&1 ||
  { tail -n 30 "$out/build.log"; die "build failed (log: $out/build.log)"; }
cb=$build/bench/collbench
"$build/tests/gpu_probe" || die "the build cannot use the GPU (see the line above)"
gpus=$("$build/tests/gpu_probe" | awk '{print $1}')

# --- 2. one rank, native NCCL, 8 B .. 1 GiB ---
step "single-rank NCCL sweep, 8 B to 1 GiB, every dtype, both placements, checks"
for graph in 0 3; do
  run "nccl_allreduce_graph$graph" 150 "$mpirun" -np 1 "$cb" allreduce --backend nccl \
    --cuda-graph "$graph" -d all -o all -b 8 -e 1G -f 4 -n 10 -w 2 --check 1 -q \
    --json "$out/nccl_allreduce_graph$graph.json"
  run "nccl_alltoall_graph$graph" 120 "$mpirun" -np 1 "$cb" alltoall --backend nccl \
    --cuda-graph "$graph" -d all -b 8 -e 1G -f 4 -n 10 -w 2 --check 1 -q \
    --json "$out/nccl_alltoall_graph$graph.json"
done

# --- 3. our algorithms over the NCCL transport ---
step "collbench's algorithms over the NCCL transport"
run own_allreduce_np1 90 "$mpirun" -np 1 "$cb" allreduce --backend nccl -a all -d f32,bf16,i32 \
  -o sum,max -b 8 -e 64M -f 8 -n 5 -w 1 --check 1 -q --json "$out/own_allreduce_np1.json"
run own_alltoall_np1 90 "$mpirun" -np 1 "$cb" alltoall --backend nccl -a all -d f32,u8 \
  -b 8 -e 64M -f 8 -n 5 -w 1 --check 1 -q --json "$out/own_alltoall_np1.json"
if [ "$gpus" -ge 2 ]; then
  np=$(( gpus < 8 ? gpus : 8 ))
  run "own_allreduce_np$np" 120 "$mpirun" -np "$np" --bind-to none "$cb" allreduce \
    --backend nccl -a all -d f32,bf16 -b 8 -e 64M -f 8 -n 5 -w 1 --check 1 -q \
    --json "$out/own_allreduce_np$np.json"
  run "own_alltoall_np$np" 120 "$mpirun" -np "$np" --bind-to none "$cb" alltoall \
    --backend nccl -a all -d f32 -b 8 -e 64M -f 8 -n 5 -w 1 --check 1 -q \
    --json "$out/own_alltoall_np$np.json"
fi

# --- 4. device kernels and the transport, as a test ---
step "device kernel test"
run test_gpu_device 180 "$build/tests/test_gpu_device"

# --- 5. reduction kernel vs device copy ---
step "device reduction kernel vs device-to-device copy (Google Benchmark)"
run micro_cuda_reduce 120 "$build/bench/micro/micro_cuda_reduce" --benchmark_format=json \
  --benchmark_out="$out/micro_cuda_reduce.json"

# --- summary ---
step "summary"
"$py" - "$out" <<'PY' || failures+=("summary (see above)")
import glob, json, os, sys
out = sys.argv[1]
bad = False
for path in sorted(glob.glob(os.path.join(out, "*.json"))):
    name = os.path.basename(path)[:-5]
    if name == "micro_cuda_reduce":
        continue
    try:
        d = json.load(open(path))
    except Exception as e:  # a run that died before writing
        print(f"  {name:26s} no result file ({e})"); bad = True; continue
    recs = d["records"]
    wrong = sum(max(r["wrong"], 0) for r in recs)
    unchecked = sum(1 for r in recs if r["wrong"] < 0)
    big = [r for r in recs if r["bytes"] >= (1 << 30) - 64]
    small = [r for r in recs if r["bytes"] <= 8]
    est = sum(1 for r in recs if "nccl_estimate_us" in r)
    line = f"  {name:26s} {len(recs):4d} records, wrong {wrong}, unchecked {unchecked}"
    if small:
        line += f", 8 B p50 {min(r['time_us']['p50'] for r in small):.1f} us"
    if big:
        line += f", 1 GiB algbw {max(r['algbw_gbps'] for r in big):.0f} GB/s"
    if est:
        line += f", NCCL estimates {est}"
    if not d["complete"]:
        line += f", INCOMPLETE: {d.get('failure')}"
        bad = True
    bad |= wrong > 0 or unchecked > 0
    print(line)
gpus = json.load(open(glob.glob(os.path.join(out, "nccl_allreduce_graph0.json"))[0]))["provenance"].get("gpus", []) \
    if glob.glob(os.path.join(out, "nccl_allreduce_graph0.json")) else []
for g in gpus[:1]:
    print(f"  GPU: {g.get('name')} {g.get('uuid')} {g.get('pci_bus_id')}, "
          f"{g.get('memory_bytes', 0) / 2**30:.0f} GiB")
mpath = os.path.join(out, "micro_cuda_reduce.json")
if os.path.exists(mpath):
    bench = json.load(open(mpath))["benchmarks"]
    rate = {b["name"]: b.get("mem_GBps", 0) for b in bench}
    for size, label in ((1 << 28, "256 MiB"), (1 << 30, "1 GiB")):
        copy = rate.get(f"copy/{size}/manual_time")
        if not copy:
            continue
        parts, worst = [], 9.0
        for name, r in sorted(rate.items()):
            if name.startswith("reduce") and name.endswith(f"/{size}/manual_time"):
                ratio = r / copy
                if not name.startswith("reduce_misaligned"):
                    worst = min(worst, ratio)
                misaligned = " misaligned" if name.startswith("reduce_misaligned") else ""
                parts.append(f"{'/'.join(name.split('/')[1:3])}{misaligned} {ratio:.0%}")
        verdict = "OK" if worst >= 0.8 else "BELOW 80%"
        bad |= worst < 0.8
        print(f"  reduce vs copy at {label}: copy {copy:.0f} GB/s (memory traffic); "
              f"reduce/copy: {', '.join(parts)} -> {verdict}")
else:
    print("  micro_cuda_reduce: no result"); bad = True
sys.exit(1 if bad else 0)
PY
for s in "${summary[@]}"; do echo "  $s"; done
echo "  total $(( $(date +%s) - start )) s; logs and results in $out"
if [ ${#failures[@]} -gt 0 ]; then
  echo "gpu-check.sh: FAILED: ${failures[*]}" >&2
  exit 1
fi
echo "gpu-check.sh: all checks passed"
