// `podrouter inject`: every workload kind gets the sidecar and its volume once; everything else
// passes through byte for byte; broken YAML is an error with nothing written.
#include "inject/inject.h"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

namespace podrouter::config {
namespace {

constexpr char kManifests[] = R"(# a leading comment stays
apiVersion: v1
kind: Service
metadata: {name: mydb}   # untouched, comments and all
spec: {clusterIP: None}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: app
spec:
  template:
    metadata:
      labels: {app: app}
    spec:
      containers:
        - name: app
          image: app:1
          env: [{name: DB, value: "localhost:15432"}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: sts}
spec:
  template:
    spec:
      initContainers: [{name: migrate, image: m:1}]
      containers: [{name: db, image: pg:16}]
      volumes: [{name: data, emptyDir: {}}]
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: nightly}
spec:
  schedule: "0 3 * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: OnFailure
          containers: [{name: job, image: j:1}]
---
apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  containers: [{name: c, image: c:1}]
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: ds}
spec: {template: {spec: {containers: [{name: d, image: d:1}]}}}
---
apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: rs}
spec: {template: {spec: {containers: [{name: r, image: r:1}]}}}
---
apiVersion: batch/v1
kind: Job
metadata: {name: once}
spec: {template: {spec: {restartPolicy: Never, containers: [{name: o, image: o:1}]}}}
)";

InjectOptions Options() {
  InjectOptions o;
  o.image = "registry.local/podrouter:test";
  o.config_map = "mydb-routes";
  return o;
}

std::vector<YAML::Node> Docs(const std::string& text) { return YAML::LoadAll(text); }

YAML::Node PodSpec(const YAML::Node& doc) {
  std::string kind = doc["kind"].as<std::string>();
  if (kind == "Pod") return doc["spec"];
  if (kind == "CronJob") return doc["spec"]["jobTemplate"]["spec"]["template"]["spec"];
  return doc["spec"]["template"]["spec"];
}

TEST(Inject, EveryWorkloadKindGetsTheSidecarOnce) {
  InjectResult r = Inject(kManifests, Options());
  ASSERT_TRUE(r.errors.empty()) << r.errors[0];
  EXPECT_EQ(r.injected, 7);
  auto docs = Docs(r.output);
  ASSERT_EQ(docs.size(), 8u);
  for (size_t i = 1; i < docs.size(); ++i) {
    YAML::Node spec = PodSpec(docs[i]);
    const std::string kind = docs[i]["kind"].as<std::string>();
    // Run-to-completion pods get the native form (issue 10, item 7a): an ordinary sidecar
    // container would keep the Job's pod running forever.
    const bool native = kind == "Job" || kind == "CronJob";
    const YAML::Node& containers = spec["containers"];
    const YAML::Node sidecar =
        native ? spec["initContainers"][0] : containers[containers.size() - 1];
    EXPECT_EQ(containers.size(), native ? 1u : 2u) << kind;
    EXPECT_EQ(sidecar["name"].as<std::string>(), "podrouter") << i;
    EXPECT_EQ(sidecar["restartPolicy"].IsDefined(), native) << kind;
    if (native) {
      EXPECT_EQ(sidecar["restartPolicy"].as<std::string>(), "Always");
    }
    EXPECT_EQ(sidecar["image"].as<std::string>(), "registry.local/podrouter:test");
    EXPECT_EQ(sidecar["securityContext"]["readOnlyRootFilesystem"].as<bool>(), true);
    EXPECT_EQ(sidecar["readinessProbe"]["httpGet"]["path"].as<std::string>(), "/ready");
    const YAML::Node& volumes = spec["volumes"];
    EXPECT_EQ(volumes[volumes.size() - 1]["configMap"]["name"].as<std::string>(), "mydb-routes");
  }
  // Existing fields stay as they were.
  EXPECT_EQ(
      docs[1]["spec"]["template"]["spec"]["containers"][0]["env"][0]["value"].as<std::string>(),
      "localhost:15432");
  EXPECT_EQ(docs[2]["spec"]["template"]["spec"]["volumes"][0]["name"].as<std::string>(), "data");
  EXPECT_EQ(docs[3]["spec"]["schedule"].as<std::string>(), "0 3 * * *");
}

