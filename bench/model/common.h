// What the `collbench model` subcommands share: error handling, output files, flags that name
// profiles and GPU counts, the site options, and the fabric table. One file per subcommand
// (bench/model/*_command.cc) registers itself through add_model_commands.
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "bench/cli_fwd.h"

namespace CLI {
class Option;
}  // namespace CLI
#include "topology/model/error_band.h"
#include "topology/model/fabric.h"
#include "topology/model/profiles.h"
#include "topology/model/site.h"

namespace collbench::bench::model_cli {

// When the option is given, refuses a value that is not a finite number above `lo` (at least
// `lo` when `inclusive`); CLI11's message names the flag and the value. An option left out keeps
// its default, which may mean "not set" (0 or -1): given explicitly, such a value is an error.
CLI::Option* number_check(CLI::Option* opt, double lo, bool inclusive = false);
// Refuses output paths that cannot be written (and two flags naming one file) before any work:
// (flag, path) pairs, empty paths skipped. Throws UsageError.
void check_outputs(const std::vector<std::pair<std::string, std::string>>& outputs);
// Runs fn; a UsageError is printed as one line and gives 2, any other error 1.
int guarded(const char* command, const std::function<int()>& fn);
// Writes j to path (atomically) and says so; nothing when path is empty.
void write_json(const std::string& path, const nlohmann::json& j);
void save_fabric(const model::Fabric& f, const std::string& path);
std::vector<std::string> split(const std::string& s, char sep);
// "h100,b200" or "all".
std::vector<const model::Profile*> parse_profiles(const std::string& text, const char* flag);
std::int64_t parse_count(const std::string& s, const char* flag);
// "8:262144" (powers of two between, and the end) or "8,16,1024".
std::vector<std::int64_t> parse_gpus(const std::string& text);
void add_site_options(CLI::App* cmd, model::SiteOptions& o);
nlohmann::json site_options_json(const model::SiteOptions& o);
std::string fabric_table(const model::Fabric& f);

// The error band of a projected figure: the calibration record's range for the figure's regime
// (error_band.h), computed once per command, outside any projection loop. `domain_gpus` is the
// fabric's scale-up domain; `members_per_domain` how many of the group share one.
model::PointBand band_of(model::Collective c, std::int64_t ranks, std::int64_t members_per_domain,
                         std::int64_t domain_gpus);
// "-18/+6%", with "*" when extrapolated beyond the regime's largest calibrated GPU count; "-"
// where no case covers the regime.
std::string band_cell(const model::PointBand& b);
// {"regime", "cases", "low", "high", "extrapolated", "calibrated_up_to_gpus"}.
nlohmann::json band_json(const model::PointBand& b);
// A regime's band from the calibration record; the largest GPU count it covers under gpus_key.
nlohmann::json regime_band_json(const model::RegimeBand& b, const char* gpus_key);
// The record the bands come from and what they mean, for a command's JSON.
nlohmann::json calibration_json();

// One line when `gpus` is more than the power budget's site holds ("h100: 262,144 GPUs need
// 429 MW at 1.637 kW all-in per GPU; the 300 MW site holds 183,248"), else empty.
std::string over_budget(const model::Profile& p, const model::SiteOptions& o, std::int64_t gpus);

// The subcommands, one per file.
using Action = std::function<int()>;
void add_profiles_command(CLI::App* model, Action& action);
void add_site_command(CLI::App* model, Action& action);
void add_predict_command(CLI::App* model, Action& action);
void add_fit_command(CLI::App* model, Action& action);
void add_validate_command(CLI::App* model, Action& action);
void add_step_command(CLI::App* model, Action& action);

}  // namespace collbench::bench::model_cli
