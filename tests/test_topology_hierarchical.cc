// The hierarchical algorithms on the in-process transport with ranks spread over pretend nodes:
// results checked element by element for every placement (uniform, uneven, interleaved), inter-
// node algorithm, dtype and count; refusals with reasons; and the traffic shape that is their
// point (what crosses between nodes), counted by a transport wrapper.
#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "collectives/algorithms.h"
#include "collectives/inproc_transport.h"
#include "collectives/registry.h"
#include "collectives/spec.h"

namespace collbench::collectives {
namespace {

struct Placement {
  std::string label;
  std::vector<int> node_of_rank;
};

Placement blocks(int nodes, int per) {
  Placement p{std::to_string(nodes) + "x" + std::to_string(per), {}};
  for (int n = 0; n < nodes; ++n)
    for (int i = 0; i < per; ++i) p.node_of_rank.push_back(n);
  return p;
}

// Uniform placements, block and interleaved (round-robin, as --map-by node gives).
std::vector<Placement> uniform_placements() {
  std::vector<Placement> v;
  for (auto [n, g] : std::vector<std::pair<int, int>>{
           {1, 1}, {1, 4}, {2, 1}, {2, 2}, {2, 3}, {3, 2}, {4, 2}, {3, 5}, {4, 4}})
    v.push_back(blocks(n, g));
  v.push_back({"2x3 round-robin", {0, 1, 0, 1, 0, 1}});
  v.push_back({"3x2 shuffled ids", {7, 7, 2, 2, 5, 5}});
  v.push_back({"2x2 mixed", {1, 0, 0, 1}});
  return v;
}

struct Outcome {
  std::mutex mu;
  std::vector<std::string> failures;
  std::atomic<int> checked{0};
  void fail(std::string s) {
    std::lock_guard lock(mu);
    if (failures.size() < 20) failures.push_back(std::move(s));
  }
};

// Runs `algo_name` on every rank of a world placed as `pl`, over counts x dtypes x placement,
// twice per configuration with different data, and checks every element.
void run_and_check(const Placement& pl, Collective c, const std::string& algo_name,
                   const std::string& inter, const std::vector<DType>& dtypes, ReduceOp op,
                   Outcome& out) {
  const int p = static_cast<int>(pl.node_of_rank.size());
  InProcWorld world(p, pl.node_of_rank);
  world.run([&](InProcTransport& tr) {
    AlgorithmContext ctx;
    ctx.transport = &tr;
    ctx.node_of_rank = tr.node_of_rank();
    ctx.inter_node_algorithm = inter;
    const AlgorithmInfo* info = find_algorithm(c, algo_name);
    const std::size_t up = static_cast<std::size_t>(p);
    std::vector<std::size_t> counts = {0, 1, up - 1 + (up == 1), up + 1, 1001};
    if (traits(c).blocks)
      for (auto& x : counts) x *= up;
    for (DType t : dtypes) {
      for (bool in_place : {false, true}) {
        const std::string where = algo_name + "(" + inter + ") " + pl.label + " rank " +
                                  std::to_string(tr.rank()) + " " + std::string(dtype_name(t)) +
                                  (in_place ? " in-place" : " out-of-place");
        auto algo = make_own_algorithm(info->id);
        const CollectiveArgs max{c, counts.back(), t, op, in_place};
        if (auto why = algo->supports(ctx, max)) {
          out.fail(where + ": refused: " + *why);
          return;
        }
        const std::size_t before = tr.allocated_bytes();
        algo->prepare(ctx, max);
        if (tr.allocated_bytes() - before > 2 * max.bytes())
          out.fail(where + ": scratch above two messages");
        const std::size_t es = dtype_size(t);
        std::vector<std::uint8_t> sbuf(max.bytes() + es), rbuf(max.bytes() + es);
        for (std::size_t count : counts) {
          for (int round = 0; round < 2; ++round) {
            const std::uint64_t seed = 11 + 100 * round + count;
            const CollectiveArgs args{c, count, t, op, in_place};
            const std::size_t recv_elems = in_place ? count : recv_count(c, count, p);
            void* o = rbuf.data();
            void* i = in_place ? o : static_cast<void*>(sbuf.data());
            fill_sentinel(o, args, tr.rank(), p);
            fill_input(i, args, tr.rank(), p, seed);
            std::memset(rbuf.data() + recv_elems * es, 0x5A, es);
            const Status st = algo->run(i, o, args, Deadline::In(60));
            if (!st.ok()) {
              out.fail(where + " count " + std::to_string(count) + ": " + st.message);
              world.abort("failed");
              return;
            }
            const CheckResult res = check_output(o, args, tr.rank(), p, seed);
            if (res.wrong)
              out.fail(where + " count " + std::to_string(count) + ": " +
                       std::to_string(res.wrong) + " wrong, first #" +
                       std::to_string(res.first_wrong));
            if (rbuf[recv_elems * es] != 0x5A) out.fail(where + ": wrote past the end");
            ++out.checked;
          }
        }
      }
    }
  });
}

void expect_clean(Outcome& out) {
  EXPECT_GT(out.checked.load(), 0);
  for (const auto& f : out.failures) ADD_FAILURE() << f;
}

TEST(HierarchicalAllreduce, PerRailEveryUniformPlacementAndInterNodeAlgorithm) {
  for (const Placement& pl : uniform_placements()) {
    for (const char* inter : {"ring", "recursive_doubling", "rabenseifner", "binomial"}) {
      Outcome out;
      run_and_check(pl, Collective::kAllReduce, "hierarchical", inter,
                    {DType::kF32, DType::kI64, DType::kBF16}, ReduceOp::kSum, out);
      expect_clean(out);
    }
  }
}

TEST(HierarchicalAllreduce, EveryOp) {
  for (ReduceOp op : all_ops()) {
    for (const char* algo : {"hierarchical", "hierarchical_leader"}) {
      Outcome out;
      run_and_check(blocks(2, 3), Collective::kAllReduce, algo, "ring", {DType::kF32, DType::kU8},
                    op, out);
      expect_clean(out);
    }
  }
}

TEST(HierarchicalAllreduce, LeaderEveryPlacementIncludingUneven) {
  std::vector<Placement> all = uniform_placements();
  all.push_back({"uneven 3+1", {0, 0, 0, 1}});
  all.push_back({"uneven 1+2+4", {0, 1, 1, 2, 2, 2, 2}});
  all.push_back({"uneven interleaved", {0, 1, 0, 2, 0}});
  for (const Placement& pl : all) {
    for (const char* inter : {"ring", "rabenseifner"}) {
      Outcome out;
      run_and_check(pl, Collective::kAllReduce, "hierarchical_leader", inter,
                    {DType::kF32, DType::kF16}, ReduceOp::kSum, out);
      expect_clean(out);
    }
  }
}

TEST(HierarchicalAlltoall, EveryUniformPlacement) {
  for (const Placement& pl : uniform_placements()) {
    Outcome out;
    run_and_check(pl, Collective::kAllToAll, "hierarchical", "ring",
                  {DType::kF32, DType::kU8, DType::kF64}, ReduceOp::kSum, out);
    expect_clean(out);
  }
}

TEST(HierarchicalReduceScatter, EveryUniformPlacementAndInterNodeAlgorithm) {
  for (const Placement& pl : uniform_placements()) {
    for (const char* inter : {"ring", "recursive_halving", "pairwise"}) {
      Outcome out;
      run_and_check(pl, Collective::kReduceScatter, "hierarchical", inter,
                    {DType::kF32, DType::kI64, DType::kBF16}, ReduceOp::kSum, out);
      expect_clean(out);
    }
  }
  for (ReduceOp op : all_ops()) {
    Outcome out;
    run_and_check(blocks(2, 3), Collective::kReduceScatter, "hierarchical", "ring",
                  {DType::kF32, DType::kU8}, op, out);
    expect_clean(out);
  }
}

TEST(HierarchicalAllgather, EveryUniformPlacementAndInterNodeAlgorithm) {
  for (const Placement& pl : uniform_placements()) {
    for (const char* inter : {"ring", "recursive_doubling", "bruck"}) {
      Outcome out;
      run_and_check(pl, Collective::kAllGather, "hierarchical", inter,
                    {DType::kF32, DType::kU8, DType::kF64}, ReduceOp::kSum, out);
      expect_clean(out);
    }
  }
}

TEST(Hierarchical, NoNodeInformationMeansOneNode) {
  for (const auto& entry : std::vector<std::pair<Collective, std::string>>{
           {Collective::kAllReduce, "hierarchical"},
           {Collective::kAllReduce, "hierarchical_leader"},
           {Collective::kAllToAll, "hierarchical"},
           {Collective::kReduceScatter, "hierarchical"},
           {Collective::kAllGather, "hierarchical"}}) {
    // Not a structured binding: clang 14 (the sanitizer build) cannot capture one in a lambda.
    const Collective c = entry.first;
    const std::string& name = entry.second;
    InProcWorld world(3);
    std::atomic<int> wrong{0};
    world.run([&](InProcTransport& tr) {
      AlgorithmContext ctx;
      ctx.transport = &tr;  // node_of_rank left empty
      auto algo = make_own_algorithm(find_algorithm(c, name)->id);
      const CollectiveArgs args{c, 30, DType::kF32, ReduceOp::kSum, false};
      ASSERT_FALSE(algo->supports(ctx, args).has_value());
      algo->prepare(ctx, args);
      std::vector<float> s(30), r(30);
      fill_input(s.data(), CollectiveArgs{c, 30, DType::kF32, ReduceOp::kSum}, tr.rank(), 3, 5);
      if (!algo->run(s.data(), r.data(), args, Deadline::In(30)).ok()) ++wrong;
      wrong += static_cast<int>(check_output(r.data(),
                                             CollectiveArgs{c, 30, DType::kF32, ReduceOp::kSum},
                                             tr.rank(), 3, 5)
                                    .wrong);
    });
    EXPECT_EQ(wrong.load(), 0) << name;
  }
}

TEST(Hierarchical, RefusesWithReasons) {
  InProcWorld world(4, {0, 0, 0, 1});  // uneven: 3 + 1
  AlgorithmContext ctx;
  ctx.transport = &world.transport(0);
  ctx.node_of_rank = world.node_of_rank();
  const CollectiveArgs ar{Collective::kAllReduce, 64, DType::kF32, ReduceOp::kSum, false};
  const CollectiveArgs a2a{Collective::kAllToAll, 64, DType::kF32, ReduceOp::kSum, false};

  auto per_rail = make_own_algorithm(find_algorithm(Collective::kAllReduce, "hierarchical")->id);
  auto why = per_rail->supports(ctx, ar);
  ASSERT_TRUE(why.has_value());
  EXPECT_NE(why->find("same number of ranks on every node (ranks per node: 3, 1)"),
            std::string::npos)
      << *why;
  EXPECT_NE(why->find("hierarchical_leader"), std::string::npos) << *why;
  why = make_own_algorithm(find_algorithm(Collective::kAllToAll, "hierarchical")->id)
            ->supports(ctx, a2a);
  ASSERT_TRUE(why.has_value());
  EXPECT_NE(why->find("3, 1"), std::string::npos) << *why;
  // The leader variant runs on uneven nodes.
  EXPECT_FALSE(make_own_algorithm(find_algorithm(Collective::kAllReduce, "hierarchical_leader")->id)
                   ->supports(ctx, ar));

  InProcWorld even(4, {0, 0, 1, 1});
  ctx.transport = &even.transport(0);
  ctx.node_of_rank = even.node_of_rank();
  ctx.inter_node_algorithm = "nonesuch";
  why = per_rail->supports(ctx, ar);
  ASSERT_TRUE(why.has_value());
  EXPECT_NE(why->find("'nonesuch' is not one of collbench's all-reduce algorithms"),
            std::string::npos)
      << *why;
  ctx.inter_node_algorithm = "hierarchical_leader";
  why = per_rail->supports(ctx, ar);
  ASSERT_TRUE(why.has_value());
  EXPECT_NE(why->find("must be a flat one"), std::string::npos) << *why;
  ctx.inter_node_algorithm = "ring";
  ctx.node_of_rank = {0, 1};  // wrong length
  why = per_rail->supports(ctx, ar);
  ASSERT_TRUE(why.has_value());
  EXPECT_NE(why->find("2 entries for 4 ranks"), std::string::npos) << *why;
  ctx.node_of_rank = even.node_of_rank();
  // All-to-all counts must split into whole blocks.
  const CollectiveArgs odd{Collective::kAllToAll, 66, DType::kF32, ReduceOp::kSum, false};
  EXPECT_TRUE(make_own_algorithm(find_algorithm(Collective::kAllToAll, "hierarchical")->id)
                  ->supports(ctx, odd));
}

// Between nodes runs one of collbench's own flat algorithms: a library's collective hides what
// it does and needs its backend's transport.
TEST(Hierarchical, NativeInnerAlgorithmRefused) {
  InProcWorld world(4, {0, 0, 1, 1});
  std::atomic<int> refused{0};
  world.run([&](InProcTransport& tr) {
    AlgorithmContext ctx;
    ctx.transport = &tr;
    ctx.node_of_rank = tr.node_of_rank();
    ctx.inter_node_algorithm = "MPI_Allreduce";
    auto algo = make_own_algorithm(find_algorithm(Collective::kAllReduce, "hierarchical")->id);
    try {
      algo->prepare(ctx, {Collective::kAllReduce, 16, DType::kF32, ReduceOp::kSum, false});
    } catch (const Error& e) {
      if (std::string(e.what()).find("'MPI_Allreduce' is not one of collbench's") !=
          std::string::npos)
        ++refused;
    }
  });
  EXPECT_EQ(refused.load(), 4);
}

// --- traffic between nodes --------------------------------------------------------------------

// Counts messages and bytes between ranks of different nodes. Wraps a transport and each of its
// splits; a split learns the world ranks of its members with one small exchange on the raw
// sub-transport (setup only, not counted).
struct Traffic {
  std::mutex mu;
  std::map<std::pair<int, int>, std::pair<long, long>>
      pairs;  // (src node, dst node) -> msgs, bytes
  std::vector<int> node_of_world;
  void add(int src, int dst, std::size_t bytes) {
    const int a = node_of_world[src], b = node_of_world[dst];
    if (a == b) return;
    std::lock_guard lock(mu);
    auto& e = pairs[{a, b}];
    ++e.first;
    e.second += static_cast<long>(bytes);
  }
  long messages() const {
    long n = 0;
    for (const auto& [k, v] : pairs) n += v.first;
    return n;
  }
  long max_bytes_out_of_a_node() const {
    std::map<int, long> out;
    for (const auto& [k, v] : pairs) out[k.first] += v.second;
    long m = 0;
    for (const auto& [k, v] : out) m = std::max(m, v);
    return m;
  }
};

class CountingTransport final : public Transport {
 public:
  CountingTransport(std::unique_ptr<Transport> owned, Transport* inner, std::vector<int> world,
                    Traffic* traffic)
      : owned_(std::move(owned)), t_(inner), world_(std::move(world)), traffic_(traffic) {}
  int rank() const override { return t_->rank(); }
  int size() const override { return t_->size(); }
  std::string_view name() const override { return "counting"; }
  void isend(const void* buf, std::size_t bytes, int peer, int tag) override {
    traffic_->add(world_[t_->rank()], world_[peer], bytes);
    t_->isend(buf, bytes, peer, tag);
  }
  void irecv(void* buf, std::size_t bytes, int peer, int tag) override {
    t_->irecv(buf, bytes, peer, tag);
  }
  Status wait_all(Deadline d) override { return t_->wait_all(d); }
  void copy(void* dst, const void* src, std::size_t bytes) override { t_->copy(dst, src, bytes); }
  void reduce(void* inout, const void* in, std::size_t count, DType t, ReduceOp op) override {
    t_->reduce(inout, in, count, t, op);
  }
  Buffer allocate(std::size_t bytes) override { return t_->allocate(bytes); }
  std::unique_ptr<Transport> split(int color, int key) override {
    auto sub = t_->split(color, key);
    if (!sub) return nullptr;
    std::vector<int> world(sub->size());
    const int me = world_[t_->rank()];
    for (int i = 0; i < sub->size(); ++i) {
      sub->irecv(&world[i], sizeof(int), i, 0x7ff0);
      sub->isend(&me, sizeof(int), i, 0x7ff0);
    }
    if (!sub->wait_all(Deadline::In(30)).ok()) throw Error("counting split exchange failed");
    Transport* raw = sub.get();
    return std::make_unique<CountingTransport>(std::move(sub), raw, std::move(world), traffic_);
  }

