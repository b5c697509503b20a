#include "collectives/nccl/cuda_device_ops.h"

#include <cuda_runtime.h>

#include <string>
#include <vector>

#include "collectives/nccl/cuda_kernels.h"
#include "collectives/nccl/nccl_api.h"

namespace collbench::collectives {
namespace {

Status launched(cudaError_t e, const char* what) {
  if (e == cudaSuccess) return Status::Ok();
  return Status::Failure(where() + what + " failed: " + cuda_error_text(e));
}

CommResult polled(cudaError_t e, const char* what) {
  if (e == cudaSuccess) return CommResult::Ok();
  if (e == cudaErrorNotReady) return CommResult::InProgress();
  return CommResult::Error(std::string(what) + ": " + cuda_error_text(e));
}

class CudaDeviceOps final : public DeviceOps {
 public:
  explicit CudaDeviceOps(int device) : device_(device) {
    CB_CUDA_CHECK(cudaSetDevice(device_));
    CB_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
    CB_CUDA_CHECK(cudaMalloc(reinterpret_cast<void**>(&d_check_), sizeof(*d_check_)));
    CB_CUDA_CHECK(cudaMallocHost(reinterpret_cast<void**>(&h_check_), sizeof(*h_check_)));
    int l2 = 0;
    CB_CUDA_CHECK(cudaDeviceGetAttribute(&l2, cudaDevAttrL2CacheSize, device_));
    l2_bytes_ = static_cast<std::size_t>(l2 > 0 ? l2 : 0);
  }
  ~CudaDeviceOps() override {
    for (cudaEvent_t e : events_) cudaEventDestroy(e);
    if (d_check_) cudaFree(d_check_);
    if (h_check_) cudaFreeHost(h_check_);
    if (stream_) cudaStreamDestroy(stream_);
  }
  CudaDeviceOps(const CudaDeviceOps&) = delete;
  CudaDeviceOps& operator=(const CudaDeviceOps&) = delete;

  StreamHandle stream() const override { return stream_; }
  int device() const override { return device_; }

  Status copy(void* dst, const void* src, std::size_t bytes) override {
    return launched(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, stream_),
                    "cudaMemcpyAsync (device to device)");
  }
  Status upload(void* dst, const void* host, std::size_t bytes) override {
    return launched(cudaMemcpyAsync(dst, host, bytes, cudaMemcpyHostToDevice, stream_),
                    "cudaMemcpyAsync (host to device)");
  }
  Status download(void* host, const void* src, std::size_t bytes) override {
    return launched(cudaMemcpyAsync(host, src, bytes, cudaMemcpyDeviceToHost, stream_),
                    "cudaMemcpyAsync (device to host)");
  }
  Status reduce(void* inout, const void* in, std::size_t count, DType t, ReduceOp op) override {
    return launched(cuda::reduce(inout, in, count, t, op, stream_), "the reduction kernel");
  }
  Status fill_input(void* buf, const CollectiveArgs& a, int rank, int ranks,
                    std::uint64_t seed) override {
    return launched(cuda::fill_input(buf, a, rank, ranks, seed, stream_), "the device fill kernel");
  }
  Status fill_sentinel(void* buf, const CollectiveArgs& a, int rank, int ranks) override {
    return launched(cuda::fill_sentinel(buf, a, rank, ranks, stream_), "the device sentinel fill");
  }
  Status add_to_element(void* buf, std::size_t index, DType t, double delta) override {
    return launched(cuda::add_to_element(buf, index, t, delta, stream_), "the corrupt hook");
  }
  Status check_output(const void* buf, const CollectiveArgs& a, int rank, int ranks,
                      std::uint64_t seed) override {
    Status st = launched(cuda::check_output(buf, a, rank, ranks, seed, d_check_, stream_),
                         "the device check kernel");
    // Only the counts come back (32 bytes), never the buffer.
    if (st.ok())
      st = launched(
          cudaMemcpyAsync(h_check_, d_check_, sizeof(*h_check_), cudaMemcpyDeviceToHost, stream_),
          "copying the check counts to the host");
    return st;
  }
  CheckResult check_result() override {
    CheckResult r;
    r.wrong = h_check_->wrong;
    if (r.wrong) {
      r.first_wrong = static_cast<std::int64_t>(h_check_->first_wrong);
      r.first_expected = h_check_->first_expected;
      r.first_actual = h_check_->first_actual;
    }
    return r;
  }
  CommResult query() override {
    return polled(cudaStreamQuery(stream_), "the GPU work on this rank's stream failed");
  }

