#include "collectives/host.h"

#include <unistd.h>

namespace collbench::collectives {

std::string local_hostname() {
  char host[256] = {0};
  gethostname(host, sizeof host - 1);
  return host;
}

}  // namespace collbench::collectives
