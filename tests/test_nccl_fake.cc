// The NCCL backend's life-cycle, transport, timing and check logic (collectives/nccl:
// CommSupervisor, NcclTransport, device_loop) over the in-process fake NCCL of tests/fake_nccl.h,
// on any machine (label `unit`). Ranks are threads; tests/fake_job.h plays the runner and the
// watchdog around them. The failure cases end within twice the timeout, with exit code 3 and the
// watchdog's message naming the ranks that had not arrived, and leave no communicator open:
//   - a rank that never arrives at ncclCommInitRank, and a creation that never completes;
//   - a rank that never arrives at ncclCommSplit (splits aborted before their parent);
//   - a rank that dies in the middle of a collective;
//   - an asynchronous error on a split (a network rail) while the host waits for the stream;
//   - a send/recv size mismatch;
// and with --cuda-graph the check's output comes from the graph: a fault that corrupts only graph
// launches is caught (exit code 1), which an uncaptured check would miss.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <thread>
#include <vector>

#include "bench/watchdog_report.h"
#include "collectives/nccl/comm_supervisor.h"
#include "collectives/nccl/device_loop.h"
#include "collectives/nccl/nccl_transport.h"
#include "collectives/progress.h"
#include "collectives/registry.h"
#include "tests/fake_job.h"
#include "tests/fake_nccl.h"

