// Checks a YAML document's text before it is loaded, for what yaml-cpp accepts but Kubernetes
// tools read differently or cannot afford: a mapping key given twice (YAML 1.2 §3.2.1.1 says keys
// are unique; yaml-cpp keeps both, and which one a reader sees varies), and aliases that expand
// past a bound (an "alias bomb": a few hundred bytes of anchors expanding to gigabytes).
#pragma once

#include <cstddef>
#include <string>

namespace podrouter::config {

struct YamlCheck {
  std::string error;         // "" when the document passed; else why, in the reader's terms
  int line = -1;             // 0-based line in the text the error is about; -1 when none
  bool has_aliases = false;  // the document uses `*alias` (its nodes may be shared when loaded)
};

// Checks the first document in `text` (the one YAML::Load reads): at most `max_nodes` nodes, and
// at most four times its own text (plus 64 KiB), with every alias expanded. Text yaml-cpp cannot
// parse passes (loading it then reports the parse error).
YamlCheck CheckYaml(const std::string& text, size_t max_nodes = 1'000'000);

}  // namespace podrouter::config
