#include "pipeline/batch_loader.hpp"

#include <chrono>
#include <stdexcept>
#include <string>

#include "data/emotions.hpp"
#include "pipeline/augment.hpp"
#include "pipeline/epoch_order.hpp"

namespace fer {

BatchLoader::BatchLoader(SplitReader& reader, LoaderOptions options)
    : reader_(reader),
      options_(std::move(options)),
      views_(options_.training ? 1 : eval_view_count(options_.augment)),
      side_(model_input_size(options_.augment)) {
  if (options_.batch_size < 1 || options_.threads < 1 || options_.prefetch < 1)
    throw std::invalid_argument("BatchLoader: batch_size, threads and prefetch must be >= 1");
  reader_.cache_in_memory();  // shuffled reads through HDF5 cost ~35 us per image
  slots_.resize(static_cast<std::size_t>(options_.prefetch) + 1);
  const auto batch = static_cast<std::size_t>(options_.batch_size);
  for (Slot& slot : slots_) {
    slot.images.resize(batch * views_ * side_ * side_);
    slot.labels.resize(batch);
    slot.indices.resize(batch);
    slot.raw.resize(batch * kImagePixels);
  }
  try {
    for (int t = 0; t < options_.threads; ++t) workers_.emplace_back([this] { worker_loop(); });
  } catch (...) {
    stop_workers();  // the destructor does not run for a half-built object
    throw;
  }
}

BatchLoader::~BatchLoader() {
  stop_workers();
}

void BatchLoader::stop_workers() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  for (auto& worker : workers_)
    if (worker.joinable()) worker.join();
}

std::size_t BatchLoader::epoch_sample_count() const {
  const std::size_t n = options_.limit ? std::min(options_.limit, reader_.size()) : reader_.size();
  const auto world = static_cast<std::size_t>(options_.world);
  if (options_.training) return n == 0 ? 0 : (n + world - 1) / world;
  const auto rank = static_cast<std::size_t>(options_.rank);
  return n > rank ? (n - rank + world - 1) / world : 0;
}

std::size_t BatchLoader::samples_per_epoch() const {
  return epoch_sample_count();
}

std::size_t BatchLoader::steps_per_epoch() const {
  const auto batch = static_cast<std::size_t>(options_.batch_size);
  return (epoch_sample_count() + batch - 1) / batch;
}

void BatchLoader::start_epoch(std::uint64_t epoch, std::size_t first_step) {
  std::unique_lock<std::mutex> lock(mutex_);
  ++generation_;                    // work in flight for the previous epoch is discarded
  total_steps_ = next_to_produce_;  // and no more of it is started
  changed_.wait(lock, [&] { return in_flight_ == 0; });
  std::size_t n = options_.limit ? std::min(options_.limit, reader_.size()) : reader_.size();
  // With a limit, take the first `limit` images of the full epoch order (a subset
  // that changes every epoch), then split across ranks.
  std::vector<std::size_t> full =
      epoch_indices(reader_.size(), options_.seed, epoch, 0, 1, options_.training, false);
  full.resize(n);
  // Training ranks take per-step blocks of one batch (see epoch_indices).
  const std::size_t block = options_.training ? static_cast<std::size_t>(options_.batch_size) : 1;
  std::vector<std::size_t> mine = epoch_indices(n, options_.seed, epoch, options_.rank,
                                                options_.world, false, options_.training, block);
  for (std::size_t& position : mine) position = full[position];
  order_ = std::move(mine);
  epoch_ = epoch;
  total_steps_ = steps_per_epoch();
  next_to_produce_ = released_ = std::min(first_step, total_steps_);
  holding_ = false;
  for (Slot& slot : slots_) slot.ready_step = -1;
  error_ = nullptr;
  lock.unlock();
  changed_.notify_all();
}

void BatchLoader::worker_loop() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (true) {
    changed_.wait(lock, [&] {
      return stopping_ ||
             (next_to_produce_ < total_steps_ && next_to_produce_ < released_ + slots_.size());
    });
    if (stopping_) return;
    const std::size_t step = next_to_produce_++;
    const std::uint64_t generation = generation_, epoch = epoch_;
    Slot& slot = slots_[step % slots_.size()];
    ++in_flight_;
    lock.unlock();
    std::exception_ptr failure;
    try {
      fill(slot, step, epoch);
    } catch (...) {
      failure = std::current_exception();
    }
    lock.lock();
    --in_flight_;
    if (generation == generation_) {
      if (failure) error_ = failure;
      slot.ready_step = static_cast<std::int64_t>(step);
    }
    changed_.notify_all();
  }
}

void BatchLoader::fill(Slot& slot, std::size_t step, std::uint64_t epoch) {
  const auto batch = static_cast<std::size_t>(options_.batch_size);
  const std::size_t begin = step * batch;
  const std::size_t count = std::min(batch, order_.size() - begin);
  slot.size = static_cast<int>(count);
  std::copy_n(order_.begin() + static_cast<std::ptrdiff_t>(begin), count, slot.indices.begin());
  reader_.read(slot.indices.data(), count, slot.raw.data());
  const auto& labels = reader_.labels();
  const std::size_t image_floats = static_cast<std::size_t>(side_) * side_;
  for (std::size_t k = 0; k < count; ++k) {
    slot.labels[k] = labels[slot.indices[k]];
    const std::uint8_t* raw = slot.raw.data() + k * kImagePixels;
    float* out = slot.images.data() + k * views_ * image_floats;
    if (options_.training) {
      SplitMix64 rng(sample_seed(options_.seed, epoch, slot.indices[k]));
      augment_for_training(raw, options_.augment, rng, out);
    } else {
      eval_views(raw, options_.augment, out);
    }
  }
}

std::optional<Batch> BatchLoader::next() {
  std::unique_lock<std::mutex> lock(mutex_);
  if (holding_) {
    ++released_;
    holding_ = false;
    changed_.notify_all();
  }
  if (released_ >= total_steps_) return std::nullopt;
  const std::size_t step = released_;
  Slot& slot = slots_[step % slots_.size()];
  const auto start = std::chrono::steady_clock::now();
  const auto deadline = start + std::chrono::duration<double>(options_.timeout_seconds);
  while (slot.ready_step != static_cast<std::int64_t>(step) && !error_) {
    if (changed_.wait_until(lock, deadline) == std::cv_status::timeout &&
        slot.ready_step != static_cast<std::int64_t>(step) && !error_)
      throw std::runtime_error("data loader: batch " + std::to_string(step) + " not ready after " +
                               std::to_string(options_.timeout_seconds) + " s");
  }
  wait_seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (error_) std::rethrow_exception(error_);
  holding_ = true;
  Batch batch;
  batch.images = slot.images.data();
  batch.labels = slot.labels.data();
  batch.indices = slot.indices.data();
  batch.size = slot.size;
  batch.views = views_;
  batch.side = side_;
  batch.step = step;
  return batch;
}

}  // namespace fer
