"""End-to-end: `podrouter webhook`, the mutating admission webhook, over real HTTPS (Python's ssl
and http.client, trusting a CA the test makes with openssl) with Kubernetes AdmissionReview v1
requests. Every returned patch is applied with a JSONPatch library (python3-jsonpatch) and the
patched Pod validated against the Kubernetes API schemas (tests/schema)."""
import base64
import copy
import http.client
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import shutil
import time
import unittest

import jsonpatch

from testbed import BIN, free_port, wait_for

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "schema"))
import k8s_schema  # noqa: E402

IMAGE = "registry.local/podrouter:test"


def make_certificates(directory):
    """A CA, and a serving certificate for 127.0.0.1 and localhost that it signed: (ca, cert,
    key) paths."""
    ca_key, ca = os.path.join(directory, "ca.key"), os.path.join(directory, "ca.crt")
    key, csr = os.path.join(directory, "tls.key"), os.path.join(directory, "tls.csr")
    cert, ext = os.path.join(directory, "tls.crt"), os.path.join(directory, "san.ext")
    run = lambda *a: subprocess.run(["openssl", *a], check=True, capture_output=True, timeout=60)
    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", ca_key, "-out", ca,
        "-days", "2", "-subj", "/CN=podrouter-test-ca")
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr,
        "-subj", "/CN=podrouter-webhook.test.svc")
    with open(ext, "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    run("x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial",
        "-out", cert, "-days", "2", "-extfile", ext)
    return ca, cert, key


