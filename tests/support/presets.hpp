#pragma once
// The shipped presets (configs/<name>.yaml) as the tests read them. Needs FER_SOURCE_DIR.

#include <filesystem>
#include <string>

#include "config/train_config.hpp"

namespace fer::test {

inline TrainConfig preset(const std::string& name) {
  TrainConfig config;
  apply_config_file(config, std::filesystem::path(FER_SOURCE_DIR) / "configs" / (name + ".yaml"));
  return config;
}

}  // namespace fer::test
