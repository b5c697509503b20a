// This process's host, as every layer records it (provenance, topology, error messages).
#pragma once

#include <string>

namespace collbench::collectives {

std::string local_hostname();

}  // namespace collbench::collectives
