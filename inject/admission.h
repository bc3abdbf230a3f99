// The admission webhook's answer: a Kubernetes AdmissionReview (admission.k8s.io/v1) request for
// a Pod in, the AdmissionReview response out, with a JSONPatch (RFC 6902) that adds the sidecar by
// the same rules as `podrouter inject` (inject/pod_template.h). Pure: no I/O.
//
// Opt-in, per pod or per namespace (the chart registers one webhook for each, see Scope):
//   podrouter.io/inject: enabled | disabled     the pod's annotation
//   podrouter.io/config-map: NAME               the ConfigMap with podrouter.yaml (else the
//   default) podrouter.io/native-sidecar: "true"|"false" the native form (else the default)
// Source: https://kubernetes.io/docs/reference/access-authn-authz/extensible-admission-controllers/
#pragma once

#include <string>
#include <string_view>

#include "inject/sidecar.h"

namespace podrouter::config {

inline constexpr char kInjectAnnotation[] = "podrouter.io/inject";
inline constexpr char kConfigMapAnnotation[] = "podrouter.io/config-map";
inline constexpr char kNativeSidecarAnnotation[] = "podrouter.io/native-sidecar";

enum class Scope {
  kPod,        // the pod asked for it: injected when annotated `enabled`
  kNamespace,  // the namespace asked for it: injected unless the pod is annotated `disabled`
};

struct AdmissionAnswer {
  int status = 200;     // HTTP status: 200, or 400 for a request that is no AdmissionReview v1
  std::string body;     // an AdmissionReview v1 (JSON) in every case
  std::string outcome;  // for the log: injected, already_injected, not_opted_in, not_a_pod,
                        // skipped (not a CREATE of the pod itself), not_injected (a pod of an
                        // opted-in namespace that cannot carry the sidecar), denied, malformed
  std::string reason;   // why, when denied or malformed or with a warning; else ""
  std::string uid;      // request.uid, once the request got that far; else ""
  std::string pod;      // "namespace/name" ("namespace/generateName*"), likewise
};

// Answers one AdmissionReview. Pods that opted in get a patch (none when they already have the
// sidecar); other kinds and pods that did not opt in are allowed unchanged (kinds other than Pod
// with a warning); a Pod that asked by annotation but cannot carry the sidecar (no containers list,
// a bad ConfigMap name, see PodProblem) is denied with the reason, one that did not ask itself is
// allowed unchanged with the reason as a warning. Malformed JSON, a JSON nesting deeper than 100,
// or a review without request.uid gets status 400 and a response with allowed: false and the
// reason.
AdmissionAnswer Admit(std::string_view body, Scope scope, const InjectOptions& defaults);

// The AdmissionReview error answer (allowed: false, status.code `status`, the reason) for a request
// that never reached Admit: a body over the size limit (413), unparsable HTTP (400).
AdmissionAnswer AdmissionError(int status, const std::string& reason);

}  // namespace podrouter::config