 private:
  std::unique_ptr<Transport> owned_;
  Transport* t_;
  std::vector<int> world_;
  Traffic* traffic_;
};

void measure(int nodes, int per, Collective c, const std::string& algo_name, std::size_t count,
             Traffic& traffic) {
  const Placement pl = blocks(nodes, per);
  const int p = nodes * per;
  InProcWorld world(p, pl.node_of_rank);
  traffic.node_of_world = pl.node_of_rank;
  std::vector<int> identity(p);
  for (int i = 0; i < p; ++i) identity[i] = i;
  world.run([&](InProcTransport& tr) {
    CountingTransport ct(nullptr, &tr, identity, &traffic);
    AlgorithmContext ctx;
    ctx.transport = &ct;
    ctx.node_of_rank = pl.node_of_rank;
    const CollectiveArgs args{c, count, DType::kF32, ReduceOp::kSum, false};
    auto algo = make_own_algorithm(find_algorithm(c, algo_name)->id);
    algo->prepare(ctx, args);
    std::vector<float> s(count), r(count);
    fill_input(s.data(), CollectiveArgs{c, count, DType::kF32, ReduceOp::kSum}, tr.rank(), p, 1);
    ASSERT_TRUE(algo->run(s.data(), r.data(), args, Deadline::In(30)).ok());
    EXPECT_EQ(check_output(r.data(), CollectiveArgs{c, count, DType::kF32, ReduceOp::kSum},
                           tr.rank(), p, 1)
                  .wrong,
              0u);
  });
}

TEST(HierarchicalTraffic, AlltoallSendsOneMessagePerRailBetweenTwoNodes) {
  // 2 nodes x 3 ranks, 4 KiB blocks. Flat linear: every rank messages the 3 remote ranks.
  const std::size_t count = 6 * 1024;
  Traffic flat;
  measure(2, 3, Collective::kAllToAll, "linear", count, flat);
  Traffic hier;
  measure(2, 3, Collective::kAllToAll, "hierarchical", count, hier);
  EXPECT_EQ(flat.messages(), 2 * 3 * 3);
  EXPECT_EQ(hier.messages(), 2 * 3);
  // The same data crosses either way: half of each rank's 24 KiB, times 3 ranks.
  EXPECT_EQ(flat.max_bytes_out_of_a_node(), 3 * 12 * 1024);
  EXPECT_EQ(hier.max_bytes_out_of_a_node(), 3 * 12 * 1024);
}

TEST(HierarchicalTraffic, PerRailAllreduceSendsLessOutOfEachNodeThanFlatRing) {
  // 2 nodes x 2 ranks, n = 4096 floats (16 KiB). Flat ring 0-1-2-3: the links 1->2 and 3->0
  // carry 2(p-1)/p n = 1.5 n; per rail, each rank all-reduces n/2 over 2 nodes: n/2 out per
  // rank, n per node.
  const std::size_t count = 4096, n = count * sizeof(float);
  Traffic ring;
  measure(2, 2, Collective::kAllReduce, "ring", count, ring);
  Traffic hier;
  measure(2, 2, Collective::kAllReduce, "hierarchical", count, hier);
  EXPECT_EQ(ring.max_bytes_out_of_a_node(), static_cast<long>(3 * n / 2));
  EXPECT_EQ(hier.max_bytes_out_of_a_node(), static_cast<long>(n));
}

}  // namespace
}  // namespace collbench::collectives
