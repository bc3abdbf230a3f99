"""The container image, built from docker/Dockerfile with podman and run against the test bed:
non-root, small, routing for real, ready on /ready, draining on SIGTERM."""
import json
import os
import subprocess
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))
from testbed import TestBed, banner, connect, free_port, wait_for  # noqa: E402

IMAGE = "localhost/podrouter:test"
ENV = dict(os.environ, CONTAINERS_CONF=os.path.join(ROOT, "docker", "containers.conf"))


def podman(*args, timeout=120, check=True):
    out = subprocess.run(["podman", *args], capture_output=True, text=True, timeout=timeout,
                         env=ENV)
    if check and out.returncode != 0:
        raise AssertionError(f"podman {' '.join(args)} failed:\n{out.stdout}\n{out.stderr}")
    return out


class Image(TestBed):
    @classmethod
    def setUpClass(cls):
        if podman("image", "exists", "debian:bookworm-slim", check=False).returncode != 0 or \
                podman("image", "exists", "debian:bookworm", check=False).returncode != 0:
            subprocess.run([os.path.join(ROOT, "docker", "make-base-images.sh")], check=True,
                           env=ENV, timeout=900)
        podman("build", "--network", "host", "-t", IMAGE, "-f", "docker/Dockerfile", ROOT,
               timeout=1800)
        cls.inspect = json.loads(podman("image", "inspect", IMAGE).stdout)[0]

    def test_small_and_non_root(self):
        # What podrouter adds to bookworm-slim (the binary and its runtime libraries, OpenSSL's
        # for the webhook among them) stays small. `version` below also proves every library the
        # binary links is in the image.
        base = json.loads(podman("image", "inspect", "debian:bookworm-slim").stdout)[0]["Size"]
        self.assertLess(self.inspect["Size"] - base, 16 * 1024 * 1024,
                        (self.inspect["Size"], base))
        config = self.inspect["Config"]
        self.assertEqual(config["User"], "65532:65532")
        self.assertEqual(config["Entrypoint"], ["podrouter"])
        out = podman("run", "--rm", IMAGE, "version")
        self.assertRegex(out.stdout, r"^podrouter \d+\.\d+\.\d+\n$")
        out = podman("run", "--rm", "--entrypoint", "id", IMAGE)
        self.assertIn("uid=65532", out.stdout)

    def test_serves_from_the_image(self):
        name, port, _ = self.statefulset(3)
        self.dns.start()
        lport, hport, admin = free_port(), free_port(), free_port()
        config_dir = os.path.join(self.tmp, "etc")
        os.makedirs(config_dir)
        os.chmod(self.tmp, 0o755)
        config = self.base_config(
            {"mydb": {"name": name, "discovery": "srv", "port_name": "postgres", "replicas": 3}},
            [{"name": "primary", "bind": f"127.0.0.1:{lport}", "service": "mydb",
              "route": {"ordinal": 2}},
             {"name": "h2", "bind": f"127.0.0.1:{hport}", "protocol": "http",
              "upstream_protocol": "http2", "service": "mydb", "route": {"ordinal": 2}}],
            admin={"bind": f"127.0.0.1:{admin}"})
        with open(os.path.join(config_dir, "podrouter.yaml"), "w") as f:
            json.dump(config, f)
        os.chmod(config_dir, 0o755)
        os.chmod(os.path.join(config_dir, "podrouter.yaml"), 0o644)
        # Locked down as the chart runs it: read-only root, no capabilities.
        cid = podman("run", "-d", "--network", "host", "--read-only", "--cap-drop", "ALL",
                     "--security-opt", "no-new-privileges",
                     "-v", f"{config_dir}:/etc/podrouter:ro", IMAGE).stdout.strip()
        try:
            def ready():
                state = json.loads(podman("inspect", cid).stdout)[0]["State"]
                if not state["Running"]:
                    raise AssertionError("container exited: " + podman("logs", cid).stderr)
                import urllib.request
                with urllib.request.urlopen(f"http://127.0.0.1:{admin}/ready", timeout=2) as r:
                    return r.status == 200
            wait_for(ready, timeout=30, what="the container's /ready")
            self.assertEqual(banner(lport), f"pod=mydb-2 addr=127.0.1.3:{port}")
            # HTTP/2 (nghttp2 from the runtime packages): the preface gets the server's SETTINGS.
            with connect(hport) as s:
                s.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00")
                self.assertEqual(s.recv(9)[3], 4)  # frame type 4: SETTINGS
            podman("stop", "-t", "10", cid)
            state = json.loads(podman("inspect", cid).stdout)[0]["State"]
            self.assertEqual(state["ExitCode"], 0, podman("logs", cid).stderr)
            self.assertIn("event=draining signal=SIGTERM", podman("logs", cid).stderr)
        finally:
            podman("rm", "-f", cid, check=False)


if __name__ == "__main__":
    unittest.main()
