// The one measuring engine. Everything that measures a collective (the size sweep, the rank
// sweep, `collbench tune`, `workload run`) opens a Group of ranks, prepares an algorithm on it and
// measures points through Runner::measure, which returns a Record. The methodology lives here
// once (docs/methodology.md): barrier, untimed warm-up, timed iterations (the count fixed in
// advance and identical on every rank), the per-iteration maximum over ranks, statistics, then
// the exact check of every element on every rank.
#pragma once

#include <mpi.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bench/faults.h"
#include "bench/options.h"
#include "bench/record.h"
#include "bench/watchdog.h"
#include "collectives/backend.h"
#include "topology/hostmap.h"

namespace collbench::bench {

// The ranks one measurement runs on, with everything allocated once for the largest point.
struct Group {
  MPI_Comm comm = MPI_COMM_NULL;  // the ranks that run the collective
  // The ranks whose per-iteration maximum is a sample: comm itself, or every rank of the job when
  // several groups run their collectives at the same time (a training step's groups).
  MPI_Comm stats = MPI_COMM_NULL;
  int rank = 0, size = 1;              // in comm
  int stats_rank = 0, stats_size = 1;  // in stats
  int world_rank = 0;                  // of this process
  std::unique_ptr<collectives::Transport> transport;
  collectives::Buffer send, recv;
  std::size_t alloc_bytes = 0;
  std::vector<std::size_t> offsets;  // of the warm-up calls, then the timed ones
  std::size_t cursor = 0;            // where the rotation continues (runner.cc)
  std::vector<double> local;         // this rank's seconds per iteration
  struct TimeRank {                  // the layout of MPI_DOUBLE_INT
    double t;
    int r;
  };
  std::vector<TimeRank> pairs_in, pairs_out;
  std::vector<int> node_of_rank;  // node index of every member of comm
  int nodes = 1, ranks_per_node = 1;
};

// One measured point: what the record says about it beyond the arguments.
struct PointSpec {
  std::string algorithm;  // as requested ("auto" included)
  std::string selected;   // with --algo auto: what the table chose
  collectives::CollectiveArgs args;
  std::size_t bytes = 0;  // the size convention's bytes (collective.h)
  int repeat = 0;
  nlohmann::json step;  // workload runs: the step item this point belongs to, else null
};

class Runner {
 public:
  Runner(const Options& o, collectives::Backend& backend, Watchdog& watchdog, const Faults& faults,
         int world_rank);

  // Bytes each buffer needs for points up to max_bytes (the rotation region included).
  std::size_t buffer_bytes(std::size_t max_bytes) const;
  // Makes the transport over comm and allocates the buffers (zero-filled: valid values of every
  // element type wherever the rotation goes). Collective over comm.
  void open(Group& g, MPI_Comm comm, MPI_Comm stats, std::size_t max_bytes,
            std::vector<int> node_of_rank, int nodes, int ranks_per_node) const;
  void close(Group& g) const;

  collectives::AlgorithmContext context(const Group& g) const;
  // The named algorithm of `max_args.collective`, prepared for every point up to max_args on g
  // (collective over g for algorithms that split), or why it cannot run there.
  struct Prepared {
    std::unique_ptr<collectives::Algorithm> algo;
    std::optional<std::string> refusal;
  };
  Prepared prepare(const Group& g, const std::string& name,
                   const collectives::CollectiveArgs& max_args) const;

  // Times and checks one point on g; collective over g.stats. The record is filled on stats
  // rank 0 (elsewhere only nccl_estimate_us). A failed or timed-out call ends the job through
  // the watchdog, naming the step.
  Record measure(Group& g, collectives::Algorithm& algo, const PointSpec& p);
  // measure(), repeated while the samples are unstable and --stable's budget allows another
  // attempt (the decision is rank 0's, broadcast, so every rank runs the same collectives).
  // Throws UsageError on every rank when one attempt alone takes longer than the budget.
  Record measure_point(Group& g, collectives::Algorithm& algo, const PointSpec& p);

 private:
  const Options& o_;
  collectives::Backend& backend_;
  Watchdog& watchdog_;
  const Faults& faults_;
  int world_rank_;
};

// Every rank's hostname, gathered over `comm` (collective), as nodes and local ranks.
topology::HostMap gather_hosts(MPI_Comm comm);

// "allreduce ring 1M f32 sum out-of-place on 4 ranks": the step the watchdog names.
std::string describe_point(const collectives::CollectiveArgs& a, const std::string& algo,
                           std::size_t bytes, int ranks);

}  // namespace collbench::bench
