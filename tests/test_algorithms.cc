// Every own algorithm of every collective in the registry, on the in-process transport, over
// the matrix
//   ranks {1,2,3,4,5,6,7,8,13,16} x counts {0, 1, p-1, p+1, large odd} x dtype x op x in/out of
//   place
// (counts in blocks per rank for the collectives with blocks), checked element by element twice:
// with spec.h's closed-form check (check_output) and against a reference computed directly from
// every rank's input (all dtypes for the collectives that move data; f32 and i32 for those that
// reduce). The full dtype x op product runs at the small counts; the large odd count runs a
// reduced set (every op on f32, sum on the other float types and on i64, max on u8).
//
// Each configuration runs twice back to back with different inputs and no barrier between, so
// messages of consecutive collectives must not mix. The test also checks that run() allocates
// no heap memory, writes nothing past its output, and that prepare() asks the transport for at
// most two message sizes of scratch (what the harness budgets).
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>
#include <string>
#include <thread>
#include <vector>

#include "collectives/algorithms.h"
#include "collectives/collective.h"
#include "collectives/inproc_transport.h"
#include "collectives/registry.h"
#include "collectives/spec.h"

// --- heap allocations per thread, to prove run() allocates nothing ---------------------------

namespace {
thread_local std::size_t t_allocations = 0;
}

// The replacements pair malloc with free; GCC cannot see that and warns about the pairing.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

void* operator new(std::size_t n) {
  ++t_allocations;
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) {
  ++t_allocations;
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
// The nothrow forms too (std::stable_sort's temporary buffer uses them): every form of new and
// delete must come from one allocator.
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  ++t_allocations;
  return std::malloc(n ? n : 1);
}
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept {
  ++t_allocations;
  return std::malloc(n ? n : 1);
}
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
#pragma GCC diagnostic pop

