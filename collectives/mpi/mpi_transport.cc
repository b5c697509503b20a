#include "collectives/mpi/mpi_transport.h"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <mutex>
#include <string>

#include "collectives/reduce.h"

namespace collbench::collectives {

void throw_mpi_error(int code, const char* call, const char* file, int line) {
  char msg[MPI_MAX_ERROR_STRING] = {0};
  int len = 0;
  MPI_Error_string(code, msg, &len);
  int rank = -1, initialized = 0;
  MPI_Initialized(&initialized);
  if (initialized) MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  char host[256] = {0};
  gethostname(host, sizeof host - 1);
  throw Error("[rank " + std::to_string(rank) + " on " + host + "] " + call + " failed at " + file +
              ":" + std::to_string(line) + ": " + msg);
}

MpiTransport::MpiTransport(MPI_Comm comm, std::size_t max_count, bool owns_comm)
    : comm_(comm),
      owns_comm_(owns_comm),
      max_count_(std::clamp<std::size_t>(max_count, 1, INT_MAX)) {
  CB_MPI_CHECK(MPI_Comm_rank(comm_, &rank_));
  CB_MPI_CHECK(MPI_Comm_size(comm_, &size_));
  requests_.reserve(4096);
}

MpiTransport::~MpiTransport() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (owns_comm_ && !finalized) MPI_Comm_free(&comm_);
}

void MpiTransport::isend(const void* buf, std::size_t bytes, int peer, int tag) {
  const auto* p = static_cast<const std::byte*>(buf);
  do {  // zero bytes still posts one (empty) message so that the receiver matches
    const std::size_t n = std::min(bytes, max_count_);
    MPI_Request r;
    CB_MPI_CHECK(MPI_Isend(p, static_cast<int>(n), MPI_BYTE, peer, tag, comm_, &r));
    requests_.push_back(r);
    p += n;
    bytes -= n;
  } while (bytes > 0);
}

void MpiTransport::irecv(void* buf, std::size_t bytes, int peer, int tag) {
  auto* p = static_cast<std::byte*>(buf);
  do {
    const std::size_t n = std::min(bytes, max_count_);
    MPI_Request r;
    CB_MPI_CHECK(MPI_Irecv(p, static_cast<int>(n), MPI_BYTE, peer, tag, comm_, &r));
    requests_.push_back(r);
    p += n;
    bytes -= n;
  } while (bytes > 0);
}

Status MpiTransport::wait_all(Deadline deadline) {
  if (requests_.empty()) return Status::Ok();
  const int n = static_cast<int>(requests_.size());
  if (deadline.at == Deadline::Never().at) {
    CB_MPI_CHECK(MPI_Waitall(n, requests_.data(), MPI_STATUSES_IGNORE));
    requests_.clear();
    return Status::Ok();
  }
  for (unsigned spins = 0;; ++spins) {
    int done = 0;
    CB_MPI_CHECK(MPI_Testall(n, requests_.data(), &done, MPI_STATUSES_IGNORE));
    if (done) break;
    if ((spins & 63u) == 0 && deadline.expired()) {
      return Status::Timeout("point-to-point wait passed its deadline (" + std::to_string(n) +
                             " requests pending on rank " + std::to_string(rank_) + ")");
    }
  }
  requests_.clear();
  return Status::Ok();
}

void MpiTransport::copy(void* dst, const void* src, std::size_t bytes) {
  if (bytes && dst != src) std::memmove(dst, src, bytes);
}

void MpiTransport::reduce(void* inout, const void* in, std::size_t count, DType t, ReduceOp op) {
  reduce_inplace(inout, in, count, t, op);
}

std::unique_ptr<Transport> MpiTransport::split(int color, int key) {
  MPI_Comm sub = MPI_COMM_NULL;
  // A negative color joins no group (MPI_UNDEFINED), as in the in-process transport.
  CB_MPI_CHECK(MPI_Comm_split(comm_, color < 0 ? MPI_UNDEFINED : color, key, &sub));
  if (sub == MPI_COMM_NULL) return nullptr;
  return std::make_unique<MpiTransport>(sub, max_count_, true);
}

