// Fuzz target: the admission webhook's answer to any body, in both scopes, is an AdmissionReview
// (JSON, with the request's uid when it had one), never a crash; a patch it returns applies to the
// Pod it came with, and applying it gives a Pod that the same answer leaves alone (idempotence).
#include <openssl/evp.h>

#include <cstdint>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>

#include "inject/admission.h"

namespace {

std::string Unbase64(const std::string& text) {
  std::string raw(text.size(), '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(raw.data()),
                                reinterpret_cast<const unsigned char*>(text.data()),
                                static_cast<int>(text.size()));
  if (n < 0) abort();
  raw.resize(static_cast<size_t>(n));
  while (!raw.empty() && raw.back() == '\0') raw.pop_back();
  return raw;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using json = nlohmann::json;
  using podrouter::config::Admit;
  using podrouter::config::Scope;
  const std::string body(reinterpret_cast<const char*>(data), size);
  podrouter::config::InjectOptions options;
  options.image = "podrouter:fuzz";
  for (Scope scope : {Scope::kPod, Scope::kNamespace}) {
    const auto answer = Admit(body, scope, options);
    const json review = json::parse(answer.body);  // throws (a crash) when not JSON
    if (review.at("kind") != "AdmissionReview" || !review.at("response").is_object()) abort();
    if ((answer.status == 200) != review["response"].value("allowed", true) &&
        answer.outcome != "denied") {
      abort();
    }
    if (!review["response"].contains("patch")) continue;
    json request = json::parse(body).at("request");
    const json patch = json::parse(Unbase64(review["response"]["patch"]));
    request["object"] = request["object"].patch(patch);  // throws when it does not apply
    json again = json::parse(body);
    again["request"] = request;
    const auto second = Admit(again.dump(), scope, options);
    if (json::parse(second.body)["response"].contains("patch")) abort();  // not idempotent
  }
  return 0;
}
