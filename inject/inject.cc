// Inject: split the stream into documents, find each workload's pod spec, add what is missing.
#include "inject/inject.h"

#include <yaml-cpp/yaml.h>

#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

namespace podrouter::config {
namespace {

constexpr char kContainer[] = "podrouter";
constexpr char kVolume[] = "podrouter-config";
constexpr char kMountPath[] = "/etc/podrouter";

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
  if (!ended_with_newline && !docs.back().text.empty()) docs.back().text.pop_back();
  return docs;
}

// Where the pod spec lives: by kind, and for kinds not named here (Argo Rollouts, OpenKruise
// CloneSets, ...) wherever a pod template with a containers list is found at spec.template.
std::vector<std::string> PodSpecPath(YAML::Node node, const std::string& kind) {
  if (kind == "Pod") return {"spec"};
  if (kind == "CronJob") return {"spec", "jobTemplate", "spec", "template", "spec"};
  if (kind == "Deployment" || kind == "StatefulSet" || kind == "DaemonSet" ||
      kind == "ReplicaSet" || kind == "ReplicationController" || kind == "Job") {
    return {"spec", "template", "spec"};
  }
  YAML::Node at = node;
  for (const char* key : {"spec", "template", "spec"}) {
    if (!at.IsMap() || !at[key]) return {};
    at.reset(at[key]);
  }
  if (at.IsMap() && at["containers"] && at["containers"].IsSequence()) {
    return {"spec", "template", "spec"};
  }
  return {};
}

// Pods that run to completion (Jobs, CronJobs, Pods that do not restart) would never complete
// with an ordinary sidecar container still running: they get the native-sidecar form.
bool RunsToCompletion(const std::string& kind, const YAML::Node& pod_spec) {
  if (kind == "Job" || kind == "CronJob") return true;
  if (kind != "Pod" || !pod_spec["restartPolicy"]) return false;
  const YAML::Node policy = pod_spec["restartPolicy"];
  return policy.IsScalar() && policy.Scalar() != "Always";
}

// The sidecar container, field for field the chart's `podrouter.sidecar` with its default values
// (tests/helm/test_chart.py renders both and compares them).
YAML::Node Sidecar(const InjectOptions& o) {
  YAML::Node c(YAML::NodeType::Map);
  c["name"] = kContainer;
  c["image"] = o.image;
  c["imagePullPolicy"] = "IfNotPresent";
  for (const char* arg :
       {"run", "--config", "/etc/podrouter/podrouter.yaml", "--log-level", "info"}) {
    c["args"].push_back(arg);
  }
  c["args"].SetStyle(YAML::EmitterStyle::Flow);
  if (o.native_sidecar) c["restartPolicy"] = "Always";
  YAML::Node admin;
  admin["name"] = "podrouter-admin";
  admin["containerPort"] = o.admin_port;
  c["ports"].push_back(admin);
  c["readinessProbe"]["httpGet"]["path"] = "/ready";
  c["readinessProbe"]["httpGet"]["port"] = "podrouter-admin";
  c["readinessProbe"]["periodSeconds"] = 2;
  c["livenessProbe"]["httpGet"]["path"] = "/healthz";
  c["livenessProbe"]["httpGet"]["port"] = "podrouter-admin";
  c["livenessProbe"]["periodSeconds"] = 10;
  c["resources"]["requests"]["cpu"] = "50m";
  c["resources"]["requests"]["memory"] = "32Mi";
  c["resources"]["limits"]["memory"] = "128Mi";
  YAML::Node sc;
  sc["runAsNonRoot"] = true;
  sc["runAsUser"] = 65532;
  sc["runAsGroup"] = 65532;
  sc["allowPrivilegeEscalation"] = false;
  sc["readOnlyRootFilesystem"] = true;
  sc["capabilities"]["drop"].push_back("ALL");
  sc["capabilities"]["drop"].SetStyle(YAML::EmitterStyle::Flow);
  sc["seccompProfile"]["type"] = "RuntimeDefault";
  c["securityContext"] = sc;
  YAML::Node mount;
  mount["name"] = kVolume;
  mount["mountPath"] = kMountPath;
  mount["readOnly"] = true;
  c["volumeMounts"].push_back(mount);
  return c;
}

enum class Change { kNone, kAdded, kConverted };

// The podrouter container's index in `list`, or -1.
int FindNamed(const YAML::Node& list, const std::string& name) {
  if (!list || !list.IsSequence()) return -1;
  for (size_t i = 0; i < list.size(); ++i) {
    const YAML::Node item = list[i];
    if (item.IsMap() && item["name"] && item["name"].IsScalar() && item["name"].Scalar() == name) {
      return static_cast<int>(i);
    }
  }
  return -1;
}

// Puts `sidecar` first among the init containers, so it is up before the others and the app.
void PrependInit(YAML::Node spec, const YAML::Node& sidecar) {
  YAML::Node init(YAML::NodeType::Sequence);
  init.push_back(sidecar);
  if (spec["initContainers"]) {
    for (const auto& c : spec["initContainers"]) init.push_back(c);
  }
  spec["initContainers"] = init;
}

// Brings one pod spec to the wanted form: adds the sidecar and its volume, or converts an
// earlier injection that cannot work (an ordinary container where the pod must run to
// completion or the native form was asked for; an init container without restartPolicy: Always,
// which would never end and so never let the pod start).
Change InjectPodSpec(YAML::Node spec, InjectOptions o, bool runs_to_completion) {
  o.native_sidecar = o.native_sidecar || runs_to_completion;
  Change change = Change::kAdded;
  if (int i = FindNamed(spec["initContainers"], kContainer); i >= 0) {
    YAML::Node sidecar = spec["initContainers"][i];
    if (sidecar["restartPolicy"] && sidecar["restartPolicy"].IsScalar() &&
        sidecar["restartPolicy"].Scalar() == "Always") {
      return Change::kNone;
    }
    sidecar["restartPolicy"] = "Always";
    change = Change::kConverted;
  } else if (int j = FindNamed(spec["containers"], kContainer); j >= 0) {
    if (!o.native_sidecar) return Change::kNone;
    YAML::Node rest(YAML::NodeType::Sequence);
    YAML::Node sidecar;
    for (size_t k = 0; k < spec["containers"].size(); ++k) {
      if (static_cast<int>(k) == j) {
        sidecar = spec["containers"][k];
      } else {
        rest.push_back(spec["containers"][k]);
      }
    }
    spec["containers"] = rest;
    sidecar["restartPolicy"] = "Always";
    PrependInit(spec, sidecar);
    change = Change::kConverted;
  } else if (o.native_sidecar) {
    PrependInit(spec, Sidecar(o));
  } else {
    spec["containers"].push_back(Sidecar(o));
  }
  if (FindNamed(spec["volumes"], kVolume) < 0) {
    YAML::Node volume;
    volume["name"] = kVolume;
    volume["configMap"]["name"] = o.config_map;
    spec["volumes"].push_back(volume);
  }
  return change;
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
  const std::vector<std::string> path = PodSpecPath(node, kind);
  if (path.empty()) return Outcome::kNotWorkload;
  YAML::Node spec = node;
  std::vector<YAML::Node> ancestors;
  for (const auto& key : path) {
    ancestors.push_back(spec);
    spec.reset(spec[key]);  // rebinds; `spec = spec[key]` would overwrite the node itself
    if (!spec.IsDefined() || !spec.IsMap()) break;
  }
  if (!spec.IsDefined() || !spec.IsMap() || !spec["containers"] ||
      !spec["containers"].IsSequence()) {
    *error = kind + " has no containers list in its pod spec";
    return Outcome::kError;
  }
  switch (InjectPodSpec(spec, options, RunsToCompletion(kind, spec))) {
    case Change::kNone:
      ++result->already;
      return Outcome::kAlready;
    case Change::kConverted:
      ++result->converted;
      break;
    case Change::kAdded:
      ++result->injected;
      break;
  }
  // A flow collection cannot hold a block one: unfold the path down to the new entries so the
  // sidecar reads like any hand-written container. Other entries keep their style.
  for (auto& a : ancestors) a.SetStyle(YAML::EmitterStyle::Block);
  spec.SetStyle(YAML::EmitterStyle::Block);
  for (const char* list : {"containers", "initContainers", "volumes"}) {
    if (spec[list]) spec[list].SetStyle(YAML::EmitterStyle::Block);
  }
  return Outcome::kInjected;
}

std::string Emit(const YAML::Node& node) {
  YAML::Emitter emitter;
  emitter.SetIndent(2);
  emitter.SetSeqFormat(YAML::Block);
  emitter << node;
  return std::string(emitter.c_str()) + "\n";
}

// A document that holds JSON values one after another (`{...}{...}`, which kubectl accepts):
// their source texts, or nothing when the document is not such a stream (then it is YAML).
std::vector<std::string> SplitJsonStream(const std::string& text, std::string* error) {
  std::vector<std::string> values;
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
    values.push_back(text.substr(static_cast<size_t>(begin), static_cast<size_t>(end - begin)));
  }
  if (values.size() == 1) values.clear();  // one JSON object is a YAML document like any other
  return values;
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
    std::vector<std::string> parts = SplitJsonStream(doc.text, &json_error);
    if (!json_error.empty()) {
      fail(doc, -1, json_error);
      continue;
    }
    const bool stream = !parts.empty();
    if (!stream) parts.push_back(doc.text);
    std::string body;  // the document as it goes out, when anything in it changed
    bool changed = false;
    for (size_t i = 0; i < parts.size(); ++i) {
      // Each value of a JSON stream becomes a document of its own.
      if (stream && i > 0) body += "---\n";
      YAML::Node node;
      try {
        node = YAML::Load(parts[i]);
      } catch (const YAML::Exception& e) {
        fail(doc, e.mark.line, e.msg);
        continue;
      }
      std::string error;
      switch (InjectObject(node, options, &result, &error)) {
        case Outcome::kError:
          fail(doc, -1, error);
          break;
        case Outcome::kInjected:
          body += Emit(node);
          changed = true;
          break;
        case Outcome::kNotWorkload:
        case Outcome::kAlready:
          body += parts[i];  // untouched, so injecting twice changes nothing
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
