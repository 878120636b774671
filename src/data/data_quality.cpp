#include "data/data_quality.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <numeric>
#include <sstream>
#include <string_view>
#include <unordered_map>

#include "common/text.hpp"

namespace fer {
namespace {

constexpr std::size_t kExamplesKept = 5;
constexpr Split kOtherSplits[] = {Split::kVal, Split::kTest};

std::string_view pixels_of(const ImageSet& images, std::size_t i) {
  return {reinterpret_cast<const char*>(images.image(i)), kImagePixels};
}

// Sets of identical images (every image is in exactly one set; most sets have one).
std::vector<std::vector<std::size_t>> identical_sets(const ImageSet& images) {
  std::unordered_map<std::size_t, std::vector<std::size_t>> by_hash;
  by_hash.reserve(images.size());
  const std::hash<std::string_view> hash;
  for (std::size_t i = 0; i < images.size(); ++i) by_hash[hash(pixels_of(images, i))].push_back(i);
  std::vector<std::vector<std::size_t>> sets;
  sets.reserve(by_hash.size());
  for (auto& [key, bucket] : by_hash) {
    // A hash collision must not merge different images: split the bucket exactly.
    while (!bucket.empty()) {
      const std::string_view first = pixels_of(images, bucket.front());
      std::vector<std::size_t> same, rest;
      for (std::size_t i : bucket) (pixels_of(images, i) == first ? same : rest).push_back(i);
      sets.push_back(std::move(same));
      bucket = std::move(rest);
    }
  }
  // Deterministic order (the map's is not): by first member.
  for (auto& set : sets) std::sort(set.begin(), set.end());
  std::sort(sets.begin(), sets.end());
  return sets;
}

double pixel_std(const std::uint8_t* pixels) {
  double sum = 0, sum_squares = 0;
  for (std::size_t i = 0; i < kImagePixels; ++i) {
    sum += pixels[i];
    sum_squares += static_cast<double>(pixels[i]) * pixels[i];
  }
  const double mean = sum / kImagePixels;
  return std::sqrt(std::max(0.0, sum_squares / kImagePixels - mean * mean));
}

bool is_blank(const std::uint8_t* pixels) {
  return pixel_std(pixels) < kBlankPixelStd;
}

std::string describe(const ImageSet& images, std::size_t i) {
  return images.sources[i] + " (" + std::string(kEmotionNames[images.labels[i]]) + ")";
}

void keep_example(std::vector<std::string>& examples, std::string text) {
  if (examples.size() < kExamplesKept) examples.push_back(std::move(text));
}

struct SetMembers {
  std::array<std::vector<std::size_t>, kNumSplits> by_split;
  const std::vector<std::size_t>& in(Split s) const { return by_split[static_cast<int>(s)]; }
};

SetMembers members_by_split(const ImageSet& images, const std::vector<std::size_t>& set) {
  SetMembers members;
  for (std::size_t i : set) members.by_split[static_cast<int>(images.splits[i])].push_back(i);
  return members;
}

// The first member whose label differs from the first member's, or end().
std::vector<std::size_t>::const_iterator first_other_label(
    const ImageSet& images, const std::vector<std::size_t>& members) {
  return std::find_if(members.begin(), members.end(), [&](std::size_t i) {
    return images.labels[i] != images.labels[members.front()];
  });
}

bool labels_conflict(const ImageSet& images, const std::vector<std::size_t>& members) {
  return first_other_label(images, members) != members.end();
}

// Walks every identical set once; `visit(members)` sees the sets of >= 2 images.
template <typename Visit>
void for_each_repeated_set(const ImageSet& images, Visit visit) {
  for (const auto& set : identical_sets(images))
    if (set.size() > 1) visit(members_by_split(images, set));
}

}  // namespace

QualityReport assess_quality(const ImageSet& images) {
  QualityReport report;
  for_each_repeated_set(images, [&](const SetMembers& members) {
    for (int s = 0; s < kNumSplits; ++s) {
      const auto& in_split = members.by_split[s];
      if (in_split.size() < 2) continue;
      DuplicateCounts& counts = report.within[s];
      ++counts.groups;
      counts.images += in_split.size();
      if (const auto other = first_other_label(images, in_split); other != in_split.end()) {
        ++counts.conflicting_groups;
        counts.conflicting_images += in_split.size();
        keep_example(report.conflict_examples,
                     describe(images, in_split.front()) + " = " + describe(images, *other));
      }
    }
    const auto& train = members.in(Split::kTrain);
    if (train.empty()) return;
    for (Split other : kOtherSplits) {
      const auto& in_other = members.in(other);
      if (in_other.empty()) continue;
      const int s = static_cast<int>(other);
      ++report.shared_with_train[s];
      report.train_images_shared[s] += train.size();
      report.split_images_shared[s] += in_other.size();
      keep_example(report.leak_examples, "train " + images.sources[train.front()] + " = " +
                                             std::string(split_name(other)) + " " +
                                             images.sources[in_other.front()]);
    }
  });
  for (std::size_t i = 0; i < images.size(); ++i)
    if (is_blank(images.image(i))) {
      ++report.blank[static_cast<int>(images.splits[i])];
      const std::uint8_t* pixels = images.image(i);
      const double mean =
          std::accumulate(pixels, pixels + kImagePixels, 0.0) / static_cast<double>(kImagePixels);
      char values[48];
      std::snprintf(values, sizeof values, " (mean %.1f, std %.2f)", mean, pixel_std(pixels));
      keep_example(report.blank_examples, images.sources[i] + values);
    }
  return report;
}

void drop_flagged_training_images(ImageSet& images, QualityReport& report) {
  std::vector<bool> keep(images.size(), true);
  // Each dropped image is counted once, under the first reason that applies.
  for_each_repeated_set(images, [&](const SetMembers& members) {
    const auto& train = members.in(Split::kTrain);
    if (train.empty()) return;
    const bool leaks = !members.in(Split::kVal).empty() || !members.in(Split::kTest).empty();
    if (!leaks && !labels_conflict(images, train)) return;
    for (std::size_t i : train) keep[i] = false;
    (leaks ? report.dropped_leaks : report.dropped_conflicting) += train.size();
  });
  for (std::size_t i = 0; i < images.size(); ++i)
    if (keep[i] && images.splits[i] == Split::kTrain && is_blank(images.image(i))) {
      keep[i] = false;
      ++report.dropped_blank;
    }
  images.filter(keep);
  report.deduplicated = true;
}

nlohmann::json quality_to_json(const QualityReport& report) {
  nlohmann::json within = nlohmann::json::object(), shared = nlohmann::json::object(),
                 blank = nlohmann::json::object();
  for (int s = 0; s < kNumSplits; ++s) {
    const std::string name(split_name(static_cast<Split>(s)));
    const DuplicateCounts& d = report.within[s];
    within[name] = {{"groups", d.groups},
                    {"images", d.images},
                    {"conflicting_groups", d.conflicting_groups},
                    {"conflicting_images", d.conflicting_images}};
    blank[name] = report.blank[s];
    if (s != static_cast<int>(Split::kTrain))
      shared["train_" + name] = {{"distinct_images", report.shared_with_train[s]},
                                 {"train_images", report.train_images_shared[s]},
                                 {name + "_images", report.split_images_shared[s]}};
  }
  nlohmann::json json = {{"identical_within_split", within},
                         {"identical_across_splits", shared},
                         {"blank", blank},
                         {"blank_pixel_std_below", kBlankPixelStd},
                         {"examples",
                          {{"conflicting", report.conflict_examples},
                           {"leaks", report.leak_examples},
                           {"blank", report.blank_examples}}},
                         {"deduplicated", report.deduplicated}};
  if (report.deduplicated)
    json["dropped_from_train"] = {{"leaks", report.dropped_leaks},
                                  {"conflicting_labels", report.dropped_conflicting},
                                  {"blank", report.dropped_blank}};
  return json;
}

std::string quality_to_text(const QualityReport& report) {
  std::ostringstream out;
  const auto count = [](std::size_t n) { return with_thousands(static_cast<long long>(n)); };
  out << "data quality (identical = same pixels):\n";
  for (int s = 0; s < kNumSplits; ++s) {
    const DuplicateCounts& d = report.within[s];
    const auto split = static_cast<Split>(s);
    if (d.groups == 0 && report.blank[s] == 0) continue;
    out << "  " << split_name(split) << ": " << count(d.groups) << " sets of identical images ("
        << count(d.images) << " images), " << count(d.conflicting_groups)
        << " of them with conflicting labels (" << count(d.conflicting_images) << " images); "
        << count(report.blank[s]) << " blank\n";
  }
  for (Split other : kOtherSplits) {
    const int s = static_cast<int>(other);
    if (report.shared_with_train[s] == 0) continue;
    out << "  leakage: " << count(report.shared_with_train[s])
        << " distinct images in both train and " << split_name(other) << " ("
        << count(report.train_images_shared[s]) << " train images, "
        << count(report.split_images_shared[s]) << " " << split_name(other) << " images)\n";
  }
  for (const auto& e : report.conflict_examples) out << "    conflicting: " << e << "\n";
  for (const auto& e : report.leak_examples) out << "    leak: " << e << "\n";
  for (const auto& e : report.blank_examples) out << "    blank: " << e << "\n";
  if (report.deduplicated)
    out << "  --dedupe dropped from train: " << count(report.dropped_leaks)
        << " leaking into val/test, " << count(report.dropped_conflicting)
        << " with conflicting labels, " << count(report.dropped_blank) << " blank\n";
  else if (report.shared_with_train[1] || report.shared_with_train[2] ||
           report.within[0].conflicting_groups || report.blank[0])
    out << "  (--dedupe drops the leaking, conflicting and blank images from train)\n";
  return out.str();
}

}  // namespace fer
