// Input files the user names (fabrics, workloads, result files, selection tables, topologies):
// read whole, with every way the path can be wrong turned into one UsageError that names the
// file, what it was expected to be, and the reason.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace collbench {

// The file's bytes. Throws UsageError when the path is missing, a folder, not a regular file,
// unreadable, or larger than `max_bytes`. `what` says what the file should be ("fabric file").
std::string read_input_file(const std::string& path, const std::string& what,
                            std::size_t max_bytes = std::size_t{4} << 30);

// read_input_file, then JSON. Syntax errors become "PATH: not valid JSON (...)" with the
// position, without the library's exception tag; an empty file says so.
nlohmann::json read_input_json(const std::string& path, const std::string& what);

// A JSON library message without its "[json.exception....] " tag, on one line.
std::string json_error_text(const std::exception& e);

}  // namespace collbench
