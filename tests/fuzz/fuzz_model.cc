// Fuzz entry points of the model's inputs: result files (fit), fabrics, training workloads, the
// calibration record.
#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "collectives/error.h"
#include "tests/fuzz/fuzz_util.h"
#include "topology/model/calibration.h"
#include "topology/model/cost_model.h"
#include "topology/model/error_band.h"
#include "topology/model/fabric.h"
#include "topology/model/fit.h"
#include "topology/model/profiles.h"
#include "topology/model/site.h"
#include "topology/model/workload.h"

namespace collbench::fuzz {

using nlohmann::json;

void fuzz_result(const std::uint8_t* data, std::size_t size) {
  write_scratch(as_text(data, size));
  const std::string& path = scratch_file();
  model::LoadedRecords loaded;
  try {
    loaded = model::load_result_files({path}, "p50");
  } catch (const UsageError& e) {
    check_named(e, path);
    return;
  }
  for (const auto& r : loaded.records) {
    require(r.ranks >= 2 && r.nodes >= 1 && r.ranks_per_node >= 1, "a record with bad ranks kept");
    require(r.bytes > 0 && r.time_s > 0 && std::isfinite(r.time_s), "a record with bad data kept");
  }
  if (loaded.records.empty()) return;
  // What `model fit` and `model validate` do next with the records.
  try {
    const model::FitResult fit = model::fit_records(loaded.records);
    model::fabric_to_json(fit.fabric);
    for (const auto& r : loaded.records) model::predict_record(fit, r);
  } catch (const UsageError& e) {
    check_message(e);
  }
  try {
    model::validate_records(loaded.records);
  } catch (const UsageError& e) {
    check_message(e);
  }
  // `model validate --bands 4K,8M --plain`: each band fitted on its own, the textbook model.
  try {
    model::ValidationOptions vo;
    vo.bands = {4096, 8 << 20};
    vo.fit.local_terms = false;
    model::validate_records(loaded.records, vo);
  } catch (const UsageError& e) {
    check_message(e);
  }
  // `model fit --eager-limit 4K` on the records with repeats merged (the default of fit), and
  // the fabric it writes read back.
  try {
    auto merged = loaded.records;
    model::merge_repeats(merged);
    require(!merged.empty() && merged.size() <= loaded.records.size(), "merge lost every record");
    model::FitOptions fo;
    fo.eager_limit = 4096;
    const model::FitResult fit = model::fit_records(merged, fo);
    model::fabric_from_json(model::fabric_to_json(fit.fabric), "fitted");
    for (const auto& r : merged) model::predict_record(fit, r);
  } catch (const UsageError& e) {
    check_message(e);
  }
}

void fuzz_fabric(const std::uint8_t* data, std::size_t size) {
  // As `model predict --fabric FILE` reads it.
  write_scratch(as_text(data, size));
  model::Fabric f;
  try {
    f = model::load_fabric(scratch_file());
    f.validate();
  } catch (const UsageError& e) {
    check_named(e, scratch_file());
    return;
  }
  // The written form reads back to the same fabric.
  const json once = model::fabric_to_json(f);
  const json twice = model::fabric_to_json(model::fabric_from_json(once, "round trip"));
  require(once == twice, "fabric round trip changed " + once.dump() + " into " + twice.dump());

  model::ModelNet net;
  try {
    net = model::make_net(f);
  } catch (const UsageError& e) {
    check_message(e);
    return;
  }
  std::vector<std::int64_t> ranks{1, 2, 3, 8, 1000, std::int64_t{1} << 20};
  if (f.gpus > 0) ranks.push_back(f.gpus);
  for (const auto& t : f.tiers)
    if (t.group_size > 0) ranks.push_back(t.group_size);
  for (double bytes : {0.0, 1.0, 4096.0, 1e9}) {
    for (std::int64_t n : ranks) {
      for (const auto& a : model::model_algorithms()) {
        const double t = model::predict_time(net, a.algo, bytes, n);
        require(!(t < 0), "a negative predicted time for " + std::string(a.name));
      }
      for (auto c : {model::Collective::kAllReduce, model::Collective::kAllToAll})
        model::best_algorithm(net, c, bytes, n);
      const double p2p = model::predict_p2p(net, n, bytes);
      require(!(p2p < 0), "a negative predicted point-to-point time");
    }
  }
}

void fuzz_workload(const std::uint8_t* data, std::size_t size) {
  // As `model step --config FILE` reads it.
  write_scratch(as_text(data, size));
  model::Workload w;
  try {
    w = model::load_workload(scratch_file());
  } catch (const UsageError& e) {
    check_named(e, scratch_file());
    return;
  }
  const json once = model::workload_to_json(w);
  const json twice = model::workload_to_json(model::workload_from_json(once, "round trip"));
  require(once == twice, "workload round trip changed " + once.dump() + " into " + twice.dump());

  // What `collbench model step --config FILE` computes per hardware profile (without printing).
  for (const auto& p : model::builtin_profiles()) {
    try {
      model::SiteOptions so;
      so.power_mw = w.power_mw;
      const model::Site site = model::plan_site(p, so);
      const model::Workload r = model::resolve_workload(w, site.gpus);
      const std::int64_t fabric_gpus = std::max(site.gpus, r.parallel.gpus);
      const model::ModelNet net = model::make_net(model::site_fabric(p, fabric_gpus, so));
      model::time_step(r, net);
      const std::int64_t replica = r.parallel.tp * r.parallel.cp * r.parallel.pp;
      std::int64_t fill_dp = site.gpus / replica;
      if (r.parallel.ep > 1) fill_dp = (fill_dp / r.parallel.ep) * r.parallel.ep;
      std::vector<std::int64_t> dps;
      const std::int64_t start = std::min<std::int64_t>(w.parallel.dp_fill ? 128 : r.parallel.dp,
                                                        std::max<std::int64_t>(fill_dp, 1));
      for (std::int64_t d = start; d < fill_dp; d *= 2) dps.push_back(d);
      if (fill_dp >= 1) dps.push_back(fill_dp);
      const model::ModelNet site_net =
          model::make_net(model::site_fabric(p, std::max(site.gpus, fabric_gpus), so));
      for (std::int64_t d : dps) {
        model::Workload wd = r;
        wd.parallel.dp = d;
        wd.parallel.dp_fill = false;
        wd.parallel.gpus = 0;
        wd.model.global_batch = 0;
        wd = model::resolve_workload(wd);
        model::time_step(wd, site_net);
      }
    } catch (const UsageError& e) {
      check_message(e);
    }
  }
}

void fuzz_calibration(const std::uint8_t* data, std::size_t size) {
  // As `model validate --published FILE` reads it: every rule of the record's README, then each
  // case predicted on its fabric and the error bands.
  write_scratch(as_text(data, size));
  model::CalibrationRecord record;
  try {
    record = model::load_calibration({scratch_file()});
  } catch (const UsageError& e) {
    check_named(e, scratch_file());
    return;
  }
  std::size_t tests = 0;
  for (const auto& c : record.cases) {
    require(c.gpus >= 2 && c.value > 0 && c.model_bytes > 0, "a case with bad numbers kept");
    require(c.system.domains == (c.gpus + c.system.gpus_per_domain - 1) / c.system.gpus_per_domain,
            "a case whose domains do not follow from its GPUs kept");
    tests += c.test ? 1 : 0;
  }
  require(!record.cases.empty() && tests * 5 >= record.cases.size(), "the test share not kept");
  try {
    const model::CalibrationReport rep = model::evaluate_calibration(record);
    for (const auto& r : rep.results)
      require(std::isfinite(r.error) && r.predicted > 0,
              "a case predicted as " + std::to_string(r.predicted));
    for (const auto& b : rep.bands) require(b.lo <= b.hi, "a band upside down");
    model::baseline_figures(rep);
  } catch (const UsageError& e) {
    check_message(e);
  }
}

}  // namespace collbench::fuzz
