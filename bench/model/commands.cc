// `collbench model`: the cost model's subcommands (no MPI). Each lives in its own file.
#include "bench/model/commands.h"

#include <CLI/CLI.hpp>

#include "bench/model/common.h"

namespace collbench::bench {

void add_model_commands(CLI::App& app, std::function<int()>& action) {
  CLI::App* model = app.add_subcommand(
      "model", "cost model: fit, site, predict, step, validate, profiles (no MPI)");
  model->require_subcommand(1);
  model_cli::add_profiles_command(model, action);
  model_cli::add_site_command(model, action);
  model_cli::add_predict_command(model, action);
  model_cli::add_fit_command(model, action);
  model_cli::add_validate_command(model, action);
  model_cli::add_step_command(model, action);
}

}  // namespace collbench::bench
