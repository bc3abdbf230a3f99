// CheckYaml: yaml-cpp's event parser, with each node's expanded size and each mapping's keys.
#include "inject/yaml_check.h"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <map>
#include <set>
#include <sstream>
#include <vector>

namespace podrouter::config {
namespace {

struct Found {
  std::string error;
  int line;
};

class Checker : public YAML::EventHandler {
 public:
  Checker(size_t max_nodes, size_t text_bytes) : max_nodes_(max_nodes), text_bytes_(text_bytes) {}
  bool has_aliases = false;

  void OnDocumentStart(const YAML::Mark&) override {
    frames_.clear();
    sizes_.clear();
  }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    Complete({1, 1}, anchor, nullptr, mark);
  }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    has_aliases = true;
    for (const Frame& f : frames_) {
      if (f.anchor == anchor) {  // yaml-cpp makes that a cycle: endless when written out
        throw Found{"an alias refers to the collection it stands in; refused", mark.line};
      }
    }
    auto it = sizes_.find(anchor);
    Complete(it == sizes_.end() ? Size{1, 1} : it->second, 0, nullptr, mark);
  }
  void OnScalar(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                const std::string& value) override {
    const std::string key = (tag == "!" ? "!" : "?") + value;  // "1" and 1 are different keys
    Complete({1, value.size() + 1}, anchor, &key, mark);
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value) override {
    frames_.push_back({false, anchor, mark});
  }
  void OnSequenceEnd() override { End(); }
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                  YAML::EmitterStyle::value) override {
    frames_.push_back({true, anchor, mark});
  }
  void OnMapEnd() override { End(); }

 private:
  struct Size {
    size_t nodes;
    size_t bytes;  // of scalar text
  };
  struct Frame {
    bool is_map;
    YAML::anchor_t anchor;
    YAML::Mark mark;
    Size size{1, 1};  // this collection and everything in it, aliases expanded
    bool at_key = true;
    std::set<std::string> keys;
  };

  void End() {
    Frame done = std::move(frames_.back());
    frames_.pop_back();
    Complete(done.size, done.anchor, nullptr, done.mark);
  }

  // A node of `size` (aliases expanded) ended; `key` is its scalar text when it is a scalar.
  void Complete(Size size, YAML::anchor_t anchor, const std::string* key, const YAML::Mark& mark) {
    if (anchor) sizes_[anchor] = size;
    if (frames_.empty()) return;
    Frame& parent = frames_.back();
    parent.size.nodes += size.nodes;
    parent.size.bytes += size.bytes;
    // Aliases may repeat a part of the document, not multiply it: at most 4 times its own size
    // (and a fixed allowance), in nodes and in text.
    if (parent.size.nodes > max_nodes_ || parent.size.bytes > 4 * text_bytes_ + (1 << 16)) {
      throw Found{
          "expands, through its aliases, to far more than is written (an alias bomb?); "
          "refused",
          mark.line};
    }
    if (!parent.is_map) return;
    if (parent.at_key && key && !parent.keys.insert(*key).second) {
      throw Found{"the key '" + key->substr(1) + "' appears twice in one mapping", mark.line};
    }
    parent.at_key = !parent.at_key;
  }

  size_t max_nodes_;
  size_t text_bytes_;
  std::vector<Frame> frames_;
  std::map<YAML::anchor_t, Size> sizes_;
};

}  // namespace

YamlCheck CheckYaml(const std::string& text, size_t max_nodes) {
  YamlCheck result;
  std::istringstream in(text);
  Checker checker(max_nodes, text.size());
  try {
    // One document, as YAML::Load reads (callers split streams at `---`). Asking for more
    // would be wrong twice: yaml-cpp 0.7 can answer "another" forever on some broken input.
    YAML::Parser parser(in);
    parser.HandleNextDocument(checker);
  } catch (const Found& f) {
    result.error = f.error;
    result.line = f.line;
  } catch (const YAML::Exception&) {
    // Loading reports it, with its position.
  }
  result.has_aliases = checker.has_aliases;
  return result;
}

}  // namespace podrouter::config
