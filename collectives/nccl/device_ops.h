// The GPU side of the NCCL backend -- one stream per rank, its events and graphs, device memory,
// and the reduce / fill / check kernels -- behind an interface free of CUDA types, so that the
// NCCL transport and the timing and check logic (device_loop.h) run unchanged over the
// in-process fake of tests/fake_nccl.h. One implementation over CUDA (cuda_device_ops.cc).
//
// Everything is ordered on the one stream and returns once enqueued. query() and event_state()
// say how far the stream has got: kOk done, kInProgress not yet, kError the stream failed (the
// text says how).
#pragma once

#include <cstddef>
#include <cstdint>

#include "collectives/algorithm.h"
#include "collectives/nccl/comm_ops.h"
#include "collectives/spec.h"

namespace collbench::collectives {

class DeviceOps {
 public:
  virtual ~DeviceOps() = default;
  virtual StreamHandle stream() const = 0;
  virtual int device() const = 0;

  // Stream work. A failed Status: the work could not be enqueued (the text says why).
  virtual Status copy(void* dst, const void* src, std::size_t bytes) = 0;
  virtual Status upload(void* dst, const void* host, std::size_t bytes) = 0;
  virtual Status download(void* host, const void* src, std::size_t bytes) = 0;
  virtual Status reduce(void* inout, const void* in, std::size_t count, DType t, ReduceOp op) = 0;
  virtual Status fill_input(void* buf, const CollectiveArgs& a, int rank, int ranks,
                            std::uint64_t seed) = 0;
  virtual Status fill_sentinel(void* buf, const CollectiveArgs& a, int rank, int ranks) = 0;
  virtual Status add_to_element(void* buf, std::size_t index, DType t, double delta) = 0;
  // Compares the output span of `buf` with the exact values on the device; only the counts come
  // back, read with check_result() once the stream has passed this point.
  virtual Status check_output(const void* buf, const CollectiveArgs& a, int rank, int ranks,
                              std::uint64_t seed) = 0;
  virtual CheckResult check_result() = 0;
  virtual CommResult query() = 0;

  // Events by index, created on first use. `capturing`: the record becomes a node of the graph
  // being captured (it is taken when the graph runs, not now).
  virtual Status record(std::size_t event, bool capturing) = 0;
  virtual CommResult event_state(std::size_t event) = 0;
  virtual Status elapsed_s(std::size_t start, std::size_t stop, double* seconds) = 0;

  // Stream capture into a graph: end_capture always ends the capture, then instantiates and
  // uploads the graph (*graph stays null when anything failed).
  virtual Status begin_capture() = 0;
  virtual Status end_capture(void** graph) = 0;
  virtual Status launch(void* graph) = 0;
  virtual void destroy_graph(void* graph) = 0;
  virtual bool capturing() const = 0;

  // Device memory, zero-filled on the stream (so that nothing a timed iteration reads is
  // uninitialised). Throws Error naming the size and the GPU when it does not fit.
  virtual Buffer allocate(std::size_t bytes) = 0;
  // The device's last-level cache (L2) in bytes.
  virtual std::size_t cache_bytes() const = 0;
};

}  // namespace collbench::collectives
