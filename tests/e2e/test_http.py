"""End-to-end: HTTP listeners routing per request, through the real binary, dnsmasq and pods."""
import hashlib
import http.client
import json
import os
import random
import socket
import subprocess
import time
import unittest

from shardmap import owner
from testbed import (TestBed, connect, free_port, metric, raw_exchange, wait_for)

N_PODS = 5


def http_listener(name, port, route, service="mydb", **extra):
    listener = {"name": name, "bind": f"127.0.0.1:{port}", "protocol": "http",
                "service": service, "route": route}
    listener.update(extra)
    return listener


class HttpBed(TestBed):
    """Five HTTP pods mydb-0..4 behind SRV discovery."""

    def setUp(self):
        super().setUp()
        self.name, self.pod_port, self.pod_ips = self.statefulset(N_PODS, mode="http")
        self.dns.start()

    def service(self, **extra):
        svc = {"name": self.name, "discovery": "srv", "port_name": "postgres",
               "replicas": N_PODS}
        svc.update(extra)
        return {"mydb": svc}

    def start(self, *listeners, **extra):
        return self.router(self.base_config(self.service(), list(listeners), **extra))

    @staticmethod
    def get(conn, path, headers=None, method="GET", body=None):
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        return r.status, dict(r.getheaders()), r.read()


