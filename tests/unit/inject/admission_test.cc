// The webhook's answers: who opts in, what the patch adds (applied here by hand: every operation
// nlohmann's diff makes), and an AdmissionReview for everything malformed.
#include "inject/admission.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <nlohmann/json.hpp>

namespace podrouter::config {
namespace {

using json = nlohmann::json;

InjectOptions Defaults() {
  InjectOptions o;
  o.image = "podrouter:test";
  return o;
}

json PodReview(json pod, std::string kind = "Pod") {
  return {{"apiVersion", "admission.k8s.io/v1"},
          {"kind", "AdmissionReview"},
          {"request",
           {{"uid", "705ab4f5-6393-11e8-b7cc-42010a800002"},
            {"kind", {{"group", ""}, {"version", "v1"}, {"kind", kind}}},
            {"operation", "CREATE"},
            {"object", std::move(pod)}}}};
}

json Pod(json annotations) {
  json pod = {{"apiVersion", "v1"},
              {"kind", "Pod"},
              {"metadata", {{"name", "app-1"}, {"namespace", "shop"}}},
              {"spec", {{"containers", {{{"name", "app"}, {"image", "app:1"}}}}}}};
  if (!annotations.is_null()) pod["metadata"]["annotations"] = annotations;
  return pod;
}

struct Reply {
  int status;
  json review;
};

Reply Ask(const json& review, Scope scope = Scope::kPod) {
  AdmissionAnswer a = Admit(review.dump(), scope, Defaults());
  return {a.status, json::parse(a.body)};
}

// The pod with the answer's patch applied.
json Patched(const json& pod, const json& review) {
  const std::string b64 = review["response"]["patch"];
  std::string raw(b64.size(), '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(raw.data()),
                                reinterpret_cast<const unsigned char*>(b64.data()),
                                static_cast<int>(b64.size()));
  raw.resize(static_cast<size_t>(n));
  while (!raw.empty() && raw.back() == '\0') raw.pop_back();  // base64 padding
  return pod.patch(json::parse(raw));
}

TEST(Admission, AnAnnotatedPodGetsTheSidecarVolumeAndAnnotation) {
  const json pod = Pod({{"podrouter.io/inject", "enabled"}});
  Reply r = Ask(PodReview(pod));
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.review["response"]["uid"], "705ab4f5-6393-11e8-b7cc-42010a800002");
  EXPECT_EQ(r.review["response"]["allowed"], true);
  EXPECT_EQ(r.review["response"]["patchType"], "JSONPatch");
  const json patched = Patched(pod, r.review);
  ASSERT_EQ(patched["spec"]["containers"].size(), 2u);
  EXPECT_EQ(patched["spec"]["containers"][1]["name"], "podrouter");
  EXPECT_EQ(patched["spec"]["containers"][1]["image"], "podrouter:test");
  EXPECT_EQ(patched["spec"]["volumes"][0]["configMap"]["name"], "podrouter-config");
  EXPECT_EQ(patched["metadata"]["annotations"]["podrouter.io/injected"], "true");

  // Idempotent: the injected pod gets no patch.
  Reply again = Ask(PodReview(patched));
  EXPECT_EQ(again.review["response"]["allowed"], true);
  EXPECT_FALSE(again.review["response"].contains("patch"));
}

TEST(Admission, AnnotationsChooseTheConfigMapAndTheNativeForm) {
  const json pod = Pod({{"podrouter.io/inject", "enabled"},
                        {"podrouter.io/config-map", "orders-router"},
                        {"podrouter.io/native-sidecar", "true"}});
  const json patched = Patched(pod, Ask(PodReview(pod)).review);
  ASSERT_EQ(patched["spec"]["initContainers"].size(), 1u);
  EXPECT_EQ(patched["spec"]["initContainers"][0]["restartPolicy"], "Always");
  EXPECT_EQ(patched["spec"]["containers"].size(), 1u);
  EXPECT_EQ(patched["spec"]["volumes"][0]["configMap"]["name"], "orders-router");
}

TEST(Admission, ScopeDecidesWhoIsInjected) {
  const json plain = Pod(nullptr);
  EXPECT_FALSE(Ask(PodReview(plain), Scope::kPod).review["response"].contains("patch"));
  EXPECT_TRUE(Ask(PodReview(plain), Scope::kNamespace).review["response"].contains("patch"));
  const json out = Pod({{"podrouter.io/inject", "disabled"}});
  EXPECT_FALSE(Ask(PodReview(out), Scope::kNamespace).review["response"].contains("patch"));
  const json odd = Pod({{"podrouter.io/inject", "yes"}});
  Reply r = Ask(PodReview(odd));
  EXPECT_EQ(r.review["response"]["allowed"], true);
  EXPECT_FALSE(r.review["response"].contains("patch"));
  EXPECT_NE(r.review["response"]["warnings"][0].get<std::string>().find("enabled or disabled"),
            std::string::npos);
}

TEST(Admission, OtherKindsAndOperationsPassUnchanged) {
  Reply r = Ask(PodReview(json::object(), "Deployment"));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.review["response"]["allowed"], true);
  EXPECT_FALSE(r.review["response"].contains("patch"));
  EXPECT_EQ(r.review["response"]["warnings"].size(), 1u);
  json update = PodReview(Pod({{"podrouter.io/inject", "enabled"}}));
  update["request"]["operation"] = "UPDATE";
  EXPECT_FALSE(Ask(update).review["response"].contains("patch"));
}

