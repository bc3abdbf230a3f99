"""The Helm chart, rendered by the engine Helm uses (Go text/template + sprig + Helm's functions,
tests/helm/render) and checked document by document: kinds, names, the locked-down sidecar, the
probes, and a ConfigMap that podrouter itself accepts."""
import base64
import json
import os
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CHART = os.path.join(ROOT, "helm", "podrouter")
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "schema"))
import k8s_schema  # noqa: E402

BIN = os.environ.get("PODROUTER_BIN", os.path.join(ROOT, "build", "app", "podrouter"))

USER_CONFIG = {
    "config": {
        "drain_timeout": "25s",
        "services": {"mydb": {"name": "mydb.default.svc.cluster.local", "discovery": "srv",
                              "port_name": "postgres", "replicas": 3}},
        "listeners": [{"name": "primary", "bind": "127.0.0.1:15432", "service": "mydb",
                       "route": {"ordinal": 0}}],
    },
    "image": {"repository": "registry.local/podrouter", "tag": "test"},
}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Chart(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="podrouter-helm-")
        cls.render_bin = os.path.join(cls.tmp, "render")
        subprocess.run([os.path.join(HERE, "build_render.sh"), cls.render_bin], check=True,
                       timeout=600)

    def render(self, values=None, expect_ok=True):
        args = [self.render_bin, "-name", "shop", "-namespace", "prod"]
        if values is not None:
            path = os.path.join(self.tmp, "values.json")
            with open(path, "w") as f:
                json.dump(values, f)
            args += ["-f", path]
        out = subprocess.run(args + [CHART], capture_output=True, text=True, timeout=60)
        if not expect_ok:
            self.assertNotEqual(out.returncode, 0, out.stdout)
            return out.stderr
        self.assertEqual(out.returncode, 0, out.stderr)
        result = json.loads(out.stdout)
        docs = [d["doc"] for d in result["docs"]]
        # Every object any test renders is checked against the Kubernetes API schemas.
        k8s_schema.assert_valid(self, docs, f"the chart with values {json.dumps(values)[:300]}")
        return docs, result["notes"]

    def by_kind(self, docs, kind):
        return [d for d in docs if d["kind"] == kind]

    def validate_config(self, configmap):
        path = os.path.join(self.tmp, "podrouter.yaml")
        with open(path, "w") as f:
            f.write(configmap["data"]["podrouter.yaml"])
        out = subprocess.run([BIN, "validate", "--config", path], capture_output=True, text=True,
                             timeout=30)
        self.assertEqual(out.returncode, 0, out.stderr + configmap["data"]["podrouter.yaml"])

    def check_sidecar(self, c, image):
        self.assertEqual(c["name"], "podrouter")
        self.assertEqual(c["image"], image)
        self.assertEqual(c["args"][:3], ["run", "--config", "/etc/podrouter/podrouter.yaml"])
        sc = c["securityContext"]
        self.assertTrue(sc["runAsNonRoot"])
        self.assertTrue(sc["readOnlyRootFilesystem"])
        self.assertFalse(sc["allowPrivilegeEscalation"])
        self.assertEqual(sc["capabilities"]["drop"], ["ALL"])
        self.assertEqual(c["readinessProbe"]["httpGet"]["path"], "/ready")
        self.assertEqual(c["livenessProbe"]["httpGet"]["path"], "/healthz")
        self.assertIn("requests", c["resources"])
        self.assertEqual(c["volumeMounts"][0]["name"], "podrouter-config")

    def test_defaults_alone_explain_what_is_missing(self):
        err = self.render(expect_ok=False)
        self.assertIn("set config.services and config.listeners", err)

    def test_user_config_becomes_a_valid_configmap(self):
        docs, notes = self.render(USER_CONFIG)
        self.assertEqual([d["kind"] for d in docs], ["ConfigMap"])
        cm = docs[0]
        self.assertEqual(cm["metadata"]["name"], "shop-podrouter-config")
        self.assertIn("bind: 0.0.0.0:9901", cm["data"]["podrouter.yaml"])
        self.validate_config(cm)
        self.assertIn("shop-podrouter-config", notes)
        self.assertIn("podrouter inject", notes)

    def test_demo(self):
        docs, notes = self.render({"demo": {"enabled": True, "ordinal": 1}})
        self.assertEqual(sorted(d["kind"] for d in docs),
                         ["ConfigMap", "Deployment", "Service", "StatefulSet"])
        svc = self.by_kind(docs, "Service")[0]
        sts = self.by_kind(docs, "StatefulSet")[0]
        client = self.by_kind(docs, "Deployment")[0]
        self.assertEqual(svc["spec"]["clusterIP"], "None")  # headless
        self.assertEqual(sts["spec"]["serviceName"], svc["metadata"]["name"])
        self.assertEqual(sts["spec"]["template"]["metadata"]["labels"], svc["spec"]["selector"])
        pod = client["spec"]["template"]["spec"]
        self.assertEqual([c["name"] for c in pod["containers"]], ["client", "podrouter"])
        self.check_sidecar(pod["containers"][1], "podrouter:0.1.0")
        self.assertEqual(pod["volumes"], [{"name": "podrouter-config",
                                           "configMap": {"name": "shop-podrouter-config"}}])
        self.assertGreaterEqual(pod["terminationGracePeriodSeconds"], 20)  # ≥ drain_timeout
        annotations = client["spec"]["template"]["metadata"]["annotations"]
        self.assertEqual(annotations["prometheus.io/port"], "9901")
        self.assertIn("X-Pod-Ordinal: 1", pod["containers"][0]["args"][0])
        cm = self.by_kind(docs, "ConfigMap")[0]
        self.validate_config(cm)
        text = cm["data"]["podrouter.yaml"]
        self.assertIn("name: shop-podrouter-demo.prod.svc.cluster.local", text)
        self.assertIn("bind: 127.0.0.1:16000-16002", text)
        self.assertIn("demo-client", notes)

    def test_native_sidecar(self):
        docs, _ = self.render({"demo": {"enabled": True}, "nativeSidecar": True})
        pod = self.by_kind(docs, "Deployment")[0]["spec"]["template"]["spec"]
        self.assertEqual([c["name"] for c in pod["containers"]], ["client"])
        init = pod["initContainers"][0]
        self.check_sidecar(init, "podrouter:0.1.0")
        self.assertEqual(init["restartPolicy"], "Always")

    def test_inject_adds_exactly_the_charts_sidecar(self):
        # One description of the sidecar: what `podrouter inject` adds is, field for field, what
        # the chart's podrouter.sidecar renders with its defaults (both forms), and its volume.
        workload = ("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: app}\n"
                    "spec: {template: {spec: {containers: [{name: app, image: app:1}]}}}\n")
        for native in (False, True):
            with self.subTest(native=native):
                docs, _ = self.render(dict(USER_CONFIG, demo={"enabled": True},
                                           nativeSidecar=native))
                pod = self.by_kind(docs, "Deployment")[0]["spec"]["template"]["spec"]
                chart = pod["initContainers"][0] if native else pod["containers"][-1]
                config_map = [v for v in pod["volumes"] if v["name"] == "podrouter-config"][0]
                args = ["inject", "--image", chart["image"], "--config-map",
                        config_map["configMap"]["name"]] + (["--native-sidecar"] if native else [])
                out = subprocess.run([BIN] + args, input=workload, capture_output=True, text=True,
                                     timeout=30)
                self.assertEqual(out.returncode, 0, out.stderr)
                parsed = subprocess.run([self.render_bin, "-yaml2json"], input=out.stdout,
                                        capture_output=True, text=True, timeout=30)
                self.assertEqual(parsed.returncode, 0, parsed.stderr)
                spec = json.loads(parsed.stdout)[0]["spec"]["template"]["spec"]
                injected = spec["initContainers"][0] if native else spec["containers"][-1]
                self.assertEqual(injected, chart)
                self.assertIn(config_map, spec["volumes"])

    def test_pod_monitor(self):
        values = dict(USER_CONFIG, serviceMonitor={"enabled": True, "labels": {"team": "db"}})
        docs, _ = self.render(values)
        monitor = self.by_kind(docs, "PodMonitor")[0]
        self.assertEqual(monitor["metadata"]["labels"]["team"], "db")
        self.assertEqual(monitor["spec"]["podMetricsEndpoints"][0]["port"], "podrouter-admin")

    def test_webhook(self):
        values = dict(USER_CONFIG, webhook={"enabled": True}, nativeSidecar=True)
        docs, _ = self.render(values)
        name = "shop-podrouter-webhook"
        secret = [d for d in self.by_kind(docs, "Secret") if d["metadata"]["name"] == name + "-tls"][0]
        deployment = [d for d in self.by_kind(docs, "Deployment")
                      if d["metadata"]["name"] == name][0]
        service = [d for d in self.by_kind(docs, "Service") if d["metadata"]["name"] == name][0]
        config = self.by_kind(docs, "MutatingWebhookConfiguration")[0]
        self.assertEqual(service["spec"]["ports"][0]["port"], 443)
        hooks = {h["name"]: h for h in config["webhooks"]}
        self.assertEqual(set(hooks), {"pod.inject.podrouter.io", "namespace.inject.podrouter.io"})
        for hook in hooks.values():
            self.assertEqual(hook["failurePolicy"], "Ignore")
            self.assertEqual(hook["sideEffects"], "None")
            self.assertEqual(hook["timeoutSeconds"], 5)
            self.assertEqual(hook["admissionReviewVersions"], ["v1"])
            self.assertEqual(hook["rules"][0]["resources"], ["pods"])
            self.assertEqual(hook["rules"][0]["operations"], ["CREATE"])
            self.assertEqual(hook["clientConfig"]["service"]["name"], name)
            self.assertEqual(hook["clientConfig"]["service"]["namespace"], "prod")
        self.assertEqual(hooks["pod.inject.podrouter.io"]["clientConfig"]["service"]["path"],
                         "/inject")
        self.assertEqual(
            hooks["namespace.inject.podrouter.io"]["clientConfig"]["service"]["path"],
            "/inject-namespace")
        self.assertIn({"key": "podrouter.io/inject", "operator": "In", "values": ["enabled"]},
                      hooks["namespace.inject.podrouter.io"]["namespaceSelector"][
                          "matchExpressions"])
        self.assertEqual(self.render(dict(values, webhook={"enabled": True, "failurePolicy":
                                                          "Fail"}))[0][-1]["webhooks"][0][
            "failurePolicy"], "Fail")

        # The generated certificate works: the real webhook serves it, and a client that trusts
        # only the caBundle reaches it by the Service's DNS name.
        files = {}
        for key in ("tls.crt", "tls.key"):
            files[key] = os.path.join(self.tmp, key)
            with open(files[key], "wb") as f:
                f.write(base64.b64decode(secret["data"][key]))
        ca = base64.b64decode(hooks["pod.inject.podrouter.io"]["clientConfig"]["caBundle"])
        self.assertEqual(ca, base64.b64decode(secret["data"]["ca.crt"]))
        args = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
        self.assertEqual(args[0], "webhook")
        flags = dict(zip(args[1::2], args[2::2]))
        self.assertEqual(flags["--image"], "registry.local/podrouter:test")
        self.assertEqual(flags["--config-map"], "shop-podrouter-config")
        self.assertIn("--native-sidecar", args)
        port = free_port()
        args[args.index("--listen") + 1] = f"127.0.0.1:{port}"
        args[args.index("--tls-cert") + 1] = files["tls.crt"]
        args[args.index("--tls-key") + 1] = files["tls.key"]
        proc = subprocess.Popen([BIN] + args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            context = ssl.create_default_context(cadata=ca.decode())
            deadline = time.monotonic() + 30
            while True:
                try:
                    raw = socket.create_connection(("127.0.0.1", port), timeout=5)
                    break
                except OSError:
                    if time.monotonic() > deadline or proc.poll() is not None:
                        raise
                    time.sleep(0.1)
            with context.wrap_socket(raw, server_hostname=f"{name}.prod.svc") as s:
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                self.assertTrue(s.recv(4096).startswith(b"HTTP/1.1 200 "))
        finally:
            proc.terminate()
            _, err = proc.communicate(timeout=30)
        self.assertEqual(proc.returncode, 0, err)

    def test_schema_rejects_bad_values(self):
        err = self.render(dict(USER_CONFIG, adminPort="nine"), expect_ok=False)
        self.assertIn("adminPort", err)
        err = self.render(dict(USER_CONFIG, colour="red"), expect_ok=False)
        self.assertIn("colour", err)
        err = self.render({"config": {"admin": {"bind": "0.0.0.0:1"}}}, expect_ok=False)
        self.assertIn("config.admin", err)


if __name__ == "__main__":
    unittest.main()
