#include "bench/launch.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

#include "bench/provenance.h"
#include "collectives/mpi/mpi_transport.h"

namespace collbench::bench {
namespace {

using nlohmann::json;

std::uint64_t fnv1a(const std::string& s) {
  std::uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

}  // namespace

int check_same_arguments(const Options& o, MPI_Comm world) {
  int world_rank = 0, world_size = 1;
  MPI_Comm_rank(world, &world_rank);
  MPI_Comm_size(world, &world_size);
  const std::uint64_t h = fnv1a(o.canonical());
  std::uint64_t hmin = 0, hmax = 0;
  CB_MPI_CHECK(MPI_Allreduce(&h, &hmin, 1, MPI_UINT64_T, MPI_MIN, world));
  CB_MPI_CHECK(MPI_Allreduce(&h, &hmax, 1, MPI_UINT64_T, MPI_MAX, world));
  if (hmin != hmax) {
    std::vector<std::uint64_t> all(static_cast<std::size_t>(world_size));
    CB_MPI_CHECK(MPI_Gather(&h, 1, MPI_UINT64_T, all.data(), 1, MPI_UINT64_T, 0, world));
    // Ranks that differ from rank 0, as ranges; the first of them sends its options so that the
    // message can say which settings differ.
    std::string differ;
    int first = world_size, count = 0;
    if (world_rank == 0) {
      for (int r = 1; r < world_size; ++r) {
        if (all[static_cast<std::size_t>(r)] == h) continue;
        ++count;
        first = std::min(first, r);
        if (r > 1 && all[static_cast<std::size_t>(r - 1)] != h) {
          if (r + 1 < world_size && all[static_cast<std::size_t>(r + 1)] != h) continue;
          differ += "-" + std::to_string(r);
        } else {
          differ += (differ.empty() ? "" : ",") + std::to_string(r);
        }
      }
    }
    CB_MPI_CHECK(MPI_Bcast(&first, 1, MPI_INT, 0, world));
    std::string theirs = world_rank == first ? options_json(o).dump() : std::string();
    int len = static_cast<int>(theirs.size());
    if (world_rank == first) {
      CB_MPI_CHECK(MPI_Send(&len, 1, MPI_INT, 0, 0, world));
      CB_MPI_CHECK(MPI_Send(theirs.data(), len, MPI_CHAR, 0, 0, world));
    } else if (world_rank == 0) {
      CB_MPI_CHECK(MPI_Recv(&len, 1, MPI_INT, first, 0, world, MPI_STATUS_IGNORE));
      theirs.resize(static_cast<std::size_t>(len));
      CB_MPI_CHECK(MPI_Recv(theirs.data(), len, MPI_CHAR, first, 0, world, MPI_STATUS_IGNORE));
      const json mine = options_json(o), other = json::parse(theirs, nullptr, false);
      std::string what;
      for (const auto& [key, value] : mine.items())
        if (other.is_object() && other.contains(key) && other[key] != value)
          what += (what.empty() ? "" : ", ") + key + " " + value.dump() + " on rank 0 but " +
                  other[key].dump() + " on rank " + std::to_string(first);
      std::fprintf(stderr,
                   "collbench: error: %s %s %s started with different measurement arguments than "
                   "rank 0%s%s%s; every rank must get the same command line (check the launcher's "
                   "command line and environment)\n",
                   count == 1 ? "rank" : "ranks", differ.c_str(), count == 1 ? "was" : "were",
                   what.empty() ? "" : " (", what.c_str(), what.empty() ? "" : ")");
    }
    return 2;
  }

  return 0;
}

bool any_setup_error(std::string setup_error, MPI_Comm world) {
  int world_rank = 0, world_size = 1;
  MPI_Comm_rank(world, &world_rank);
  MPI_Comm_size(world, &world_size);
  int bad = setup_error.empty() ? 0 : 1, any = 0;
  CB_MPI_CHECK(MPI_Allreduce(&bad, &any, 1, MPI_INT, MPI_MAX, world));
  if (!any) return false;
  int first = bad ? world_rank : world_size, first_all = 0;
  CB_MPI_CHECK(MPI_Allreduce(&first, &first_all, 1, MPI_INT, MPI_MIN, world));
  int len = static_cast<int>(setup_error.size());
  CB_MPI_CHECK(MPI_Bcast(&len, 1, MPI_INT, first_all, world));
  setup_error.resize(static_cast<std::size_t>(len));
  CB_MPI_CHECK(MPI_Bcast(setup_error.data(), len, MPI_CHAR, first_all, world));
  if (world_rank == 0) std::fprintf(stderr, "collbench: error: %s\n", setup_error.c_str());
  return true;
}

void quiet_barrier(MPI_Comm comm) {
  MPI_Request req;
  CB_MPI_CHECK(MPI_Ibarrier(comm, &req));
  int done = 0;
  while (true) {
    CB_MPI_CHECK(MPI_Test(&req, &done, MPI_STATUS_IGNORE));
    if (done) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

}  // namespace collbench::bench
