#include "collectives/transport.h"

#include <cstdlib>
#include <cstring>
#include <string>

namespace collbench::collectives {

Buffer allocate_host(std::size_t bytes) {
  constexpr std::size_t kAlign = 4096;
  // Never null, even for zero bytes: algorithms may form pointers into empty buffers.
  const std::size_t rounded = bytes == 0 ? kAlign : (bytes + kAlign - 1) / kAlign * kAlign;
  void* p = std::aligned_alloc(kAlign, rounded);
  if (!p) throw Error("cannot allocate " + std::to_string(bytes) + " bytes of host memory");
  // Fault every page in now: a large allocation is fresh zero-fill-on-demand memory, and the first
  // touch of each page (about 0.25 us per 4 KiB page) would otherwise land in whichever timed
  // iteration first reaches it -- the first sizes of a run and the far end of the rotation region.
  std::memset(p, 0, rounded);
  return Buffer(p, bytes, [](void* q) { std::free(q); });
}

}  // namespace collbench::collectives