TEST(Inject, OtherDocumentsPassThroughByteForByte) {
  // Every document inject does not change comes back as written, wherever it stands.
  const std::vector<std::string> untouched = {
      "# leading comment\napiVersion: v1\nkind: Service\nmetadata: {name: s}   # trailing\n",
      "kind: ConfigMap\ndata:\n  a: &x \"1\"\n  b: *x\n  c: |\n    literal\n      block\n",
      "kind: Pod  # injected before\nspec:\n  containers:\n  - {name: app, image: a}\n"
      "  - {name: podrouter, image: p}\n  volumes: [{name: podrouter-config}]\n",
      "--- !!map\n{kind: Secret, type: Opaque}\n",
  };
  const std::string deployment =
      "kind: Deployment\nspec: {template: {spec: {containers: [{name: d, image: d:1}]}}}\n";
  const std::string input = untouched[0] + "---\n" + deployment + "---\n" + untouched[1] + "---\n" +
                            untouched[2] + untouched[3];
  InjectResult r = Inject(input, Options());
  ASSERT_TRUE(r.errors.empty()) << r.errors[0];
  EXPECT_EQ(r.injected, 1);
  EXPECT_EQ(r.already, 1);
  for (const auto& doc : untouched) EXPECT_NE(r.output.find(doc), std::string::npos) << doc;
  EXPECT_EQ(r.output.rfind(untouched[0], 0), 0u);
  EXPECT_EQ(r.output.substr(r.output.size() - untouched[3].size()), untouched[3]);
}

TEST(Inject, IsIdempotent) {
  InjectResult once = Inject(kManifests, Options());
  InjectResult twice = Inject(once.output, Options());
  ASSERT_TRUE(twice.errors.empty());
  EXPECT_EQ(twice.injected, 0);
  EXPECT_EQ(twice.already, 7);
  EXPECT_EQ(twice.output, once.output);
}

TEST(Inject, NativeSidecarIsTheFirstInitContainer) {
  InjectOptions o = Options();
  o.native_sidecar = true;
  InjectResult r = Inject(kManifests, o);
  ASSERT_TRUE(r.errors.empty());
  YAML::Node sts = PodSpec(Docs(r.output)[2]);
  ASSERT_EQ(sts["initContainers"].size(), 2u);
  EXPECT_EQ(sts["initContainers"][0]["name"].as<std::string>(), "podrouter");
  EXPECT_EQ(sts["initContainers"][0]["restartPolicy"].as<std::string>(), "Always");
  EXPECT_EQ(sts["initContainers"][1]["name"].as<std::string>(), "migrate");
  EXPECT_EQ(sts["containers"].size(), 1u);
}

TEST(Inject, BrokenYamlIsAnErrorAndNothingIsWritten) {
  InjectResult r = Inject("kind: Service\n---\nkind: [unclosed\n", Options());
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].rfind("document 2 (line ", 0), 0u) << r.errors[0];
  EXPECT_TRUE(r.output.empty());
}

TEST(Inject, WorkloadWithoutContainersIsAnError) {
  InjectResult r = Inject("kind: Deployment\nspec: {template: {spec: {}}}\n", Options());
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_NE(r.errors[0].find("no containers list"), std::string::npos);
}

TEST(Inject, ContentOnTheSeparatorLineBelongsToItsDocument) {
  InjectResult r = Inject(
      "--- # just a comment\nkind: Service\n--- {kind: Pod, spec: {containers: []}}\n", Options());
  ASSERT_TRUE(r.errors.empty()) << r.errors[0];
  EXPECT_EQ(r.injected, 1);
  auto docs = Docs(r.output);
  ASSERT_EQ(docs.size(), 2u);
  EXPECT_EQ(docs[1]["spec"]["containers"][0]["name"].as<std::string>(), "podrouter");
  EXPECT_EQ(r.output.rfind("--- # just a comment\nkind: Service\n", 0), 0u);
}

TEST(Inject, PodsThatRunToCompletionGetTheNativeForm) {
  InjectResult r = Inject(
      "kind: Pod\nspec: {restartPolicy: Never, containers: [{name: c, image: c:1}]}\n---\n"
      "kind: Pod\nspec: {restartPolicy: Always, containers: [{name: c, image: c:1}]}\n",
      Options());
  ASSERT_TRUE(r.errors.empty()) << r.errors[0];
  auto docs = Docs(r.output);
  EXPECT_EQ(docs[0]["spec"]["initContainers"][0]["restartPolicy"].as<std::string>(), "Always");
  EXPECT_EQ(docs[0]["spec"]["containers"].size(), 1u);
  EXPECT_FALSE(docs[1]["spec"]["initContainers"].IsDefined());
  EXPECT_EQ(docs[1]["spec"]["containers"].size(), 2u);
}

