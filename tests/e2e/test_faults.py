"""The fault matrix, end to end: a DNS server that fails in every way, pods that misbehave, clients
that vanish, file descriptors that run out, a limit that is reached and a storm of reloads. In each
case podrouter answers or logs clearly, counts it, and keeps serving everything else."""
import http.client
import json
import os
import resource
import signal
import socket
import subprocess
import sys
import threading
import time
import unittest

from testbed import (HERE, TestBed, banner, closed_at_once, connect, free_port, metric,
                     push_until_blocked, read_line, rss_kib, wait_for)

SVC = "mydb.default.svc.cluster.local"


class DnsFaults(TestBed):
    """podrouter against tests/e2e/fake_dns.py, switched from mode to mode while it runs."""

    def setUp(self):
        super().setUp()
        self.pod_port = free_port("127.0.1.1")
        pods = {f"mydb-{i}": f"127.0.1.{i + 1}" for i in range(3)}
        for pod, ip in pods.items():
            self.pod(pod, ip, self.pod_port)
        zone = {"srv": {f"_postgres._tcp.{SVC}": [[f"{p}.{SVC}", self.pod_port] for p in pods]},
                "a": {f"{p}.{SVC}": ip for p, ip in pods.items()}}
        self.zone_file = os.path.join(self.tmp, "zone.json")
        with open(self.zone_file, "w") as f:
            json.dump(zone, f)
        self.mode_file = os.path.join(self.tmp, "mode")
        self.set_mode("ok")
        self.dns_port = free_port(udp_too=True)
        self.fake = subprocess.Popen([sys.executable, os.path.join(HERE, "fake_dns.py"),
                                      str(self.dns_port), self.zone_file, self.mode_file],
                                     stdout=subprocess.PIPE)
        assert self.fake.stdout.readline().strip() == b"ready"
        self.lport = free_port()
        config = self.base_config(
            {"mydb": {"name": SVC, "discovery": "srv", "port_name": "postgres", "replicas": 3}},
            [{"name": "one", "bind": f"127.0.0.1:{self.lport}", "service": "mydb",
              "route": {"ordinal": 1}}])
        config["dns"] = {"servers": [f"127.0.0.1:{self.dns_port}"], "timeout": "300ms",
                         "min_refresh": "100ms", "max_refresh": "500ms"}
        self.r = self.router(config)

    def tearDown(self):
        self.fake.kill()
        self.fake.wait(5)
        self.fake.stdout.close()
        super().tearDown()

    def set_mode(self, mode):
        with open(self.mode_file + ".tmp", "w") as f:
            f.write(mode)
        os.replace(self.mode_file + ".tmp", self.mode_file)

    def result(self):
        return self.r.endpoints()["services"]["mydb"]

    def test_every_failure_keeps_the_last_known_good_set(self):
        for mode in ["servfail", "refused", "timeout", "garbage", "truncated", "badtcp"]:
            with self.subTest(mode=mode):
                errors = metric(self.r.metrics(), "podrouter_dns_resolutions_total",
                                service="mydb", result="error")
                self.set_mode(mode)
                wait_for(lambda: self.result()["last_resolution"]["result"] == "error",
                         timeout=10, what=f"an error under {mode}")
                svc = self.result()
                self.assertEqual([p["name"] for p in svc["pods"]], ["mydb-0", "mydb-1", "mydb-2"])
                self.assertTrue(banner(self.lport).startswith("pod=mydb-1 "))
                self.assertEqual(self.r.admin("/ready")[0], 200)
                self.assertGreater(metric(self.r.metrics(), "podrouter_dns_resolutions_total",
                                          service="mydb", result="error"), errors)
                self.set_mode("ok")
                wait_for(lambda: self.result()["last_resolution"]["result"] == "ok", timeout=10,
                         what=f"recovery after {mode}")
        self.assertIn("event=dns_error", self.r.logs())

    def test_errors_are_named_in_dns_terms(self):
        # Issue 10, item 10: SERVFAIL and REFUSED were reported as "Could not contact DNS servers".
        for mode, words in [("servfail", "SERVFAIL"), ("refused", "REFUSED"),
                            ("timeout", "timeout")]:
            with self.subTest(mode=mode):
                self.set_mode(mode)
                wait_for(lambda: (self.result()["last_resolution"]["error"] or "").find(words) >= 0,
                         timeout=10, what=f"an error naming {words}")
                self.assertNotIn("Could not contact", self.result()["last_resolution"]["error"])
                self.set_mode("ok")
                wait_for(lambda: self.result()["last_resolution"]["result"] == "ok", timeout=10,
                         what=f"recovery after {mode}")
        self.assertIn("SERVFAIL", self.r.logs())

    def test_nxdomain_is_an_answer(self):
        self.set_mode("nxdomain")
        wait_for(lambda: self.result()["pods"] == [], what="an empty set")
        self.assertTrue(closed_at_once(self.lport))
        self.set_mode("ok")
        wait_for(lambda: len(self.result()["pods"]) == 3, what="the pods back")


