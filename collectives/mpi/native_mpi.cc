// The MPI library's own collectives, measured like every other algorithm.
//
// MPI_Allreduce, MPI_Alltoall, MPI_Reduce_scatter_block and MPI_Allgather with the library's
// internal algorithm selection. Counts above the transport's max_count (INT_MAX by default) are
// split: all-reduce into consecutive chunks; all-to-all and all-gather into column slices of
// every block, described by a resized contiguous datatype so that one call moves the same slice
// of every block. A reduce-scatter block above max_count is refused (MPI's predefined reduction
// operators do not apply to such a slice type). In place, MPI_Reduce_scatter_block leaves the
// result at the start of the buffer; it is moved to block r (NCCL's layout, which collbench's
// check uses), a copy of n/p bytes inside the timed call.
// fp8: MPI has no 8-bit float, so the two reductions refuse it; the others move it as bytes.
// Cost: whatever the library picks (Open MPI's tuned component: by size and ranks).
#include "collectives/mpi/native_mpi.h"

#include <algorithm>
#include <cstring>
#include <memory>
#include <vector>

#include "collectives/algorithm.h"
#include "collectives/mpi/mpi_transport.h"
#include "collectives/registry.h"

namespace collbench::collectives {
namespace {

// Native MPI algorithms are made by the MPI backend, which hands them only its own transports.
MpiTransport* as_mpi(Transport* t) {
  return t && t->name() == "mpi" ? static_cast<MpiTransport*>(t) : nullptr;
}

// Resized slice datatypes, created on first use of a (len, extent) pair and kept: with a fixed
// size the timed loop reuses them, so only the first (untimed, warm-up) call creates any.
class SliceTypes {
 public:
  SliceTypes() = default;
  SliceTypes(const SliceTypes&) = delete;
  SliceTypes& operator=(const SliceTypes&) = delete;
  ~SliceTypes() { clear(); }
  MPI_Datatype get(MPI_Datatype elem, std::size_t len, std::size_t extent) {
    for (const auto& s : slices_)
      if (s.len == len && s.extent == extent) return s.type;
    MPI_Datatype contig, resized;
    CB_MPI_CHECK(MPI_Type_contiguous(static_cast<int>(len), elem, &contig));
    CB_MPI_CHECK(MPI_Type_create_resized(contig, 0, static_cast<MPI_Aint>(extent), &resized));
    CB_MPI_CHECK(MPI_Type_commit(&resized));
    MPI_Type_free(&contig);
    slices_.push_back({len, extent, resized});
    return resized;
  }
  void clear() {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized)
      for (auto& s : slices_) MPI_Type_free(&s.type);
    slices_.clear();
  }

 private:
  struct Slice {
    std::size_t len, extent;
    MPI_Datatype type;
  };
  std::vector<Slice> slices_;
};

class MpiAllreduce final : public Algorithm {
 public:
  std::string_view name() const override { return "MPI_Allreduce"; }
  Collective collective() const override { return Collective::kAllReduce; }
  std::optional<std::string> supports(const AlgorithmContext& ctx,
                                      const CollectiveArgs& args) const override {
    if (!as_mpi(ctx.transport)) return "MPI_Allreduce needs the MPI backend";
    if (dtype_is_fp8(args.dtype))
      return "MPI_Allreduce has no fp8 type (MPI defines none); use an own algorithm, e.g. "
             "--algo ring";
    return std::nullopt;
  }
  void prepare(const AlgorithmContext& ctx, const CollectiveArgs& max_args) override {
    mpi_ = as_mpi(ctx.transport);
    type_ = mpi_datatype(max_args.dtype);
    op_ = mpi_op(max_args.dtype, max_args.op);
  }
  Status run(const void* send, void* recv, const CollectiveArgs& a, Deadline) override {
    const std::size_t es = dtype_size(a.dtype);
    const std::size_t chunk = mpi_->max_count();
    std::size_t done = 0;
    do {
      const std::size_t n = std::min(a.count - done, chunk);
      void* r = static_cast<std::byte*>(recv) + done * es;
      const void* s = a.in_place ? MPI_IN_PLACE : static_cast<const std::byte*>(send) + done * es;
      CB_MPI_CHECK(MPI_Allreduce(s, r, static_cast<int>(n), type_, op_, mpi_->comm()));
      done += n;
    } while (done < a.count);
    return Status::Ok();
  }

