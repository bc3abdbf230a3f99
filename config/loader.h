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

// A config is at most this big (a long one is a few KiB); a larger file is refused unread.
inline constexpr size_t kMaxConfigBytes = 1 << 20;

// Loads the regular file at `path` (a directory, device, FIFO or a file over kMaxConfigBytes is
// an error naming it, as is a file that cannot be opened, with the system's reason).
LoadResult LoadConfigFile(const std::string& path);
LoadResult LoadConfigString(const std::string& text, const std::string& file_name);

}  // namespace podrouter::config
