// What differs between measuring host collectives over MPI and device collectives over NCCL: the
// transport, where buffers live, how inputs are filled and outputs checked, which native
// collectives exist, and how a loop of calls is timed. The Runner (bench/) owns the methodology
// and is written against this interface only; each backend lives in its own folder
// (collectives/mpi, collectives/nccl) with everything of its library.
#pragma once

#include <mpi.h>

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "collectives/algorithm.h"
#include "collectives/progress.h"
#include "collectives/registry.h"
#include "collectives/spec.h"
#include "collectives/tick_clock.h"

namespace collbench::collectives {

// Bytes added to each buffer so that the iterations' offsets walk through memory (see
// docs/methodology.md): at least twice the largest cache a message could be served from. Host
// backends use this; device backends size it from the device's cache.
inline constexpr std::size_t kHostRotationBytes = std::size_t{32} << 20;

// The settings a backend needs from the command line.
struct BackendSettings {
  std::size_t mpi_max_count = 2147483647;  // largest count in one MPI call (testing: set low)
  double timeout_s = 300;                  // per collective; 0 = none
  std::string gpu_map;                     // NCCL: GPU index per node-local rank ("": local rank)
  int cuda_graph = 0;                      // NCCL: replay the timed iterations as a graph N times
};

// How a batch of calls is timed (--timing; docs/methodology.md has which column of which suite
// each equals):
//   kPerCall  each call timed on its own, back to back (collbench's default);
//   kBarrier  each call timed on its own, a barrier after every call outside the timer (OSU);
//   kLoop     one timer around all the calls, divided by their number (nccl-tests, IMB).
enum class TimingMode { kPerCall, kBarrier, kLoop };

inline std::string_view timing_name(TimingMode m) {
  switch (m) {
    case TimingMode::kPerCall:
      return "per-call";
    case TimingMode::kBarrier:
      return "barrier";
    case TimingMode::kLoop:
      return "loop";
  }
  return "per-call";
}
inline std::optional<TimingMode> parse_timing(std::string_view s) {
  for (TimingMode m : {TimingMode::kPerCall, TimingMode::kBarrier, TimingMode::kLoop})
    if (s == timing_name(m)) return m;
  return std::nullopt;
}

// One batch of iterations of one algorithm at one size.
struct TimedLoop {
  Algorithm* algorithm = nullptr;
  CollectiveArgs args;
  std::byte* send = nullptr;  // ignored when args.in_place
  std::byte* recv = nullptr;
  std::span<const std::size_t> offsets;  // byte offset of iteration i into send and recv
  double timeout_s = 0;                  // per collective; 0 = none
  Progress* progress = nullptr;
  TimingMode mode = TimingMode::kPerCall;
  // kBarrier: the barrier after every call (outside the timed region).
  std::function<void()> barrier;
};

// The host-clock loop (TickClock). kPerCall and kBarrier: per iteration, the wall time of one run()
// on this rank, nothing else between the two clock reads. kLoop: every entry gets the time of the
// whole loop divided by the number of calls (one clock read before the first call, one after the
// last).
inline Status time_iterations_host(const TimedLoop& loop, std::span<double> seconds) {
  using Clock = std::chrono::steady_clock;
  using Ticks = TickClock::Ticks;
  const auto timeout = std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double>(loop.timeout_s > 0 ? loop.timeout_s : 1e9));
  Algorithm& algo = *loop.algorithm;
  const CollectiveArgs& args = loop.args;
  Progress& progress = *loop.progress;
  const std::size_t n = seconds.size();
  if (loop.mode == TimingMode::kLoop) {
    const Deadline deadline{Clock::now() + timeout * static_cast<Clock::rep>(n ? n : 1)};
    const Ticks t0 = TickClock::now();
    for (std::size_t i = 0; i < n; ++i) {
      std::byte* r = loop.recv + loop.offsets[i];
      const std::byte* s = args.in_place ? r : loop.send + loop.offsets[i];
      progress.enter(static_cast<std::int64_t>(i));
      Status st = algo.run(s, r, args, deadline);
      progress.leave();
      if (!st.ok()) return st;
    }
    const double each = n ? TickClock::seconds(t0, TickClock::now()) / static_cast<double>(n) : 0.0;
    for (double& x : seconds) x = each;
    return Status::Ok();
  }
  const bool barrier = loop.mode == TimingMode::kBarrier && loop.barrier;
  // Each call's deadline counts from the end of the previous one, read off the counter (no
  // third clock read per call).
  const auto base = Clock::now();
  const Ticks base_ticks = TickClock::now();
  Ticks last = base_ticks;
  for (std::size_t i = 0; i < n; ++i) {
    std::byte* r = loop.recv + loop.offsets[i];
    const std::byte* s = args.in_place ? r : loop.send + loop.offsets[i];
    progress.enter(static_cast<std::int64_t>(i));
    const Deadline deadline{
        base + timeout +
        std::chrono::duration_cast<Clock::duration>(
            std::chrono::duration<double>(TickClock::seconds(base_ticks, last)))};
    const Ticks t0 = TickClock::now();
    Status st = algo.run(s, r, args, deadline);
    const Ticks t1 = TickClock::now();
    progress.leave();
    seconds[i] = TickClock::seconds(t0, t1);
    last = t1;
    if (!st.ok()) return st;
    if (barrier) {
      loop.barrier();
      last = TickClock::now();
    }
  }
  return Status::Ok();
}

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string name() const = 0;
  // A transport over `comm` (the ranks being measured).
  virtual std::unique_ptr<Transport> make_transport(MPI_Comm comm) = 0;
  // This backend's library collective `id` (a native row of the registry), or nullptr when it
  // is another backend's: the caller says which backend the algorithm needs.
  virtual std::unique_ptr<Algorithm> make_native(AlgorithmId id) = 0;
  // The input of a point (fill_input's values) into `buf`: the send buffer out of place, the one
  // buffer in place.
  virtual void fill_input(Transport& t, void* buf, const CollectiveArgs& a, int rank, int ranks,
                          std::uint64_t seed) = 0;
  // The receive buffer prefilled so that an element the collective leaves untouched is wrong.
  virtual void fill_sentinel(Transport& t, void* buf, const CollectiveArgs& a) = 0;
  // Compares the receive buffer (its output span) with the exact expected values.
  virtual CheckResult check_output(Transport& t, const void* buf, const CollectiveArgs& a, int rank,
                                   int ranks, std::uint64_t seed) = 0;
  // Overwrites output element `index` of buf with a wrong value (the corrupt fault hook).
  virtual void corrupt(Transport& t, void* buf, const CollectiveArgs& a, int rank, int ranks,
                       std::size_t index) = 0;
  virtual Status time_iterations(const TimedLoop& loop, std::span<double> seconds) = 0;
  // The check's collective: one run of `algo`, waited for, through the launch path
  // time_iterations uses (so the output checked is produced the way the timed ones were).
  virtual Status run_once(Transport& t, Algorithm& algo, const CollectiveArgs& a, const void* send,
                          void* recv, double timeout_s) {
    const Deadline deadline = Deadline::In(timeout_s);
    Status st = algo.run(send, recv, a, deadline);
    if (st.ok()) st = t.synchronize(deadline);
    return st;
  }
  // Bytes added to each buffer for the rotation of offsets.
  virtual std::size_t rotation_bytes() { return kHostRotationBytes; }
  // Ends `t` on the success path (collective over its ranks): the NCCL backend finalizes its
  // communicators here. After a failure the transport is destroyed without this (and aborts).
  virtual Status close_transport(Transport& /*t*/, double /*timeout_s*/) { return Status::Ok(); }
  // From any thread, when the run is being ended (the watchdog fired): abort every communicator.
  // Must return within a few seconds.
  virtual void abort_communication(const std::string& /*why*/) noexcept {}
  // What the time of a point includes beyond the collective itself, for a note under the table
  // and in docs (empty when nothing), e.g. a copy an in-place variant needs.
  virtual std::string timing_note(Algorithm& /*algo*/, const CollectiveArgs& /*a*/) { return ""; }
  // Bytes this rank may allocate for buffers (host RAM share, or device memory).
  virtual std::size_t memory_available_per_rank(int ranks_on_node) = 0;
  // Extra provenance (GPU names, library versions).
  virtual nlohmann::json metadata() { return nlohmann::json::object(); }
  // The library's own model time of one call of `algo` with `args` in µs (NCCL:
  // ncclGroupSimulateEnd), -1 when there is none. Called on every rank after the check.
  virtual double estimate_us(Algorithm&, const CollectiveArgs&) { return -1; }
};

// Host buffers, MPI point-to-point and the MPI library's collectives (collectives/mpi).
std::unique_ptr<Backend> make_mpi_backend(const BackendSettings& s);

}  // namespace collbench::collectives