namespace collbench::fake {
namespace {

using collectives::Algorithm;
using collectives::AlgorithmContext;
using collectives::Buffer;
using collectives::Collective;
using collectives::CollectiveArgs;
using collectives::CommHandle;
using collectives::CommOps;
using collectives::CommSupervisor;
using collectives::DeviceOps;
using collectives::DType;
using collectives::NcclTransport;
using collectives::Phase;
using collectives::ReduceOp;

constexpr double kTimeout = 1.0;

// One rank's NCCL stack over the fake. Members are destroyed in reverse order: the transport
// (which aborts or has closed everything) before the supervisor, the supervisor before the ops.
struct Stack {
  std::unique_ptr<CommOps> ops;
  std::shared_ptr<DeviceOps> dev;
  std::shared_ptr<CommSupervisor> sup;
  std::unique_ptr<NcclTransport> t;
};

Stack make_stack(RankEnv& env, bool check_sizes = true) {
  Stack s;
  s.ops = env.net().comm_ops(env.rank());
  s.dev = env.net().device(env.rank());
  s.sup = std::make_shared<CommSupervisor>(*s.ops, env.timeout_s());
  env.watch(s.sup);
  env.setup("nccl transport on " + std::to_string(env.size()) +
            " ranks (creating the communicator)");
  const CommHandle c = s.sup->init(env.size(), env.id(), env.rank());
  s.t = std::make_unique<NcclTransport>(s.sup, c, s.dev, true, check_sizes);
  env.idle();
  return s;
}

std::unique_ptr<Algorithm> prepared(RankEnv& env, NcclTransport& t, const char* name,
                                    const CollectiveArgs& max, std::vector<int> nodes = {}) {
  const auto* info = collectives::find_algorithm(max.collective, name);
  EXPECT_NE(info, nullptr) << name;
  auto algo = collectives::make_own_algorithm(info->id);
  AlgorithmContext ctx;
  ctx.transport = &t;
  ctx.node_of_rank = std::move(nodes);
  env.setup(std::string("prepare ") + name);
  algo->prepare(ctx, max);
  env.idle();
  return algo;
}

// What the runner does for one point: warm-up and timed iterations on rotating offsets, then the
// check (sentinel, fresh input, one run through the timed loop's path, the device check).
Status measure(RankEnv& env, NcclTransport& t, Algorithm& algo, const CollectiveArgs& args,
               int graph_launches) {
  const std::size_t bytes = args.bytes();
  const std::size_t rotation = std::size_t{1} << 16;
  Buffer send = t.allocate(bytes + rotation), recv = t.allocate(bytes + rotation);
  DeviceOps& dev = t.device();
  env.step("allreduce " + std::string(algo.name()) + (graph_launches ? " graph" : ""));
  if (Status st =
          dev.fill_input(args.in_place ? recv.data() : send.data(), args, t.rank(), t.size(), 0);
      !st.ok())
    return st;
  std::vector<std::size_t> offsets;
  const std::size_t stride = (bytes + 255) / 256 * 256;
  for (std::size_t i = 0, off = 0; i < 4; ++i, off += stride)
    offsets.push_back(off + bytes > bytes + rotation ? 0 : off);
  collectives::TimedLoop loop;
  loop.algorithm = &algo;
  loop.args = args;
  loop.send = send.bytes();
  loop.recv = recv.bytes();
  loop.offsets = offsets;
  loop.timeout_s = env.timeout_s();
  loop.progress = &env.progress();
  std::vector<double> seconds(offsets.size());
  env.progress().set(Phase::kTimed, 0);
  if (Status st = collectives::time_on_device(t, loop, seconds, graph_launches); !st.ok())
    return st;
  for (double s : seconds) EXPECT_GE(s, 0.0);

  env.progress().set(Phase::kCheck, 0);
  void* in = args.in_place ? recv.data() : send.data();
  if (Status st = dev.fill_sentinel(recv.data(), args, t.rank(), t.size()); !st.ok()) return st;
  if (Status st = dev.fill_input(in, args, t.rank(), t.size(), 7); !st.ok()) return st;
  if (Status st = collectives::run_once_on_device(t, algo, args, in, recv.data(), env.timeout_s(),
                                                  graph_launches);
      !st.ok())
    return st;
  collectives::CheckResult r;
  if (Status st = collectives::check_on_device(t, recv.data(), args, t.rank(), t.size(), 7,
                                               env.timeout_s(), &r);
      !st.ok())
    return st;
  env.wrong(r.wrong, r.first_wrong);
  env.idle();
  return Status::Ok();
}

Status close(RankEnv& env, Stack& s) {
  env.setup("nccl transport (closing the communicators)");
  const Status st = s.t->close(Deadline::In(env.timeout_s()));
  env.idle();
  return st;
}

CollectiveArgs allreduce(std::size_t count, bool in_place = false) {
  CollectiveArgs a;
  a.collective = Collective::kAllReduce;
  a.count = count;
  a.dtype = DType::kF32;
  a.op = ReduceOp::kSum;
  a.in_place = in_place;
  return a;
}

// Per world rank: every communicator it aborted was aborted once, after every communicator split
// from it, and nothing was finalized or destroyed after the first abort.
void expect_aborted_children_first(const FakeNccl& net) {
  std::map<int, std::vector<FakeEvent>> by_rank;
  for (const auto& e : net.events()) by_rank[e.world_rank].push_back(e);
  for (const auto& [rank, events] : by_rank) {
    std::map<int, int> aborted_at;  // comm -> position
    bool aborting = false;
    for (int i = 0; i < static_cast<int>(events.size()); ++i) {
      const auto& e = events[static_cast<std::size_t>(i)];
      if (e.op == "abort") {
        EXPECT_EQ(aborted_at.count(e.comm), 0u)
            << "rank " << rank << " aborted " << e.comm << " twice";
        aborted_at[e.comm] = i;
        aborting = true;
      } else if (aborting) {
        EXPECT_TRUE(e.op != "finalize" && e.op != "destroy")
            << "rank " << rank << ": " << e.op << " of " << e.comm << " after an abort";
      }
    }
    for (const auto& e : events) {
      if (e.op == "split" && aborted_at.count(e.comm) && aborted_at.count(e.parent)) {
        EXPECT_LT(aborted_at[e.comm], aborted_at[e.parent])
            << "rank " << rank << ": split " << e.comm << " aborted after its parent " << e.parent;
      }
    }
  }
}

void report(const char* test, const JobResult& r, double timeout = kTimeout) {
  std::printf("[%s] exit %d after %.2f s (timeout %.1f s): %s\n", test, r.exit_code, r.seconds,
              timeout, r.report.c_str());
}

TEST(FakeNccl, SuccessPathFinalizesSplitsBeforeTheirParent) {
  FakeNccl net;
  const JobResult r = run_job(net, 4, kTimeout, [](RankEnv& env) {
    Stack s = make_stack(env);
    for (const char* name : {"ring", "hierarchical"}) {
      auto algo = prepared(env, *s.t, name, allreduce(4099), {0, 0, 1, 1});
      for (int graph : {0, 2})
        for (bool in_place : {false, true})
          if (Status st = measure(env, *s.t, *algo, allreduce(4099, in_place), graph); !st.ok())
            return st;
    }
    return close(env, s);
  });
  report("success", r);
  EXPECT_EQ(r.exit_code, 0) << r.report;
  EXPECT_EQ(net.open_comms(), 0);
  std::map<int, int> destroyed_at;
  const auto events = net.events();
  for (int i = 0; i < static_cast<int>(events.size()); ++i) {
    EXPECT_NE(events[static_cast<std::size_t>(i)].op, "abort");
    if (events[static_cast<std::size_t>(i)].op == "destroy")
      destroyed_at[events[static_cast<std::size_t>(i)].comm] = i;
  }
  for (const auto& e : events) {
    if (e.op != "init" && e.op != "split") continue;
    EXPECT_EQ(destroyed_at.count(e.comm), 1u) << "communicator " << e.comm << " not destroyed";
    if (e.op == "split") {
      EXPECT_LT(destroyed_at[e.comm], destroyed_at[e.parent]);
    }
  }
}

TEST(FakeNccl, InitHangNamesTheRankThatDidNotArrive) {
  FakeNccl net;
  const JobResult r = run_job(net, 4, kTimeout, [](RankEnv& env) {
    if (env.rank() == 2) {
      env.stall();  // never reaches ncclCommInitRank
      return Status::Ok();
    }
    Stack s = make_stack(env);
    return close(env, s);
  });
  report("init hang", r);
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_NE(r.report.find("Ranks that had not arrived: 2 (rank 2 on fakehost in set-up, before "
                          "the step's barrier of an earlier step: start-up)"),
            std::string::npos)
      << r.report;
  EXPECT_NE(r.report.find("stuck in nccl transport on 4 ranks (creating the communicator)"),
            std::string::npos)
      << r.report;
  EXPECT_LT(r.seconds, 2 * kTimeout);
  EXPECT_EQ(net.open_comms(), 0);
  expect_aborted_children_first(net);
}

TEST(FakeNccl, CreationThatNeverCompletesEndsAtTheTimeout) {
  FakeNccl net;
  net.hang_creation();  // all ranks arrive, the network never connects them
  const JobResult r = run_job(net, 3, kTimeout, [](RankEnv& env) {
    Stack s = make_stack(env);
    return close(env, s);
  });
  report("creation never completes", r);
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_NE(r.report.find("ncclCommInitRank"), std::string::npos) << r.report;
  EXPECT_NE(r.report.find("Ranks waiting in the collective: 0,1,2"), std::string::npos) << r.report;
  EXPECT_LT(r.seconds, 2 * kTimeout);
  EXPECT_EQ(net.open_comms(), 0);
}

TEST(FakeNccl, SplitHangNamesTheRankThatDidNotArrive) {
  FakeNccl net;
  const JobResult r = run_job(net, 4, kTimeout, [](RankEnv& env) {
    Stack s = make_stack(env);
    if (env.rank() == 3) {
      env.stall();  // never reaches the split in prepare
      return Status::Ok();
    }
    auto algo = prepared(env, *s.t, "hierarchical", allreduce(1000), {0, 0, 1, 1});
    return close(env, s);
  });
  report("split hang", r);
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_NE(r.report.find("Ranks that had not arrived: 3"), std::string::npos) << r.report;
  EXPECT_NE(r.report.find("prepare hierarchical"), std::string::npos) << r.report;
  EXPECT_LT(r.seconds, 2 * kTimeout);
  EXPECT_EQ(net.open_comms(), 0);
  expect_aborted_children_first(net);
}

TEST(FakeNccl, DeadPeerMidCollectiveIsNamed) {
  FakeNccl net;
  net.die_in_group(1, 2);  // the third group of rank 1's ring: mid all-reduce
  const JobResult r = run_job(net, 4, kTimeout, [](RankEnv& env) {
    Stack s = make_stack(env, /*check_sizes=*/false);
    auto algo = prepared(env, *s.t, "ring", allreduce(1 << 12));
    if (Status st = measure(env, *s.t, *algo, allreduce(1 << 12), 0); !st.ok()) return st;
    return close(env, s);
  });
  report("dead peer", r);
  EXPECT_EQ(r.exit_code, 3);
  // Every rank that answered waits at the same place: the silent one is the one not arriving.
  EXPECT_NE(r.report.find("Ranks that had not arrived: 1 (rank 1: did not answer"),
            std::string::npos)
      << r.report;
  EXPECT_NE(r.report.find("Ranks waiting in the collective: 0,2,3."), std::string::npos)
      << r.report;
  EXPECT_LT(r.seconds, 2 * kTimeout);
  expect_aborted_children_first(net);
}

TEST(FakeNccl, AsyncErrorOnASplitEndsTheRunAtOnce) {
  FakeNccl net;
  // Rank 2's third communicator is its rail (init, node split, rail split): it breaks after its
  // first group, while the host waits for the stream, not for that communicator.
  net.fail_async(2, 2, 1, "remote error: link down on rail 1 (fake)");
  const double timeout = 5.0;
  const JobResult r = run_job(net, 4, timeout, [](RankEnv& env) {
    Stack s = make_stack(env);
    auto algo = prepared(env, *s.t, "hierarchical", allreduce(1 << 12), {0, 0, 1, 1});
    for (int i = 0; i < 3; ++i)
      if (Status st = measure(env, *s.t, *algo, allreduce(1 << 12), 0); !st.ok()) return st;
    return close(env, s);
  });
  report("async error on a split", r, timeout);
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_NE(r.report.find("rank 2 on fakehost: "), std::string::npos) << r.report;
  EXPECT_NE(r.report.find("link down on rail 1"), std::string::npos) << r.report;
  EXPECT_NE(r.report.find("split"), std::string::npos) << r.report;
  EXPECT_LT(r.seconds, timeout / 2) << "an asynchronous error must not wait for the timeout";
  EXPECT_EQ(net.open_comms(), 0);
  expect_aborted_children_first(net);
}

TEST(FakeNccl, SizeMismatchIsNamedBeforeNcclSeesIt) {
  for (bool check_sizes : {true, false}) {
    FakeNccl net;
    const JobResult r = run_job(net, 2, kTimeout, [check_sizes](RankEnv& env) {
      Stack s = make_stack(env, check_sizes);
      Buffer b = s.t->allocate(64);
      env.step("a mismatched exchange");
      if (env.rank() == 0)
        s.t->isend(b.data(), 16, 1, 0);
      else
        s.t->irecv(b.data(), 8, 0, 0);
      if (Status st = s.t->wait_all(Deadline::In(env.timeout_s())); !st.ok()) return st;
      if (Status st = s.t->synchronize(Deadline::In(env.timeout_s())); !st.ok()) return st;
      return close(env, s);
    });
    report(check_sizes ? "size mismatch, checked" : "size mismatch, fake NCCL", r);
    EXPECT_EQ(r.exit_code, 3);
    EXPECT_NE(r.report.find(check_sizes ? "posted a receive of 8 bytes from rank 0, which sent 16"
                                        : "received 8 bytes from rank 0, which sent 16"),
              std::string::npos)
        << r.report;
    EXPECT_LT(r.seconds, 2 * kTimeout);
    EXPECT_EQ(net.open_comms(), 0);
  }
}

// The check through the graph sees what only graph launches do; an uncaptured check would not.
TEST(FakeNccl, GraphModeCorruptionIsCaughtByTheCheck) {
  for (int check_graph : {2, 0}) {
    FakeNccl net;
    net.corrupt_graph_receives(1);
    const JobResult r = run_job(net, 3, kTimeout, [check_graph](RankEnv& env) {
      Stack s = make_stack(env);
      auto algo = prepared(env, *s.t, "ring", allreduce(3001));
      for (bool in_place : {false, true})
        if (Status st = measure(env, *s.t, *algo, allreduce(3001, in_place), check_graph); !st.ok())
          return st;
      return close(env, s);
    });
    report(check_graph ? "graph corruption, graph check" : "graph corruption, plain check", r);
    if (check_graph) {
      EXPECT_EQ(r.exit_code, 1);
      // Rank 1's receives are corrupted; the ring carries them to every rank's result.
      EXPECT_NE(r.report.find("wrong result: rank 0"), std::string::npos) << r.report;
    } else {
      EXPECT_EQ(r.exit_code, 0) << "without graphs nothing is corrupted: " << r.report;
    }
    EXPECT_EQ(net.open_comms(), 0);
  }
}

// Own algorithms on the NCCL transport carry fp8 as bytes and reduce it with the device ops (the
// host kernels in the fake): every op of both fp8 formats, and bf16 beside them, exact on 3 ranks.
TEST(FakeNccl, OwnAlgorithmsReduceFp8OnTheNcclTransport) {
  FakeNccl net;
  const JobResult r = run_job(net, 3, kTimeout, [](RankEnv& env) {
    Stack s = make_stack(env);
    for (DType t : {DType::kF8E4M3, DType::kF8E5M2, DType::kBF16})
      for (ReduceOp op : collectives::all_ops())
        for (Collective c : {Collective::kAllReduce, Collective::kReduceScatter}) {
          CollectiveArgs a = allreduce(3 * 343);
          a.collective = c;
          a.dtype = t;
          a.op = op;
          auto algo = prepared(env, *s.t, "ring", a);
          for (bool in_place : {false, true}) {
            a.in_place = in_place;
            if (Status st = measure(env, *s.t, *algo, a, 0); !st.ok()) return st;
          }
        }
    return close(env, s);
  });
  report("fp8 on the nccl transport", r);
  EXPECT_EQ(r.exit_code, 0) << r.report;
  EXPECT_EQ(net.open_comms(), 0);
}

TEST(CommSupervisor, AbortRequestedFromAnotherThreadEndsAWait) {
  FakeNccl net;
  auto ops = net.comm_ops(0);
  collectives::CommId id;
  ASSERT_TRUE(ops->unique_id(&id).ok());
  CommSupervisor sup(*ops, 60);  // a long timeout: only the request can end the wait
  std::thread watchdog([&sup] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    sup.request_abort("the run is being ended by the watchdog");
  });
  const auto start = std::chrono::steady_clock::now();
  try {
    sup.init(2, id, 0);  // rank 1 never comes
    ADD_FAILURE() << "init returned";
  } catch (const CommError& e) {
    EXPECT_NE(std::string(e.what()).find("ended by the watchdog"), std::string::npos) << e.what();
  }
  watchdog.join();
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 2.0);
  EXPECT_EQ(net.open_comms(), 0);
  EXPECT_TRUE(sup.failed());
}

