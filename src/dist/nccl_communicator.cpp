// The NCCL backend (compiled when CMake finds NCCL and the CUDA runtime; it needs no
// CUDA support in LibTorch to compile, only to be used). One communicator per job;
// every reduction runs on a dedicated stream that first waits, through an event, for
// the work queued on the compute stream (the gradients), and records an event that
// the host polls together with ncclCommGetAsyncError and the deadline.
#include <ATen/ATen.h>
#include <cuda_runtime.h>
#include <nccl.h>

#include <chrono>

#ifdef FER_TORCH_CUDA
#include <c10/cuda/CUDAStream.h>
#endif

#include "dist/communicator_backends.hpp"
#include "dist/polling.hpp"

namespace fer {
namespace {

void check_cuda(cudaError_t code, const char* call, const std::string& what) {
  if (code != cudaSuccess)
    throw DistributedError(std::string(call) + " failed during " + what + ": " +
                           cudaGetErrorString(code));
}

void check_nccl(ncclResult_t code, const char* call, const std::string& what) {
  if (code != ncclSuccess && code != ncclInProgress)
    throw DistributedError(std::string(call) + " failed during " + what + ": " +
                           ncclGetErrorString(code));
}

// The stream LibTorch queues this thread's kernels on. Without CUDA support in
// LibTorch (a build that can never hold CUDA tensors) it is the legacy default stream,
// which is also LibTorch's default.
cudaStream_t compute_stream(int device_index) {
#ifdef FER_TORCH_CUDA
  return c10::cuda::getCurrentCUDAStream(static_cast<c10::DeviceIndex>(device_index)).stream();
#else
  (void)device_index;
  return cudaStreamLegacy;
#endif
}

ncclDataType_t nccl_type(at::ScalarType type) {
  switch (type) {
    case at::kFloat:
      return ncclFloat32;
    case at::kBFloat16:
      return ncclBfloat16;
    case at::kHalf:
      return ncclFloat16;
    case at::kDouble:
      return ncclFloat64;
    case at::kLong:
      return ncclInt64;
    default:
      throw DistributedError(std::string("the nccl backend cannot reduce ") + c10::toString(type) +
                             " tensors");
  }
}

// RAII for a CUDA event.
class Event {
 public:
  Event() {
    check_cuda(cudaEventCreateWithFlags(&event_, cudaEventDisableTiming), "cudaEventCreate",
               "NCCL setup");
  }
  ~Event() { cudaEventDestroy(event_); }
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;
  cudaEvent_t get() const { return event_; }

 private:
  cudaEvent_t event_{};
};

class NcclCommunicator;

class NcclWork : public CommunicationWork {
 public:
  NcclWork(NcclCommunicator& owner, at::Tensor flat, std::string what);
  bool test() override;
  void wait() override;

 private:
  NcclCommunicator& owner_;
  at::Tensor flat_;  // kept alive until the reduction completed
  std::string what_;
  std::unique_ptr<Event> done_;  // created once the right device is current
  bool finished_ = false;
};

class NcclCommunicator : public Communicator {
 public:
  NcclCommunicator(ProcessGroup& group, int device_index)
      : group_(group), device_index_(device_index) {
    int devices = 0;
    check_cuda(cudaGetDeviceCount(&devices), "cudaGetDeviceCount", "NCCL setup");
    if (device_index_ >= devices)
      throw DistributedError("NCCL: local rank " + std::to_string(group.local_rank()) +
                             " wants GPU " + std::to_string(device_index_) + " but this node has " +
                             std::to_string(devices));
    check_cuda(cudaSetDevice(device_index_), "cudaSetDevice", "NCCL setup");
    ncclUniqueId id{};
    if (group.rank() == 0) check_nccl(ncclGetUniqueId(&id), "ncclGetUniqueId", "NCCL setup");
    group.broadcast(&id, sizeof id, 0, "NCCL unique id broadcast");
    // Non-blocking initialisation, so that it too can be given a deadline.
    ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
    config.blocking = 0;
    check_nccl(ncclCommInitRankConfig(&comm_, group.size(), id, group.rank(), &config),
               "ncclCommInitRankConfig", "NCCL setup");
    wait_for_comm("NCCL communicator initialisation");
    check_cuda(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "cudaStreamCreate",
               "NCCL setup");
    ready_ = std::make_unique<Event>();
  }
  ~NcclCommunicator() override {
    if (comm_) {
      ncclCommFinalize(comm_);
      ncclResult_t state = ncclInProgress;
      poll_until(
          [&] {
            return ncclCommGetAsyncError(comm_, &state) != ncclSuccess || state != ncclInProgress;
          },
          group_.timeout());
      ncclCommDestroy(comm_);
    }
    if (stream_) cudaStreamDestroy(stream_);
  }

  std::string describe() const override {
    return nccl_version_text() + " on cuda:" + std::to_string(device_index_);
  }
  bool supports(at::ScalarType type) const override {
    return type == at::kFloat || type == at::kBFloat16 || type == at::kHalf ||
           type == at::kDouble || type == at::kLong;
  }
  std::unique_ptr<CommunicationWork> start_average(at::Tensor flat,
                                                   const std::string& what) override {
    return std::make_unique<NcclWork>(*this, std::move(flat), what);
  }
  void broadcast(at::Tensor flat, int root, const std::string& what) override {
    order_after_compute(what);
    check_nccl(ncclBroadcast(flat.data_ptr(), flat.data_ptr(), static_cast<size_t>(flat.numel()),
                             nccl_type(flat.scalar_type()), root, comm_, stream_),
               "ncclBroadcast", what);
    Event done;
    check_cuda(cudaEventRecord(done.get(), stream_), "cudaEventRecord", what);
    wait_for_event(done.get(), what);
  }

