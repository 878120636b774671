#include "config/train_config.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <fstream>
#include <functional>
#include <initializer_list>
#include <limits>
#include <optional>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string_view>
#include <type_traits>
#include <variant>

#include "common/error.hpp"
#include "common/text.hpp"
#include "config/config_registry.hpp"
#include "config/yaml_value.hpp"
#include "data/emotions.hpp"  // kImageSide (constants only: nothing to link)

namespace fer {
namespace {
using namespace config_detail;

std::string join(const std::vector<std::string>& items, std::string_view separator) {
  std::string text;
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i > 0) text += separator;
    text += items[i];
  }
  return text;
}

std::vector<std::string> section_names() {
  std::vector<std::string> names;
  for (const Field& field : registry())
    if (names.empty() || names.back() != field.section) names.push_back(field.section);
  return names;
}

std::vector<std::string> keys_of(const std::string& section) {
  std::vector<std::string> names;
  for (const Field& field : registry())
    if (field.section == section) names.push_back(field.name);
  return names;
}

bool is_section(const std::string& name) {
  const auto names = section_names();
  return std::find(names.begin(), names.end(), name) != names.end();
}

const Field* find_field(const std::string& section, const std::string& name) {
  for (const Field& field : registry())
    if (field.section == section && field.name == name) return &field;
  return nullptr;
}

std::string unknown_section_message(const std::string& where, const std::string& section) {
  return where + ": unknown section '" + section +
         "'; valid sections: " + join(section_names(), ", ");
}

std::string unknown_key_message(const std::string& where, const std::string& section,
                                const std::string& name) {
  return where + ": unknown key '" + section + "." + name + "'; valid keys of " + section + ": " +
         join(keys_of(section), ", ");
}

std::string format_field(const Field& field, const TrainConfig& config) {
  return std::visit([](const auto& value) { return format_value(target_of(value)); },
                    field.locate_const(config));
}

std::string_view field_type(const Field& field, const TrainConfig& config) {
  return std::visit([](const auto& value) { return type_name(&target_of(value)); },
                    field.locate_const(config));
}

void read_field(const Field& field, TrainConfig& config, const YAML::Node& node, const Site& site) {
  std::visit([&](const auto& target) { read_value(node, site, target_of(target)); },
             field.locate(config));
}

std::string where(const std::string& origin, const YAML::Node& node) {
  const int line = line_of(node);
  return line >= 0 ? origin + ":" + std::to_string(line + 1) : origin;
}

std::string scalar_key(const YAML::Node& key_node, const std::string& origin,
                       const std::string& what) {
  if (!key_node.IsScalar())
    throw InputError(where(origin, key_node) + ": expected a " + what + " name, found " +
                     describe(key_node));
  return key_node.Scalar();
}

YAML::Node parse_yaml(const std::string& text, const std::string& origin) {
  try {
    return YAML::Load(text);
  } catch (const YAML::Exception& error) {
    std::string message = origin;
    if (error.mark.line >= 0)
      message +=
          ":" + std::to_string(error.mark.line + 1) + ":" + std::to_string(error.mark.column + 1);
    throw InputError(message + ": YAML syntax error: " + error.msg);
  }
}

void apply_section(TrainConfig& config, const std::string& section, const YAML::Node& keys,
                   const std::string& origin) {
  if (keys.IsNull()) return;  // "model:" with nothing under it
  if (!keys.IsMap())
    throw InputError(where(origin, keys) + ": " + section + ": expected a map of keys (" +
                     join(keys_of(section), ", ") + "), found " + describe(keys));
  std::set<std::string> seen;
  for (const auto& entry : keys) {
    const std::string name = scalar_key(entry.first, origin, "key");
    const Field* field = find_field(section, name);
    if (!field) throw InputError(unknown_key_message(where(origin, entry.first), section, name));
    // yaml-cpp keeps both copies of a repeated key; which one a reader honours differs
    // between tools, so refuse rather than guess.
    if (!seen.insert(name).second)
      throw InputError(where(origin, entry.first) + ": " + field->key + ": given twice");
    // The key's line, because a missing value (`lr:`) has its mark on the next line.
    read_field(*field, config, entry.second, Site{origin, field->key, line_of(entry.first)});
  }
}

