// Shard reader benchmark: images/s reading a whole split into a reused buffer, into
// fresh memory each pass (what a careless loader does), and by shuffled indices in
// batches (what the training loader does). Prints medians over repeats.
//   fer-bench-reader shards/NAME [train|val|test] [repeats]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "common/rng.hpp"
#include "data/shard_reader.hpp"

namespace {

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

template <typename F>
double seconds_of(F&& body) {
  const auto start = std::chrono::steady_clock::now();
  body();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s SHARD_DIR [train|val|test] [repeats]\n", argv[0]);
    return 2;
  }
  const std::string split_name = argc > 2 ? argv[2] : "train";
  const int repeats = argc > 3 ? std::stoi(argv[3]) : 9;
  fer::ShardDataset dataset(argv[1], {/*verify_checksums=*/false});  // reading is measured
  const auto split = fer::split_from_name(split_name);
  if (!split) return 2;
  fer::SplitReader& reader = dataset.split(*split);
  const std::size_t n = reader.size();
  std::vector<std::uint8_t> buffer(n * fer::kImagePixels);
  reader.read_range(0, n, buffer.data());  // warm the page cache

  std::vector<double> reused, fresh, shuffled;
  std::vector<std::size_t> order(n);
  for (std::size_t i = 0; i < n; ++i) order[i] = i;
  constexpr std::size_t kBatch = 64;
  std::vector<std::uint8_t> batch(kBatch * fer::kImagePixels);
  for (int r = 0; r < repeats; ++r) {
    reused.push_back(n / seconds_of([&] { reader.read_range(0, n, buffer.data()); }));
    fresh.push_back(n / seconds_of([&] {
                      std::vector<std::uint8_t> scratch(n * fer::kImagePixels);
                      reader.read_range(0, n, scratch.data());
                    }));
    fer::SplitMix64 rng(static_cast<std::uint64_t>(r));
    fer::deterministic_shuffle(order, rng);
    shuffled.push_back(n / seconds_of([&] {
                         for (std::size_t k = 0; k < n; k += kBatch)
                           reader.read(order.data() + k, std::min(kBatch, n - k), batch.data());
                       }));
  }
  std::vector<double> cached;
  reader.cache_in_memory();
  for (int r = 0; r < repeats; ++r) {
    fer::SplitMix64 rng(static_cast<std::uint64_t>(r));
    fer::deterministic_shuffle(order, rng);
    cached.push_back(n / seconds_of([&] {
                       for (std::size_t k = 0; k < n; k += kBatch)
                         reader.read(order.data() + k, std::min(kBatch, n - k), batch.data());
                     }));
  }
  std::printf("reader: %s split '%s': %zu images in %zu shards, %d repeats (median)\n", argv[1],
              split_name.c_str(), n, dataset.manifest().split(*split).shards.size(), repeats);
  std::printf("  whole split, reused buffer   %12.0f images/s\n", median(reused));
  std::printf("  whole split, fresh buffer    %12.0f images/s   (reused / fresh = %.1fx)\n",
              median(fresh), median(reused) / median(fresh));
  std::printf("  shuffled batches of %zu       %12.0f images/s\n", kBatch, median(shuffled));
  std::printf("  shuffled batches, in memory  %12.0f images/s   (cache_in_memory)\n",
              median(cached));
  return 0;
}
