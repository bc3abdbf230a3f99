// Scalars keep their types through a rewrite: the rule `inject` broke before (a quoted "8080"
// written back plain, a number the API server refuses for an env value).
#include "inject/yaml_json.h"

#include <gtest/gtest.h>

#include "inject/inject.h"

namespace podrouter::config {
namespace {

TEST(YamlJson, QuotedScalarsThatReadAsOtherTypesStayQuoted) {
  const YAML::Node in = YAML::Load(
      "a: \"8080\"\nb: 'yes'\nc: \"null\"\nd: \"on\"\ne: \"1.5\"\nf: \"~\"\ng: \"\"\n"
      "h: \"-1\"\ni: \"2026-11-30\"\nj: \"plain\"\nk: 8080\nl: yes\nm: \"--flag\"\n"
      "n: \"=\"\no: \"<<\"\np: \"a\\u2028b\"\nq: \" padded \"\nr: \"two\\n\\n\"\n");
  const YAML::Node out = YAML::Load(EmitYaml(in));
  for (const char* key : {"a", "b", "c", "d", "e", "f", "g", "h", "i", "n", "o", "p", "q", "r"}) {
    EXPECT_EQ(out[key].Tag(), "!") << key << " lost its quotes:\n" << EmitYaml(in);
    EXPECT_EQ(out[key].Scalar(), in[key].Scalar()) << key;
  }
  // Strings that read as strings anyway stay as they were written; plain values stay plain.
  EXPECT_EQ(EmitYaml(in).find("\"plain\""), std::string::npos);
  EXPECT_EQ(EmitYaml(in).find("\"--flag\""), std::string::npos);
  EXPECT_EQ(out["k"].Tag(), "?");
  EXPECT_EQ(out["l"].Tag(), "?");
}

TEST(YamlJson, JsonRoundTripKeepsEveryType) {
  const auto value = nlohmann::ordered_json::parse(
      R"({"s":"8080","n":8080,"f":-1.5e3,"t":true,"z":null,"e":"","a":[1,"1",false],)"
      R"("o":{"yes":"yes","u":"\u00e9\/"}})");
  EXPECT_EQ(JsonFromYaml(YamlFromJson(value)), value);
  EXPECT_EQ(JsonFromYaml(YAML::Load(value.dump())), value);  // JSON text read as YAML
  EXPECT_EQ(JsonFromYaml(YAML::Load(EmitYaml(YamlFromJson(value)))), value);
}

TEST(YamlJson, InjectKeepsTheTypesOfWhatItRewrites) {
  InjectOptions options;
  options.image = "1234";  // an image name that reads as a number
  options.config_map = "true";
  const InjectResult r = Inject(R"(kind: Deployment
spec:
  template:
    metadata: {annotations: {sidecar.example/enabled: "true", port: "80"}}
    spec:
      containers:
        - name: app
          image: "5678"
          env: [{name: PORT, value: "8080"}, {name: DEBUG, value: 'no'}]
)",
                                options);
  ASSERT_TRUE(r.errors.empty());
  const YAML::Node pod = YAML::Load(r.output)["spec"]["template"];
  const auto json = JsonFromYaml(pod);
  EXPECT_EQ(json["metadata"]["annotations"]["sidecar.example/enabled"], "true");
  EXPECT_EQ(json["metadata"]["annotations"]["port"], "80");
  EXPECT_EQ(json["spec"]["containers"][0]["image"], "5678");
  EXPECT_EQ(json["spec"]["containers"][0]["env"][0]["value"], "8080");
  EXPECT_EQ(json["spec"]["containers"][0]["env"][1]["value"], "no");
  EXPECT_EQ(json["spec"]["containers"][1]["image"], "1234");
  EXPECT_EQ(json["spec"]["containers"][1]["ports"][0]["containerPort"], 9901);
  EXPECT_EQ(json["spec"]["containers"][1]["securityContext"]["runAsNonRoot"], true);
  EXPECT_EQ(json["spec"]["volumes"][0]["configMap"]["name"], "true");
  EXPECT_EQ(json["metadata"]["annotations"][kInjectedAnnotation], "true");
}

}  // namespace
}  // namespace podrouter::config
