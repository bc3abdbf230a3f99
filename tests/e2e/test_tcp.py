"""End-to-end: TCP listeners through the real binary, real dnsmasq and real pod processes."""
import os
import signal
import socket
import subprocess
import threading
import time
import unittest

from testbed import (BIN, TestBed, banner, closed_at_once, connect, free_port, free_port_range,
                     metric, push_until_blocked, read_line, rss_kib, sha256, wait_for)


def srv_service(name, replicas=3, **extra):
    svc = {"name": name, "discovery": "srv", "port_name": "postgres", "replicas": replicas}
    svc.update(extra)
    return svc


def tcp_listener(name, port, route, service="mydb", **extra):
    listener = {"name": name, "bind": f"127.0.0.1:{port}", "protocol": "tcp", "service": service,
                "route": route}
    listener.update(extra)
    return listener


class DiscoveryModes(TestBed):
    def test_srv_fixed_ordinal(self):
        name, port, _ = self.statefulset(3)
        self.dns.start()
        lport = free_port()
        r = self.router(self.base_config({"mydb": srv_service(name)},
                                         [tcp_listener("primary", lport, {"ordinal": 2})]))
        for _ in range(5):
            self.assertEqual(banner(lport), f"pod=mydb-2 addr=127.0.1.3:{port}")
        pods = r.endpoints()["services"]["mydb"]["pods"]
        self.assertEqual([(p["name"], p["ordinal"], p["address"]) for p in pods],
                         [("mydb-0", 0, "127.0.1.1"), ("mydb-1", 1, "127.0.1.2"),
                          ("mydb-2", 2, "127.0.1.3")])
        m = r.metrics()
        self.assertEqual(metric(m, "podrouter_upstream_connections_total", pod="mydb-2"), 5)
        self.assertEqual(metric(m, "podrouter_listener_connections_total", listener="primary"), 5)

    def test_port_offset_and_missing_ordinal(self):
        name, port, _ = self.statefulset(3)
        self.dns.start()
        first = free_port_range(4)
        r = self.router(self.base_config(
            {"mydb": srv_service(name)},
            [{"name": "per-pod", "bind": f"127.0.0.1:{first}-{first + 3}", "service": "mydb",
              "route": {"ordinal": "port_offset"}}]))
        for i in range(3):
            self.assertTrue(banner(first + i).startswith(f"pod=mydb-{i} "))
        # Port 4 names ordinal 3, which has no pod: accepted and closed at once, and counted.
        self.assertTrue(closed_at_once(first + 3))
        self.assertEqual(metric(r.metrics(), "podrouter_route_failures_total", listener="per-pod",
                                reason="no_endpoint"), 1)

    def test_ordinals_discovery_with_ordinal_start(self):
        port = free_port("127.0.1.1")
        pods = {"web-5": "127.0.1.5", "web-6": "127.0.1.6"}
        name = self.dns.add_headless_service("web", "http", port, pods)
        for pod, ip in pods.items():
            self.pod(pod, ip, port)
        self.dns.start()
        first = free_port_range(3)
        r = self.router(self.base_config(
            {"web": {"name": name, "discovery": "ordinals", "replicas": 3, "ordinal_start": 5,
                     "port": port}},
            [{"name": "per-pod", "bind": f"127.0.0.1:{first}-{first + 2}", "service": "web",
              "route": {"ordinal": "port_offset"}}]))
        self.assertTrue(banner(first).startswith("pod=web-5 "))
        self.assertTrue(banner(first + 1).startswith("pod=web-6 "))
        self.assertTrue(closed_at_once(first + 2))  # web-7: NXDOMAIN, so absent
        svc = r.endpoints()["services"]["web"]
        self.assertEqual([p["ordinal"] for p in svc["pods"]], [5, 6])
        self.assertEqual(svc["last_resolution"]["result"], "ok")

    def test_a_discovery_round_robin(self):
        name, port, pods = self.statefulset(3, svc="cache")
        self.dns.start()
        lport = free_port()
        r = self.router(self.base_config(
            {"cache": {"name": name, "discovery": "a", "port": port}},
            [tcp_listener("spread", lport, {"balance": "round_robin"}, service="cache")],
            workers=1))  # each worker rotates on its own
        seen = [banner(lport).split()[0] for _ in range(6)]
        self.assertEqual(sorted(set(seen)), ["pod=cache-0", "pod=cache-1", "pod=cache-2"])
        self.assertEqual(seen[:3], seen[3:])  # strict rotation
        names = [p["name"] for p in r.endpoints()["services"]["cache"]["pods"]]
        self.assertEqual(names, ["127.0.1.1", "127.0.1.2", "127.0.1.3"])

    def test_ipv6_pod_and_listener(self):
        port = free_port("::1")
        name = self.dns.add_headless_service("v6db", "pg", port, {"v6db-0": "::1"})
        self.pod("v6db-0", "::1", port)
        self.dns.start()
        lport = free_port("::1")
        self.router(self.base_config(
            {"v6db": srv_service(name, replicas=1, port_name="pg")},
            [{"name": "v6", "bind": f"[::1]:{lport}", "service": "v6db", "route": {"ordinal": 0}}]))
        self.assertEqual(banner(lport, ip="::1"), f"pod=v6db-0 addr=::1:{port}")


