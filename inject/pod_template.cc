// InjectPod: find an earlier sidecar by name, then add, convert or leave it.
#include "inject/pod_template.h"

#include "inject/yaml_json.h"

namespace podrouter::config {
namespace {

// The index of the entry called `name` in `list`, or -1.
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
  if (spec["initContainers"] && spec["initContainers"].IsSequence()) {
    for (const auto& c : spec["initContainers"]) init.push_back(c);
  }
  spec["initContainers"] = init;
}

bool IsAlways(const YAML::Node& policy) {
  return policy && policy.IsScalar() && policy.Scalar() == "Always";
}

PodChange ChangeSpec(YAML::Node spec, const InjectOptions& o) {
  if (int i = FindNamed(spec["initContainers"], kSidecarName); i >= 0) {
    YAML::Node sidecar = spec["initContainers"][i];
    if (IsAlways(sidecar["restartPolicy"])) return PodChange::kNone;
    // An init container that never ends would keep the pod from starting.
    sidecar["restartPolicy"] = YamlFromJson("Always");
    return PodChange::kConverted;
  }
  if (int j = FindNamed(spec["containers"], kSidecarName); j >= 0) {
    if (!o.native_sidecar) return PodChange::kNone;
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
    sidecar["restartPolicy"] = YamlFromJson("Always");
    PrependInit(spec, sidecar);
    return PodChange::kConverted;
  }
  if (o.native_sidecar) {
    PrependInit(spec, YamlFromJson(SidecarContainer(o)));
  } else {
    spec["containers"].push_back(YamlFromJson(SidecarContainer(o)));
  }
  return PodChange::kAdded;
}

}  // namespace

std::string PodProblem(const YAML::Node& pod, const InjectOptions& options) {
  const YAML::Node spec = pod["spec"];
  if (!spec || !spec.IsMap()) return "has no pod spec";
  if (!spec["containers"] || !spec["containers"].IsSequence()) {
    return "has no containers list in its pod spec";
  }
  for (const char* list : {"initContainers", "volumes"}) {
    if (spec[list] && !spec[list].IsNull() && !spec[list].IsSequence()) {
      return std::string("has a pod spec whose ") + list + " is not a list";
    }
  }
  // What follows keeps a sidecar from being added; a pod that has one already is left as it is.
  const bool has_sidecar = FindNamed(spec["containers"], kSidecarName) >= 0 ||
                           FindNamed(spec["initContainers"], kSidecarName) >= 0;
  if (!has_sidecar && spec["os"] && spec["os"].IsMap() && spec["os"]["name"] &&
      spec["os"]["name"].IsScalar() && spec["os"]["name"].Scalar() == "windows") {
    return "runs Windows (spec.os.name); the podrouter sidecar is a Linux container";
  }
  if (const int v = FindNamed(spec["volumes"], kVolumeName); v >= 0 && !has_sidecar) {
    const YAML::Node volume = spec["volumes"][v];
    if (!volume["configMap"]) {
      return std::string("has a volume named ") + kVolumeName +
             " that is not a ConfigMap volume; the sidecar would mount it as its config";
    }
  }
  // The admin port is the sidecar's: an app container that already declares it would clash.
  for (const char* list : {"containers", "initContainers"}) {
    if (has_sidecar || !spec[list] || !spec[list].IsSequence()) continue;
    for (const auto& c : spec[list]) {
      if (!c.IsMap() || (c["name"] && c["name"].IsScalar() && c["name"].Scalar() == kSidecarName)) {
        continue;
      }
      if (!c["ports"] || !c["ports"].IsSequence()) continue;
      for (const auto& port : c["ports"]) {
        if (port.IsMap() && port["containerPort"] && port["containerPort"].IsScalar() &&
            port["containerPort"].Scalar() == std::to_string(options.admin_port)) {
          return "has a container that already uses port " + std::to_string(options.admin_port) +
                 ", the sidecar's admin port (choose another with --admin-port)";
        }
      }
    }
  }
  const YAML::Node metadata = pod["metadata"];
  if (metadata && !metadata.IsNull() &&
      (!metadata.IsMap() || (metadata["annotations"] && !metadata["annotations"].IsNull() &&
                             !metadata["annotations"].IsMap()))) {
    return "has pod metadata or annotations that are not maps";
  }
  return {};
}

bool RunsToCompletion(const std::string& kind, const YAML::Node& pod_spec) {
  if (kind == "Job" || kind == "CronJob") return true;
  if (kind != "Pod" || !pod_spec["restartPolicy"]) return false;
  const YAML::Node policy = pod_spec["restartPolicy"];
  return policy.IsScalar() && policy.Scalar() != "Always";
}

PodChange InjectPod(YAML::Node pod, InjectOptions options, bool runs_to_completion) {
  options.native_sidecar = options.native_sidecar || runs_to_completion;
  YAML::Node spec = pod["spec"];
  const PodChange change = ChangeSpec(spec, options);
  if (change == PodChange::kNone) return change;
  if (FindNamed(spec["volumes"], kVolumeName) < 0) {
    spec["volumes"].push_back(YamlFromJson(SidecarVolume(options.config_map)));
  }
  if (!pod["metadata"].IsMap()) pod["metadata"] = YAML::Node(YAML::NodeType::Map);
  if (!pod["metadata"]["annotations"].IsMap()) {
    pod["metadata"]["annotations"] = YAML::Node(YAML::NodeType::Map);
  }
  pod["metadata"]["annotations"][kInjectedAnnotation] = YamlFromJson("true");
  return change;
}

}  // namespace podrouter::config
