#include "bench/cli_checks.h"

#include <CLI/CLI.hpp>
#include <algorithm>

#include "collectives/error.h"

namespace collbench::bench {
namespace {

std::size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diag = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

}  // namespace

std::string subcommand_error(const CLI::App& app, const std::vector<std::string>& args) {
  const CLI::App* at = &app;
  std::string path = "collbench";
  for (const std::string& word : args) {
    const auto subs = at->get_subcommands([](const CLI::App*) { return true; });
    // Only commands made of subcommands (collbench, model, workload) expect one here; a leaf
    // command's bare words are its values, which CLI11 checks.
    if (subs.empty()) return "";
    if (word.empty() || word[0] == '-') {
      if (word == "--") return "";
      continue;  // the parents' flags take no values (--list, --help, --version)
    }
    const CLI::App* next = nullptr;
    std::string best;
    std::size_t best_d = 3;  // suggest only names within two edits, or that start with it
    std::string known;
    for (const CLI::App* s : subs) {
      if (s->get_name() == word) next = s;
      known += (known.empty() ? "" : ", ") + s->get_name();
      const std::size_t d =
          s->get_name().rfind(word, 0) == 0 ? 0 : edit_distance(word, s->get_name());
      if (d < best_d) {
        best_d = d;
        best = s->get_name();
      }
    }
    if (!next) {
      return "unknown subcommand '" + word + "' of " + path +
             (best.empty() ? " (known: " + known + ")" : " (did you mean " + best + "?)");
    }
    path += " " + word;
    at = next;
  }
  return "";
}

void check_no_empty_values(const CLI::App& app) {
  for (const CLI::App* sub : app.get_subcommands()) {
    for (const CLI::Option* opt : sub->get_options()) {
      if (opt->get_expected_min() == 0 && opt->get_items_expected_min() == 0) continue;  // flags
      for (const std::string& v : opt->results())
        if (v.find_first_not_of(" \t") == std::string::npos)
          throw UsageError(opt->get_name(opt->get_positional(), false) +
                           ": empty value (leave the option out for its default)");
    }
    check_no_empty_values(*sub);
  }
}

}  // namespace collbench::bench
