// What is known of each rank when a run is ended -- its step, phase, iteration, host, and why it
// failed when it failed itself -- and the one message that says where the run hung and names the
// ranks that had not arrived. Shared by the watchdog (reports travel over its TCP side channel)
// and the in-process tests of the NCCL life cycle (tests/fake_job.h), so that both name stuck
// ranks the same way.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <tuple>

namespace collbench::bench {

struct RankReport {
  int rank = -1;
  std::int64_t step = 0;
  int phase = 0;  // collectives::Phase
  std::int64_t iteration = 0;
  int inside = 0;
  std::string host, description;
  std::string reason;  // why this rank ended the run itself (a failed wait); empty otherwise
  auto key() const { return std::make_tuple(step, phase, iteration, inside); }
};

const char* phase_name(int phase);
// One line for the side channel, and back.
std::string format_report(const RankReport& r);
bool parse_report(const std::string& line, RankReport& r);

// "collbench: timeout: <first_reason>; stuck in <step>, <phase>. Ranks that had not arrived: ...
// Ranks that did not report ...: ... Ranks waiting in the collective: ..." -- `reports` holds
// what arrived (by rank), `mine` the reporting rank's own position, `size` the number of ranks.
// Ranks that failed themselves are listed with their reasons. A rank that did not report is the
// one the others wait for, unless a rank that did is a whole step behind: it is named as not
// arrived ("did not answer within `waited_s` s") and the others as waiting, wherever inside the
// step each stands. `mine_frozen`, when not empty, says that the
// reporting rank itself (rank 0) was frozen (SIGSTOP): it is then the one that had not arrived,
// wherever its counters stand.
std::string describe_stuck(const std::string& first_reason, const RankReport& mine,
                           const std::map<int, RankReport>& reports, int size, double waited_s = 0,
                           const std::string& mine_frozen = "");

}  // namespace collbench::bench
