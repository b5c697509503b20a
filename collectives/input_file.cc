#include "collectives/input_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "collectives/error.h"

namespace collbench {

std::string read_input_file(const std::string& path, const std::string& what,
                            std::size_t max_bytes) {
  if (path.empty()) throw UsageError(what + ": empty file name");
  // O_NONBLOCK: opening a FIFO would otherwise wait for a writer; it is refused below.
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) throw UsageError(path + ": cannot open " + what + " (" + std::strerror(errno) + ")");
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    const int e = errno;
    close(fd);
    throw UsageError(path + ": cannot read " + what + " (" + std::strerror(e) + ")");
  }
  if (S_ISDIR(st.st_mode)) {
    close(fd);
    throw UsageError(path + ": is a folder; expected a " + what);
  }
  if (!S_ISREG(st.st_mode)) {
    // A FIFO or a device could block or never end; every input collbench reads is a file.
    close(fd);
    throw UsageError(path + ": is not a regular file; expected a " + what);
  }
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  if (static_cast<std::size_t>(st.st_size) > max_bytes) {
    close(fd);
    throw UsageError(path + ": " + std::to_string(st.st_size) + " bytes is too large for a " +
                     what);
  }
  std::string data;
  data.reserve(static_cast<std::size_t>(st.st_size));
  char buf[1 << 16];
  while (true) {
    const ssize_t n = read(fd, buf, sizeof buf);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      const int e = errno;
      close(fd);
      throw UsageError(path + ": cannot read " + what + " (" + std::strerror(e) + ")");
    }
    data.append(buf, static_cast<std::size_t>(n));
    if (data.size() > max_bytes) {
      close(fd);
      throw UsageError(path + ": too large for a " + what);
    }
  }
  close(fd);
  return data;
}

std::string json_error_text(const std::exception& e) {
  std::string s = e.what();
  if (s.rfind("[json.exception.", 0) == 0) {
    const auto end = s.find("] ");
    if (end != std::string::npos) s.erase(0, end + 2);
  }
  for (char& c : s)
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  return s;
}

nlohmann::json read_input_json(const std::string& path, const std::string& what) {
  const std::string text = read_input_file(path, what);
  if (text.find_first_not_of(" \t\r\n") == std::string::npos)
    throw UsageError(path + ": is empty; expected a " + what + " (JSON)");
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {  // syntax, or a number out of range
    throw UsageError(path + ": not valid JSON (" + json_error_text(e) + ")");
  }
}

}  // namespace collbench