  Status record(std::size_t event, bool capturing) override {
    if (Status st = ensure_event(event); !st.ok()) return st;
    // External: a real node of the graph being captured (a plain record only orders capture).
    return launched(
        cudaEventRecordWithFlags(events_[event], stream_,
                                 capturing ? cudaEventRecordExternal : cudaEventRecordDefault),
        "cudaEventRecord");
  }
  CommResult event_state(std::size_t event) override {
    if (event >= events_.size()) return CommResult::Error("event never recorded");
    return polled(cudaEventQuery(events_[event]), "the GPU work before an event failed");
  }
  Status elapsed_s(std::size_t start, std::size_t stop, double* seconds) override {
    if (start >= events_.size() || stop >= events_.size())
      return Status::Failure("cudaEventElapsedTime of an event never recorded");
    float ms = 0;
    Status st =
        launched(cudaEventElapsedTime(&ms, events_[start], events_[stop]), "cudaEventElapsedTime");
    *seconds = static_cast<double>(ms) * 1e-3;
    return st;
  }

  Status begin_capture() override {
    Status st = launched(cudaStreamBeginCapture(stream_, cudaStreamCaptureModeThreadLocal),
                         "cudaStreamBeginCapture");
    capturing_ = st.ok();
    return st;
  }
  Status end_capture(void** graph) override {
    *graph = nullptr;
    cudaGraph_t g = nullptr;
    capturing_ = false;
    Status st = launched(cudaStreamEndCapture(stream_, &g), "cudaStreamEndCapture");
    if (!st.ok()) {
      st.message += " (an operation of this algorithm cannot be captured)";
      (void)cudaGetLastError();
    }
    cudaGraphExec_t exec = nullptr;
    if (st.ok()) st = launched(cudaGraphInstantiate(&exec, g, 0), "cudaGraphInstantiate");
    if (g) cudaGraphDestroy(g);
    if (st.ok()) st = launched(cudaGraphUpload(exec, stream_), "cudaGraphUpload");
    if (!st.ok()) {
      if (exec) cudaGraphExecDestroy(exec);
      return st;
    }
    *graph = exec;
    return st;
  }
  Status launch(void* graph) override {
    return launched(cudaGraphLaunch(static_cast<cudaGraphExec_t>(graph), stream_),
                    "cudaGraphLaunch");
  }
  void destroy_graph(void* graph) override {
    if (graph) cudaGraphExecDestroy(static_cast<cudaGraphExec_t>(graph));
  }
  bool capturing() const override { return capturing_; }

  Buffer allocate(std::size_t bytes) override {
    // Never null, even for zero bytes: algorithms may form pointers into empty buffers.
    const std::size_t rounded = bytes == 0 ? 256 : bytes;
    void* p = nullptr;
    cudaError_t e = cudaMalloc(&p, rounded);
    if (e != cudaSuccess) {
      (void)cudaGetLastError();
      throw Error(where() + "cudaMalloc of " + std::to_string(bytes) + " bytes on GPU " +
                  std::to_string(device_) + " failed: " + cuda_error_text(e) +
                  "; lower --max-bytes");
    }
    // Zeroed on the stream everything else uses, so nothing reads it uninitialised (the offsets
    // the timed iterations rotate through are never filled otherwise) and nothing waits here.
    e = cudaMemsetAsync(p, 0, rounded, stream_);
    if (e != cudaSuccess) {
      cudaFree(p);
      throw_cuda_error(e, "cudaMemsetAsync", __FILE__, __LINE__);
    }
    return Buffer(p, bytes, [](void* q) { cudaFree(q); });
  }
  std::size_t cache_bytes() const override { return l2_bytes_; }

 private:
  Status ensure_event(std::size_t i) {
    while (events_.size() <= i) {
      cudaEvent_t e = nullptr;
      if (Status st = launched(cudaEventCreate(&e), "cudaEventCreate"); !st.ok()) return st;
      events_.push_back(e);
    }
    return Status::Ok();
  }

  int device_;
  cudaStream_t stream_ = nullptr;
  std::size_t l2_bytes_ = 0;
  bool capturing_ = false;
  std::vector<cudaEvent_t> events_;
  cuda::DeviceCheck* d_check_ = nullptr;
  cuda::DeviceCheck* h_check_ = nullptr;  // pinned
};

}  // namespace

std::shared_ptr<DeviceOps> make_cuda_device_ops(int device) {
  return std::make_shared<CudaDeviceOps>(device);
}

}  // namespace collbench::collectives
