// Host buffers, the MPI point-to-point transport, host fill/check and the host clock.
#include <unistd.h>

#include <fstream>
#include <string>

#include "bench/backend.h"
#include "collectives/mpi_transport.h"

namespace collbench::bench {
namespace {

class MpiBackend final : public Backend {
 public:
  std::string name() const override { return "mpi"; }

  std::unique_ptr<collectives::Transport> make_transport(MPI_Comm comm, const Options& o) override {
    return std::make_unique<collectives::MpiTransport>(comm, o.mpi_max_count);
  }

  void fill_input(collectives::Transport&, void* buf, const collectives::CollectiveArgs& a, int rank,
                  int ranks, std::uint64_t seed) override {
    collectives::fill_input(buf, a.count, a.dtype, a.op, a.collective, rank, ranks, seed);
  }

  void fill_sentinel(collectives::Transport&, void* buf,
                     const collectives::CollectiveArgs& a) override {
    collectives::fill_sentinel(buf, a.count, a.dtype);
  }

  collectives::CheckResult check_output(collectives::Transport&, const void* buf,
                                        const collectives::CollectiveArgs& a, int rank, int ranks,
                                        std::uint64_t seed) override {
    return collectives::check_output(buf, a.count, a.dtype, a.op, a.collective, rank, ranks, seed);
  }

  void corrupt(collectives::Transport&, void* buf, const collectives::CollectiveArgs& a,
               std::size_t index) override {
    if (index >= a.count) return;
    const double v = collectives::element_as_double(buf, index, a.dtype);
    collectives::store_from_double(buf, index, a.dtype, v + 3);
  }

  Status time_iterations(const TimedLoop& loop, std::span<double> seconds) override {
    return time_iterations_host(loop, seconds);
  }

  std::size_t memory_available_per_rank(int ranks_on_node) override {
    std::ifstream in("/proc/meminfo");
    std::string key;
    std::size_t kb = 0;
    std::string unit;
    while (in >> key >> kb >> unit) {
      if (key == "MemAvailable:") break;
      kb = 0;
    }
    if (kb == 0) {
      const long pages = sysconf(_SC_AVPHYS_PAGES), page = sysconf(_SC_PAGESIZE);
      kb = static_cast<std::size_t>(pages) * static_cast<std::size_t>(page) / 1024;
    }
    return kb * 1024 / static_cast<std::size_t>(ranks_on_node > 0 ? ranks_on_node : 1);
  }
};

}  // namespace

std::unique_ptr<Backend> make_mpi_backend() { return std::make_unique<MpiBackend>(); }

}  // namespace collbench::bench
