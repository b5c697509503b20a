// The NCCL backend: one GPU per MPI rank, device buffers, the NCCL point-to-point transport,
// fill and check on the device, and per-iteration timing with CUDA events on the transport's
// stream (optionally replaying the iterations as a CUDA graph). See docs/nccl.md.
#include "collectives/nccl/nccl_backend.h"

#include <cuda_runtime.h>
#include <mpi.h>
#include <nccl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

#include "collectives/host.h"
#include "collectives/mpi/mpi_transport.h"
#include "collectives/nccl/cuda_kernels.h"
#include "collectives/nccl/native_nccl.h"
#include "collectives/nccl/nccl_transport.h"

namespace collbench::collectives {

using collectives::cuda_error_text;
using collectives::NcclTransport;
using nlohmann::json;

namespace {

// Device memory left to NCCL and the CUDA context beyond our buffers: NCCL's channel buffers
// grow with the number of peers and channels (hundreds of MiB per communicator is common).
constexpr std::size_t kDeviceReserveMin = std::size_t{1} << 30;

std::string cuda_version_string(int v) {
  return std::to_string(v / 1000) + "." + std::to_string(v % 1000 / 10);
}

// "570.86.15" from /proc/driver/nvidia/version ("NVRM version: NVIDIA UNIX ... Kernel Module
// 570.86.15 ..."); empty when absent.
std::string nvidia_driver_version() {
  std::ifstream in("/proc/driver/nvidia/version");
  std::string line;
  if (!std::getline(in, line)) return "";
  std::istringstream words(line);
  std::string w, prev;
  while (words >> w) {
    if (prev == "Module" && !w.empty() && std::isdigit(static_cast<unsigned char>(w[0]))) return w;
    prev = w;
  }
  return "";
}

std::string uuid_string(const cudaUUID_t& u) {
  static const char* kHex = "0123456789abcdef";
  std::string s = "GPU-";
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) s += '-';
    const auto b = static_cast<unsigned char>(u.bytes[i]);
    s += kHex[b >> 4];
    s += kHex[b & 15];
  }
  return s;
}

// Every rank's JSON value, in rank order, on every rank of `comm` (small communicators: the
// ranks of one node). Fixed-size slots keep it one MPI_Allgather.
json allgather_json(const json& mine, MPI_Comm comm) {
  int size = 1;
  MPI_Comm_size(comm, &size);
  const std::string text = mine.dump();
  int len = static_cast<int>(text.size()), max_len = 0;
  CB_MPI_CHECK(MPI_Allreduce(&len, &max_len, 1, MPI_INT, MPI_MAX, comm));
  std::string slot = text;
  slot.resize(static_cast<std::size_t>(max_len), ' ');
  std::string all(static_cast<std::size_t>(max_len) * static_cast<std::size_t>(size), ' ');
  CB_MPI_CHECK(MPI_Allgather(slot.data(), max_len, MPI_CHAR, all.data(), max_len, MPI_CHAR, comm));
  json out = json::array();
  for (int r = 0; r < size; ++r)
    out.push_back(json::parse(
        all.substr(static_cast<std::size_t>(r) * max_len, static_cast<std::size_t>(max_len))));
  return out;
}

// Every rank's JSON value, in rank order, on rank 0 (an empty array elsewhere).
json gather_json(const json& mine, MPI_Comm comm) {
  int rank = 0, size = 1;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  const std::string text = mine.dump();
  int len = static_cast<int>(text.size());
  std::vector<int> lens(rank == 0 ? static_cast<std::size_t>(size) : 1), offs(lens.size(), 0);
  CB_MPI_CHECK(MPI_Gather(&len, 1, MPI_INT, lens.data(), 1, MPI_INT, 0, comm));
  std::string all;
  if (rank == 0) {
    std::size_t total = 0;
    for (int r = 0; r < size; ++r) {
      offs[static_cast<std::size_t>(r)] = static_cast<int>(total);
      total += static_cast<std::size_t>(lens[static_cast<std::size_t>(r)]);
    }
    all.resize(total);
  }
  CB_MPI_CHECK(MPI_Gatherv(text.data(), len, MPI_CHAR, all.data(), lens.data(), offs.data(),
                           MPI_CHAR, 0, comm));
  json out = json::array();
  if (rank == 0)
    for (int r = 0; r < size; ++r)
      out.push_back(
          json::parse(all.substr(static_cast<std::size_t>(offs[static_cast<std::size_t>(r)]),
                                 static_cast<std::size_t>(lens[static_cast<std::size_t>(r)]))));
  return out;
}

