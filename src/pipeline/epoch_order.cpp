#include "pipeline/epoch_order.hpp"

#include <numeric>
#include <stdexcept>
#include <string>

#include "common/rng.hpp"

namespace fer {

std::vector<std::size_t> epoch_indices(std::size_t n, std::uint64_t seed, std::uint64_t epoch,
                                       int rank, int world, bool shuffle, bool pad,
                                       std::size_t block) {
  if (world < 1 || rank < 0 || rank >= world || block == 0)
    throw std::invalid_argument("epoch_indices: rank " + std::to_string(rank) + " of world " +
                                std::to_string(world));
  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), std::size_t{0});
  if (shuffle) {
    SplitMix64 rng(sample_seed(seed, epoch, ~std::size_t{0}));
    deterministic_shuffle(order, rng);
  }
  const auto w = static_cast<std::size_t>(world);
  const std::size_t padded = pad && n > 0 ? (n + w - 1) / w * w : n;
  std::vector<std::size_t> mine;
  mine.reserve(padded / w + 1);
  const auto r = static_cast<std::size_t>(rank);
  const std::size_t global_block = block * w;
  const std::size_t whole_steps_end = padded / global_block * global_block;
  for (std::size_t start = r * block; start < whole_steps_end; start += global_block)
    for (std::size_t k = 0; k < block; ++k) mine.push_back(order[(start + k) % n]);
  for (std::size_t position = whole_steps_end + r; position < padded; position += w)
    mine.push_back(order[position % n]);
  return mine;
}

std::uint64_t sample_seed(std::uint64_t seed, std::uint64_t epoch, std::size_t index) {
  SplitMix64 mix(seed);
  std::uint64_t value = mix.next() ^ (epoch * 0x9E3779B97F4A7C15ULL);
  SplitMix64 second(value);
  value = second.next() ^ (static_cast<std::uint64_t>(index) * 0xD1B54A32D192ED03ULL);
  return SplitMix64(value).next();
}

}  // namespace fer