TEST(Admission, PodsThatCannotCarryTheSidecarAreDeniedWithTheReason) {
  json pod = Pod({{"podrouter.io/inject", "enabled"}});
  pod["spec"]["containers"] = "app";
  Reply r = Ask(PodReview(pod));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.review["response"]["allowed"], false);
  EXPECT_NE(r.review["response"]["status"]["message"].get<std::string>().find("containers"),
            std::string::npos);
  json bad_name = Pod({{"podrouter.io/inject", "enabled"}, {"podrouter.io/config-map", "A_B"}});
  EXPECT_EQ(Ask(PodReview(bad_name)).review["response"]["allowed"], false);
}

TEST(Admission, PodsWhereTheSidecarCannotWorkAreNamedNotPatched) {
  json windows = Pod({{"podrouter.io/inject", "enabled"}});
  windows["spec"]["os"] = {{"name", "windows"}};
  json volume = Pod({{"podrouter.io/inject", "enabled"}});
  volume["spec"]["volumes"] = {{{"name", "podrouter-config"}, {"emptyDir", json::object()}}};
  json port = Pod({{"podrouter.io/inject", "enabled"}});
  port["spec"]["containers"][0]["ports"] = {{{"containerPort", 9901}}};
  for (const auto& [pod, words] :
       {std::pair{windows, "Windows"}, {volume, "not a ConfigMap"}, {port, "port 9901"}}) {
    Reply asked = Ask(PodReview(pod));
    EXPECT_EQ(asked.review["response"]["allowed"], false) << words;
    EXPECT_NE(asked.review["response"]["status"]["message"].get<std::string>().find(words),
              std::string::npos);
    // In a namespace that opted in, a pod that did not ask itself is let through with a warning.
    json unasked = pod;
    unasked["metadata"].erase("annotations");
    Reply r = Ask(PodReview(unasked), Scope::kNamespace);
    EXPECT_EQ(r.review["response"]["allowed"], true) << words;
    EXPECT_FALSE(r.review["response"].contains("patch"));
    EXPECT_NE(r.review["response"]["warnings"][0].get<std::string>().find(words),
              std::string::npos);
  }
}

TEST(Admission, TheLogGetsTheRequestsIdentity) {
  json pod = Pod({{"podrouter.io/inject", "enabled"}});
  json review = PodReview(pod);
  review["request"]["namespace"] = "shop";
  AdmissionAnswer a = Admit(review.dump(), Scope::kPod, Defaults());
  EXPECT_EQ(a.outcome, "injected");
  EXPECT_EQ(a.uid, "705ab4f5-6393-11e8-b7cc-42010a800002");
  EXPECT_EQ(a.pod, "shop/app-1");
}

TEST(Admission, MalformedRequestsGetAnAdmissionReviewError) {
  const std::string deep = std::string(101, '[') + std::string(101, ']');
  EXPECT_NE(Admit(std::string(100, '[') + std::string(100, ']'), Scope::kPod, Defaults())
                .reason.find("not an AdmissionReview"),
            std::string::npos);  // 100 deep is read (and then is no review)
  for (const std::string& body :
       {std::string("not json"), std::string("[]"), std::string("{\"kind\":\"Pod\"}"),
        std::string(R"({"apiVersion":"admission.k8s.io/v1beta1","kind":"AdmissionReview"})"),
        std::string(R"({"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"})"),
        std::string(R"({"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview",)"
                    R"("request":{"uid":"u","kind":{"kind":"Pod"}}})"),
        deep, std::string(""), std::string("\xff\xfe{\"a\": 1}"),
        std::string("{\"apiVersion\":\"admission.k8s.io/"
                    "v1\",\"kind\":\"AdmissionReview\",\"x\":\"\xc3\"}")}) {
    AdmissionAnswer a = Admit(body, Scope::kPod, Defaults());
    EXPECT_EQ(a.status, 400) << body.substr(0, 80);
    const json review = json::parse(a.body);
    EXPECT_EQ(review["kind"], "AdmissionReview");
    EXPECT_EQ(review["response"]["allowed"], false);
    EXPECT_EQ(review["response"]["status"]["code"], 400);
    EXPECT_FALSE(a.reason.empty());
  }
}

}  // namespace
}  // namespace podrouter::config