class PodChurn(TestBed):
    def test_pod_recreated_with_new_ip_is_followed(self):
        name, port, _ = self.statefulset(3)
        self.dns.start()
        lport = free_port()
        self.router(self.base_config({"mydb": srv_service(name)},
                                     [tcp_listener("one", lport, {"ordinal": 1})]))
        self.assertEqual(banner(lport), f"pod=mydb-1 addr=127.0.1.2:{port}")
        held = connect(lport)  # an existing connection stays on the old pod
        self.assertIn("127.0.1.2", read_line(held))
        self.pod("mydb-1", "127.0.1.12", port)
        self.dns.hosts[f"mydb-1.{name}"] = ["127.0.1.12"]
        self.dns.hosts[name] = ["127.0.1.1", "127.0.1.12", "127.0.1.3"]
        self.dns.reload_hosts()
        wait_for(lambda: banner(lport) == f"pod=mydb-1 addr=127.0.1.12:{port}", timeout=10,
                 what="the new IP")
        held.sendall(b"still here\n")
        self.assertEqual(read_line(held), "still here\n")
        held.close()

    def test_pod_removed_from_dns_then_back(self):
        name, port, _ = self.statefulset(3)
        self.dns.start()
        first = free_port_range(3)
        r = self.router(self.base_config(
            {"mydb": srv_service(name)},
            [{"name": "per-pod", "bind": f"127.0.0.1:{first}-{first + 2}", "service": "mydb",
              "route": {"ordinal": "port_offset"}}]))
        self.assertTrue(banner(first + 2).startswith("pod=mydb-2 "))
        removed = [s for s in self.dns.srv if s[1].startswith("mydb-2.")]
        self.dns.srv = [s for s in self.dns.srv if s not in removed]
        del self.dns.hosts[f"mydb-2.{name}"]
        self.dns.restart()
        wait_for(lambda: len(r.endpoints()["services"]["mydb"]["pods"]) == 2, what="mydb-2 gone")
        self.assertTrue(closed_at_once(first + 2))
        self.assertTrue(banner(first).startswith("pod=mydb-0 "))
        self.assertTrue(banner(first + 1).startswith("pod=mydb-1 "))
        self.assertIn("removed=mydb-2@127.0.1.3", r.logs())
        self.dns.srv += removed
        self.dns.hosts[f"mydb-2.{name}"] = ["127.0.1.3"]
        self.dns.restart()
        wait_for(lambda: banner(first + 2).startswith("pod=mydb-2 "), what="mydb-2 back")

    def test_all_pods_gone_is_an_empty_set(self):
        name, port, _ = self.statefulset(2)
        self.dns.start()
        lport = free_port()
        r = self.router(self.base_config({"mydb": srv_service(name, replicas=2)},
                                         [tcp_listener("one", lport, {"ordinal": 0})]))
        self.dns.srv = []
        self.dns.hosts = {}
        self.dns.restart()
        wait_for(lambda: r.endpoints()["services"]["mydb"]["pods"] == [], what="empty set")
        self.assertTrue(closed_at_once(lport))
        m = r.metrics()
        self.assertGreater(metric(m, "podrouter_dns_resolutions_total", service="mydb",
                                  result="empty"), 0)
        self.assertEqual(metric(m, "podrouter_service_endpoints", service="mydb"), 0)

    def test_dead_pod_process_is_a_connect_failure(self):
        name, port, _ = self.statefulset(2)
        self.dns.start()
        lport = free_port()
        r = self.router(self.base_config({"mydb": srv_service(name, replicas=2)},
                                         [tcp_listener("one", lport, {"ordinal": 1})]))
        self.pods[1].stop()
        try:
            with connect(lport) as s:
                self.assertEqual(s.recv(10), b"")
        except ConnectionResetError:
            pass  # expected: the relay resets the client when the pod refuses
        wait_for(lambda: metric(r.metrics(), "podrouter_upstream_connect_failures_total",
                                pod="mydb-1") == 1, what="the failure counted")
        m = r.metrics()
        self.assertEqual(metric(m, "podrouter_upstream_connect_failures_total", pod="mydb-1"), 1)
        self.assertEqual(metric(m, "podrouter_route_failures_total", reason="connect_failed"), 1)


