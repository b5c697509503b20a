// The MPI library's own collectives, measured like every other algorithm.
//
// MPI_Allreduce / MPI_Alltoall with the library's internal algorithm selection. Counts above
// the transport's max_count (INT_MAX by default) are split: all-reduce into consecutive chunks,
// all-to-all into column slices of every block, described by a resized contiguous datatype so
// that one MPI_Alltoall moves the same slice of every block. Cost: whatever the library picks
// (OpenMPI's tuned component: recursive doubling / ring / Rabenseifner by size and ranks).
// fp8: MPI has no 8-bit float, so MPI_Allreduce refuses it; MPI_Alltoall moves it as bytes.
#include <algorithm>
#include <memory>
#include <vector>

#include "collectives/algorithm.h"
#include "collectives/mpi_transport.h"
#include "collectives/native_mpi.h"

namespace collbench::collectives {
namespace {

MpiTransport* as_mpi(Transport* t) { return dynamic_cast<MpiTransport*>(t); }

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
  ~MpiAlltoall() override { free_types(); }
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
    free_types();
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
      MPI_Datatype t = slice_type(len, block * es);
      const void* s =
          a.in_place ? MPI_IN_PLACE : static_cast<const std::byte*>(send) + off * es;
      CB_MPI_CHECK(MPI_Alltoall(s, 1, t, static_cast<std::byte*>(recv) + off * es, 1, t,
                                mpi_->comm()));
    }
    return Status::Ok();
  }

 private:
  // Datatypes are created on first use of a (len, extent) pair and kept: with a fixed size the
  // timed loop reuses them, so only the first (untimed, warm-up) call creates any.
  MPI_Datatype slice_type(std::size_t len, std::size_t extent) {
    for (const auto& s : slices_)
      if (s.len == len && s.extent == extent) return s.type;
    MPI_Datatype contig, resized;
    CB_MPI_CHECK(MPI_Type_contiguous(static_cast<int>(len), elem_, &contig));
    CB_MPI_CHECK(MPI_Type_create_resized(contig, 0, static_cast<MPI_Aint>(extent), &resized));
    CB_MPI_CHECK(MPI_Type_commit(&resized));
    MPI_Type_free(&contig);
    slices_.push_back({len, extent, resized});
    return resized;
  }
  void free_types() {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized)
      for (auto& s : slices_) MPI_Type_free(&s.type);
    slices_.clear();
  }

  struct Slice {
    std::size_t len, extent;
    MPI_Datatype type;
  };
  MpiTransport* mpi_ = nullptr;
  MPI_Datatype elem_ = MPI_DATATYPE_NULL;
  std::vector<Slice> slices_;
};

}  // namespace

std::unique_ptr<Algorithm> make_mpi_allreduce() { return std::make_unique<MpiAllreduce>(); }
std::unique_ptr<Algorithm> make_mpi_alltoall() { return std::make_unique<MpiAlltoall>(); }

}  // namespace collbench::collectives
