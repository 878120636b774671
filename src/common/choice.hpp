#pragma once
// Named choices: an enum class whose values are spelled one way everywhere (YAML,
// --set, command-line options, messages, checkpoints). Each enum lists its names once,
// in value order, by specialising ChoiceNames; name_of and parse_choice are the only
// conversions, so the code compares enum values, never string literals. Header-only.

#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.hpp"

namespace fer {

// Specialise for every choice enum whose values are 0, 1, ... in declaration order:
//   template <> struct ChoiceNames<Pooling> {
//     static constexpr std::array<std::string_view, 3> names{"last", "mean", "attention"};
//   };
template <typename Choice>
struct ChoiceNames;

template <typename Choice>
constexpr std::string_view name_of(Choice choice) {
  return ChoiceNames<Choice>::names[static_cast<std::size_t>(choice)];
}

template <typename Choice>
constexpr std::size_t choice_count() {
  return ChoiceNames<Choice>::names.size();
}

template <typename Choice>
std::vector<std::string> choice_names() {
  const auto& names = ChoiceNames<Choice>::names;
  return {names.begin(), names.end()};
}

template <typename Choice>
std::optional<Choice> find_choice(std::string_view name) {
  const auto& names = ChoiceNames<Choice>::names;
  for (std::size_t i = 0; i < names.size(); ++i)
    if (names[i] == name) return static_cast<Choice>(i);
  return std::nullopt;
}

// "a, b, c": for messages.
template <typename Choice>
std::string choice_list() {
  std::string text;
  for (const std::string_view name : ChoiceNames<Choice>::names) {
    if (!text.empty()) text += ", ";
    text += name;
  }
  return text;
}

// The choice called `name`, or InputError "<what>: '<name>' is not allowed; choose one
// of: a, b, c" (`what` names the option or key, e.g. "--tta" or "model.rnn").
template <typename Choice>
Choice parse_choice(std::string_view name, std::string_view what) {
  if (const auto choice = find_choice<Choice>(name)) return *choice;
  throw InputError(std::string(what) + ": '" + std::string(name.substr(0, 60)) +
                   "' is not allowed; choose one of: " + choice_list<Choice>());
}

}  // namespace fer