 private:
  MpiTransport* mpi_ = nullptr;
  MPI_Datatype type_ = MPI_DATATYPE_NULL;
  MPI_Op op_ = MPI_OP_NULL;
};

class MpiAlltoall final : public Algorithm {
 public:
  std::string_view name() const override { return "MPI_Alltoall"; }
  Collective collective() const override { return Collective::kAllToAll; }
  std::optional<std::string> supports(const AlgorithmContext& ctx,
                                      const CollectiveArgs&) const override {
    if (!as_mpi(ctx.transport)) return "MPI_Alltoall needs the MPI backend";
    return std::nullopt;
  }
  void prepare(const AlgorithmContext& ctx, const CollectiveArgs& max_args) override {
    mpi_ = as_mpi(ctx.transport);
    elem_ = mpi_copy_datatype(max_args.dtype);
    slices_.clear();
  }
  Status run(const void* send, void* recv, const CollectiveArgs& a, Deadline) override {
    const int p = mpi_->size();
    const std::size_t block = a.count / static_cast<std::size_t>(p);
    const std::size_t es = dtype_size(a.dtype);
    const std::size_t chunk = mpi_->max_count();
    if (block <= chunk) {
      const void* s = a.in_place ? MPI_IN_PLACE : send;
      CB_MPI_CHECK(MPI_Alltoall(s, static_cast<int>(block), elem_, recv, static_cast<int>(block),
                                elem_, mpi_->comm()));
      return Status::Ok();
    }
    // Slice every block into columns of at most `chunk` elements; one MPI_Alltoall per slice.
    for (std::size_t off = 0; off < block; off += chunk) {
      const std::size_t len = std::min(chunk, block - off);
      MPI_Datatype t = slices_.get(elem_, len, block * es);
      const void* s = a.in_place ? MPI_IN_PLACE : static_cast<const std::byte*>(send) + off * es;
      CB_MPI_CHECK(
          MPI_Alltoall(s, 1, t, static_cast<std::byte*>(recv) + off * es, 1, t, mpi_->comm()));
    }
    return Status::Ok();
  }

 private:
  MpiTransport* mpi_ = nullptr;
  MPI_Datatype elem_ = MPI_DATATYPE_NULL;
  SliceTypes slices_;
};

class MpiReduceScatter final : public Algorithm {
 public:
  std::string_view name() const override { return "MPI_Reduce_scatter_block"; }
  Collective collective() const override { return Collective::kReduceScatter; }
  std::optional<std::string> supports(const AlgorithmContext& ctx,
                                      const CollectiveArgs& a) const override {
    const MpiTransport* mpi = as_mpi(ctx.transport);
    if (!mpi) return "MPI_Reduce_scatter_block needs the MPI backend";
    if (dtype_is_fp8(a.dtype))
      return "MPI_Reduce_scatter_block has no fp8 type (MPI defines none); use an own algorithm, "
             "e.g. --algo ring";
    const std::size_t block = a.count / static_cast<std::size_t>(mpi->size());
    if (block > mpi->max_count())
      return "MPI_Reduce_scatter_block: a block of " + std::to_string(block) +
             " elements is above the largest count of one MPI call (" +
             std::to_string(mpi->max_count()) + ")";
    return std::nullopt;
  }
  void prepare(const AlgorithmContext& ctx, const CollectiveArgs& max_args) override {
    mpi_ = as_mpi(ctx.transport);
    type_ = mpi_datatype(max_args.dtype);
    op_ = mpi_op(max_args.dtype, max_args.op);
  }
  Status run(const void* send, void* recv, const CollectiveArgs& a, Deadline) override {
    const int p = mpi_->size(), r = mpi_->rank();
    const std::size_t block = a.count / static_cast<std::size_t>(p);
    if (!a.in_place) {
      CB_MPI_CHECK(
          MPI_Reduce_scatter_block(send, recv, static_cast<int>(block), type_, op_, mpi_->comm()));
      return Status::Ok();
    }
    CB_MPI_CHECK(MPI_Reduce_scatter_block(MPI_IN_PLACE, recv, static_cast<int>(block), type_, op_,
                                          mpi_->comm()));
    const std::size_t bb = block * dtype_size(a.dtype);
    if (r != 0 && bb) std::memcpy(static_cast<std::byte*>(recv) + r * bb, recv, bb);
    return Status::Ok();
  }