class PodFaults(TestBed):
    def setUp(self):
        super().setUp()
        self.name, _, _ = self.statefulset(2, mode="http")
        self.dns.start()
        self.port = free_port()
        self.r = self.router(self.base_config(
            {"mydb": {"name": self.name, "discovery": "srv", "port_name": "postgres",
                      "replicas": 2}},
            [{"name": "web", "bind": f"127.0.0.1:{self.port}", "protocol": "http",
              "service": "mydb", "route": {"ordinal": 0}, "timeouts": {"request": "1s"}}]))

    def get(self, path, method="GET", body=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request(method, path, body=body)
            r = conn.getresponse()
            return r.status, r.read()
        finally:
            conn.close()

    def test_half_a_response_then_close_aborts_only_that_client(self):
        with self.assertRaises((http.client.IncompleteRead, ConnectionResetError)):
            self.get("/half")
        self.assertEqual(self.get("/fine")[0], 200)
        self.assertIn("event=pod_failed_mid_response", self.r.logs())
        self.assertEqual(metric(self.r.metrics(), "podrouter_route_failures_total",
                                reason="upstream_reset"), 1)

    def test_invalid_response_head_is_502(self):
        status, body = self.get("/badhead")
        self.assertEqual(status, 502)
        self.assertEqual(json.loads(body)["error"], "upstream_bad_response")
        self.assertIn("event=invalid_response", self.r.logs())
        self.assertEqual(self.get("/fine")[0], 200)

    def test_accepting_but_silent_pod_is_504(self):
        status, body = self.get("/sleep/5000")
        self.assertEqual((status, json.loads(body)["error"]), (504, "upstream_timeout"))

    def test_pod_that_reads_nothing_bounds_memory(self):
        before = rss_kib(self.r.proc.pid)
        limit = 512 * 1024 * 1024
        with connect(self.port) as s:
            s.sendall(b"POST /stall HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % limit)
            sent = push_until_blocked(s, limit)
            grown = rss_kib(self.r.proc.pid) - before
        self.assertLess(sent, limit, "the client was never blocked")
        self.assertLess(grown, 16 * 1024, f"RSS grew by {grown} KiB after {sent} bytes")
        self.assertEqual(self.get("/fine")[0], 200)


class Limits(TestBed):
    def setUp(self):
        super().setUp()
        self.name, _, _ = self.statefulset(1)
        self.dns.start()
        self.lport = free_port()

    def config(self, **listener_extra):
        listener = {"name": "one", "bind": f"127.0.0.1:{self.lport}", "service": "mydb",
                    "route": {"ordinal": 0}}
        listener.update(listener_extra)
        return self.base_config(
            {"mydb": {"name": self.name, "discovery": "srv", "port_name": "postgres",
                      "replicas": 1}}, [listener])

    def test_file_descriptor_exhaustion(self):
        r = self.router(self.config(), start=False)
        r.start_args = {"preexec_fn": lambda: resource.setrlimit(resource.RLIMIT_NOFILE,
                                                                 (48, 48))}
        r.start()
        keep = [connect(self.lport) for _ in range(5)]
        for s in keep:
            self.assertTrue(read_line(s).startswith("pod=mydb-0"))
        flood = []
        for _ in range(60):
            try:
                flood.append(connect(self.lport, timeout=2))
            except OSError:
                pass
        time.sleep(0.5)
        for s in keep:  # the sessions that were there are unharmed
            s.sendall(b"still\n")
            self.assertEqual(read_line(s), "still\n")
        for s in flood:
            s.close()
        # While descriptors ran out even the admin port could not accept; now it can again.
        wait_for(lambda: metric(r.metrics(), "podrouter_listener_connections_active",
                                listener="one") <= 5, what="the flood to clear")
        m = r.metrics()
        failed = (metric(m, "podrouter_route_failures_total", reason="accept_error") +
                  metric(m, "podrouter_route_failures_total", reason="connect_failed"))
        self.assertGreater(failed, 0)
        self.assertRegex(r.logs(), "event=(accept_failed|connect_failed)")
        self.assertTrue(banner(self.lport).startswith("pod=mydb-0"))  # recovered
        for s in keep:
            s.close()

    def test_sighup_storm(self):
        r = self.router(self.config())
        stop = threading.Event()
        failures = []

        def load():
            while not stop.is_set():
                try:
                    if not banner(self.lport).startswith("pod=mydb-0"):
                        failures.append("wrong pod")
                except OSError as e:
                    failures.append(repr(e))
        t = threading.Thread(target=load)
        t.start()
        for _ in range(50):
            r.signal(signal.SIGHUP)
            time.sleep(0.01)
        time.sleep(1)
        stop.set()
        t.join(10)
        self.assertEqual(failures, [])
        m = r.metrics()
        self.assertGreaterEqual(metric(m, "podrouter_config_reloads_total", result="ok"), 1)
        self.assertEqual(metric(m, "podrouter_config_reloads_total", result="error"), 0)
        self.assertIsNone(r.proc.poll())

    def test_max_connections_http(self):
        # An HTTP listener (the pods here speak a line protocol: podrouter's own 502 is enough to
        # tell a served connection from a refused one).
        r = self.router(self.config(protocol="http", limits={"max_connections": 1}))
        a = connect(self.lport)
        a.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertTrue(a.recv(100).startswith(b"HTTP/1.1 "))  # served, and kept open
        self.assertTrue(closed_at_once(self.lport))
        a.close()
        self.assertEqual(metric(r.metrics(), "podrouter_route_failures_total", listener="one",
                                reason="max_connections"), 1)
        wait_for(lambda: metric(r.metrics(), "podrouter_listener_connections_active",
                                listener="one") == 0, what="the first connection gone")
        b = connect(self.lport)  # below the limit again: served
        b.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertTrue(b.recv(100).startswith(b"HTTP/1.1 "))
        b.close()


class Security(TestBed):
    def test_admin_beyond_loopback_is_announced(self):
        name, _, _ = self.statefulset(1, start_pods=False)
        self.dns.start()
        config = self.base_config(
            {"mydb": {"name": name, "discovery": "srv", "port_name": "postgres", "replicas": 1}},
            [{"name": "one", "bind": f"127.0.0.1:{free_port()}", "service": "mydb",
              "route": {"ordinal": 0}}])
        r = self.router(config, start=False)
        r.write(dict(config, admin={"bind": f"0.0.0.0:{r.admin_port}"}))
        r.start()
        self.assertIn("event=admin_exposed", r.logs())

    def test_nothing_changes_state_over_http_and_errors_escape(self):
        name, _, _ = self.statefulset(1, mode="http")
        self.dns.start()
        port = free_port()
        r = self.router(self.base_config(
            {"mydb": {"name": name, "discovery": "srv", "port_name": "postgres", "replicas": 1}},
            [{"name": "web", "bind": f"127.0.0.1:{port}", "protocol": "http", "service": "mydb",
              "route": {"ordinal_header": "x-pod-ordinal"}}]))
        for method in ("POST", "PUT", "DELETE", "PATCH"):
            for path in ("/metrics", "/ready", "/endpoints", "/healthz", "/reload", "/quit"):
                with connect(r.admin_port) as s:
                    s.sendall(f"{method} {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
                    self.assertIn(b" 405 ", s.recv(4096))
        self.assertEqual(r.admin("/ready")[0], 200)
        # A hostile value is never echoed raw into JSON or the logs.
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", '/"quoted', headers={"X-Pod-Ordinal": '1"},"x":"y'})
        resp = conn.getresponse()
        body = json.loads(resp.read())
        self.assertEqual(resp.status, 400)
        self.assertEqual(body, {"error": "bad_ordinal", "header": "x-pod-ordinal"})
        self.assertNotIn('"x":"y', r.logs())
        json.loads(r.admin("/endpoints")[1])
        # A routed request is logged at debug with its URL (quoted), never with a header's value:
        # a credential in a header stays out of the logs.
        conn.request("GET", '/"routed', headers={"X-Pod-Ordinal": "0",
                                                 "Authorization": "Bearer s3cr3t-token"})
        self.assertEqual(conn.getresponse().read(), b'pod=mydb-0 path=/"routed\n')
        logs = r.logs()
        self.assertIn('event=request method=GET url="/\\"routed"', logs)
        self.assertNotIn("s3cr3t", logs)


if __name__ == "__main__":
    unittest.main()
