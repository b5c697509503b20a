// How the NCCL backend times, runs and checks collectives on the GPU, written against the
// NcclTransport (CommSupervisor + DeviceOps) only, so that the same code runs over CUDA and over
// the in-process fake of the tests:
//   - timed iterations bracketed by two events each on the rank's stream, enqueued back to back
//     and waited for in order (or captured once into a CUDA graph and launched N times);
//   - the check's collective run through the same path (with a graph: captured and launched
//     once), so the output checked is produced the way the timed outputs were;
//   - the device check (only its counts come back to the host).
// Every wait polls the stream and every communicator of the rank set until a deadline.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "collectives/backend.h"
#include "collectives/nccl/nccl_transport.h"

namespace collbench::collectives {

// The rotation region of a device buffer: at least twice the device's last-level cache (rounded
// up to 1 MiB) and never less than the host's, so that the offsets walking through it find no
// line a recent iteration left in the cache.
std::size_t rotation_bytes_for_cache(std::size_t cache_bytes);

// Times the iterations of `loop` (one per offset) into `seconds`: per-call from the events around
// each; barrier the same with each iteration waited for and the barrier after it; loop with the
// host clock around the whole stream-synchronised loop. graph_launches > 0 (per-call only): the
// iterations are captured once into a graph (after one uncaptured run, so that NCCL's lazy
// connection set-up never happens inside a capture), launched that many times, and the samples
// are the last launch's.
Status time_on_device(NcclTransport& t, const TimedLoop& loop, std::span<double> seconds,
                      int graph_launches);

// One run of `algo` for the check, waited for: uncaptured, or with graph_launches > 0 captured
// into a graph and launched once (in place, a second launch would start from the first's output).
Status run_once_on_device(NcclTransport& t, Algorithm& algo, const CollectiveArgs& a,
                          const void* send, void* recv, double timeout_s, int graph_launches);

// The device check of `buf` (the check kernel, then its counts to the host), waited for.
Status check_on_device(NcclTransport& t, const void* buf, const CollectiveArgs& a, int rank,
                       int ranks, std::uint64_t seed, double timeout_s, CheckResult* result);

}  // namespace collbench::collectives