TEST(Inject, AnEarlierSidecarThatCannotWorkIsConverted) {
  // Found by trying issue 10's work: a Job injected by an older podrouter (an ordinary sidecar
  // container) was reported as "already had the sidecar" and left never finishing.
  const std::string old_job =
      "kind: Job\nspec: {template: {spec: {restartPolicy: Never, containers: [{name: app, image: "
      "a:1}, {name: podrouter, image: p:1}]}}}\n";
  InjectResult r = Inject(old_job, Options());
  ASSERT_TRUE(r.errors.empty()) << r.errors[0];
  EXPECT_EQ(r.converted, 1);
  EXPECT_EQ(r.already, 0);
  YAML::Node spec = YAML::Load(r.output)["spec"]["template"]["spec"];
  ASSERT_EQ(spec["containers"].size(), 1u);
  EXPECT_EQ(spec["containers"][0]["name"].as<std::string>(), "app");
  EXPECT_EQ(spec["initContainers"][0]["name"].as<std::string>(), "podrouter");
  EXPECT_EQ(spec["initContainers"][0]["image"].as<std::string>(), "p:1");  // kept as it was
  EXPECT_EQ(spec["initContainers"][0]["restartPolicy"].as<std::string>(), "Always");
  EXPECT_EQ(spec["volumes"][0]["name"].as<std::string>(), "podrouter-config");
  // Now it works: injecting again changes nothing.
  InjectResult again = Inject(r.output, Options());
  EXPECT_EQ(again.output, r.output);
  EXPECT_EQ(again.already, 1);
  // An init container without restartPolicy: Always would never end, so the pod never starts.
  InjectResult init = Inject(
      "kind: Deployment\nspec: {template: {spec: {initContainers: [{name: podrouter, image: p:1}], "
      "containers: [{name: app, image: a:1}]}}}\n",
      Options());
  EXPECT_EQ(init.converted, 1);
  EXPECT_EQ(
      YAML::Load(init.output)["spec"]["template"]["spec"]["initContainers"][0]["restartPolicy"]
          .as<std::string>(),
      "Always");
  // An ordinary sidecar in a Deployment works as it is, unless the native form is asked for.
  const std::string deployment =
      "kind: Deployment\nspec: {template: {spec: {containers: [{name: app, image: a:1}, "
      "{name: podrouter, image: p:1}]}}}\n";
  EXPECT_EQ(Inject(deployment, Options()).already, 1);
  InjectOptions native = Options();
  native.native_sidecar = true;
  EXPECT_EQ(Inject(deployment, native).converted, 1);
}

TEST(Inject, ListItemsAreInjected) {
  // Issue 10, item 7b: what `kubectl get deploy -o yaml` prints came back unchanged, exit 0.
  InjectResult r = Inject(R"(apiVersion: v1
kind: List
items:
- apiVersion: apps/v1
  kind: Deployment
  metadata: {name: a}
  spec: {template: {spec: {containers: [{name: a, image: a:1}]}}}
- apiVersion: v1
  kind: Service
  metadata: {name: s}
- apiVersion: batch/v1
  kind: Job
  metadata: {name: j}
  spec: {template: {spec: {restartPolicy: Never, containers: [{name: j, image: j:1}]}}}
metadata: {resourceVersion: ""}
)",
                          Options());
  ASSERT_TRUE(r.errors.empty()) << r.errors[0];
  EXPECT_EQ(r.injected, 2);
  YAML::Node list = YAML::Load(r.output);
  EXPECT_EQ(list["kind"].as<std::string>(), "List");
  ASSERT_EQ(list["items"].size(), 3u);
  EXPECT_EQ(list["items"][0]["spec"]["template"]["spec"]["containers"][1]["name"].as<std::string>(),
            "podrouter");
  EXPECT_EQ(list["items"][1]["metadata"]["name"].as<std::string>(), "s");
  EXPECT_EQ(
      list["items"][2]["spec"]["template"]["spec"]["initContainers"][0]["name"].as<std::string>(),
      "podrouter");
  // Injecting the result again changes nothing.
  InjectResult again = Inject(r.output, Options());
  EXPECT_EQ(again.output, r.output);
  EXPECT_EQ(again.injected, 0);
  EXPECT_EQ(again.already, 2);
}