class ShardRouting(HttpBed):
    def test_keys_reach_their_owner_on_one_kept_alive_connection(self):
        port = free_port()
        r = self.start(http_listener("sharded", port, {"shard_key": {"header": "x-shard-key"}}))
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        rng = random.Random(7)
        keys = [f"user-{rng.randrange(10**9)}" for _ in range(150)]
        for key in keys:
            status, headers, body = self.get(conn, "/item", {"X-Shard-Key": key})
            self.assertEqual(status, 200, body)
            self.assertEqual(headers["X-Pod"], f"mydb-{owner(key, N_PODS)}", key)
        conn.close()
        m = r.metrics()
        served = sum(metric(m, "podrouter_http_requests_total", listener="sharded",
                            pod=f"mydb-{i}", code=200) for i in range(N_PODS))
        self.assertEqual(served, len(keys))
        # One client connection, pooled upstream connections: no more than one per pod.
        for i in range(N_PODS):
            self.assertLessEqual(metric(m, "podrouter_upstream_connections_total",
                                        pod=f"mydb-{i}"), 1)

    def test_every_key_source(self):
        ports = [free_port() for _ in range(4)]
        self.start(
            http_listener("query", ports[0], {"shard_key": {"query": "user"}}),
            http_listener("cookie", ports[1], {"shard_key": {"cookie": "sid"}}),
            http_listener("path", ports[2], {"shard_key": {"path_segment": 1}}),
            http_listener("shards", ports[3], {"shard_key": {"header": "x-k"}, "shards": 3}))
        conns = [http.client.HTTPConnection("127.0.0.1", p, timeout=10) for p in ports]
        for i in range(25):
            key = f"k{i}-{random.randrange(10**6)}"
            _, h, _ = self.get(conns[0], f"/p?a=1&user={key}")
            self.assertEqual(h["X-Pod"], f"mydb-{owner(key, N_PODS)}")
            _, h, _ = self.get(conns[1], "/p", {"Cookie": f"a=b; sid={key}"})
            self.assertEqual(h["X-Pod"], f"mydb-{owner(key, N_PODS)}")
            _, h, _ = self.get(conns[2], f"/t/{key}/x")
            self.assertEqual(h["X-Pod"], f"mydb-{owner(key, N_PODS)}")
            _, h, _ = self.get(conns[3], "/", {"X-K": key})
            self.assertEqual(h["X-Pod"], f"mydb-{owner(key, 3)}")
        for c in conns:
            c.close()

    def test_missing_key_reject_and_any(self):
        strict, lax = free_port(), free_port()
        r = self.start(
            http_listener("strict", strict, {"shard_key": {"header": "x-k"}}),
            http_listener("lax", lax, {"shard_key": {"header": "x-k"}, "on_missing_key": "any"}))
        conn = http.client.HTTPConnection("127.0.0.1", strict, timeout=10)
        status, headers, body = self.get(conn, "/")
        self.assertEqual(status, 400)
        self.assertEqual(json.loads(body), {"error": "missing_key"})
        self.assertEqual(headers["Content-Type"], "application/json")
        status, _, _ = self.get(conn, "/", {"X-K": "still-alive"})  # same connection still works
        self.assertEqual(status, 200)
        seen = set()
        conn = http.client.HTTPConnection("127.0.0.1", lax, timeout=10)
        for _ in range(N_PODS):
            seen.add(self.get(conn, "/")[1]["X-Pod"])
        self.assertEqual(len(seen), N_PODS)
        self.assertEqual(metric(r.metrics(), "podrouter_route_failures_total", listener="strict",
                                reason="missing_key"), 1)

    def test_down_pod_fails_only_its_own_keys_or_falls_back(self):
        strict, nxt = free_port(), free_port()
        r = self.start(
            http_listener("strict", strict, {"shard_key": {"header": "x-k"}}),
            http_listener("next", nxt, {"shard_key": {"header": "x-k"}, "fallback": "next"}))
        # mydb-2 leaves DNS; the shard count stays 5.
        self.dns.srv = [s for s in self.dns.srv if not s[1].startswith("mydb-2.")]
        del self.dns.hosts[f"mydb-2.{self.name}"]
        self.dns.restart()
        wait_for(lambda: len(r.endpoints()["services"]["mydb"]["pods"]) == N_PODS - 1,
                 what="mydb-2 gone")
        keys = [f"key{i}" for i in range(60)]
        a = http.client.HTTPConnection("127.0.0.1", strict, timeout=10)
        b = http.client.HTTPConnection("127.0.0.1", nxt, timeout=10)
        for key in keys:
            o = owner(key, N_PODS)
            status, headers, body = self.get(a, "/", {"X-K": key})
            if o == 2:
                self.assertEqual(status, 503)
                self.assertEqual(json.loads(body),
                                 {"error": "no_endpoint", "service": "mydb", "ordinal": 2})
            else:
                self.assertEqual((status, headers["X-Pod"]), (200, f"mydb-{o}"))
            status, headers, _ = self.get(b, "/", {"X-K": key})
            self.assertEqual((status, headers["X-Pod"]), (200, f"mydb-{3 if o == 2 else o}"))

    def test_maglev_and_round_robin(self):
        mag, rr = free_port(), free_port()
        r = self.start(
            http_listener("mag", mag, {"balance": "maglev", "shard_key": {"header": "x-user"}}),
            http_listener("rr", rr, {"balance": "round_robin"}))
        conn = http.client.HTTPConnection("127.0.0.1", mag, timeout=10)
        first = {}
        for i in range(40):
            first[f"u{i}"] = self.get(conn, "/", {"X-User": f"u{i}"})[1]["X-Pod"]
        self.assertGreater(len(set(first.values())), 2)
        for key, pod in first.items():
            self.assertEqual(self.get(conn, "/", {"X-User": key})[1]["X-Pod"], pod)
        conn = http.client.HTTPConnection("127.0.0.1", rr, timeout=10)
        pods = [self.get(conn, "/")[1]["X-Pod"] for _ in range(2 * N_PODS)]
        self.assertEqual(sorted(set(pods)), [f"mydb-{i}" for i in range(N_PODS)])
        self.assertEqual(pods[:N_PODS], pods[N_PODS:])


