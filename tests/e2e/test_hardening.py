"""End-to-end: the field faults of issue 10, each as the input that failed, through the real
binary, dnsmasq and pods whose every byte is scripted by the test.

  RequestHeads    nothing of a refused request reaches a pod (501/400), chunked + tab is chunked
  ResponseFraming chunked + tab, codings podrouter cannot frame (502), 304 with Content-Length
  Retries         only idempotent requests are sent twice; retries are counted
  LocalAnswers    every local answer observes a real duration; early answers say Connection: close
  InterimAnswers  a 1xx does not stop the request timeout; a request the pod began answering is not sent again
  Ordinals        only <statefulset>-<decimal> targets get ordinals
  Drain           podrouter keeps serving the application that was signalled with it
"""
import http.client
import json
import signal
import subprocess
import sys
import time
import unittest

from h2_peer import H2Pod, h2_call
from scripted_pod import ScriptedPod, ok
from testbed import (TestBed, banner, closed_at_once, connect, free_port, metric, raw_exchange,
                     wait_for)


def serve_ok_forever(pod, conn, index):
    for head, _ in pod.requests(conn, index):
        conn.sendall(ok(head.split(b" ")[1]))


class ScriptedBed(TestBed):
    """One pod mydb-0 whose behaviour the test scripts, behind SRV discovery, and an HTTP
    listener routing to ordinal 0."""

    handler = staticmethod(serve_ok_forever)
    request_timeout = "2s"
    upstream_protocol = "http1"

    def start_pod(self, ip, port):
        return ScriptedPod(ip, port, type(self).handler)

    def setUp(self):
        super().setUp()
        self.pod_port = free_port("127.0.1.1")
        self.name = self.dns.add_headless_service("mydb", "http", self.pod_port,
                                                  {"mydb-0": "127.0.1.1"})
        self.dns.start()
        self.scripted = self.start_pod("127.0.1.1", self.pod_port)
        self.addCleanup(self.scripted.close)
        self.port = free_port()
        self.r = self.router(self.base_config(
            {"mydb": {"name": self.name, "discovery": "srv", "port_name": "http",
                      "replicas": 1}},
            [{"name": "web", "bind": f"127.0.0.1:{self.port}", "protocol": "http",
              "service": "mydb", "route": {"ordinal": 0},
              "upstream_protocol": self.upstream_protocol,
              "timeouts": {"request": self.request_timeout}}]))

    def client(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        self.addCleanup(conn.close)
        return conn

    def get(self, conn, path, method="GET", body=None, headers=None):
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        return r.status, dict(r.getheaders()), r.read()


class RequestHeads(ScriptedBed):
    def test_refused_requests_never_reach_the_pod(self):
        # Issue 10, item 1: the client got 400, the pod got the head (without its framing).
        conn = self.client()
        self.assertEqual(self.get(conn, "/warm")[2], b"/warm")  # a pooled pod connection
        for te, status, error in [(b"gzip", 501, b"unsupported_transfer_coding"),
                                  (b"identity", 501, b"unsupported_transfer_coding"),
                                  (b"chunked, gzip", 400, b"bad_request"),
                                  (b"chunked\x0b", 400, b"bad_request")]:
            with self.subTest(te=te):
                out = raw_exchange(self.port, b"POST /w HTTP/1.1\r\nHost: mydb\r\nTransfer-Encoding: "
                               + te + b"\r\n\r\n3\r\nabc\r\n0\r\n\r\n")
                self.assertTrue(out.startswith(b"HTTP/1.1 %d " % status), out)
                self.assertIn(b'"error":"' + error + b'"', out)
                self.assertIn(b"Connection: close", out)
        # The next request reaches the pod on the same pooled connection, and it and /warm are
        # all the pod ever saw: a head sent before its verdict would have arrived first (or have
        # cost the pooled connection, or opened one of its own).
        self.assertEqual(self.get(conn, "/after")[2], b"/after")
        received = self.scripted.all_received()
        self.assertEqual(received.count(b" HTTP/1.1\r\n"), 2, received)
        self.assertNotIn(b"/w ", received)
        self.assertEqual(len(self.scripted.received), 1)
        m = self.r.metrics()
        self.assertEqual(metric(m, "podrouter_route_failures_total", listener="web",
                                reason="unsupported_transfer_coding"), 2)

    def test_chunked_followed_by_a_tab_is_chunked(self):
        out = raw_exchange(self.port, b"POST /t HTTP/1.1\r\nHost: mydb\r\nTransfer-Encoding: chunked\t"
                       b"\r\n\r\n3\r\nabc\r\n0\r\n\r\n", until=b"/t")
        self.assertTrue(out.startswith(b"HTTP/1.1 200 "), out)
        received = self.scripted.all_received()
        self.assertIn(b"Transfer-Encoding: chunked\r\n", received)
        self.assertTrue(received.endswith(b"\r\n\r\n3\r\nabc\r\n0\r\n\r\n"), received)


def serve_bad_framings(pod, conn, index):
    """Answers by path: /tab chunked + tab, /gzip a gzip coding, /etag a 304 with a 1 MiB
    Content-Length, /stray a 304 followed by bytes, anything else 200 with the path."""
    for head, _ in pod.requests(conn, index):
        path = head.split(b" ")[1]
        if path == b"/tab":
            conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\t\r\n\r\n"
                         b"5\r\nhello\r\n0\r\n\r\n")
        elif path == b"/gzip":
            conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n5\r\nhello\r\n"
                         b"0\r\n\r\n")
        elif path == b"/etag":
            conn.sendall(b"HTTP/1.1 304 Not Modified\r\nETag: \"v7\"\r\n"
                         b"Content-Length: 1048576\r\n\r\n")
        elif path == b"/stray":
            conn.sendall(b"HTTP/1.1 304 Not Modified\r\nContent-Length: 30\r\n\r\n"
                         b"HTTP/1.1 200 OK\r\nX-Smuggled: 1\r\n\r\n")
        else:
            conn.sendall(ok(path))


