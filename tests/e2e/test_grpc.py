"""End-to-end: gRPC through podrouter to real gRPC pods (Debian's python3-grpcio, grpc_pod.py), with
real gRPC clients (grpc_client.py), curl --http2-prior-knowledge and raw HTTP/1.1: calls sharded by
metadata to their owner over one client channel, streaming calls intact, cancels and deadlines
reaching the pod, graceful pod restarts (GOAWAY) and killed pods, Trailers-Only errors, bounded
memory behind a slow reader, HTTP/1.1 clients translated to HTTP/2 pods."""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
import unittest

import grpc_client as gc
from shardmap import owner
from testbed import TestBed, free_port, metric, raw_exchange, rss_kib, wait_for

N_PODS = 3
NGHTTP = shutil.which("nghttp") or "/usr/bin/nghttp"
SERVICE = "podrouter.test.Echo"


def grpc_frame(payload):
    """One gRPC length-prefixed message (uncompressed)."""
    return b"\x00" + len(payload).to_bytes(4, "big") + payload


class GrpcBed(TestBed):
    """Three gRPC pods mydb-0..2 on 127.0.1.1-3, SRV discovery, a listener that speaks HTTP/2 to
    them and shards by the x-tenant-id metadata."""

    def setUp(self):
        super().setUp()
        self.pod_port = free_port("127.0.1.1")
        ips = {f"mydb-{i}": f"127.0.1.{i + 1}" for i in range(N_PODS)}
        self.name = self.dns.add_headless_service("mydb", "grpc", self.pod_port, ips)
        self.grpc_pods = {}
        for pod, ip in ips.items():
            self.start_pod(pod, ip)
        self.dns.start()

    def tearDown(self):
        for p in self.grpc_pods.values():
            p.kill()
        super().tearDown()

    def start_pod(self, pod, ip, grace=10.0, max_streams=0):
        p = gc.GrpcPod(pod, ip, self.pod_port, grace=grace, max_streams=max_streams)
        old = self.grpc_pods.get(pod)
        self.grpc_pods[pod] = p
        return old

    def start(self, route=None, timeouts=None, env=None, **extra):
        self.port = free_port()
        listener = {"name": "grpc", "bind": f"127.0.0.1:{self.port}", "protocol": "http",
                    "upstream_protocol": "http2", "service": "mydb",
                    "route": route or {"shard_key": {"header": "x-tenant-id"}}}
        if timeouts:
            listener["timeouts"] = timeouts
        svc = {"name": self.name, "discovery": "srv", "port_name": "grpc", "replicas": N_PODS}
        r = self.router(self.base_config({"mydb": svc}, [listener], **extra), start=False)
        if env:
            r.start_args = {"env": dict(os.environ, **env)}
        return r.start()

    @property
    def target(self):
        return f"127.0.0.1:{self.port}"

    def owner_of(self, key):
        return f"mydb-{owner(key, N_PODS)}"

    def key_owned_by(self, ordinal, prefix="k"):
        for i in range(10_000):
            if owner(f"{prefix}{i}", N_PODS) == ordinal:
                return f"{prefix}{i}"
        raise AssertionError("no key")


