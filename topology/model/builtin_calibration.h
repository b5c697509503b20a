// The calibration record's files as collbench was built with them: results/reference/published/
// (every *.json but the schema) compiled in by topology/model/CMakeLists.txt, so that a binary
// copied to a cluster still knows its error bands.
#pragma once

#include <vector>

namespace collbench::model {

struct EmbeddedFile {
  const char* name;  // file name in results/reference/published/
  const char* text;  // its JSON
};
std::vector<EmbeddedFile> builtin_calibration_files();

}  // namespace collbench::model
