// The MPI backend: host buffers, the MPI point-to-point transport, the MPI library's own
// collectives, host fill/check and the host clock.
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "collectives/backend.h"
#include "collectives/mpi/mpi_transport.h"
#include "collectives/mpi/native_mpi.h"
#include "collectives/units.h"

namespace collbench::collectives {
namespace {

class MpiBackend final : public Backend {
 public:
  explicit MpiBackend(const BackendSettings& s) : settings_(s) {}

  std::string name() const override { return "mpi"; }

  std::unique_ptr<Transport> make_transport(MPI_Comm comm) override {
    return std::make_unique<MpiTransport>(comm, settings_.mpi_max_count);
  }

  std::unique_ptr<Algorithm> make_native(AlgorithmId id) override { return make_mpi_native(id); }

  void fill_input(Transport&, void* buf, const CollectiveArgs& a, int rank, int ranks,
                  std::uint64_t seed) override {
    collectives::fill_input(buf, a, rank, ranks, seed);
  }

  void fill_sentinel(Transport& t, void* buf, const CollectiveArgs& a) override {
    collectives::fill_sentinel(buf, a, t.rank(), t.size());
  }

  CheckResult check_output(Transport&, const void* buf, const CollectiveArgs& a, int rank,
                           int ranks, std::uint64_t seed) override {
    return collectives::check_output(buf, a, rank, ranks, seed);
  }

  void corrupt(Transport&, void* buf, const CollectiveArgs& a, int rank, int ranks,
               std::size_t index) override {
    const auto off = output_element_offset(a, rank, ranks, index);
    if (!off) return;
    void* elem = static_cast<std::byte*>(buf) + *off;
    store_from_double(elem, 0, a.dtype, element_as_double(elem, 0, a.dtype) + 3);
  }

  Status time_iterations(const TimedLoop& loop, std::span<double> seconds) override {
    return time_iterations_host(loop, seconds);
  }

  // The node's MemAvailable shared by its ranks; COLLBENCH_MEMORY_AVAILABLE (a size, e.g. 200M)
  // replaces MemAvailable, so that tests can reach the memory checks without the memory.
  std::size_t memory_available_per_rank(int ranks_on_node) override {
    const std::size_t share = static_cast<std::size_t>(ranks_on_node > 0 ? ranks_on_node : 1);
    if (const char* forced = std::getenv("COLLBENCH_MEMORY_AVAILABLE"); forced && *forced)
      return parse_size(forced, "COLLBENCH_MEMORY_AVAILABLE") / share;
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
    return kb * 1024 / share;
  }

 private:
  BackendSettings settings_;
};

}  // namespace

std::unique_ptr<Backend> make_mpi_backend(const BackendSettings& s) {
  return std::make_unique<MpiBackend>(s);
}

}  // namespace collbench::collectives