 private:
  MpiTransport* mpi_ = nullptr;
  MPI_Datatype type_ = MPI_DATATYPE_NULL;
  MPI_Op op_ = MPI_OP_NULL;
};

class MpiAllgather final : public Algorithm {
 public:
  std::string_view name() const override { return "MPI_Allgather"; }
  Collective collective() const override { return Collective::kAllGather; }
  std::optional<std::string> supports(const AlgorithmContext& ctx,
                                      const CollectiveArgs&) const override {
    if (!as_mpi(ctx.transport)) return "MPI_Allgather needs the MPI backend";
    return std::nullopt;
  }
  void prepare(const AlgorithmContext& ctx, const CollectiveArgs& max_args) override {
    mpi_ = as_mpi(ctx.transport);
    elem_ = mpi_copy_datatype(max_args.dtype);
    slices_.clear();
  }
  Status run(const void* send, void* recv, const CollectiveArgs& a, Deadline) override {
    const int p = mpi_->size();
    const std::size_t block = a.count / static_cast<std::size_t>(p);
    const std::size_t es = dtype_size(a.dtype);
    const std::size_t chunk = mpi_->max_count();
    const bool in_place = a.in_place;
    if (block <= chunk) {
      CB_MPI_CHECK(MPI_Allgather(in_place ? MPI_IN_PLACE : send, static_cast<int>(block), elem_,
                                 recv, static_cast<int>(block), elem_, mpi_->comm()));
      return Status::Ok();
    }
    // Column slices of every block, as MpiAlltoall; in place each rank's slice is read from its
    // own block of the receive buffer.
    for (std::size_t off = 0; off < block; off += chunk) {
      const std::size_t len = std::min(chunk, block - off);
      MPI_Datatype t = slices_.get(elem_, len, block * es);
      const void* s = in_place ? MPI_IN_PLACE : static_cast<const std::byte*>(send) + off * es;
      CB_MPI_CHECK(MPI_Allgather(s, static_cast<int>(len), elem_,
                                 static_cast<std::byte*>(recv) + off * es, 1, t, mpi_->comm()));
    }
    return Status::Ok();
  }

 private:
  MpiTransport* mpi_ = nullptr;
  MPI_Datatype elem_ = MPI_DATATYPE_NULL;
  SliceTypes slices_;
};

}  // namespace

std::unique_ptr<Algorithm> make_mpi_native(AlgorithmId id) {
  switch (id) {
    case AlgorithmId::kMpiAllreduce:
      return std::make_unique<MpiAllreduce>();
    case AlgorithmId::kMpiAlltoall:
      return std::make_unique<MpiAlltoall>();
    case AlgorithmId::kMpiReduceScatter:
      return std::make_unique<MpiReduceScatter>();
    case AlgorithmId::kMpiAllgather:
      return std::make_unique<MpiAllgather>();
    default:
      return nullptr;
  }
}

}  // namespace collbench::collectives
