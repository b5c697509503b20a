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

// Provenance object of the result file (schema v1). Collective-free: the caller passes the
// gathered host map.
nlohmann::json make_provenance(const Options& o, const topology::HostMap& hosts,
                               const std::string& backend);
// The `options` object of the result file.
nlohmann::json options_json(const Options& o);

}  // namespace collbench::bench
