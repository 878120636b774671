#pragma once
// Which images a rank sees in an epoch, and in what order.

#include <cstddef>
#include <cstdint>
#include <vector>

namespace fer {

// Training: one seeded permutation of [0, n) per (seed, epoch), the same on every
// rank, padded by wrapping around to a multiple of `world` (at most world - 1 images
// are seen twice in an epoch); rank r takes positions r, r + world, ... So every rank
// gets exactly ceil(n / world) images and the same number of steps: uneven data can
// never leave one rank waiting in a collective.
// Evaluation (shuffle = false, pad = false): rank r takes r, r + world, ... < n, so
// every image is counted exactly once across ranks.
std::vector<std::size_t> epoch_indices(std::size_t n, std::uint64_t seed, std::uint64_t epoch,
                                       int rank, int world, bool shuffle, bool pad);

// A per-sample seed from (seed, epoch, image index): augmentation is a function of
// these alone, not of thread scheduling or rank count.
std::uint64_t sample_seed(std::uint64_t seed, std::uint64_t epoch, std::size_t index);

}  // namespace fer
