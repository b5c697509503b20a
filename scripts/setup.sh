#!/usr/bin/env bash
# Installs what collbench needs from the distribution (Debian/Ubuntu apt), and only what is
# missing. Idempotent: a second run installs nothing and says so.
#   scripts/setup.sh          build + run dependencies
#   scripts/setup.sh --test   also what the tests need (Slurm, clang for fuzzing, iproute2, pytest,
#                             chromium for the history dashboard tests)
set -euo pipefail

want_test=0
for arg in "$@"; do
  case "$arg" in
    --test) want_test=1 ;;
    -h|--help) sed -n '2,6p' "$0"; exit 0 ;;
    *) echo "setup.sh: unknown option '$arg' (use --test)" >&2; exit 2 ;;
  esac
done

packages=(build-essential cmake pkg-config git
          openmpi-bin libopenmpi-dev hwloc libhwloc-dev
          libbenchmark-dev libgtest-dev libcli11-dev nlohmann-json3-dev
          python3 python3-numpy python3-matplotlib python3-scipy)
if [ "$want_test" = 1 ]; then
  packages+=(python3-pytest iproute2 slurm-wlm clang libclang-rt-14-dev clang-format chromium)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "setup.sh: all ${#packages[@]} required packages are already installed"
  exit 0
fi

echo "setup.sh: installing ${#missing[@]} missing package(s): ${missing[*]}"
if ! command -v apt-get >/dev/null 2>&1; then
  echo "setup.sh: apt-get not found; install these packages with your package manager: ${missing[*]}" >&2
  exit 1
fi
sudo=""
if [ "$(id -u)" != 0 ]; then
  command -v sudo >/dev/null 2>&1 || { echo "setup.sh: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q
$sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
echo "setup.sh: installed ${missing[*]}"
