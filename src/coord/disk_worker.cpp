#include "coord/disk_worker.hpp"

#include <pthread.h>

namespace fer::coord {

DiskWorker::DiskWorker()
    : thread_([this] {
        ::pthread_setname_np(::pthread_self(), "fer-coord-disk");
        loop();
      }) {}

DiskWorker::~DiskWorker() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void DiskWorker::run(std::function<void()> job) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    jobs_.push_back(std::move(job));
  }
  wake_.notify_all();
}

void DiskWorker::loop() {
  while (true) {
    std::function<void()> job;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [&] { return stopping_ || !jobs_.empty(); });
      if (jobs_.empty()) return;  // stopping, nothing left
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    job();
  }
}

}  // namespace fer::coord
