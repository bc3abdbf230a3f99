"""End-to-end: HTTP/2 clients (curl --http2-prior-knowledge, nghttp) on an HTTP listener, every
stream routed on its own, to HTTP/1.1 pods (translated) through the real binary, dnsmasq and pods.
gRPC pods and clients are in test_grpc.py."""
import hashlib
import json
import random
import re
import shutil
import socket
import subprocess
import os
import unittest

import grpc_client as gc
from shardmap import owner
import h2frames as h2
from testbed import TestBed, connect, free_port, metric, raw_exchange, rss_kib, wait_for

N_PODS = 3
CURL = shutil.which("curl") or "/usr/bin/curl"
NGHTTP = shutil.which("nghttp") or "/usr/bin/nghttp"
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def curl_h2(url, *args, timeout=20):
    """curl over HTTP/2 with prior knowledge: (status, headers dict, body bytes)."""
    out = subprocess.run([CURL, "-sS", "--http2-prior-knowledge", "-D", "-", "--max-time",
                          os.environ.get("CURL_MAX_TIME", str(timeout)), *args, url], capture_output=True, timeout=timeout + 5)
    if out.returncode != 0:
        raise AssertionError(f"curl failed ({out.returncode}): {out.stderr.decode()}")
    head, _, body = out.stdout.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    return status, headers, body


class Http2Bed(TestBed):
    """Three HTTP/1.1 pods mydb-0..2 behind SRV discovery; HTTP/2 clients."""

    def setUp(self):
        super().setUp()
        self.name, self.pod_port, self.pod_ips = self.statefulset(N_PODS, mode="http")
        self.dns.start()

    def start(self, route, **extra):
        self.port = free_port()
        listener = {"name": "h2", "bind": f"127.0.0.1:{self.port}", "protocol": "http",
                    "service": "mydb", "route": route}
        listener.update(extra)
        svc = {"name": self.name, "discovery": "srv", "port_name": "postgres",
               "replicas": N_PODS}
        return self.router(self.base_config({"mydb": svc}, [listener]))

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"


