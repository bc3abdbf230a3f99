// Loads and validates a podrouter config file, collecting every error with its position and path.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "config/config.h"

namespace podrouter::config {

struct ConfigError {
  std::string file;
  int line = 0;      // 1-based; 0 when unknown
  int column = 0;    // 1-based
  std::string path;  // "listeners[1].route.ordinal"
  std::string message;

  // "FILE:LINE:COL: path: message"
  std::string ToString() const;
};

struct LoadResult {
  std::optional<Config> config;  // set only when errors is empty
  std::vector<ConfigError> errors;
};

LoadResult LoadConfigFile(const std::string& path);
LoadResult LoadConfigString(const std::string& text, const std::string& file_name);

}  // namespace podrouter::config
