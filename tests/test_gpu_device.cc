// The NCCL backend's device code on a real GPU (label `gpu`; exits 77 = skipped, with the
// reason, when no GPU is visible):
//   - the reduction kernel equals the host kernels bit for bit (every dtype and op, aligned and
//     misaligned pointers, counts around the 16-byte pack size);
//   - the device fill equals the host fill, and the device check counts exactly what the host
//     check counts (clean output, one corrupted element, an untouched sentinel);
//   - every registered algorithm (ours and NCCL's own) over the NCCL transport on every visible
//     GPU (up to 4; one thread and one non-blocking communicator per GPU, under a
//     CommSupervisor each, with send/recv sizes checked), checked on the device, also when the
//     collectives are captured in a CUDA graph. A failing rank prints why at once and aborts
//     every rank's communicators, so that its peers return instead of waiting in their next
//     collective;
//   - the timing path's events against the host's clock: a loop of large device copies, timed
//     with events as the NCCL backend times collectives, lies inside the wall time around it
//     and covers most of it, at a plausible memory bandwidth.
#include <cuda_runtime.h>
#include <gtest/gtest.h>
#include <nccl.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <numeric>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "collectives/check_pattern.h"
#include "collectives/nccl/comm_supervisor.h"
#include "collectives/nccl/cuda_device_ops.h"
#include "collectives/nccl/cuda_kernels.h"
#include "collectives/nccl/device_loop.h"
#include "collectives/nccl/native_nccl.h"
#include "collectives/nccl/nccl_api.h"
#include "collectives/nccl/nccl_backend.h"
#include "collectives/nccl/nccl_transport.h"
#include "collectives/reduce.h"
#include "collectives/registry.h"
#include "collectives/spec.h"