class ResponseFraming(ScriptedBed):
    handler = staticmethod(serve_bad_framings)

    def test_chunked_followed_by_a_tab_is_read_as_chunked(self):
        # Issue 10, item 2: read "until close": raw chunk framing as body, and no end.
        conn = self.client()
        status, _, body = self.get(conn, "/tab")
        self.assertEqual((status, body), (200, b"hello"))
        self.assertEqual(self.get(conn, "/next")[2], b"/next")  # the same client connection

    def test_a_coding_podrouter_cannot_frame_is_502_and_the_connection_is_not_reused(self):
        conn = self.client()
        status, _, body = self.get(conn, "/gzip")
        self.assertEqual(status, 502)
        self.assertEqual(json.loads(body)["error"], "upstream_bad_response")
        pod_conns = len(self.scripted.received)
        self.assertEqual(self.get(conn, "/next")[2], b"/next")
        self.assertEqual(len(self.scripted.received), pod_conns + 1)  # a fresh pod connection
        self.assertEqual(metric(self.r.metrics(), "podrouter_route_failures_total",
                                listener="web", reason="upstream_bad_response"), 1)

    def test_304_with_content_length_ends_at_the_blank_line(self):
        # Issue 10, item 3: the next request on the client connection was never answered.
        conn = self.client()
        status, headers, body = self.get(conn, "/etag")
        self.assertEqual((status, body), (304, b""))
        self.assertEqual(headers.get("Content-Length"), "1048576")  # relayed unchanged
        self.assertEqual(headers.get("ETag"), '"v7"')
        self.assertEqual(self.get(conn, "/next")[2], b"/next")
        status, _, _ = self.get(conn, "/etag", method="HEAD")
        self.assertEqual(status, 304)
        self.assertEqual(self.get(conn, "/again")[2], b"/again")

    def test_bytes_after_a_bodiless_response_are_never_a_response(self):
        conn = self.client()
        self.assertEqual(self.get(conn, "/stray")[0], 304)
        for path in ("/one", "/two"):
            status, headers, body = self.get(conn, path)
            self.assertEqual((status, body), (200, path.encode()))
            self.assertNotIn("X-Smuggled", headers)


