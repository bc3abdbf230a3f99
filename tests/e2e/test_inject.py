"""End-to-end: `podrouter inject` as users run it, stdin to stdout or from a file."""
import os
import subprocess
import sys
import tempfile
import unittest

import yaml

from testbed import BIN

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "schema"))
import k8s_schema  # noqa: E402

MANIFESTS = """apiVersion: v1
kind: ConfigMap   # not a workload: passes through as written
metadata: {name: settings}
data: {a: "1"}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: app}
spec:
  replicas: 2
  selector: {matchLabels: {app: app}}
  template:
    metadata: {labels: {app: app}}
    spec:
      containers: [{name: app, image: "app:1"}]
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: nightly}
spec:
  schedule: "0 3 * * *"
  jobTemplate: {spec: {template: {spec: {restartPolicy: OnFailure, containers: [{name: j, image: "j:1"}]}}}}
"""


def inject(*args, stdin=None, check_schema=True):
    """`podrouter inject ARGS` on `stdin`. Every object of a successful output is checked against
    the Kubernetes schemas (List items one by one), so each test's output is valid Kubernetes."""
    out = subprocess.run([BIN, "inject", *args], input=stdin, capture_output=True, text=True,
                         timeout=30)
    if check_schema and out.returncode == 0 and out.stdout.strip():
        objects = []
        for o in yaml.safe_load_all(out.stdout):
            if o:
                objects += o["items"] if o.get("kind") == "List" else [o]
        found = k8s_schema.problems(objects)
        if found:
            raise AssertionError(f"inject {' '.join(args)} wrote invalid objects: {found}\n"
                                 f"{out.stdout}")
    return out


