# Shared by run.sh, test.sh and fuzz.sh: the mpirun environment for root and for more ranks than cores.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1
# Ranks that wait yield the core: on a machine with fewer cores than ranks, busy-polling ranks
# would otherwise steal each other's core and small-message latency jumps to milliseconds.
export OMPI_MCA_mpi_yield_when_idle=1
# Debian's numpy/matplotlib/scipy are installed for /usr/bin/python3.
export COLLBENCH_PYTHON=/usr/bin/python3
jobs=$(nproc 2>/dev/null || echo 2)
# clang (the sanitizer and fuzzer builds): sets cc and cxx, empty when it is not installed.
find_clang() {
  cxx=$(command -v clang++-14 || command -v clang++ || true)
  cc=$(command -v clang-14 || command -v clang || true)
}