class Http2ToHttp1Pods(Http2Bed):
    def test_each_stream_of_one_connection_reaches_its_owner(self):
        # nghttp sends every URI on one connection, as concurrent streams; its -H would apply to
        # all, so the key travels in the query.
        r = self.start({"shard_key": {"query": "k"}})
        rng = random.Random(12)
        keys = [f"user-{rng.randrange(10**9)}" for _ in range(60)]
        uris = [self.url(f"/item?k={k}") for k in keys]
        out = subprocess.run([NGHTTP, "-n", "-v", "-m", "1", *uris], capture_output=True,
                             timeout=60)
        self.assertEqual(out.returncode, 0, out.stderr.decode())
        path_of, pod_of, stream = {}, {}, None
        for line in out.stdout.decode().splitlines():
            if m := re.search(r"send HEADERS frame <.*stream_id=(\d+)>", line):
                stream = int(m.group(1))
            elif (m := re.match(r"\s+:path: /item\?k=(\S+)", line)) and stream is not None:
                path_of[stream] = m.group(1)
            elif m := re.search(r"recv \(stream_id=(\d+)\) x-pod: (\S+)", line):
                pod_of[int(m.group(1))] = m.group(2)
        self.assertEqual(sorted(path_of.values()), sorted(keys))
        for stream, key in path_of.items():
            self.assertEqual(pod_of.get(stream), f"mydb-{owner(key, N_PODS)}", key)
        m = r.metrics()
        self.assertEqual(metric(m, "podrouter_listener_connections_total", listener="h2"), 1)
        self.assertEqual(sum(metric(m, "podrouter_http_requests_total", listener="h2",
                                    pod=f"mydb-{i}", code=200) for i in range(N_PODS)), len(keys))

    def test_curl_prior_knowledge_gets_each_route_kind(self):
        r = self.start({"ordinal_header": "x-pod-ordinal"})
        for ordinal in range(N_PODS):
            status, headers, body = curl_h2(self.url("/hello"), "-H", f"x-pod-ordinal: {ordinal}")
            self.assertEqual(status, 200, body)
            self.assertEqual(headers["x-pod"], f"mydb-{ordinal}")
        status, headers, body = curl_h2(self.url("/hello"), "-H", "x-pod-ordinal: seven")
        self.assertEqual(status, 400)
        self.assertEqual(json.loads(body)["error"], "bad_ordinal")
        status, headers, body = curl_h2(self.url("/hello"), "-H", "x-pod-ordinal: 7")
        self.assertEqual(status, 503)
        self.assertEqual(json.loads(body)["error"], "no_endpoint")
        status, headers, body = curl_h2(self.url("/hello"))
        self.assertEqual(status, 400)
        m = r.metrics()
        self.assertEqual(metric(m, "podrouter_http_requests_total", listener="h2", pod="mydb-1",
                                code=200), 1)

    def test_bodies_both_ways_and_a_large_download(self):
        self.start({"ordinal": 1})
        payload = bytes(random.Random(3).randrange(256) for _ in range(300_000))
        path = f"{self.tmp}/payload"
        with open(path, "wb") as f:
            f.write(payload)
        status, headers, body = curl_h2(self.url("/echo"), "--data-binary", f"@{path}")
        self.assertEqual(status, 200)
        self.assertEqual(hashlib.sha256(body).hexdigest(), hashlib.sha256(payload).hexdigest())
        status, headers, body = curl_h2(self.url("/download/5000000"))
        self.assertEqual(status, 200)
        self.assertEqual(len(body), 5_000_000)
        status, headers, body = curl_h2(self.url("/status/204"))
        self.assertEqual((status, body), (204, b""))
        status, headers, body = curl_h2(self.url("/hello"), "-I")
        self.assertEqual(status, 200)

    def test_http1_and_http2_share_the_port(self):
        self.start({"ordinal": 2})
        reply = raw_exchange(self.port, b"GET /x HTTP/1.1\r\nHost: a\r\n\r\n", until=b"\n\n")
        self.assertIn(b"pod=mydb-2", reply)
        status, headers, _ = curl_h2(self.url("/x"))
        self.assertEqual((status, headers["x-pod"]), (200, "mydb-2"))
        # A preface that arrives a byte at a time is still HTTP/2.
        with connect(self.port) as s:
            for b in PREFACE:
                s.sendall(bytes([b]))
            s.sendall(b"\x00\x00\x00\x04\x00\x00\x00\x00\x00")  # an empty SETTINGS
            frame = s.recv(9)
            self.assertEqual(frame[3], 4, frame)  # the server's SETTINGS comes back

    def test_garbage_after_the_preface_is_a_goaway_and_others_keep_working(self):
        r = self.start({"ordinal": 0})
        reply = raw_exchange(self.port, PREFACE + b"\xff" * 64, timeout=3)
        frames = []
        while len(reply) >= 9:
            length = int.from_bytes(reply[:3], "big")
            frames.append(reply[3])
            reply = reply[9 + length:]
        self.assertIn(7, frames, "no GOAWAY")  # type 7: GOAWAY
        status, headers, _ = curl_h2(self.url("/x"))
        self.assertEqual(status, 200)
        self.assertEqual(r.admin("/healthz")[0], 200)

    def test_no_pod_is_503_and_a_vanished_pod_502(self):
        r = self.start({"ordinal_header": "x-pod-ordinal"})
        self.pods[1].stop()
        status, _, body = curl_h2(self.url("/x"), "-H", "x-pod-ordinal: 1")
        self.assertEqual(status, 502, body)
        self.assertEqual(json.loads(body)["error"], "upstream_connect_failed")
        status, _, _ = curl_h2(self.url("/x"), "-H", "x-pod-ordinal: 0")
        self.assertEqual(status, 200)

    def test_grpc_to_http1_pods_is_refused_clearly(self):
        # A real gRPC client: curl 7.88 fails its own upload when a complete answer (with
        # RST_STREAM NO_ERROR, RFC 9113 §8.1) arrives before it has sent the request body.
        self.start({"ordinal": 0})
        self.assertEqual(gc.run(f"127.0.0.1:{self.port}", "who", check=False),
                         "UNIMPLEMENTED grpc_needs_http2_pods")


