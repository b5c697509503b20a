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

 private:
  int rank_ = 0;
  int size_ = 1;
};

// The rank the launcher assigned (mpirun, srun), read from the environment before MPI starts;
// 0 when not launched. Used to print usage errors once, before MPI_Init.
int launcher_rank();

// Whether this process reports usage errors: launcher rank 0, and the first rank of every other
// command line of an MPMD launch (mpirun A : B), whose arguments rank 0 never saw.
bool reports_usage_errors();

}  // namespace collbench::bench
