#include "collectives/nccl/nccl_transport.h"

#include <cstdlib>
#include <cstring>
#include <exception>

namespace collbench::collectives {

bool default_check_p2p_sizes() {
  const char* env = std::getenv("COLLBENCH_CHECK_P2P_SIZES");
  if (env && *env) return std::strcmp(env, "0") != 0;
#ifdef NDEBUG
  return false;
#else
  return true;
#endif
}

NcclTransport::NcclTransport(std::shared_ptr<CommSupervisor> sup, CommHandle comm,
                             std::shared_ptr<DeviceOps> device, bool root, bool check_sizes)
    : sup_(std::move(sup)),
      comm_(comm),
      device_(std::move(device)),
      root_(root),
      check_sizes_(check_sizes),
      uncaught_at_start_(std::uncaught_exceptions()) {
  const Status st = sup_->call(comm_, "ncclCommUserRank/ncclCommCount", Deadline::Never(),
                               [&] { return sup_->ops().rank_and_size(comm_, &rank_, &size_); });
  if (!st.ok()) throw CommError(st.message, false);
  pending_.reserve(1024);
}

NcclTransport::~NcclTransport() {
  // While an exception unwinds the peers are not finalizing with us: abort instead of waiting.
  if (std::uncaught_exceptions() > uncaught_at_start_) {
    sup_->abort_all("an error ended the run while its communicators were open");
  } else if (root_) {
    if (!closed_) sup_->abort_all("the NCCL transport was destroyed without close()");
  } else {
    // A split its owner is done with; after a failure the supervisor has aborted it already, and
    // a failure here is kept by the supervisor and returned by the next call on the rank set.
    (void)sup_->release(comm_, Deadline::In(sup_->timeout_s()));
  }
}

Status NcclTransport::close(Deadline deadline) {
  closed_ = true;
  return sup_->close(deadline);
}

void NcclTransport::note_error(const std::string& what) {
  if (deferred_error_.empty()) deferred_error_ = what;
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

// Each operation first sends its size (8 bytes) the same way, in a group of its own, and the
// sizes received are compared with the sizes posted. The host waits for the exchange, so this is
// a debugging mode (never inside a graph capture, where the host cannot wait).
Status NcclTransport::exchange_sizes(Deadline deadline) {
  const std::size_t n = pending_.size();
  sizes_out_.assign(n, 0);
  sizes_in_.assign(n, ~std::uint64_t{0});
  for (std::size_t i = 0; i < n; ++i) sizes_out_[i] = pending_[i].bytes;
  const std::size_t bytes = 2 * n * sizeof(std::uint64_t);
  if (sizes_device_.size() < bytes) sizes_device_ = device_->allocate(bytes);
  auto* out = reinterpret_cast<std::uint64_t*>(sizes_device_.data());
  std::uint64_t* in = out + n;
  if (Status st = device_->upload(out, sizes_out_.data(), n * sizeof(std::uint64_t)); !st.ok())
    return st;
  std::vector<P2POp> ops(n);
  for (std::size_t i = 0; i < n; ++i)
    ops[i] = {pending_[i].send, pending_[i].send ? static_cast<void*>(out + i) : in + i,
              sizeof(std::uint64_t), pending_[i].peer};
  if (Status st = sup_->group(comm_, ops, device_->stream(), deadline); !st.ok()) return st;
  if (Status st = device_->download(sizes_in_.data(), in, n * sizeof(std::uint64_t)); !st.ok())
    return st;
  if (Status st = synchronize(deadline); !st.ok()) return st;
  for (std::size_t i = 0; i < n; ++i) {
    const P2POp& op = pending_[i];
    if (op.send || sizes_in_[i] == op.bytes) continue;
    const std::string msg =
        "send/recv size mismatch: rank " + std::to_string(rank_) + " posted a receive of " +
        std::to_string(op.bytes) + " bytes from rank " + std::to_string(op.peer) + ", which sent " +
        std::to_string(sizes_in_[i]) + " bytes (NCCL needs a receive's count to equal the send's)";
    sup_->abort_all(msg);
    return Status::Failure(msg);
  }
  return Status::Ok();
}

Status NcclTransport::wait_all(Deadline deadline) {
  if (pending_.empty()) return deferred_status();
  Status st = check_sizes_ && !device_->capturing() ? exchange_sizes(deadline) : Status::Ok();
  if (st.ok()) st = sup_->group(comm_, pending_, device_->stream(), deadline);
  pending_.clear();
  if (!st.ok()) {
    note_error(st.message);
    return st;
  }
  return deferred_status();
}

void NcclTransport::copy(void* dst, const void* src, std::size_t bytes) {
  if (bytes == 0 || dst == src) return;
  if (Status st = device_->copy(dst, src, bytes); !st.ok()) note_error(st.message);
}

void NcclTransport::reduce(void* inout, const void* in, std::size_t count, DType t, ReduceOp op) {
  if (Status st = device_->reduce(inout, in, count, t, op); !st.ok()) note_error(st.message);
}

Status NcclTransport::synchronize(Deadline deadline) {
  DeviceOps& dev = *device_;
  const Status st = sup_->wait([&dev] { return dev.query(); }, deadline, "the GPU work of a rank");
  if (!st.ok()) {
    note_error(st.message);
    return st;
  }
  return deferred_status();
}

Buffer NcclTransport::allocate(std::size_t bytes) { return device_->allocate(bytes); }

std::unique_ptr<Transport> NcclTransport::split(int color, int key) {
  const CommHandle sub = sup_->split(comm_, color, key);
  if (!sub) return nullptr;
  return std::make_unique<NcclTransport>(sup_, sub, device_, false, check_sizes_);
}

}  // namespace collbench::collectives
