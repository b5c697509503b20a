// Fuzz entry point of the --algo auto selection table.
#include "collectives/error.h"
#include "collectives/selection.h"
#include "tests/fuzz/fuzz_util.h"

namespace collbench::fuzz {

void fuzz_selection(const std::uint8_t* data, std::size_t size) {
  collectives::SelectionTable t;
  try {
    t = collectives::SelectionTable::parse(as_text(data, size), "fuzz.json");
  } catch (const UsageError& e) {
    check_message(e);
    return;
  }
  // to_json promises that parse() reads it back unchanged.
  const auto back = collectives::SelectionTable::parse(t.to_json(), "round trip");
  for (auto c : {collectives::Collective::kAllReduce, collectives::Collective::kAllToAll}) {
    require(back.rules(c) == t.rules(c), "selection table round trip changed the rules");
    for (std::size_t bytes : {std::size_t{0}, std::size_t{1000}, std::size_t{1} << 40})
      for (int ranks : {1, 2, 1000})
        require(!t.choose(c, bytes, ranks).empty(), "the selection table chose nothing");
  }
  require(back.note == t.note, "selection table round trip changed the note");
}

}  // namespace collbench::fuzz
