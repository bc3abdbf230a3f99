// `podrouter inject`: adds the podrouter sidecar and its config volume to the pod templates of
// Kubernetes manifests (Pods, Deployments, StatefulSets, DaemonSets, ReplicaSets, Jobs, CronJobs),
// as `linkerd inject` does. Documents it does not change are passed through byte for byte.
#pragma once

#include <string>
#include <vector>

#include "inject/sidecar.h"

namespace podrouter::config {

struct InjectResult {
  std::string output;               // the manifests, injected; empty when errors is not
  std::vector<std::string> errors;  // "document N (line L): message"
  int injected = 0;                 // workloads that got the sidecar now
  int converted = 0;  // workloads whose earlier sidecar was moved to the native-sidecar form
  int already = 0;    // workloads that had it, in a form that works
};

// Injects every workload in `manifests` (a YAML stream, or JSON values one after another).
// Rewritten documents keep their values' types (a quoted "8080" stays a string) and each
// collection's flow or block style; comments in them are lost, as in any YAML round trip.
InjectResult Inject(const std::string& manifests, const InjectOptions& options);

}  // namespace podrouter::config
