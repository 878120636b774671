#pragma once
// Background threads read (from the in-memory split) and augment the next batches
// while the model trains on the current one. Buffers are allocated once and reused
// (fresh memory costs ~12 us per 4 KiB page on these VMs).

#include <condition_variable>
#include <cstdint>
#include <exception>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "config/train_config.hpp"
#include "data/shard_reader.hpp"

namespace fer {

struct LoaderOptions {
  int batch_size = 64;
  bool training = true;  // augment + shuffle + pad + drop the last partial batch
  int threads = 1;
  int prefetch = 4;  // batches ready ahead of the consumer
  std::uint64_t seed = 1;
  int rank = 0;
  int world = 1;
  std::size_t limit = 0;  // 0: all images of the split; else the first `limit` of each epoch
  AugmentConfig augment;
  double timeout_seconds = 600;  // a batch not ready by then is an error, never a hang
};

// One batch: images [size][views][side][side] normalised floats, labels [size].
struct Batch {
  const float* images = nullptr;
  const std::int64_t* labels = nullptr;
  const std::size_t* indices = nullptr;  // image index within the split of each sample
  int size = 0;
  int views = 1;
  int side = 48;
  std::size_t step = 0;
};

class BatchLoader {
 public:
  BatchLoader(SplitReader& reader, LoaderOptions options);
  ~BatchLoader();
  BatchLoader(const BatchLoader&) = delete;
  BatchLoader& operator=(const BatchLoader&) = delete;

  std::size_t steps_per_epoch() const;
  std::size_t samples_per_epoch() const;
  // Starts epoch `epoch` at `first_step` (to resume inside an epoch).
  void start_epoch(std::uint64_t epoch, std::size_t first_step = 0);
  // The next batch, or nullopt at the end of the epoch. The memory of the previous
  // batch is reused from this call on. Rethrows a worker's exception.
  std::optional<Batch> next();
  // Seconds the consumer has spent waiting for batches (data-loading stall).
  double wait_seconds() const { return wait_seconds_; }

 private:
  struct Slot {
    std::vector<float> images;
    std::vector<std::int64_t> labels;
    std::vector<std::size_t> indices;
    std::vector<std::uint8_t> raw;
    int size = 0;
    std::int64_t ready_step = -1;
  };
  void worker_loop();
  void stop_workers();
  void fill(Slot& slot, std::size_t step, std::uint64_t epoch);
  std::size_t epoch_sample_count() const;

  SplitReader& reader_;
  LoaderOptions options_;
  int views_;
  int side_;
  std::vector<Slot> slots_;
  std::vector<std::thread> workers_;

  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<std::size_t> order_;  // this rank's images for the current epoch
  std::uint64_t epoch_ = 0;
  std::uint64_t generation_ = 0;
  std::size_t total_steps_ = 0;
  std::size_t next_to_produce_ = 0;
  std::size_t released_ = 0;  // steps the consumer is done with
  bool holding_ = false;      // the consumer holds step `released_`
  int in_flight_ = 0;
  bool stopping_ = false;
  std::exception_ptr error_;
  double wait_seconds_ = 0;
};

}  // namespace fer
