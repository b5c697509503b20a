// `collbench workload run`: one training step's collective mix, scaled down to the ranks of this
// launch, measured (see bench/workload_run.h).
#include "bench/workload_run.h"

#include <mpi.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "bench/cli.h"
#include "bench/mpi_session.h"
#include "bench/provenance.h"
#include "bench/report.h"
#include "bench/runner.h"
#include "bench/sizes.h"
#include "bench/stats.h"
#include "bench/watchdog.h"
#include "collectives/error.h"
#include "collectives/mpi/mpi_transport.h"
#include "topology/hostmap.h"
#include "topology/model/cost_model.h"
#include "topology/model/fabric.h"
#include "topology/model/workload.h"

namespace collbench::bench {
namespace {

using model::StepCollective;
using model::StepOp;
using nlohmann::json;

struct WorkloadRunArgs {
  std::string example;
  std::string config;
  std::string fabric_path;
  std::string json_path;
  std::string max_bytes_text = "64M";
  std::size_t max_bytes = 64u << 20;
  int iters = 10;
  int warmup = 2;
  int check = 1;
  double timeout_s = 300;
  bool quiet = false;
  std::vector<std::string> command_line;
};

// Where this rank sits in the groups of one collective: groups of `size` members `stride` ranks
// apart, in rank order (members r, r + stride, ... inside blocks of size * stride ranks).
struct Membership {
  int color = 0;  // which group
  int key = 0;    // position in it
};

Membership membership(int rank, std::int64_t size, std::int64_t stride) {
  const std::int64_t block = rank / (size * stride);
  const std::int64_t offset = rank % stride;
  return {static_cast<int>(block * stride + offset), static_cast<int>((rank / stride) % size)};
}

// Bytes actually moved per call: the step's size, capped, and divisible by the group's blocks.
std::size_t measured_bytes(double full, std::size_t cap, std::int64_t group) {
  const std::size_t unit = 4 * static_cast<std::size_t>(std::max<std::int64_t>(group, 1));
  const double want = std::min(full, static_cast<double>(cap));
  const std::size_t b = static_cast<std::size_t>(want) / unit * unit;
  return std::max(b, unit);
}

// One collective of the step on this rank's group: buffers, the call, the fill and the check.
class StepCall {
 public:
  StepCall(const StepCollective& c, MPI_Comm world, std::size_t bytes)
      : c_(c), world_(world), bytes_(bytes) {
    int rank = 0, size = 1;
    MPI_Comm_rank(world, &rank);
    MPI_Comm_size(world, &size);
    world_rank_ = rank;
    world_size_ = size;
    if (c.op == StepOp::kSendRecv) {
      // Pipeline neighbours: stage k sends to stage k + 1 and receives from stage k - 1.
      const std::int64_t stages = size / c.stride;
      stage_ = rank / c.stride;
      next_ = stage_ + 1 < stages ? rank + static_cast<int>(c.stride) : MPI_PROC_NULL;
      prev_ = stage_ > 0 ? rank - static_cast<int>(c.stride) : MPI_PROC_NULL;
      comm_ = MPI_COMM_NULL;
      gsize_ = 2;
    } else {
      const Membership m = membership(rank, c.group_size, c.stride);
      base_ = static_cast<int>(rank / (c.group_size * c.stride) * (c.group_size * c.stride) +
                               rank % c.stride);
      CB_MPI_CHECK(MPI_Comm_split(world, m.color, m.key, &comm_));
      MPI_Comm_rank(comm_, &grank_);
      MPI_Comm_size(comm_, &gsize_);
    }
    send_.assign(bytes_, std::byte{0});
    recv_.assign(bytes_, std::byte{0});
  }
  ~StepCall() {
    if (comm_ != MPI_COMM_NULL) MPI_Comm_free(&comm_);
  }
  StepCall(const StepCall&) = delete;
  StepCall& operator=(const StepCall&) = delete;

  int group_size() const { return gsize_; }

