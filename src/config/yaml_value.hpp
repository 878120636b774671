#pragma once
// Typed values of the training configuration in YAML: reading one from a node with a
// message that names the file, the line and the dotted key, and writing one as YAML
// text that reads back exactly. One overload per type the schema uses. Internal to
// fer_config (yaml-cpp stays out of the public headers).

#include <yaml-cpp/yaml.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace fer::config_detail {

// Where a value came from, so that every message names the origin, the line (when
// the value came from a file) and the full dotted key.
struct Site {
  std::string origin;
  std::string key;
  int line = -1;  // 0-based as yaml-cpp counts; -1 when unknown

  std::string prefix() const {
    std::string text = origin;
    if (line >= 0) text += ":" + std::to_string(line + 1);
    return text + ": " + key + ": ";
  }
};

// A key whose value is a choice enum (config/choices.hpp), seen through its names so
// that reading, writing and documenting need one case for every enum. `set` is empty in
// a read-only view.
struct ChoiceRef {
  std::vector<std::string> names;  // in value order
  std::function<std::size_t()> get;
  std::function<void(std::size_t)> set;
};

int line_of(const YAML::Node& node);
// How a node shows up in "found ..." parts of messages.
std::string describe(const YAML::Node& node);
// The shortest text that reads back as exactly the same double.
std::string format_double(double value);

std::string format_value(int value);
std::string format_value(std::int64_t value);
std::string format_value(std::uint64_t value);
std::string format_value(double value);
std::string format_value(bool value);
std::string format_value(const std::string& value);
std::string format_value(const std::vector<int>& values);
std::string format_value(const ChoiceRef& choice);

std::string_view type_name(const int*);
std::string_view type_name(const std::int64_t*);
std::string_view type_name(const std::uint64_t*);
std::string_view type_name(const double*);
std::string_view type_name(const bool*);
std::string_view type_name(const std::string*);
std::string_view type_name(const std::vector<int>*);
std::string_view type_name(const ChoiceRef*);

// Throws InputError "<origin>:<line>: <key>: expected <type>, found <what>".
void read_value(const YAML::Node& node, const Site& site, int& target);
void read_value(const YAML::Node& node, const Site& site, std::int64_t& target);
void read_value(const YAML::Node& node, const Site& site, std::uint64_t& target);
void read_value(const YAML::Node& node, const Site& site, double& target);
void read_value(const YAML::Node& node, const Site& site, bool& target);
void read_value(const YAML::Node& node, const Site& site, std::string& target);
void read_value(const YAML::Node& node, const Site& site, std::vector<int>& target);
// A name of `target.names`; any other value is refused with the list of names.
void read_value(const YAML::Node& node, const Site& site, const ChoiceRef& target);

}  // namespace fer::config_detail