class GrpcRouting(GrpcBed):
    def test_200_keys_on_one_channel_each_reach_their_owner(self):
        r = self.start()
        served = json.loads(gc.run(self.target, "keys", 200, "--seed", 11))
        self.assertEqual(len(served), 200)
        for key, pod in served.items():
            self.assertEqual(pod, self.owner_of(key), key)
        m = r.metrics()
        # One client connection carried every call; one connection per pod carried them on.
        self.assertEqual(metric(m, "podrouter_listener_connections_total", listener="grpc"), 1)
        total = sum(metric(m, "podrouter_grpc_requests_total", listener="grpc", pod=f"mydb-{i}",
                           grpc_status=0) for i in range(N_PODS))
        self.assertEqual(total, 200)
        for i in range(N_PODS):
            self.assertEqual(metric(m, "podrouter_upstream_connections_total", service="mydb",
                                    pod=f"mydb-{i}"), 1)

    def test_streaming_calls_are_routed_and_intact(self):
        self.start()
        key = self.key_owned_by(2)
        count, digest, pod = gc.run(self.target, "stream", 300, 20000, "--key", key).split()
        self.assertEqual((count, pod), ("300", "mydb-2"))  # the CLI checked the digest
        answer = gc.run(self.target, "upload", 200, 9000, "--key", key).split()
        self.assertEqual((answer[0], answer[2]), ("200", "mydb-2"))  # digest checked by the CLI
        key0 = self.key_owned_by(0)
        lines = gc.run(self.target, "chat", "a", "bb", "ccc", "--key", key0).splitlines()
        self.assertEqual(lines, ["mydb-0:a", "mydb-0:bb", "mydb-0:ccc"])

    def test_metadata_and_trailers_pass_through(self):
        r = self.start()
        key = self.key_owned_by(1)
        got = json.loads(gc.run(self.target, "who", "--metadata", "--key", key))
        self.assertEqual(got["pod"], "mydb-1")
        self.assertEqual(got["initial"].get("x-pod"), "mydb-1")
        self.assertEqual(got["initial"].get("x-tenant-id"), key)
        self.assertEqual(got["trailing"].get("x-served-by"), "mydb-1")
        failed = json.loads(gc.run(self.target, "fail", "NOT_FOUND", "nothing-here", "--key", key))
        self.assertEqual((failed["code"], failed["details"]), ("NOT_FOUND", "nothing-here"))
        self.assertEqual(failed["trailing"].get("x-served-by"), "mydb-1")
        m = r.metrics()
        self.assertEqual(metric(m, "podrouter_grpc_requests_total", listener="grpc",
                                pod="mydb-1", grpc_status=5), 1)

    def test_metrics_pass_promtool(self):
        r = self.start()
        gc.run(self.target, "keys", 20, "--seed", 2)
        text = r.admin("/metrics")[1]
        for family in ("podrouter_grpc_requests_total", "podrouter_http2_streams_active",
                       "podrouter_upstream_http2_connections",
                       "podrouter_upstream_http2_goaways_total",
                       "podrouter_upstream_http2_resets_total",
                       "podrouter_http2_client_resets_total"):
            self.assertIn(family, text)
        check = subprocess.run(["promtool", "check", "metrics"], input=text.encode(),
                               capture_output=True, timeout=60)
        self.assertEqual(check.returncode, 0, check.stdout.decode() + check.stderr.decode())