class DnsFailures(TestBed):
    def test_dns_killed_keeps_last_known_good(self):
        name, port, _ = self.statefulset(3)
        self.dns.start()
        lport = free_port()
        r = self.router(self.base_config({"mydb": srv_service(name)},
                                         [tcp_listener("one", lport, {"ordinal": 2})]))
        self.dns.stop()
        wait_for(lambda: r.endpoints()["services"]["mydb"]["last_resolution"]["result"] == "error",
                 timeout=10, what="a failed resolution")
        svc = r.endpoints()["services"]["mydb"]
        self.assertEqual(len(svc["pods"]), 3)
        self.assertEqual({p["state"] for p in svc["pods"]}, {"stale"})
        self.assertIsNotNone(svc["last_resolution"]["error"])
        self.assertTrue(banner(lport).startswith("pod=mydb-2 "))
        self.assertEqual(r.admin("/ready")[0], 200)
        self.assertGreater(metric(r.metrics(), "podrouter_dns_resolutions_total", service="mydb",
                                  result="error"), 0)
        self.assertIn("event=dns_error", r.logs())
        # The server comes back: the next retry succeeds and the set is fresh again.
        self.dns.start()
        wait_for(lambda: r.endpoints()["services"]["mydb"]["last_resolution"]["result"] == "ok",
                 timeout=10, what="recovery")

    def test_dns_down_at_start_is_not_ready(self):
        name, port, _ = self.statefulset(1)
        lport = free_port()
        r = self.router(self.base_config({"mydb": srv_service(name, replicas=1)},
                                         [tcp_listener("one", lport, {"ordinal": 0})]),
                        start=False)
        r.start(wait_ready=False)
        wait_for(lambda: r.admin("/healthz")[0] == 200, what="healthz")
        time.sleep(1.5)  # at least one lookup has timed out by now
        self.assertEqual(r.admin("/ready")[0], 503)
        self.assertTrue(closed_at_once(lport))
        self.dns.start()
        wait_for(lambda: r.admin("/ready")[0] == 200, timeout=10, what="ready after DNS is up")
        self.assertTrue(banner(lport).startswith("pod=mydb-0 "))

    def test_large_srv_answer_uses_tcp(self):
        # 200 SRV records (~9 KB) cannot fit the 1232-byte EDNS UDP payload both sides use:
        # dnsmasq sets TC and only c-ares' retry over TCP can deliver all 200.
        port = free_port("127.0.1.1")
        pods = {f"big-{i}": f"127.0.{2 + i // 250}.{1 + i % 250}" for i in range(200)}
        name = self.dns.add_headless_service("big", "pg", port, pods)
        self.pod("big-150", pods["big-150"], port)
        self.dns.start()
        lport = free_port()
        r = self.router(self.base_config(
            {"big": srv_service(name, replicas=200, port_name="pg")},
            [tcp_listener("one", lport, {"ordinal": 150}, service="big")]))
        listed = r.endpoints()["services"]["big"]["pods"]
        self.assertEqual(len(listed), 200)
        self.assertEqual([p["ordinal"] for p in listed], list(range(200)))
        self.assertEqual(banner(lport), f"pod=big-150 addr={pods['big-150']}:{port}")