  void run() {
    const std::size_t floats = bytes_ / 4;
    const int block = static_cast<int>(bytes_ / static_cast<std::size_t>(gsize_));
    switch (c_.op) {
      case StepOp::kAllReduce:
        CB_MPI_CHECK(MPI_Allreduce(send_.data(), recv_.data(), static_cast<int>(floats), MPI_FLOAT,
                                   MPI_SUM, comm_));
        break;
      case StepOp::kReduceScatter:
        CB_MPI_CHECK(MPI_Reduce_scatter_block(send_.data(), recv_.data(), block / 4, MPI_FLOAT,
                                              MPI_SUM, comm_));
        break;
      case StepOp::kAllGather:
        CB_MPI_CHECK(
            MPI_Allgather(send_.data(), block, MPI_BYTE, recv_.data(), block, MPI_BYTE, comm_));
        break;
      case StepOp::kAllToAll:
        CB_MPI_CHECK(
            MPI_Alltoall(send_.data(), block, MPI_BYTE, recv_.data(), block, MPI_BYTE, comm_));
        break;
      case StepOp::kSendRecv:
        CB_MPI_CHECK(MPI_Sendrecv(send_.data(), static_cast<int>(bytes_), MPI_BYTE, next_, 7,
                                  recv_.data(), static_cast<int>(bytes_), MPI_BYTE, prev_, 7,
                                  world_, MPI_STATUS_IGNORE));
        break;
    }
  }

  // Inputs whose every output element is known; outputs prefilled with a sentinel.
  void fill(std::uint32_t seed) {
    std::fill(recv_.begin(), recv_.end(), std::byte{0xA5});
    const std::size_t n = bytes_;
    if (c_.op == StepOp::kAllReduce || c_.op == StepOp::kReduceScatter) {
      auto* f = reinterpret_cast<float*>(send_.data());
      for (std::size_t i = 0; i < n / 4; ++i)
        f[i] = static_cast<float>((i + seed) % 13 + static_cast<std::size_t>(world_rank_));
      return;
    }
    // World ranks in the values: a group of the wrong members fails the check.
    const int me = world_rank_;
    const std::size_t block = n / static_cast<std::size_t>(gsize_);
    for (std::size_t i = 0; i < n; ++i) {
      // All-to-all: block j goes to member j; the byte names sender, receiver and position.
      const std::size_t to = c_.op == StepOp::kAllToAll ? i / block : 0;
      send_[i] = pattern(me, to, i, seed);
    }
  }

  // Elements of this rank's output that differ from the expected value.
  std::uint64_t check(std::uint32_t seed) const {
    std::uint64_t wrong = 0;
    const std::size_t n = bytes_;
    const std::size_t g = static_cast<std::size_t>(gsize_);
    const std::size_t block = n / g;
    // Sum of the members' world ranks: base, base + stride, ...
    const double ranks_sum = static_cast<double>(g) * base_ +
                             static_cast<double>(c_.stride) * static_cast<double>(g * (g - 1) / 2);
    switch (c_.op) {
      case StepOp::kAllReduce:
      case StepOp::kReduceScatter: {
        const auto* f = reinterpret_cast<const float*>(recv_.data());
        const bool rs = c_.op == StepOp::kReduceScatter;
        const std::size_t count = rs ? block / 4 : n / 4;
        const std::size_t first = rs ? static_cast<std::size_t>(grank_) * count : 0;
        for (std::size_t i = 0; i < count; ++i) {
          const double want = static_cast<double>(g * ((first + i + seed) % 13)) + ranks_sum;
          wrong += static_cast<double>(f[i]) != want;
        }
        break;
      }
      case StepOp::kAllGather:
        // Member j's block holds member j's first block of its input.
        for (std::size_t i = 0; i < n; ++i)
          wrong += recv_[i] != pattern(member(i / block), 0, i % block, seed);
        break;
      case StepOp::kAllToAll:
        for (std::size_t i = 0; i < n; ++i) {
          const std::size_t from = i / block;
          const std::size_t pos = static_cast<std::size_t>(grank_) * block + i % block;
          wrong += recv_[i] != pattern(member(from), static_cast<std::size_t>(grank_), pos, seed);
        }
        break;
      case StepOp::kSendRecv:
        if (prev_ != MPI_PROC_NULL)
          for (std::size_t i = 0; i < n; ++i) wrong += recv_[i] != pattern(prev_, 0, i, seed);
        break;
    }
    return wrong;
  }

