// NCCL's own collectives, measured like every other algorithm (name `nccl`).
//
// All-reduce: one ncclAllReduce on the transport's stream (in place when send == recv, which
// NCCL supports natively). NCCL picks ring, tree, NVLS or CollNet and a protocol (LL, LL128,
// Simple) per size from its own model (src/graph/tuning.cc); ring moves 2(p-1)/p n bytes per
// rank, like collbench's ring. Cost: NCCL's estimate of itself is recorded beside the
// measurement when ncclGroupSimulateEnd exists (Record::nccl_estimate_us).
// Reduce-scatter / all-gather: one ncclReduceScatter / ncclAllGather (recvcount / sendcount one
// block), moving (p-1)/p n bytes per rank; in place with NCCL's layout (the reduced block at
// block r of the buffer, the contributed block read from block r), which is collbench's.
// All-to-all: one ncclAlltoAll (when nccl.h declares it; otherwise the same exchange as one group
// of p sends and p receives of n/p bytes), moving (p-1)/p n bytes per rank. In place, the input
// is first copied to scratch (n bytes, one device copy): NCCL's all-to-all reads every block of
// the send buffer while writing the receive buffer.
#include "collectives/nccl/native_nccl.h"

#include <string>

#include "collectives/nccl/nccl_api.h"
#include "collectives/nccl/nccl_transport.h"

namespace collbench::collectives {
namespace {

// Native NCCL algorithms run on the NCCL backend's transports only.
NcclTransport* as_nccl(Transport* t) {
  return t && t->name() == "nccl" ? static_cast<NcclTransport*>(t) : nullptr;
}

std::optional<std::string> check_nccl(const AlgorithmContext& ctx, const CollectiveArgs& args,
                                      Collective want) {
  if (!as_nccl(ctx.transport)) return "nccl needs the NCCL backend (--backend nccl)";
  if (args.collective != want)
    return "nccl: this is the " + std::string(collective_name(want)) + " algorithm";
  if (!nccl_datatype(args.dtype))
    return "NCCL has no type for " + std::string(dtype_name(args.dtype));
  if (traits(want).blocks && args.count % static_cast<std::size_t>(ctx.transport->size()) != 0)
    return "nccl: " + std::string(traits(want).title) + " count " + std::to_string(args.count) +
           " is not a multiple of " + std::to_string(ctx.transport->size()) + " ranks";
  return std::nullopt;
}

ncclComm_t comm_of(NcclTransport& t) { return static_cast<ncclComm_t>(t.comm()); }
cudaStream_t stream_of(NcclTransport& t) { return static_cast<cudaStream_t>(t.stream()); }

// One NCCL call on t's communicator through its supervisor: made under the supervisor's lock,
// waited for while NCCL carries it out in the background (non-blocking communicators), and any
// error aborts every communicator of the rank set.
template <class F>
Status issue(NcclTransport& t, const char* call, Deadline deadline, F&& f) {
  const Status st = t.supervisor().call(t.comm(), call, deadline, [&] { return nccl_result(f()); });
  if (!st.ok()) t.note_error(st.message);
  return st;
}

// The native NCCL algorithms: what nccl_estimate_us needs from them.
class NcclNative : public Algorithm {
 public:
  // Enqueues the algorithm's NCCL call(s) for `args` on the last run's buffers, inside a group
  // the caller opened. False when there is nothing to enqueue.
  virtual bool enqueue_for_estimate(const CollectiveArgs& args) = 0;
  // The transport of the last prepare (nullptr before).
  virtual NcclTransport* transport() const = 0;
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
  Status run(const void* send, void* recv, const CollectiveArgs& a, Deadline deadline) override {
    if (!t_) return Status::Failure("nccl: run() before prepare()");
    const void* s = a.in_place ? recv : send;
    last_send_ = s;
    last_recv_ = recv;
    if (a.count == 0) return Status::Ok();
    return issue(*t_, "ncclAllReduce", deadline, [&] {
      return ncclAllReduce(s, recv, a.count, *nccl_datatype(a.dtype), nccl_redop(a.op),
                           comm_of(*t_), stream_of(*t_));
    });
  }
  bool enqueue_for_estimate(const CollectiveArgs& a) override {
    if (!t_ || !last_recv_ || a.count == 0) return false;
    return ncclAllReduce(last_send_, last_recv_, a.count, *nccl_datatype(a.dtype), nccl_redop(a.op),
                         comm_of(*t_), stream_of(*t_)) == ncclSuccess;
  }
  NcclTransport* transport() const override { return t_; }

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
  Status run(const void* send, void* recv, const CollectiveArgs& a, Deadline deadline) override {
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
    return issue(*t_, "ncclAlltoAll", deadline, [&] { return enqueue(s, recv, a); });
  }
  bool enqueue_for_estimate(const CollectiveArgs& a) override {
    if (!t_ || !last_recv_ || a.count == 0) return false;
    return enqueue(last_send_, last_recv_, a) == ncclSuccess;
  }
  NcclTransport* transport() const override { return t_; }

