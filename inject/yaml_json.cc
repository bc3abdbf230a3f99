// Conversions: a walk over each tree; the one judgement is which quoted strings stay quoted.
#include "inject/yaml_json.h"

#include <cctype>

namespace podrouter::config {
namespace {

bool IsQuoted(const YAML::Node& node) { return node.IsScalar() && node.Tag() == "!"; }

// Whether `text`, written plain, would be read as anything but this string by a YAML 1.1 or 1.2
// reader: a boolean (yaml-cpp's own conversion knows YAML 1.1's y/yes/on/off), null, a number,
// or text that starts like one (dates, 1:20 and the like).
bool NeedsQuotes(const std::string& text) {
  if (text.empty()) return true;
  const auto at = [&](size_t i) { return static_cast<unsigned char>(text[i]); };
  if (std::isdigit(at(0)) || at(0) == '.') return true;
  if (at(0) == '-' || at(0) == '+') {
    // `--config` and `-v` read as strings everywhere; `-1`, `+.5` and a lone `-` need quotes.
    if (text.size() < 2 || !(at(1) == '-' || std::isalpha(at(1)))) return true;
  }
  // YAML 1.1 gives `=` (value) and `<<` (merge) meanings of their own, and reads NEL, LS and PS
  // (U+0085, U+2028, U+2029) as line breaks.
  if (text == "=" || text == "<<" || text.find("\xc2\x85") != std::string::npos ||
      text.find("\xe2\x80\xa8") != std::string::npos ||
      text.find("\xe2\x80\xa9") != std::string::npos) {
    return true;
  }
  try {
    const YAML::Node plain = YAML::Load(text);
    bool boolean;
    // Read back plain, it must be this very string: not null, a list or a map, a boolean, nor
    // text that loses its surrounding spaces or trailing newlines (a `>+` block's, say).
    return !plain.IsScalar() || plain.Scalar() != text ||
           YAML::convert<bool>::decode(plain, boolean);
  } catch (const YAML::Exception&) {
    return true;  // not even valid plain: "*x", "[", "a: b: c"
  }
}

void Emit(YAML::Emitter& out, const YAML::Node& node) {
  const std::string& tag = node.Tag();
  if (!tag.empty() && tag != "!" && tag != "?") out << YAML::VerbatimTag(tag);
  switch (node.Type()) {
    case YAML::NodeType::Map:
      out << (node.Style() == YAML::EmitterStyle::Flow ? YAML::Flow : YAML::Block)
          << YAML::BeginMap;
      for (const auto& kv : node) {
        out << YAML::Key;
        Emit(out, kv.first);
        out << YAML::Value;
        Emit(out, kv.second);
      }
      out << YAML::EndMap;
      return;
    case YAML::NodeType::Sequence:
      out << (node.Style() == YAML::EmitterStyle::Flow ? YAML::Flow : YAML::Block)
          << YAML::BeginSeq;
      for (const auto& item : node) Emit(out, item);
      out << YAML::EndSeq;
      return;
    case YAML::NodeType::Scalar:
      if (IsQuoted(node) && NeedsQuotes(node.Scalar())) {
        // Escaped, so line breaks of any kind survive readers that fold them.
        out << YAML::EscapeNonAscii << YAML::DoubleQuoted << node.Scalar() << YAML::EmitNonAscii;
        return;
      }
      out << node.Scalar();
      return;
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      out << YAML::Null;
      return;
  }
}

}  // namespace

YAML::Node YamlFromJson(const nlohmann::ordered_json& value) {
  YAML::Node node;
  if (value.is_object()) {
    node = YAML::Node(YAML::NodeType::Map);
    for (const auto& [key, item] : value.items()) node[key] = YamlFromJson(item);
  } else if (value.is_array()) {
    node = YAML::Node(YAML::NodeType::Sequence);
    for (const auto& item : value) node.push_back(YamlFromJson(item));
  } else if (value.is_string()) {
    node = YAML::Node(value.get<std::string>());
    node.SetTag("!");
  } else if (!value.is_null()) {
    node = YAML::Node(value.dump());
    node.SetTag("?");
  }
  return node;
}

nlohmann::ordered_json JsonFromYaml(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map: {
      nlohmann::ordered_json object = nlohmann::ordered_json::object();
      for (const auto& kv : node) object[kv.first.Scalar()] = JsonFromYaml(kv.second);
      return object;
    }
    case YAML::NodeType::Sequence: {
      nlohmann::ordered_json array = nlohmann::ordered_json::array();
      for (const auto& item : node) array.push_back(JsonFromYaml(item));
      return array;
    }
    case YAML::NodeType::Scalar:
      if (!IsQuoted(node)) {
        nlohmann::ordered_json literal =
            nlohmann::ordered_json::parse(node.Scalar(), nullptr, /*allow_exceptions=*/false);
        if (literal.is_number() || literal.is_boolean()) return literal;
      }
      return node.Scalar();
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      break;
  }
  return nullptr;
}

std::string EmitYaml(const YAML::Node& node) {
  YAML::Emitter out;
  out.SetIndent(2);
  out.SetSeqFormat(YAML::Block);
  Emit(out, node);
  return std::string(out.c_str()) + "\n";
}

}  // namespace podrouter::config
