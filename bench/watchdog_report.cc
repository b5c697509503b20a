#include "bench/watchdog_report.h"

#include <algorithm>
#include <cstdio>
#include <sstream>
#include <vector>

#include "collectives/progress.h"

namespace collbench::bench {
namespace {

using collectives::Phase;

std::string rank_list(const std::vector<int>& ranks) {
  std::string s;
  for (int r : ranks) s += (s.empty() ? "" : ",") + std::to_string(r);
  return s;
}

// Iteration numbers mean something only inside the loops (warm-up, timed, check).
std::string where(const RankReport& r) {
  std::string s = phase_name(r.phase);
  const auto p = static_cast<Phase>(r.phase);
  if (p == Phase::kWarmup || p == Phase::kTimed || p == Phase::kCheck)
    s += " iteration " + std::to_string(r.iteration);
  return s;
}

}  // namespace

const char* phase_name(int p) {
  switch (static_cast<Phase>(p)) {
    case Phase::kIdle:
      return "set-up, before the step's barrier";
    case Phase::kBarrier:
      return "the barrier before the size";
    case Phase::kWarmup:
      return "warm-up";
    case Phase::kTimed:
      return "timed iterations";
    case Phase::kReduceStats:
      return "the statistics reduction";
    case Phase::kCheck:
      return "the correctness check";
    case Phase::kSetup:
      return "communicator set-up";
    case Phase::kCheckCount:
      return "the count of wrong elements";
  }
  return "?";
}

std::string format_report(const RankReport& r) {
  std::ostringstream s;
  s << r.rank << ' ' << r.step << ' ' << r.phase << ' ' << r.iteration << ' ' << r.inside << ' '
    << r.host << ' ' << r.description;
  // The reason may contain anything but a newline; a tab separates it from the description.
  if (!r.reason.empty()) {
    std::string reason = r.reason;
    for (char& c : reason)
      if (c == '\n' || c == '\t') c = ' ';
    s << '\t' << reason;
  }
  return s.str();
}

bool parse_report(const std::string& line, RankReport& r) {
  std::istringstream in(line);
  if (!(in >> r.rank >> r.step >> r.phase >> r.iteration >> r.inside >> r.host)) return false;
  std::getline(in, r.description);
  if (!r.description.empty() && r.description.front() == ' ') r.description.erase(0, 1);
  const auto tab = r.description.find('\t');
  if (tab != std::string::npos) {
    r.reason = r.description.substr(tab + 1);
    r.description.resize(tab);
  }
  return true;
}

std::string describe_stuck(const std::string& first_reason, const RankReport& mine,
                           const std::map<int, RankReport>& reports, int size, double waited_s,
                           const std::string& mine_frozen) {
  RankReport front = mine;
  for (const auto& [r, rep] : reports)
    if (rep.key() > front.key()) front = rep;
  std::vector<int> behind, waiting, silent;
  for (int r = 0; r < size; ++r) {
    auto it = reports.find(r);
    if (it == reports.end()) {
      silent.push_back(r);
    } else if (r == mine.rank && !mine_frozen.empty()) {
      behind.push_back(r);
    } else if (it->second.key() < front.key()) {
      behind.push_back(r);
    } else {
      waiting.push_back(r);
    }
  }
  // A silent rank (stopped, dead) is the one the others wait for, unless a rank that answered is
  // a whole step behind without having arrived at that step's call: positions inside one step,
  // or inside the call of the step before (a barrier one rank left before another saw it
  // complete), only say where each waited for the silent one.
  const bool frozen_mine = !mine_frozen.empty();
  bool step_behind = false;
  for (int r : behind) {
    const RankReport& rep = reports.at(r);
    if (r != mine.rank || !frozen_mine) step_behind |= rep.step < front.step && !rep.inside;
  }
  if (!silent.empty() && !step_behind) {
    std::vector<int> named = silent;
    for (int r : behind) (r == mine.rank && frozen_mine ? named : waiting).push_back(r);
    std::sort(named.begin(), named.end());
    std::sort(waiting.begin(), waiting.end());
    behind = std::move(named);
    silent.clear();
  }
  // Woken by another rank's report: lead with the reason a failed rank sent, if any.
  std::string reason = first_reason;
  for (const auto& [r, rep] : reports)
    if (reason.empty() && !rep.reason.empty())
      reason = "rank " + std::to_string(r) + " on " + rep.host + ": " + rep.reason;
  if (reason.empty()) reason = "another rank reported no progress within --timeout";
  std::ostringstream msg;
  msg << "collbench: timeout: " << reason << "; stuck in "
      << (front.description.empty() ? std::string("set-up, before the first step")
                                    : front.description)
      << ", " << where(front) << ".";
  if (!behind.empty()) {
    msg << " Ranks that had not arrived: " << rank_list(behind) << " (";
    bool first = true;
    for (int r : behind) {
      msg << (first ? "" : "; ");
      first = false;
      if (r == mine.rank && !mine_frozen.empty()) {
        msg << "rank " << r << " on " << mine.host << ": " << mine_frozen;
        continue;
      }
      auto it = reports.find(r);
      if (it == reports.end()) {
        char waited[64] = "";
        if (waited_s > 0) std::snprintf(waited, sizeof waited, " within %.1f s", waited_s);
        msg << "rank " << r << ": did not answer" << waited << " (stopped, dead or unreachable)";
        continue;
      }
      const auto& rep = it->second;
      msg << "rank " << r << " on " << rep.host << " in " << where(rep);
      if (rep.step != front.step)
        msg << " of an earlier step: "
            << (rep.description.empty() ? std::string("start-up") : rep.description);
    }
    msg << ").";
  }
  if (!silent.empty())
    msg << " Ranks that did not report (dead, stopped or unreachable): " << rank_list(silent)
        << ".";
  if (!waiting.empty()) msg << " Ranks waiting in the collective: " << rank_list(waiting) << ".";
  for (const auto& [r, rep] : reports)
    if (!rep.reason.empty() && reason.find(rep.reason) == std::string::npos)
      msg << " Rank " << r << " on " << rep.host << " failed: " << rep.reason << ".";
  return msg.str();
}

}  // namespace collbench::bench
