#!/usr/bin/env bash
# The dependency direction, checked on the sources: bench -> topology/model -> collectives and
# bench -> topology -> collectives; inside collectives the core knows no backend, and a backend
# folder knows the core (and NCCL the MPI bootstrap). Prints every include against the direction
# and exits 1 when there is one.
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bad=0
# check FOLDER FORBIDDEN_REGEX [EXCLUDED_SUBFOLDER...]
check() {
  local dir="$1" forbidden="$2"
  shift 2
  local files
  files=$(find "$dir" -maxdepth 1 -type f \( -name '*.h' -o -name '*.cc' -o -name '*.cu' -o -name '*.inc' \))
  [ -z "$files" ] && return
  local hits
  # shellcheck disable=SC2086
  hits=$(grep -nE "^#include \"($forbidden)" $files || true)
  if [ -n "$hits" ]; then
    echo "$hits" | sed "s|^|layering: $dir may not include this: |"
    bad=1
  fi
}
check collectives "collectives/(mpi|nccl)/|topology/|bench/"
check collectives/mpi "collectives/nccl/|topology/|bench/"
check collectives/nccl "topology/|bench/"
check topology "topology/model/|bench/"
check topology/model "topology/[a-z_]+\.h|bench/"
[ "$bad" = 0 ] && echo "layering: every include follows bench -> topology(/model) -> collectives"
exit "$bad"
