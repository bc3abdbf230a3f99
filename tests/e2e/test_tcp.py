"""End-to-end: TCP listeners through the real binary, real dnsmasq and real pod processes."""
import os
import resource
import socket
import threading
import time
import unittest

from testbed import (TestBed, banner, closed_at_once, connect, free_port, free_port_range, metric,
                     push_until_blocked, read_line, rss_kib, sha256, wait_for)


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

    def echo_with_half_close(self, payload):
        """Sends `payload` at once, half-closes, and returns (banner, everything echoed)."""
        received = bytearray()
        with connect(self.lport, timeout=30) as s:
            first = read_line(s)

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
        return first, received

    def assert_relayed_exactly(self, r, first, payload, received):
        self.assertEqual(len(received), len(payload))
        self.assertEqual(sha256(received), sha256(payload))
        wait_for(lambda: metric(r.metrics(), "podrouter_listener_connections_active",
                                listener="one") == 0, what="session closed")
        m = r.metrics()
        # Byte accounting is exact in both relay modes: what the pod got, and the banner plus
        # the echo it sent.
        self.assertEqual(metric(m, "podrouter_upstream_bytes_sent_total", pod="mydb-0"),
                         len(payload))
        self.assertEqual(metric(m, "podrouter_upstream_bytes_received_total", pod="mydb-0"),
                         len(first.encode()) + len(payload))
        self.assertIn("reason=done", r.logs())

    def test_megabytes_are_spliced_intact_with_half_close(self):
        r = self.router(self.base_config(self.service,
                                         [tcp_listener("one", self.lport, {"ordinal": 0})]))
        payload = os.urandom(8 * 1024 * 1024)
        first, received = self.echo_with_half_close(payload)
        self.assertIn("event=splice_started", r.logs())  # bulk bytes went through pipes
        self.assert_relayed_exactly(r, first, payload, received)

    def test_small_traffic_is_relayed_without_splice_with_half_close(self):
        r = self.router(self.base_config(self.service,
                                         [tcp_listener("one", self.lport, {"ordinal": 0})]))
        payload = os.urandom(20 * 1024)  # less than one 64 KiB read buffer
        first, received = self.echo_with_half_close(payload)
        self.assertNotIn("event=splice_started", r.logs())
        self.assert_relayed_exactly(r, first, payload, received)

    def spliced_connection(self, r):
        """A connection whose session has turned to splice: 2 MiB echoed back."""
        s = connect(self.lport, timeout=30)
        read_line(s)
        before = r.logs().count("event=splice_started")
        payload = os.urandom(2 * 1024 * 1024)
        t = threading.Thread(target=s.sendall, args=(payload,))
        t.start()
        got = 0
        while got < len(payload):
            got += len(s.recv(1 << 20))
        t.join(30)
        wait_for(lambda: r.logs().count("event=splice_started") > before, what="splice")
        return s

    def test_a_spliced_connection_still_times_out_when_idle(self):
        r = self.router(self.base_config(self.service, [tcp_listener(
            "one", self.lport, {"ordinal": 0}, timeouts={"idle": "300ms"})]))
        with self.spliced_connection(r) as s:
            s.settimeout(10)
            self.assertEqual(s.recv(1), b"")  # closed by the proxy once idle
        self.assertIn("reason=idle_timeout", r.logs())

    def test_an_idle_timeout_that_cuts_bytes_in_flight_is_a_reset(self):
        """The client sends 12 MiB and never reads (a small receive buffer): the echo backs up
        into podrouter until the idle timeout. Ending that stream with a FIN made the cut stream
        look complete (a clean EOF after about 4 MiB of 12)."""
        r = self.router(self.base_config(self.service, [tcp_listener(
            "one", self.lport, {"ordinal": 0}, timeouts={"idle": "500ms"})]))
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        s.settimeout(30)
        s.connect(("127.0.0.1", self.lport))
        s.sendall(b"x" * (12 * 1024 * 1024))  # all of it reaches the pod, which echoes it
        wait_for(lambda: "reason=idle_timeout" in r.logs(), what="idle timeout", timeout=60)
        with self.assertRaises(ConnectionResetError):
            while s.recv(1 << 16):
                pass
        s.close()

    def limited_router(self, nofile, workers):
        """A router on one TCP listener under RLIMIT_NOFILE `nofile`, with `workers` workers."""
        r = self.router(self.base_config(self.service,
                                         [tcp_listener("one", self.lport, {"ordinal": 0})],
                                         workers=workers),
                        start=False)
        r.start_args = {"preexec_fn": lambda: resource.setrlimit(resource.RLIMIT_NOFILE,
                                                                 (nofile, nofile))}
        r.start()
        return r

    def hold_until_refused(self, held, most):
        """Opens connections into `held` until one is refused (closed or reset) or `most`."""
        while len(held) < most:
            try:
                s = connect(self.lport)
                held.append(s)
                if not read_line(s):
                    return
            except ConnectionResetError:
                return  # refused as a reset, during the handshake or after it

    def test_pooled_pipes_give_their_descriptors_to_connections(self):
        """Under a descriptor limit of 512 a worker keeps at most 2 empty pipes (limit / 256), and
        closes them when accept runs out of descriptors. One worker: each worker pools its own
        pipes and gives them up when its own accept fails."""
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 2048)), hard))
        r = self.limited_router(512, workers=1)
        pipes = lambda: sum(os.readlink(f"/proc/{r.proc.pid}/fd/{fd}").startswith("pipe:")
                            for fd in os.listdir(f"/proc/{r.proc.pid}/fd"))
        before = pipes()
        spliced = [self.spliced_connection(r) for _ in range(3)]  # six pipes at once
        for s in spliced:
            s.close()
        wait_for(lambda: pipes() == before + 4, what="two empty pipes pooled (4 descriptors)")
        held = []
        try:
            # More than 512 descriptors allow: refused only once even the pool gave its own.
            self.hold_until_refused(held, 400)
            self.assertEqual(pipes(), before)
            self.assertIn("out of file descriptors", r.logs())
        finally:
            for s in held:
                s.close()

    def test_running_out_of_descriptors_pauses_accepting_and_logs_once_a_second(self):
        """Two workers at a limit of 64, connections still arriving: those waiting are shed with
        the reserve descriptor, or, when none can be had (another worker's thread can take the
        one freed), the port pauses 100 ms at a time; it used to wake on every loop turn then,
        spinning both cores and logging hundreds of MB. The condition is logged at most once a
        second per listener and worker."""
        r = self.limited_router(64, workers=2)
        held = []
        try:
            self.hold_until_refused(held, 60)  # more than 64 descriptors allow
            started = r.logs().count("event=accept_failed")
            for _ in range(30):  # 3 s of clients arriving, each refused
                try:
                    held.append(connect(self.lport))
                except ConnectionResetError:
                    pass  # refused during the handshake
                time.sleep(0.1)
            logged = r.logs().count("event=accept_failed") - started
            self.assertLessEqual(logged, 3 * 2 + 2, "one line a second per worker, at most")
            for s in held[:20]:
                s.close()  # descriptors free again: new connections are served
            wait_for(lambda: banner(self.lport).startswith("pod=mydb-0"), what="served again")
        finally:
            for s in held:
                s.close()

    def test_a_client_reset_while_spliced_resets_and_releases_everything(self):
        r = self.router(self.base_config(self.service,
                                         [tcp_listener("one", self.lport, {"ordinal": 0})]))
        keep = connect(self.lport)
        read_line(keep)
        descriptors = lambda kind: [os.readlink(f"/proc/{r.proc.pid}/fd/{fd}")
                                    for fd in os.listdir(f"/proc/{r.proc.pid}/fd")
                                    if os.readlink(f"/proc/{r.proc.pid}/fd/{fd}").startswith(kind)]
        sockets, pipes = len(descriptors("socket:")), len(descriptors("pipe:"))
        spliced = [self.spliced_connection(r) for _ in range(6)]
        # Each spliced session holds its two sockets (and two pipes).
        wait_for(lambda: len(descriptors("socket:")) == sockets + 6 * 2, what="6 × 2 sockets")
        for i, s in enumerate(spliced):
            if i % 2:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\0\0\0\0\0\0\0")
                threading.Thread(target=s.sendall, args=(b"x" * 300000,), daemon=True).start()
            s.close()  # even: a FIN, whose half-close the pod echoes; odd: a reset mid-stream
        wait_for(lambda: metric(r.metrics(), "podrouter_listener_connections_active",
                                listener="one") == 1, what="spliced sessions closed")
        # A reset is seen reading from the client, or writing the pod's echo to it.
        self.assertEqual(r.logs().count("reason=client_reset") +
                         r.logs().count("reason=client_write_failed"), 3, r.logs())
        self.assertEqual(r.logs().count("reason=done"), 3)
        # Nothing leaked (handles close one loop turn after the gauge drops; the admin
        # connection that read it closes too).
        wait_for(lambda: len(descriptors("socket:")) == sockets, what="descriptors closed")
        # Two pipes per session, empty ones pooled for reuse: at most 12 more than before.
        self.assertLessEqual(len(descriptors("pipe:")), pipes + 6 * 2 * 2)
        keep.sendall(b"alive\n")
        self.assertEqual(read_line(keep), "alive\n")
        keep.close()

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
        self.assertIn("event=splice_started", r.logs())  # the bound held in splice mode too
        # Kernel socket buffers on loopback hold tens of MB; the proxy itself holds at most its
        # high watermark plus one read buffer.
        self.assertLess(sent, limit, "the client was never blocked")
        self.assertLess(grown, 16 * 1024, f"RSS grew by {grown} KiB after {sent} bytes")


if __name__ == "__main__":
    unittest.main()