def close_second_request_of_first_connection(pod, conn, index):
    """The first connection answers one request, then reads the next one whole and closes
    without an answer (a pod restarting under a pooled connection). Others answer everything."""
    served = 0
    for head, body in pod.requests(conn, index):
        if index == 0 and served == 1:
            return
        served += 1
        conn.sendall(ok(head.split(b" ")[0] + b" " + body))


class Retries(ScriptedBed):
    handler = staticmethod(close_second_request_of_first_connection)

    def retries(self):
        return metric(self.r.metrics(), "podrouter_upstream_retries_total", service="mydb",
                      pod="mydb-0")

    def test_post_is_not_sent_twice(self):
        # Issue 10, item 4: the pod got the POST twice, the client saw one 200.
        conn = self.client()
        self.assertEqual(self.get(conn, "/warm")[0], 200)
        status, _, body = self.get(conn, "/x", method="POST", body=b"abc")
        self.assertEqual(status, 502)
        self.assertEqual(json.loads(body)["error"], "upstream_reset")
        self.assertEqual(self.scripted.all_received().count(b"POST /x"), 1)
        self.assertEqual(self.retries(), 0)

    def test_idempotent_request_is_retried_once_and_counted(self):
        conn = self.client()
        self.assertEqual(self.get(conn, "/warm")[0], 200)
        status, _, body = self.get(conn, "/y", method="PUT", body=b"abc")
        self.assertEqual((status, body), (200, b"PUT abc"))
        self.assertEqual(self.scripted.all_received().count(b"PUT /y"), 2)  # stale, then fresh
        self.assertEqual(self.retries(), 1)