// Waits for `event` (recorded on `t`'s stream) until the deadline, watching NCCL's asynchronous
// error meanwhile.
Status wait_event(cudaEvent_t event, NcclTransport& t, Deadline deadline, std::size_t iteration) {
  using namespace std::chrono_literals;
  int polls = 0;
  for (;;) {
    const cudaError_t e = cudaEventQuery(event);
    if (e == cudaSuccess) return Status::Ok();
    if (e != cudaErrorNotReady)
      return Status::Failure("iteration " + std::to_string(iteration) +
                             " failed on the GPU: " + cuda_error_text(e));
    ncclResult_t async = ncclSuccess;
    if (ncclCommGetAsyncError(t.comm(), &async) == ncclSuccess && async != ncclSuccess &&
        async != ncclInProgress)
      return Status::Failure("NCCL reported an asynchronous error in iteration " +
                             std::to_string(iteration) + ": " +
                             collectives::nccl_error_text(async));
    if (deadline.expired())
      return Status::Timeout("iteration " + std::to_string(iteration) +
                             " did not finish on the GPU within --timeout");
    if (++polls < 1000)
      std::this_thread::yield();
    else
      std::this_thread::sleep_for(20us);
  }
}

NcclTransport& as_nccl(collectives::Transport& t) {
  // The backend hands out only NCCL transports; anything else is a programming error.
  if (t.name() != "nccl")
    throw Error("the NCCL backend was handed a " + std::string(t.name()) + " transport");
  return static_cast<NcclTransport&>(t);
}

void check_launch(cudaError_t e, const char* what) {
  if (e != cudaSuccess) throw Error(std::string(what) + " failed: " + cuda_error_text(e));
}

class NcclBackend final : public Backend {
 public:
  NcclBackend(const BackendSettings& o, int device, json gpus)
      : cuda_graph_(o.cuda_graph),
        timeout_s_(o.timeout_s),
        gpu_map_(o.gpu_map),
        device_(device),
        gpus_(std::move(gpus)) {
    CB_CUDA_CHECK(cudaMalloc(reinterpret_cast<void**>(&d_check_), sizeof(*d_check_)));
    CB_CUDA_CHECK(cudaMallocHost(reinterpret_cast<void**>(&h_check_), sizeof(*h_check_)));
  }
  ~NcclBackend() override {
    for (auto e : start_) cudaEventDestroy(e);
    for (auto e : stop_) cudaEventDestroy(e);
    if (d_check_) cudaFree(d_check_);
    if (h_check_) cudaFreeHost(h_check_);
  }
  NcclBackend(const NcclBackend&) = delete;
  NcclBackend& operator=(const NcclBackend&) = delete;

  std::string name() const override { return "nccl"; }

  std::unique_ptr<Algorithm> make_native(AlgorithmId id) override { return make_nccl_native(id); }

  std::unique_ptr<collectives::Transport> make_transport(MPI_Comm comm) override {
    auto t = collectives::make_nccl_transport(comm, device_);
    active_ = t.get();
    return t;
  }

  void fill_input(collectives::Transport& t, void* buf, const collectives::CollectiveArgs& a,
                  int rank, int ranks, std::uint64_t seed) override {
    check_launch(collectives::cuda::fill_input(buf, a, rank, ranks, seed, as_nccl(t).stream()),
                 "the device fill kernel");
  }

