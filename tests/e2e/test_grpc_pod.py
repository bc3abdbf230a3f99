#!/usr/bin/python3
"""Checks the gRPC test tools against each other, with no proxy between them: grpc_client.py's CLI
(as tests drive it, a /usr/bin/python3 subprocess) straight at grpc_pod.py processes on loopback.

The gRPC end-to-end tests (test_grpc.py) trust these tools; this proves them first, so a failure
there is podrouter's. (Any interpreter: gRPC runs in /usr/bin/python3 subprocesses.)
"""
import json
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from grpc_client import GrpcPod, finish, run, start  # noqa: E402
from grpc_pod import stream_digest  # noqa: E402
from testbed import free_port, wait_for  # noqa: E402

IP = "127.0.1.5"


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class Tools(unittest.TestCase):
    def setUp(self):
        self.port = free_port(IP)
        self.pods = []
        self.pod = self.add_pod("pod-0")

    def tearDown(self):
        for pod in self.pods:
            pod.kill()

    def add_pod(self, name, grace=10.0):
        pod = GrpcPod(name, IP, self.port, grace=grace)
        self.pods.append(pod)
        return pod

    def cli(self, *args, **kw):
        return run(self.pod.target, *args, **kw)

    def test_unary_metadata_and_status(self):
        self.assertEqual(self.cli("who", "--key", "k1"), "pod-0")
        seen = json.loads(self.cli("who", "--key", "k1", "--metadata"))
        self.assertEqual(seen["initial"]["x-pod"], "pod-0")
        self.assertEqual(seen["initial"]["x-tenant-id"], "k1")  # request metadata echoed
        self.assertEqual(seen["trailing"]["x-served-by"], "pod-0")
        seen = json.loads(run(self.pod.target, "who", "--key", "k2", "--metadata",
                              header="x-shard-key"))
        self.assertEqual(seen["initial"]["x-shard-key"], "k2")
        self.assertEqual(self.cli("echo", "hello there"), "hello there")
        keys = json.loads(self.cli("keys", "20", "--seed", "7"))
        self.assertEqual(len(keys), 20)
        self.assertEqual(set(keys.values()), {"pod-0"})
        self.assertEqual(self.cli("chat", "a", "bb").splitlines(), ["pod-0:a", "pod-0:bb"])
        failed = json.loads(self.cli("fail", "5", "no such thing"))
        self.assertEqual((failed["code"], failed["details"]), ("NOT_FOUND", "no such thing"))
        self.assertEqual(failed["trailing"]["x-served-by"], "pod-0")
        self.assertEqual(json.loads(self.cli("fail", "RESOURCE_EXHAUSTED", "x"))["code"],
                         "RESOURCE_EXHAUSTED")

    def test_streams_digests(self):
        self.assertEqual(self.cli("stream", "300", "1000"),
                         f"300 {stream_digest(300, 1000)} pod-0")
        self.assertEqual(self.cli("stream", "0", "10"), f"0 {stream_digest(0, 10)} pod-0")
        self.assertEqual(self.cli("upload", "64", "16384"),
                         f"64 {stream_digest(64, 16384)} pod-0")

    def test_slow_reader_holds_the_stream_back(self):
        """48 MiB read at 12 MB/s: the pod makes messages only as the reader takes them, so its
        memory grows by flow-control windows, not by the whole stream."""
        base = rss_kib(self.pod.proc.pid)
        client = start(self.pod.target, "stream", "48", str(1 << 20), "--slow", "12000000")
        peak = base
        deadline = time.monotonic() + 30
        while client.poll() is None and time.monotonic() < deadline:
            peak = max(peak, rss_kib(self.pod.proc.pid))
            time.sleep(0.1)
        self.assertEqual(finish(client), f"48 {stream_digest(48, 1 << 20)} pod-0")
        self.assertLess(peak - base, 24 * 1024, f"pod RSS grew {peak - base} KiB")

    def test_deadline_and_cancel_are_counted(self):
        before = int(self.cli("cancels"))
        self.assertEqual(self.cli("sleep", "50"), "OK")
        self.assertEqual(self.cli("sleep", "3000", "--timeout", "0.3"), "DEADLINE_EXCEEDED")
        self.assertEqual(self.cli("cancel"), "CANCELLED")
        wait_for(lambda: int(self.cli("cancels")) == before + 2, timeout=5,
                 what="both early ends counted")

    def test_sigterm_lets_calls_in_flight_finish(self):
        client = start(self.pod.target, "sleep", "1500")
        time.sleep(0.5)
        self.assertEqual(self.pod.stop(), 0)
        self.assertEqual(finish(client), "OK")

    def test_graceful_replacement_under_load_hands_calls_over(self):
        """A replacement listens on the same ip:port first (SO_REUSEPORT); the old pod's SIGTERM
        sends GOAWAY, its calls finish, the channel reconnects. Without a proxy a call that
        reaches the old server just after its stop began is CANCELLED by grpcio (seen once in
        CI); that "not one call fails" is podrouter's to prove (test_grpc.GrpcPodLifecycle,
        where refused streams are retried)."""
        client = start(self.pod.target, "load", "--seconds", "4", "--concurrency", "8",
                       "--sleep-ms", "20")
        time.sleep(1.0)
        self.add_pod("pod-1")
        time.sleep(0.3)
        self.assertEqual(self.pods[0].stop(), 0)
        result = json.loads(finish(client))
        pods = result.pop("pods")
        self.assertEqual(set(result) - {"CANCELLED"}, {"OK"}, result)
        self.assertLessEqual(result.get("CANCELLED", 0), result["OK"] // 100, result)
        self.assertGreater(pods.get("pod-0", 0), 0)
        self.assertGreater(pods.get("pod-1", 0), 0)

    def test_sigkill_fails_calls_in_flight(self):
        client = start(self.pod.target, "sleep", "3000", "--timeout", "5")
        time.sleep(0.5)
        self.pod.kill()
        self.assertEqual(finish(client), "UNAVAILABLE")


if __name__ == "__main__":
    unittest.main()