class Relay(TestBed):
    def setUp(self):
        super().setUp()
        name, self.pod_port, _ = self.statefulset(1)
        self.dns.start()
        self.lport = free_port()
        self.service = {"mydb": srv_service(name, replicas=1)}

    def test_megabytes_echoed_intact_with_half_close(self):
        r = self.router(self.base_config(self.service,
                                         [tcp_listener("one", self.lport, {"ordinal": 0})]))
        payload = os.urandom(8 * 1024 * 1024)
        received = bytearray()
        with connect(self.lport, timeout=30) as s:
            read_line(s)

            def reader():
                while True:
                    chunk = s.recv(1 << 16)
                    if not chunk:
                        return
                    received.extend(chunk)
            t = threading.Thread(target=reader)
            t.start()
            s.sendall(payload)
            s.shutdown(socket.SHUT_WR)  # half-close: the echo still arrives, then EOF
            t.join(30)
            self.assertFalse(t.is_alive())
        self.assertEqual(len(received), len(payload))
        self.assertEqual(sha256(received), sha256(payload))
        m = r.metrics()
        self.assertEqual(metric(m, "podrouter_upstream_bytes_sent_total", pod="mydb-0"),
                         len(payload))
        self.assertGreaterEqual(metric(m, "podrouter_upstream_bytes_received_total", pod="mydb-0"),
                                len(payload))
        wait_for(lambda: metric(r.metrics(), "podrouter_listener_connections_active",
                                listener="one") == 0, what="session closed")

    def test_max_connections(self):
        r = self.router(self.base_config(self.service, [tcp_listener(
            "one", self.lport, {"ordinal": 0}, limits={"max_connections": 2})]))
        a, b = connect(self.lport), connect(self.lport)
        self.assertTrue(read_line(a) and read_line(b))
        self.assertTrue(closed_at_once(self.lport))
        self.assertEqual(metric(r.metrics(), "podrouter_route_failures_total",
                                reason="max_connections"), 1)
        a.close()
        wait_for(lambda: metric(r.metrics(), "podrouter_listener_connections_active",
                                listener="one") == 1, what="a slot to free up")
        self.assertTrue(banner(self.lport).startswith("pod=mydb-0"))
        b.close()

    def test_idle_timeout(self):
        r = self.router(self.base_config(self.service, [tcp_listener(
            "one", self.lport, {"ordinal": 0}, timeouts={"idle": "300ms"})]))
        with connect(self.lport) as s:
            read_line(s)
            s.sendall(b"ping\n")
            self.assertEqual(read_line(s), "ping\n")
            started = time.monotonic()
            self.assertEqual(s.recv(1), b"")  # closed by the proxy once idle
            self.assertLess(time.monotonic() - started, 4.5)
        self.assertIn("reason=idle_timeout", r.logs())

    def test_client_reset_does_not_disturb_others(self):
        self.router(self.base_config(self.service,
                                     [tcp_listener("one", self.lport, {"ordinal": 0})]))
        keep = connect(self.lport)
        read_line(keep)
        for _ in range(5):
            s = connect(self.lport)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\0\0\0\0\0\0\0")
            s.sendall(b"x" * 100000)
            s.close()  # RST
        keep.sendall(b"alive\n")
        self.assertEqual(read_line(keep), "alive\n")
        keep.close()