TEST(CommSupervisor, AFailedSupervisorMakesNoMoreCalls) {
  FakeNccl net;
  auto ops = net.comm_ops(0);
  CommSupervisor sup(*ops, 1);
  sup.abort_all("first failure");
  bool called = false;
  const Status st = sup.call(nullptr, "anything", Deadline::In(1), [&] {
    called = true;
    return collectives::CommResult::Ok();
  });
  EXPECT_FALSE(called);
  EXPECT_FALSE(st.ok());
  EXPECT_EQ(st.message, "first failure");
  sup.abort_all("second failure");
  EXPECT_EQ(sup.failure(), "first failure");
}

TEST(RotationBytes, AtLeastTwiceTheDeviceCache) {
  constexpr std::size_t kMiB = std::size_t{1} << 20;
  EXPECT_EQ(collectives::rotation_bytes_for_cache(0), 32 * kMiB);
  EXPECT_EQ(collectives::rotation_bytes_for_cache(50 * kMiB), 100 * kMiB);        // H100/H200
  EXPECT_EQ(collectives::rotation_bytes_for_cache(40 * 1000 * 1000), 77 * kMiB);  // A100 40 MB
  EXPECT_EQ(collectives::rotation_bytes_for_cache(126 * kMiB), 252 * kMiB);       // B200
}

