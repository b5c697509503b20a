// NCCL's own collectives, measured like every other algorithm (name `nccl`).
//
// All-reduce: one ncclAllReduce on the transport's stream (in place when send == recv, which
// NCCL supports natively). NCCL picks ring, tree, NVLS or CollNet and a protocol (LL, LL128,
// Simple) per size from its own model (src/graph/tuning.cc); ring moves 2(p-1)/p n bytes per
// rank, like collbench's ring. Cost: NCCL's estimate of itself is recorded beside the
// measurement when ncclGroupSimulateEnd exists (Record::nccl_estimate_us).
// All-to-all: one ncclAlltoAll (when nccl.h declares it; otherwise the same exchange as one group
// of p sends and p receives of n/p bytes), moving (p-1)/p n bytes per rank. In place, the input
// is first copied to scratch (n bytes, one device copy): NCCL's all-to-all reads every block of
// the send buffer while writing the receive buffer.
#include "collectives/native_nccl.h"

#include <string>

#include "collectives/nccl_transport.h"

namespace collbench::collectives {
namespace {

NcclTransport* as_nccl(Transport* t) { return dynamic_cast<NcclTransport*>(t); }

std::optional<std::string> check_nccl(const AlgorithmContext& ctx, const CollectiveArgs& args,
                                      Collective want) {
  if (!as_nccl(ctx.transport)) return "nccl needs the NCCL backend (--backend nccl)";
  if (args.collective != want)
    return "nccl: this is the " + std::string(collective_name(want)) + " algorithm";
  // All-to-all moves bytes (ncclUint8), so only the reduction needs NCCL to know the type.
  if (want == Collective::kAllReduce && !nccl_datatype(args.dtype))
    return "nccl: NCCL " + std::to_string(NCCL_MAJOR) + "." + std::to_string(NCCL_MINOR) +
           " has no type for " + std::string(dtype_name(args.dtype)) +
           (dtype_is_fp8(args.dtype) ? " (ncclFloat8e4m3/e5m2 need NCCL 2.24 or later)" : "");
  if (want == Collective::kAllToAll &&
      args.count % static_cast<std::size_t>(ctx.transport->size()) != 0)
    return "nccl: all-to-all count " + std::to_string(args.count) + " is not a multiple of " +
           std::to_string(ctx.transport->size()) + " ranks";
  return std::nullopt;
}

Status failed(NcclTransport& t, const char* call, ncclResult_t r) {
  t.note_error(std::string(call) + " failed: " + nccl_error_text(r));
  return Status::Failure(t.deferred_error());
}

// The native NCCL algorithms: what nccl_estimate_us needs from them.
class NcclNative : public Algorithm {
 public:
  // Enqueues the algorithm's NCCL call(s) for `args` on the last run's buffers, inside a group
  // the caller opened. False when there is nothing to enqueue.
  virtual bool enqueue_for_estimate(const CollectiveArgs& args) = 0;
};

class NcclAllreduce final : public NcclNative {
 public:
  std::string_view name() const override { return "nccl"; }
  Collective collective() const override { return Collective::kAllReduce; }
  std::optional<std::string> supports(const AlgorithmContext& ctx,
                                      const CollectiveArgs& args) const override {
    return check_nccl(ctx, args, Collective::kAllReduce);
  }
  void prepare(const AlgorithmContext& ctx, const CollectiveArgs& max_args) override {
    if (auto why = supports(ctx, max_args)) throw Error(*why);
    t_ = as_nccl(ctx.transport);
  }
  Status run(const void* send, void* recv, const CollectiveArgs& a, Deadline) override {
    if (!t_) return Status::Failure("nccl: run() before prepare()");
    const void* s = a.in_place ? recv : send;
    last_send_ = s;
    last_recv_ = recv;
    if (a.count == 0) return Status::Ok();
    const ncclResult_t r = ncclAllReduce(s, recv, a.count, *nccl_datatype(a.dtype),
                                         nccl_redop(a.op), t_->comm(), t_->stream());
    return r == ncclSuccess ? Status::Ok() : failed(*t_, "ncclAllReduce", r);
  }
  bool enqueue_for_estimate(const CollectiveArgs& a) override {
    if (!t_ || !last_recv_ || a.count == 0) return false;
    return ncclAllReduce(last_send_, last_recv_, a.count, *nccl_datatype(a.dtype), nccl_redop(a.op),
                         t_->comm(), t_->stream()) == ncclSuccess;
  }