def early_413(pod, conn, index):
    """Answers a request with Expect: 100-continue by 413 at once, without reading its body,
    and keeps the connection."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        data = pod.recv(conn, index)
        if not data:
            return
        buf += data
    conn.sendall(b"HTTP/1.1 413 Content Too Large\r\nContent-Length: 8\r\n\r\ntoo big\n")
    while pod.recv(conn, index):
        pass


class EarlyAnswers(ScriptedBed):
    handler = staticmethod(early_413)

    def test_an_early_answer_says_connection_close(self):
        # Issue 10, item 10: relayed without Connection: close, though podrouter then closed.
        with connect(self.port, timeout=10) as s:
            s.sendall(b"POST /upload HTTP/1.1\r\nHost: mydb\r\nContent-Length: 100000\r\n"
                      b"Expect: 100-continue\r\n\r\n")
            out = b""
            while True:
                data = s.recv(65536)
                if not data:
                    break
                out += data
        self.assertTrue(out.startswith(b"HTTP/1.1 413 "), out)
        head = out.split(b"\r\n\r\n")[0].lower()
        self.assertIn(b"\r\nconnection: close", head)
        self.assertTrue(out.endswith(b"too big\n"))


def interim_then_silence(pod, conn, index):
    """Answers each request with 103 Early Hints, then never with a final response."""
    for _ in pod.requests(conn, index):
        conn.sendall(b"HTTP/1.1 103 Early Hints\r\nLink: </app.js>; rel=preload\r\n\r\n")


class InterimAnswers(ScriptedBed):
    handler = staticmethod(interim_then_silence)

    def test_a_pod_that_sends_only_an_interim_answer_times_out(self):
        # A 1xx is not the response: the request timeout (2 s) still runs, where before it was
        # stopped by the 103 and the client waited for the idle timeout (5 min).
        reply = raw_exchange(self.port, b"GET /slow HTTP/1.1\r\nHost: mydb\r\n\r\n",
                             until=b"upstream_timeout", timeout=30)
        self.assertTrue(reply.startswith(b"HTTP/1.1 103 Early Hints\r\n"), reply)
        self.assertIn(b"\r\n\r\nHTTP/1.1 504 ", reply)


def interim_then_close(pod, conn, index):
    """Answers a request with 103 Early Hints, then closes the connection."""
    if pod.read_request(conn, index):
        conn.sendall(b"HTTP/1.1 103 Early Hints\r\nLink: </app.js>; rel=preload\r\n\r\n")


class InterimThenClose(ScriptedBed):
    handler = staticmethod(interim_then_close)

    def test_a_request_the_pod_began_answering_is_not_sent_again(self):
        # Found by the breaker: an HTTP/2 client's GET went to the pod twice after a 103 and a
        # close (the client saw two 103s). A pod that sent any byte of an answer got the request;
        # the retry rule is now one (UpstreamConn::MayRetry) for HTTP/1.1 and HTTP/2 clients.
        status, _, body, _ = h2_call(self.port, "/once")
        self.assertEqual((status, json.loads(body)["error"]), (502, "upstream_reset"))
        reply = raw_exchange(self.port, b"GET /once HTTP/1.1\r\nHost: mydb\r\n\r\n",
                             until=b"upstream_reset")
        self.assertIn(b"HTTP/1.1 502 ", reply)
        self.assertEqual(len(self.scripted.received), 2)  # one pod connection per request
        self.assertEqual(self.scripted.all_received().count(b"GET /once "), 2)


def hold_until_closed(pod, conn, index):
    """Reads a request and never answers; `pod.ended` gets the connection's index when podrouter
    closes or resets it."""
    try:
        if pod.read_request(conn, index):
            while pod.recv(conn, index):
                pass
    finally:
        pod.ended.add(index)


class ClientGoesAwayBed(ScriptedBed):
    """A client that closes while its answer is pending cancels the pod's request (found by the
    breaker: the pod's connection, and the client's, were held until the request timeout, or
    the idle timeout once the response had begun)."""
    handler = staticmethod(hold_until_closed)
    request_timeout = "60s"

    def client_request_then_close(self, path):
        with connect(self.port) as s:
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: mydb\r\n\r\n".encode())
            wait_for(lambda: self.pod_has_the_request(path), what="the request at the pod")


class ClientGoesAway(ClientGoesAwayBed):
    def start_pod(self, ip, port):
        pod = super().start_pod(ip, port)
        pod.ended = set()
        return pod

    def pod_has_the_request(self, path):
        return f"GET {path} ".encode() in self.scripted.all_received()

    def test_the_pods_connection_closes_with_the_clients(self):
        self.client_request_then_close("/slow")
        wait_for(lambda: 0 in self.scripted.ended, what="the pod's connection closed")


class ClientGoesAwayFromHttp2Pods(ClientGoesAwayBed):
    upstream_protocol = "http2"

    def start_pod(self, ip, port):
        return H2Pod("mydb-0", ip, port)

    def pod_has_the_request(self, path):
        return any([":path", path] in r["headers"] for r in self.scripted.held)

    def test_the_pods_stream_is_reset(self):
        self.client_request_then_close("/hold")
        wait_for(lambda: self.scripted.resets, what="the pod's stream reset")


class RefusedStreams(ScriptedBed):
    """An HTTP/2 pod that refuses every stream (REFUSED_STREAM): the request goes once more, then
    fails as what it is — a reset, not a failed connect (found by the second breaker)."""
    upstream_protocol = "http2"

    def start_pod(self, ip, port):
        return H2Pod("mydb-0", ip, port)

    def test_a_refused_stream_is_retried_once_then_reported_as_a_reset(self):
        status, _, body, _ = h2_call(self.port, "/refuse")
        self.assertEqual((status, json.loads(body)["error"]), (502, "upstream_reset"))
        reply = raw_exchange(self.port, b"GET /refuse HTTP/1.1\r\nHost: mydb\r\n\r\n",
                             until=b"}")
        self.assertIn(b"HTTP/1.1 502 ", reply)
        self.assertEqual(json.loads(reply.partition(b"\r\n\r\n")[2])["error"], "upstream_reset")
        self.assertEqual(self.scripted.refused, 4)  # each request twice
        self.assertEqual(metric(self.r.metrics(), "podrouter_route_failures_total",
                                listener="web", reason="upstream_reset"), 2)


class LocalAnswers(TestBed):
    """Every answer podrouter gives itself observes the request's own duration (issue 10,
    item 8: a request refused while parsing added the machine's uptime)."""

    def test_every_local_answer_has_a_real_duration(self):
        _, pod_port, _ = self.statefulset(2, mode="http")
        dead = free_port("127.0.1.9")
        self.dns.add_headless_service("gone", "http", dead, {"gone-0": "127.0.1.9"})
        self.dns.start()
        ports = {k: free_port() for k in ("key", "ordinal", "gone", "slow")}
        listener = lambda name, route, svc="mydb", **extra: dict(  # noqa: E731
            name=name, bind=f"127.0.0.1:{ports[name]}", protocol="http", service=svc,
            route=route, **extra)
        r = self.router(self.base_config(
            {"mydb": {"name": "mydb.default.svc.cluster.local", "discovery": "srv",
                      "port_name": "postgres", "replicas": 3},
             "gone": {"name": "gone.default.svc.cluster.local", "discovery": "srv",
                      "port_name": "http", "replicas": 1}},
            [listener("key", {"shard_key": {"header": "x-shard-key"}}),
             listener("ordinal", {"ordinal_header": "x-pod-ordinal"}),
             listener("gone", {"ordinal": 0}, svc="gone"),
             listener("slow", {"ordinal": 0}, timeouts={"request": "300ms"})],
            limits={"max_header_bytes": 1024}))
        cases = [
            ("key", b"GET / HTTP/1.1\r\nHost: mydb\r\nBad Header: x\r\n\r\n", 400),
            ("key", b"GET / HTTP/1.1\r\nHost: mydb\r\nX: " + b"a" * 2000 + b"\r\n\r\n", 431),
            ("key", b"POST / HTTP/1.1\r\nHost: mydb\r\nTransfer-Encoding: gzip\r\n\r\n", 501),
            ("key", b"GET / HTTP/1.1\r\nHost: mydb\r\n\r\n", 400),  # missing key
            ("ordinal", b"GET / HTTP/1.1\r\nHost: mydb\r\nX-Pod-Ordinal: x\r\n\r\n", 400),
            ("ordinal", b"GET / HTTP/1.1\r\nHost: mydb\r\nX-Pod-Ordinal: 2\r\n\r\n", 503),
            ("gone", b"GET / HTTP/1.1\r\nHost: mydb\r\n\r\n", 502),  # connect refused
            ("slow", b"GET /sleep/2000 HTTP/1.1\r\nHost: mydb\r\n\r\n", 504),
            ("key", b"\x00\x01 garbage\r\n\r\n", 400),
        ]
        for name, wire, status in cases:
            with self.subTest(listener=name, status=status):
                before = r.metrics()
                sum0 = metric(before, "podrouter_http_request_duration_seconds_sum", listener=name)
                count0 = metric(before, "podrouter_http_request_duration_seconds_count",
                                listener=name)
                started = time.monotonic()
                out = raw_exchange(ports[name], wire, until=b"}\n")
                elapsed = time.monotonic() - started
                self.assertTrue(out.startswith(b"HTTP/1.1 %d " % status), out[:200])
                after = r.metrics()
                self.assertEqual(metric(after, "podrouter_http_request_duration_seconds_count",
                                        listener=name), count0 + 1)
                observed = metric(after, "podrouter_http_request_duration_seconds_sum",
                                  listener=name) - sum0
                # Real durations: not negative, and no longer than the exchange itself took.
                self.assertGreaterEqual(observed, 0)
                self.assertLessEqual(observed, elapsed + 0.01)