namespace collbench::collectives {
namespace {

constexpr std::size_t kLargeOdd = 3001;
constexpr std::size_t kSegmentBytes = 96;  // small, so the large count spans many ring segments
constexpr std::uint64_t kSeed = 7;

std::vector<std::size_t> counts_for(int p) {
  const auto up = static_cast<std::size_t>(p);
  std::vector<std::size_t> c = {0, 1, up - 1, up + 1};
  std::sort(c.begin(), c.end());
  c.erase(std::unique(c.begin(), c.end()), c.end());
  return c;  // kLargeOdd runs separately (reduced dtype/op set)
}

struct Case {
  DType t;
  ReduceOp op;
};

std::vector<Case> large_allreduce_cases() {
  std::vector<Case> c;
  for (ReduceOp op : all_ops()) c.push_back({DType::kF32, op});
  c.push_back({DType::kF64, ReduceOp::kSum});
  c.push_back({DType::kF16, ReduceOp::kSum});
  c.push_back({DType::kBF16, ReduceOp::kSum});
  c.push_back({DType::kI64, ReduceOp::kSum});
  c.push_back({DType::kU8, ReduceOp::kMax});
  return c;
}

// Every rank's input of a point, as the harness fills it.
std::vector<std::uint8_t> input_of(const CollectiveArgs& a, int rank, int p, std::uint64_t seed) {
  const std::size_t es = dtype_size(a.dtype);
  const Span in = input_span(a.collective, a.count, rank, p, false);
  std::vector<std::uint8_t> buf((in.count + 1) * es);
  fill_input(buf.data(), CollectiveArgs{a.collective, a.count, a.dtype, a.op, false}, rank, p,
             seed);
  return buf;
}

double combine(ReduceOp op, double acc, double v) {
  switch (op) {
    case ReduceOp::kSum:
      return acc + v;
    case ReduceOp::kProd:
      return acc * v;
    case ReduceOp::kMin:
      return std::min(acc, v);
    case ReduceOp::kMax:
      return std::max(acc, v);
  }
  return acc;
}

// The expected output computed directly from every rank's input (not from the closed form):
// reductions element by element (f32 and i32 only), blocks copied for the others. `got` is this
// rank's output span.
bool direct_reference(const CollectiveArgs& a, int rank, int p, std::uint64_t seed, const void* got,
                      std::string* why) {
  const DType t = a.dtype;
  const std::size_t es = dtype_size(t);
  const std::size_t block = block_count(a.collective, a.count, p);
  std::vector<std::vector<std::uint8_t>> inputs;
  for (int r = 0; r < p; ++r) inputs.push_back(input_of(a, r, p, seed));
  auto differ = [&](std::size_t i, double want) {
    const double have = element_as_double(got, i, t);
    if (have == want) return false;
    *why = "direct reference: element " + std::to_string(i) + " is " + std::to_string(have) +
           ", expected " + std::to_string(want);
    return true;
  };
  switch (a.collective) {
    case Collective::kAllReduce:
    case Collective::kReduceScatter: {
      if (t != DType::kF32 && t != DType::kI32) return true;
      const std::size_t first =
          a.collective == Collective::kReduceScatter ? static_cast<std::size_t>(rank) * block : 0;
      const std::size_t n = a.collective == Collective::kReduceScatter ? block : a.count;
      for (std::size_t i = 0; i < n; ++i) {
        double acc = element_as_double(inputs[0].data(), first + i, t);
        for (int r = 1; r < p; ++r)
          acc = combine(a.op, acc, element_as_double(inputs[r].data(), first + i, t));
        if (differ(i, acc)) return false;
      }
      return true;
    }
    case Collective::kAllToAll:
    case Collective::kAllGather: {
      if (block == 0) return true;  // nothing to compare (memcmp must not see null pointers)
      const bool a2a = a.collective == Collective::kAllToAll;
      for (int j = 0; j < p; ++j) {
        // All-to-all: block `rank` of rank j's input; all-gather: rank j's whole contribution.
        const auto* want =
            inputs[j].data() + (a2a ? static_cast<std::size_t>(rank) * block : 0) * es;
        const auto* have =
            static_cast<const std::uint8_t*>(got) + static_cast<std::size_t>(j) * block * es;
        if (std::memcmp(want, have, block * es) != 0) {
          *why = "direct reference: block from rank " + std::to_string(j) + " differs";
          return false;
        }
      }
      return true;
    }
  }
  return true;
}

struct Failures {
  std::mutex mu;
  std::vector<std::string> list;
  std::atomic<std::size_t> checked{0};
  void add(std::string s) {
    std::lock_guard lock(mu);
    if (list.size() < 40) list.push_back(std::move(s));
  }
};

// One rank's whole share of the matrix for one algorithm.
void run_matrix_rank(const AlgorithmInfo& info, InProcTransport& tr, InProcWorld& world,
                     Failures& fail) {
  const int p = tr.size(), rank = tr.rank();
  const auto& tr_info = traits(info.collective);
  AlgorithmContext ctx;
  ctx.transport = &tr;
  ctx.node_of_rank = tr.node_of_rank();
  ctx.segment_bytes = kSegmentBytes;

  // (dtype, op, count list) groups; one prepare per (group, in_place) at the largest count.
  struct Group {
    DType t;
    ReduceOp op;
    std::vector<std::size_t> counts;
  };
  std::vector<Group> groups;
  const auto small = counts_for(p);
  auto scale = [&](std::vector<std::size_t> c) {  // collectives with blocks: per-rank blocks
    if (tr_info.blocks)
      for (auto& x : c) x *= static_cast<std::size_t>(p);
    return c;
  };
  if (tr_info.reduces) {
    for (DType t : all_dtypes())
      for (ReduceOp op : all_ops()) groups.push_back({t, op, scale(small)});
    for (Case c : large_allreduce_cases()) groups.push_back({c.t, c.op, scale({kLargeOdd})});
  } else {
    for (DType t : all_dtypes()) {
      auto c = small;
      if (t == DType::kF32 || t == DType::kF16 || t == DType::kU8) c.push_back(kLargeOdd);
      groups.push_back({t, ReduceOp::kSum, scale(c)});
    }
  }

  for (const Group& g : groups) {
    for (bool in_place : {false, true}) {
      std::string where = std::string(info.name) + " (" + std::string(tr_info.name) +
                          ") p=" + std::to_string(p) + " rank " + std::to_string(rank) + " " +
                          std::string(dtype_name(g.t)) + " " +
                          (tr_info.reduces ? std::string(op_name(g.op)) + " " : std::string()) +
                          (in_place ? "in-place" : "out-of-place");
      auto algo = make_own_algorithm(info.id);
      CollectiveArgs max{info.collective, g.counts.back(), g.t, g.op, in_place};
      if (auto why = algo->supports(ctx, max)) {
        fail.add(where + ": refused: " + *why);
        continue;
      }
      const std::size_t scratch_before = tr.allocated_bytes();
      algo->prepare(ctx, max);
      const std::size_t scratch = tr.allocated_bytes() - scratch_before;
      if (scratch > 2 * max.bytes())
        fail.add(where + ": prepare asked for " + std::to_string(scratch) +
                 " bytes of scratch, more than two messages (" + std::to_string(max.bytes()) +
                 " each)");
      const std::size_t es = dtype_size(g.t);
      std::vector<std::uint8_t> sendbuf(max.bytes() + es), recvbuf(max.bytes() + es);
      for (std::size_t count : g.counts) {
        const std::string at = where + " count " + std::to_string(count);
        CollectiveArgs args{info.collective, count, g.t, g.op, in_place};
        // What the receive buffer holds: one buffer of count in place, recv_count out of place.
        const std::size_t recv_elems = in_place ? count : recv_count(info.collective, count, p);
        const Span out_span = output_span(info.collective, count, rank, p, in_place);
        for (int round = 0; round < 2; ++round) {
          const std::uint64_t seed = kSeed + static_cast<std::uint64_t>(round) * 1000 + count;
          void* out = recvbuf.data();
          void* in = in_place ? out : static_cast<void*>(sendbuf.data());
          fill_sentinel(out, args, rank, p);
          fill_input(in, args, rank, p, seed);
          std::memset(recvbuf.data() + recv_elems * es, 0x5A, es);  // guard past the end
          const std::size_t allocs_before = t_allocations;
          const Status st = algo->run(in, out, args, Deadline::In(60));
          const std::size_t allocs = t_allocations - allocs_before;
          if (!st.ok()) {
            fail.add(at + ": run failed: " + st.message);
            world.abort(at + " failed");
            return;
          }
          if (allocs) fail.add(at + ": run() made " + std::to_string(allocs) + " heap allocations");
          for (std::size_t b = 0; b < es; ++b)
            if (recvbuf[recv_elems * es + b] != 0x5A) {
              fail.add(at + ": wrote past the end of the receive buffer");
              break;
            }
          const CheckResult res = check_output(out, args, rank, p, seed);
          if (res.wrong) {
            fail.add(at + " round " + std::to_string(round) + ": " + std::to_string(res.wrong) +
                     " wrong elements, first #" + std::to_string(res.first_wrong) + " = " +
                     std::to_string(res.first_actual) + ", expected " +
                     std::to_string(res.first_expected));
          }
          std::string why;
          if (!direct_reference(args, rank, p, seed, recvbuf.data() + out_span.offset * es, &why))
            fail.add(at + ": " + why);
          ++fail.checked;
        }
      }
    }
  }
}

std::vector<const AlgorithmInfo*> own_algorithms() {
  std::vector<const AlgorithmInfo*> v;
  for (const auto& a : algorithm_registry())
    if (a.kind == AlgorithmKind::kOwn) v.push_back(&a);
  return v;
}

class AlgorithmMatrix : public ::testing::TestWithParam<int> {};

TEST_P(AlgorithmMatrix, EveryAlgorithmEveryConfiguration) {
  const int p = GetParam();
  const auto algos = own_algorithms();
  ASSERT_GE(algos.size(), 18u);
  for (const AlgorithmInfo* info : algos) {
    InProcWorld world(p);
    Failures fail;
    world.run([&](InProcTransport& tr) { run_matrix_rank(*info, tr, world, fail); });
    EXPECT_GT(fail.checked.load(), 0u);
    for (const auto& f : fail.list) ADD_FAILURE() << f;
  }
}

INSTANTIATE_TEST_SUITE_P(Ranks, AlgorithmMatrix, ::testing::Values(1, 2, 3, 4, 5, 6, 7, 8, 13, 16),
                         [](const auto& info) { return "p" + std::to_string(info.param); });

// The allocation check above can fail: the counter sees an allocation on this thread.
TEST(Algorithms, AllocationCounterCounts) {
  const std::size_t before = t_allocations;
  auto p = std::make_unique<std::vector<int>>(100);
  EXPECT_GE(t_allocations - before, 2u);
}

TEST(Algorithms, RegistryHasEveryOwnAlgorithm) {
  const std::pair<Collective, std::vector<const char*>> expected[] = {
      {Collective::kAllReduce, {"ring", "recursive_doubling", "rabenseifner", "binomial"}},
      {Collective::kAllToAll, {"linear", "pairwise", "bruck"}},
      {Collective::kReduceScatter, {"ring", "recursive_halving", "pairwise", "hierarchical"}},
      {Collective::kAllGather, {"ring", "recursive_doubling", "bruck", "hierarchical"}},
  };
  for (const auto& [c, names] : expected) {
    for (const char* name : names) {
      const AlgorithmInfo* a = find_algorithm(c, name);
      ASSERT_NE(a, nullptr) << name;
      EXPECT_EQ(a->kind, AlgorithmKind::kOwn);
      EXPECT_FALSE(a->description.empty());
      EXPECT_EQ(make_own_algorithm(a->id)->name(), name);
      EXPECT_EQ(make_own_algorithm(a->id)->collective(), c);
    }
  }
  // Every collective has its native MPI collective and its NCCL one.
  for (Collective c : kAllCollectives) {
    int mpi = 0, nccl = 0;
    for (const auto& a : algorithm_registry()) {
      if (a.collective != c || !a.native()) continue;
      mpi += a.backend == "mpi";
      nccl += a.backend == "nccl";
      EXPECT_EQ(a.make, nullptr) << a.name << ": natives are made by their backend";
    }
    EXPECT_EQ(mpi, 1) << collective_name(c);
    EXPECT_EQ(nccl, 1) << collective_name(c);
  }
  // Rows in id order (algorithm_info indexes by id) and unique names per collective.
  for (int i = 0; i < kNumAlgorithmIds; ++i) {
    const auto& a = algorithm_info(static_cast<AlgorithmId>(i));
    EXPECT_EQ(static_cast<int>(a.id), i);
    EXPECT_EQ(find_algorithm(a.collective, a.name), &a) << a.name;
  }
}

// Ring with one segment per chunk (segment_bytes 0) and with segments of one element.
TEST(Algorithms, RingSegmentSizes) {
  for (std::size_t seg : {std::size_t{0}, std::size_t{4}, std::size_t{4096}}) {
    for (int p : {2, 3, 5}) {
      InProcWorld world(p);
      std::atomic<int> wrong{0};
      world.run([&](InProcTransport& tr) {
        AlgorithmContext ctx;
        ctx.transport = &tr;
        ctx.segment_bytes = seg;
        auto algo = make_ring_allreduce();
        for (bool in_place : {false, true}) {
          CollectiveArgs args{Collective::kAllReduce, 1001, DType::kF32, ReduceOp::kSum, in_place};
          algo->prepare(ctx, args);
          std::vector<float> s(1001), r(1001);
          void* in = in_place ? r.data() : s.data();
          fill_input(in, args, tr.rank(), p, 3);
          if (!algo->run(in, r.data(), args, Deadline::In(30)).ok()) ++wrong;
          if (check_output(r.data(), args, tr.rank(), p, 3).wrong) ++wrong;
        }
      });
      EXPECT_EQ(wrong.load(), 0) << "segment " << seg << " p=" << p;
    }
  }
}

TEST(Algorithms, RefuseInsteadOfCrashing) {
  InProcWorld world(3);
  AlgorithmContext ctx;
  ctx.transport = &world.transport(0);
  for (const AlgorithmInfo* info : own_algorithms()) {
    auto algo = make_own_algorithm(info->id);
    // No transport.
    AlgorithmContext none;
    EXPECT_TRUE(algo->supports(none, CollectiveArgs{info->collective, 8}).has_value())
        << info->name;
    // Any other collective.
    for (Collective other : kAllCollectives)
      if (other != info->collective)
        EXPECT_TRUE(algo->supports(ctx, CollectiveArgs{other, 6}).has_value()) << info->name;
    // A byte size that overflows.
    EXPECT_TRUE(algo->supports(ctx, CollectiveArgs{info->collective, SIZE_MAX / 2, DType::kF64})
                    .has_value())
        << info->name;
    // run() before prepare() fails with a status, it does not crash.
    std::vector<float> buf(6);
    EXPECT_FALSE(
        algo->run(buf.data(), buf.data(), CollectiveArgs{info->collective, 6}, Deadline::In(1))
            .ok())
        << info->name;
  }
  // Counts of the collectives with blocks must split into whole blocks.
  for (const AlgorithmInfo* info : own_algorithms()) {
    if (!traits(info->collective).blocks) continue;
    auto algo = make_own_algorithm(info->id);
    auto why = algo->supports(ctx, CollectiveArgs{info->collective, 7});
    ASSERT_TRUE(why.has_value()) << info->name;
    EXPECT_NE(why->find("multiple"), std::string::npos) << *why;
    EXPECT_FALSE(algo->supports(ctx, CollectiveArgs{info->collective, 9}).has_value())
        << info->name;
  }
}

TEST(Algorithms, RunLargerThanPreparedFails) {
  InProcWorld world(1);
  AlgorithmContext ctx;
  ctx.transport = &world.transport(0);
  for (const AlgorithmInfo* info : own_algorithms()) {
    auto algo = make_own_algorithm(info->id);
    algo->prepare(ctx, CollectiveArgs{info->collective, 4, DType::kF32});
    std::vector<float> s(8), r(8);
    const Status st = algo->run(s.data(), r.data(),
                                CollectiveArgs{info->collective, 8, DType::kF32}, Deadline::In(1));
    EXPECT_FALSE(st.ok()) << info->name;
    EXPECT_EQ(st.code, StatusCode::kError) << info->name;
  }
}

// A bug must fail, not hang: one rank never takes part, the others time out.
TEST(Algorithms, MissingRankTimesOut) {
  for (const AlgorithmInfo* info : own_algorithms()) {
    InProcWorld world(4);
    std::atomic<int> timeouts{0}, oks{0};
    const auto start = std::chrono::steady_clock::now();
    world.run([&](InProcTransport& tr) {
      AlgorithmContext ctx;
      ctx.transport = &tr;
      ctx.node_of_rank = tr.node_of_rank();
      CollectiveArgs args{info->collective, 64, DType::kF32, ReduceOp::kSum, false};
      auto algo = make_own_algorithm(info->id);
      algo->prepare(ctx, args);    // collective for some algorithms (they split the transport)
      if (tr.rank() == 2) return;  // never calls run()
      std::vector<float> s(64, 1.0f), r(64);
      const Status st = algo->run(s.data(), r.data(), args, Deadline::In(0.3));
      if (st.code == StatusCode::kTimeout) ++timeouts;
      if (st.ok()) ++oks;
    });
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    // Every rank depends on rank 2's data, so none can complete the collective.
    EXPECT_EQ(oks.load(), 0) << info->name;
    EXPECT_GE(timeouts.load(), 1) << info->name;
    EXPECT_LT(secs, 20.0) << info->name;
  }
}

}  // namespace
}  // namespace collbench::collectives
