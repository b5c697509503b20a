// The calibration record: collective measurements others have published (nccl-tests tables,
// vendors' benchmark pages, DeepEP's figures), each with the system it ran on and how the model
// reproduces it (results/reference/published/README.md describes every field and rule).
//
// The loader enforces every rule of that README: the schema, every field present and nothing
// else, enumerations, units (GB/s or us, by metric), gpus = nodes x gpus_per_node, domains and
// regime following from the system, NICs stated for a case beyond one domain (without them no
// fabric holds its GPUs), the model's domain and NIC rate equal to the system's, unique ids and
// measurements across files, the train/test role by the fixed hash rule, and at least a fifth of
// the cases for testing. A file that breaks one is refused with one line naming the file, the
// case and the field (UsageError).
//
// The record collbench was built with is compiled in (builtin_calibration()); files given on the
// command line replace it.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "collectives/collective.h"

namespace collbench::model {

using collectives::Collective;

// Where a case ran, by its system: all GPUs in one scale-up domain; several domains of at most
// 35 GPUs (8-GPU HGX nodes); several rack-scale domains (NVL72: 36 GPUs or more).
enum class Regime { kOneDomain, kMultiDomain, kMultiRack };
const char* regime_name(Regime r);  // "one_domain", "multi_domain", "multi_rack"
inline constexpr std::int64_t kRackScaleGpus = 36;

enum class Metric { kBusbw, kBandwidth, kTime };
// What the model's figure is compared with: busbw, bytes / time (for `bandwidth` cases, in the
// source's own byte count), or the time itself.
enum class Compare { kBusbw, kAlgbw, kTime };

struct CaseSystem {
  std::string gpu;  // h100, h200, b200, gb200, gb300, mi300x, h800
  std::string gpu_model, fabric, software;
  std::int64_t gpus_per_node = 0, gpus_per_domain = 0, domains = 0, nodes = 0;
  std::int64_t nics_per_node = 0;
  double nic_gbps = 0;  // per NIC, Gb/s; 0 = not stated
  bool in_switch_reduction = false;
  bool network_in_switch_reduction = false;
};

// The model's settings for a case: the profile's site fabric at the case's GPU count, with
// these changes.
struct CaseOverrides {
  std::optional<std::int64_t> scaleup_gpus;  // tier-0 block
  std::optional<double> scaleup_gbps;        // NVLink per GPU, one way
  std::optional<double> nic_gbps;            // network GB/s per GPU, one way
  std::optional<bool> in_switch;
};

struct CalibrationCase {
  std::string id;
  std::string file;  // the file it was read from (its name only for the built-in record)
  int index = 0;     // position in that file's `cases`
  std::string title, url, date, kind, quote;
  CaseSystem system;
  std::int64_t gpus = 0;
  Regime regime = Regime::kOneDomain;
  Collective collective = Collective::kAllReduce;
  std::string algorithm, algorithm_basis, protocol, placement, assessment;
  double bytes = 0;
  bool bytes_stated = true;
  Metric metric = Metric::kBusbw;
  double value = 0;
  std::string unit;        // "GB/s" or "us"
  std::string convention;  // how the source counts bytes (metric bandwidth)
  bool test = false;       // role
  std::string sets_constant;
  std::string notes;
  // model
  std::string profile;
  Collective model_collective = Collective::kAllReduce;
  std::string model_algorithm;  // a model algorithm name, or "best"
  double model_bytes = 0;
  Compare compare = Compare::kBusbw;
  CaseOverrides overrides;
  // NVLink bytes per byte that crosses the network when tokens are forwarded to several GPUs of
  // the destination node (DeepEP's dispatch: distinct destination ranks / distinct nodes per
  // token), from the case's workload; 1 = uniform all-to-all.
  double fanout = 1;
};

struct CalibrationRecord {
  std::vector<CalibrationCase> cases;
  std::vector<std::string> files;
};

// The role the fixed rule gives a run: "test" when the first 8 hex digits of
// SHA-256(url without #fragment | gpus | collective) are 0, 1 or 2 modulo 10.
bool test_by_rule(const std::string& url, std::int64_t gpus, const std::string& collective);

// One file's cases (`where` names it in messages); rules across files are checked by
// check_record.
std::vector<CalibrationCase> calibration_cases_from_json(const nlohmann::json& j,
                                                         const std::string& where);
// Unique ids and measurements, and the share of test cases, over all files.
void check_record(const CalibrationRecord& r);
// Reads and checks every file. Throws UsageError naming file, case and field.
CalibrationRecord load_calibration(const std::vector<std::string>& paths);
// The record in results/reference/published/ when collbench was built.
const CalibrationRecord& builtin_calibration();

}  // namespace collbench::model
