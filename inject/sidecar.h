// The podrouter sidecar: one description for `podrouter inject`, the admission webhook and (field
// for field, checked by tests/helm/test_chart.py) the Helm chart's `podrouter.sidecar`.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

namespace podrouter::config {

struct InjectOptions {
  std::string image;                            // the sidecar's image
  std::string config_map = "podrouter-config";  // ConfigMap holding podrouter.yaml
  bool native_sidecar = false;  // an init container with restartPolicy: Always (Kubernetes 1.29+)
  uint16_t admin_port = 9901;   // probes and scraping (admin.bind must listen on the pod IP)
};

inline constexpr char kSidecarName[] = "podrouter";        // the container's name
inline constexpr char kVolumeName[] = "podrouter-config";  // the ConfigMap volume's name
inline constexpr char kMountPath[] = "/etc/podrouter";
// Set on every pod podrouter injected (value "true"), for `kubectl get` and audits.
inline constexpr char kInjectedAnnotation[] = "podrouter.io/injected";

// Whether `name` can name a ConfigMap: an RFC 1123 subdomain (lower-case alphanumerics, '-' and
// '.', starting and ending alphanumeric, at most 253 characters).
bool IsConfigMapName(const std::string& name);

// What is wrong with `options` for a pod the API server would accept ("--config-map 'X' is not a
// ConfigMap name", "--image is empty"), or "" when nothing is.
std::string OptionsProblem(const InjectOptions& options);

// The sidecar container (Kubernetes core/v1 Container) for `options`.
nlohmann::ordered_json SidecarContainer(const InjectOptions& options);
// The volume (core/v1 Volume) that mounts `config_map` at kMountPath.
nlohmann::ordered_json SidecarVolume(const std::string& config_map);

}  // namespace podrouter::config
