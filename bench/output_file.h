// Files collbench writes (results, fabrics, projections): checked before any work starts, and
// replaced atomically so that a reader sees the old file or the new one, never a partial one,
// and no temporary file is left behind, whether the write fails, is interrupted by a signal or
// the process is killed.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace collbench::bench {

// Writes `content` to `path` (through a symbolic link to its target) via an anonymous temporary
// file in the same folder and a rename. Throws Error on failure; refuses to replace a read-only
// file or anything but a regular file. `durable`: fsync before the rename, so that the file also
// survives a crash of the machine; without it the file survives the process (the rewrites after
// every row, and the last write of a run ending on a signal, which the launcher kills a second
// later: an fsync on a busy disk can take longer).
void write_file_atomic(const std::string& path, const std::string& content, bool durable = true);

// Throws UsageError when `path` cannot be written: empty, a folder, not a regular file,
// read-only, or in a folder that does not exist or cannot be written. Checked before any work.
void check_writable(const std::string& path, const std::string& flag);

// The part of check_writable that looks only at an existing `path` (a folder, not a regular
// file, read-only): for checks on every rank before MPI starts, where the folder may exist on
// rank 0's node only.
void check_replaceable(const std::string& path, const std::string& flag);

// Throws UsageError when two of the (flag, path) outputs name the same file; empty paths are
// skipped.
void check_distinct_outputs(const std::vector<std::pair<std::string, std::string>>& outputs);

// Async-signal-safe: removes the named temporary files of writes in flight (signal handlers).
void remove_temp_files_in_flight();

}  // namespace collbench::bench
