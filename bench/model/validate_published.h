// `collbench model validate --published [FILES]`: every case of the calibration record (built in,
// or FILES) predicted, per case published / predicted / error, median and worst error overall,
// per regime and train vs test, the targets, and the error band each regime gives projections.
// --baseline FILE exits 1 when a median or worst error got worse than the figures in FILE;
// --baseline-out FILE writes the current figures as such a file.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "bench/model/common.h"

namespace collbench::bench::model_cli {

struct PublishedArgs {
  std::vector<std::string> files;  // empty: the record collbench was built with
  std::string baseline;
  std::string baseline_out;
  std::string json_path;
};

int run_validate_published(const PublishedArgs& a);

}  // namespace collbench::bench::model_cli