  // The reduction stream waits for everything queued so far on the compute stream.
  // (Gradient hooks may run on one of LibTorch's autograd threads: set the device.)
  void order_after_compute(const std::string& what) {
    check_cuda(cudaSetDevice(device_index_), "cudaSetDevice", what);
    check_cuda(cudaEventRecord(ready_->get(), compute_stream(device_index_)), "cudaEventRecord",
               what);
    check_cuda(cudaStreamWaitEvent(stream_, ready_->get(), 0), "cudaStreamWaitEvent", what);
  }
  void enqueue_average(at::Tensor& flat, cudaEvent_t done, const std::string& what) {
    order_after_compute(what);
    check_nccl(ncclAllReduce(flat.data_ptr(), flat.data_ptr(), static_cast<size_t>(flat.numel()),
                             nccl_type(flat.scalar_type()), ncclAvg, comm_, stream_),
               "ncclAllReduce", what);
    check_cuda(cudaEventRecord(done, stream_), "cudaEventRecord", what);
  }
  // Polls the event and NCCL's asynchronous error state until done or the deadline;
  // then the compute stream waits for the result.
  void wait_for_event(cudaEvent_t done, const std::string& what) {
    cudaError_t state = cudaErrorNotReady;
    ncclResult_t async = ncclSuccess;
    const auto start = std::chrono::steady_clock::now();
    auto next_liveness_check = start + std::chrono::seconds(1);
    bool finished = false;
    try {
      finished = poll_until(
          [&] {
            state = cudaEventQuery(done);
            ncclCommGetAsyncError(comm_, &async);
            if (state != cudaErrorNotReady || (async != ncclSuccess && async != ncclInProgress))
              return true;
            if (const auto now = std::chrono::steady_clock::now(); now >= next_liveness_check) {
              next_liveness_check = now + std::chrono::seconds(1);
              group_.check_liveness("NCCL " + what,
                                    std::chrono::duration<double>(now - start).count());
            }
            return false;
          },
          group_.timeout());
    } catch (const DistributedError&) {
      ncclCommAbort(comm_);  // a stopped peer never joins: the reduction is abandoned
      comm_ = nullptr;
      throw;
    }
    if (async != ncclSuccess && async != ncclInProgress) {
      ncclCommAbort(comm_);
      comm_ = nullptr;
      throw DistributedError("NCCL reported an asynchronous error during " + what + ": " +
                             ncclGetErrorString(async) + " (" + group_.label() + ")");
    }
    if (!finished) {
      ncclCommAbort(comm_);
      comm_ = nullptr;
      throw DistributedError("timed out after " +
                             std::to_string(static_cast<int>(group_.timeout())) +
                             " s (dist.timeout_seconds) in NCCL " + what + " on " + group_.label() +
                             ": another rank did not join the reduction");
    }
    check_cuda(state, "cudaEventQuery", what);
    check_cuda(cudaStreamWaitEvent(compute_stream(device_index_), done, 0), "cudaStreamWaitEvent",
               what);
  }

 private:
  void wait_for_comm(const std::string& what) {
    ncclResult_t state = ncclInProgress;
    const bool finished = poll_until(
        [&] {
          check_nccl(ncclCommGetAsyncError(comm_, &state), "ncclCommGetAsyncError", what);
          return state != ncclInProgress;
        },
        group_.timeout());
    if (!finished) {
      ncclCommAbort(comm_);
      comm_ = nullptr;
      throw DistributedError("timed out in " + what + " on " + group_.label());
    }
    check_nccl(state, "NCCL", what);
  }

  ProcessGroup& group_;
  int device_index_;
  ncclComm_t comm_ = nullptr;
  cudaStream_t stream_ = nullptr;
  std::unique_ptr<Event> ready_;
};

NcclWork::NcclWork(NcclCommunicator& owner, at::Tensor flat, std::string what)
    : owner_(owner), flat_(std::move(flat)), what_(std::move(what)) {
  check_cuda(cudaSetDevice(flat_.get_device()), "cudaSetDevice", what_);
  done_ = std::make_unique<Event>();
  owner_.enqueue_average(flat_, done_->get(), what_);
}

bool NcclWork::test() {
  return finished_ || cudaEventQuery(done_->get()) != cudaErrorNotReady;
}

void NcclWork::wait() {
  if (finished_) return;
  owner_.wait_for_event(done_->get(), what_);
  finished_ = true;
}

}  // namespace

std::string nccl_version_text() {
  int version = 0;
  ncclGetVersion(&version);
  // NCCL >= 2.9 encodes major*10000 + minor*100 + patch.
  return "nccl " + std::to_string(version / 10000) + "." + std::to_string(version / 100 % 100) +
         "." + std::to_string(version % 100);
}

std::unique_ptr<Communicator> make_nccl_communicator(ProcessGroup& group, int device_index) {
  return std::make_unique<NcclCommunicator>(group, device_index);
}

}  // namespace fer