def block(text, key):
    """The lines of the YAML block that `key` (a line of its own) opens: those indented deeper."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == key)
    depth = lambda line: len(line) - len(line.lstrip())  # noqa: E731
    out = []
    for line in lines[start + 1:]:
        if line.strip() and depth(line) <= depth(lines[start]):
            break
        out.append(line)
    return "\n".join(out)


class Inject(unittest.TestCase):
    def test_stdin_to_stdout_and_idempotent(self):
        out = inject("--image", "reg/podrouter:1", "--config-map", "routes", stdin=MANIFESTS)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertTrue(out.stdout.startswith(MANIFESTS.split("---")[0]))  # byte for byte
        self.assertEqual(out.stdout.count("name: podrouter\n"), 2)
        self.assertEqual(out.stdout.count("image: reg/podrouter:1"), 2)
        self.assertEqual(out.stdout.count("name: routes"), 2)
        self.assertIn("injected 2 workload(s)", out.stderr)
        again = inject("--image", "reg/podrouter:1", "--config-map", "routes", stdin=out.stdout)
        self.assertEqual(again.returncode, 0)
        self.assertEqual(again.stdout, out.stdout)
        self.assertIn("injected 0 workload(s), 2 already", again.stderr)

    def test_file_and_native_sidecar(self):
        with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
            f.write(MANIFESTS)
        try:
            out = inject("-f", f.name, "--native-sidecar")
        finally:
            os.unlink(f.name)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(out.stdout.count("restartPolicy: Always"), 2)
        self.assertIn("initContainers:", out.stdout)

    def test_broken_yaml_writes_nothing(self):
        out = inject(stdin=MANIFESTS + "---\nkind: Pod\nspec: [unclosed\n")
        self.assertEqual(out.returncode, 1)
        self.assertEqual(out.stdout, "")
        self.assertIn("<stdin>: document 4 (line ", out.stderr)

    def test_bad_usage(self):
        for args in (["--image"], ["--admin-port", "0"], ["--colour"], ["-f", "/nonexistent"],
                     ["-f", "/tmp"], ["-f", "/dev/zero"], ["--config-map", "Bad_Name"],
                     ["--image", ""]):
            out = inject(*args, stdin="")
            self.assertEqual(out.returncode, 1, args)
            self.assertEqual(out.stdout, "")


    def test_jobs_lists_and_json_streams(self):
        # Issue 10, item 7: Jobs got an ordinary sidecar (never completing); a List and a JSON
        # stream came back unchanged with exit 0.
        job = inject(stdin="apiVersion: batch/v1\nkind: Job\nmetadata: {name: j}\n"
                     "spec: {template: {spec: {restartPolicy: Never, "
                     "containers: [{name: j, image: j:1}]}}}\n")
        self.assertEqual(job.returncode, 0, job.stderr)
        init = block(job.stdout, "initContainers:")
        self.assertIn("name: podrouter", init)
        self.assertIn("restartPolicy: Always", init)
        self.assertNotIn("name: podrouter", block(job.stdout, "containers:"))
        listed = inject(stdin="apiVersion: v1\nkind: List\nitems:\n"
                        "- {apiVersion: apps/v1, kind: Deployment, metadata: {name: a}, "
                        "spec: {selector: {matchLabels: {app: a}}, template: {metadata: "
                        "{labels: {app: a}}, spec: {containers: [{name: a, image: a:1}]}}}}\n")
        self.assertEqual(listed.returncode, 0, listed.stderr)
        self.assertIn("name: podrouter", listed.stdout)
        self.assertIn("injected 1 workload(s)", listed.stderr)
        pod = ('{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},'
               '"spec":{"containers":[{"name":"c","image":"c:1"}]}}')
        stream = inject(stdin=pod + "\n" + pod.replace('"p"', '"q"'))
        self.assertEqual(stream.returncode, 0, stream.stderr)
        self.assertEqual(stream.stdout.count("- name: podrouter\n"), 2)
        self.assertIn("injected 2 workload(s)", stream.stderr)
        broken = inject(stdin=pod + "\n{")
        self.assertEqual(broken.returncode, 1)
        self.assertEqual(broken.stdout, "")
        self.assertIn("JSON value 2", broken.stderr)

    def test_every_injected_object_is_valid_kubernetes(self):
        """What kubectl would read (PyYAML is YAML 1.1, as kubectl's parser): every object, in
        both forms, against the API schemas. Quoted values that read as numbers or booleans
        when plain must stay strings (before: `value: "8080"` came back `value: 8080`)."""
        for args in ([], ["--native-sidecar"]):
            with self.subTest(args=args):
                out = inject("--image", "reg/podrouter:1", *args, stdin=REAL_WORLD)
                self.assertEqual(out.returncode, 0, out.stderr)
                objects = [o for o in yaml.safe_load_all(out.stdout) if o]
                expanded = []
                for o in objects:
                    expanded += o["items"] if o["kind"] == "List" else [o]
                self.assertEqual(len(expanded), 8)
                k8s_schema.assert_valid(self, expanded, "inject " + " ".join(args))
                deployment = expanded[1]["spec"]["template"]
                self.assertEqual(deployment["metadata"]["annotations"],
                                 {"sidecar.example.com/enabled": "true", "version": "2",
                                  "podrouter.io/injected": "true"})
                env = deployment["spec"]["containers"][0]["env"]
                self.assertEqual([e["value"] for e in env], ["8080", "no", "on", "1e3", "null"])


REAL_WORLD = """apiVersion: v1
kind: Service
metadata: {name: orders}
spec: {clusterIP: None, selector: {app: orders}, ports: [{name: http, port: 80}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: orders, labels: {app: orders}}
spec:
  replicas: 2
  selector: {matchLabels: {app: orders}}
  template:
    metadata:
      labels: {app: orders}
      annotations: {sidecar.example.com/enabled: "true", version: '2'}
    spec:
      containers:
        - name: orders
          image: "registry.local/orders:2.1"
          ports: [{containerPort: 8080, name: http}]
          env: [{name: PORT, value: "8080"}, {name: DEBUG, value: "no"},
                {name: FEATURE, value: 'on'}, {name: RATE, value: "1e3"},
                {name: EMPTY, value: "null"}]
          resources: {requests: {cpu: "0.5", memory: 64Mi}}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: mydb}
spec:
  serviceName: mydb
  selector: {matchLabels: {app: mydb}}
  template:
    metadata: {labels: {app: mydb}}
    spec:
      initContainers: [{name: init, image: "busybox:1.36", command: [sh, -c, "true"]}]
      containers: [{name: db, image: "postgres:16", args: ["-c", "max_connections=200"]}]
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
          containers: [{name: job, image: "job:1", args: ["--since", "24h"]}]
---
apiVersion: batch/v1
kind: Job
metadata: {name: migrate}
spec:
  backoffLimit: 2
  template:
    spec:
      restartPolicy: Never
      containers: [{name: migrate, image: "migrate:3"}]
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec: {containers: [{name: agent, image: "agent:1"}]}
---
apiVersion: v1
kind: Pod
metadata: {name: debug}
spec:
  containers: [{name: debug, image: "busybox:1.36", command: [sleep, "3600"]}]
---
apiVersion: v1
kind: List
items:
  - apiVersion: apps/v1
    kind: ReplicaSet
    metadata: {name: rs}
    spec:
      selector: {matchLabels: {app: rs}}
      template:
        metadata: {labels: {app: rs}}
        spec: {containers: [{name: rs, image: "rs:1"}]}
"""


if __name__ == "__main__":
    unittest.main()