  void fill_sentinel(collectives::Transport& t, void* buf,
                     const collectives::CollectiveArgs& a) override {
    check_launch(collectives::cuda::fill_sentinel(buf, a, t.rank(), t.size(), as_nccl(t).stream()),
                 "the device sentinel fill");
  }

  collectives::CheckResult check_output(collectives::Transport& t, const void* buf,
                                        const collectives::CollectiveArgs& a, int rank, int ranks,
                                        std::uint64_t seed) override {
    NcclTransport& n = as_nccl(t);
    check_launch(collectives::cuda::check_output(buf, a, rank, ranks, seed, d_check_, n.stream()),
                 "the device check kernel");
    // Only the counts come back (32 bytes), never the buffer.
    check_launch(
        cudaMemcpyAsync(h_check_, d_check_, sizeof(*h_check_), cudaMemcpyDeviceToHost, n.stream()),
        "copying the check counts to the host");
    const Status st = n.synchronize(Deadline::In(timeout_s_));
    if (!st.ok()) throw Error("the device check did not complete: " + st.message);
    collectives::CheckResult r;
    r.wrong = h_check_->wrong;
    if (r.wrong) {
      r.first_wrong = static_cast<std::int64_t>(h_check_->first_wrong);
      r.first_expected = h_check_->first_expected;
      r.first_actual = h_check_->first_actual;
    }
    return r;
  }

  void corrupt(collectives::Transport& t, void* buf, const collectives::CollectiveArgs& a, int rank,
               int ranks, std::size_t index) override {
    const auto off = output_element_offset(a, rank, ranks, index);
    if (!off) return;
    check_launch(collectives::cuda::add_to_element(buf, *off / dtype_size(a.dtype), a.dtype, 3,
                                                   as_nccl(t).stream()),
                 "the corrupt hook");
  }

  Status time_iterations(const TimedLoop& loop, std::span<double> seconds) override {
    if (!active_) return Status::Failure("nccl backend: time_iterations before make_transport");
    ensure_events(seconds.size());
    return cuda_graph_ > 0 ? time_graph(loop, seconds) : time_stream(loop, seconds);
  }

  std::size_t memory_available_per_rank(int /*ranks_on_node*/) override {
    std::size_t free_b = 0, total_b = 0;
    CB_CUDA_CHECK(cudaMemGetInfo(&free_b, &total_b));
    // Each rank has a GPU of its own, so the node's rank count does not divide it.
    const std::size_t reserve = std::max(kDeviceReserveMin, total_b / 20);
    return free_b > reserve ? free_b - reserve : 0;
  }

  json metadata() override {
    json m = gpu_library_versions();
    m["gpus"] = gpus_;
    std::int64_t least = -1;
    for (const auto& g : gpus_)
      if (g.contains("memory_bytes")) {
        const auto b = g["memory_bytes"].get<std::int64_t>();
        if (least < 0 || b < least) least = b;
      }
    m["device_memory_per_rank_bytes"] = least;
    m["cuda_graph_launches"] = cuda_graph_;
    m["gpu_map"] = gpu_map_.empty() ? json(nullptr) : json(gpu_map_);
    return m;
  }

  double estimate_us(collectives::Algorithm& algo,
                     const collectives::CollectiveArgs& args) override {
    return collectives::nccl_estimate_us(algo, args).value_or(-1.0);
  }

 private:
  void ensure_events(std::size_t n) {
    while (start_.size() < n) {
      cudaEvent_t a = nullptr, b = nullptr;
      CB_CUDA_CHECK(cudaEventCreate(&a));
      CB_CUDA_CHECK(cudaEventCreate(&b));
      start_.push_back(a);
      stop_.push_back(b);
    }
  }