namespace {

template <DType T, ReduceOp Op>
void user_op(void* in, void* inout, int* len, MPI_Datatype*) {
  reduce_inplace(inout, in, static_cast<std::size_t>(*len), T, Op);
}

struct HalfTypes {
  MPI_Datatype f16 = MPI_DATATYPE_NULL;
  MPI_Datatype bf16 = MPI_DATATYPE_NULL;
  std::array<MPI_Op, 4> f16_ops{};
  std::array<MPI_Op, 4> bf16_ops{};
};

const HalfTypes& half_types() {
  static HalfTypes h = [] {
    HalfTypes t;
    CB_MPI_CHECK(MPI_Type_contiguous(2, MPI_BYTE, &t.f16));
    CB_MPI_CHECK(MPI_Type_commit(&t.f16));
    CB_MPI_CHECK(MPI_Type_contiguous(2, MPI_BYTE, &t.bf16));
    CB_MPI_CHECK(MPI_Type_commit(&t.bf16));
    CB_MPI_CHECK(MPI_Op_create(&user_op<DType::kF16, ReduceOp::kSum>, 1, &t.f16_ops[0]));
    CB_MPI_CHECK(MPI_Op_create(&user_op<DType::kF16, ReduceOp::kProd>, 1, &t.f16_ops[1]));
    CB_MPI_CHECK(MPI_Op_create(&user_op<DType::kF16, ReduceOp::kMin>, 1, &t.f16_ops[2]));
    CB_MPI_CHECK(MPI_Op_create(&user_op<DType::kF16, ReduceOp::kMax>, 1, &t.f16_ops[3]));
    CB_MPI_CHECK(MPI_Op_create(&user_op<DType::kBF16, ReduceOp::kSum>, 1, &t.bf16_ops[0]));
    CB_MPI_CHECK(MPI_Op_create(&user_op<DType::kBF16, ReduceOp::kProd>, 1, &t.bf16_ops[1]));
    CB_MPI_CHECK(MPI_Op_create(&user_op<DType::kBF16, ReduceOp::kMin>, 1, &t.bf16_ops[2]));
    CB_MPI_CHECK(MPI_Op_create(&user_op<DType::kBF16, ReduceOp::kMax>, 1, &t.bf16_ops[3]));
    return t;
  }();
  return h;
}

}  // namespace

MPI_Datatype mpi_datatype(DType t) {
  switch (t) {
    case DType::kI8:
      return MPI_INT8_T;
    case DType::kU8:
      return MPI_UINT8_T;
    case DType::kI32:
      return MPI_INT32_T;
    case DType::kU32:
      return MPI_UINT32_T;
    case DType::kI64:
      return MPI_INT64_T;
    case DType::kU64:
      return MPI_UINT64_T;
    case DType::kF32:
      return MPI_FLOAT;
    case DType::kF64:
      return MPI_DOUBLE;
    case DType::kF16:
      return half_types().f16;
    case DType::kBF16:
      return half_types().bf16;
    // MPI defines no 8-bit float: the native collectives refuse these (native_mpi.cc); own
    // algorithms move them as bytes and reduce with collbench's kernels.
    case DType::kF8E4M3:
    case DType::kF8E5M2:
      return MPI_DATATYPE_NULL;
  }
  return MPI_DATATYPE_NULL;
}

MPI_Datatype mpi_copy_datatype(DType t) {
  switch (dtype_size(t)) {
    case 1:
      return MPI_UINT8_T;
    case 2:
      return MPI_UINT16_T;
    case 4:
      return MPI_UINT32_T;
    default:
      return MPI_UINT64_T;
  }
}

MPI_Op mpi_op(DType t, ReduceOp op) {
  const auto i = static_cast<std::size_t>(op);
  if (t == DType::kF16) return half_types().f16_ops[i];
  if (t == DType::kBF16) return half_types().bf16_ops[i];
  switch (op) {
    case ReduceOp::kSum:
      return MPI_SUM;
    case ReduceOp::kProd:
      return MPI_PROD;
    case ReduceOp::kMin:
      return MPI_MIN;
    case ReduceOp::kMax:
      return MPI_MAX;
  }
  return MPI_OP_NULL;
}

}  // namespace collbench::collectives
