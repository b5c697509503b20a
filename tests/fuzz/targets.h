// Fuzz entry points, one per parser. Each takes arbitrary bytes, runs the parser the way the
// collbench command that reads such input does, and checks what the parser promises:
//   - bad input ends in collbench::UsageError (or CLI11's ParseError for the command line) with a
//     non-empty message: the CLI prints it as one line and exits 2;
//   - what parses also survives the next step the command takes (validation, a sweep, a fit, a
//     prediction) and, where the format has a writer, a write/read round trip.
// Anything else escapes: another exception type (main() would die on it), a broken promise
// (PropertyViolation), or what the sanitizers report.
//
// Defined in fuzz_bench.cc (size, cli), fuzz_model.cc (result, fabric, workload, calibration) and
// fuzz_selection.cc. The libFuzzer executables (tests/fuzz/CMakeLists.txt, clang) call one entry
// each; the unit test test_fuzz_regressions (replay_test.cc) replays the seed corpora and every
// input kept in tests/fuzz/regressions/<target>/ through the same functions, in every build.
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace collbench::fuzz {

// Thrown when a parser accepted or rejected input in a way it promises not to.
class PropertyViolation : public std::logic_error {
 public:
  explicit PropertyViolation(const std::string& what) : std::logic_error(what) {}
};

// bench::parse_size, format_size round trip, and the size sweep the runner derives from
// "-b MIN -e MAX -f FACTOR -i STEP -T TIMEOUT" (input "MIN;MAX;FACTOR;STEP;TIMEOUT") after
// validate_options, as the runner uses them.
void fuzz_size(const std::uint8_t* data, std::size_t size);
// The collbench command line (one argument per line), parsed as main() does; nothing is run.
void fuzz_cli(const std::uint8_t* data, std::size_t size);
// A result file as `collbench model fit/validate` reads it (model::load_result_files), then
// the fit and the held-out validation on whatever records it accepted.
void fuzz_result(const std::uint8_t* data, std::size_t size);
// A fabric file (model::fabric_from_json), its round trip, and predictions on it.
void fuzz_fabric(const std::uint8_t* data, std::size_t size);
// A training configuration as `collbench model step --config` reads and uses it.
void fuzz_workload(const std::uint8_t* data, std::size_t size);
// A calibration file as `collbench model validate --published FILE` reads it, every case then
// predicted and the error bands derived.
void fuzz_calibration(const std::uint8_t* data, std::size_t size);
// A selection table for `--algo auto` (collectives::SelectionTable::parse) and its round trip.
void fuzz_selection(const std::uint8_t* data, std::size_t size);

}  // namespace collbench::fuzz
