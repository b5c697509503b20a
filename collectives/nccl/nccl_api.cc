#include "collectives/nccl/nccl_api.h"

#include <mpi.h>
#include <unistd.h>

#include <cstring>

#include "collectives/error.h"

namespace collbench::collectives {

std::string where() {
  int rank = -1, initialized = 0, finalized = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  if (initialized && !finalized) MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  char host[256] = {0};
  gethostname(host, sizeof host - 1);
  return "[rank " + std::to_string(rank) + " on " + host + "] ";
}

std::string cuda_error_text(cudaError_t e) {
  return std::string(cudaGetErrorString(e)) + " (" + cudaGetErrorName(e) + ", error " +
         std::to_string(static_cast<int>(e)) + ")";
}

std::string nccl_error_text(ncclResult_t r) {
  std::string s = ncclGetErrorString(r);
  const char* last = ncclGetLastError(nullptr);
  if (last && *last) s += std::string(" (NCCL: ") + last + ")";
  return s;
}

std::string nccl_version_string(int code) {
  // From NCCL 2.9 on the code is X*10000 + Y*100 + Z; before, X*1000 + Y*100 + Z.
  const int major = code >= 10000 ? code / 10000 : code / 1000;
  const int minor = code >= 10000 ? code % 10000 / 100 : code % 1000 / 100;
  return std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(code % 100);
}

void throw_cuda_error(cudaError_t e, const char* call, const char* file, int line) {
  throw Error(where() + call + " failed at " + file + ":" + std::to_string(line) + ": " +
              cuda_error_text(e));
}

void throw_nccl_error(ncclResult_t r, const char* call, const char* file, int line) {
  throw Error(where() + call + " failed at " + file + ":" + std::to_string(line) + ": " +
              nccl_error_text(r));
}

std::optional<ncclDataType_t> nccl_datatype(DType t) {
  switch (t) {
    case DType::kI8:
      return ncclInt8;
    case DType::kU8:
      return ncclUint8;
    case DType::kI32:
      return ncclInt32;
    case DType::kU32:
      return ncclUint32;
    case DType::kI64:
      return ncclInt64;
    case DType::kU64:
      return ncclUint64;
    case DType::kF16:
      return ncclFloat16;
    case DType::kBF16:
      return ncclBfloat16;
    case DType::kF32:
      return ncclFloat32;
    case DType::kF64:
      return ncclFloat64;
  }
  return std::nullopt;
}

ncclRedOp_t nccl_redop(ReduceOp op) {
  switch (op) {
    case ReduceOp::kSum:
      return ncclSum;
    case ReduceOp::kProd:
      return ncclProd;
    case ReduceOp::kMin:
      return ncclMin;
    case ReduceOp::kMax:
      return ncclMax;
  }
  return ncclSum;
}

CommResult nccl_result(ncclResult_t r) {
  if (r == ncclSuccess) return CommResult::Ok();
  if (r == ncclInProgress) return CommResult::InProgress();
  return CommResult::Error(nccl_error_text(r));
}

namespace {

static_assert(sizeof(ncclUniqueId) == sizeof(CommId::bytes), "CommId holds an ncclUniqueId");

ncclComm_t as_comm(CommHandle c) { return static_cast<ncclComm_t>(c); }
cudaStream_t as_stream(StreamHandle s) { return static_cast<cudaStream_t>(s); }

ncclConfig_t non_blocking_config() {
  ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
  config.blocking = 0;
  return config;
}

class NcclCommOps final : public CommOps {
 public:
  CommResult unique_id(CommId* id) override {
    ncclUniqueId u{};
    const ncclResult_t r = ncclGetUniqueId(&u);
    std::memcpy(id->bytes.data(), &u, sizeof u);
    return nccl_result(r);
  }
  CommResult init_rank(CommHandle* comm, int nranks, const CommId& id, int rank) override {
    ncclUniqueId u{};
    std::memcpy(&u, id.bytes.data(), sizeof u);
    ncclConfig_t config = non_blocking_config();
    ncclComm_t c = nullptr;
    const ncclResult_t r = ncclCommInitRankConfig(&c, nranks, u, rank, &config);
    *comm = c;
    return nccl_result(r);
  }
  CommResult split(CommHandle parent, int color, int key, CommHandle* sub) override {
    ncclConfig_t config = non_blocking_config();
    ncclComm_t c = nullptr;
    const ncclResult_t r =
        ncclCommSplit(as_comm(parent), color < 0 ? NCCL_SPLIT_NOCOLOR : color, key, &c, &config);
    *sub = c;
    return nccl_result(r);
  }
  CommResult group_start() override { return nccl_result(ncclGroupStart()); }
  CommResult group_end() override { return nccl_result(ncclGroupEnd()); }
  CommResult send(const void* buf, std::size_t bytes, int peer, CommHandle comm,
                  StreamHandle stream) override {
    return nccl_result(ncclSend(buf, bytes, ncclUint8, peer, as_comm(comm), as_stream(stream)));
  }
  CommResult recv(void* buf, std::size_t bytes, int peer, CommHandle comm,
                  StreamHandle stream) override {
    return nccl_result(ncclRecv(buf, bytes, ncclUint8, peer, as_comm(comm), as_stream(stream)));
  }
  CommResult async_state(CommHandle comm) override {
    ncclResult_t state = ncclSuccess;
    const ncclResult_t r = ncclCommGetAsyncError(as_comm(comm), &state);
    if (r != ncclSuccess) return nccl_result(r);
    return nccl_result(state);
  }
  CommResult finalize(CommHandle comm) override {
    return nccl_result(ncclCommFinalize(as_comm(comm)));
  }
  CommResult destroy(CommHandle comm) override {
    return nccl_result(ncclCommDestroy(as_comm(comm)));
  }
  CommResult abort(CommHandle comm) override { return nccl_result(ncclCommAbort(as_comm(comm))); }
  CommResult rank_and_size(CommHandle comm, int* rank, int* size) override {
    CommResult r = nccl_result(ncclCommUserRank(as_comm(comm), rank));
    if (r.ok()) r = nccl_result(ncclCommCount(as_comm(comm), size));
    return r;
  }
};

}  // namespace

std::unique_ptr<CommOps> make_nccl_comm_ops() { return std::make_unique<NcclCommOps>(); }

}  // namespace collbench::collectives