class GrpcErrors(GrpcBed):
    def answer(self, path, *headers, body=b"\x00\x00\x00\x00\x00"):
        """A gRPC call by nghttp, which does not enforce grpc-timeout itself: (HTTP status,
        response headers and trailers, body)."""
        args = ["-H", "content-type: application/grpc", "-H", "te: trailers"]
        for h in headers:
            args += ["-H", h]
        data = os.path.join(self.tmp, "req.bin")
        with open(data, "wb") as f:
            f.write(body)
        out = subprocess.run([NGHTTP, "-v", "-d", data, *args,
                              f"http://127.0.0.1:{self.port}{path}"], capture_output=True,
                             timeout=30)
        self.assertEqual(out.returncode, 0, out.stdout.decode(errors="replace")[-2000:])
        fields = {}
        for line in out.stdout.decode(errors="replace").splitlines():
            m = re.match(r"\[[ .0-9]+\] recv \(stream_id=\d+\) ([^:]*|:status): (.*)$", line)
            if m:
                fields[m.group(1)] = m.group(2)
        # -v prints the body among the frames: the whole output stands for it.
        return int(fields.get(":status", 0)), fields, out.stdout

    def test_podrouters_own_errors_are_trailers_only(self):
        r = self.start()
        # No key: INVALID_ARGUMENT, with the JSON error's reason word.
        status, headers, body = self.answer(f"/{SERVICE}/Who")
        self.assertEqual((status, headers.get("grpc-status"), headers.get("grpc-message")),
                         (200, "3", "missing_key"))
        self.assertEqual(headers.get("content-type"), "application/grpc")
        # The owner's pod is gone: UNAVAILABLE.
        key = self.key_owned_by(1)
        self.grpc_pods["mydb-1"].kill()
        status, headers, _ = self.answer(f"/{SERVICE}/Who", f"x-tenant-id: {key}")
        self.assertEqual((status, headers.get("grpc-status"), headers.get("grpc-message")),
                         (200, "14", "upstream_connect_failed"))
        code = gc.run(self.target, "sleep", 10, "--key", key)
        self.assertEqual(code, "UNAVAILABLE")
        # Other pods serve on.
        self.assertEqual(gc.run(self.target, "who", "--key", self.key_owned_by(2)), "mydb-2")
        m = r.metrics()
        self.assertEqual(metric(m, "podrouter_grpc_requests_total", listener="grpc", pod="none",
                                grpc_status=3), 1)

    def test_no_pod_for_the_ordinal_is_unavailable(self):
        self.start(route={"ordinal_header": "x-ordinal"})
        status, headers, _ = self.answer(f"/{SERVICE}/Who", "x-ordinal: 7")
        self.assertEqual((headers.get("grpc-status"), headers.get("grpc-message")),
                         ("14", "no_endpoint"))
        status, headers, _ = self.answer(f"/{SERVICE}/Who", "x-ordinal: x")
        self.assertEqual((headers.get("grpc-status"), headers.get("grpc-message")),
                         ("3", "bad_ordinal"))
        status, headers, body = self.answer(f"/{SERVICE}/Who", "x-ordinal: 2")
        self.assertEqual(headers.get("grpc-status"), "0")  # the pod's trailers
        self.assertIn(b"mydb-2", body)

    def test_grpc_timeout_is_the_calls_deadline(self):
        r = self.start()
        key = self.key_owned_by(0)
        gc.run(self.target, "who", "--key", key)  # the pod connection is up
        # A frozen pod cannot enforce the deadline itself, and nghttp does not: podrouter does.
        self.grpc_pods["mydb-0"].proc.send_signal(signal.SIGSTOP)
        try:
            status, headers, _ = self.answer(f"/{SERVICE}/Sleep", f"x-tenant-id: {key}",
                                             "grpc-timeout: 300m", body=grpc_frame(b"10"))
        finally:
            self.grpc_pods["mydb-0"].proc.send_signal(signal.SIGCONT)
        self.assertEqual((status, headers.get("grpc-status"), headers.get("grpc-message")),
                         (200, "4", "upstream_timeout"))
        # A gRPC client's own deadline: the pod sees the call end (podrouter passed the cancel).
        self.assertEqual(gc.run(self.target, "sleep", 3000, "--timeout", "0.5", "--key", key),
                         "DEADLINE_EXCEEDED")
        wait_for(lambda: gc.run(self.target, "cancels", "--key", key) == "1",
                 what="the pod to see the call end")
        m = r.metrics()
        # The frozen pod's call; the second call's deadline may fire here too, or at the client.
        self.assertGreaterEqual(metric(m, "podrouter_route_failures_total", listener="grpc",
                                       reason="upstream_timeout"), 1)
        # podrouter's answer; the pod's own DEADLINE_EXCEEDED may count too.
        self.assertGreaterEqual(metric(m, "podrouter_grpc_requests_total", listener="grpc",
                                       pod="mydb-0", grpc_status=4), 1)

    def test_a_long_server_stream_outlives_the_request_timeout(self):
        self.start(timeouts={"request": "500ms"})
        key = self.key_owned_by(1)
        # 2 MB/s for 8 MB: four seconds of streaming, eight times the request timeout.
        count, _, pod = gc.run(self.target, "stream", 128, 65536, "--slow", 2_000_000,
                               "--key", key).split()
        self.assertEqual((count, pod), ("128", "mydb-1"))

    def test_a_client_cancel_reaches_the_pod(self):
        r = self.start()
        key = self.key_owned_by(2)
        self.assertEqual(gc.run(self.target, "cancel", "--after", "0.3", "--key", key),
                         "CANCELLED")
        wait_for(lambda: gc.run(self.target, "cancels", "--key", key) == "1",
                 what="the pod to count the cancelled call")
        wait_for(lambda: metric(r.metrics(), "podrouter_http2_client_resets_total",
                                listener="grpc") >= 1, what="the client reset counted")


