// Helpers shared by the fuzz entry points (tests/fuzz/fuzz_*.cc).
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "tests/fuzz/targets.h"

namespace collbench::fuzz {

inline void require(bool ok, const std::string& what) {
  if (!ok) throw PropertyViolation(what);
}

// A rejection must say something: the CLI prints it as the one line of its exit-2 message.
inline void check_message(const std::exception& e) {
  require(std::string_view(e.what()).find_first_not_of(" \t") != std::string_view::npos,
          "an error with an empty message");
}

// A rejected file must be named in the message: the user may have passed several.
inline void check_named(const std::exception& e, const std::string& path) {
  check_message(e);
  require(std::string_view(e.what()).find(path) != std::string_view::npos,
          std::string("an error that does not name the file: ") + e.what());
}

inline std::string_view as_text(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

inline std::vector<std::string> split(std::string_view text, char sep) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (true) {
    const std::size_t end = text.find(sep, start);
    out.emplace_back(text.substr(start, end == std::string_view::npos ? end : end - start));
    if (end == std::string_view::npos) return out;
    start = end + 1;
  }
}

// A file the loaders that take a path can read: one per process, rewritten for every input.
inline const std::string& scratch_file() {
  static const std::string path = [] {
    const char* dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    std::string p = std::string(dir) + "/collbench-fuzz-XXXXXX";
    const int fd = mkstemp(p.data());
    if (fd < 0) throw std::runtime_error("fuzz: cannot create a scratch file in " + p);
    close(fd);
    std::atexit([] { unlink(scratch_file().c_str()); });
    return p;
  }();
  return path;
}

inline void write_scratch(std::string_view text) {
  std::FILE* f = std::fopen(scratch_file().c_str(), "wb");
  if (!f) throw std::runtime_error("fuzz: cannot write " + scratch_file());
  if (!text.empty()) std::fwrite(text.data(), 1, text.size(), f);
  std::fclose(f);
}

}  // namespace collbench::fuzz