TEST(WatchdogReport, RoundTripsAndLeadsWithAFailedRanksReason) {
  bench::RankReport a;
  a.rank = 3;
  a.step = 7;
  a.phase = static_cast<int>(Phase::kSetup);
  a.host = "node1";
  a.description = "prepare hierarchical on 4 ranks";
  a.reason = "NCCL reported an error on split 2\tof x\nremote";
  bench::RankReport b;
  ASSERT_TRUE(bench::parse_report(bench::format_report(a), b));
  EXPECT_EQ(b.rank, 3);
  EXPECT_EQ(b.step, 7);
  EXPECT_EQ(b.description, a.description);
  EXPECT_EQ(b.reason, "NCCL reported an error on split 2 of x remote");

  bench::RankReport mine;
  mine.rank = 0;
  mine.step = 7;
  mine.phase = a.phase;
  mine.host = "node0";
  mine.description = a.description;
  bench::RankReport behind = mine;
  behind.rank = 1;
  behind.step = 6;
  behind.description = "allreduce ring 1M";
  const std::map<int, bench::RankReport> reports{{0, mine}, {1, behind}, {3, b}};
  const std::string msg = bench::describe_stuck("", mine, reports, 4);
  EXPECT_EQ(msg.find("collbench: timeout: rank 3 on node1: NCCL reported an error on split 2"), 0u)
      << msg;
  EXPECT_NE(msg.find("Ranks that had not arrived: 1 (rank 1 on node0 in communicator set-up of an "
                     "earlier step: allreduce ring 1M)"),
            std::string::npos)
      << msg;
  EXPECT_NE(msg.find("Ranks that did not report (dead, stopped or unreachable): 2."),
            std::string::npos)
      << msg;
  EXPECT_NE(msg.find("Ranks waiting in the collective: 0,3."), std::string::npos) << msg;
}

