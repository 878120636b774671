#include "data/emotions.hpp"

#include <utility>

#include "common/text.hpp"

namespace fer {
namespace {

constexpr std::pair<std::string_view, std::uint8_t> kEmotionAliases[] = {
    {"angry", 0},    {"anger", 0},     {"disgust", 1},   {"disgusted", 1}, {"fear", 2},
    {"fearful", 2},  {"happy", 3},     {"happiness", 3}, {"sad", 4},       {"sadness", 4},
    {"surprise", 5}, {"surprised", 5}, {"neutral", 6}};

}  // namespace

std::optional<std::uint8_t> emotion_from_name(std::string_view name) {
  const std::string lower = to_lower(trim(name));
  for (const auto& [alias, id] : kEmotionAliases)
    if (lower == alias) return id;
  return std::nullopt;
}

std::string accepted_emotion_names() {
  std::string names;
  for (const auto& [alias, id] : kEmotionAliases) {
    if (!names.empty()) names += ", ";
    names += alias;
  }
  return names;
}

std::optional<Split> split_from_name(std::string_view name) {
  const std::string lower = to_lower(trim(name));
  if (lower == "train" || lower == "training") return Split::kTrain;
  if (lower == "val" || lower == "validation" || lower == "valid") return Split::kVal;
  if (lower == "test") return Split::kTest;
  return std::nullopt;
}

std::optional<Split> split_from_usage(std::string_view usage) {
  usage = trim(usage);
  if (usage == "Training") return Split::kTrain;
  if (usage == "PublicTest") return Split::kVal;
  if (usage == "PrivateTest") return Split::kTest;
  return std::nullopt;
}

}  // namespace fer
