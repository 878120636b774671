#pragma once
// One thread for the coordinator's slow disk work (the fsync of a whole checkpoint), so
// that the network thread keeps serving every other rank meanwhile. Jobs run in the
// order given; a job posts its own completion back to the io_context. The destructor
// runs what is queued, then joins.

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

namespace fer::coord {

class DiskWorker {
 public:
  DiskWorker();
  ~DiskWorker();
  DiskWorker(const DiskWorker&) = delete;
  DiskWorker& operator=(const DiskWorker&) = delete;
  void run(std::function<void()> job);

 private:
  void loop();
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> jobs_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace fer::coord