  // Enqueues iteration i between its two events. External records make the events real nodes
  // of a graph being captured (a plain record would only order the capture).
  Status enqueue_iteration(const TimedLoop& loop, std::size_t i, bool capturing) {
    cudaStream_t s = active_->stream();
    std::byte* r = loop.recv + loop.offsets[i];
    const std::byte* in = loop.args.in_place ? r : loop.send + loop.offsets[i];
    const unsigned flags = capturing ? cudaEventRecordExternal : cudaEventRecordDefault;
    if (cudaError_t e = cudaEventRecordWithFlags(start_[i], s, flags); e != cudaSuccess)
      return Status::Failure("cudaEventRecord failed: " + cuda_error_text(e));
    Status st = loop.algorithm->run(in, r, loop.args, Deadline::In(loop.timeout_s));
    if (!st.ok()) return st;
    if (cudaError_t e = cudaEventRecordWithFlags(stop_[i], s, flags); e != cudaSuccess)
      return Status::Failure("cudaEventRecord failed: " + cuda_error_text(e));
    return Status::Ok();
  }

  // Waits for the iterations in order (each within --timeout of the previous one), moving the
  // watchdog's progress as they finish, then reads every iteration's event pair.
  Status collect(const TimedLoop& loop, std::span<double> seconds) {
    for (std::size_t i = 0; i < seconds.size(); ++i) {
      loop.progress->enter(static_cast<std::int64_t>(i));
      Status st = wait_event(stop_[i], *active_, Deadline::In(loop.timeout_s), i);
      loop.progress->leave();
      if (!st.ok()) return st;
    }
    for (std::size_t i = 0; i < seconds.size(); ++i) {
      float ms = 0;
      if (cudaError_t e = cudaEventElapsedTime(&ms, start_[i], stop_[i]); e != cudaSuccess)
        return Status::Failure("cudaEventElapsedTime failed: " + cuda_error_text(e));
      seconds[i] = static_cast<double>(ms) * 1e-3;
    }
    if (!active_->deferred_error().empty()) return Status::Failure(active_->deferred_error());
    return Status::Ok();
  }

  // Back to back on the stream: the host enqueues every iteration, the GPU runs them in order.
  Status time_stream(const TimedLoop& loop, std::span<double> seconds) {
    for (std::size_t i = 0; i < seconds.size(); ++i) {
      loop.progress->enter(static_cast<std::int64_t>(i));
      Status st = enqueue_iteration(loop, i, false);
      loop.progress->leave();
      if (!st.ok()) return st;
    }
    return collect(loop, seconds);
  }

