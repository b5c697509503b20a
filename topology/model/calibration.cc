#include "topology/model/calibration.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <set>

#include "collectives/error.h"
#include "collectives/input_file.h"
#include "topology/model/builtin_calibration.h"
#include "topology/model/cost_model.h"
#include "topology/model/profiles.h"
#include "topology/model/sha256.h"

namespace collbench::model {

namespace {

using nlohmann::json;

// Messages name the file, the case and the field: "cases.json: case 'x' (cases[3]): unit: ...".
struct Where {
  std::string file;
  std::string kase;  // "case 'id' (cases[3])", or "" for the file itself
  [[noreturn]] void bad(const std::string& field, const std::string& why) const {
    throw UsageError(file + ": " + (kase.empty() ? "" : kase + ": ") + field + ": " + why);
  }
};

const std::set<std::string> kCaseFields = {
    "id",           "source",    "system",          "gpus",     "regime",
    "collective",   "algorithm", "algorithm_basis", "protocol", "bytes",
    "bytes_stated", "metric",    "value",           "unit",     "placement",
    "assessment",   "role",      "sets_constant",   "model",    "notes"};
const std::set<std::string> kCaseOptional = {"convention", "workload"};
const std::set<std::string> kSourceFields = {"title", "url", "date", "kind", "quote"};
const std::set<std::string> kSystemFields = {"gpu",
                                             "gpu_model",
                                             "gpus_per_node",
                                             "gpus_per_domain",
                                             "domains",
                                             "nodes",
                                             "nics_per_node",
                                             "nic_gbps",
                                             "fabric",
                                             "in_switch_reduction",
                                             "network_in_switch_reduction",
                                             "software"};
const std::set<std::string> kModelFields = {"profile",   "gpus",  "collective",
                                            "algorithm", "bytes", "compare"};
const std::set<std::string> kOverrideFields = {"scaleup_gpus", "scaleup_gbps", "nic_gbps",
                                               "in_switch", "nvlink_fanout"};

// Every required field present, nothing unknown; `path` prefixes the field names.
void check_fields(const json& o, const std::set<std::string>& required,
                  const std::set<std::string>& optional, const Where& w, const std::string& path) {
  if (!o.is_object())
    w.bad(path.empty() ? "case" : path.substr(0, path.size() - 1), "must be an object");
  for (const auto& f : required)
    if (!o.contains(f)) w.bad(path + f, "missing");
  for (const auto& [k, v] : o.items())
    if (!required.count(k) && !optional.count(k)) w.bad(path + k, "unknown field");
}

std::string text(const json& o, const char* key, const Where& w, const std::string& path,
                 bool non_empty = false) {
  const json& v = o.at(key);
  if (!v.is_string()) w.bad(path + key, "must be a string, got " + v.dump());
  std::string s = v.get<std::string>();
  if (non_empty && s.find_first_not_of(" \t\n") == std::string::npos) w.bad(path + key, "is empty");
  return s;
}

std::string one_of(const json& o, const char* key, const std::set<std::string>& allowed,
                   const Where& w, const std::string& path) {
  const std::string s = text(o, key, w, path);
  if (!allowed.count(s)) {
    std::string list;
    for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
    w.bad(path + key, "'" + s + "' is not one of " + list);
  }
  return s;
}

std::int64_t integer(const json& o, const char* key, std::int64_t min, const Where& w,
                     const std::string& path) {
  const json& v = o.at(key);
  // Counts of GPUs, nodes and bytes in a published run; 2^50 is far beyond any.
  if (!v.is_number_integer() || v.get<double>() < static_cast<double>(min) ||
      v.get<double>() > 1125899906842624.0)
    w.bad(path + key, "must be an integer >= " + std::to_string(min) + ", got " + v.dump());
  return v.get<std::int64_t>();
}

double number(const json& o, const char* key, double min, bool strict, const Where& w,
              const std::string& path) {
  const json& v = o.at(key);
  if (!v.is_number() || !std::isfinite(v.get<double>()) || v.get<double>() > 1e15)
    w.bad(path + key, "must be a finite number, got " + v.dump());
  const double d = v.get<double>();
  if (strict ? !(d > min) : !(d >= min))
    w.bad(path + key, std::string("must be ") + (strict ? "> " : ">= ") + std::to_string(min));
  return d;
}

bool boolean(const json& o, const char* key, const Where& w, const std::string& path) {
  const json& v = o.at(key);
  if (!v.is_boolean()) w.bad(path + key, "must be true or false, got " + v.dump());
  return v.get<bool>();
}

Collective collective_of(const std::string& s) {
  return *collectives::parse_collective(s);  // callers checked it against the enumeration
}

const std::set<std::string> kCollectives = {"allreduce", "alltoall", "allgather", "reducescatter"};

void read_source(const json& j, CalibrationCase& c, const Where& w) {
  const json& s = j.at("source");
  check_fields(s, kSourceFields, {}, w, "source.");
  c.title = text(s, "title", w, "source.", true);
  c.url = text(s, "url", w, "source.");
  if (c.url.rfind("https://", 0) != 0) w.bad("source.url", "must start with https://");
  c.date = text(s, "date", w, "source.");
  const std::string& d = c.date;
  const bool date_ok =
      (d.size() == 7 || d.size() == 10) && d[4] == '-' &&
      d.find_first_not_of("0123456789", 0) == 4 && std::isdigit(static_cast<unsigned char>(d[5])) &&
      std::isdigit(static_cast<unsigned char>(d[6])) && std::stoi(d.substr(5, 2)) >= 1 &&
      std::stoi(d.substr(5, 2)) <= 12 &&
      (d.size() == 7 || (d[7] == '-' && std::isdigit(static_cast<unsigned char>(d[8])) &&
                         std::isdigit(static_cast<unsigned char>(d[9]))));
  if (!date_ok) w.bad("source.date", "'" + d + "' is not YYYY-MM or YYYY-MM-DD");
  c.kind = one_of(s, "kind", {"issue", "blog", "paper", "repo"}, w, "source.");
  c.quote = text(s, "quote", w, "source.", true);
}

void read_system(const json& j, CalibrationCase& c, const Where& w) {
  const json& s = j.at("system");
  const std::string p = "system.";
  check_fields(s, kSystemFields, {}, w, p);
  CaseSystem& y = c.system;
  y.gpu = one_of(s, "gpu", {"h100", "h200", "b200", "gb200", "gb300", "mi300x", "h800"}, w, p);
  y.gpu_model = text(s, "gpu_model", w, p);
  y.fabric = text(s, "fabric", w, p);
  y.software = text(s, "software", w, p);
  y.gpus_per_node = integer(s, "gpus_per_node", 1, w, p);
  y.gpus_per_domain = integer(s, "gpus_per_domain", 1, w, p);
  y.domains = integer(s, "domains", 1, w, p);
  y.nodes = integer(s, "nodes", 1, w, p);
  y.nics_per_node = integer(s, "nics_per_node", 0, w, p);
  y.nic_gbps = number(s, "nic_gbps", 0, false, w, p);
  y.in_switch_reduction = boolean(s, "in_switch_reduction", w, p);
  y.network_in_switch_reduction = boolean(s, "network_in_switch_reduction", w, p);
}

void read_model(const json& j, CalibrationCase& c, const Where& w) {
  const json& m = j.at("model");
  const std::string p = "model.";
  check_fields(m, kModelFields, {"overrides"}, w, p);
  c.profile = text(m, "profile", w, p);
  try {
    find_profile(c.profile);
  } catch (const UsageError& e) {
    w.bad("model.profile", e.what());
  }
  if (integer(m, "gpus", 2, w, p) != c.gpus)
    w.bad("model.gpus", m.at("gpus").dump() + " differs from gpus " + std::to_string(c.gpus));
  c.model_collective = collective_of(one_of(m, "collective", kCollectives, w, p));
  c.model_algorithm = text(m, "algorithm", w, p, true);
  if (c.model_algorithm != "best" && !find_model_algorithm(c.model_collective, c.model_algorithm))
    w.bad("model.algorithm", "'" + c.model_algorithm + "' is not a modelled " +
                                 std::string(collectives::collective_name(c.model_collective)) +
                                 " algorithm (or best)");
  c.model_bytes = static_cast<double>(integer(m, "bytes", 1, w, p));
  const std::string cmp = one_of(m, "compare", {"busbw", "algbw", "time"}, w, p);
  c.compare = cmp == "busbw" ? Compare::kBusbw : cmp == "algbw" ? Compare::kAlgbw : Compare::kTime;
  const Compare want = c.metric == Metric::kBusbw       ? Compare::kBusbw
                       : c.metric == Metric::kBandwidth ? Compare::kAlgbw
                                                        : Compare::kTime;
  if (c.compare != want) w.bad("model.compare", "'" + cmp + "' does not fit the case's metric");
  if (!m.contains("overrides")) return;
  const json& o = m.at("overrides");
  const std::string q = "model.overrides.";
  check_fields(o, {}, kOverrideFields, w, q);
  if (o.empty()) w.bad("model.overrides", "is empty (leave it out)");
  if (o.contains("scaleup_gpus")) c.overrides.scaleup_gpus = integer(o, "scaleup_gpus", 1, w, q);
  if (o.contains("scaleup_gbps"))
    c.overrides.scaleup_gbps = number(o, "scaleup_gbps", 0, true, w, q);
  if (o.contains("nic_gbps")) c.overrides.nic_gbps = number(o, "nic_gbps", 0, true, w, q);
  if (o.contains("in_switch")) c.overrides.in_switch = boolean(o, "in_switch", w, q);
  if (o.contains("nvlink_fanout")) {
    c.fanout = number(o, "nvlink_fanout", 1, false, w, q);
    if (c.fanout > 1e6) w.bad("model.overrides.nvlink_fanout", "must be at most 1e6");
    if (c.model_collective != Collective::kAllToAll)
      w.bad("model.overrides.nvlink_fanout", "applies to all-to-all only");
  }
}

// The rules that tie fields together (README rules 4 and 5).
void check_consistency(const CalibrationCase& c, const Where& w) {
  const CaseSystem& y = c.system;
  if (c.gpus != y.nodes * y.gpus_per_node)
    w.bad("gpus", std::to_string(c.gpus) + " is not system.nodes x system.gpus_per_node (" +
                      std::to_string(y.nodes * y.gpus_per_node) + ")");
  if (y.gpus_per_domain % y.gpus_per_node != 0)
    w.bad("system.gpus_per_domain", std::to_string(y.gpus_per_domain) +
                                        " is not a whole number of " +
                                        std::to_string(y.gpus_per_node) + "-GPU nodes");
  const std::int64_t domains = (c.gpus + y.gpus_per_domain - 1) / y.gpus_per_domain;
  if (y.domains != domains)
    w.bad("system.domains", std::to_string(y.domains) + " is not ceil(gpus / gpus_per_domain) = " +
                                std::to_string(domains));
  const Regime rule = domains == 1                          ? Regime::kOneDomain
                      : y.gpus_per_domain >= kRackScaleGpus ? Regime::kMultiRack
                                                            : Regime::kMultiDomain;
  if (c.regime != rule)
    w.bad("regime", std::string("'") + regime_name(c.regime) + "' but the system gives '" +
                        regime_name(rule) + "'");
  if (domains > 1 && (y.nics_per_node == 0 || y.nic_gbps <= 0))
    w.bad("system.nic_gbps", std::to_string(c.gpus) + " GPUs span " + std::to_string(domains) +
                                 " scale-up domains but no NIC is stated: no fabric holds them");
  const Profile& prof = find_profile(c.profile);
  const std::int64_t model_domain = c.overrides.scaleup_gpus.value_or(prof.scaleup_gpus);
  if (model_domain != y.gpus_per_domain)
    w.bad("model.overrides.scaleup_gpus", "the model's domain has " + std::to_string(model_domain) +
                                              " GPUs but the system " +
                                              std::to_string(y.gpus_per_domain));
  if (domains > 1) {
    const double per_gpu = static_cast<double>(y.nics_per_node) * y.nic_gbps / 8.0 /
                           static_cast<double>(y.gpus_per_node);
    const double model_nic = c.overrides.nic_gbps.value_or(prof.nic_gbps);
    if (std::fabs(model_nic - per_gpu) > 1e-6)
      w.bad("model.overrides.nic_gbps", "the model's NIC gives " + std::to_string(model_nic) +
                                            " GB/s per GPU but the system " +
                                            std::to_string(per_gpu));
  }
  if (c.test !=
      test_by_rule(c.url, c.gpus, std::string(collectives::collective_name(c.collective))))
    w.bad("role", std::string("'") + (c.test ? "test" : "train") + "' but the fixed rule gives '" +
                      (c.test ? "train" : "test") + "'");
}

CalibrationCase read_case(const json& j, const std::string& file, int index) {
  Where w{file, "cases[" + std::to_string(index) + "]"};
  // The id first, so that every later message names the case.
  if (j.is_object() && j.contains("id") && j.at("id").is_string())
    w.kase = "case '" + j.at("id").get<std::string>() + "' (cases[" + std::to_string(index) + "])";
  check_fields(j, kCaseFields, kCaseOptional, w, "");
  CalibrationCase c;
  c.file = file;
  c.index = index;
  c.id = text(j, "id", w, "");
  const bool id_ok =
      c.id.size() >= 3 && c.id.size() <= 64 &&
      c.id.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-") == std::string::npos &&
      c.id[0] != '-';
  if (!id_ok) w.bad("id", "'" + c.id + "' must be 3-64 characters of a-z, 0-9, '-'");
  w.kase = "case '" + c.id + "' (cases[" + std::to_string(index) + "])";
  read_source(j, c, w);
  read_system(j, c, w);
  c.gpus = integer(j, "gpus", 2, w, "");
  const std::string regime =
      one_of(j, "regime", {"one_domain", "multi_domain", "multi_rack"}, w, "");
  c.regime = regime == "one_domain"     ? Regime::kOneDomain
             : regime == "multi_domain" ? Regime::kMultiDomain
                                        : Regime::kMultiRack;
  c.collective = collective_of(one_of(j, "collective", kCollectives, w, ""));
  c.algorithm = one_of(j, "algorithm",
                       {"ring", "tree", "nvls", "nvls_tree", "collnet", "pat", "p2p",
                        "deepep_normal", "deepep_low_latency", "unknown"},
                       w, "");
  c.algorithm_basis = one_of(j, "algorithm_basis", {"stated", "inferred"}, w, "");
  c.protocol = one_of(j, "protocol", {"ll", "ll128", "simple", "unknown"}, w, "");
  c.bytes = static_cast<double>(integer(j, "bytes", 1, w, ""));
  c.bytes_stated = boolean(j, "bytes_stated", w, "");
  const std::string metric = one_of(j, "metric", {"busbw", "bandwidth", "time"}, w, "");
  c.metric = metric == "busbw"  ? Metric::kBusbw
             : metric == "time" ? Metric::kTime
                                : Metric::kBandwidth;
  c.value = number(j, "value", 0, true, w, "");
  c.unit = text(j, "unit", w, "");
  const std::string want_unit = c.metric == Metric::kTime ? "us" : "GB/s";
  if (c.unit != want_unit)
    w.bad("unit", "'" + c.unit + "' for metric '" + metric + "' (only '" + want_unit + "')");
  if (c.metric == Metric::kBandwidth && !(j.contains("convention") && j.contains("workload")))
    w.bad(j.contains("convention") ? "workload" : "convention",
          "missing: metric 'bandwidth' needs the byte convention and the workload");
  if (j.contains("convention")) c.convention = text(j, "convention", w, "", true);
  if (j.contains("workload") && !j.at("workload").is_object())
    w.bad("workload", "must be an object");
  c.placement = one_of(j, "placement", {"out", "in", "unknown"}, w, "");
  c.assessment =
      one_of(j, "assessment", {"maintainer-confirmed", "vendor-published", "user-reported"}, w, "");
  c.test = one_of(j, "role", {"train", "test"}, w, "") == "test";
  const json& sc = j.at("sets_constant");
  if (!sc.is_null() && !sc.is_string()) w.bad("sets_constant", "must be a string or null");
  if (sc.is_string()) c.sets_constant = sc.get<std::string>();
  c.notes = text(j, "notes", w, "");
  read_model(j, c, w);
  check_consistency(c, w);
  return c;
}

}  // namespace

const char* regime_name(Regime r) {
  switch (r) {
    case Regime::kOneDomain:
      return "one_domain";
    case Regime::kMultiDomain:
      return "multi_domain";
    case Regime::kMultiRack:
      return "multi_rack";
  }
  return "?";
}

bool test_by_rule(const std::string& url, std::int64_t gpus, const std::string& collective) {
  const std::string key =
      url.substr(0, url.find('#')) + "|" + std::to_string(gpus) + "|" + collective;
  const std::uint32_t h =
      static_cast<std::uint32_t>(std::stoul(sha256_hex(key).substr(0, 8), nullptr, 16));
  return h % 10 < 3;
}

std::vector<CalibrationCase> calibration_cases_from_json(const json& j, const std::string& where) {
  const Where w{where, ""};
  if (!j.is_object()) w.bad("schema", "not a calibration file (a JSON object is expected)");
  if (!j.contains("schema") || j.at("schema") != "collbench.published")
    w.bad("schema", "must be \"collbench.published\"");
  if (!j.contains("schema_version") || j.at("schema_version") != 1)
    w.bad("schema_version", "this collbench reads version 1");
  for (const auto& [k, v] : j.items())
    if (k != "schema" && k != "schema_version" && k != "description" && k != "cases")
      w.bad(k, "unknown field");
  if (j.contains("description") && !j.at("description").is_string())
    w.bad("description", "must be a string");
  if (!j.contains("cases") || !j.at("cases").is_array() || j.at("cases").empty())
    w.bad("cases", "must be a non-empty list");
  std::vector<CalibrationCase> out;
  const json& cases = j.at("cases");
  for (std::size_t i = 0; i < cases.size(); ++i)
    out.push_back(read_case(cases[i], where, static_cast<int>(i)));
  return out;
}

void check_record(const CalibrationRecord& r) {
  std::map<std::string, const CalibrationCase*> ids;
  std::map<std::string, const CalibrationCase*> runs;
  for (const CalibrationCase& c : r.cases) {
    const Where w{c.file, "case '" + c.id + "' (cases[" + std::to_string(c.index) + "])"};
    if (auto [it, fresh] = ids.emplace(c.id, &c); !fresh)
      w.bad("id", "duplicate: also " + it->second->file + " cases[" +
                      std::to_string(it->second->index) + "]");
    // The same measurement twice: same source, run, size, metric, model settings and value.
    json ov = json::object();
    if (c.overrides.scaleup_gpus) ov["scaleup_gpus"] = *c.overrides.scaleup_gpus;
    if (c.overrides.scaleup_gbps) ov["scaleup_gbps"] = *c.overrides.scaleup_gbps;
    if (c.overrides.nic_gbps) ov["nic_gbps"] = *c.overrides.nic_gbps;
    if (c.overrides.in_switch) ov["in_switch"] = *c.overrides.in_switch;
    if (c.fanout != 1) ov["nvlink_fanout"] = c.fanout;
    const std::string key =
        json::array({c.url.substr(0, c.url.find('#')), c.gpus,
                     std::string(collectives::collective_name(c.collective)), c.algorithm, c.bytes,
                     static_cast<int>(c.metric), c.placement, c.model_algorithm, ov, c.value})
            .dump();
    if (auto [it, fresh] = runs.emplace(key, &c); !fresh)
      w.bad("value", "duplicate case: the same measurement as '" + it->second->id + "'");
  }
  if (r.cases.empty()) throw UsageError("calibration record: no case");
  // A rule over the whole record: the message names every file the cases came from.
  std::vector<std::string> seen;
  std::string files;
  for (const CalibrationCase& c : r.cases) {
    if (std::find(seen.begin(), seen.end(), c.file) != seen.end()) continue;
    files += (seen.empty() ? "" : ", ") + c.file;
    seen.push_back(c.file);
  }
  std::size_t tests = 0;
  for (const CalibrationCase& c : r.cases) tests += c.test ? 1 : 0;
  if (tests * 5 < r.cases.size())
    throw UsageError(files + ": only " + std::to_string(tests) + " of " +
                     std::to_string(r.cases.size()) +
                     " cases are test cases (at least a fifth must be)");
}

CalibrationRecord load_calibration(const std::vector<std::string>& paths) {
  if (paths.empty()) throw UsageError("calibration: at least one file is required");
  CalibrationRecord r;
  for (const std::string& path : paths) {
    const json j = read_input_json(path, "calibration file");
    for (auto& c : calibration_cases_from_json(j, path)) r.cases.push_back(std::move(c));
    r.files.push_back(path);
  }
  check_record(r);
  return r;
}

const CalibrationRecord& builtin_calibration() {
  static const CalibrationRecord record = [] {
    CalibrationRecord r;
    for (const EmbeddedFile& f : builtin_calibration_files()) {
      for (auto& c : calibration_cases_from_json(json::parse(f.text), f.name))
        r.cases.push_back(std::move(c));
      r.files.push_back(std::string("built in: results/reference/published/") + f.name);
    }
    check_record(r);
    return r;
  }();
  return record;
}

}  // namespace collbench::model
