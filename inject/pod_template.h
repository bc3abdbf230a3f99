// The rules for adding the sidecar to one pod: shared by `podrouter inject` (a workload's pod
// template) and the admission webhook (the Pod the API server sends).
#pragma once

#include <yaml-cpp/yaml.h>

#include <string>

#include "inject/sidecar.h"

namespace podrouter::config {

enum class PodChange {
  kNone,       // it had the sidecar, in a form that works: nothing changed
  kAdded,      // sidecar, volume and annotation added
  kConverted,  // an earlier sidecar was moved to the native form (an init container with
               // restartPolicy: Always), which a pod that runs to completion needs
};

// Whether a pod of `kind` with this spec runs to completion (Jobs, CronJobs, Pods whose
// restartPolicy is not Always): an ordinary sidecar container would keep it from completing, so
// it always gets the native form.
bool RunsToCompletion(const std::string& kind, const YAML::Node& pod_spec);

// What keeps `pod` (see InjectPod) from carrying the sidecar `options` describe, as "has no
// containers list in its pod spec", a Windows pod, a volume of the sidecar's volume name that is
// not a ConfigMap, a container already on the admin port; or "" when nothing does.
std::string PodProblem(const YAML::Node& pod, const InjectOptions& options);

// Brings `pod` — a map holding `spec` (with a `containers` list) and optionally `metadata`: a Pod,
// or a workload's pod template — to the injected form: the sidecar (appended to containers, or
// first among the init containers when `options.native_sidecar` or `runs_to_completion`), the
// ConfigMap volume unless one of that name exists, and kInjectedAnnotation. Idempotent. Only for
// a pod PodProblem has nothing against.
PodChange InjectPod(YAML::Node pod, InjectOptions options, bool runs_to_completion);

}  // namespace podrouter::config
