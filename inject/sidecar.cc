// The sidecar container: locked down (non-root, read-only, no capabilities), probed on the admin
// port, resources sized for a proxy that holds little.
#include "inject/sidecar.h"

#include <cctype>

namespace podrouter::config {

bool IsConfigMapName(const std::string& name) {
  if (name.empty() || name.size() > 253) return false;
  for (char c : name) {
    if (!(std::islower(static_cast<unsigned char>(c)) ||
          std::isdigit(static_cast<unsigned char>(c)) || c == '-' || c == '.')) {
      return false;
    }
  }
  return std::isalnum(static_cast<unsigned char>(name.front())) &&
         std::isalnum(static_cast<unsigned char>(name.back()));
}

std::string OptionsProblem(const InjectOptions& o) {
  if (!IsConfigMapName(o.config_map)) {
    return "--config-map '" + o.config_map + "' is not a ConfigMap name (RFC 1123 subdomain)";
  }
  if (o.image.empty()) return "--image is empty";
  for (unsigned char c : o.image) {
    if (c <= ' ' || c >= 127) return "--image '" + o.image + "' holds a space or control byte";
  }
  return {};
}

nlohmann::ordered_json SidecarContainer(const InjectOptions& o) {
  using json = nlohmann::ordered_json;
  json c = {
      {"name", kSidecarName},
      {"image", o.image},
      {"imagePullPolicy", "IfNotPresent"},
      {"args",
       {"run", "--config", std::string(kMountPath) + "/podrouter.yaml", "--log-level", "info"}},
  };
  if (o.native_sidecar) c["restartPolicy"] = "Always";
  c["ports"] = json::array({{{"name", "podrouter-admin"}, {"containerPort", o.admin_port}}});
  c["readinessProbe"] = {{"httpGet", {{"path", "/ready"}, {"port", "podrouter-admin"}}},
                         {"periodSeconds", 2}};
  c["livenessProbe"] = {{"httpGet", {{"path", "/healthz"}, {"port", "podrouter-admin"}}},
                        {"periodSeconds", 10}};
  c["resources"] = {{"requests", {{"cpu", "50m"}, {"memory", "32Mi"}}},
                    {"limits", {{"memory", "128Mi"}}}};
  c["securityContext"] = {
      {"runAsNonRoot", true},
      {"runAsUser", 65532},
      {"runAsGroup", 65532},
      {"allowPrivilegeEscalation", false},
      {"readOnlyRootFilesystem", true},
      {"capabilities", {{"drop", {"ALL"}}}},
      {"seccompProfile", {{"type", "RuntimeDefault"}}},
  };
  c["volumeMounts"] =
      json::array({{{"name", kVolumeName}, {"mountPath", kMountPath}, {"readOnly", true}}});
  return c;
}

nlohmann::ordered_json SidecarVolume(const std::string& config_map) {
  return {{"name", kVolumeName}, {"configMap", {{"name", config_map}}}};
}

}  // namespace podrouter::config
