#include "bench/mpi_session.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include "collectives/mpi/mpi_transport.h"

namespace collbench::bench {

MpiSession::MpiSession(int* argc, char*** argv) {
  int provided = 0;
  CB_MPI_CHECK(MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided));
  // Errors come back as codes and are reported with the call site, not as MPI's own abort.
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
  MPI_Comm_size(MPI_COMM_WORLD, &size_);
}

MpiSession::~MpiSession() {
  if (finalize_timeout_s_ > 0) {
    const double limit = std::max(finalize_timeout_s_, 5.0);
    const int rank = rank_;
    std::thread([limit, rank] {
      std::this_thread::sleep_for(std::chrono::duration<double>(limit));
      char line[320];
      const int n = std::snprintf(line, sizeof line,
                                  "collbench: timeout: rank %d: MPI_Finalize did not return within "
                                  "%.1f s (a rank was stopped or died after the run's last step); "
                                  "the results were written before it\n",
                                  rank, limit);
      [[maybe_unused]] const ssize_t w =
          write(STDERR_FILENO, line, static_cast<std::size_t>(std::max(n, 0)));
      _exit(3);
    }).detach();
  }
  MPI_Finalize();
}

int launcher_rank() {
  for (const char* var : {"OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK", "SLURM_PROCID"}) {
    if (const char* v = std::getenv(var)) return std::atoi(v);
  }
  return 0;
}

bool reports_usage_errors() {
  const int rank = launcher_rank();
  if (rank == 0) return true;
  // Open MPI: the app context of this process and the process count of every app context.
  const char* app = std::getenv("OMPI_MCA_orte_app_num");
  const char* counts = std::getenv("OMPI_APP_CTX_NUM_PROCS");
  if (!app || !counts) return false;
  const int my_app = std::atoi(app);
  int first = 0;
  const char* p = counts;
  for (int a = 0; a < my_app && *p; ++a) {
    char* end = nullptr;
    first += static_cast<int>(std::strtol(p, &end, 10));
    if (end == p) return false;
    p = end;
  }
  return my_app > 0 && rank == first;
}

}  // namespace collbench::bench