 private:
  ncclResult_t enqueue(const void* s, void* r, const CollectiveArgs& a) {
    const std::size_t p = static_cast<std::size_t>(t_->size());
    const std::size_t block = a.bytes() / p;
#if COLLBENCH_NCCL_HAS_ALLTOALL
    return ncclAlltoAll(s, r, block, ncclUint8, comm_of(*t_), stream_of(*t_));
#else
    ncclResult_t rc = ncclGroupStart();
    if (rc != ncclSuccess) return rc;
    for (std::size_t j = 0; j < p && rc == ncclSuccess; ++j) {
      rc = ncclSend(static_cast<const std::byte*>(s) + j * block, block, ncclUint8,
                    static_cast<int>(j), comm_of(*t_), stream_of(*t_));
      if (rc == ncclSuccess)
        rc = ncclRecv(static_cast<std::byte*>(r) + j * block, block, ncclUint8, static_cast<int>(j),
                      comm_of(*t_), stream_of(*t_));
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

// Reduce-scatter and all-gather: one call each; in place NCCL's layout is collbench's.
template <Collective C>
class NcclBlocks final : public NcclNative {
 public:
  std::string_view name() const override { return "nccl"; }
  Collective collective() const override { return C; }
  std::optional<std::string> supports(const AlgorithmContext& ctx,
                                      const CollectiveArgs& args) const override {
    return check_nccl(ctx, args, C);
  }
  void prepare(const AlgorithmContext& ctx, const CollectiveArgs& max_args) override {
    if (auto why = supports(ctx, max_args)) throw Error(*why);
    t_ = as_nccl(ctx.transport);
  }
  Status run(const void* send, void* recv, const CollectiveArgs& a, Deadline deadline) override {
    if (!t_) return Status::Failure("nccl: run() before prepare()");
    const std::size_t p = static_cast<std::size_t>(t_->size());
    const std::size_t block = a.count / p;
    const std::size_t off = static_cast<std::size_t>(t_->rank()) * block * dtype_size(a.dtype);
    // In place: reduce-scatter's result and all-gather's contribution are block r of recv.
    if constexpr (C == Collective::kReduceScatter) {
      last_send_ = a.in_place ? recv : send;
      last_recv_ = a.in_place ? static_cast<std::byte*>(recv) + off : recv;
    } else {
      last_send_ = a.in_place ? static_cast<const std::byte*>(recv) + off : send;
      last_recv_ = recv;
    }
    if (a.count == 0) return Status::Ok();
    return issue(*t_, C == Collective::kReduceScatter ? "ncclReduceScatter" : "ncclAllGather",
                 deadline, [&] { return enqueue(a); });
  }
  bool enqueue_for_estimate(const CollectiveArgs& a) override {
    if (!t_ || !last_recv_ || a.count == 0) return false;
    return enqueue(a) == ncclSuccess;
  }
  NcclTransport* transport() const override { return t_; }

 private:
  ncclResult_t enqueue(const CollectiveArgs& a) {
    const std::size_t block = a.count / static_cast<std::size_t>(t_->size());
    if constexpr (C == Collective::kReduceScatter)
      return ncclReduceScatter(last_send_, last_recv_, block, *nccl_datatype(a.dtype),
                               nccl_redop(a.op), comm_of(*t_), stream_of(*t_));
    else
      return ncclAllGather(last_send_, last_recv_, block, *nccl_datatype(a.dtype), comm_of(*t_),
                           stream_of(*t_));
  }

  NcclTransport* t_ = nullptr;
  const void* last_send_ = nullptr;
  void* last_recv_ = nullptr;
};

}  // namespace

std::unique_ptr<Algorithm> make_nccl_native(AlgorithmId id) {
  switch (id) {
    case AlgorithmId::kNcclAllreduce:
      return std::make_unique<NcclAllreduce>();
    case AlgorithmId::kNcclAlltoall:
      return std::make_unique<NcclAlltoall>();
    case AlgorithmId::kNcclReduceScatter:
      return std::make_unique<NcclBlocks<Collective::kReduceScatter>>();
    case AlgorithmId::kNcclAllgather:
      return std::make_unique<NcclBlocks<Collective::kAllGather>>();
    default:
      return nullptr;
  }
}

std::optional<double> nccl_estimate_us(Algorithm& algo, const CollectiveArgs& args) {
#if COLLBENCH_NCCL_HAS_SIMULATE
  // Every native NCCL algorithm is named "nccl" and derives from NcclNative; no own algorithm is.
  if (algo.name() != "nccl") return std::nullopt;
  auto* native = static_cast<NcclNative*>(&algo);
  NcclTransport* t = native->transport();
  if (!t) return std::nullopt;
  ncclSimInfo_t info = NCCL_SIM_INFO_INITIALIZER;
  bool queued = false;
  // Through the supervisor like every NCCL call: under its lock, and settled when NCCL says the
  // (non-blocking) communicator is still busy.
  const Status st = t->supervisor().call(
      t->comm(), "ncclGroupSimulateEnd", Deadline::In(t->supervisor().timeout_s()),
      [&] {
        const ncclResult_t start = ncclGroupStart();
        if (start != ncclSuccess) return nccl_result(start);
        queued = native->enqueue_for_estimate(args);
        // The group is closed in every case; with nothing queued it simulates nothing.
        return nccl_result(ncclGroupSimulateEnd(&info));
      },
      /*fatal=*/false);
  if (!queued || !st.ok() || !(info.estimatedTime >= 0)) return std::nullopt;
  return static_cast<double>(info.estimatedTime);
#else
  (void)algo;
  (void)args;
  return std::nullopt;
#endif
}

}  // namespace collbench::collectives
