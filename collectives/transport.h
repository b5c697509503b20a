// The point-to-point layer every own algorithm is written against. Free of MPI, NCCL and CUDA
// types so that the same algorithm runs over MPI, NCCL (device buffers) or in-process threads.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string_view>

#include "collectives/dtype.h"
#include "collectives/error.h"

namespace collbench::collectives {

enum class MemorySpace { kHost, kDevice };

// Owned memory in the transport's memory space (host, or device for NCCL).
class Buffer {
 public:
  Buffer() = default;
  Buffer(void* p, std::size_t bytes, std::function<void(void*)> release)
      : ptr_(p), bytes_(bytes), release_(std::move(release)) {}
  Buffer(Buffer&& o) noexcept { *this = std::move(o); }
  Buffer& operator=(Buffer&& o) noexcept {
    if (this != &o) {
      reset();
      ptr_ = o.ptr_;
      bytes_ = o.bytes_;
      release_ = std::move(o.release_);
      o.ptr_ = nullptr;
      o.bytes_ = 0;
    }
    return *this;
  }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  ~Buffer() { reset(); }

  void reset() {
    if (ptr_ && release_) release_(ptr_);
    ptr_ = nullptr;
    bytes_ = 0;
  }
  void* data() const { return ptr_; }
  std::byte* bytes() const { return static_cast<std::byte*>(ptr_); }
  std::size_t size() const { return bytes_; }

 private:
  void* ptr_ = nullptr;
  std::size_t bytes_ = 0;
  std::function<void(void*)> release_;
};

// Page-aligned host allocation (64-byte alignment at least), the default for host transports.
// Every page is resident on return (faulted in), so no timed iteration pays a first touch.
Buffer allocate_host(std::size_t bytes);

class Transport {
 public:
  virtual ~Transport() = default;

  virtual int rank() const = 0;
  virtual int size() const = 0;
  virtual std::string_view name() const = 0;
  virtual MemorySpace memory() const { return MemorySpace::kHost; }

  // Nonblocking point-to-point. Messages between one pair of ranks with one tag arrive in the
  // order they were posted; sizes may exceed 2^31 bytes. Buffers must stay valid until the next
  // wait_all returns. A zero-byte message is legal and must still be matched.
  virtual void isend(const void* buf, std::size_t bytes, int peer, int tag) = 0;
  virtual void irecv(void* buf, std::size_t bytes, int peer, int tag) = 0;
  // Completes every operation posted since the last wait_all (for a stream-ordered transport:
  // their results are visible to the local operations that follow). kTimeout past the deadline.
  virtual Status wait_all(Deadline deadline) = 0;

  // Local work in the transport's memory space, ordered after the preceding wait_all.
  virtual void copy(void* dst, const void* src, std::size_t bytes) = 0;
  virtual void reduce(void* inout, const void* in, std::size_t count, DType t, ReduceOp op) = 0;
  // Blocks the host until all local work and communication posted so far is complete.
  virtual Status synchronize(Deadline /*deadline*/) { return Status::Ok(); }

  virtual Buffer allocate(std::size_t bytes) { return allocate_host(bytes); }

  // A transport over the ranks that passed the same color, ordered by key then old rank.
  // Collective over this transport: every rank must call it. A negative color joins no group
  // and gets nullptr.
  virtual std::unique_ptr<Transport> split(int color, int key) = 0;
};

// Convenience for the common "exchange with one peer" step.
inline void sendrecv(Transport& t, const void* sbuf, std::size_t sbytes, int dst, void* rbuf,
                     std::size_t rbytes, int src, int tag) {
  t.irecv(rbuf, rbytes, src, tag);
  t.isend(sbuf, sbytes, dst, tag);
}

}  // namespace collbench::collectives
