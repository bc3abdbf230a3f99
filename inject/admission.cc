// Admit: read the review, decide, run InjectPod on the Pod, answer with the difference as a patch.
#include "inject/admission.h"

#include <openssl/evp.h>

#include <cctype>
#include <nlohmann/json.hpp>

#include "inject/pod_template.h"
#include "inject/yaml_json.h"

namespace podrouter::config {
namespace {

using json = nlohmann::ordered_json;

constexpr int kMaxDepth = 100;  // a Pod nests about a dozen deep

struct TooDeep {};

std::string Base64(const std::string& bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()),
                                static_cast<int>(bytes.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

// JSON text; bytes of the request that are not UTF-8 (quoted in an error message, say) become
// U+FFFD instead of failing the answer.
std::string Dump(const json& value) {
  return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

json Review(const std::string& uid) {
  return {{"apiVersion", "admission.k8s.io/v1"},
          {"kind", "AdmissionReview"},
          {"response", {{"uid", uid}, {"allowed", true}}}};
}

AdmissionAnswer Answer(const json& review, const char* outcome, int status = 200,
                       const std::string& reason = "") {
  return {status, Dump(review), outcome, reason};
}

AdmissionAnswer Refused(const std::string& uid, int code, int http_status, const char* outcome,
                        const std::string& why) {
  json review = Review(uid);
  review["response"]["allowed"] = false;
  review["response"]["status"] = {{"code", code}, {"message", "podrouter webhook: " + why}};
  return Answer(review, outcome, http_status, why);
}

// A request that is no AdmissionReview: 400, and the reason in the review as well.
AdmissionAnswer Malformed(const std::string& uid, const std::string& why) {
  return Refused(uid, 400, 400, "malformed", why);
}

// A Pod that asked for the sidecar but cannot carry it: the API server refuses it with `why`.
AdmissionAnswer Denied(const std::string& uid, const std::string& why) {
  return Refused(uid, 400, 200, "denied", why);
}

AdmissionAnswer AllowedWithWarning(const std::string& uid, const char* outcome,
                                   const std::string& warning) {
  json review = Review(uid);
  review["response"]["warnings"] = {"podrouter webhook: " + warning};
  return Answer(review, outcome, 200, warning);
}

// The string at `key` of `object`, or "" when absent or not a string.
std::string StringAt(const json& object, const char* key) {
  if (!object.is_object()) return {};
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// Admit's work; sets *uid and *pod as soon as the request names them, for the log.
AdmissionAnswer Decide(std::string_view body, Scope scope, const InjectOptions& defaults,
                       std::string* uid_out, std::string* pod_out) {
  json review;
  try {
    review = json::parse(body, [](int depth, json::parse_event_t, json&) {
      if (depth >= kMaxDepth) throw TooDeep{};  // depth counts from 0
      return true;
    });
  } catch (const json::exception& e) {
    return Malformed("", std::string("the body is not JSON: ") + e.what());
  } catch (const TooDeep&) {
    return Malformed("", "the JSON nests deeper than " + std::to_string(kMaxDepth));
  }
  if (!review.is_object() || StringAt(review, "kind") != "AdmissionReview") {
    return Malformed("", "the body is not an AdmissionReview");
  }
  if (StringAt(review, "apiVersion") != "admission.k8s.io/v1") {
    return Malformed("", "apiVersion '" + StringAt(review, "apiVersion") +
                             "' is not admission.k8s.io/v1 (admissionReviewVersions: [v1])");
  }
  const json& request = review.contains("request") ? review["request"] : json();
  const std::string uid = StringAt(request, "uid");
  if (uid.empty()) return Malformed("", "the review has no request.uid");
  *uid_out = uid;
  *pod_out = StringAt(request, "namespace") + "/" + StringAt(request, "name");

  const json& kind = request.contains("kind") ? request["kind"] : json();
  if (StringAt(kind, "kind") != "Pod" || !StringAt(kind, "group").empty()) {
    return AllowedWithWarning(
        uid, "not_a_pod",
        "only Pods are injected; '" + StringAt(kind, "kind") + "' was left unchanged");
  }
  if (request.contains("subResource") && !StringAt(request, "subResource").empty()) {
    return Answer(Review(uid), "skipped");  // pods/status, pods/binding: not the pod's spec
  }
  const std::string operation = StringAt(request, "operation");
  if (!operation.empty() && operation != "CREATE") return Answer(Review(uid), "skipped");
  if (!request.contains("object") || !request["object"].is_object()) {
    return Malformed(uid, "the review has no request.object");
  }
  const json& pod = request["object"];
  const json& metadata = pod.contains("metadata") ? pod["metadata"] : json();
  if (StringAt(request, "name").empty()) {  // a pod of a ReplicaSet is named by the API server
    const std::string generate = StringAt(metadata, "generateName");
    *pod_out = StringAt(request, "namespace") + "/" +
               (generate.empty() ? StringAt(metadata, "name") : generate + "*");
  }
  const json& annotations =
      metadata.is_object() && metadata.contains("annotations") ? metadata["annotations"] : json();

  const std::string opt = StringAt(annotations, kInjectAnnotation);
  if (!opt.empty() && opt != "enabled" && opt != "disabled") {
    return AllowedWithWarning(uid, "not_opted_in",
                              std::string(kInjectAnnotation) + " is '" + opt +
                                  "'; it takes enabled or disabled, so nothing was injected");
  }
  if (scope == Scope::kPod ? opt != "enabled" : opt == "disabled") {
    return Answer(Review(uid), "not_opted_in");
  }

  InjectOptions options = defaults;
  if (std::string name = StringAt(annotations, kConfigMapAnnotation); !name.empty()) {
    if (!IsConfigMapName(name)) {
      return Denied(uid, std::string(kConfigMapAnnotation) + " '" + name +
                             "' is not a ConfigMap name (RFC 1123 subdomain)");
    }
    options.config_map = name;
  }
  const std::string native = StringAt(annotations, kNativeSidecarAnnotation);
  if (native == "true") options.native_sidecar = true;
  if (native == "false") options.native_sidecar = false;
  if (!native.empty() && native != "true" && native != "false") {
    return Denied(uid, std::string(kNativeSidecarAnnotation) + " is '" + native +
                           "'; it takes \"true\" or \"false\"");
  }

  // The Pod through the same rules as `inject`: JSON is YAML, and JsonFromYaml restores each
  // value's type, so the difference is only what InjectPod added.
  YAML::Node node;
  try {
    node = YAML::Load(pod.dump());
  } catch (const YAML::Exception& e) {
    return Malformed(uid, std::string("request.object could not be read: ") + e.what());
  }
  if (std::string problem = PodProblem(node, options); !problem.empty()) {
    // A pod that asked is refused with the reason; one that only lives in a namespace that asked
    // is let through unchanged, so opting a namespace in never blocks a pod that cannot carry it.
    if (opt != "enabled") return AllowedWithWarning(uid, "not_injected", "the Pod " + problem);
    return Denied(uid, "the Pod " + problem);
  }
  const PodChange change = InjectPod(node, options, RunsToCompletion("Pod", node["spec"]));
  json answer = Review(uid);
  if (change == PodChange::kNone) return Answer(answer, "already_injected");
  const json patch = json::diff(pod, JsonFromYaml(node));
  answer["response"]["patchType"] = "JSONPatch";
  answer["response"]["patch"] = Base64(Dump(patch));
  return Answer(answer, "injected");
}

}  // namespace

AdmissionAnswer Admit(std::string_view body, Scope scope, const InjectOptions& defaults) {
  std::string uid, pod;
  AdmissionAnswer answer = Decide(body, scope, defaults, &uid, &pod);
  answer.uid = std::move(uid);
  answer.pod = std::move(pod);
  return answer;
}

AdmissionAnswer AdmissionError(int status, const std::string& reason) {
  return Refused("", status, status, "malformed", reason);
}

}  // namespace podrouter::config
