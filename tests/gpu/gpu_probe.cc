// Exit 0 when a GPU is visible (prints how many), 77 with the reason when none is: the gate of
// the `gpu` tests (ctest SKIP_RETURN_CODE 77) and of the no-GPU tests, which skip on a GPU.
#include <cstdio>

#include "collectives/nccl/nccl_backend.h"

int main() {
  int visible = 0;
  if (auto why = collbench::collectives::gpu_visibility_problem(&visible)) {
    std::printf("no GPU visible: %s\n", why->c_str());
    return 77;
  }
  std::printf("%d GPU(s) visible\n", visible);
  return 0;
}