class GrpcPodLifecycle(GrpcBed):
    def test_graceful_restart_under_load_fails_no_call(self):
        r = self.start()
        load = gc.start(self.target, "load", "--seconds", "6", "--concurrency", "8",
                        "--sleep-ms", "50")
        time.sleep(1.5)
        # The replacement listens on the same address first (SO_REUSEPORT), then the old pod
        # stops gracefully: GOAWAY, its calls in flight finish, new calls reach the new process.
        old = self.start_pod("mydb-0", "127.0.1.1")
        old.stop()
        result = json.loads(gc.finish(load, timeout=60))
        m = r.metrics()
        # grpcio's stop() cancels the calls that reach it after the stop began and before its
        # GOAWAY reached podrouter (the tools' own check sees the same without a proxy). Such a
        # call is the pod's CANCELLED, passed through and counted as the pod's reset or status 1;
        # podrouter itself fails none.
        cancelled_by_pod = (
            metric(m, "podrouter_upstream_http2_resets_total", service="mydb", pod="mydb-0")
            + metric(m, "podrouter_grpc_requests_total", listener="grpc", pod="mydb-0",
                     grpc_status=1))
        self.assertEqual(set(k for k in result if k not in ("pods", "CANCELLED")), {"OK"}, result)
        self.assertLessEqual(result.get("CANCELLED", 0), cancelled_by_pod, result)
        self.assertGreater(result["OK"], 50)
        self.assertGreater(result["pods"].get("mydb-0", 0), 0)
        self.assertGreaterEqual(metric(m, "podrouter_upstream_http2_goaways_total",
                                       service="mydb", pod="mydb-0"), 1)

    def test_a_pod_killed_mid_stream_fails_only_its_own_streams(self):
        self.start()
        doomed, safe = self.key_owned_by(1), self.key_owned_by(2)
        # 25 MiB at 4 MB/s each: far more than the windows and socket buffers on the way hold.
        slow = ["stream", 400, 65536, "--slow", 4_000_000]
        a = gc.start(self.target, *slow, "--key", doomed)
        b = gc.start(self.target, *slow, "--key", safe)
        time.sleep(1.5)
        self.grpc_pods["mydb-1"].kill()
        out_b = gc.finish(b, timeout=60)
        self.assertEqual(out_b.split()[0::2], ["400", "mydb-2"])
        a.wait(60)
        err = a.stderr.read()
        a.stdout.close()
        a.stderr.close()
        self.assertNotEqual(a.returncode, 0)
        self.assertIn("UNAVAILABLE", err)
        self.assertIn("upstream_reset", err)

    def test_a_slow_reader_of_a_100mb_stream_keeps_rss_bounded(self):
        # ASan keeps freed memory in quarantine; bounded here so RSS shows podrouter's own.
        r = self.start(env={"ASAN_OPTIONS": os.environ.get("ASAN_OPTIONS", "") +
                            ":quarantine_size_mb=8"})
        key = self.key_owned_by(0)
        gc.run(self.target, "who", "--key", key)
        base = rss_kib(r.proc.pid)
        peak = [base]
        done = threading.Event()

        def sample():
            while not done.wait(0.05):
                peak[0] = max(peak[0], rss_kib(r.proc.pid))
        sampler = threading.Thread(target=sample)
        sampler.start()
        try:
            # 100 MiB read at 40 MB/s: the pod could send far faster.
            out = gc.run(self.target, "stream", 1600, 65536, "--slow", 40_000_000, "--key", key,
                         timeout=120)
        finally:
            done.set()
            sampler.join()
        self.assertEqual(out.split()[0::2], ["1600", "mydb-0"])
        # Windows bound what podrouter holds: 256 KiB per stream, 4 MiB per connection, plus the
        # socket watermarks; 32 MiB leaves room for the allocator.
        self.assertLess(peak[0] - base, 32 * 1024, f"RSS grew from {base} to {peak[0]} KiB")


class GrpcPodConnections(GrpcBed):
    def test_a_pods_stream_limit_opens_another_connection(self):
        # mydb-1 takes 2 concurrent streams per connection; 8 concurrent calls need 4.
        self.grpc_pods["mydb-1"].kill()
        self.start_pod("mydb-1", "127.0.1.2", max_streams=2)
        r = self.start()
        key = self.key_owned_by(1)
        result = json.loads(gc.run(self.target, "load", "--seconds", "2", "--concurrency", "8",
                                   "--sleep-ms", "200", "--key", key, timeout=60))
        self.assertEqual(set(k for k in result if k != "pods"), {"OK"}, result)
        self.assertEqual(set(result["pods"]), {"mydb-1"})
        m = r.metrics()
        opened = metric(m, "podrouter_upstream_connections_total", service="mydb", pod="mydb-1")
        self.assertGreaterEqual(opened, 4)
        self.assertLessEqual(opened, 8)

    def test_a_frozen_pod_is_noticed_by_ping_on_an_idle_connection(self):
        # The PING interval is the listener's idle timeout (gRPC pods tolerate one PING per 5
        # minutes of silence by default; short here). The pod connection's own idle close
        # (30 s) comes later, and the log tells the two apart.
        r = self.start(timeouts={"idle": "3s"})
        key = self.key_owned_by(2)
        self.assertEqual(gc.run(self.target, "who", "--key", key), "mydb-2")
        self.assertEqual(metric(r.metrics(), "podrouter_upstream_http2_connections",
                                service="mydb", pod="mydb-2"), 1)
        pod = self.grpc_pods["mydb-2"].proc
        pod.send_signal(signal.SIGSTOP)  # the connection stays open, the pod answers nothing
        try:
            # PING after 3 s of silence, dead 5 s later.
            wait_for(lambda: metric(r.metrics(), "podrouter_upstream_http2_connections",
                                    service="mydb", pod="mydb-2") == 0,
                     timeout=40, interval=0.5, what="the silent connection to be closed")
        finally:
            pod.send_signal(signal.SIGCONT)
        self.assertIn("event=upstream_dead", r.logs())
        self.assertEqual(gc.run(self.target, "who", "--key", key), "mydb-2")  # a new connection


