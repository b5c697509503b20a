#include "bench/output_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "collectives/error.h"

namespace collbench::bench {
namespace {

namespace fs = std::filesystem;

// Named temporary files that exist right now, for the signal handlers to remove: a fixed table,
// because a handler may neither allocate nor lock.
struct TempSlot {
  std::atomic<int> state{0};  // 0 free, 1 being filled, 2 holds a path
  char path[4096];
};
TempSlot g_temp_slots[8];

int claim_temp_slot(const std::string& path) {
  if (path.size() >= sizeof g_temp_slots[0].path) return -1;
  for (int i = 0; i < 8; ++i) {
    int expected = 0;
    if (!g_temp_slots[i].state.compare_exchange_strong(expected, 1)) continue;
    std::memcpy(g_temp_slots[i].path, path.c_str(), path.size() + 1);
    g_temp_slots[i].state.store(2);
    return i;
  }
  return -1;
}

void release_temp_slot(int slot) {
  if (slot >= 0) g_temp_slots[slot].state.store(0);
}

// Writes all of `content` to fd (and fsync when durable); returns 0 or an errno.
int write_all(int fd, const std::string& content, bool durable) {
  std::size_t off = 0;
  while (off < content.size()) {
    const ssize_t w = ::write(fd, content.data() + off, content.size() - off);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return w < 0 ? errno : EIO;
    off += static_cast<std::size_t>(w);
  }
  return !durable || fsync(fd) == 0 ? 0 : errno;
}

// Why an existing `path` must not be replaced, or "" when it may (or does not exist).
std::string refusal(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return "";
  if (S_ISDIR(st.st_mode)) return "is a directory; give a file name";
  if (!S_ISREG(st.st_mode)) return "is not a regular file";
  // The mode bits as well as access(): root passes access(W_OK) on any file, and a read-only
  // result file is one someone meant to keep.
  if ((st.st_mode & (S_IWUSR | S_IWGRP | S_IWOTH)) == 0 || access(path.c_str(), W_OK) != 0)
    return "is read-only; remove it or choose another name";
  return "";
}

std::string resolve_link(const std::string& path) {
  std::error_code ec;
  if (!fs::is_symlink(path, ec)) return path;
  const fs::path target = fs::weakly_canonical(path, ec);
  return ec ? path : target.string();
}

}  // namespace

void write_file_atomic(const std::string& path_in, const std::string& content, bool durable) {
  const std::string path = resolve_link(path_in);
  if (const std::string why = refusal(path); !why.empty())
    throw Error("cannot write " + path_in + ": it " + why);
  const fs::path target(path);
  const fs::path dir = target.has_parent_path() ? target.parent_path() : fs::path(".");
  const std::string tmp =
      (dir / ("." + target.filename().string() + ".tmp." + std::to_string(getpid()))).string();

  // An anonymous file (O_TMPFILE) vanishes with the process, so a kill during the write leaves
  // nothing; it gets a name only for the instant between linkat and rename.
  int fd = open(dir.c_str(), O_TMPFILE | O_WRONLY | O_CLOEXEC, 0644);
  const bool anonymous = fd >= 0;
  int slot = -1;
  if (!anonymous) {
    slot = claim_temp_slot(tmp);
    fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
      const int e = errno;
      release_temp_slot(slot);
      throw Error("cannot write " + path_in + ": " + std::strerror(e));
    }
  }
  auto fail = [&](int e) {
    close(fd);
    if (!anonymous || slot >= 0) unlink(tmp.c_str());
    release_temp_slot(slot);
    throw Error("cannot write " + path_in + ": " + std::strerror(e));
  };
  if (const int e = write_all(fd, content, durable); e != 0) fail(e);
  if (anonymous) {
    slot = claim_temp_slot(tmp);
    unlink(tmp.c_str());  // a leftover of a process with our pid, killed between link and rename
    const std::string self = "/proc/self/fd/" + std::to_string(fd);
    if (linkat(AT_FDCWD, self.c_str(), AT_FDCWD, tmp.c_str(), AT_SYMLINK_FOLLOW) != 0) {
      const int e = errno;
      release_temp_slot(slot);
      slot = -1;
      close(fd);
      throw Error("cannot write " + path_in + ": " + std::strerror(e));
    }
  }
  close(fd);
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const int e = errno;
    unlink(tmp.c_str());
    release_temp_slot(slot);
    throw Error("cannot write " + path_in + ": " + std::strerror(e));
  }
  release_temp_slot(slot);
}

void check_writable(const std::string& path, const std::string& flag) {
  if (path.empty()) throw UsageError(flag + ": empty file name");
  const std::string real = resolve_link(path);
  if (const std::string why = refusal(real); !why.empty())
    throw UsageError(flag + " " + path + " " + why);
  const fs::path target(real);
  std::error_code ec;
  const fs::path dir = target.has_parent_path() ? target.parent_path() : fs::path(".");
  if (!fs::is_directory(dir, ec))
    throw UsageError(flag + " " + path + ": folder " + dir.string() + " does not exist");
  // Creating a file is what the write will do; access() alone would pass as root on a
  // read-only file system.
  const std::string probe =
      (dir / ("." + target.filename().string() + ".probe." + std::to_string(getpid()))).string();
  const int fd = open(probe.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw UsageError(flag + " " + path + " cannot be written: " + std::strerror(errno));
  close(fd);
  unlink(probe.c_str());
}

void check_replaceable(const std::string& path, const std::string& flag) {
  if (path.empty()) throw UsageError(flag + ": empty file name");
  if (const std::string why = refusal(resolve_link(path)); !why.empty())
    throw UsageError(flag + " " + path + " " + why);
}

void check_distinct_outputs(const std::vector<std::pair<std::string, std::string>>& outputs) {
  std::vector<std::pair<std::string, fs::path>> seen;
  for (const auto& [flag, path] : outputs) {
    if (path.empty()) continue;
    std::error_code ec;
    fs::path p = fs::weakly_canonical(fs::absolute(path, ec), ec);
    if (ec) p = fs::absolute(path);
    for (const auto& [other_flag, other] : seen)
      if (other == p)
        throw UsageError(other_flag + " and " + flag + " name the same file (" + path +
                         "); give each its own");
    seen.emplace_back(flag, p);
  }
}

void remove_temp_files_in_flight() {
  for (auto& s : g_temp_slots)
    if (s.state.load() == 2) unlink(s.path);
}

}  // namespace collbench::bench