 private:
  int member(std::size_t j) const { return base_ + static_cast<int>(j * c_.stride); }
  static std::byte pattern(int from, std::size_t to, std::size_t i, std::uint32_t seed) {
    return static_cast<std::byte>((static_cast<std::size_t>(from) * 31 + to * 7 + i * 3 + seed) &
                                  0xff);
  }

  StepCollective c_;
  MPI_Comm world_;
  MPI_Comm comm_ = MPI_COMM_NULL;
  std::size_t bytes_;
  int world_rank_ = 0, world_size_ = 1;
  int grank_ = 0, gsize_ = 1;
  int base_ = 0;  // world rank of the group's first member
  std::int64_t stage_ = 0;
  int next_ = MPI_PROC_NULL, prev_ = MPI_PROC_NULL;
  std::vector<std::byte> send_, recv_;
};

// Per iteration the slowest rank's time (all groups run at once, as in the step); the median.
double time_call(StepCall& call, MPI_Comm world, int iters, int warmup, Progress& progress) {
  progress.set(Phase::kWarmup, 0);
  for (int i = 0; i < warmup; ++i) {
    progress.enter(i);
    call.run();
    progress.leave();
  }
  progress.set(Phase::kBarrier, 0);
  CB_MPI_CHECK(MPI_Barrier(world));
  progress.set(Phase::kTimed, 0);
  std::vector<double> local(static_cast<std::size_t>(iters)), slowest(local.size());
  for (int i = 0; i < iters; ++i) {
    progress.enter(i);
    const auto t0 = std::chrono::steady_clock::now();
    call.run();
    const auto t1 = std::chrono::steady_clock::now();
    progress.leave();
    local[static_cast<std::size_t>(i)] = std::chrono::duration<double>(t1 - t0).count();
  }
  progress.set(Phase::kReduceStats, 0);
  CB_MPI_CHECK(MPI_Allreduce(local.data(), slowest.data(), iters, MPI_DOUBLE, MPI_MAX, world));
  std::sort(slowest.begin(), slowest.end());
  const std::size_t n = slowest.size();
  return n % 2 ? slowest[n / 2] : 0.5 * (slowest[n / 2 - 1] + slowest[n / 2]);
}

std::string sig3(double v) {
  char buf[32];
  if (std::fabs(v) >= 100)
    std::snprintf(buf, sizeof buf, "%.0f", v);
  else
    std::snprintf(buf, sizeof buf, "%.3g", v);
  return buf;
}

std::string pad(const std::string& s, std::size_t w) {
  return s.size() >= w ? s : std::string(w - s.size(), ' ') + s;
}

int run_workload(const WorkloadRunArgs& a, int* argc, char*** argv) {
  // Everything that can be wrong with the input is found before MPI starts, and said once.
  model::Workload w;
  model::Workload resolved;
  std::optional<model::Fabric> fabric;
  try {
    if (!a.example.empty() && !a.config.empty())
      throw UsageError("--example and CONFIG: give one of them");
    w = a.config.empty() ? model::builtin_workload(a.example.empty() ? "llama3-405b" : a.example)
                         : model::load_workload(a.config);
    resolved = model::resolve_workload(w, 1 << 20);
    if (!a.fabric_path.empty()) fabric = model::load_fabric(a.fabric_path);
  } catch (const UsageError& e) {
    if (reports_usage_errors()) std::fprintf(stderr, "collbench: error: %s\n", e.what());
    return 2;
  }

  MpiSession mpi(argc, argv);
  MPI_Comm world = MPI_COMM_WORLD;
  const int rank = mpi.rank(), size = mpi.size();
  const bool lead = rank == 0;

  const model::Workload small = model::scaled_parallelism(resolved, size);
  const std::vector<StepCollective> plan = model::scaled_step(resolved, size);
  if (plan.empty()) {
    if (lead)
      std::fprintf(stderr,
                   "collbench: error: workload '%s' scaled to %d rank%s has no collective with "
                   "more than one rank; launch more ranks (e.g. mpirun -np 4)\n",
                   w.name.c_str(), size, size == 1 ? "" : "s");
    return 2;
  }
  if (fabric && fabric->gpus > 0 && size > fabric->gpus) {
    if (lead)
      std::fprintf(stderr,
                   "collbench: error: --fabric '%s' holds %lld ranks, fewer than the %d launched\n",
                   a.fabric_path.c_str(), static_cast<long long>(fabric->gpus), size);
    return 2;
  }
  if (lead && !a.json_path.empty()) {
    try {
      check_writable(a.json_path, "--json");
    } catch (const Error& e) {
      std::fprintf(stderr, "collbench: error: %s\n", e.what());
      MPI_Abort(world, 2);
    }
  }

  // Hosts and provenance, as in every result file.
  const topology::HostMap hosts = gather_hosts(world);
  Options prov_options;
  prov_options.command_line = a.command_line;
  prov_options.iters = a.iters;
  prov_options.warmup = a.warmup;

  json out;
  out["schema"] = "collbench.workload_run";
  out["schema_version"] = 1;
  out["complete"] = false;
  if (lead) {
    out["provenance"] = make_provenance(prov_options, hosts, "mpi");
    out["workload"] = model::workload_to_json(w);
    out["ranks"] = size;
    out["nodes"] = hosts.nodes();
    out["parallel"] = {{"tp", small.parallel.tp},
                       {"cp", small.parallel.cp},
                       {"pp", small.parallel.pp},
                       {"dp", small.parallel.dp},
                       {"ep", small.parallel.ep}};
    out["options"] = {
        {"iters", a.iters}, {"warmup", a.warmup}, {"max_bytes", a.max_bytes}, {"check", a.check}};
    if (fabric) out["fabric"] = {{"path", a.fabric_path}, {"name", fabric->name}};
    out["method"] =
        "each collective of the step on its groups, all groups at once (MPI library calls; "
        "reductions in f32 over the step's byte counts); per iteration the slowest rank, the "
        "median over iterations. Sizes above max_bytes are measured at max_bytes and max_bytes/2 "
        "and extrapolated linearly.";
    out["collectives"] = json::array();
  }
  auto save = [&](bool complete, const std::string& failure) {
    if (!lead || a.json_path.empty()) return;
    out["complete"] = complete;
    if (!failure.empty()) out["failure"] = failure;
    write_file_atomic(a.json_path, out.dump(1) + "\n");
  };
  Watchdog watchdog(world, a.timeout_s, [&](const std::string& why) { save(false, why); });

  if (lead && !a.quiet) {
    std::printf(
        "# collbench workload run: %s on %d ranks (%d node%s): TP%lld x CP%lld x PP%lld x "
        "DP%lld%s\n",
        w.name.c_str(), size, hosts.nodes(), hosts.nodes() == 1 ? "" : "s",
        static_cast<long long>(small.parallel.tp), static_cast<long long>(small.parallel.cp),
        static_cast<long long>(small.parallel.pp), static_cast<long long>(small.parallel.dp),
        small.parallel.ep > 1 ? (" (EP" + std::to_string(small.parallel.ep) + ")").c_str() : "");
    std::printf(
        "# full step: TP%lld x CP%lld x PP%lld x DP%lld; message sizes and counts are the full "
        "step's\n",
        static_cast<long long>(resolved.parallel.tp), static_cast<long long>(resolved.parallel.cp),
        static_cast<long long>(resolved.parallel.pp), static_cast<long long>(resolved.parallel.dp));
    std::printf("%-24s %-14s %-10s %9s %9s %10s %11s %12s%s %7s\n", "collective", "op", "group",
                "MB/GPU", "meas. MB", "calls/step", "each (us)", "step (ms)",
                fabric ? "  model (us)  meas/model" : "", "#wrong");
  }

  double total_s = 0, total_model_s = 0;
  std::uint64_t wrong_all = 0;
  for (const StepCollective& c : plan) {
    const std::string group = c.group + std::to_string(c.group_size) +
                              (c.stride > 1 ? "/" + std::to_string(c.stride) : std::string());
    const std::size_t full_cap = measured_bytes(c.bytes, a.max_bytes, c.group_size);
    const bool extrapolate = static_cast<double>(full_cap) < c.bytes;
    watchdog.begin_step(std::string(model::step_op_name(c.op)) + " " + c.what + " " + group);

    double each = 0;
    json points = json::array();
    std::uint64_t wrong = 0;
    {
      StepCall call(c, world, full_cap);
      const double t_cap = time_call(call, world, a.iters, a.warmup, watchdog.progress());
      points.push_back({{"bytes", full_cap}, {"time_us", t_cap * 1e6}});
      each = t_cap;
      // The check, on the largest buffer measured.
      watchdog.progress().set(Phase::kCheck, 0);
      for (int rep = 0; rep < a.check; ++rep) {
        const auto seed = static_cast<std::uint32_t>(rep + 1);
        call.fill(seed);
        watchdog.progress().enter(rep);
        call.run();
        watchdog.progress().leave();
        wrong += call.check(seed);
      }
    }
    if (extrapolate) {
      const std::size_t half =
          measured_bytes(static_cast<double>(full_cap) / 2, a.max_bytes, c.group_size);
      StepCall call(c, world, half);
      const double t_half = time_call(call, world, a.iters, a.warmup, watchdog.progress());
      points.push_back({{"bytes", half}, {"time_us", t_half * 1e6}});
      const double slope = (each - t_half) / static_cast<double>(full_cap - half);
      each = slope > 0 ? each + slope * (c.bytes - static_cast<double>(full_cap))
                       : each * c.bytes / static_cast<double>(full_cap);
    }
    std::uint64_t wrong_sum = 0;
    CB_MPI_CHECK(MPI_Allreduce(&wrong, &wrong_sum, 1, MPI_UINT64_T, MPI_SUM, world));
    watchdog.end_step();
    wrong_all += wrong_sum;
    const double step = each * c.count;
    total_s += step;

    double model_each = -1;
    if (fabric) {
      const model::StepTiming st = model::time_collectives({c}, model::make_net(*fabric));
      model_each = st.items.empty() ? -1 : st.items.front().time_each_s;
      if (model_each > 0) total_model_s += model_each * c.count;
    }
    if (lead) {
      json item = {{"what", c.what},
                   {"op", model::step_op_name(c.op)},
                   {"group", c.group},
                   {"group_size", c.group_size},
                   {"stride", c.stride},
                   {"bytes", c.bytes},
                   {"count", c.count},
                   {"measured", points},
                   {"extrapolated", extrapolate},
                   {"time_each_us", each * 1e6},
                   {"time_step_ms", step * 1e3},
                   {"wrong", wrong_sum}};
      if (model_each > 0) {
        item["model_each_us"] = model_each * 1e6;
        item["measured_over_model"] = each / model_each;
      }
      out["collectives"].push_back(item);
      out["total_ms"] = total_s * 1e3;
      if (fabric) out["model_total_ms"] = total_model_s * 1e3;
      save(false, "");
      if (!a.quiet) {
        std::string model_cols;
        if (fabric)
          model_cols = "  " + pad(model_each > 0 ? sig3(model_each * 1e6) : "-", 10) + "  " +
                       pad(model_each > 0 ? sig3(each / model_each) : "-", 10);
        std::printf("%-24s %-14s %-10s %9s %9s %10s %11s %12s%s %7llu\n", c.what.c_str(),
                    model::step_op_name(c.op), group.c_str(), sig3(c.bytes / 1e6).c_str(),
                    sig3(static_cast<double>(full_cap) / 1e6).c_str(), sig3(c.count).c_str(),
                    (sig3(each * 1e6) + (extrapolate ? "*" : "")).c_str(), sig3(step * 1e3).c_str(),
                    model_cols.c_str(), static_cast<unsigned long long>(wrong_sum));
        std::fflush(stdout);
      }
    }
  }
  if (lead) {
    out["wrong"] = wrong_all;
    save(true, "");
    if (!a.quiet) {
      std::printf("%-24s %-14s %-10s %9s %9s %10s %11s %12s", "total", "", "", "", "", "", "",
                  sig3(total_s * 1e3).c_str());
      if (fabric)
        std::printf("  %10s  %10s", "-",
                    total_model_s > 0 ? sig3(total_s / total_model_s).c_str() : "-");
      std::printf("\n");
      if (fabric) std::printf("# model total per step: %s ms\n", sig3(total_model_s * 1e3).c_str());
      std::printf("# * extrapolated from measurements at the cap (--max-bytes %s) and half of it\n",
                  a.max_bytes_text.c_str());
      if (!a.json_path.empty()) std::printf("# wrote %s\n", a.json_path.c_str());
      if (wrong_all)
        std::printf("# %llu wrong elements: the results are not valid\n",
                    static_cast<unsigned long long>(wrong_all));
    }
  }
  return wrong_all ? 1 : 0;
}

}  // namespace

void add_workload_command(CLI::App& app, std::function<int()>& action,
                          const std::vector<std::string>& argv, int* argc, char*** argv_raw) {
  auto a = std::make_shared<WorkloadRunArgs>();
  a->command_line = argv;
  CLI::App* wl = app.add_subcommand("workload", "a training step's collectives, measured here");
  wl->require_subcommand(1);
  CLI::App* run = wl->add_subcommand(
      "run",
      "measure one training step's collective mix scaled down to the launched ranks (mpirun -np "
      "N): groups shaped as the step's, message sizes and counts of the full step");
  run->add_option("config", a->config, "workload JSON (as `collbench model step --config`)");
  run->add_option("--example", a->example,
                  "built-in workload: llama3-405b (default), deepseek-v3, frontier-300mw");
  run->add_option("--fabric", a->fabric_path,
                  "fitted fabric (collbench model fit) to predict each collective beside the "
                  "measurement");
  run->add_option("-n,--iters", a->iters, "timed iterations per collective (default 10)")
      ->check(CLI::Range(1, 100000));
  run->add_option("-w,--warmup", a->warmup, "warm-up iterations (default 2)")
      ->check(CLI::Range(0, 100000));
  run->add_option("-c,--check", a->check, "check repetitions after timing (default 1; 0: none)")
      ->check(CLI::Range(0, 1000));
  run->add_option("--max-bytes", a->max_bytes_text,
                  "largest buffer moved per call (default 64M); larger step sizes are measured "
                  "at this cap and half of it and extrapolated linearly");
  run->add_option("--json", a->json_path, "write the measurement as JSON (atomically)");
  run->add_option("--timeout", a->timeout_s, "seconds without progress before the run is ended")
      ->check(CLI::Range(0.0, 1e9));
  run->add_flag("-q,--quiet", a->quiet, "no table");
  run->callback([a, &action, argc, argv_raw] {
    check_timeout(a->timeout_s, "--timeout");
    if (!a->json_path.empty()) check_replaceable(a->json_path, "--json");
    a->max_bytes = parse_size(a->max_bytes_text, "--max-bytes");
    if (a->max_bytes < 64)
      throw UsageError("--max-bytes " + a->max_bytes_text + ": must be at least 64");
    if (a->max_bytes > (std::size_t{1} << 31) - 4096)
      throw UsageError("--max-bytes " + a->max_bytes_text + ": must be below 2G (one MPI call)");
    action = [a, argc, argv_raw] { return run_workload(*a, argc, argv_raw); };
  });
}

}  // namespace collbench::bench