std::string pad(std::string text, std::size_t width) {
  if (text.size() < width) text.append(width - text.size(), ' ');
  return text;
}

}  // namespace

void apply_config_file(TrainConfig& config, const std::filesystem::path& yaml_file) {
  std::ifstream in(yaml_file, std::ios::binary);
  if (!in) throw InputError(yaml_file.string() + ": cannot open the config file");
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw InputError(yaml_file.string() + ": cannot read the config file");
  apply_config_text(config, text.str(), yaml_file.string());
}

void apply_config_text(TrainConfig& config, const std::string& yaml_text,
                       const std::string& origin) {
  const YAML::Node root = parse_yaml(yaml_text, origin);
  if (root.IsNull()) return;  // empty, or only comments
  if (!root.IsMap())
    throw InputError(where(origin, root) + ": expected a map of sections (" +
                     join(section_names(), ", ") + "), found " + describe(root));
  // Work on a copy so that a bad file leaves the caller's config untouched.
  TrainConfig updated = config;
  std::set<std::string> seen;
  for (const auto& entry : root) {
    const std::string section = scalar_key(entry.first, origin, "section");
    if (!is_section(section))
      throw InputError(unknown_section_message(where(origin, entry.first), section));
    if (!seen.insert(section).second)
      throw InputError(where(origin, entry.first) + ": section '" + section + "' given twice");
    apply_section(updated, section, entry.second, origin);
  }
  config = std::move(updated);
}

void apply_override(TrainConfig& config, const std::string& assignment) {
  const std::string origin = "--set " + assignment;
  const std::size_t equals = assignment.find('=');
  if (equals == std::string::npos)
    throw InputError(origin + ": expected section.key=value, e.g. optim.lr=0.02");
  const std::string key(trim(std::string_view(assignment).substr(0, equals)));
  const std::string value_text = assignment.substr(equals + 1);
  const std::size_t dot = key.find('.');
  if (dot == std::string::npos)
    throw InputError(origin + ": '" + key + "' is not of the form section.key; valid sections: " +
                     join(section_names(), ", "));
  const std::string section = key.substr(0, dot);
  const std::string name = key.substr(dot + 1);
  if (!is_section(section)) throw InputError(unknown_section_message(origin, section));
  const Field* field = find_field(section, name);
  if (!field) throw InputError(unknown_key_message(origin, section, name));
  // The value is YAML so that lists ("[32, 64]") and quoting work as in files; the line
  // number inside a one-line value would only confuse, so messages leave it out.
  const YAML::Node value = parse_yaml(value_text, origin);
  read_field(*field, config, value, Site{origin, field->key, -1});
}