class Backpressure(TestBed):
    def test_stalled_pod_bounds_proxy_memory(self):
        """A pod that never reads: the client must end up blocked by TCP flow control, with
        podrouter holding no more than its watermark, not the whole stream."""
        port = free_port("127.0.1.1")
        name = self.dns.add_headless_service("sink", "tcp", port, {"sink-0": "127.0.1.1"})
        self.pod("sink-0", "127.0.1.1", port, mode="stall")
        self.dns.start()
        lport = free_port()
        r = self.router(self.base_config({"sink": srv_service(name, replicas=1, port_name="tcp")},
                                         [tcp_listener("one", lport, {"ordinal": 0},
                                                       service="sink")]))
        before = rss_kib(r.proc.pid)
        limit = 256 * 1024 * 1024
        with connect(lport) as s:
            sent = push_until_blocked(s, limit)
            grown = rss_kib(r.proc.pid) - before
        # Kernel socket buffers on loopback hold tens of MB; the proxy itself holds at most its
        # high watermark plus one read buffer.
        self.assertLess(sent, limit, "the client was never blocked")
        self.assertLess(grown, 16 * 1024, f"RSS grew by {grown} KiB after {sent} bytes")


class Lifecycle(TestBed):
    def setUp(self):
        super().setUp()
        self.name, self.pod_port, _ = self.statefulset(3)
        self.dns.start()
        self.lport = free_port()

    def config(self, ordinal, **extra):
        return self.base_config({"mydb": srv_service(self.name)},
                                [tcp_listener("one", self.lport, {"ordinal": ordinal})], **extra)

    def test_reload_good_then_bad(self):
        r = self.router(self.config(0))
        held = connect(self.lport)
        self.assertTrue(read_line(held).startswith("pod=mydb-0 "))
        r.write(self.config(1))
        r.signal(signal.SIGHUP)
        wait_for(lambda: metric(r.metrics(), "podrouter_config_reloads_total", result="ok") == 1,
                 what="reload ok")
        self.assertTrue(banner(self.lport).startswith("pod=mydb-1 "))  # same socket, new route
        held.sendall(b"kept\n")
        self.assertEqual(read_line(held), "kept\n")
        r.write("listeners: [\n  bad yaml")
        r.signal(signal.SIGHUP)
        wait_for(lambda: metric(r.metrics(), "podrouter_config_reloads_total", result="error") == 1,
                 what="reload error")
        self.assertTrue(banner(self.lport).startswith("pod=mydb-1 "))
        self.assertIn("event=reload_failed", r.logs())
        self.assertIn("podrouter.yaml:", r.logs())  # the parse error names the file
        held.close()

    def test_reload_with_new_dns_settings_keeps_the_pods(self):
        # New DNS settings rebuild the DNS client and every resolver; the rebuilt resolvers start
        # from the pods they knew, so routing never sees an empty set in between.
        r = self.router(self.config(2))
        held = connect(self.lport)
        self.assertTrue(read_line(held).startswith("pod=mydb-2 "))
        config = self.config(2)
        config["dns"] = dict(config["dns"], timeout="700ms")
        r.write(config)
        r.signal(signal.SIGHUP)
        wait_for(lambda: metric(r.metrics(), "podrouter_config_reloads_total", result="ok") == 1,
                 what="reload ok")
        self.assertEqual(r.admin("/ready")[0], 200)
        self.assertTrue(banner(self.lport).startswith("pod=mydb-2 "))
        held.sendall(b"kept\n")
        self.assertEqual(read_line(held), "kept\n")
        held.close()
        # The new client resolves: a pod that moves is followed.
        self.pod("mydb-2", "127.0.1.12", self.pod_port)
        self.dns.hosts[f"mydb-2.{self.name}"] = ["127.0.1.12"]
        self.dns.reload_hosts()
        wait_for(lambda: banner(self.lport) == f"pod=mydb-2 addr=127.0.1.12:{self.pod_port}",
                 what="the new address through the new DNS client")

    def test_reload_adds_and_removes_listeners(self):
        r = self.router(self.config(0))
        other = free_port()
        config = self.config(0)
        config["listeners"] = [tcp_listener("two", other, {"ordinal": 2})]
        r.write(config)
        r.signal(signal.SIGHUP)
        wait_for(lambda: metric(r.metrics(), "podrouter_config_reloads_total", result="ok") == 1,
                 what="reload ok")
        self.assertTrue(banner(other).startswith("pod=mydb-2 "))
        with self.assertRaises(ConnectionRefusedError):
            connect(self.lport)

    def test_reload_to_busy_port_keeps_running_config(self):
        r = self.router(self.config(0))
        busy = socket.socket()
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        config = self.config(0)
        config["listeners"].append(tcp_listener("two", busy.getsockname()[1], {"ordinal": 1}))
        r.write(config)
        r.signal(signal.SIGHUP)
        wait_for(lambda: metric(r.metrics(), "podrouter_config_reloads_total", result="error") == 1,
                 what="reload error")
        self.assertIn("address already in use", r.logs())
        self.assertTrue(banner(self.lport).startswith("pod=mydb-0 "))
        busy.close()

    def test_sigterm_drains_open_session(self):
        r = self.router(self.config(0))
        held = connect(self.lport)
        read_line(held)
        r.signal(signal.SIGTERM)
        wait_for(lambda: r.admin("/ready")[0] == 503, what="not ready while draining")
        self.assertEqual(r.admin("/healthz")[0], 200)
        with connect(self.lport) as new:  # the application may still open connections
            self.assertTrue(read_line(new).startswith("pod="))
        held.sendall(b"during drain\n")
        self.assertEqual(read_line(held), "during drain\n")
        self.assertIsNone(r.proc.poll())
        held.close()
        self.assertEqual(r.proc.wait(5), 0)

    def test_drain_timeout_aborts_sessions(self):
        r = self.router(self.config(0, drain_timeout="500ms"))
        held = connect(self.lport)
        read_line(held)
        started = time.monotonic()
        r.signal(signal.SIGTERM)
        self.assertEqual(r.proc.wait(10), 0)
        self.assertGreaterEqual(time.monotonic() - started, 0.4)
        self.assertIn("event=drain_timeout", r.logs())
        held.close()


