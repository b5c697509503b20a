// The in-process transport: MPI-like matching, deadlines, split, node placement, abort.
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <numeric>
#include <thread>
#include <vector>

#include "collectives/inproc_transport.h"

namespace collbench::collectives {
namespace {

TEST(InProc, FifoPerSourceAndTag) {
  InProcWorld world(2);
  world.run([](InProcTransport& t) {
    constexpr int kN = 50;
    if (t.rank() == 0) {
      std::vector<int> a(kN), b(kN);
      std::iota(a.begin(), a.end(), 0);
      std::iota(b.begin(), b.end(), 1000);
      // Interleave two tags; each tag's messages must arrive in posting order.
      for (int i = 0; i < kN; ++i) {
        t.isend(&a[i], sizeof(int), 1, 7);
        t.isend(&b[i], sizeof(int), 1, 8);
      }
      ASSERT_TRUE(t.wait_all(Deadline::In(10)).ok());
    } else {
      std::vector<int> a(kN, -1), b(kN, -1);
      for (int i = 0; i < kN; ++i) t.irecv(&b[i], sizeof(int), 0, 8);  // tag 8 first
      for (int i = 0; i < kN; ++i) t.irecv(&a[i], sizeof(int), 0, 7);
      ASSERT_TRUE(t.wait_all(Deadline::In(10)).ok());
      for (int i = 0; i < kN; ++i) {
        EXPECT_EQ(a[i], i);
        EXPECT_EQ(b[i], 1000 + i);
      }
    }
  });
}

TEST(InProc, ZeroByteMessagesMatch) {
  InProcWorld world(3);
  world.run([](InProcTransport& t) {
    const int next = (t.rank() + 1) % 3, prev = (t.rank() + 2) % 3;
    int dummy = 0;
    t.irecv(&dummy, 0, prev, 1);
    t.isend(&dummy, 0, next, 1);
    ASSERT_TRUE(t.wait_all(Deadline::In(10)).ok());
    EXPECT_EQ(t.pending(), 0u);
    // A later non-empty message on the same tag still matches its own receive.
    int v = t.rank(), got = -1;
    t.irecv(&got, sizeof got, prev, 1);
    t.isend(&v, sizeof v, next, 1);
    ASSERT_TRUE(t.wait_all(Deadline::In(10)).ok());
    EXPECT_EQ(got, prev);
  });
}

TEST(InProc, SelfMessagesAndReceiveBeforeSend) {
  InProcWorld world(1);
  auto& t = world.transport(0);
  int a = 42, b = 0;
  t.irecv(&b, sizeof b, 0, 3);
  t.isend(&a, sizeof a, 0, 3);
  ASSERT_TRUE(t.wait_all(Deadline::In(1)).ok());
  EXPECT_EQ(b, 42);
  EXPECT_TRUE(t.wait_all(Deadline::In(1)).ok());  // nothing posted
}

TEST(InProc, WaitHonoursDeadline) {
  InProcWorld world(2);
  std::atomic<int> code{-1};
  std::atomic<double> waited{0};
  world.run([&](InProcTransport& t) {
    if (t.rank() == 1) return;  // never sends
    int x = 0;
    t.irecv(&x, sizeof x, 1, 0);
    const auto start = std::chrono::steady_clock::now();
    const Status st = t.wait_all(Deadline::In(0.2));
    waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    code = static_cast<int>(st.code);
    EXPECT_NE(st.message.find("receive from 1"), std::string::npos) << st.message;
    EXPECT_EQ(t.pending(), 0u);  // cancelled, so the next epoch starts clean
  });
  EXPECT_EQ(code.load(), static_cast<int>(StatusCode::kTimeout));
  EXPECT_GE(waited.load(), 0.19);
  EXPECT_LT(waited.load(), 10.0);
}

TEST(InProc, CancelledReceiveIsNotMatchedLater) {
  InProcWorld world(2);
  auto& t0 = world.transport(0);
  auto& t1 = world.transport(1);
  int stale = -1;
  t0.irecv(&stale, sizeof stale, 1, 0);
  EXPECT_EQ(t0.wait_all(Deadline::In(0.05)).code, StatusCode::kTimeout);
  int v = 5, fresh = -1;
  t1.isend(&v, sizeof v, 0, 0);
  t0.irecv(&fresh, sizeof fresh, 1, 0);
  EXPECT_TRUE(t0.wait_all(Deadline::In(1)).ok());
  EXPECT_TRUE(t1.wait_all(Deadline::In(1)).ok());
  EXPECT_EQ(fresh, 5);
  EXPECT_EQ(stale, -1);
}

TEST(InProc, SizeMismatchFailsBothSides) {
  InProcWorld world(2);
  std::atomic<int> failures{0};
  world.run([&](InProcTransport& t) {
    char buf[16] = {};
    if (t.rank() == 0)
      t.isend(buf, 16, 1, 0);
    else
      t.irecv(buf, 8, 0, 0);
    const Status st = t.wait_all(Deadline::In(5));
    if (st.code == StatusCode::kError && st.message.find("size mismatch") != std::string::npos)
      ++failures;
  });
  EXPECT_EQ(failures.load(), 2);
}

TEST(InProc, BadPeerThrows) {
  InProcWorld world(2);
  int x = 0;
  EXPECT_THROW(world.transport(0).isend(&x, sizeof x, 2, 0), Error);
  EXPECT_THROW(world.transport(0).irecv(&x, sizeof x, -1, 0), Error);
  EXPECT_EQ(world.transport(0).pending(), 0u);
}

TEST(InProc, AbortWakesWaiters) {
  InProcWorld world(2);
  std::atomic<int> code{-1};
  const auto start = std::chrono::steady_clock::now();
  world.run([&](InProcTransport& t) {
    if (t.rank() == 1) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      world.abort("test abort");
      return;
    }
    int x;
    t.irecv(&x, sizeof x, 1, 0);
    const Status st = t.wait_all(Deadline::Never());
    code = static_cast<int>(st.code);
    EXPECT_NE(st.message.find("test abort"), std::string::npos) << st.message;
  });
  EXPECT_EQ(code.load(), static_cast<int>(StatusCode::kError));
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 10.0);
  EXPECT_TRUE(world.aborted());
  EXPECT_EQ(world.abort_reason(), "test abort");
}

