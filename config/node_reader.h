// NodeReader: typed scalars out of YAML nodes (strings, integers, durations, bind addresses,
// enums, mappings with known keys), each problem collected as a ConfigError with the file, line,
// column and YAML path — never thrown. The config loader is built on it.
#pragma once

#include <yaml-cpp/yaml.h>

#include <charconv>
#include <initializer_list>
#include <optional>
#include <string>
#include <vector>

#include "base/text.h"
#include "config/config.h"
#include "config/loader.h"
#include "config/values.h"

namespace podrouter::config {

inline std::string Lower(std::string s) {
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return s;
}

inline bool IsDnsName(const std::string& s) {
  if (s.empty() || s.size() > 253 || s.front() == '.' || s.back() == '.') return false;
  size_t label = 0;
  for (char c : s) {
    if (c == '.') {
      if (label == 0) return false;
      label = 0;
      continue;
    }
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_';
    if (!ok || ++label > 63) return false;
  }
  return true;
}

class NodeReader {
 public:
  explicit NodeReader(std::string file) : file_(std::move(file)) {}

  std::vector<ConfigError>& errors() { return errors_; }

  void Error(const YAML::Node& at, const std::string& path, const std::string& message) {
    YAML::Mark mark = at.Mark();
    bool known = mark.line >= 0;
    errors_.push_back(
        {file_, known ? mark.line + 1 : 0, known ? mark.column + 1 : 0, path, message});
  }

  // Checks `node` is a mapping whose keys are all in `allowed`; reports each unknown key.
  bool CheckMap(const YAML::Node& node, const std::string& path,
                std::initializer_list<const char*> allowed) {
    if (!node.IsMap()) {
      Error(node, path, "expected a mapping");
      return false;
    }
    for (const auto& kv : node) {
      std::string key = kv.first.IsScalar() ? kv.first.Scalar() : "";
      bool known = false;
      for (const char* a : allowed) known = known || key == a;
      if (!known) Error(kv.first, Join(path, key), "unknown key '" + key + "'");
    }
    return true;
  }

  static std::string Join(const std::string& path, const std::string& key) {
    return path.empty() ? key : path + "." + key;
  }

  std::optional<std::string> String(const YAML::Node& n, const std::string& path) {
    if (!n.IsScalar() || n.Scalar().empty()) {
      Error(n, path, "expected a non-empty string");
      return std::nullopt;
    }
    return n.Scalar();
  }

  std::optional<uint64_t> Unsigned(const YAML::Node& n, const std::string& path, uint64_t max,
                                   bool positive = false) {
    uint64_t value = 0;
    if (n.IsScalar()) {
      const std::string& s = n.Scalar();
      auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
      if (!s.empty() && ec == std::errc() && end == s.data() + s.size() &&
          (!positive || value > 0) && value <= max) {
        return value;
      }
    }
    Error(
        n, path,
        std::string(positive ? "expected a positive integer" : "expected a non-negative integer") +
            (max < UINT32_MAX ? " (at most " + std::to_string(max) + ")" : ""));
    return std::nullopt;
  }

  std::optional<Millis> Duration(const YAML::Node& n, const std::string& path) {
    if (n.IsScalar()) {
      if (auto d = ParseDuration(n.Scalar())) return d;
    }
    Error(n, path, "expected a duration such as 500ms, 2s or 5m");
    return std::nullopt;
  }

  std::optional<BindAddress> Bind(const YAML::Node& n, const std::string& path, bool range) {
    std::string error = "expected IPv4:PORT or [IPv6]:PORT";
    if (n.IsScalar()) {
      if (auto b = ParseBindAddress(n.Scalar(), range, &error)) return b;
    }
    Error(n, path, error);
    return std::nullopt;
  }

  // One of `choices`, as its index.
  std::optional<size_t> Enum(const YAML::Node& n, const std::string& path,
                             std::initializer_list<const char*> choices) {
    std::string list;
    size_t i = 0;
    for (const char* c : choices) {
      if (n.IsScalar() && n.Scalar() == c) return i;
      list += (i++ ? " | " : "") + std::string(c);
    }
    Error(n, path, "expected one of " + list);
    return std::nullopt;
  }

  // Sets *out from n[key] when present: a duration above zero.
  void PositiveDuration(const YAML::Node& n, const std::string& path, const char* key,
                        Millis* out) {
    if (auto v = n[key]) {
      if (auto d = Duration(v, Join(path, key))) {
        if (d->count() <= 0) {
          Error(v, Join(path, key), "must be greater than zero");
        } else {
          *out = *d;
        }
      }
    }
  }

 protected:
  std::string file_;
  std::vector<ConfigError> errors_;
};

}  // namespace podrouter::config
