#pragma once
// The configuration's schema: every key once, with its type, its documentation and
// its constraint, as a table of fields that locate their value in a TrainConfig. The
// public functions of train_config.hpp (reading YAML and --set, validate, to_yaml, the
// reference) all walk this table. Internal to fer_config.

#include <cmath>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <variant>
#include <vector>

#include "config/train_config.hpp"
#include "config/yaml_value.hpp"

namespace fer::config_detail {

// ---------------------------------------------------------------------------
// Constraints checked by validate() and shown by config_reference().
// ---------------------------------------------------------------------------

struct Bounds {
  double low = -std::numeric_limits<double>::infinity();
  bool low_inclusive = true;
  double high = std::numeric_limits<double>::infinity();
  bool high_inclusive = true;
  bool zero_allowed = false;  // "0: off" keys whose other values have a range

  bool contains(double value) const {
    if (zero_allowed && value == 0) return true;
    // Written so that NaN fails every check.
    const bool above_low = low_inclusive ? value >= low : value > low;
    const bool below_high = high_inclusive ? value <= high : value < high;
    return above_low && below_high;
  }

  std::string describe() const {
    std::string text;
    if (std::isinf(high)) {
      text = (low_inclusive ? ">= " : "> ") + format_double(low);
    } else {
      text = std::string(low_inclusive ? "[" : "(") + format_double(low) + ", " +
             format_double(high) + (high_inclusive ? "]" : ")");
    }
    return zero_allowed ? "0 or " + text : text;
  }
};

struct Constraint {
  std::optional<Bounds> bounds;      // numbers; for lists, every item
  std::vector<std::string> choices;  // choice enums: filled in from their names

  Constraint() = default;
  Constraint(Bounds range) : bounds(range) {}  // NOLINT: implicit keeps the table short
};

// ---------------------------------------------------------------------------
// The registry: every key, once. All public functions walk this table.
// ---------------------------------------------------------------------------

// A pointer to the value, or for a choice enum its ChoiceRef (names, get and set).
using ValueRef = std::variant<int*, std::int64_t*, std::uint64_t*, double*, bool*, std::string*,
                              std::vector<int>*, ChoiceRef>;
using ConstValueRef =
    std::variant<const int*, const std::int64_t*, const std::uint64_t*, const double*, const bool*,
                 const std::string*, const std::vector<int>*, ChoiceRef>;

// The value behind either kind of reference, for overloads of yaml_value.hpp.
template <typename Value>
Value& target_of(Value* pointer) {
  return *pointer;
}
inline const ChoiceRef& target_of(const ChoiceRef& choice) {
  return choice;
}

struct Field {
  std::string section;  // "optim"
  std::string name;     // "lr"
  std::string key;      // "optim.lr"
  std::string doc;
  Constraint constraint;
  // Both come from one pointer-to-member pair, so they cannot point at different fields.
  std::function<ValueRef(TrainConfig&)> locate;
  std::function<ConstValueRef(const TrainConfig&)> locate_const;
};

template <typename Section>
class SectionBuilder {
 public:
  SectionBuilder(std::vector<Field>& fields, std::string name, Section TrainConfig::*section)
      : fields_(fields), name_(std::move(name)), section_(section) {}

  template <typename Value>
  SectionBuilder& add(std::string name, Value Section::*member, std::string doc,
                      Constraint constraint = {}) {
    constexpr bool kIsChoice = std::is_enum_v<Value>;
    constexpr bool kIsString = std::is_same_v<Value, std::string>;
    constexpr bool kIsBool = std::is_same_v<Value, bool>;
    // Registry mistakes are programming errors; the tests build the registry, so they
    // surface there rather than as puzzling user-facing behaviour. A choice enum's names
    // come from its ChoiceNames, never from the table.
    if (!constraint.choices.empty())
      throw std::logic_error("config registry: choices listed for " + name_ + "." + name +
                             "; make it a choice enum (config/choices.hpp)");
    if (constraint.bounds && (kIsString || kIsBool || kIsChoice))
      throw std::logic_error("config registry: bounds on non-numeric key " + name_ + "." + name);
    const auto section = section_;
    Field field;
    field.section = name_;
    field.name = name;
    field.key = name_ + "." + name;
    field.doc = std::move(doc);
    field.constraint = std::move(constraint);
    if constexpr (kIsChoice) {
      field.constraint.choices = choice_names<Value>();
      field.locate = [section, member](TrainConfig& config) -> ValueRef {
        Value* value = &(config.*section.*member);
        return ChoiceRef{choice_names<Value>(),
                         [value] { return static_cast<std::size_t>(*value); },
                         [value](std::size_t index) { *value = static_cast<Value>(index); }};
      };
      field.locate_const = [section, member](const TrainConfig& config) -> ConstValueRef {
        const Value* value = &(config.*section.*member);
        return ChoiceRef{
            choice_names<Value>(), [value] { return static_cast<std::size_t>(*value); }, {}};
      };
    } else {
      field.locate = [section, member](TrainConfig& config) -> ValueRef {
        return &(config.*section.*member);
      };
      field.locate_const = [section, member](const TrainConfig& config) -> ConstValueRef {
        return &(config.*section.*member);
      };
    }
    fields_.push_back(std::move(field));
    return *this;
  }

 private:
  std::vector<Field>& fields_;
  std::string name_;
  Section TrainConfig::*section_;
};

// The table, built once.
const std::vector<Field>& registry();

}  // namespace fer::config_detail
