#include "config/yaml_value.hpp"

#include <charconv>
#include <cmath>
#include <limits>
#include <system_error>

#include <cctype>
#include <set>

#include "common/error.hpp"
#include "common/text.hpp"

namespace fer::config_detail {

int line_of(const YAML::Node& node) {
  return node.Mark().line;
}

// How a node shows up in "found ..." parts of messages.
std::string describe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Scalar:
      return "'" + node.Scalar() + "'";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a map";
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      break;
  }
  return "no value";
}

[[noreturn]] static void throw_wrong_type(const Site& site, std::string_view expected,
                                          const YAML::Node& found, std::string_view why = {}) {
  std::string message =
      site.prefix() + "expected " + std::string(expected) + ", found " + describe(found);
  if (!why.empty()) message += " (" + std::string(why) + ")";
  throw InputError(message);
}

// The shortest text that reads back as exactly the same double (0.01 -> "0.01",
// 10 -> "10", 1e-4 -> "0.0001"), so to_yaml() round-trips and stays readable.
// to_chars rather than snprintf: it ignores the C locale.
std::string format_double(double value) {
  char buffer[400];
  const auto shortest = std::to_chars(buffer, buffer + sizeof buffer, value);
  std::string text(buffer, shortest.ptr);
  if (text.find('e') == std::string::npos) return text;
  // Prefer plain decimals for moderately small numbers (1e-04 -> 0.0001).
  const auto fixed = std::to_chars(buffer, buffer + sizeof buffer, value, std::chars_format::fixed);
  std::string plain(buffer, fixed.ptr);
  return plain.size() <= text.size() + 3 ? plain : text;
}

// Plain YAML scalars that readers other than ours would take for booleans or null.
static bool looks_like_yaml_keyword(const std::string& text) {
  static const std::set<std::string> keywords = {"null", "true", "false", "yes", "no",
                                                 "on",   "off",  "y",     "n"};
  return keywords.count(to_lower(text)) > 0;
}

static std::string format_string(const std::string& value) {
  const bool plain_safe = !value.empty() && !looks_like_yaml_keyword(value) &&
                          std::isalnum(static_cast<unsigned char>(value.front())) &&
                          std::all_of(value.begin(), value.end(), [](char c) {
                            return std::isalnum(static_cast<unsigned char>(c)) || c == '_' ||
                                   c == '.' || c == '/' || c == '-' || c == '+';
                          });
  if (plain_safe) return value;
  YAML::Emitter emitter;
  emitter << YAML::DoubleQuoted << value;
  return emitter.c_str();
}

std::string format_value(int value) {
  return std::to_string(value);
}
std::string format_value(std::int64_t value) {
  return std::to_string(value);
}
std::string format_value(std::uint64_t value) {
  return std::to_string(value);
}
std::string format_value(double value) {
  return format_double(value);
}
std::string format_value(bool value) {
  return value ? "true" : "false";
}
std::string format_value(const std::string& value) {
  return format_string(value);
}
std::string format_value(const std::vector<int>& values) {
  std::string text = "[";
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i > 0) text += ", ";
    text += std::to_string(values[i]);
  }
  return text + "]";
}

std::string format_value(const ChoiceRef& choice) {
  return format_string(choice.names.at(choice.get()));
}

std::string_view type_name(const int*) {
  return "int";
}
std::string_view type_name(const std::int64_t*) {
  return "int64";
}
std::string_view type_name(const std::uint64_t*) {
  return "uint64";
}
std::string_view type_name(const double*) {
  return "float";
}
std::string_view type_name(const bool*) {
  return "bool";
}
std::string_view type_name(const std::string*) {
  return "string";
}
std::string_view type_name(const std::vector<int>*) {
  return "[int]";
}
std::string_view type_name(const ChoiceRef*) {
  return "string";  // the reference's "allowed" column lists the names
}

static const std::string& require_scalar(const YAML::Node& node, const Site& site,
                                         std::string_view expected) {
  if (!node.IsScalar()) throw_wrong_type(site, expected, node);
  return node.Scalar();
}

template <typename Integer>
static Integer parse_integer(const YAML::Node& node, const Site& site, std::string_view expected) {
  std::string_view text = require_scalar(node, site, expected);
  // from_chars rejects a leading '+', which YAML allows.
  if (text.size() > 1 && text.front() == '+') text.remove_prefix(1);
  Integer value{};
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error == std::errc::result_out_of_range)
    throw_wrong_type(site, expected, node, "out of range");
  if (error != std::errc() || end != text.data() + text.size())
    throw_wrong_type(site, expected, node);
  return value;
}

void read_value(const YAML::Node& node, const Site& site, int& target) {
  target = parse_integer<int>(node, site, "an int");
}

void read_value(const YAML::Node& node, const Site& site, std::int64_t& target) {
  target = parse_integer<std::int64_t>(node, site, "an int64");
}

void read_value(const YAML::Node& node, const Site& site, std::uint64_t& target) {
  target = parse_integer<std::uint64_t>(node, site, "a non-negative integer (uint64)");
}

void read_value(const YAML::Node& node, const Site& site, double& target) {
  constexpr std::string_view kExpected = "a number (float)";
  std::string_view text = require_scalar(node, site, kExpected);
  if (text.size() > 1 && text.front() == '+') text.remove_prefix(1);
  double value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error == std::errc::result_out_of_range)
    throw_wrong_type(site, kExpected, node, "out of range");
  if (error != std::errc() || end != text.data() + text.size())
    throw_wrong_type(site, kExpected, node);
  // Infinities and NaN would slip through every range check and never compare equal.
  if (!std::isfinite(value)) throw_wrong_type(site, kExpected, node, "not finite");
  target = value;
}

void read_value(const YAML::Node& node, const Site& site, bool& target) {
  constexpr std::string_view kExpected = "true or false (bool)";
  // The YAML 1.1 spellings yaml-cpp itself accepts, so hand-written files behave as
  // users of other YAML tools expect.
  const std::string text = to_lower(require_scalar(node, site, kExpected));
  if (text == "true" || text == "yes" || text == "on") {
    target = true;
  } else if (text == "false" || text == "no" || text == "off") {
    target = false;
  } else {
    throw_wrong_type(site, kExpected, node);
  }
}

void read_value(const YAML::Node& node, const Site& site, std::string& target) {
  target = require_scalar(node, site, "a string");
}

void read_value(const YAML::Node& node, const Site& site, const ChoiceRef& target) {
  std::string list;
  for (const std::string& name : target.names) list += (list.empty() ? "" : ", ") + name;
  if (!node.IsScalar()) throw_wrong_type(site, "a string, one of: " + list, node);
  const std::string& text = node.Scalar();
  for (std::size_t i = 0; i < target.names.size(); ++i) {
    if (target.names[i] == text) {
      target.set(i);
      return;
    }
  }
  throw InputError(site.prefix() + "'" + text.substr(0, 60) +
                   "' is not allowed; choose one of: " + list);
}

void read_value(const YAML::Node& node, const Site& site, std::vector<int>& target) {
  if (!node.IsSequence()) throw_wrong_type(site, "a list of ints such as [32, 64]", node);
  std::vector<int> values;
  for (std::size_t i = 0; i < node.size(); ++i) {
    const YAML::Node item = node[i];
    Site item_site = site;
    item_site.key += "[" + std::to_string(i) + "]";
    item_site.line = line_of(item);
    values.push_back(parse_integer<int>(item, item_site, "an int"));
  }
  target = std::move(values);
}

}  // namespace fer::config_detail