class GrpcDrain(GrpcBed):
    def test_sigterm_lets_a_long_stream_finish(self):
        r = self.start(drain_quiet="500ms", drain_timeout="20s")
        key = self.key_owned_by(0)
        # 25 MiB at 5 MB/s: still streaming through podrouter when the signal comes.
        call = gc.start(self.target, "stream", 400, 65536, "--slow", 5_000_000, "--key", key)
        time.sleep(1.0)
        r.signal(signal.SIGTERM)
        out = gc.finish(call, timeout=60)
        self.assertEqual(out.split()[0::2], ["400", "mydb-0"])
        self.assertEqual(r.proc.wait(30), 0)


class Http1ClientsToHttp2Pods(GrpcBed):
    @staticmethod
    def who_over_http1(key, extra=""):
        """A gRPC Who call written as an HTTP/1.1 request (`extra`: more header lines)."""
        body = grpc_frame(b"")
        return (f"POST /{SERVICE}/Who HTTP/1.1\r\nHost: mydb\r\nContent-Type: application/grpc\r\n"
                f"TE: trailers\r\nx-tenant-id: {key}\r\nContent-Length: {len(body)}\r\n"
                f"{extra}\r\n").encode() + body

    def test_an_http1_request_becomes_a_stream_and_trailers_a_chunked_trailer(self):
        self.start()
        wire = self.who_over_http1(self.key_owned_by(2))
        reply = raw_exchange(self.port, wire, until=b"\r\n\r\n0\r\n", timeout=10)
        self.assertTrue(reply.startswith(b"HTTP/1.1 200"), reply)
        self.assertIn(b"transfer-encoding: chunked", reply.lower())
        self.assertIn(b"mydb-2", reply)

    def test_trailers_arrive_after_the_last_chunk(self):
        self.start()
        wire = self.who_over_http1(self.key_owned_by(0), "Connection: close\r\n")
        reply = raw_exchange(self.port, wire, timeout=10)
        head, _, rest = reply.partition(b"\r\n\r\n")
        self.assertIn(b"mydb-0", rest)
        self.assertRegex(rest, rb"\r\n0\r\n(.*\r\n)*grpc-status: 0\r\n(.*\r\n)*\r\n$")


class GrpcSharedConnection(GrpcBed):
    def test_a_client_that_never_reads_does_not_stall_other_clients_of_its_pod(self):
        import h2frames as h2
        r = self.start()
        key = self.key_owned_by(0)
        self.assertEqual(gc.run(self.target, "who", "--key", key), "mydb-0")
        # A client that grants no window opens 24 server streams of 6.5 MB each on mydb-0: more
        # than the shared pod connection's window (4 MiB) waits in podrouter for it.
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
            s.sendall(h2.PREFACE + h2.settings(initial_window_size=0))
            request = grpc_frame(b"100 65536")
            for i in range(24):
                stream = 2 * i + 1
                block = h2.request_block(f"/{SERVICE}/Stream", method="POST", extra=(
                    ("content-type", "application/grpc"), ("te", "trailers"),
                    ("x-tenant-id", key)))
                s.sendall(h2.frame(h2.HEADERS, h2.END_HEADERS, stream, block) +
                          h2.frame(h2.DATA, h2.END_STREAM, stream, request))
            time.sleep(2)  # the pod fills every window it is given
            # Other clients of the same pod are served while that one holds on.
            for _ in range(3):
                self.assertEqual(gc.run(self.target, "who", "--key", key, "--timeout", "5"),
                                 "mydb-0")
        self.assertEqual(gc.run(self.target, "who", "--key", key), "mydb-0")


if __name__ == "__main__":
    unittest.main()