if __name__ == "__main__":
    unittest.main()


class Http2Abuse(Http2Bed):
    """What no well-behaved client sends, as raw frames (h2frames.py)."""

    def open(self):
        s = connect(self.port, timeout=5)
        s.sendall(h2.PREFACE + h2.settings())
        return s

    def test_an_hpack_bomb_is_431_and_costs_no_memory(self):
        r = self.start({"ordinal": 0})
        # One 4000-byte header enters the HPACK table, then 20,000 one-byte references to it:
        # 80 MB of headers from 20 KB on the wire.
        block = h2.request_block("/bomb") + h2.literal("x-big", "b" * 4000, index=True)
        refs = h2.indexed(62) * 20000
        with self.open() as s:
            s.sendall(h2.frame(h2.HEADERS, 0, 1, block))
            for i in range(0, len(refs), 8000):
                last = i + 8000 >= len(refs)
                s.sendall(h2.frame(h2.CONTINUATION, h2.END_HEADERS if last else 0, 1,
                                   refs[i:i + 8000]))
            frames, _ = h2.read_frames(s, until_type=h2.HEADERS)
        self.assertIn(h2.HEADERS, [f[0] for f in frames])
        m = r.metrics()
        self.assertEqual(metric(m, "podrouter_route_failures_total", listener="h2",
                                reason="headers_too_large"), 1)
        self.assertEqual(metric(m, "podrouter_http_requests_total", listener="h2", pod="mydb-0",
                                code=431) + metric(m, "podrouter_http_requests_total",
                                                   listener="h2", pod="none", code=431), 1)
        self.assertLess(rss_kib(r.proc.pid), 200 * 1024)
        status, _, _ = curl_h2(self.url("/x"))  # others are served
        self.assertEqual(status, 200)

    def test_a_continuation_flood_is_a_goaway_and_a_close(self):
        r = self.start({"ordinal": 0})
        with self.open() as s:
            s.sendall(h2.frame(h2.HEADERS, 0, 1, h2.request_block("/flood")))
            for _ in range(20):
                s.sendall(h2.frame(h2.CONTINUATION, 0, 1, h2.literal("x-a", "1")))
            frames, closed = h2.read_frames(s)
        self.assertIn(h2.GOAWAY, [f[0] for f in frames])
        self.assertTrue(closed, "the connection stayed open")
        self.assertEqual(r.logs().count("event=http2_protocol_error"), 1)
        status, _, _ = curl_h2(self.url("/x"))
        self.assertEqual(status, 200)


class Http2Cookies(Http2Bed):
    def test_split_cookie_fields_reach_an_http1_pod_as_one_header(self):
        self.start({"ordinal": 1})
        # nghttp sends each cookie crumb as its own field (RFC 9113 §8.2.3); many other headers
        # between them make podrouter's header slots grow while it joins them.
        args = []
        for i in range(3):
            args += ["-H", f"cookie: c{i}=v{i}"]
            args += [a for j in range(12) for a in ("-H", f"x-fill-{i}-{j}: {'f' * 40}")]
        out = subprocess.run([NGHTTP, "-v", *args, self.url("/anything")], capture_output=True,
                             timeout=30)
        self.assertEqual(out.returncode, 0, out.stderr.decode())
        seen = re.findall(r"recv \(stream_id=\d+\) x-seen-cookie: (.*)$",
                          out.stdout.decode(), re.M)
        self.assertEqual(seen, ["c0=v0; c1=v1; c2=v2"])