class OrdinalHeader(HttpBed):
    def test_valid_bad_absent(self):
        port = free_port()
        r = self.start(http_listener("by-ordinal", port, {"ordinal_header": "x-pod-ordinal"}))
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        for i in range(N_PODS):
            status, headers, _ = self.get(conn, "/", {"X-Pod-Ordinal": str(i)})
            self.assertEqual((status, headers["X-Pod"]), (200, f"mydb-{i}"))
        status, _, body = self.get(conn, "/", {"X-Pod-Ordinal": "two"})
        self.assertEqual((status, json.loads(body)["error"]), (400, "bad_ordinal"))
        status, _, body = self.get(conn, "/")
        self.assertEqual((status, json.loads(body)["error"]), (400, "missing_ordinal"))
        status, _, body = self.get(conn, "/", {"X-Pod-Ordinal": "7"})
        self.assertEqual(status, 503)
        self.assertEqual(json.loads(body), {"error": "no_endpoint", "service": "mydb",
                                            "ordinal": 7})
        m = r.metrics()
        self.assertEqual(metric(m, "podrouter_route_failures_total", reason="bad_ordinal"), 2)
        self.assertEqual(metric(m, "podrouter_route_failures_total", reason="no_endpoint"), 1)
        self.assertEqual(metric(m, "podrouter_http_requests_total", pod="none", code=503), 1)


