// Where a result came from: versions, command line, hosts, times, environment.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "bench/options.h"
#include "collectives/host.h"
#include "topology/hostmap.h"

namespace collbench::bench {

// "0.1.0 (git 1a2b3c4d5e6f)"
std::string version_string();
std::string iso_time_now();
std::string cpu_model();
std::string mpi_library_version();  // needs MPI initialised
using collectives::local_hostname;

// What the kernel of this node does to memory in the background while a run measures: DAMON
// monitors (kdamonds on, and their schemes' actions; the damon_reclaim and damon_lru_sort
// modules), automatic NUMA balancing, KSM, transparent huge pages, and whether it is a virtual
// machine. Read from /sys and /proc under `root` ("" is the real root; tests pass a fake tree);
// a file that cannot be read is left out.
nlohmann::json memory_background(const std::string& root = "");
// The warning a run prints when memory_background() shows an active DAMON monitor, which on the
// VM this was developed on made points of one sweep 2-10x apart; "" when there is none.
std::string memory_background_warning(const nlohmann::json& background);

// Provenance object of the result file (schema v1). Collective-free: the caller passes the
// gathered host map.
nlohmann::json make_provenance(const Options& o, const topology::HostMap& hosts,
                               const std::string& backend);
// The `options` object of the result file.
nlohmann::json options_json(const Options& o);

}  // namespace collbench::bench
