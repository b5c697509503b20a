#!/usr/bin/env bash
# if_gpu.sh PROBE [--no-gpu] -- COMMAND...
# Runs COMMAND when PROBE (tests/gpu/gpu_probe.cc) finds a GPU; otherwise prints PROBE's reason
# and exits 77 (ctest: skipped). With --no-gpu the other way round: COMMAND covers the no-GPU
# path, so it is skipped where a GPU is visible.
set -u
probe="$1"; shift
want=gpu
if [ "$1" = "--no-gpu" ]; then want=none; shift; fi
[ "$1" = "--" ] && shift
reason=$("$probe"); rc=$?
if [ "$want" = gpu ] && [ "$rc" -ne 0 ]; then echo "SKIPPED: $reason"; exit 77; fi
if [ "$want" = none ] && [ "$rc" -eq 0 ]; then
  echo "SKIPPED: $reason; this test covers the no-GPU path"; exit 77
fi
exec "$@"