void validate(const TrainConfig& config) {
  for (const Field& field : registry()) {
    const Constraint& constraint = field.constraint;
    std::visit(
        [&](const auto& ref) {
          using Value = std::decay_t<decltype(target_of(ref))>;
          // Strings are free text and a choice holds one of its names by construction
          // (the reader refuses others), so only lists and numbers have checks here.
          if constexpr (std::is_same_v<Value, std::vector<int>>) {
            const auto* value = &target_of(ref);
            if (value->empty()) throw InputError(field.key + ": needs at least one value");
            for (std::size_t i = 0; i < value->size(); ++i) {
              const int item = (*value)[i];
              if (constraint.bounds && !constraint.bounds->contains(item))
                throw InputError(field.key + "[" + std::to_string(i) +
                                 "] = " + std::to_string(item) +
                                 " is out of range; allowed: " + constraint.bounds->describe());
            }
          } else if constexpr (std::is_arithmetic_v<Value> && !std::is_same_v<Value, bool>) {
            const auto* value = &target_of(ref);
            if (constraint.bounds && !constraint.bounds->contains(static_cast<double>(*value)))
              throw InputError(field.key + " = " + format_value(*value) +
                               " is out of range; allowed: " + constraint.bounds->describe());
          }
        },
        field.locate_const(config));
  }

  // Constraints between keys, which the per-key table cannot express.
  const AugmentConfig& augment = config.augment;
  if (augment.scale_min > augment.scale_max)
    throw InputError("augment.scale_min = " + format_double(augment.scale_min) +
                     " must be <= augment.scale_max = " + format_double(augment.scale_max));
  if (config.dist.compression != Compression::kNone && config.dist.backend == DistBackend::kMpi)
    throw InputError("dist.compression = " + std::string(name_of(config.dist.compression)) +
                     " needs the nccl backend (MPI has no bf16/fp16 sum); set dist.backend = "
                     "auto or nccl, or dist.compression = none");
  if (const std::string& address = config.coordinator.address; !address.empty()) {
    const auto colon = address.rfind(':');
    const std::string port = colon == std::string::npos ? "" : address.substr(colon + 1);
    if (colon == 0 || port.empty() || port.find_first_not_of("0123456789") != std::string::npos ||
        port.size() > 5 || std::stoi(port) == 0 || std::stoi(port) > 65535)
      throw InputError("coordinator.address = '" + address +
                       "': expected host:port of a fer-coordinator (e.g. node1:7070), or '' for "
                       "the coordinator embedded in rank 0");
  }
  if (config.model.rnn == RnnCell::kNone && config.model.pooling == Pooling::kLast)
    throw InputError(
        "model.rnn = none needs model.pooling = mean or attention: without a recurrent cell the "
        "last step has read only its own row");
  if (augment.eval_tta == EvalTta::kTencrop && augment.crop_size == 0)
    throw InputError(
        "augment.eval_tta = tencrop needs augment.crop_size > 0 (in [16, 48], e.g. 40): the ten "
        "crops have the training crop size");
}

std::string to_yaml(const TrainConfig& config) {
  std::string text;
  std::string section;
  for (const Field& field : registry()) {
    if (field.section != section) {
      if (!section.empty()) text += "\n";
      section = field.section;
      text += section + ":\n";
    }
    text += "  " + field.name + ": " + format_field(field, config) + "\n";
  }
  return text;
}

std::string config_reference() {
  const TrainConfig defaults;
  struct Row {
    std::string key, type, default_value, allowed, doc;
  };
  std::vector<Row> rows;
  for (const Field& field : registry()) {
    std::string allowed;
    if (!field.constraint.choices.empty()) {
      allowed = join(field.constraint.choices, "|");
    } else if (field.constraint.bounds) {
      allowed = field.constraint.bounds->describe();
    }
    rows.push_back({field.key, std::string(field_type(field, defaults)),
                    format_field(field, defaults), allowed, field.doc});
  }
  Row header{"key", "type", "default", "allowed", "meaning"};
  std::size_t key_width = header.key.size(), type_width = header.type.size(),
              default_width = header.default_value.size(), allowed_width = header.allowed.size();
  for (const Row& row : rows) {
    key_width = std::max(key_width, row.key.size());
    type_width = std::max(type_width, row.type.size());
    default_width = std::max(default_width, row.default_value.size());
    allowed_width = std::max(allowed_width, row.allowed.size());
  }
  const auto format_row = [&](const Row& row) {
    return pad(row.key, key_width + 2) + pad(row.type, type_width + 2) +
           pad(row.default_value, default_width + 2) + pad(row.allowed, allowed_width + 2) +
           row.doc + "\n";
  };
  std::string text = format_row(header);
  std::string section;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const std::string& row_section = registry()[i].section;
    if (row_section != section) {
      text += "\n";
      section = row_section;
    }
    text += format_row(rows[i]);
  }
  return text;
}

int model_input_size(const AugmentConfig& config) {
  return config.crop_size > 0 ? config.crop_size : kImageSide;
}

}  // namespace fer