// A stopped rank inside a step: rank 0 has not yet seen the barrier complete that rank 1 left
// (it waits for a message of the stopped rank 2). The silent rank is the one not arriving; the
// positions inside the step only say where each waited.
TEST(WatchdogReport, SilentRankInsideAStepIsTheOneNotArriving) {
  bench::RankReport r0;
  r0.rank = 0;
  r0.step = 5;
  r0.phase = static_cast<int>(Phase::kBarrier);
  r0.host = "vm";
  r0.description = "allreduce ring 16K";
  bench::RankReport r1 = r0;
  r1.rank = 1;
  r1.phase = static_cast<int>(Phase::kWarmup);
  const std::map<int, bench::RankReport> reports{{0, r0}, {1, r1}};
  const std::string msg = bench::describe_stuck("no progress", r0, reports, 3, 1.5);
  EXPECT_NE(msg.find("Ranks that had not arrived: 2 (rank 2: did not answer within 1.5 s"),
            std::string::npos)
      << msg;
  EXPECT_NE(msg.find("Ranks waiting in the collective: 0,1."), std::string::npos) << msg;
  EXPECT_EQ(msg.find("did not report"), std::string::npos) << msg;

  // Rank 0 itself was stopped (SIGSTOP) and resumed: it is the one not arriving.
  const std::string frozen =
      bench::describe_stuck("no progress", r0, reports, 2, 1.5, "frozen for 6.1 s");
  EXPECT_NE(frozen.find("Ranks that had not arrived: 0 (rank 0 on vm: frozen for 6.1 s)"),
            std::string::npos)
      << frozen;
  EXPECT_NE(frozen.find("Ranks waiting in the collective: 1."), std::string::npos) << frozen;
}

