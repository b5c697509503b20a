// Own algorithms of every collective under mpirun (2-5 ranks) over the MPI transport, compared
// element by element with the MPI library's own collective (MPI_Allreduce, MPI_Alltoall,
// MPI_Reduce_scatter_block, MPI_Allgather) on the same inputs, and with the exact expected values
// of spec.h. One test forces MpiTransport's per-call limit far below the message
// sizes, so every message is split into several MPI calls.
//
// All ranks run the same sequence; failures use EXPECT (never an early return that would leave
// the other ranks waiting), every run has a deadline, and the exit code is agreed over ranks.
#include <gtest/gtest.h>
#include <mpi.h>

#include <cstring>
#include <string>
#include <vector>

#include "collectives/mpi/mpi_transport.h"
#include "collectives/mpi/native_mpi.h"
#include "collectives/registry.h"
#include "collectives/spec.h"

namespace collbench::collectives {
namespace {

int world_rank() {
  int r;
  MPI_Comm_rank(MPI_COMM_WORLD, &r);
  return r;
}

// Runs `info` and the native algorithm of the same collective on identical inputs; returns the
// number of elements that differ between them or from the exact expectation, on this rank.
std::uint64_t compare_with_native(const AlgorithmInfo& info, MpiTransport& tr, DType t, ReduceOp op,
                                  std::size_t count, bool in_place, std::string* first) {
  const Collective c = info.collective;
  const AlgorithmInfo* native = nullptr;
  for (const auto& a : algorithm_registry())
    if (a.collective == c && a.native() && a.backend == "mpi") native = &a;
  AlgorithmContext ctx;
  ctx.transport = &tr;
  ctx.segment_bytes = 4096;
  const CollectiveArgs args{c, count, t, op, in_place};
  auto own = make_own_algorithm(info.id);
  auto ref = make_mpi_native(native->id);
  if (auto why = own->supports(ctx, args)) {
    *first = "refused: " + *why;
    return 1;
  }
  // The library may refuse what collbench's algorithms do (a block above one MPI call): then
  // only the exact check compares.
  const bool with_ref = !ref->supports(ctx, args).has_value();
  own->prepare(ctx, args);
  if (with_ref) ref->prepare(ctx, args);
  const std::size_t es = dtype_size(t);
  const int p = tr.size(), rank = tr.rank();
  std::vector<std::uint8_t> s1(count * es + 1), r1(count * es + 1), s2(count * es + 1),
      r2(count * es + 1);
  const std::uint64_t seed = 11 + count;
  auto prepare_buffers = [&](std::vector<std::uint8_t>& s, std::vector<std::uint8_t>& r) {
    void* in = in_place ? r.data() : s.data();
    fill_sentinel(r.data(), args, rank, p);
    fill_input(in, args, rank, p, seed);
    return in;
  };
  void* in1 = prepare_buffers(s1, r1);
  void* in2 = prepare_buffers(s2, r2);
  const Status st1 = own->run(in1, r1.data(), args, Deadline::In(60));
  const Status st2 = with_ref ? ref->run(in2, r2.data(), args, Deadline::In(60)) : Status::Ok();
  if (!st1.ok() || !st2.ok()) {
    *first = "run failed: " + st1.message + " / " + st2.message;
    return 1;
  }
  std::uint64_t wrong = 0;
  const Span out = output_span(c, count, rank, p, in_place);
  for (std::size_t i = out.offset; with_ref && i < out.offset + out.count; ++i) {
    if (std::memcmp(&r1[i * es], &r2[i * es], es) != 0) {
      if (wrong++ == 0)
        *first = "element " + std::to_string(i) + ": own " +
                 std::to_string(element_as_double(r1.data(), i, t)) + ", MPI " +
                 std::to_string(element_as_double(r2.data(), i, t));
    }
  }
  const CheckResult chk = check_output(r1.data(), args, rank, p, seed);
  if (chk.wrong && first->empty())
    *first = "element " + std::to_string(chk.first_wrong) + " differs from the exact value";
  return wrong + chk.wrong;
}

void run_matrix(MpiTransport& tr, const std::vector<std::size_t>& small_counts, std::size_t large) {
  const int p = tr.size();
  for (const auto& info : algorithm_registry()) {
    if (info.kind != AlgorithmKind::kOwn) continue;
    const bool ar = traits(info.collective).reduces;
    std::vector<DType> types = ar ? std::vector<DType>{DType::kF32, DType::kF64, DType::kI32,
                                                       DType::kU8,  DType::kF16, DType::kBF16}
                                  : std::vector<DType>{DType::kF32, DType::kU8, DType::kF64};
    std::vector<ReduceOp> ops = ar ? std::vector<ReduceOp>(all_ops().begin(), all_ops().end())
                                   : std::vector<ReduceOp>{ReduceOp::kSum};
    for (DType t : types)
      for (ReduceOp op : ops)
        for (bool in_place : {false, true}) {
          std::vector<std::size_t> counts = small_counts;
          if (t == DType::kF32 || t == DType::kF16) counts.push_back(large);
          for (std::size_t n : counts) {
            const std::size_t count =
                traits(info.collective).blocks ? n * static_cast<std::size_t>(p) : n;
            std::string first;
            const std::uint64_t wrong =
                compare_with_native(info, tr, t, op, count, in_place, &first);
            EXPECT_EQ(wrong, 0u) << info.name << " rank " << tr.rank() << "/" << p << " "
                                 << dtype_name(t) << " " << op_name(op) << " count " << count
                                 << (in_place ? " in-place" : " out-of-place") << ": " << first;
          }
        }
  }
}

TEST(MpiAlgorithms, MatchTheMpiLibrary) {
  MpiTransport tr(MPI_COMM_WORLD);
  const auto p = static_cast<std::size_t>(tr.size());
  run_matrix(tr, {0, 1, p - 1, p + 1}, 10007);
}

// Messages far above the per-call limit: MpiTransport splits them into many MPI calls.
TEST(MpiAlgorithms, MessagesAboveTheChunkLimit) {
  MpiTransport tr(MPI_COMM_WORLD, /*max_count=*/1000);
  ASSERT_EQ(tr.max_count(), 1000u);
  run_matrix(tr, {}, 20011);  // 80 KB of f32: 80 MPI calls per full-vector message
}

}  // namespace
}  // namespace collbench::collectives

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  ::testing::InitGoogleTest(&argc, argv);
  // One report is enough; other ranks still run every test and count their failures.
  if (collbench::collectives::world_rank() != 0) {
    auto& listeners = ::testing::UnitTest::GetInstance()->listeners();
    delete listeners.Release(listeners.default_result_printer());
  }
  int failed = 0;
  try {
    failed = RUN_ALL_TESTS() != 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "rank %d: %s\n", collbench::collectives::world_rank(), e.what());
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
  int any = 0;
  MPI_Allreduce(&failed, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  if (any && collbench::collectives::world_rank() == 0)
    std::fprintf(stderr, "mpi_algorithms_test: failures on at least one rank\n");
  MPI_Finalize();
  return any ? 1 : 0;
}
