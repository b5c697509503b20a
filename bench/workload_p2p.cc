#include "bench/workload_p2p.h"

#include <mpi.h>

#include <algorithm>

#include "bench/stats.h"
#include "collectives/mpi/mpi_transport.h"

namespace collbench::bench {
namespace {

using collectives::Collective;
using collectives::CollectiveArgs;
using collectives::DType;

// One exchange: receive the previous stage's block, send this stage's to the next.
class PipelineExchange final : public collectives::Algorithm {
 public:
  PipelineExchange(collectives::Transport& t, int prev, int next)
      : t_(t), prev_(prev), next_(next) {}
  std::string_view name() const override { return "p2p"; }
  Collective collective() const override { return Collective::kAllGather; }
  std::optional<std::string> supports(const collectives::AlgorithmContext&,
                                      const CollectiveArgs&) const override {
    return std::nullopt;
  }
  void prepare(const collectives::AlgorithmContext&, const CollectiveArgs&) override {}
  Status run(const void* send, void* recv, const CollectiveArgs& a, Deadline deadline) override {
    const std::size_t bytes = a.count / 2;  // u8: one block
    if (prev_ >= 0) t_.irecv(recv, bytes, prev_, kTag);
    if (next_ >= 0) t_.isend(send, bytes, next_, kTag);
    return t_.wait_all(deadline);
  }

 private:
  static constexpr int kTag = 0x300;
  collectives::Transport& t_;
  int prev_, next_;
};

}  // namespace

nlohmann::json P2pResult::to_json(nlohmann::json step) const {
  const Stats s = compute_stats(samples_us);
  step["measured_bytes"] = measured;
  step["extrapolated"] = extrapolated;
  step["time_each_us"] = each_s * 1e6;
  step["time_us"] = {{"min", s.min}, {"mean", s.mean}, {"p50", s.p50},    {"p95", s.p95},
                     {"p99", s.p99}, {"max", s.max},   {"stdev", s.stdev}};
  step["samples_us"] = samples_us;
  step["wrong"] = wrong;
  return step;
}

P2pResult measure_p2p(const Options& o, collectives::Backend& backend, Watchdog& watchdog,
                      const model::StepCollective& c, std::size_t cap) {
  MPI_Comm world = MPI_COMM_WORLD;
  int rank = 0, size = 1;
  MPI_Comm_rank(world, &rank);
  MPI_Comm_size(world, &size);
  const auto stride = static_cast<int>(c.stride);
  const int stage = rank / stride, stages = size / stride;
  const int next = stage + 1 < stages ? rank + stride : -1;
  const int prev = stage > 0 ? rank - stride : -1;

  P2pResult out;
  out.measured =
      std::max<std::size_t>(1, std::min<std::size_t>(static_cast<std::size_t>(c.bytes), cap));
  out.extrapolated = static_cast<double>(out.measured) < c.bytes;
  std::vector<std::size_t> sizes{out.measured};
  if (out.extrapolated) sizes.push_back(std::max<std::size_t>(1, out.measured / 2));

  auto transport = backend.make_transport(world);
  PipelineExchange exchange(*transport, prev, next);
  collectives::Buffer send = transport->allocate(out.measured);
  collectives::Buffer recv = transport->allocate(2 * out.measured);
  const auto iters = static_cast<std::size_t>(o.iters);
  std::vector<double> local(std::max(iters, static_cast<std::size_t>(o.warmup))), worst(iters);
  std::vector<std::size_t> offsets(local.size(), 0);
  std::vector<double> medians;
  for (std::size_t bytes : sizes) {
    // Two blocks of bytes each: block 0 is what arrives, block 1 this stage's own.
    const CollectiveArgs args{Collective::kAllGather, 2 * bytes, DType::kU8,
                              collectives::ReduceOp::kSum, false};
    watchdog.begin_step("p2p " + c.what + " " + std::to_string(bytes) + " B");
    collectives::TimedLoop loop;
    loop.algorithm = &exchange;
    loop.args = args;
    loop.send = send.bytes();
    loop.recv = recv.bytes();
    loop.timeout_s = o.timeout_s;
    loop.progress = &watchdog.progress();
    auto fail_if = [&](const Status& s) {
      if (!s.ok()) watchdog.fire_now("p2p " + c.what + ": " + s.message);
    };
    CB_MPI_CHECK(MPI_Barrier(world));
    loop.offsets = std::span<const std::size_t>(offsets.data(), static_cast<std::size_t>(o.warmup));
    fail_if(backend.time_iterations(loop, std::span<double>(local.data(), loop.offsets.size())));
    loop.offsets = std::span<const std::size_t>(offsets.data(), iters);
    fail_if(backend.time_iterations(loop, std::span<double>(local.data(), iters)));
    CB_MPI_CHECK(MPI_Allreduce(local.data(), worst.data(), static_cast<int>(iters), MPI_DOUBLE,
                               MPI_MAX, world));
    std::vector<double> us(worst.begin(), worst.end());
    for (double& x : us) x *= 1e6;
    medians.push_back(compute_stats(us).p50 * 1e-6);
    if (bytes == out.measured) out.samples_us = us;
    watchdog.end_step();
  }
  // The check at the measured size: the sender plays all-gather rank 0 with its own seed, the
  // receiver expects its neighbour's seed, so data from the wrong stage is caught.
  std::int64_t wrong = 0;
  if (o.check > 0) {
    const CollectiveArgs in_place{Collective::kAllGather, 2 * out.measured, DType::kU8,
                                  collectives::ReduceOp::kSum, true};
    const CollectiveArgs own{Collective::kAllGather, 2 * out.measured, DType::kU8,
                             collectives::ReduceOp::kSum, false};
    for (int rep = 0; rep < o.check; ++rep) {
      const auto seed = [&](int r) { return static_cast<std::uint64_t>(r) * 1000 + rep + 1; };
      backend.fill_input(*transport, send.data(), own, 0, 2, seed(rank));
      backend.fill_sentinel(*transport, recv.data(), in_place);
      const Status st = exchange.run(send.data(), recv.data(), own, Deadline::In(o.timeout_s));
      if (!st.ok()) watchdog.fire_now("p2p " + c.what + " check: " + st.message);
      if (!transport->synchronize(Deadline::In(o.timeout_s)).ok())
        watchdog.fire_now("p2p " + c.what + " check did not complete");
      if (prev < 0) continue;
      // Block 0 against the sender's values: rank 0's all-gather block is the same pattern for
      // any rank count, so a one-rank view of the first block checks exactly it.
      const auto res =
          backend.check_output(*transport, recv.data(),
                               CollectiveArgs{Collective::kAllGather, out.measured, DType::kU8,
                                              collectives::ReduceOp::kSum, false},
                               0, 1, seed(prev));
      wrong += static_cast<std::int64_t>(res.wrong);
    }
  }
  std::int64_t total = 0;
  watchdog.begin_call_step("the count of wrong elements of p2p " + c.what);
  CB_MPI_CHECK(MPI_Allreduce(&wrong, &total, 1, MPI_INT64_T, MPI_SUM, world));
  watchdog.end_step();
  out.wrong = o.check > 0 ? total : -1;
  out.each_s = medians.front();
  if (out.extrapolated) {
    const double slope = (medians[0] - medians[1]) / static_cast<double>(sizes[0] - sizes[1]);
    out.each_s = slope > 0 ? medians[0] + slope * (c.bytes - static_cast<double>(sizes[0]))
                           : medians[0] * c.bytes / static_cast<double>(sizes[0]);
  }
  return out;
}

}  // namespace collbench::bench