  // The iterations captured once into a graph (with their events), launched --cuda-graph times;
  // the samples are those of the last launch, the earlier ones warm the graph. One collective
  // runs on the stream first, so that NCCL's lazy connection setup for this pattern of peers
  // never happens inside a capture.
  Status time_graph(const TimedLoop& loop, std::span<double> seconds) {
    cudaStream_t s = active_->stream();
    {
      std::byte* r = loop.recv + loop.offsets[0];
      const std::byte* in = loop.args.in_place ? r : loop.send + loop.offsets[0];
      loop.progress->enter(0);
      Status st = loop.algorithm->run(in, r, loop.args, Deadline::In(loop.timeout_s));
      if (st.ok()) st = active_->synchronize(Deadline::In(loop.timeout_s));
      loop.progress->leave();
      if (!st.ok()) return st;
    }
    if (cudaError_t e = cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal);
        e != cudaSuccess)
      return Status::Failure("cudaStreamBeginCapture failed: " + cuda_error_text(e));
    Status st = Status::Ok();
    for (std::size_t i = 0; i < seconds.size() && st.ok(); ++i)
      st = enqueue_iteration(loop, i, true);
    cudaGraph_t graph = nullptr;
    const cudaError_t end = cudaStreamEndCapture(s, &graph);  // always ends the capture
    if (st.ok() && end != cudaSuccess)
      st = Status::Failure("cudaStreamEndCapture failed: " + cuda_error_text(end) +
                           " (an operation of this algorithm cannot be captured)");
    cudaGraphExec_t exec = nullptr;
    if (st.ok()) {
      if (cudaError_t e = cudaGraphInstantiate(&exec, graph, 0); e != cudaSuccess)
        st = Status::Failure("cudaGraphInstantiate failed: " + cuda_error_text(e));
    }
    if (st.ok()) {
      if (cudaError_t e = cudaGraphUpload(exec, s); e != cudaSuccess)
        st = Status::Failure("cudaGraphUpload failed: " + cuda_error_text(e));
    }
    for (int l = 0; l < cuda_graph_ && st.ok(); ++l) {
      if (cudaError_t e = cudaGraphLaunch(exec, s); e != cudaSuccess) {
        st = Status::Failure("cudaGraphLaunch failed: " + cuda_error_text(e));
        break;
      }
      st = collect(loop, seconds);
    }
    if (exec) cudaGraphExecDestroy(exec);
    if (graph) cudaGraphDestroy(graph);
    return st;
  }

  int cuda_graph_;
  double timeout_s_;
  std::string gpu_map_;
  int device_;
  json gpus_;
  NcclTransport* active_ = nullptr;  // the transport of the rank set being measured
  std::vector<cudaEvent_t> start_, stop_;
  collectives::cuda::DeviceCheck* d_check_ = nullptr;
  collectives::cuda::DeviceCheck* h_check_ = nullptr;  // pinned
};

}  // namespace

std::optional<std::string> gpu_visibility_problem(int* visible) {
  int n = 0;
  const cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess) {
    (void)cudaGetLastError();
    return "cudaGetDeviceCount: " + cuda_error_text(e);
  }
  if (n < 1) {
    const char* cvd = std::getenv("CUDA_VISIBLE_DEVICES");
    return std::string("cudaGetDeviceCount returned 0 devices") +
           (cvd ? std::string(" (CUDA_VISIBLE_DEVICES=") + cvd + ")" : std::string());
  }
  if (visible) *visible = n;
  return std::nullopt;
}

json gpu_library_versions() {
  json v;
  int nccl = 0;
  v["nccl_version"] = ncclGetVersion(&nccl) == ncclSuccess
                          ? json(collectives::nccl_version_string(nccl))
                          : json(nullptr);
  v["nccl_version_built"] = collectives::nccl_version_string(NCCL_VERSION_CODE);
  int rt = 0, drv = 0;
  v["cuda_runtime_version"] =
      cudaRuntimeGetVersion(&rt) == cudaSuccess ? json(cuda_version_string(rt)) : json(nullptr);
  // 0 when no driver is installed.
  v["cuda_driver_version"] = cudaDriverGetVersion(&drv) == cudaSuccess && drv > 0
                                 ? json(cuda_version_string(drv))
                                 : json(nullptr);
  const std::string kmod = nvidia_driver_version();
  v["nvidia_driver"] = kmod.empty() ? json(nullptr) : json(kmod);
  (void)cudaGetLastError();
  return v;
}

json local_gpu_info(int device) {
  json g;
  g["device"] = device;
  cudaDeviceProp p{};
  if (cudaError_t e = cudaGetDeviceProperties(&p, device); e != cudaSuccess) {
    (void)cudaGetLastError();
    g["error"] = "cudaGetDeviceProperties: " + cuda_error_text(e);
    return g;
  }
  char bus[64] = {0};
  if (cudaDeviceGetPCIBusId(bus, sizeof bus, device) != cudaSuccess) {
    (void)cudaGetLastError();
    bus[0] = 0;
  }
  g["name"] = p.name;
  g["uuid"] = uuid_string(p.uuid);
  g["pci_bus_id"] = bus;
  g["memory_bytes"] = static_cast<std::int64_t>(p.totalGlobalMem);
  g["compute_capability"] = std::to_string(p.major) + "." + std::to_string(p.minor);
  g["sm_count"] = p.multiProcessorCount;
  return g;
}

