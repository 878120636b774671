#include "predict/prediction.hpp"

#include <algorithm>
#include <numeric>

namespace fer {

std::vector<int> top_emotions(const Probabilities& probabilities, int k) {
  std::vector<int> ids(kNumEmotions);
  std::iota(ids.begin(), ids.end(), 0);
  std::stable_sort(ids.begin(), ids.end(), [&](int a, int b) {
    return probabilities[static_cast<std::size_t>(a)] > probabilities[static_cast<std::size_t>(b)];
  });
  ids.resize(static_cast<std::size_t>(std::clamp(k, 0, kNumEmotions)));
  return ids;
}

}  // namespace fer