def pod(annotations=None, **spec):
    p = {"apiVersion": "v1", "kind": "Pod",
         "metadata": {"generateName": "orders-7d9f-", "namespace": "shop",
                      "labels": {"app": "orders"}},
         "spec": {"containers": [{
             "name": "orders", "image": "registry.local/orders:2.1",
             "ports": [{"name": "http", "containerPort": 8080}],
             "env": [{"name": "PORT", "value": "8080"}, {"name": "DEBUG", "value": "no"},
                     {"name": "DB", "value": "127.0.0.1:15432"}],
             "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}}}]}}
    if annotations:
        p["metadata"]["annotations"] = annotations
    p["spec"].update(spec)
    return p


def review(obj, kind="Pod", uid="b6f1b2b0-8a4c-4a57-9d1e-0c8f3c1e2a11", operation="CREATE"):
    group, _, version = ("", "", "v1") if kind == "Pod" else ("apps", "/", "v1")
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
            "request": {"uid": uid, "kind": {"group": group, "version": version, "kind": kind},
                        "resource": {"group": group, "version": version,
                                     "resource": kind.lower() + "s"},
                        "namespace": "shop", "operation": operation, "object": obj,
                        "userInfo": {"username": "system:serviceaccount:kube-system:replicaset"},
                        "dryRun": False}}


class Webhook(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="podrouter-webhook-")
        cls.ca, cls.cert, cls.key = make_certificates(cls.tmp)
        cls.port = free_port()
        cls.log_path = os.path.join(cls.tmp, "webhook.log")
        cls.log = open(cls.log_path, "wb")
        cls.proc = subprocess.Popen(
            [BIN, "webhook", "--listen", f"127.0.0.1:{cls.port}", "--tls-cert", cls.cert,
             "--tls-key", cls.key, "--image", IMAGE, "--log-level", "debug"],
            stdout=cls.log, stderr=cls.log)
        cls.tls = ssl.create_default_context(cafile=cls.ca)  # verifies the chain and 127.0.0.1
        wait_for(lambda: cls.request("GET", "/healthz")[0] == 200, what="webhook /healthz")

    @classmethod
    def tearDownClass(cls):
        cls.proc.send_signal(signal.SIGTERM)
        status = cls.proc.wait(timeout=30)
        cls.log.close()
        logs = cls.logs()
        shutil.rmtree(cls.tmp, ignore_errors=True)
        if status != 0 or "Sanitizer" in logs or "runtime error:" in logs:
            raise AssertionError(f"webhook exited {status}:\n{logs[-4000:]}")

    @classmethod
    def request(cls, method, path, body=None, headers=None):
        """(status, body bytes) over HTTPS; OSError while nothing listens."""
        if cls.proc.poll() is not None:
            raise AssertionError(f"the webhook exited with {cls.proc.returncode}")
        conn = http.client.HTTPSConnection("127.0.0.1", cls.port, context=cls.tls, timeout=10)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            r = conn.getresponse()
            return r.status, r.read()
        finally:
            conn.close()

    @classmethod
    def logs(cls):
        with open(cls.log_path, errors="replace") as f:
            return f.read()

    def admit(self, obj, path="/inject", **kw):
        """POSTs the review of `obj`: (HTTP status, response object, patched object or None)."""
        status, body = self.request("POST", path, json.dumps(review(obj, **kw)).encode(),
                                    {"Content-Type": "application/json"})
        answer = json.loads(body)
        self.assertEqual((answer["apiVersion"], answer["kind"]),
                         ("admission.k8s.io/v1", "AdmissionReview"))
        response = answer["response"]
        if "patch" not in response:
            return status, response, None
        self.assertEqual(response["patchType"], "JSONPatch")
        patch = jsonpatch.JsonPatch(json.loads(base64.b64decode(response["patch"])))
        return status, response, patch.apply(copy.deepcopy(obj))

    def test_an_annotated_pod_gets_the_sidecar_and_stays_valid(self):
        original = pod({"podrouter.io/inject": "enabled"})
        status, response, patched = self.admit(original)
        self.assertEqual(status, 200)
        self.assertEqual(response["uid"], "b6f1b2b0-8a4c-4a57-9d1e-0c8f3c1e2a11")
        self.assertTrue(response["allowed"])
        names = [c["name"] for c in patched["spec"]["containers"]]
        self.assertEqual(names, ["orders", "podrouter"])
        sidecar = patched["spec"]["containers"][1]
        self.assertEqual(sidecar["image"], IMAGE)
        self.assertEqual(sidecar["securityContext"]["runAsUser"], 65532)
        self.assertEqual(patched["spec"]["volumes"],
                         [{"name": "podrouter-config", "configMap": {"name": "podrouter-config"}}])
        self.assertEqual(patched["metadata"]["annotations"]["podrouter.io/injected"], "true")
        # Only additions: the app's container is exactly as it was, types and all.
        self.assertEqual(patched["spec"]["containers"][0], original["spec"]["containers"][0])
        k8s_schema.assert_valid(self, [original, patched], "the patched Pod")

    def test_the_same_sidecar_as_inject(self):
        _, _, patched = self.admit(pod({"podrouter.io/inject": "enabled"}))
        out = subprocess.run([BIN, "inject", "--image", IMAGE], input=json.dumps(pod()),
                             capture_output=True, text=True, timeout=30)
        self.assertEqual(out.returncode, 0, out.stderr)
        import yaml
        injected = yaml.safe_load(out.stdout)
        self.assertEqual(injected["spec"]["containers"][1], patched["spec"]["containers"][1])
        self.assertEqual(injected["spec"]["volumes"], patched["spec"]["volumes"])
        self.assertEqual(injected["metadata"]["annotations"], {"podrouter.io/injected": "true"})

    def test_native_sidecar_by_annotation_and_for_pods_that_complete(self):
        for annotations, extra in (
                ({"podrouter.io/inject": "enabled", "podrouter.io/native-sidecar": "true",
                  "podrouter.io/config-map": "orders-router"}, {}),
                ({"podrouter.io/inject": "enabled"}, {"restartPolicy": "Never",
                                                      "initContainers": [
                                                          {"name": "migrate", "image": "m:1"}]})):
            original = pod(annotations, **extra)
            _, response, patched = self.admit(original)
            init = patched["spec"]["initContainers"]
            self.assertEqual(init[0]["name"], "podrouter", init)
            self.assertEqual(init[0]["restartPolicy"], "Always")
            self.assertEqual([c["name"] for c in patched["spec"]["containers"]], ["orders"])
            self.assertEqual(init[1:], original["spec"].get("initContainers", []))
            k8s_schema.assert_valid(self, [patched], "the patched native-sidecar Pod")
        self.assertEqual(patched["spec"]["volumes"][0]["configMap"]["name"], "podrouter-config")

    def test_an_injected_pod_gets_no_patch(self):
        _, _, patched = self.admit(pod({"podrouter.io/inject": "enabled"}))
        status, response, again = self.admit(patched)
        self.assertEqual(status, 200)
        self.assertTrue(response["allowed"])
        self.assertIsNone(again)
        self.assertNotIn("patch", response)

    def test_who_opted_in(self):
        # /inject: only pods annotated enabled.
        self.assertIsNone(self.admit(pod())[2])
        # /inject-namespace (the namespace opted in): every pod, unless annotated disabled.
        _, _, patched = self.admit(pod(), path="/inject-namespace")
        self.assertEqual(len(patched["spec"]["containers"]), 2)
        self.assertIsNone(self.admit(pod({"podrouter.io/inject": "disabled"}),
                                     path="/inject-namespace")[2])
        status, response, patched = self.admit(pod({"podrouter.io/inject": "true"}))
        self.assertIsNone(patched)
        self.assertIn("enabled or disabled", response["warnings"][0])

    def test_other_kinds_and_operations_pass_unchanged(self):
        deployment = {"apiVersion": "apps/v1", "kind": "Deployment",
                      "metadata": {"name": "orders", "annotations": {"podrouter.io/inject":
                                                                     "enabled"}},
                      "spec": {"selector": {"matchLabels": {"app": "orders"}},
                               "template": {"metadata": {"labels": {"app": "orders"}},
                                            "spec": pod()["spec"]}}}
        status, response, patched = self.admit(deployment, kind="Deployment")
        self.assertEqual(status, 200)
        self.assertTrue(response["allowed"])
        self.assertIsNone(patched)
        self.assertIn("only Pods", response["warnings"][0])
        self.assertIsNone(self.admit(pod({"podrouter.io/inject": "enabled"}),
                                     operation="UPDATE")[2])

    def test_a_pod_that_cannot_carry_the_sidecar_is_denied_with_the_reason(self):
        broken = pod({"podrouter.io/inject": "enabled"})
        broken["spec"]["containers"] = {"name": "not-a-list"}
        status, response, _ = self.admit(broken)
        self.assertEqual(status, 200)
        self.assertFalse(response["allowed"])
        self.assertIn("containers list", response["status"]["message"])
        status, response, _ = self.admit(pod({"podrouter.io/inject": "enabled",
                                              "podrouter.io/config-map": "Bad_Name"}))
        self.assertFalse(response["allowed"])
        self.assertIn("ConfigMap name", response["status"]["message"])

    def assert_review_error(self, status, body, expected_status):
        self.assertEqual(status, expected_status, body[:300])
        answer = json.loads(body)
        self.assertEqual(answer["kind"], "AdmissionReview")
        self.assertFalse(answer["response"]["allowed"])
        self.assertEqual(answer["response"]["status"]["code"], expected_status)
        return answer["response"]["status"]["message"]

    def test_malformed_requests_get_admission_review_errors(self):
        for body, words in ((b"{\"apiVersion\": ", "not JSON"), (b"[1, 2]", "not an AdmissionReview"),
                            (json.dumps({"apiVersion": "admission.k8s.io/v1beta1",
                                         "kind": "AdmissionReview"}).encode(), "v1beta1"),
                            (json.dumps({"apiVersion": "admission.k8s.io/v1",
                                         "kind": "AdmissionReview", "request": {}}).encode(),
                             "request.uid"),
                            (b"[" * 200_000 + b"]" * 200_000, "deeper"),
                            (b"\xff\xfe\x00garbage", "not JSON")):
            status, answer = self.request("POST", "/inject", body,
                                          {"Content-Type": "application/json"})
            self.assertIn(words, self.assert_review_error(status, answer, 400))
        status, body = self.request("GET", "/nowhere")
        self.assertEqual(status, 404)
        status, body = self.request("GET", "/inject")
        self.assertEqual(status, 405)

    def test_an_oversized_body_is_413_before_it_is_read(self):
        s = self.tls.wrap_socket(socket.create_connection(("127.0.0.1", self.port), timeout=10),
                                 server_hostname="127.0.0.1")
        # The head alone: the answer comes without a byte of the body (sending some would race
        # the server's close after its answer).
        s.sendall(b"POST /inject HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Content-Length: 8388608\r\n\r\n")
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        s.close()
        head, _, body = data.partition(b"\r\n\r\n")
        self.assertTrue(head.startswith(b"HTTP/1.1 413 "), head)
        self.assertIn("larger than 3 MiB", self.assert_review_error(413, body, 413))
        # A chunked body that grows past the limit is refused too.
        big = json.dumps(review(pod({"podrouter.io/inject": "enabled",
                                     "filler": "x" * (4 << 20)}))).encode()
        conn = http.client.HTTPSConnection("127.0.0.1", self.port, context=self.tls, timeout=20)
        try:
            # The answer comes while the body is still arriving; the webhook reads on (and
            # discards) until the client is done, so the client gets to read it.
            conn.request("POST", "/inject", body=iter([big[i:i + 65536]
                                                       for i in range(0, len(big), 65536)]),
                         headers={"Content-Type": "application/json"}, encode_chunked=True)
            r = conn.getresponse()
            self.assert_review_error(r.status, r.read(), 413)
        finally:
            conn.close()
        self.assertEqual(self.request("GET", "/healthz")[0], 200)

    def test_hostile_connections_do_not_stop_the_service(self):
        idle = socket.create_connection(("127.0.0.1", self.port))  # says nothing at all
        plain = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        plain.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")  # HTTP to the TLS port
        self.assertIn(plain.recv(4096)[:1], (b"", b"\x15"))  # closed, or a TLS alert
        plain.close()
        garbage = self.tls.wrap_socket(socket.create_connection(("127.0.0.1", self.port),
                                                                timeout=10),
                                       server_hostname="127.0.0.1")
        garbage.sendall(b"\x00\x01 NOT HTTP\r\n\r\n")
        self.assertTrue(garbage.recv(4096).startswith(b"HTTP/1.1 400 "))
        garbage.close()
        untrusting = ssl.create_default_context()  # does not know the test CA
        with self.assertRaises(ssl.SSLError):
            untrusting.wrap_socket(socket.create_connection(("127.0.0.1", self.port), timeout=10),
                                   server_hostname="127.0.0.1")
        _, _, patched = self.admit(pod({"podrouter.io/inject": "enabled"}))
        self.assertEqual(len(patched["spec"]["containers"]), 2)
        idle.close()

    def test_request_values_reach_the_log_escaped(self):
        forged = "x\n2026-01-01T00:00:00.000Z error event=FORGED\r\x1b[31m\""
        self.admit(pod({"podrouter.io/inject": forged}))
        self.admit(pod({"podrouter.io/inject": "enabled"}), uid="uid with spaces")
        wait_for(lambda: "uid=\"uid with spaces\"" in self.logs(), what="the admission logged")
        logs = self.logs()
        for line in logs.splitlines():
            self.assertFalse(line.startswith("2026-01-01T00:00:00.000Z"), line)
            self.assertNotIn("\x1b", line)
            self.assertNotIn("\r", line)
        self.assertIn("pod=shop/orders-7d9f-*", logs)

    def test_sigterm_lets_requests_in_flight_finish(self):
        proc = subprocess.Popen([BIN, "webhook", "--listen", f"127.0.0.1:{(port := free_port())}",
                                 "--tls-cert", self.cert, "--tls-key", self.key],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            wait_for(lambda: socket.create_connection(("127.0.0.1", port), timeout=1).close()
                     or True, what="the second webhook")
            s = self.tls.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=10),
                                     server_hostname="127.0.0.1")
            body = json.dumps(review(pod({"podrouter.io/inject": "enabled"}))).encode()
            s.sendall(b"POST /inject HTTP/1.1\r\nHost: x\r\nContent-Length: "
                      + str(len(body)).encode() + b"\r\n\r\n" + body[:100])
            time.sleep(0.3)
            proc.send_signal(signal.SIGTERM)  # mid-request
            time.sleep(0.3)
            with self.assertRaises(OSError):  # no new connections
                socket.create_connection(("127.0.0.1", port), timeout=2).close()
            s.sendall(body[100:])
            data = b""
            while chunk := s.recv(65536):
                data += chunk
            s.close()
            self.assertTrue(data.startswith(b"HTTP/1.1 200 "), data[:200])
            self.assertEqual(proc.wait(timeout=20), 0)
        finally:
            if proc.poll() is None:
                proc.kill()
            err = proc.communicate()[1].decode(errors="replace")
        self.assertIn("event=webhook_draining signal=SIGTERM", err)
        self.assertNotIn("Sanitizer", err)

    def test_bad_certificates_are_clear_errors(self):
        for args, words in (([self.cert, os.path.join(self.tmp, "missing.key")], "missing.key"),
                            ([self.ca, self.key], "key values mismatch"),
                            ([os.path.join(self.tmp, "san.ext"), self.key], "san.ext")):
            out = subprocess.run([BIN, "webhook", "--listen", f"127.0.0.1:{free_port()}",
                                  "--tls-cert", args[0], "--tls-key", args[1]],
                                 capture_output=True, text=True, timeout=30)
            self.assertEqual(out.returncode, 1)
            self.assertIn(words, out.stderr)
        encrypted = os.path.join(self.tmp, "encrypted.key")
        subprocess.run(["openssl", "pkey", "-in", self.key, "-out", encrypted, "-aes256",
                        "-passout", "pass:secret"], check=True, capture_output=True, timeout=30)
        out = subprocess.run([BIN, "webhook", "--listen", f"127.0.0.1:{free_port()}",
                              "--tls-cert", self.cert, "--tls-key", encrypted],
                             capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
        self.assertEqual(out.returncode, 1)
        self.assertIn("cannot load the TLS key", out.stderr)
        out = subprocess.run([BIN, "webhook", "--tls-cert", self.cert], capture_output=True,
                             text=True, timeout=30)
        self.assertEqual(out.returncode, 1)
        self.assertIn("--tls-key", out.stderr)


if __name__ == "__main__":
    unittest.main()
