#include "common/rng.hpp"

#include <cmath>

namespace fer {

double SplitMix64::normal() {
  double u1 = uniform();
  double u2 = uniform();
  if (u1 < 1e-300) u1 = 1e-300;  // log(0) guard
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
}

}  // namespace fer
