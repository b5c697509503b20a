// What every own algorithm shares (not part of the public interface): the registry identity, the
// common checks, the life cycle (prepare sizes everything once; run refuses what was not
// prepared), tags, and byte-offset helpers. An algorithm derives from OwnAlgorithm and writes
// only what is its own: refuse() (extra conditions), setup() (scratch, sub-transports) and
// execute() (the collective).
#pragma once

#include <cstddef>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

#include "collectives/algorithm.h"
#include "collectives/registry.h"

namespace collbench::collectives::algo {

// One tag per algorithm: consecutive collectives of different algorithms on the same transport
// can never match each other's messages. Composed algorithms pass their own tag to the pieces.
enum Tag : int {
  kTagRing = 0x100,
  kTagRecursiveDoubling = 0x110,
  kTagRabenseifner = 0x120,
  kTagBinomial = 0x130,
  kTagLinear = 0x140,
  kTagPairwise = 0x150,
  kTagBruck = 0x160,
  kTagHierarchical = 0x170,
  kTagRingReduceScatter = 0x200,
  kTagRingAllgather = 0x210,
  kTagRecursiveHalving = 0x220,
  kTagDoublingAllgather = 0x230,
  kTagBruckAllgather = 0x240,
  kTagPairwiseReduceScatter = 0x250,
};

inline std::byte* at(void* base, std::size_t elems, std::size_t elem_size) {
  return static_cast<std::byte*>(base) + elems * elem_size;
}
inline const std::byte* at(const void* base, std::size_t elems, std::size_t elem_size) {
  return static_cast<const std::byte*>(base) + elems * elem_size;
}

// The checks every own algorithm makes before anything else: a transport, the right collective,
// a byte size that fits, whole blocks where the collective has them, an operator that reduces.
std::optional<std::string> check_common(std::string_view name, Collective want,
                                        const AlgorithmContext& ctx, const CollectiveArgs& args);

// run() against what prepare() sized: a larger count or element would overrun the scratch.
Status check_prepared(std::string_view name, const CollectiveArgs& args, std::size_t prepared_bytes,
                      std::size_t prepared_elem_size, bool prepared);

class OwnAlgorithm : public Algorithm {
 public:
  explicit OwnAlgorithm(AlgorithmId id) : id_(id) {}
  std::string_view name() const final { return algorithm_info(id_).name; }
  Collective collective() const final { return algorithm_info(id_).collective; }
  std::optional<std::string> supports(const AlgorithmContext& ctx,
                                      const CollectiveArgs& args) const final;
  void prepare(const AlgorithmContext& ctx, const CollectiveArgs& max) final;
  Status run(const void* send, void* recv, const CollectiveArgs& a, Deadline deadline) final;

 protected:
  // Conditions beyond check_common (node layout, rank counts); nullopt when it can run.
  virtual std::optional<std::string> refuse(const AlgorithmContext&, const CollectiveArgs&) const {
    return std::nullopt;
  }
  // Everything the largest call needs, allocated once (may communicate: splits).
  virtual void setup(const AlgorithmContext& ctx, const CollectiveArgs& max) = 0;
  // One collective of count > 0 elements. No allocation, no logging, no I/O.
  virtual Status execute(const void* send, void* recv, const CollectiveArgs& a,
                         Deadline deadline) = 0;

  Transport& tr() const { return *t_; }
  std::size_t es() const { return es_; }
  std::size_t max_bytes() const { return max_bytes_; }

 private:
  AlgorithmId id_;
  Transport* t_ = nullptr;
  std::size_t es_ = 1;
  std::size_t max_bytes_ = 0;
  bool prepared_ = false;
};

}  // namespace collbench::collectives::algo
