// Files collbench writes (results, fabrics, projections): checked before any work starts, and
// replaced atomically so that a reader sees the old file or the new one, never a partial one.
#pragma once

#include <string>

namespace collbench::bench {

// Writes `content` to `path` through a temporary file in the same folder, fsync and a rename.
// Throws Error on failure.
void write_file_atomic(const std::string& path, const std::string& content);
// Throws UsageError if `path` cannot be created (checked before measuring starts).
void check_writable(const std::string& path, const std::string& flag);

}  // namespace collbench::bench