namespace collbench::collectives {
namespace {

int g_visible = 0;

struct DeviceMemory {
  void* p = nullptr;
  explicit DeviceMemory(std::size_t bytes) { CB_CUDA_CHECK(cudaMalloc(&p, bytes ? bytes : 256)); }
  ~DeviceMemory() { cudaFree(p); }
  DeviceMemory(const DeviceMemory&) = delete;
  DeviceMemory& operator=(const DeviceMemory&) = delete;
  std::byte* bytes() const { return static_cast<std::byte*>(p); }
};

struct Stream {
  cudaStream_t s = nullptr;
  Stream() { CB_CUDA_CHECK(cudaStreamCreate(&s)); }
  ~Stream() { cudaStreamDestroy(s); }
};

std::vector<std::uint8_t> download(const void* d, std::size_t bytes) {
  std::vector<std::uint8_t> h(bytes);
  if (bytes) CB_CUDA_CHECK(cudaMemcpy(h.data(), d, bytes, cudaMemcpyDeviceToHost));
  return h;
}

void upload(void* d, const std::vector<std::uint8_t>& h) {
  if (!h.empty()) CB_CUDA_CHECK(cudaMemcpy(d, h.data(), h.size(), cudaMemcpyHostToDevice));
}

// Small finite values (no NaN: the GPU and the CPU propagate NaN payloads differently).
std::vector<std::uint8_t> random_values(std::size_t count, DType t, std::mt19937& rng) {
  std::vector<std::uint8_t> v(count * dtype_size(t));
  const bool is_unsigned = t == DType::kU8 || t == DType::kU32 || t == DType::kU64;
  std::uniform_int_distribution<int> d(is_unsigned ? 0 : -100, 100);
  for (std::size_t i = 0; i < count; ++i) {
    double x = d(rng);
    if (dtype_is_float(t)) x /= 8;  // fractions, still exact in every float type
    store_from_double(v.data(), i, t, x);
  }
  return v;
}

TEST(DeviceKernels, ReduceMatchesHostBitForBit) {
  Stream s;
  std::mt19937 rng(11);
  const std::size_t counts[] = {0, 1, 7, 15, 16, 17, 33, 4099, (1u << 20) + 3};
  for (DType t : all_dtypes()) {
    const std::size_t es = dtype_size(t);
    for (ReduceOp op : all_ops()) {
      for (std::size_t count : counts) {
        // (inout offset, in offset) in elements: both aligned, both misaligned alike, different.
        for (auto [oa, ob] : {std::pair<std::size_t, std::size_t>{0, 0}, {1, 1}, {0, 1}}) {
          const auto a = random_values(count, t, rng), b = random_values(count, t, rng);
          DeviceMemory da((count + 1) * es), db((count + 1) * es);
          upload(da.bytes() + oa * es, a);
          upload(db.bytes() + ob * es, b);
          ASSERT_EQ(cuda::reduce(da.bytes() + oa * es, db.bytes() + ob * es, count, t, op, s.s),
                    cudaSuccess);
          CB_CUDA_CHECK(cudaStreamSynchronize(s.s));
          auto want = a;
          if (count) reduce_inplace(want.data(), b.data(), count, t, op);
          EXPECT_EQ(download(da.bytes() + oa * es, count * es), want)
              << dtype_name(t) << " " << op_name(op) << " count " << count << " offsets " << oa
              << "," << ob;
        }
      }
    }
  }
}

TEST(DeviceKernels, FillMatchesHost) {
  Stream s;
  for (Collective c : kAllCollectives) {
    for (DType t : all_dtypes()) {
      for (ReduceOp op : all_ops()) {
        for (int p : {1, 3, 8}) {
          const std::size_t count = static_cast<std::size_t>(p) * 1001;
          for (int rank : {0, p - 1}) {
            const std::size_t in_count = input_span(c, count, rank, p, false).count;
            DeviceMemory d(in_count * dtype_size(t) + 1);
            ASSERT_EQ(cuda::fill_input(d.p, CollectiveArgs{c, count, t, op}, rank, p, 5, s.s),
                      cudaSuccess);
            CB_CUDA_CHECK(cudaStreamSynchronize(s.s));
            std::vector<std::uint8_t> want(in_count * dtype_size(t));
            fill_input(want.data(), CollectiveArgs{c, count, t, op}, rank, p, 5);
            EXPECT_EQ(download(d.p, want.size()), want)
                << collective_name(c) << " " << dtype_name(t) << " " << op_name(op) << " p " << p
                << " rank " << rank;
          }
        }
        if (!traits(c).reduces) break;  // the op does not matter
      }
    }
  }
}

// The exact output span of `rank`, written with the pattern formulas directly.
std::vector<std::uint8_t> expected_output(const CollectiveArgs& a, int rank, int p,
                                          std::uint64_t seed) {
  const DType t = a.dtype;
  const std::size_t n = output_span(a.collective, a.count, rank, p, false).count;
  const std::size_t block = block_count(a.collective, a.count, p);
  std::vector<std::uint8_t> v(n * dtype_size(t));
  const double limit = dtype_exact_limit(t);
  const auto plan = pattern::make_allreduce_plan(static_cast<int>(a.op), p, limit);
  const auto mod = pattern::alltoall_modulus(limit);
  for (std::size_t i = 0; i < n; ++i) {
    double x = 0;
    switch (a.collective) {
      case Collective::kAllReduce:
        x = pattern::allreduce_expected(plan, i, seed);
        break;
      case Collective::kReduceScatter:
        x = pattern::allreduce_expected(plan, static_cast<std::size_t>(rank) * block + i, seed);
        break;
      case Collective::kAllToAll:
        x = pattern::alltoall_value(i / block, rank, p, i % block, seed, mod);
        break;
      case Collective::kAllGather:
        x = pattern::allgather_value(i / block, p, i % block, seed, mod);
        break;
    }
    store_from_double(v.data(), i, t, x);
  }
  return v;
}

cuda::DeviceCheck device_check(const void* buf, const CollectiveArgs& a, int rank, int p,
                               std::uint64_t seed, cudaStream_t s) {
  DeviceMemory r(sizeof(cuda::DeviceCheck));
  EXPECT_EQ(cuda::check_output(buf, a, rank, p, seed, static_cast<cuda::DeviceCheck*>(r.p), s),
            cudaSuccess);
  CB_CUDA_CHECK(cudaStreamSynchronize(s));
  cuda::DeviceCheck h{};
  CB_CUDA_CHECK(cudaMemcpy(&h, r.p, sizeof h, cudaMemcpyDeviceToHost));
  return h;
}

TEST(DeviceKernels, CheckCountsWhatTheHostCounts) {
  Stream s;
  const int p = 3, rank = 1;
  const std::uint64_t seed = 9;
  for (Collective c : kAllCollectives) {
    for (DType t : all_dtypes()) {
      for (ReduceOp op : all_ops()) {
        const std::size_t count = 3 * 4001;
        const CollectiveArgs a{c, count, t, op};
        const std::size_t n = output_span(c, count, rank, p, false).count;
        const std::string what = std::string(collective_name(c)) + " " +
                                 std::string(dtype_name(t)) + " " + std::string(op_name(op));
        auto good = expected_output(a, rank, p, seed);
        ASSERT_EQ(check_output(good.data(), a, rank, p, seed).wrong, 0u) << what;
        DeviceMemory d(good.size());
        upload(d.p, good);
        auto r = device_check(d.p, a, rank, p, seed, s.s);
        EXPECT_EQ(r.wrong, 0u) << what;
        EXPECT_EQ(r.first_wrong, ~0ull) << what;

        // One corrupted element: counted once, at its index, with the host's values.
        ASSERT_EQ(cuda::add_to_element(d.p, 5, t, 3, s.s), cudaSuccess);
        r = device_check(d.p, a, rank, p, seed, s.s);
        const auto host = check_output(download(d.p, good.size()).data(), a, rank, p, seed);
        EXPECT_EQ(r.wrong, 1u) << what;
        EXPECT_EQ(r.wrong, host.wrong) << what;
        EXPECT_EQ(r.first_wrong, 5u) << what;
        EXPECT_EQ(r.first_expected, host.first_expected) << what;
        EXPECT_EQ(r.first_actual, host.first_actual) << what;

        // An untouched sentinel: every element wrong.
        ASSERT_EQ(cuda::fill_sentinel(d.p, a, rank, p, s.s), cudaSuccess);
        r = device_check(d.p, a, rank, p, seed, s.s);
        EXPECT_EQ(r.wrong, n) << what;
        EXPECT_EQ(r.first_wrong, 0u) << what;
        if (!traits(c).reduces) break;
      }
    }
  }
}

// --- every algorithm over the NCCL transport, one thread per GPU -----------------------------

struct Failures {
  std::mutex mu;
  std::vector<std::string> list;
  std::size_t checked = 0;
  std::vector<std::shared_ptr<CommSupervisor>> ranks;
  // Printed at once (a later join might not come), then every rank's communicators aborted.
  void add(const std::string& s) {
    std::fprintf(stderr, "FAILED: %s\n", s.c_str());
    std::vector<std::shared_ptr<CommSupervisor>> sups;
    {
      std::lock_guard lock(mu);
      if (list.size() < 40) list.push_back(s);
      sups = ranks;
    }
    for (auto& sup : sups) sup->request_abort(s);
  }
  void watch(const std::shared_ptr<CommSupervisor>& sup) {
    std::lock_guard lock(mu);
    ranks.push_back(sup);
  }
  void forget(const std::shared_ptr<CommSupervisor>& sup) {
    std::lock_guard lock(mu);
    ranks.erase(std::remove(ranks.begin(), ranks.end(), sup), ranks.end());
  }
};

// One rank: every algorithm of the registry that accepts the NCCL transport, checked on the
// device after every collective. With `graph`, each collective is captured and replayed twice.
void run_rank(NcclTransport& t, bool graph, Failures& fail) {
  const int p = t.size(), rank = t.rank();
  const auto stream = static_cast<cudaStream_t>(t.stream());
  AlgorithmContext ctx;
  ctx.transport = &t;
  ctx.node_of_rank.assign(static_cast<std::size_t>(p), 0);
  DeviceMemory result(sizeof(cuda::DeviceCheck));
  cuda::DeviceCheck h{};
  const std::size_t max_count = (std::size_t{1} << 20) + 7 * static_cast<std::size_t>(p);
  DeviceMemory send(max_count * 8), recv(max_count * 8);
  std::uint64_t seed = 1;
  for (const auto& info : algorithm_registry()) {
    if (!info.measurable() || (info.native() && info.backend != "nccl")) continue;
    const bool ar = !traits(info.collective).blocks;
    for (DType dt : {DType::kF32, DType::kBF16, DType::kI32}) {
      for (ReduceOp op : {ReduceOp::kSum, ReduceOp::kMax}) {
        if (!traits(info.collective).reduces && op != ReduceOp::kSum) continue;
        auto algo = info.native() ? make_nccl_native(info.id) : make_own_algorithm(info.id);
        CollectiveArgs max{info.collective, max_count, dt, op, false};
        if (!ar) max.count = max_count / static_cast<std::size_t>(p) * static_cast<std::size_t>(p);
        if (algo->supports(ctx, max)) continue;
        algo->prepare(ctx, max);
        for (std::size_t c0 : {std::size_t{0}, std::size_t{1}, static_cast<std::size_t>(p + 1),
                               std::size_t{4099}, max.count}) {
          for (bool in_place : {false, true}) {
            CollectiveArgs a = max;
            a.in_place = in_place;
            a.count = ar ? c0 : c0 * static_cast<std::size_t>(p);
            if (a.count > max.count) a.count = max.count;
            const std::string what =
                std::string(info.name) + " " + std::string(collective_name(info.collective)) + " " +
                std::string(dtype_name(dt)) + " " + std::string(op_name(op)) + " count " +
                std::to_string(a.count) + (in_place ? " in" : " out") + (graph ? " graph" : "") +
                " rank " + std::to_string(rank);
            ++seed;
            void* in = in_place ? recv.p : send.p;
            CB_CUDA_CHECK(cuda::fill_sentinel(recv.p, a, rank, p, stream));
            CB_CUDA_CHECK(cuda::fill_input(in, a, rank, p, seed, stream));
            Status st;
            if (!graph) {
              st = algo->run(in, recv.p, a, Deadline::In(30));
            } else {
              // Out of place the graph is replayed twice (same result); in place once, since a
              // second replay would start from the first one's output.
              DeviceOps& dev = t.device();
              void* exec = nullptr;
              st = dev.begin_capture();
              if (st.ok()) st = algo->run(in, recv.p, a, Deadline::In(30));
              const Status end = dev.end_capture(&exec);
              if (st.ok()) st = end;
              if (st.ok()) st = dev.launch(exec);
              if (st.ok() && !in_place) st = dev.launch(exec);
              dev.destroy_graph(exec);
            }
            if (st.ok()) st = t.synchronize(Deadline::In(60));
            if (!st.ok()) {
              fail.add(what + ": " + st.message);
              return;  // the peers' next collective cannot match any more
            }
            CB_CUDA_CHECK(cuda::check_output(recv.p, a, rank, p, seed,
                                             static_cast<cuda::DeviceCheck*>(result.p), stream));
            CB_CUDA_CHECK(cudaMemcpyAsync(&h, result.p, sizeof h, cudaMemcpyDeviceToHost, stream));
            CB_CUDA_CHECK(cudaStreamSynchronize(stream));
            if (h.wrong)
              fail.add(what + ": " + std::to_string(h.wrong) + " wrong, first at " +
                       std::to_string(h.first_wrong) + " (expected " +
                       std::to_string(h.first_expected) + ", got " +
                       std::to_string(h.first_actual) + ")");
            std::lock_guard lock(fail.mu);
            ++fail.checked;
          }
        }
      }
    }
  }
}

void run_on_all_gpus(bool graph) {
  const int n = std::min(g_visible, 4);
  CommId id;
  ASSERT_TRUE(make_nccl_comm_ops()->unique_id(&id).ok());
  Failures fail;
  std::vector<std::thread> threads;
  for (int d = 0; d < n; ++d) {
    threads.emplace_back([&, d] {
      const auto ops = make_nccl_comm_ops();  // outlives the supervisor
      std::shared_ptr<CommSupervisor> sup;
      try {
        CB_CUDA_CHECK(cudaSetDevice(d));
        auto dev = make_cuda_device_ops(d);
        sup = std::make_shared<CommSupervisor>(*ops, 120);
        fail.watch(sup);
        const CommHandle c = sup->init(n, id, d);
        {
          NcclTransport t(sup, c, dev, true, /*check_sizes=*/true);
          run_rank(t, graph, fail);
          if (!sup->failed())
            if (const Status st = t.close(Deadline::In(120)); !st.ok()) throw Error(st.message);
        }
        fail.forget(sup);
      } catch (const std::exception& e) {
        fail.add(std::string("rank ") + std::to_string(d) + ": " + e.what());
        if (sup) fail.forget(sup);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_GT(fail.checked, 0u);
  for (const auto& f : fail.list) ADD_FAILURE() << f;
}

TEST(NcclTransportGpu, EveryAlgorithmOnEveryVisibleGpu) { run_on_all_gpus(false); }

TEST(NcclTransportGpu, EveryAlgorithmCapturedInACudaGraph) { run_on_all_gpus(true); }

// A device copy as an Algorithm: the timing path with nothing but the GPU's memory in the way.
class DeviceCopy final : public Algorithm {
 public:
  std::string_view name() const override { return "device_copy"; }
  Collective collective() const override { return Collective::kAllReduce; }
  std::optional<std::string> supports(const AlgorithmContext&,
                                      const CollectiveArgs&) const override {
    return std::nullopt;
  }
  void prepare(const AlgorithmContext& ctx, const CollectiveArgs&) override { t_ = ctx.transport; }
  Status run(const void* send, void* recv, const CollectiveArgs& a, Deadline) override {
    t_->copy(recv, send, a.bytes());
    return Status::Ok();
  }

 private:
  Transport* t_ = nullptr;
};

TEST(DeviceTiming, EventTimeLiesInsideWallTimeAndCoversMostOfIt) {
  CommId id;
  const auto ops = make_nccl_comm_ops();
  ASSERT_TRUE(ops->unique_id(&id).ok());
  CB_CUDA_CHECK(cudaSetDevice(0));
  auto sup = std::make_shared<CommSupervisor>(*ops, 60);
  NcclTransport t(sup, sup->init(1, id, 0), make_cuda_device_ops(0), true);
  constexpr std::size_t kBytes = std::size_t{256} << 20;
  constexpr std::size_t kIters = 20;
  Buffer send = t.allocate(kBytes), recv = t.allocate(kBytes);
  DeviceCopy copy;
  AlgorithmContext ctx;
  ctx.transport = &t;
  CollectiveArgs args{Collective::kAllReduce, kBytes / 4, DType::kF32, ReduceOp::kSum, false};
  copy.prepare(ctx, args);
  Progress progress;
  const std::vector<std::size_t> offsets(kIters, 0);
  TimedLoop loop;
  loop.algorithm = &copy;
  loop.args = args;
  loop.send = send.bytes();
  loop.recv = recv.bytes();
  loop.offsets = offsets;
  loop.timeout_s = 60;
  loop.progress = &progress;
  std::vector<double> s(kIters);
  for (int graph : {0, 2}) {
    ASSERT_TRUE(time_on_device(t, loop, s, graph).ok());  // warm: events, graph, clocks
    const auto t0 = std::chrono::steady_clock::now();
    const Status st = time_on_device(t, loop, s, graph);
    const double wall =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    ASSERT_TRUE(st.ok()) << st.message;
    const double sum = std::accumulate(s.begin(), s.end(), 0.0);
    const double gbps = 2.0 * kBytes * kIters / sum / 1e9;  // read + write
    std::printf("graph %d: %zu copies of 256 MiB: events %.3f ms, wall %.3f ms, %.0f GB/s\n", graph,
                kIters, sum * 1e3, wall * 1e3, gbps);
    EXPECT_LE(sum, wall * 1.01 + 20e-6) << "the events must lie inside the host's interval";
    // Without a graph the loop is the copies and little else; with one it also holds the
    // capture and the earlier launch, so only the bound above applies.
    if (graph == 0) {
      EXPECT_GE(sum, 0.5 * wall) << "the events must cover the GPU's work";
    }
    EXPECT_GT(gbps, 50.0);
    EXPECT_LT(gbps, 20000.0);
  }
  EXPECT_TRUE(t.close(Deadline::In(60)).ok());
}

}  // namespace
}  // namespace collbench::collectives

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  if (auto why =
          collbench::collectives::gpu_visibility_problem(&collbench::collectives::g_visible)) {
    std::printf("SKIPPED: no GPU visible: %s\n", why->c_str());
    return 77;
  }
  return RUN_ALL_TESTS();
}
