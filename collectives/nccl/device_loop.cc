#include "collectives/nccl/device_loop.h"

#include <algorithm>
#include <string>

#include "collectives/tick_clock.h"

namespace collbench::collectives {
namespace {

std::size_t start_event(std::size_t i) { return 2 * i; }
std::size_t stop_event(std::size_t i) { return 2 * i + 1; }

// Iteration i between its two events.
Status enqueue_iteration(NcclTransport& t, const TimedLoop& loop, std::size_t i, bool capturing) {
  DeviceOps& dev = t.device();
  std::byte* r = loop.recv + loop.offsets[i];
  const std::byte* in = loop.args.in_place ? r : loop.send + loop.offsets[i];
  if (Status st = dev.record(start_event(i), capturing); !st.ok()) return st;
  if (Status st = loop.algorithm->run(in, r, loop.args, Deadline::In(loop.timeout_s)); !st.ok())
    return st;
  return dev.record(stop_event(i), capturing);
}

// Every iteration's event pair, once the last iteration is done.
Status read_samples(NcclTransport& t, std::span<double> seconds) {
  for (std::size_t i = 0; i < seconds.size(); ++i)
    if (Status st = t.device().elapsed_s(start_event(i), stop_event(i), &seconds[i]); !st.ok())
      return st;
  if (!t.deferred_error().empty()) return Status::Failure(t.deferred_error());
  return Status::Ok();
}

// Iteration i's stop event reached within --timeout, under the supervisor (a communicator's
// asynchronous error ends the wait); a failure is noted on the transport.
Status wait_iteration(NcclTransport& t, const TimedLoop& loop, std::size_t i) {
  DeviceOps& dev = t.device();
  const Status st = t.supervisor().wait([&] { return dev.event_state(stop_event(i)); },
                                        Deadline::In(loop.timeout_s), "an iteration on the GPU");
  if (!st.ok()) t.note_error(st.message);
  return st;
}

// Back to back on the stream: the host enqueues every iteration, the GPU runs them in order, the
// host waits for them in order (each within --timeout of the previous one), moving the
// watchdog's progress as they finish.
Status time_stream(NcclTransport& t, const TimedLoop& loop, std::span<double> seconds) {
  // A failed iteration stays "entered": the watchdog then reports this rank inside it, beside
  // its peers, not as one that had not arrived.
  for (std::size_t i = 0; i < seconds.size(); ++i) {
    loop.progress->enter(static_cast<std::int64_t>(i));
    if (Status st = enqueue_iteration(t, loop, i, false); !st.ok()) return st;
    loop.progress->leave();
  }
  for (std::size_t i = 0; i < seconds.size(); ++i) {
    loop.progress->enter(static_cast<std::int64_t>(i));
    if (Status st = wait_iteration(t, loop, i); !st.ok()) return st;
    loop.progress->leave();
  }
  return read_samples(t, seconds);
}

// --timing barrier: each iteration between its events, waited for, then the barrier (host side,
// outside the events): OSU's way on a GPU.
Status time_with_barriers(NcclTransport& t, const TimedLoop& loop, std::span<double> seconds) {
  for (std::size_t i = 0; i < seconds.size(); ++i) {
    loop.progress->enter(static_cast<std::int64_t>(i));
    if (Status st = enqueue_iteration(t, loop, i, false); !st.ok()) return st;
    if (Status st = wait_iteration(t, loop, i); !st.ok()) return st;
    loop.progress->leave();
    if (loop.barrier) loop.barrier();
  }
  return read_samples(t, seconds);
}

// --timing loop: the host clock around every iteration enqueued back to back and the stream
// synchronised after the last, divided by the iterations (nccl-tests' way); every sample gets the
// average.
Status time_host_loop(NcclTransport& t, const TimedLoop& loop, std::span<double> seconds) {
  const std::size_t n = seconds.size();
  const TickClock::Ticks t0 = TickClock::now();
  for (std::size_t i = 0; i < n; ++i) {
    loop.progress->enter(static_cast<std::int64_t>(i));
    std::byte* r = loop.recv + loop.offsets[i];
    const std::byte* in = loop.args.in_place ? r : loop.send + loop.offsets[i];
    if (Status st = loop.algorithm->run(in, r, loop.args, Deadline::In(loop.timeout_s)); !st.ok())
      return st;
    loop.progress->leave();
  }
  loop.progress->enter(static_cast<std::int64_t>(n));
  if (Status st = t.synchronize(Deadline::In(loop.timeout_s * static_cast<double>(n))); !st.ok())
    return st;
  loop.progress->leave();
  const double each = TickClock::seconds(t0, TickClock::now()) / static_cast<double>(n);
  for (double& x : seconds) x = each;
  return Status::Ok();
}

// The iterations captured once into a graph (with their events), launched `launches` times, each
// launch waited for as a whole within --timeout (reported to the watchdog as iteration l); the
// samples are the last launch's, the earlier ones warm the graph.
Status time_graph(NcclTransport& t, const TimedLoop& loop, std::span<double> seconds,
                  int launches) {
  DeviceOps& dev = t.device();
  {
    // Uncaptured first: NCCL connects to this pattern of peers lazily, never inside a capture.
    std::byte* r = loop.recv + loop.offsets[0];
    const std::byte* in = loop.args.in_place ? r : loop.send + loop.offsets[0];
    loop.progress->enter(0);
    Status st = loop.algorithm->run(in, r, loop.args, Deadline::In(loop.timeout_s));
    if (st.ok()) st = t.synchronize(Deadline::In(loop.timeout_s));
    if (!st.ok()) return st;
    loop.progress->leave();
  }
  if (Status st = dev.begin_capture(); !st.ok()) return st;
  Status st = Status::Ok();
  for (std::size_t i = 0; i < seconds.size() && st.ok(); ++i)
    st = enqueue_iteration(t, loop, i, true);
  void* graph = nullptr;
  const Status end = dev.end_capture(&graph);  // ends the capture in every case
  if (st.ok()) st = end;
  for (int l = 0; l < launches && st.ok(); ++l) {
    loop.progress->enter(l);
    st = dev.launch(graph);
    if (st.ok()) st = t.synchronize(Deadline::In(loop.timeout_s));
    if (st.ok()) loop.progress->leave();
  }
  if (st.ok()) st = read_samples(t, seconds);
  dev.destroy_graph(graph);
  return st;
}

}  // namespace

std::size_t rotation_bytes_for_cache(std::size_t cache_bytes) {
  constexpr std::size_t kMiB = std::size_t{1} << 20;
  const std::size_t twice = (2 * cache_bytes + kMiB - 1) / kMiB * kMiB;
  return std::max(kHostRotationBytes, twice);
}

Status time_on_device(NcclTransport& t, const TimedLoop& loop, std::span<double> seconds,
                      int graph_launches) {
  if (seconds.empty()) return Status::Ok();
  if (graph_launches > 0) return time_graph(t, loop, seconds, graph_launches);
  switch (loop.mode) {
    case TimingMode::kPerCall:
      return time_stream(t, loop, seconds);
    case TimingMode::kBarrier:
      return time_with_barriers(t, loop, seconds);
    case TimingMode::kLoop:
      return time_host_loop(t, loop, seconds);
  }
  return time_stream(t, loop, seconds);
}

Status run_once_on_device(NcclTransport& t, Algorithm& algo, const CollectiveArgs& a,
                          const void* send, void* recv, double timeout_s, int graph_launches) {
  const Deadline deadline = Deadline::In(timeout_s);
  if (graph_launches <= 0) {
    Status st = algo.run(send, recv, a, deadline);
    if (st.ok()) st = t.synchronize(deadline);
    return st;
  }
  DeviceOps& dev = t.device();
  if (Status st = dev.begin_capture(); !st.ok()) return st;
  Status st = algo.run(send, recv, a, deadline);
  void* graph = nullptr;
  const Status end = dev.end_capture(&graph);
  if (st.ok()) st = end;
  if (st.ok()) st = dev.launch(graph);
  if (st.ok()) st = t.synchronize(deadline);
  dev.destroy_graph(graph);
  return st;
}

Status check_on_device(NcclTransport& t, const void* buf, const CollectiveArgs& a, int rank,
                       int ranks, std::uint64_t seed, double timeout_s, CheckResult* result) {
  if (Status st = t.device().check_output(buf, a, rank, ranks, seed); !st.ok()) return st;
  if (Status st = t.synchronize(Deadline::In(timeout_s)); !st.ok()) return st;
  *result = t.device().check_result();
  return Status::Ok();
}

}  // namespace collbench::collectives
