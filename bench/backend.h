// What differs between measuring host collectives over MPI and device collectives over NCCL:
// the transport, where buffers live, how inputs are filled and outputs checked, and how one
// iteration is timed. The Runner is written against this interface only.
#pragma once

#include <mpi.h>

#include <chrono>
#include <cstddef>
#include <memory>
#include <nlohmann/json.hpp>
#include <span>
#include <string>

#include "bench/options.h"
#include "bench/watchdog.h"
#include "collectives/algorithm.h"
#include "collectives/spec.h"

namespace collbench::bench {

// One batch of iterations of one algorithm at one size.
struct TimedLoop {
  collectives::Algorithm* algorithm = nullptr;
  collectives::CollectiveArgs args;
  std::byte* send = nullptr;  // ignored when args.in_place
  std::byte* recv = nullptr;
  std::span<const std::size_t> offsets;  // byte offset of iteration i into send and recv
  double timeout_s = 0;                  // per collective; 0 = none
  Progress* progress = nullptr;
};

// The host-clock loop: per iteration, the wall time of one run() on this rank. Nothing else
// happens between the two clock reads.
inline Status time_iterations_host(const TimedLoop& loop, std::span<double> seconds) {
  using Clock = std::chrono::steady_clock;
  const auto timeout = std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double>(loop.timeout_s > 0 ? loop.timeout_s : 1e9));
  collectives::Algorithm& algo = *loop.algorithm;
  const collectives::CollectiveArgs& args = loop.args;
  Progress& progress = *loop.progress;
  const std::size_t n = seconds.size();
  for (std::size_t i = 0; i < n; ++i) {
    std::byte* r = loop.recv + loop.offsets[i];
    const std::byte* s = args.in_place ? r : loop.send + loop.offsets[i];
    progress.enter(static_cast<std::int64_t>(i));
    const auto t0 = Clock::now();
    Status st = algo.run(s, r, args, Deadline{t0 + timeout});
    const auto t1 = Clock::now();
    progress.leave();
    seconds[i] = std::chrono::duration<double>(t1 - t0).count();
    if (!st.ok()) return st;
  }
  return Status::Ok();
}

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string name() const = 0;
  // A transport over `comm` (the ranks being measured).
  virtual std::unique_ptr<collectives::Transport> make_transport(MPI_Comm comm,
                                                                 const Options& o) = 0;
  virtual void fill_input(collectives::Transport& t, void* buf,
                          const collectives::CollectiveArgs& a, int rank, int ranks,
                          std::uint64_t seed) = 0;
  virtual void fill_sentinel(collectives::Transport& t, void* buf,
                             const collectives::CollectiveArgs& a) = 0;
  virtual collectives::CheckResult check_output(collectives::Transport& t, const void* buf,
                                                const collectives::CollectiveArgs& a, int rank,
                                                int ranks, std::uint64_t seed) = 0;
  // Overwrites element `index` of buf with a wrong value (the corrupt fault hook, for tests).
  virtual void corrupt(collectives::Transport& t, void* buf, const collectives::CollectiveArgs& a,
                       std::size_t index) = 0;
  virtual Status time_iterations(const TimedLoop& loop, std::span<double> seconds) = 0;
  // Bytes this rank may allocate for buffers (host RAM share, or device memory).
  virtual std::size_t memory_available_per_rank(int ranks_on_node) = 0;
  // Extra provenance (GPU names, library versions).
  virtual nlohmann::json metadata() { return nlohmann::json::object(); }
  // The library's own model time of one call of `algo` with `args` in µs (NCCL:
  // ncclGroupSimulateEnd), -1 when there is none. Called on every rank after the check.
  virtual double estimate_us(collectives::Algorithm&, const collectives::CollectiveArgs&) {
    return -1;
  }
};

std::unique_ptr<Backend> make_mpi_backend();
std::unique_ptr<Backend> make_backend(const Options& o);  // --backend (bench/backend_select.cc)

}  // namespace collbench::bench