// The same across two steps: rank 1 left the barrier that ends a rank set and waits in the next
// step's call, while rank 0 still waits inside that barrier for a message of the stopped rank 2.
// Rank 0 arrived at its call (inside): it is not behind, rank 2 is the one not arriving. A rank
// a step behind that never arrived at its step's call is still named.
TEST(WatchdogReport, RankInsideTheCallOfTheStepBeforeIsWaiting) {
  bench::RankReport r0;
  r0.rank = 0;
  r0.step = 9;
  r0.phase = static_cast<int>(Phase::kIdle);
  r0.inside = 1;
  r0.host = "vm";
  r0.description = "the barrier after the sizes on 3 ranks";
  bench::RankReport r1 = r0;
  r1.rank = 1;
  r1.step = 10;
  r1.description = "the check for bad input after the sizes on 3 ranks";
  const std::map<int, bench::RankReport> reports{{0, r0}, {1, r1}};
  const std::string msg = bench::describe_stuck("no progress", r0, reports, 3, 0.6);
  EXPECT_NE(msg.find("stuck in the check for bad input after the sizes on 3 ranks"),
            std::string::npos)
      << msg;
  EXPECT_NE(msg.find("Ranks that had not arrived: 2 (rank 2: did not answer within 0.6 s"),
            std::string::npos)
      << msg;
  EXPECT_NE(msg.find("Ranks waiting in the collective: 0,1."), std::string::npos) << msg;

  std::map<int, bench::RankReport> late = reports;
  late[0].inside = 0;  // rank 0 never reached the barrier: it is behind, rank 2 only silent
  const std::string named = bench::describe_stuck("no progress", late.at(0), late, 3, 0.6);
  EXPECT_NE(named.find("Ranks that had not arrived: 0 (rank 0 on vm in set-up, before the "
                       "step's barrier of an earlier step: the barrier after the sizes"),
            std::string::npos)
      << named;
  EXPECT_NE(named.find("Ranks that did not report (dead, stopped or unreachable): 2."),
            std::string::npos)
      << named;
}

}  // namespace
}  // namespace collbench::fake
