// One libFuzzer executable per entry point of targets.h; COLLBENCH_FUZZ_ENTRY names it.
#include <cstddef>
#include <cstdint>

#include "tests/fuzz/targets.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  collbench::fuzz::COLLBENCH_FUZZ_ENTRY(data, size);
  return 0;
}