class Ordinals(TestBed):
    def test_only_the_statefulsets_own_pods_get_ordinals(self):
        # Issue 10, item 5: mydb-2-0 (StatefulSet mydb-2), 10-1-0-13 (CoreDNS's dashed-IP name)
        # and mydb-03 were given ordinals 0, 13 and 3.
        port = free_port("127.0.1.1")
        pods = {"mydb-1": "127.0.1.1", "mydb-2-0": "127.0.1.2", "10-1-0-13": "127.0.1.3",
                "mydb-03": "127.0.1.4"}
        name = self.dns.add_headless_service("mydb", "postgres", port, pods)
        for pod, ip in pods.items():
            self.pod(pod, ip, port)
        self.dns.start()
        p0, p1, p13, rr = free_port(), free_port(), free_port(), free_port()
        r = self.router(self.base_config(
            {"mydb": {"name": name, "discovery": "srv", "port_name": "postgres",
                      "replicas": 14}},
            [{"name": "zero", "bind": f"127.0.0.1:{p0}", "service": "mydb", "route": {"ordinal": 0}},
             {"name": "one", "bind": f"127.0.0.1:{p1}", "service": "mydb", "route": {"ordinal": 1}},
             {"name": "thirteen", "bind": f"127.0.0.1:{p13}", "service": "mydb",
              "route": {"ordinal": 13}},
             {"name": "spread", "bind": f"127.0.0.1:{rr}", "service": "mydb",
              "route": {"balance": "round_robin"}}]))
        svc = r.endpoints()["services"]["mydb"]
        ordinals = {p["name"]: p["ordinal"] for p in svc["pods"]}
        self.assertEqual(ordinals, {"mydb-1": 1, "mydb-2-0": None, "10-1-0-13": None,
                                    "mydb-03": None})
        self.assertTrue(banner(p1).startswith("pod=mydb-1 "))
        self.assertTrue(closed_at_once(p0))   # mydb-0 is not ready: no one else is ordinal 0
        self.assertTrue(closed_at_once(p13))
        seen = {banner(rr).split()[0] for _ in range(12)}
        self.assertEqual(seen, {f"pod={p}" for p in pods})  # balance routes use them all
        time.sleep(1.5)  # several refreshes: each target is still reported once
        logs = r.logs()
        for pod in ("mydb-2-0", "10-1-0-13", "mydb-03"):
            self.assertEqual(logs.count(f"event=target_without_ordinal pod={pod} "), 1, pod)
        self.assertNotIn("target_without_ordinal pod=mydb-1 ", logs)
        self.assertEqual(metric(r.metrics(), "podrouter_dns_targets_without_ordinal_total",
                                service="mydb"), 3)


