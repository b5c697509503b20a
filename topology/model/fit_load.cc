// Reading result files into fit records, and merging repeats of one point.
#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <tuple>

#include "collectives/error.h"
#include "collectives/input_file.h"
#include "collectives/registry.h"
#include "topology/model/fit.h"
#include "topology/model/numeric.h"

namespace collbench::model {
namespace {

using nlohmann::json;

bool is_native_name(Collective c, const std::string& name) {
  const auto* info = collectives::find_algorithm(c, name);
  return info && info->native();
}

double record_stat(const json& rec, const std::string& stat, const std::string& where) {
  auto t = rec.find("time_us");
  if (t == rec.end() || !t->is_object()) throw UsageError(where + "time_us: missing (an object)");
  auto v = t->find(stat);
  if (v == t->end() || !v->is_number())
    throw UsageError(where + "time_us." + stat + ": missing (a number)");
  return v->get<double>();
}

std::int64_t record_int(const json& rec, const char* key, const std::string& where,
                        std::int64_t fallback, bool required) {
  auto it = rec.find(key);
  if (it == rec.end() || it->is_null()) {
    if (required) throw UsageError(where + key + ": missing (an integer)");
    return fallback;
  }
  if (!it->is_number_integer()) throw UsageError(where + key + ": must be an integer");
  return it->get<std::int64_t>();
}

}  // namespace

LoadedRecords load_result_files(const std::vector<std::string>& paths, const std::string& stat) {
  if (stat != "p50" && stat != "mean" && stat != "min")
    throw UsageError("--stat " + stat + ": must be p50, mean or min");
  if (paths.empty()) throw UsageError("results: at least one result file is required");
  LoadedRecords out;
  std::map<std::string, int> skipped;
  for (const std::string& path : paths) {
    const json j = read_input_json(path, "result file");
    if (!j.is_object() || !j.contains("schema") || j["schema"] != "collbench.result")
      throw UsageError(path +
                       ": schema: not a collbench result file (expected \"collbench.result\")");
    if (!j.contains("schema_version") || j["schema_version"] != 1)
      throw UsageError(path + ": schema_version: this collbench reads version 1");
    if (!j.contains("records") || !j["records"].is_array())
      throw UsageError(path + ": records: missing (an array)");
    out.files.push_back(path);
    // Hierarchical algorithms run this flat algorithm between nodes (--inter-node-algo).
    std::string inner_name = "ring";
    if (auto o = j.find("options"); o != j.end() && o->is_object()) {
      if (auto a = o->find("inter_node_algorithm"); a != o->end() && a->is_string())
        inner_name = a->get<std::string>();
    }
    const json& recs = j["records"];
    for (std::size_t i = 0; i < recs.size(); ++i) {
      const json& r = recs[i];
      const std::string where = path + ": records[" + std::to_string(i) + "].";
      if (!r.is_object()) throw UsageError(where.substr(0, where.size() - 1) + ": not an object");
      auto coll_it = r.find("collective");
      if (coll_it == r.end() || !coll_it->is_string())
        throw UsageError(where + "collective: missing (a string)");
      auto coll = collectives::parse_collective(coll_it->get<std::string>());
      if (!coll) {
        ++skipped["collective " + coll_it->get<std::string>() + " has no model"];
        continue;
      }
      auto alg_it = r.find("algorithm");
      if (alg_it == r.end() || !alg_it->is_string())
        throw UsageError(where + "algorithm: missing (a string)");
      FitRecord fr;
      fr.collective = *coll;
      fr.algorithm = alg_it->get<std::string>();
      fr.file = path;
      fr.inner = find_model_algorithm(fr.collective, inner_name).value_or(ModelAlgo::kCount);
      fr.bytes = static_cast<double>(record_int(r, "bytes", where, 0, true));
      fr.ranks = record_int(r, "ranks", where, 0, true);
      fr.nodes = record_int(r, "nodes", where, 1, false);
      if (fr.ranks < 1) throw UsageError(where + "ranks: must be >= 1");
      if (fr.nodes < 1) throw UsageError(where + "nodes: must be >= 1");
      fr.ranks_per_node = record_int(r, "ranks_per_node", where, 0, false);
      if (auto d = r.find("dtype"); d != r.end() && d->is_string())
        fr.dtype = d->get<std::string>();
      if (auto pl = r.find("placement"); pl != r.end() && pl->is_string())
        fr.in_place = *pl == "in";
      const std::int64_t wrong = record_int(r, "wrong", where, 0, false);
      fr.time_s = record_stat(r, stat, where) * 1e-6;
      if (wrong > 0) {
        ++skipped["wrong results"];
        continue;
      }
      if (fr.ranks < 2) {
        ++skipped["one rank (nothing crosses a link)"];
        continue;
      }
      if (fr.bytes <= 0) {
        ++skipped["0 bytes"];
        continue;
      }
      if (fr.ranks_per_node <= 0) {
        if (fr.ranks % fr.nodes != 0) {
          ++skipped["uneven ranks per node"];
          continue;
        }
        fr.ranks_per_node = fr.ranks / fr.nodes;
      }
      if (!(fr.time_s > 0)) {
        ++skipped["time 0 or negative"];
        continue;
      }
      if (!is_native_name(fr.collective, fr.algorithm)) {
        fr.model = find_model_algorithm(fr.collective, fr.algorithm);
        if (!fr.model) {
          ++skipped["algorithm '" + fr.algorithm + "' has no model"];
          continue;
        }
      }
      out.records.push_back(std::move(fr));
    }
  }
  for (auto& [why, n] : skipped) out.skipped.push_back(std::to_string(n) + " records: " + why);
  return out;
}

std::size_t merge_repeats(std::vector<FitRecord>& records) {
  using Key = std::tuple<int, std::string, int, std::string, bool, double, std::int64_t,
                         std::int64_t, std::int64_t>;
  std::map<Key, std::size_t> slot;
  std::vector<FitRecord> out;
  std::vector<std::vector<double>> times;
  for (FitRecord& r : records) {
    Key k{static_cast<int>(r.collective),
          r.algorithm,
          static_cast<int>(r.inner),
          r.dtype,
          r.in_place,
          r.bytes,
          r.ranks,
          r.nodes,
          r.ranks_per_node};
    auto [it, fresh] = slot.try_emplace(k, out.size());
    if (fresh) {
      times.push_back({r.time_s});
      out.push_back(std::move(r));
    } else {
      times[it->second].push_back(r.time_s);
    }
  }
  for (std::size_t i = 0; i < out.size(); ++i) {
    out[i].measurements = static_cast<int>(times[i].size());
    out[i].time_s = median_of(std::move(times[i]));
  }
  const std::size_t folded = records.size() - out.size();
  records = std::move(out);
  return folded;
}

}  // namespace collbench::model
