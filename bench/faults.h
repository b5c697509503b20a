// Test-only fault hooks, read from COLLBENCH_FAULT ("kind:rank:arg[,kind:rank:arg...]"), so that
// tests can prove that a hang, a dead rank or a wrong element is caught:
//   stall:R:BYTES    rank R stops before the warm-up of the first size >= BYTES (never resumes)
//   kill:R:BYTES     rank R kills itself (SIGKILL) at the first size >= BYTES
//   corrupt:R:INDEX  rank R overwrites element INDEX of its output before every check
//   slow:R:N         from the N-th timed call of every point on, rank R's calls take 4x as long
//   stallinit:R:0    rank R stops before it creates the transport of its first group
//   stallsplit:R:0   rank R stops before it prepares its first algorithm (splits)
//   stallset:R:0     rank R stops after the barrier that ends the first rank set, before the
//                    ranks agree on what that set refused (between two steps, as a SIGSTOP can)
//   stallend:R:0     rank R (not 0) stops after the run's last step: the others wait in
//                    MPI_Finalize
// (stallinit and stallsplit inside the set-up step, before the rank arrives: the watchdog names
// it)
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace collbench::bench {

struct Faults {
  struct Fault {
    std::string kind;
    int rank = -1;
    std::size_t arg = 0;
  };
  std::vector<Fault> list;

  // Throws UsageError on a malformed variable.
  static Faults from_env();
  // Throws UsageError on a hook that can never act: a rank that does not exist, a size beyond
  // --max-bytes, an element beyond every buffer (a mistake in the test that set it).
  void check(int world_size, std::size_t max_bytes) const;
  const Fault* find(const std::string& kind, int rank) const;
};

// What a stall hook does: sleeps until the job is ended from outside.
[[noreturn]] void stall_forever();

}  // namespace collbench::bench