class Admin(TestBed):
    def test_metrics_pass_promtool(self):
        name, port, _ = self.statefulset(2)
        self.dns.start()
        lport = free_port()
        r = self.router(self.base_config({"mydb": srv_service(name, replicas=2)},
                                         [tcp_listener("one", lport, {"ordinal": 0})]))
        banner(lport)
        status, text = r.admin("/metrics")
        self.assertEqual(status, 200)
        for required in ["podrouter_build_info", "podrouter_listener_connections_total",
                         "podrouter_listener_connections_active",
                         "podrouter_upstream_connections_total",
                         "podrouter_upstream_connect_failures_total",
                         "podrouter_upstream_bytes_sent_total",
                         "podrouter_upstream_bytes_received_total",
                         "podrouter_route_failures_total", "podrouter_dns_resolutions_total",
                         "podrouter_dns_resolution_duration_seconds",
                         "podrouter_service_endpoints", "podrouter_config_reloads_total",
                         "podrouter_http_request_duration_seconds"]:
            self.assertIn(f"# TYPE {required} ", text)
        check = subprocess.run(["promtool", "check", "metrics"], input=text.encode(),
                               capture_output=True, timeout=30)
        self.assertEqual(check.returncode, 0, check.stdout + check.stderr)

    def test_admin_errors(self):
        name, port, _ = self.statefulset(1)
        self.dns.start()
        r = self.router(self.base_config({"mydb": srv_service(name, replicas=1)},
                                         [tcp_listener("one", free_port(), {"ordinal": 0})]))
        self.assertEqual(r.admin("/nope")[0], 404)
        with connect(r.admin_port) as s:
            s.sendall(b"POST /ready HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
            self.assertIn(b" 405 ", s.recv(4096))
        with connect(r.admin_port) as s:
            s.sendall(b"GARBAGE\r\n\r\n")
            self.assertIn(b" 400 ", s.recv(4096))
        with connect(r.admin_port) as s:
            s.sendall(b"GET /metrics HTTP/1.1\r\n" + b"X-Filler: " + b"a" * 9000 + b"\r\n\r\n")
            self.assertIn(b" 431 ", s.recv(4096))
        self.assertEqual(r.admin("/healthz")[0], 200)


class CommandLine(TestBed):
    def run_cli(self, *args, env=None):
        return subprocess.run([BIN, *args], capture_output=True, timeout=20, env=env)

    def test_version(self):
        out = self.run_cli("version")
        self.assertEqual(out.returncode, 0)
        self.assertRegex(out.stdout.decode(), r"^podrouter \d+\.\d+\.\d+\n$")

    def test_validate(self):
        good = os.path.join(self.tmp, "good.yaml")
        with open(good, "w") as f:
            f.write("services:\n  db: {name: db.ns.svc.cluster.local, discovery: srv, "
                    "port_name: pg, replicas: 2}\nlisteners:\n  - name: a\n    bind: "
                    "127.0.0.1:15432\n    service: db\n    route: {ordinal: 1}\n")
        out = self.run_cli("validate", "--config", good)
        self.assertEqual(out.returncode, 0, out.stderr)
        bad = os.path.join(self.tmp, "bad.yaml")
        with open(bad, "w") as f:
            f.write("services:\n  db: {name: db.ns.svc.cluster.local, discovery: srv, "
                    "port_name: pg, replicas: 2}\nlisteners:\n  - name: a\n    bind: "
                    "127.0.0.1:15432\n    service: db\n    route: {ordinal: -1}\n    colour: red\n")
        out = self.run_cli("validate", "--config", bad)
        self.assertEqual(out.returncode, 1)
        self.assertEqual(out.stderr.decode().splitlines(), [
            f"{bad}:7:22: listeners[0].route.ordinal: expected a non-negative integer or "
            "port_offset",
            f"{bad}:8:5: listeners[0].colour: unknown key 'colour'"])
        env = dict(os.environ, PODROUTER_CONFIG=good)
        self.assertEqual(self.run_cli("validate", env=env).returncode, 0)

    def test_run_bad_config_starts_nothing(self):
        bad = os.path.join(self.tmp, "bad.yaml")
        with open(bad, "w") as f:
            f.write("listeners: []\n")
        out = self.run_cli("run", "--config", bad)
        self.assertEqual(out.returncode, 1)
        self.assertIn("services: missing required key", out.stderr.decode())

    def test_run_busy_port_exits_cleanly(self):
        name, port, _ = self.statefulset(1, start_pods=False)
        busy = socket.socket()
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        r = self.router(self.base_config({"mydb": srv_service(name, replicas=1)},
                                         [tcp_listener("one", busy.getsockname()[1],
                                                       {"ordinal": 0})]), start=False)
        r.expect_exit = True
        r.start(wait_ready=False)
        self.assertEqual(r.proc.wait(10), 1)
        self.assertIn("address already in use", r.logs())
        busy.close()

    def test_usage_errors(self):
        for args in [(), ("frobnicate",), ("run",), ("run", "--config"), ("validate", "--bogus")]:
            out = self.run_cli(*args, env={"PATH": os.environ.get("PATH", "")})
            self.assertEqual(out.returncode, 1, args)
            self.assertIn(b"usage: podrouter", out.stderr)


if __name__ == "__main__":
    unittest.main()
