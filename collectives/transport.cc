#include "collectives/transport.h"

#include <cstdlib>
#include <string>

namespace collbench::collectives {

Buffer allocate_host(std::size_t bytes) {
  constexpr std::size_t kAlign = 4096;
  // Never null, even for zero bytes: algorithms may form pointers into empty buffers.
  const std::size_t rounded = bytes == 0 ? kAlign : (bytes + kAlign - 1) / kAlign * kAlign;
  void* p = std::aligned_alloc(kAlign, rounded);
  if (!p) throw Error("cannot allocate " + std::to_string(bytes) + " bytes of host memory");
  return Buffer(p, bytes, [](void* q) { std::free(q); });
}

}  // namespace collbench::collectives