class Streaming(HttpBed):
    def setUp(self):
        super().setUp()
        self.port = free_port()
        self.r = self.start(http_listener("one", self.port, {"ordinal": 1}))

    def test_chunked_upload_echoed_intact(self):
        payload = os.urandom(6 * 1024 * 1024)
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)

        def parts():
            for i in range(0, len(payload), 100000):
                yield payload[i:i + 100000]
        conn.request("POST", "/echo", body=parts(), encode_chunked=True,
                     headers={"Transfer-Encoding": "chunked"})
        r = conn.getresponse()
        body = r.read()
        self.assertEqual(r.status, 200)
        self.assertEqual(hashlib.sha256(body).hexdigest(), hashlib.sha256(payload).hexdigest())
        # The same connection goes on.
        self.assertEqual(self.get(conn, "/after")[0], 200)

    def test_content_length_upload_and_chunked_download(self):
        payload = os.urandom(3 * 1024 * 1024)
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        status, _, body = self.get(conn, "/echo", method="POST", body=payload)
        self.assertEqual((status, hashlib.sha256(body).digest()),
                         (200, hashlib.sha256(payload).digest()))
        n = 8 * 1024 * 1024 + 17
        status, _, body = self.get(conn, f"/download/{n}")
        expected = (bytes(range(256)) * (n // 256 + 1))[:n]
        self.assertEqual((status, len(body)), (200, n))
        self.assertEqual(hashlib.sha256(body).digest(), hashlib.sha256(expected).digest())

    def test_pipelined_requests_answer_in_order(self):
        wire = b"".join(f"GET /p{i} HTTP/1.1\r\nHost: x\r\n\r\n".encode() for i in range(5))
        wire += b"GET /last HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        out = raw_exchange(self.port, wire)
        paths = [line.split(b"path=")[1] for line in out.split(b"\n") if b"path=" in line]
        self.assertEqual(paths, [b"/p0", b"/p1", b"/p2", b"/p3", b"/p4", b"/last"])
        self.assertEqual(out.count(b"HTTP/1.1 200"), 6)

    def test_http10_head_204_304_and_until_close(self):
        out = raw_exchange(self.port, b"GET /a HTTP/1.0\r\n\r\n")
        self.assertTrue(out.startswith(b"HTTP/1.0 200"), out)
        self.assertTrue(out.endswith(b"pod=mydb-1 path=/a\n"), out)
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        status, headers, body = self.get(conn, "/h", method="HEAD")
        self.assertEqual((status, body, headers["Content-Length"]), (200, b"", "19"))
        self.assertEqual(self.get(conn, "/status/204")[::2], (204, b""))
        self.assertEqual(self.get(conn, "/status/304")[::2], (304, b""))
        status, headers, body = self.get(conn, "/close")  # pod ends the body by closing
        self.assertEqual((status, body), (200, b"until the end"))
        self.assertEqual(headers.get("Transfer-Encoding"), "chunked")  # re-framed for 1.1
        out = raw_exchange(self.port, b"GET /close HTTP/1.0\r\n\r\n")
        self.assertTrue(out.endswith(b"\r\n\r\nuntil the end"), out)

    def test_expect_100_continue(self):
        with connect(self.port) as s:
            s.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                      b"Expect: 100-continue\r\n\r\n")
            first = s.recv(4096)
            self.assertTrue(first.startswith(b"HTTP/1.1 100"), first)
            s.sendall(b"hello")
            rest = b""
            while b"0\r\n\r\n" not in rest:
                rest += s.recv(4096)
            self.assertIn(b"HTTP/1.1 200", first + rest)
            self.assertIn(b"5\r\nhello\r\n", first + rest)

    def test_websocket_style_upgrade_becomes_a_tunnel(self):
        with connect(self.port) as s:
            s.sendall(b"GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\n"
                      b"Upgrade: websocket\r\n\r\nearly")
            got = b""
            while b"early" not in got:
                got += s.recv(4096)
            self.assertTrue(got.startswith(b"HTTP/1.1 101"), got)
            for i in range(20):
                msg = os.urandom(1000 * (i + 1))
                s.sendall(msg)
                echoed = b""
                while len(echoed) < len(msg):
                    echoed += s.recv(65536)
                self.assertEqual(echoed, msg)
            s.shutdown(socket.SHUT_WR)
            self.assertEqual(s.recv(10), b"")
        self.assertEqual(metric(self.r.metrics(), "podrouter_http_requests_total", code=101), 1)


class Failures(HttpBed):
    def test_request_timeout_is_504_and_connection_survives(self):
        port = free_port()
        r = self.start(http_listener("one", port, {"ordinal": 0}, timeouts={"request": "300ms"}))
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        status, _, body = self.get(conn, "/sleep/3000")
        self.assertEqual(status, 504)
        self.assertEqual(json.loads(body), {"error": "upstream_timeout", "pod": "mydb-0"})
        self.assertEqual(self.get(conn, "/ok")[0], 200)
        self.assertEqual(metric(r.metrics(), "podrouter_route_failures_total",
                                reason="upstream_timeout"), 1)

    def test_request_timeout_counts_from_each_request(self):
        # The timer set for a quick request is not stopped when it ends: when it fires during a
        # later request, that request must still get its full timeout.
        port = free_port()
        r = self.start(http_listener("one", port, {"ordinal": 0}, timeouts={"request": "600ms"}))
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        self.assertEqual(self.get(conn, "/quick")[0], 200)
        time.sleep(0.3)
        started = time.monotonic()
        self.assertEqual(self.get(conn, "/sleep/450")[0], 200)  # past the first deadline
        status, _, _ = self.get(conn, "/sleep/2000")
        self.assertEqual(status, 504)
        self.assertGreaterEqual(time.monotonic() - started, 0.45 + 0.6)
        self.assertEqual(metric(r.metrics(), "podrouter_route_failures_total",
                                reason="upstream_timeout"), 1)

    def test_dead_pod_is_502(self):
        port = free_port()
        r = self.start(http_listener("one", port, {"ordinal": 3}))
        self.pods[3].stop()
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        status, _, body = self.get(conn, "/x")
        self.assertEqual(status, 502)
        self.assertEqual(json.loads(body), {"error": "upstream_connect_failed", "pod": "mydb-3"})
        m = r.metrics()
        self.assertEqual(metric(m, "podrouter_upstream_connect_failures_total", pod="mydb-3"), 1)
        self.assertEqual(metric(m, "podrouter_http_requests_total", pod="mydb-3", code=502), 1)

    def test_stale_pooled_connection_is_retried_once(self):
        port_pod = free_port("127.0.1.9")
        name = self.dns.add_headless_service("stale", "http", port_pod, {"stale-0": "127.0.1.9"})
        self.pod("stale-0", "127.0.1.9", port_pod, mode="http", extra=["--stale-after-first"])
        self.dns.restart()
        port = free_port()
        r = self.router(self.base_config(
            {"stale": {"name": name, "discovery": "srv", "port_name": "http", "replicas": 1}},
            [http_listener("one", port, {"ordinal": 0}, service="stale")]))
        for i in range(4):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            self.assertEqual(self.get(conn, f"/r{i}")[0], 200)
            conn.close()
        # The first request on a worker opens a pod connection; each later one finds the pooled
        # connection stale (the pod closes it when the request arrives) and is sent once more, on
        # a fresh connection, which serves it. So every request costs exactly one new connection:
        # one sent a third time would cost two.
        m = r.metrics()
        workers = int(os.environ.get("PODROUTER_WORKERS", "1"))
        self.assertEqual(metric(m, "podrouter_http_requests_total", pod="stale-0", code=200), 4)
        self.assertEqual(metric(m, "podrouter_upstream_connections_total", pod="stale-0"), 4)
        retries = metric(m, "podrouter_upstream_retries_total", pod="stale-0")
        self.assertGreaterEqual(retries, 4 - workers)
        self.assertLessEqual(retries, 3)

    def test_malformed_requests_get_400_and_others_are_served(self):
        port = free_port()
        r = self.start(http_listener("one", port, {"ordinal": 0}))
        bad = [
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"0\r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n",
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
            b"GET / HTTP/1.1\r\nHost: x\r\nX: a\x00b\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: x\r\nX: a\r\n folded\r\n\r\n",
            b"GET / HTTP/1.7\r\nHost: x\r\n\r\n",
            b"GET / HTTP/3.0\r\nHost: x\r\n\r\n",
            b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",  # TLS hello to a plain port
        ]
        for wire in bad:
            out = raw_exchange(port, wire)
            self.assertTrue(out.startswith(b"HTTP/1.") and b" 400 " in out.split(b"\r\n")[0],
                            (wire, out))
            self.assertIn(b"Connection: close", out)
            self.assertIn(b'"error":"bad_request"', out)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        self.assertEqual(self.get(conn, "/fine")[0], 200)
        self.assertEqual(metric(r.metrics(), "podrouter_route_failures_total",
                                reason="bad_request"), len(bad))

    def test_oversized_head_is_431(self):
        port = free_port()
        r = self.start(http_listener("one", port, {"ordinal": 0},
                                     limits={"max_header_bytes": 16384}))
        out = raw_exchange(port, b"GET / HTTP/1.1\r\nHost: x\r\n" +
                           b"".join(b"X-Pad-%d: %s\r\n" % (i, b"v" * 1000) for i in range(20)) +
                           b"\r\n")
        self.assertIn(b" 431 ", out.split(b"\r\n")[0])
        self.assertIn(b"headers_too_large", out)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        self.assertEqual(self.get(conn, "/fine")[0], 200)

    def test_client_gone_mid_response_leaves_others_alone(self):
        port = free_port()
        self.start(http_listener("one", port, {"ordinal": 0}))
        for _ in range(5):
            s = connect(port)
            s.sendall(b"GET /download/20000000 HTTP/1.1\r\nHost: x\r\n\r\n")
            s.recv(1000)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\0\0\0\0\0\0\0")
            s.close()
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        self.assertEqual(self.get(conn, "/fine")[0], 200)


class HttpLifecycle(HttpBed):
    def test_drain_keeps_serving_a_kept_alive_connection_until_it_closes(self):
        port = free_port()
        r = self.start(http_listener("one", port, {"ordinal": 0}), drain_quiet="300ms")
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        self.assertEqual(self.get(conn, "/")[0], 200)
        r.signal(15)
        wait_for(lambda: r.admin("/ready")[0] == 503, what="draining")
        time.sleep(0.5)  # longer than drain_quiet: the open connection holds the drain
        self.assertEqual(self.get(conn, "/again")[0], 200)
        conn.close()
        self.assertEqual(r.proc.wait(10), 0)  # quiet once the client is gone

    def test_metrics_with_http_series_pass_promtool(self):
        port = free_port()
        r = self.start(http_listener("one", port, {"ordinal": 0}))
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        self.get(conn, "/")
        self.get(conn, "/status/404")
        text = r.admin("/metrics")[1]
        self.assertIn('podrouter_http_requests_total{code="404",listener="one",pod="mydb-0"} 1',
                      text)
        check = subprocess.run(["promtool", "check", "metrics"], input=text.encode(),
                               capture_output=True, timeout=30)
        self.assertEqual(check.returncode, 0, check.stdout + check.stderr)


if __name__ == "__main__":
    unittest.main()
