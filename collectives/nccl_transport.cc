#include "collectives/nccl_transport.h"

#include <cuda_runtime.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "collectives/cuda_kernels.h"
#include "collectives/mpi_transport.h"

namespace collbench::collectives {
namespace {

std::string where() {
  int rank = -1, initialized = 0, finalized = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  if (initialized && !finalized) MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  char host[256] = {0};
  gethostname(host, sizeof host - 1);
  return "[rank " + std::to_string(rank) + " on " + host + "] ";
}

}  // namespace

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
    case DType::kF8E4M3:
    case DType::kF8E5M2:
#if defined(NCCL_VERSION) && NCCL_VERSION_CODE >= NCCL_VERSION(2, 24, 0)
      return t == DType::kF8E4M3 ? ncclFloat8e4m3 : ncclFloat8e5m2;
#else
      return std::nullopt;
#endif
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

NcclTransport::NcclTransport(ncclComm_t comm, int device, cudaStream_t stream)
    : comm_(comm), stream_(stream), device_(device) {
  CB_CUDA_CHECK(cudaSetDevice(device_));
  CB_NCCL_CHECK(ncclCommUserRank(comm_, &rank_));
  CB_NCCL_CHECK(ncclCommCount(comm_, &size_));
  if (!stream_) {
    // Non-blocking with respect to the legacy default stream, which nothing here uses.
    CB_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
    owns_stream_ = true;
  }
  pending_.reserve(1024);
}

NcclTransport::~NcclTransport() {
  if (comm_) {
    if (failed_) {
      ncclCommAbort(comm_);
    } else {
      // Finalize flushes what is still queued; an error there leaves only abort.
      if (ncclCommFinalize(comm_) == ncclSuccess)
        ncclCommDestroy(comm_);
      else
        ncclCommAbort(comm_);
    }
  }
  if (owns_stream_) cudaStreamDestroy(stream_);
}

void NcclTransport::note_error(const std::string& what) {
  if (deferred_error_.empty()) deferred_error_ = where() + what;
}

Status NcclTransport::deferred_status() const {
  return deferred_error_.empty() ? Status::Ok() : Status::Failure(deferred_error_);
}

void NcclTransport::isend(const void* buf, std::size_t bytes, int peer, int /*tag*/) {
  pending_.push_back({true, const_cast<void*>(buf), bytes, peer});
}

void NcclTransport::irecv(void* buf, std::size_t bytes, int peer, int /*tag*/) {
  pending_.push_back({false, buf, bytes, peer});
}

Status NcclTransport::wait_all(Deadline /*deadline*/) {
  if (pending_.empty()) return deferred_status();
  ncclResult_t r = ncclGroupStart();
  if (r == ncclSuccess) {
    for (const Op& op : pending_) {
      if (op.bytes == 0) continue;
      r = op.send ? ncclSend(op.buf, op.bytes, ncclUint8, op.peer, comm_, stream_)
                  : ncclRecv(op.buf, op.bytes, ncclUint8, op.peer, comm_, stream_);
      if (r != ncclSuccess) break;
    }
    // The group is always closed, even after a failed call inside it.
    const ncclResult_t end = ncclGroupEnd();
    if (r == ncclSuccess) r = end;
  }
  const std::size_t n = pending_.size();
  pending_.clear();
  if (r != ncclSuccess) {
    failed_ = true;
    note_error("ncclGroupEnd of " + std::to_string(n) +
               " send/recv operations failed: " + nccl_error_text(r));
  }
  return deferred_status();
}

void NcclTransport::copy(void* dst, const void* src, std::size_t bytes) {
  if (bytes == 0 || dst == src) return;
  const cudaError_t e = cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, stream_);
  if (e != cudaSuccess)
    note_error("cudaMemcpyAsync of " + std::to_string(bytes) +
               " bytes failed: " + cuda_error_text(e));
}

void NcclTransport::reduce(void* inout, const void* in, std::size_t count, DType t, ReduceOp op) {
  const cudaError_t e = cuda::reduce(inout, in, count, t, op, stream_);
  if (e != cudaSuccess)
    note_error("the reduction kernel (" + std::string(dtype_name(t)) + " " +
               std::string(op_name(op)) + ", " + std::to_string(count) +
               " elements) failed to launch: " + cuda_error_text(e));
}

Status NcclTransport::synchronize(Deadline deadline) {
  using namespace std::chrono_literals;
  int polls = 0;
  for (;;) {
    const cudaError_t e = cudaStreamQuery(stream_);
    if (e == cudaSuccess) break;
    if (e != cudaErrorNotReady) {
      failed_ = true;
      note_error("the GPU work on this rank's stream failed: " + cuda_error_text(e));
      return deferred_status();
    }
    ncclResult_t async = ncclSuccess;
    if (ncclCommGetAsyncError(comm_, &async) == ncclSuccess && async != ncclSuccess &&
        async != ncclInProgress) {
      failed_ = true;
      note_error("NCCL reported an asynchronous error: " + nccl_error_text(async));
      return deferred_status();
    }
    if (deadline.expired()) {
      failed_ = true;  // finalizing would wait for the stuck work: abort instead
      return Status::Timeout(where() +
                             "the GPU work of this rank did not finish before the "
                             "deadline (a peer may not have arrived)");
    }
    // Spin briefly for short collectives, then stop burning the core.
    if (++polls < 1000)
      std::this_thread::yield();
    else
      std::this_thread::sleep_for(20us);
  }
  return deferred_status();
}

Buffer NcclTransport::allocate(std::size_t bytes) {
  // Never null, even for zero bytes: algorithms may form pointers into empty buffers.
  const std::size_t rounded = bytes == 0 ? 256 : bytes;
  void* p = nullptr;
  const cudaError_t e = cudaMalloc(&p, rounded);
  if (e != cudaSuccess) {
    (void)cudaGetLastError();
    throw Error(where() + "cudaMalloc of " + std::to_string(bytes) + " bytes on GPU " +
                std::to_string(device_) + " failed: " + cuda_error_text(e) + "; lower --max-bytes");
  }
  return Buffer(p, bytes, [](void* q) { cudaFree(q); });
}

std::unique_ptr<Transport> NcclTransport::split(int color, int key) {
  ncclComm_t sub = nullptr;
  CB_NCCL_CHECK(ncclCommSplit(comm_, color < 0 ? NCCL_SPLIT_NOCOLOR : color, key, &sub, nullptr));
  if (color < 0 || sub == nullptr) return nullptr;
  return std::make_unique<NcclTransport>(sub, device_, stream_);
}

std::unique_ptr<NcclTransport> make_nccl_transport(MPI_Comm comm, int device) {
  int rank = 0, size = 1;
  CB_MPI_CHECK(MPI_Comm_rank(comm, &rank));
  CB_MPI_CHECK(MPI_Comm_size(comm, &size));
  CB_CUDA_CHECK(cudaSetDevice(device));
  ncclUniqueId id{};
  if (rank == 0) CB_NCCL_CHECK(ncclGetUniqueId(&id));
  CB_MPI_CHECK(MPI_Bcast(&id, sizeof id, MPI_BYTE, 0, comm));
  ncclComm_t c = nullptr;
  CB_NCCL_CHECK(ncclCommInitRank(&c, size, id, rank));
  return std::make_unique<NcclTransport>(c, device);
}

}  // namespace collbench::collectives
