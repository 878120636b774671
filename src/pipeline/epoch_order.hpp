#pragma once
// Which images a rank sees in an epoch, and in what order.

#include <cstddef>
#include <cstdint>
#include <vector>

namespace fer {

// Training: one seeded permutation of [0, n) per (seed, epoch), the same on every
// rank, padded by wrapping around to a multiple of `world` (at most world - 1 images
// are seen twice in an epoch). Global step s covers positions [s*B, (s+1)*B) with
// B = block * world, and rank r takes the r-th run of `block` positions in it; the
// positions after the last whole global step are dealt out one by one (r, r + world,
// ...). So every rank gets exactly ceil(n / world) images and the same number of
// steps (uneven data can never leave one rank waiting in a collective), and with
// block = the per-rank batch, rank r's batch of step s is exactly micro-batch r of
// a one-rank run with `world` accumulated micro-batches: the two train identically.
// Evaluation (shuffle = false, pad = false): rank r takes r, r + world, ... < n, so
// every image is counted exactly once across ranks.
std::vector<std::size_t> epoch_indices(std::size_t n, std::uint64_t seed, std::uint64_t epoch,
                                       int rank, int world, bool shuffle, bool pad,
                                       std::size_t block = 1);

// A per-sample seed from (seed, epoch, image index): augmentation is a function of
// these alone, not of thread scheduling or rank count.
std::uint64_t sample_seed(std::uint64_t seed, std::uint64_t epoch, std::size_t index);

}  // namespace fer
