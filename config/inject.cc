// Inject: split the stream into documents, find each workload's pod spec, add what is missing.
#include "config/inject.h"

#include <yaml-cpp/yaml.h>

#include <set>
#include <sstream>

namespace podrouter::config {
namespace {

constexpr char kContainer[] = "podrouter";
constexpr char kVolume[] = "podrouter-config";
constexpr char kMountPath[] = "/etc/podrouter";

struct Document {
  std::string separator;  // the "---" line that opened it, if any, as written
  std::string text;
  int first_line = 1;  // 1-based line of `text` in the input
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
      docs.push_back({line + "\n", "", number + 1});
      // Content after the marker on the same line ("--- {a: 1}") belongs to the document.
      const size_t content = line.find_first_not_of(" \t\r", 3);
      if (content != std::string::npos && line[content] != '#') {
        docs.back().separator = "---\n";
        docs.back().text = line.substr(content) + "\n";
        docs.back().first_line = number;
      }
      continue;
    }
    docs.back().text += line + "\n";
  }
  if (!ended_with_newline && !docs.back().text.empty()) docs.back().text.pop_back();
  return docs;
}

// Where the pod spec lives, by kind.
std::vector<std::string> PodSpecPath(const std::string& kind) {
  if (kind == "Pod") return {"spec"};
  if (kind == "Deployment" || kind == "StatefulSet" || kind == "DaemonSet" ||
      kind == "ReplicaSet" || kind == "Job") {
    return {"spec", "template", "spec"};
  }
  if (kind == "CronJob") return {"spec", "jobTemplate", "spec", "template", "spec"};
  return {};
}

bool HasNamed(const YAML::Node& list, const std::string& name) {
  if (!list || !list.IsSequence()) return false;
  for (const auto& item : list) {
    if (item.IsMap() && item["name"] && item["name"].IsScalar() && item["name"].Scalar() == name) {
      return true;
    }
  }
  return false;
}

YAML::Node Sidecar(const InjectOptions& o) {
  const std::string port = std::to_string(o.admin_port);
  YAML::Node c(YAML::NodeType::Map);
  c["name"] = kContainer;
  c["image"] = o.image;
  c["args"].push_back("run");
  c["args"].push_back("--config");
  c["args"].push_back(std::string(kMountPath) + "/podrouter.yaml");
  c["args"].SetStyle(YAML::EmitterStyle::Flow);
  YAML::Node admin;
  admin["name"] = "podrouter-admin";
  admin["containerPort"] = o.admin_port;
  c["ports"].push_back(admin);
  if (o.native_sidecar) c["restartPolicy"] = "Always";
  c["readinessProbe"]["httpGet"]["path"] = "/ready";
  c["readinessProbe"]["httpGet"]["port"] = o.admin_port;
  c["readinessProbe"]["periodSeconds"] = 2;
  c["livenessProbe"]["httpGet"]["path"] = "/healthz";
  c["livenessProbe"]["httpGet"]["port"] = o.admin_port;
  c["livenessProbe"]["periodSeconds"] = 10;
  c["resources"]["requests"]["cpu"] = "50m";
  c["resources"]["requests"]["memory"] = "32Mi";
  c["resources"]["limits"]["memory"] = "128Mi";
  YAML::Node sc;
  sc["runAsNonRoot"] = true;
  sc["runAsUser"] = 65532;
  sc["allowPrivilegeEscalation"] = false;
  sc["readOnlyRootFilesystem"] = true;
  sc["capabilities"]["drop"].push_back("ALL");
  sc["capabilities"]["drop"].SetStyle(YAML::EmitterStyle::Flow);
  c["securityContext"] = sc;
  YAML::Node mount;
  mount["name"] = kVolume;
  mount["mountPath"] = kMountPath;
  mount["readOnly"] = true;
  c["volumeMounts"].push_back(mount);
  return c;
}

// Adds what is missing to one pod spec; returns false when it already had the sidecar.
bool InjectPodSpec(YAML::Node spec, const InjectOptions& o) {
  if (HasNamed(spec["containers"], kContainer) || HasNamed(spec["initContainers"], kContainer)) {
    return false;
  }
  if (o.native_sidecar) {
    // First among the init containers, so it is up before the others and the app.
    YAML::Node init(YAML::NodeType::Sequence);
    init.push_back(Sidecar(o));
    if (spec["initContainers"]) {
      for (const auto& c : spec["initContainers"]) init.push_back(c);
    }
    spec["initContainers"] = init;
  } else {
    spec["containers"].push_back(Sidecar(o));
  }
  if (!HasNamed(spec["volumes"], kVolume)) {
    YAML::Node volume;
    volume["name"] = kVolume;
    volume["configMap"]["name"] = o.config_map;
    spec["volumes"].push_back(volume);
  }
  return true;
}

}  // namespace

InjectResult Inject(const std::string& manifests, const InjectOptions& options) {
  InjectResult result;
  std::string out;
  int index = 0;
  for (const Document& doc : Split(manifests)) {
    ++index;
    out += doc.separator;
    YAML::Node node;
    try {
      node = YAML::Load(doc.text);
    } catch (const YAML::Exception& e) {
      int line = e.mark.line >= 0 ? doc.first_line + e.mark.line : doc.first_line;
      result.errors.push_back("document " + std::to_string(index) + " (line " +
                              std::to_string(line) + "): " + e.msg);
      continue;
    }
    std::vector<std::string> path;
    if (node.IsMap() && node["kind"] && node["kind"].IsScalar()) {
      path = PodSpecPath(node["kind"].Scalar());
    }
    YAML::Node spec = node;
    std::vector<YAML::Node> ancestors;
    for (const auto& key : path) {
      ancestors.push_back(spec);
      spec.reset(spec[key]);  // rebinds; `spec = spec[key]` would overwrite the node itself
      if (!spec.IsDefined() || !spec.IsMap()) break;
    }
    if (path.empty() || !spec.IsDefined() || !spec.IsMap()) {
      out += doc.text;  // not a workload: untouched
      continue;
    }
    if (!spec["containers"] || !spec["containers"].IsSequence()) {
      result.errors.push_back("document " + std::to_string(index) + " (line " +
                              std::to_string(doc.first_line) + "): " + node["kind"].Scalar() +
                              " has no containers list in its pod spec");
      continue;
    }
    if (!InjectPodSpec(spec, options)) {
      ++result.already;
      out += doc.text;  // injected before: untouched, so injecting twice changes nothing
      continue;
    }
    ++result.injected;
    // A flow collection cannot hold a block one: unfold the path down to the new entries so the
    // sidecar reads like any hand-written container. Other entries keep their style.
    for (auto& a : ancestors) a.SetStyle(YAML::EmitterStyle::Block);
    spec.SetStyle(YAML::EmitterStyle::Block);
    for (const char* list : {"containers", "initContainers", "volumes"}) {
      if (spec[list]) spec[list].SetStyle(YAML::EmitterStyle::Block);
    }
    YAML::Emitter emitter;
    emitter.SetIndent(2);
    emitter.SetSeqFormat(YAML::Block);
    emitter << node;
    out += emitter.c_str();
    out += "\n";
  }
  if (result.errors.empty()) result.output = std::move(out);
  return result;
}

}  // namespace podrouter::config