TEST(Inject, JsonStreamsAreInjectedValueByValue) {
  // Issue 10, item 7c: two JSON objects one after another (as kubectl accepts) came back
  // unchanged with exit 0.
  const std::string pod = R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},)"
                          R"("spec":{"containers":[{"name":"c","image":"c:1"}]}})";
  const std::string svc = R"({"apiVersion":"v1","kind":"Service","metadata":{"name":"s"}})";
  InjectResult r = Inject(pod + "\n" + svc + pod, Options());
  ASSERT_TRUE(r.errors.empty()) << r.errors[0];
  EXPECT_EQ(r.injected, 2);
  auto docs = Docs(r.output);
  ASSERT_EQ(docs.size(), 3u);
  EXPECT_EQ(docs[0]["spec"]["containers"][1]["name"].as<std::string>(), "podrouter");
  EXPECT_EQ(docs[1]["kind"].as<std::string>(), "Service");
  EXPECT_NE(r.output.find(svc), std::string::npos);  // passed through as written
  EXPECT_EQ(docs[2]["spec"]["containers"][1]["name"].as<std::string>(), "podrouter");
  // A broken value after good ones is an error, and nothing is written.
  InjectResult broken = Inject(pod + "\n{\"kind\": ", Options());
  ASSERT_EQ(broken.errors.size(), 1u);
  EXPECT_NE(broken.errors[0].find("JSON value 2"), std::string::npos) << broken.errors[0];
  EXPECT_TRUE(broken.output.empty());
}

TEST(Inject, UnlistedKindsWithAPodTemplateAreInjected) {
  InjectResult r = Inject(
      "apiVersion: argoproj.io/v1alpha1\nkind: Rollout\nmetadata: {name: r}\n"
      "spec: {template: {spec: {containers: [{name: r, image: r:1}]}}}\n",
      Options());
  ASSERT_TRUE(r.errors.empty()) << r.errors[0];
  EXPECT_EQ(r.injected, 1);
}

TEST(Inject, EmptyInputAndListsOfOtherThings) {
  EXPECT_EQ(Inject("", Options()).output, "");
  InjectResult r = Inject("- just\n- a list\n", Options());
  EXPECT_EQ(r.output, "- just\n- a list\n");
  EXPECT_EQ(r.injected, 0);
}

}  // namespace
}  // namespace podrouter::config

namespace podrouter::config {
namespace {

TEST(InjectInput, AKeyGivenTwiceIsAnError) {
  // yaml-cpp kept both; a reader that keeps the last saw no sidecar in an "injected" pod.
  InjectResult r =
      Inject("kind: Pod\nspec:\n  containers: [{name: a, image: a}]\n  containers: [{name: b}]\n",
             Options());
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0], "document 1 (line 4): the key 'containers' appears twice in one mapping");
  r = Inject(R"({"kind":"Pod","spec":{"containers":[]},"spec":{}})", Options());
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_NE(r.errors[0].find("the key 'spec' appears twice"), std::string::npos);
}

TEST(InjectInput, AliasesThatMultiplyAreRefusedAndSharedNodesAreSeparated) {
  std::string bomb = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i < 9; ++i) {
    bomb += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " [";
    for (int j = 0; j < 10; ++j) bomb += (j ? ", *a" : "*a") + std::to_string(i - 1);
    bomb += "]\n";
  }
  InjectResult r = Inject(bomb + "kind: Pod\nspec: {containers: []}\n", Options());
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_NE(r.errors[0].find("an alias bomb?"), std::string::npos);

  // Two workloads sharing one containers list by an alias: each gets its own sidecar, volume
  // and annotation, and a second run finds both done.
  const std::string shared =
      "kind: List\nitems:\n"
      "- {kind: Deployment, spec: {template: {spec: {containers: &c [{name: a, image: a}]}}}}\n"
      "- {kind: Deployment, spec: {template: {spec: {containers: *c}}}}\n";
  r = Inject(shared, Options());
  ASSERT_TRUE(r.errors.empty()) << r.errors[0];
  EXPECT_EQ(r.injected, 2);
  const YAML::Node items = YAML::Load(r.output)["items"];
  for (size_t i = 0; i < 2; ++i) {
    const YAML::Node spec = items[i]["spec"]["template"]["spec"];
    EXPECT_EQ(spec["containers"].size(), 2u) << i;
    EXPECT_EQ(spec["volumes"].size(), 1u) << i;
  }
  InjectResult again = Inject(r.output, Options());
  EXPECT_EQ(again.already, 2);
  EXPECT_EQ(again.injected + again.converted, 0);
}

TEST(InjectInput, JsonIsReadAsJson) {
  // Surrogate pairs, as Python's json.dumps writes any emoji: yaml-cpp refused them.
  InjectResult r = Inject(R"({"kind":"Pod","metadata":{"annotations":{"e":"\ud83d\ude00"}},)"
                          R"("spec":{"containers":[{"name":"c","image":"i"}]}})",
                          Options());
  ASSERT_TRUE(r.errors.empty()) << r.errors[0];
  EXPECT_EQ(YAML::Load(r.output)["metadata"]["annotations"]["e"].Scalar(), "\xf0\x9f\x98\x80");
}

}  // namespace
}  // namespace podrouter::config
