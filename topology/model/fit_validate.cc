// Held-out validation: fit on part of a sweep, predict the rest.
#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "collectives/error.h"
#include "collectives/units.h"
#include "topology/model/fit.h"
#include "topology/model/numeric.h"

namespace collbench::model {

ValidationResult validate_records(const std::vector<FitRecord>& records,
                                  const ValidationOptions& options) {
  if (options.holdout_every < 2)
    throw UsageError("--holdout-every " + std::to_string(options.holdout_every) + ": must be >= 2");
  ValidationResult out;
  std::set<std::int64_t> rank_counts;
  for (const auto& r : records)
    if (r.model) rank_counts.insert(r.ranks);
  if (options.holdout_max_ranks && rank_counts.size() >= 2)
    out.held_out_ranks = *rank_counts.rbegin();

  // Sizes held out per (collective, algorithm): every n-th of the sorted distinct sizes, offset
  // so that the smallest and largest stay in training where possible.
  std::map<std::pair<int, std::string>, std::set<double>> sizes;
  for (const auto& r : records)
    sizes[{static_cast<int>(r.collective), r.algorithm}].insert(r.bytes);
  std::map<std::pair<int, std::string>, std::set<double>> held;
  for (auto& [key, set] : sizes) {
    int i = 0;
    for (double b : set) {
      if (i % options.holdout_every == options.holdout_every / 2) held[key].insert(b);
      ++i;
    }
  }
  // Bands of message sizes, each fitted on its own.
  std::vector<double> edges = options.bands;
  for (std::size_t k = 0; k < edges.size(); ++k)
    if (!(edges[k] > 0) || (k > 0 && !(edges[k] > edges[k - 1])))
      throw UsageError("--bands: edges must be positive and ascending");
  auto band_of = [&](double bytes) {
    return static_cast<int>(std::upper_bound(edges.begin(), edges.end(), bytes) - edges.begin());
  };
  const int nbands = static_cast<int>(edges.size()) + 1;
  auto size_text = [](double b) { return collectives::human_bytes(static_cast<std::int64_t>(b)); };

  std::vector<std::vector<FitRecord>> train(nbands), test(nbands);
  for (const auto& r : records) {
    const auto key = std::make_pair(static_cast<int>(r.collective), r.algorithm);
    const bool out_size = held[key].count(r.bytes) > 0;
    const bool out_ranks = out.held_out_ranks != 0 && r.ranks == out.held_out_ranks;
    (out_size || out_ranks ? test : train)[band_of(r.bytes)].push_back(r);
  }
  for (int b = 0; b < nbands; ++b) {
    out.train_records += static_cast<int>(train[b].size());
    out.test_records += static_cast<int>(test[b].size());
  }
  if (out.test_records == 0) throw UsageError("results: nothing left to hold out (too few sizes)");

  using Key = std::pair<std::string, std::string>;
  std::map<Key, ValidationRow> rows;
  std::map<Key, std::vector<double>> errs;
  std::map<std::pair<int, Key>, ValidationRow> band_rows;
  std::map<std::pair<int, Key>, std::vector<double>> band_errs;
  auto key_of = [](const FitRecord& r) {
    return std::make_pair(std::string(collectives::collective_name(r.collective)), r.algorithm);
  };
  std::vector<std::string> labels(nbands);
  for (int b = 0; b < nbands; ++b) {
    if (train[b].empty() && test[b].empty()) continue;
    BandFit bf;
    bf.lo = b == 0 ? 0 : edges[b - 1];
    bf.hi = b + 1 < nbands ? edges[b] : 0;
    bf.label = nbands == 1       ? std::string()
               : b == 0          ? "< " + size_text(bf.hi)
               : b + 1 == nbands ? ">= " + size_text(bf.lo)
                                 : size_text(bf.lo) + "-" + size_text(bf.hi);
    labels[b] = bf.label;
    bf.train = static_cast<int>(train[b].size());
    bf.test = static_cast<int>(test[b].size());
    try {
      bf.fit = fit_records(train[b], options.fit);
    } catch (const UsageError& e) {
      if (nbands == 1) throw;
      throw UsageError("band " + bf.label + ": " + e.what());
    }
    for (const auto& r : train[b]) {
      rows[key_of(r)].train++;
      if (nbands > 1) band_rows[{b, key_of(r)}].train++;
    }
    for (const auto& r : test[b]) {
      const double pred = predict_record(bf.fit, r);
      const double e = std::fabs(pred - r.time_s) / r.time_s;
      ValidationRow& row = rows[key_of(r)];
      row.test++;
      row.native = !r.model;
      errs[key_of(r)].push_back(e);
      if (nbands > 1) {
        ValidationRow& br = band_rows[{b, key_of(r)}];
        br.test++;
        br.native = !r.model;
        band_errs[{b, key_of(r)}].push_back(e);
      }
    }
    out.bands.push_back(std::move(bf));
  }
  out.fit = out.bands.back().fit;

  auto finish = [&](ValidationRow& row, const std::vector<double>& e) {
    if (e.empty()) return;
    row.median_rel_err = median_of(e);
    row.worst_rel_err = *std::max_element(e.begin(), e.end());
    row.pass = row.median_rel_err <= options.target;
  };
  out.pass = true;
  bool any = false;
  for (auto& [key, row] : rows) {
    row.collective = key.first;
    row.algorithm = key.second;
    finish(row, errs[key]);
    if (!errs[key].empty() && !row.native) {
      out.pass = out.pass && row.pass;
      any = true;
    }
    out.rows.push_back(row);
  }
  for (auto& [key, row] : band_rows) {
    row.collective = key.second.first;
    row.algorithm = key.second.second;
    row.band = labels[key.first];
    finish(row, band_errs[key]);
    out.band_rows.push_back(row);
  }
  out.pass = out.pass && any;
  return out;
}

}  // namespace collbench::model
