// The NCCL backend: one GPU per MPI rank, device buffers, the NCCL point-to-point transport,
// fill and check on the device, and per-iteration timing with CUDA events on the rank's stream
// (optionally replaying the iterations as a CUDA graph, device_loop.h). Every communicator of a
// rank set belongs to one CommSupervisor, which the watchdog can abort. See docs/nccl.md.
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
#include <mutex>
#include <sstream>

#include "collectives/host.h"
#include "collectives/mpi/mpi_transport.h"
#include "collectives/nccl/comm_supervisor.h"
#include "collectives/nccl/cuda_device_ops.h"
#include "collectives/nccl/device_loop.h"
#include "collectives/nccl/native_nccl.h"
#include "collectives/nccl/nccl_api.h"
#include "collectives/nccl/nccl_transport.h"

namespace collbench::collectives {

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

NcclTransport& as_nccl(Transport& t) {
  // The backend hands out only NCCL transports; anything else is a programming error.
  if (t.name() != "nccl")
    throw Error("the NCCL backend was handed a " + std::string(t.name()) + " transport");
  return static_cast<NcclTransport&>(t);
}

void throw_if_failed(const Status& st) {
  if (st.ok()) return;
  if (st.code == StatusCode::kTimeout) throw CommError(st.message, true);
  throw Error(st.message);
}

// The unique id of a new communicator, made on rank 0 and broadcast; when rank 0 cannot make one
// (NCCL finds no usable network interface, say) every rank learns why instead of waiting.
CommId share_unique_id(CommOps& ops, MPI_Comm comm, int rank) {
  struct Hello {
    int ok = 1;
    CommId id;
    char why[512] = {0};
  } hello;
  if (rank == 0) {
    const CommResult r = ops.unique_id(&hello.id);
    if (!r.ok()) {
      hello.ok = 0;
      std::snprintf(hello.why, sizeof hello.why, "%s", r.text.c_str());
    }
  }
  CB_MPI_CHECK(MPI_Bcast(&hello, sizeof hello, MPI_BYTE, 0, comm));
  if (!hello.ok)
    throw CommError(std::string("ncclGetUniqueId failed on rank 0: ") + hello.why, false);
  return hello.id;
}

class NcclBackend final : public Backend {
 public:
  NcclBackend(const BackendSettings& o, int device, json gpus)
      : cuda_graph_(o.cuda_graph),
        timeout_s_(o.timeout_s),
        gpu_map_(o.gpu_map),
        device_(device),
        gpus_(std::move(gpus)),
        dev_(make_cuda_device_ops(device)),
        ops_(make_nccl_comm_ops()) {}
  NcclBackend(const NcclBackend&) = delete;
  NcclBackend& operator=(const NcclBackend&) = delete;

  std::string name() const override { return "nccl"; }

  std::unique_ptr<Algorithm> make_native(AlgorithmId id) override { return make_nccl_native(id); }

  // Rank 0 makes the unique id, MPI_Bcast shares it, every rank joins the communicator; the
  // supervisor waits for it (and aborts it) within --timeout. Collective over comm.
  std::unique_ptr<Transport> make_transport(MPI_Comm comm) override {
    int rank = 0, size = 1;
    CB_MPI_CHECK(MPI_Comm_rank(comm, &rank));
    CB_MPI_CHECK(MPI_Comm_size(comm, &size));
    CB_CUDA_CHECK(cudaSetDevice(device_));
    auto sup = std::make_shared<CommSupervisor>(*ops_, timeout_s_);
    {
      std::lock_guard lock(active_mu_);
      active_sup_ = sup;
    }
    const CommId id = share_unique_id(*ops_, comm, rank);
    const CommHandle c = sup->init(size, id, rank);
    auto t = std::make_unique<NcclTransport>(sup, c, dev_, true);
    active_ = t.get();
    return t;
  }

  void fill_input(Transport& t, void* buf, const CollectiveArgs& a, int rank, int ranks,
                  std::uint64_t seed) override {
    throw_if_failed(as_nccl(t).device().fill_input(buf, a, rank, ranks, seed));
  }

  void fill_sentinel(Transport& t, void* buf, const CollectiveArgs& a) override {
    throw_if_failed(as_nccl(t).device().fill_sentinel(buf, a, t.rank(), t.size()));
  }

  CheckResult check_output(Transport& t, const void* buf, const CollectiveArgs& a, int rank,
                           int ranks, std::uint64_t seed) override {
    CheckResult r;
    throw_if_failed(check_on_device(as_nccl(t), buf, a, rank, ranks, seed, timeout_s_, &r));
    return r;
  }

  void corrupt(Transport& t, void* buf, const CollectiveArgs& a, int rank, int ranks,
               std::size_t index) override {
    const auto off = output_element_offset(a, rank, ranks, index);
    if (!off) return;
    throw_if_failed(
        as_nccl(t).device().add_to_element(buf, *off / dtype_size(a.dtype), a.dtype, 3));
  }

  Status time_iterations(const TimedLoop& loop, std::span<double> seconds) override {
    if (!active_) return Status::Failure("nccl backend: time_iterations before make_transport");
    return time_on_device(*active_, loop, seconds, cuda_graph_);
  }

  Status run_once(Transport& t, Algorithm& algo, const CollectiveArgs& a, const void* send,
                  void* recv, double timeout_s) override {
    return run_once_on_device(as_nccl(t), algo, a, send, recv, timeout_s, cuda_graph_);
  }

  std::size_t rotation_bytes() override { return rotation_bytes_for_cache(dev_->cache_bytes()); }

  Status close_transport(Transport& t, double timeout_s) override {
    const Status st = as_nccl(t).close(Deadline::In(timeout_s));
    active_ = nullptr;
    std::lock_guard lock(active_mu_);
    active_sup_.reset();
    return st;
  }

  void abort_communication(const std::string& why) noexcept override {
    std::shared_ptr<CommSupervisor> sup;
    {
      std::lock_guard lock(active_mu_);
      sup = active_sup_;
    }
    if (sup) sup->request_abort(why);
  }

  std::string timing_note(Algorithm& algo, const CollectiveArgs& a) override {
    if (algo.name() == "nccl" && a.collective == Collective::kAllToAll && a.in_place)
      return "in-place nccl all-to-all includes a device copy of the n-byte input to scratch "
             "before ncclAlltoAll (NCCL's all-to-all cannot run in place); out-of-place is the "
             "collective alone";
    return "";
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
    m["rotation_bytes_per_buffer"] = rotation_bytes();
    m["p2p_size_checks"] = default_check_p2p_sizes();
    return m;
  }

  double estimate_us(Algorithm& algo, const CollectiveArgs& args) override {
    return nccl_estimate_us(algo, args).value_or(-1.0);
  }

 private:
  int cuda_graph_;
  double timeout_s_;
  std::string gpu_map_;
  int device_;
  json gpus_;
  std::shared_ptr<DeviceOps> dev_;
  std::unique_ptr<CommOps> ops_;
  NcclTransport* active_ = nullptr;  // the transport of the rank set being measured
  std::mutex active_mu_;             // the watchdog thread reads active_sup_
  std::shared_ptr<CommSupervisor> active_sup_;
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
  v["nccl_version"] =
      ncclGetVersion(&nccl) == ncclSuccess ? json(nccl_version_string(nccl)) : json(nullptr);
  v["nccl_version_built"] = nccl_version_string(NCCL_VERSION_CODE);
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
  g["l2_cache_bytes"] = p.l2CacheSize;
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