TEST(InProc, ExceptionOnOneRankIsRethrownAndStopsOthers) {
  InProcWorld world(3);
  EXPECT_THROW(world.run([](InProcTransport& t) {
    if (t.rank() == 0) throw Error("boom");
    int x;
    t.irecv(&x, sizeof x, 0, 0);  // would wait forever without the abort
    (void)t.wait_all(Deadline::Never());
  }),
               Error);
}

TEST(InProc, SplitGroupsByColorOrderedByKey) {
  InProcWorld world(6, {0, 0, 0, 1, 1, 1});
  EXPECT_EQ(world.nodes(), 2);
  world.run([](InProcTransport& t) {
    // Color = parity, key reverses the order.
    auto sub = t.split(t.rank() % 2, -t.rank());
    ASSERT_NE(sub, nullptr);
    auto& s = dynamic_cast<InProcTransport&>(*sub);
    ASSERT_EQ(s.size(), 3);
    // Members of parity c in reverse rank order: e.g. even ranks {4, 2, 0}.
    const int expect_rank = (4 + t.rank() % 2 - t.rank()) / 2;
    EXPECT_EQ(s.rank(), expect_rank);
    EXPECT_EQ(s.world_rank(), t.rank());
    // node_of_rank follows the members.
    const std::vector<int> even_nodes = {1, 0, 0}, odd_nodes = {1, 1, 0};
    EXPECT_EQ(s.node_of_rank(), t.rank() % 2 ? odd_nodes : even_nodes);
    // The sub-transport passes messages among its own members only (ring inside the group).
    int v = t.rank(), got = -1;
    s.irecv(&got, sizeof got, (s.rank() + 2) % 3, 0);
    s.isend(&v, sizeof v, (s.rank() + 1) % 3, 0);
    ASSERT_TRUE(s.wait_all(Deadline::In(10)).ok());
    EXPECT_EQ(got % 2, t.rank() % 2);
    // Negative color: not a member of any group.
    auto none = t.split(t.rank() == 0 ? -1 : 0, 0);
    EXPECT_EQ(none == nullptr, t.rank() == 0);
    if (none) {
      EXPECT_EQ(none->size(), 5);
    }
  });
}

TEST(InProc, NodesAndAllocation) {
  auto world = InProcWorld::with_nodes(3, 2);
  EXPECT_EQ(world->size(), 6);
  EXPECT_EQ(world->nodes(), 3);
  EXPECT_EQ(world->node_of_rank(), (std::vector<int>{0, 0, 1, 1, 2, 2}));
  EXPECT_EQ(world->transport(3).node_of_rank(), world->node_of_rank());
  auto& t = world->transport(0);
  Buffer b = t.allocate(1000);
  ASSERT_NE(b.data(), nullptr);
  EXPECT_EQ(b.size(), 1000u);
  EXPECT_EQ(t.allocated_bytes(), 1000u);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(b.data()) % 64, 0u);
  EXPECT_THROW(InProcWorld(2, {0}), Error);
  EXPECT_THROW(InProcWorld(0), Error);
}

TEST(AllocateHost, EveryPageIsResidentOnReturn) {
  // A timed iteration must never be the first to touch a page of a benchmark buffer. 64 MiB is
  // far above malloc's mmap threshold, so without the pre-fault these pages would not exist yet.
  constexpr std::size_t kBytes = 64u << 20;
  Buffer b = allocate_host(kBytes);
  const std::size_t page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  ASSERT_EQ(reinterpret_cast<std::uintptr_t>(b.data()) % page, 0u);
  std::vector<unsigned char> resident(kBytes / page);
  ASSERT_EQ(mincore(b.data(), kBytes, resident.data()), 0);
  std::size_t missing = 0;
  for (unsigned char r : resident) missing += (r & 1) ? 0 : 1;
  EXPECT_EQ(missing, 0u) << "of " << resident.size() << " pages";
}

TEST(InProc, ManyOutstandingOperations) {
  // More than one chunk of the request pool in one epoch.
  InProcWorld world(2);
  world.run([](InProcTransport& t) {
    constexpr int kN = 700;
    std::vector<int> out(kN), in(kN, -1);
    std::iota(out.begin(), out.end(), t.rank() * 10000);
    const int peer = 1 - t.rank();
    for (int i = 0; i < kN; ++i) {
      t.irecv(&in[i], sizeof(int), peer, i % 3);
      t.isend(&out[i], sizeof(int), peer, i % 3);
    }
    ASSERT_TRUE(t.wait_all(Deadline::In(10)).ok());
    for (int i = 0; i < kN; ++i) ASSERT_EQ(in[i], peer * 10000 + i);
  });
}

}  // namespace
}  // namespace collbench::collectives