APP = r"""
import signal, socket, sys, time
port, http_port = int(sys.argv[1]), int(sys.argv[2])
stop = []
signal.signal(signal.SIGTERM, lambda *a: stop.append(time.monotonic()))
print("ready", flush=True)
ok = failed = 0
def once():
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        data = s.recv(100)
        assert data.startswith(b"pod=mydb-0"), data
    with socket.create_connection(("127.0.0.1", http_port), timeout=5) as s:
        s.sendall(b"GET /x HTTP/1.1\r\nHost: mydb\r\nConnection: close\r\n\r\n")
        data = b""
        while True:
            d = s.recv(65536)
            if not d:
                break
            data += d
        assert data.startswith(b"HTTP/1.1 200 "), data
while not stop or time.monotonic() - stop[0] < 3:  # finishing its work for 3 s after SIGTERM
    try:
        once()
        ok += 1
    except Exception as e:
        failed += 1
        print("failed:", repr(e), file=sys.stderr, flush=True)
    time.sleep(0.02)
    if not stop and ok > 2000:
        break
print(ok, failed, flush=True)
"""


class Drain(TestBed):
    def start_router(self, **extra):
        _, self.pod_port, _ = self.statefulset(1)
        self.http_pod = self.pod("mydb-0h", "127.0.1.1", free_port("127.0.1.1"), mode="http")
        self.dns.add_headless_service("web", "http", self.http_pod.port, {"web-0": "127.0.1.1"})
        self.dns.start()
        self.tcp_port, self.http_port = free_port(), free_port()
        config = self.base_config(
            {"mydb": {"name": "mydb.default.svc.cluster.local", "discovery": "srv",
                      "port_name": "postgres", "replicas": 1},
             "web": {"name": "web.default.svc.cluster.local", "discovery": "srv",
                     "port_name": "http", "replicas": 1}},
            [{"name": "tcp", "bind": f"127.0.0.1:{self.tcp_port}", "service": "mydb",
              "route": {"ordinal": 0}},
             {"name": "http", "bind": f"127.0.0.1:{self.http_port}", "protocol": "http",
              "service": "web", "route": {"ordinal": 0}}])
        config.update(extra)
        return self.router(config)

    def test_the_application_signalled_with_podrouter_keeps_its_pods(self):
        # Issue 10, item 6: podrouter stopped listening at SIGTERM, while the application (an
        # ordinary container beside it, signalled at the same moment) was still working.
        r = self.start_router(drain_quiet="1s", drain_timeout="20s")
        app = subprocess.Popen([sys.executable, "-c", APP, str(self.tcp_port), str(self.http_port)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.assertEqual(app.stdout.readline().strip(), "ready")
        time.sleep(0.3)
        app.send_signal(signal.SIGTERM)  # as the kubelet does: both containers at once
        r.signal(signal.SIGTERM)
        wait_for(lambda: r.admin("/ready")[0] == 503, what="/ready 503 while draining")
        out, err = app.communicate(timeout=30)
        app_done = time.monotonic()
        served, failed = map(int, out.split())
        self.assertEqual(failed, 0, err)
        self.assertGreater(served, 20)
        self.assertIsNone(r.proc.poll(), "podrouter left before its application")
        self.assertEqual(r.proc.wait(15), 0)
        waited = time.monotonic() - app_done
        self.assertGreater(waited, 0.5)  # it waited for drain_quiet after the last connection
        self.assertIn("event=drain_finishing reason=quiet", r.logs())

    def test_an_open_connection_holds_the_drain_until_drain_timeout(self):
        r = self.start_router(drain_quiet="200ms", drain_timeout="2s")
        conn = http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=10)
        self.addCleanup(conn.close)
        conn.request("GET", "/a")
        self.assertEqual(conn.getresponse().read(), b"pod=mydb-0h path=/a\n")
        r.signal(signal.SIGTERM)
        time.sleep(0.6)  # past drain_quiet: the kept-alive connection is still served
        conn.request("GET", "/b")
        resp = conn.getresponse()
        self.assertEqual(resp.read(), b"pod=mydb-0h path=/b\n")
        self.assertEqual(r.proc.wait(10), 0)
        self.assertIn("event=drain_timeout", r.logs())

    def test_a_second_signal_aborts(self):
        r = self.start_router(drain_quiet="10s", drain_timeout="30s")
        with connect(self.tcp_port) as s:
            self.assertTrue(s.recv(100).startswith(b"pod=mydb-0"))
            r.signal(signal.SIGTERM)
            wait_for(lambda: r.admin("/ready")[0] == 503, what="draining")
            r.signal(signal.SIGTERM)
            self.assertEqual(r.proc.wait(10), 0)
        self.assertIn("event=shutdown_now", r.logs())


if __name__ == "__main__":
    unittest.main()