 private:
  NcclTransport* t_ = nullptr;
  const void* last_send_ = nullptr;
  void* last_recv_ = nullptr;
};

class NcclAlltoall final : public NcclNative {
 public:
  std::string_view name() const override { return "nccl"; }
  Collective collective() const override { return Collective::kAllToAll; }
  std::optional<std::string> supports(const AlgorithmContext& ctx,
                                      const CollectiveArgs& args) const override {
    return check_nccl(ctx, args, Collective::kAllToAll);
  }
  void prepare(const AlgorithmContext& ctx, const CollectiveArgs& max_args) override {
    if (auto why = supports(ctx, max_args)) throw Error(*why);
    t_ = as_nccl(ctx.transport);
    scratch_ = t_->allocate(max_args.bytes());
  }
  Status run(const void* send, void* recv, const CollectiveArgs& a, Deadline) override {
    if (!t_) return Status::Failure("nccl: run() before prepare()");
    if (a.bytes() > scratch_.size())
      return Status::Failure("nccl: run() with " + std::to_string(a.bytes()) +
                             " bytes, prepared for " + std::to_string(scratch_.size()));
    const void* s = send;
    if (a.in_place) {
      t_->copy(scratch_.data(), recv, a.bytes());
      s = scratch_.data();
    }
    last_send_ = s;
    last_recv_ = recv;
    if (a.count == 0) return Status::Ok();
    const ncclResult_t r = enqueue(s, recv, a);
    return r == ncclSuccess ? Status::Ok() : failed(*t_, "ncclAlltoAll", r);
  }
  bool enqueue_for_estimate(const CollectiveArgs& a) override {
    if (!t_ || !last_recv_ || a.count == 0) return false;
    return enqueue(last_send_, last_recv_, a) == ncclSuccess;
  }

 private:
  ncclResult_t enqueue(const void* s, void* r, const CollectiveArgs& a) {
    const std::size_t p = static_cast<std::size_t>(t_->size());
    const std::size_t block = a.bytes() / p;
#if COLLBENCH_NCCL_HAS_ALLTOALL
    return ncclAlltoAll(s, r, block, ncclUint8, t_->comm(), t_->stream());
#else
    ncclResult_t rc = ncclGroupStart();
    if (rc != ncclSuccess) return rc;
    for (std::size_t j = 0; j < p && rc == ncclSuccess; ++j) {
      rc = ncclSend(static_cast<const std::byte*>(s) + j * block, block, ncclUint8,
                    static_cast<int>(j), t_->comm(), t_->stream());
      if (rc == ncclSuccess)
        rc = ncclRecv(static_cast<std::byte*>(r) + j * block, block, ncclUint8, static_cast<int>(j),
                      t_->comm(), t_->stream());
    }
    const ncclResult_t end = ncclGroupEnd();
    return rc != ncclSuccess ? rc : end;
#endif
  }

  NcclTransport* t_ = nullptr;
  Buffer scratch_;
  const void* last_send_ = nullptr;
  void* last_recv_ = nullptr;
};

}  // namespace

std::unique_ptr<Algorithm> make_nccl_allreduce() { return std::make_unique<NcclAllreduce>(); }
std::unique_ptr<Algorithm> make_nccl_alltoall() { return std::make_unique<NcclAlltoall>(); }

std::optional<double> nccl_estimate_us(Algorithm& algo, const CollectiveArgs& args) {
#if COLLBENCH_NCCL_HAS_SIMULATE
  auto* native = dynamic_cast<NcclNative*>(&algo);
  if (!native) return std::nullopt;
  ncclSimInfo_t info = NCCL_SIM_INFO_INITIALIZER;
  if (ncclGroupStart() != ncclSuccess) return std::nullopt;
  const bool queued = native->enqueue_for_estimate(args);
  // The group is closed in every case; with nothing queued it simulates nothing.
  const ncclResult_t r = ncclGroupSimulateEnd(&info);
  if (!queued || r != ncclSuccess || !(info.estimatedTime >= 0)) return std::nullopt;
  return static_cast<double>(info.estimatedTime);
#else
  (void)algo;
  (void)args;
  return std::nullopt;
#endif
}

}  // namespace collbench::collectives