std::unique_ptr<Backend> make_nccl_backend(const BackendSettings& o) {
  MPI_Comm world = MPI_COMM_WORLD;
  int rank = 0, size = 1;
  MPI_Comm_rank(world, &rank);
  MPI_Comm_size(world, &size);
  MPI_Comm node = MPI_COMM_NULL;
  CB_MPI_CHECK(MPI_Comm_split_type(world, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL, &node));
  int local_rank = 0;
  MPI_Comm_rank(node, &local_rank);

  json mine;
  std::string problem;
  int device = -1;
  try {
    int visible = 0;
    if (auto why = gpu_visibility_problem(&visible)) throw Error("no GPU visible: " + *why);
    device = choose_gpu(local_rank, visible, parse_gpu_map(o.gpu_map));
    CB_CUDA_CHECK(cudaSetDevice(device));
    // The context is created here, not inside the first measured call.
    CB_CUDA_CHECK(cudaFree(nullptr));
    mine = local_gpu_info(device);
    if (mine.contains("error")) throw Error(mine["error"].get<std::string>());
  } catch (const Error& e) {
    problem = e.what();
  }
  mine["rank"] = rank;
  mine["host"] = local_hostname();
  mine["local_rank"] = local_rank;

  // Two ranks of a node on one GPU: only the node's ranks need to compare bus ids.
  const json peers = allgather_json(json(mine.value("pci_bus_id", "")), node);
  MPI_Comm_free(&node);
  std::vector<std::string> bus_ids;
  for (const auto& b : peers) bus_ids.push_back(b.get<std::string>());
  if (problem.empty())
    if (auto other = shares_gpu_with(bus_ids, local_rank))
      problem = "node-local ranks " + std::to_string(*other) + " and " +
                std::to_string(local_rank) + " both use GPU " +
                bus_ids[static_cast<std::size_t>(local_rank)] +
                " (NCCL needs one GPU per rank; start fewer ranks per node or fix --gpu-map)";

  // Agree: how many ranks failed, and the first one's reason, in one line.
  const int bad = problem.empty() ? 0 : 1;
  int failing = 0, first = size;
  CB_MPI_CHECK(MPI_Allreduce(&bad, &failing, 1, MPI_INT, MPI_SUM, world));
  if (failing > 0) {
    const int candidate = bad ? rank : size;
    CB_MPI_CHECK(MPI_Allreduce(&candidate, &first, 1, MPI_INT, MPI_MIN, world));
    std::string line = "--backend nccl: rank " + std::to_string(rank) + " on " +
                       mine["host"].get<std::string>() + ": " + problem;
    int len = static_cast<int>(line.size());
    CB_MPI_CHECK(MPI_Bcast(&len, 1, MPI_INT, first, world));
    line.resize(static_cast<std::size_t>(len));
    CB_MPI_CHECK(MPI_Bcast(line.data(), len, MPI_CHAR, first, world));
    if (failing > 1)
      line +=
          " (and " + std::to_string(failing - 1) + " more rank" + (failing > 2 ? "s" : "") + ")";
    // Rank 0 reports in one line (as main() reports usage errors) before any rank exits, so the
    // launcher cannot end the job before the line is out; then every rank leaves with code 2.
    if (rank == 0) std::fprintf(stderr, "collbench: error: %s\n", line.c_str());
    std::fflush(stdout);
    std::fflush(stderr);
    MPI_Barrier(world);
    MPI_Finalize();
    std::_Exit(2);
  }
  // Every rank's GPU for the provenance, on rank 0 only (written there).
  json all = gather_json(mine, world);
  return std::make_unique<NcclBackend>(o, device, std::move(all));
}

}  // namespace collbench::collectives
