// `podrouter inject`: adds the podrouter sidecar and its config volume to the pod templates of
// Kubernetes manifests (Pods, Deployments, StatefulSets, DaemonSets, ReplicaSets, Jobs, CronJobs),
// as `linkerd inject` does. Documents it does not change are passed through byte for byte.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace podrouter::config {

struct InjectOptions {
  std::string image;                            // the sidecar's image
  std::string config_map = "podrouter-config";  // ConfigMap holding podrouter.yaml
  bool native_sidecar = false;  // an init container with restartPolicy: Always (Kubernetes 1.29+)
  uint16_t admin_port = 9901;   // probes and scraping (admin.bind must listen on the pod IP)
};

struct InjectResult {
  std::string output;               // the manifests, injected; empty when errors is not
  std::vector<std::string> errors;  // "document N (line L): message"
  int injected = 0;                 // workloads that got the sidecar now
  int converted = 0;  // workloads whose earlier sidecar was moved to the native-sidecar form
  int already = 0;    // workloads that had it, in a form that works
};

InjectResult Inject(const std::string& manifests, const InjectOptions& options);

}  // namespace podrouter::config
