// MPI initialisation for the commands that need it. Commands that do not (model, --list) never
// touch MPI, so they run without a launcher.
#pragma once

#include <mpi.h>

namespace collbench::bench {

class MpiSession {
 public:
  MpiSession(int* argc, char*** argv);
  MpiSession() : MpiSession(nullptr, nullptr) {}
  ~MpiSession();
  MpiSession(const MpiSession&) = delete;
  MpiSession& operator=(const MpiSession&) = delete;

  int rank() const { return rank_; }
  int size() const { return size_; }
  // MPI_Finalize waits for every rank: one stopped (SIGSTOP) or dead after the run's last step
  // would hang the others there. With a timeout (the run's --timeout, at least 5 s), a rank still
  // in MPI_Finalize after it says so in one line and exits with 3; what was measured is written
  // by then. 0: no limit.
  void set_finalize_timeout(double seconds) { finalize_timeout_s_ = seconds; }

 private:
  int rank_ = 0;
  int size_ = 1;
  double finalize_timeout_s_ = 0;
};

// The rank the launcher assigned (mpirun, srun), read from the environment before MPI starts;
// 0 when not launched. Used to print usage errors once, before MPI_Init.
int launcher_rank();

// Whether this process reports usage errors: launcher rank 0, and the first rank of every other
// command line of an MPMD launch (mpirun A : B), whose arguments rank 0 never saw.
bool reports_usage_errors();

}  // namespace collbench::bench
