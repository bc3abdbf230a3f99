// Inject: split the stream into documents, find each workload's pod spec, add what is missing.
#include "inject/inject.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>
#include <stdexcept>

#include "inject/pod_template.h"
#include "inject/yaml_check.h"
#include "inject/yaml_json.h"

namespace podrouter::config {
namespace {

struct Document {
  std::string separator;     // the "---" line that opened it, if any, as written
  std::string text;          // what is parsed: content after the marker, then the following lines
  size_t inline_length = 0;  // bytes of `text` that stood on the separator line
  int first_line = 1;        // 1-based line of `text` in the input

  // The document exactly as it was written.
  std::string Original() const { return separator + text.substr(inline_length); }
  // The separator for a rewritten document: content on the marker line moves below it.
  std::string Marker() const { return inline_length ? "---\n" : separator; }
};

bool IsSeparator(const std::string& line) {
  return line.rfind("---", 0) == 0 &&
         (line.size() == 3 || line[3] == ' ' || line[3] == '\t' || line[3] == '\r');
}

std::vector<Document> Split(const std::string& input) {
  std::vector<Document> docs(1);
  std::istringstream in(input);
  std::string line;
  int number = 0;
  bool ended_with_newline = !input.empty() && input.back() == '\n';
  while (std::getline(in, line)) {
    ++number;
    if (IsSeparator(line)) {
      docs.push_back({line + "\n", "", 0, number + 1});
      // Content after the marker on the same line ("--- {a: 1}") belongs to the document.
      const size_t content = line.find_first_not_of(" \t\r", 3);
      if (content != std::string::npos && line[content] != '#') {
        docs.back().text = line.substr(content) + "\n";
        docs.back().inline_length = docs.back().text.size();
        docs.back().first_line = number;
      }
      continue;
    }
    docs.back().text += line + "\n";
  }
  if (!ended_with_newline && !docs.back().text.empty()) {
    Document& last = docs.back();
    last.text.pop_back();  // the newline getline took away was never there
    last.inline_length = std::min(last.inline_length, last.text.size());
  }
  return docs;
}

// Where the pod (the map holding metadata and spec) lives: by kind, and for kinds not named here
// (Argo Rollouts, OpenKruise CloneSets, ...) wherever a pod template with a containers list is
// found at spec.template. Nothing when the object holds no pod.
std::optional<std::vector<std::string>> PodPath(YAML::Node node, const std::string& kind) {
  using Path = std::vector<std::string>;
  if (kind == "Pod") return Path{};
  if (kind == "CronJob") return Path{"spec", "jobTemplate", "spec", "template"};
  if (kind == "Deployment" || kind == "StatefulSet" || kind == "DaemonSet" ||
      kind == "ReplicaSet" || kind == "ReplicationController" || kind == "Job") {
    return Path{"spec", "template"};
  }
  YAML::Node at = node;
  for (const char* key : {"spec", "template", "spec"}) {
    if (!at.IsMap() || !at[key]) return std::nullopt;
    at.reset(at[key]);
  }
  if (at.IsMap() && at["containers"] && at["containers"].IsSequence()) {
    return Path{"spec", "template"};
  }
  return std::nullopt;
}

enum class Outcome { kNotWorkload, kInjected, kAlready, kError };

// Injects one object: a workload, or a List (what `kubectl get -o yaml` prints) of them. On
// kError, *error says why.
Outcome InjectObject(YAML::Node node, const InjectOptions& options, InjectResult* result,
                     std::string* error) {
  if (!node.IsMap() || !node["kind"] || !node["kind"].IsScalar()) return Outcome::kNotWorkload;
  const std::string kind = node["kind"].Scalar();
  if (kind.size() >= 4 && kind.compare(kind.size() - 4, 4, "List") == 0 && node["items"]) {
    if (!node["items"].IsSequence()) {
      *error = kind + " has no items list";
      return Outcome::kError;
    }
    bool changed = false;
    size_t index = 0;
    for (YAML::Node item : node["items"]) {
      Outcome o = InjectObject(item, options, result, error);
      if (o == Outcome::kError) {
        *error = kind + " item " + std::to_string(index) + ": " + *error;
        return o;
      }
      changed = changed || o == Outcome::kInjected;
      ++index;
    }
    if (changed) node["items"].SetStyle(YAML::EmitterStyle::Block);
    return changed ? Outcome::kInjected : Outcome::kAlready;
  }
  const std::optional<std::vector<std::string>> path = PodPath(node, kind);
  if (!path) return Outcome::kNotWorkload;
  YAML::Node pod = node;
  std::vector<YAML::Node> ancestors;
  for (const auto& key : *path) {
    ancestors.push_back(pod);
    pod.reset(pod[key]);  // rebinds; `pod = pod[key]` would overwrite the node itself
    if (!pod.IsDefined() || !pod.IsMap()) break;
  }
  if (!pod.IsDefined() || !pod.IsMap()) {
    *error = kind + " has no pod template";
    return Outcome::kError;
  }
  if (std::string problem = PodProblem(pod, options); !problem.empty()) {
    *error = kind + " " + problem;
    return Outcome::kError;
  }
  switch (InjectPod(pod, options, RunsToCompletion(kind, pod["spec"]))) {
    case PodChange::kNone:
      ++result->already;
      return Outcome::kAlready;
    case PodChange::kConverted:
      ++result->converted;
      break;
    case PodChange::kAdded:
      ++result->injected;
      break;
  }
  // A flow collection cannot hold a block one: unfold the path down to the new entries so the
  // sidecar reads like any hand-written container. Other entries keep their style.
  for (auto& a : ancestors) a.SetStyle(YAML::EmitterStyle::Block);
  pod.SetStyle(YAML::EmitterStyle::Block);
  YAML::Node spec = pod["spec"];
  spec.SetStyle(YAML::EmitterStyle::Block);
  for (const char* list : {"containers", "initContainers", "volumes"}) {
    if (spec[list]) spec[list].SetStyle(YAML::EmitterStyle::Block);
  }
  pod["metadata"].SetStyle(YAML::EmitterStyle::Block);
  pod["metadata"]["annotations"].SetStyle(YAML::EmitterStyle::Block);
  return Outcome::kInjected;
}

struct JsonValue {
  std::string text;              // as written
  nlohmann::ordered_json value;  // parsed
};

// Parses one JSON value, refusing a key given twice in one object (RFC 8259 §4 says they
// should be unique; nlohmann keeps the last silently, and which one a reader sees varies).
nlohmann::ordered_json ParseJson(const std::string& text) {
  std::vector<std::set<std::string>> keys;  // one set per open object
  return nlohmann::ordered_json::parse(
      text, [&](int, nlohmann::ordered_json::parse_event_t event, nlohmann::ordered_json& parsed) {
        using Event = nlohmann::ordered_json::parse_event_t;
        if (event == Event::object_start) keys.emplace_back();
        if (event == Event::object_end) keys.pop_back();
        if (event == Event::key && !keys.back().insert(parsed.get<std::string>()).second) {
          throw std::invalid_argument("the key '" + parsed.get<std::string>() +
                                      "' appears twice in one object");
        }
        return true;
      });
}

// A document that holds JSON values (one, or several one after another: `{...}{...}`, which
// kubectl accepts): each one's text and value, or nothing when the document is not JSON (then it
// is YAML). JSON is read by a JSON parser: yaml-cpp refuses valid JSON such as the surrogate pair
// escapes ("\ud83d\ude00") Python's json.dumps writes.
std::vector<JsonValue> SplitJson(const std::string& text, std::string* error) {
  std::vector<JsonValue> values;
  size_t start = text.find_first_not_of(" \t\r\n");
  if (start == std::string::npos || text[start] != '{') return values;
  std::istringstream in(text);
  in.seekg(static_cast<std::streamoff>(start));
  while (true) {
    in >> std::ws;
    if (in.peek() == std::char_traits<char>::eof()) break;
    const std::streamoff begin = in.tellg();
    nlohmann::ordered_json value;
    try {
      in >> value;
    } catch (const nlohmann::json::exception& e) {
      if (values.empty()) return values;  // not JSON at all: YAML (a flow mapping) it is
      *error = "JSON value " + std::to_string(values.size() + 1) + ": " + e.what();
      return {};
    }
    in.clear();
    std::streamoff end = in.tellg();
    if (end < 0) end = static_cast<std::streamoff>(text.size());
    values.push_back(
        {text.substr(static_cast<size_t>(begin), static_cast<size_t>(end - begin)), {}});
    try {
      values.back().value = ParseJson(values.back().text);
    } catch (const std::exception& e) {
      *error = "JSON value " + std::to_string(values.size()) + ": " + e.what();
      return {};
    }
  }
  return values;
}

// Loads one YAML document after CheckYaml, with nodes an alias shared made separate (so adding
// the sidecar to one workload never adds it to another that aliased its containers). On failure
// *line (0-based, or -1) and *error say why.
std::optional<YAML::Node> LoadYaml(const std::string& text, int* line, std::string* error) {
  const YamlCheck check = CheckYaml(text);
  if (!check.error.empty()) {
    *line = check.line;
    *error = check.error;
    return std::nullopt;
  }
  try {
    YAML::Node node = YAML::Load(text);
    // EmitYaml writes a shared node out in full at each use; reading that back shares nothing.
    if (check.has_aliases) node = YAML::Load(EmitYaml(node));
    return node;
  } catch (const YAML::Exception& e) {
    *line = e.mark.line;
    *error = e.msg;
    return std::nullopt;
  }
}

}  // namespace

InjectResult Inject(const std::string& manifests, const InjectOptions& options) {
  InjectResult result;
  std::string out;
  int index = 0;
  auto fail = [&](const Document& doc, int line, const std::string& what) {
    result.errors.push_back("document " + std::to_string(index) + " (line " +
                            std::to_string(line >= 0 ? doc.first_line + line : doc.first_line) +
                            "): " + what);
  };
  for (const Document& doc : Split(manifests)) {
    ++index;
    std::string json_error;
    std::vector<JsonValue> json = SplitJson(doc.text, &json_error);
    if (!json_error.empty()) {
      fail(doc, -1, json_error);
      continue;
    }
    const bool stream = json.size() > 1;
    const size_t parts = json.empty() ? 1 : json.size();
    std::string body;  // the document as it goes out, when anything in it changed
    bool changed = false;
    for (size_t i = 0; i < parts; ++i) {
      // Each value of a JSON stream becomes a document of its own.
      if (stream && i > 0) body += "---\n";
      const std::string& text = json.empty() ? doc.text : json[i].text;
      YAML::Node node;
      if (!json.empty()) {
        node = YamlFromJson(json[i].value);
      } else {
        int line = -1;
        std::string problem;
        std::optional<YAML::Node> loaded = LoadYaml(text, &line, &problem);
        if (!loaded) {
          fail(doc, line, problem);
          continue;
        }
        node = *loaded;
      }
      std::string error;
      switch (InjectObject(node, options, &result, &error)) {
        case Outcome::kError:
          fail(doc, -1, error);
          break;
        case Outcome::kInjected:
          body += EmitYaml(node);
          changed = true;
          break;
        case Outcome::kNotWorkload:
        case Outcome::kAlready:
          body += text;  // untouched, so injecting twice changes nothing
          if (stream) body += "\n";
          break;
      }
    }
    // A document nothing changed in goes out exactly as it came, marker line and all.
    out += changed || stream ? doc.Marker() + body : doc.Original();
  }
  if (result.errors.empty()) result.output = std::move(out);
  return result;
}

}  // namespace podrouter::config
