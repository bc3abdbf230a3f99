"""End-to-end: the steady-state request path allocates nothing, and an idle kept-alive connection
holds under a kilobyte of heap, counted by an LD_PRELOAD malloc counter
(tests/alloc/alloc_counter.c) inside the real binary."""
import http.client
import os
import random
import signal
import socket
import time
import unittest

from shardmap import owner
from test_http import N_PODS, HttpBed, http_listener
from testbed import free_port, wait_for

COUNTER = os.environ.get("ALLOC_COUNTER", "")


class Allocations(HttpBed):
    def count(self, r, what="allocations"):
        """podrouter's allocations so far, or with what="live_bytes" the heap bytes it holds (the
        counter writes both on SIGUSR2)."""
        path = os.path.join(self.tmp, "allocs")
        if os.path.exists(path):
            os.unlink(path)
        r.signal(signal.SIGUSR2)
        wait_for(lambda: os.path.exists(path) and open(path).read().endswith("\n"),
                 what="allocation count")
        with open(path) as f:
            allocations, live_bytes = map(int, f.read().split())
        return allocations if what == "allocations" else live_bytes

    def run_requests(self, conns, n, rng, path="/a", body=None):
        for i in range(n):
            conn = conns[i % len(conns)]
            key = f"user-{rng.randrange(10**12)}-{rng.randrange(10**12)}"
            method = "POST" if body else "GET"
            conn.request(method, f"{path}?n={i}", body=body,
                         headers={"X-Shard-Key": key, "User-Agent": "alloc-test/1.0",
                                  "Accept": "*/*"})
            resp = conn.getresponse()
            resp.read()
            self.assertEqual(resp.status, 200)
            self.assertEqual(resp.getheader("X-Pod"), f"mydb-{owner(key, N_PODS)}")

    def counted_router(self):
        """A router on a sharded listener, counted by the malloc counter; returns (router, port)."""
        self.assertTrue(os.path.exists(COUNTER), "ALLOC_COUNTER names the counter library")
        port = free_port()
        listener = http_listener("sharded", port, {"shard_key": {"header": "x-shard-key"}})
        config = self.base_config(self.service(), [listener])
        # No DNS refresh (c-ares allocates per query) while requests are counted.
        config["dns"].update({"min_refresh": "60s", "max_refresh": "60s"})
        r = self.router(config, start=False)
        r.log_level = "info"  # as deployed: debug lines are formatted (and allocate) per request
        r.start_args = {"env": dict(os.environ, LD_PRELOAD=COUNTER,
                                    ALLOC_COUNT_FILE=os.path.join(self.tmp, "allocs"))}
        r.start()
        return r, port

    def measure(self, path="/a", body=None):
        r, port = self.counted_router()
        conns = [http.client.HTTPConnection("127.0.0.1", port, timeout=10) for _ in range(8)]
        rng = random.Random(3)
        self.run_requests(conns, 1000, rng, path, body)  # warm: pools, buffers, metric handles
        time.sleep(0.2)
        before = self.count(r)
        n = 4000
        self.run_requests(conns, n, rng, path, body)
        after = self.count(r)
        for c in conns:
            c.close()
        return after - before, n

    def test_kept_alive_requests_allocate_nothing(self):
        allocations, n = self.measure()
        self.assertEqual(allocations, 0, f"{allocations} allocations in {n} requests")

    def test_requests_with_bodies_allocate_nothing(self):
        allocations, n = self.measure("/upload", body=b"x" * 3000)
        self.assertEqual(allocations, 0, f"{allocations} allocations in {n} requests")

    def test_an_idle_kept_alive_connection_holds_under_a_kilobyte(self):
        """What a connection that made a request and stays open keeps: its socket, timers and
        flags; the request's parser, writer and buffers go back to the worker's pool."""
        r, port = self.counted_router()
        warm = [http.client.HTTPConnection("127.0.0.1", port, timeout=10) for _ in range(8)]
        self.run_requests(warm, 400, random.Random(5))  # pools, buffers, metric handles
        time.sleep(0.2)
        before = self.count(r, "live_bytes")
        n = 800
        idle = []
        try:
            for i in range(n):
                s = socket.create_connection(("127.0.0.1", port), timeout=10)
                idle.append(s)
                s.sendall(b"GET /a HTTP/1.1\r\nHost: x\r\nX-Shard-Key: idle-%d\r\n\r\n" % i)
                got = b""
                while not (b"\r\n\r\n" in got and b"pod=" in got and got.endswith(b"\n")):
                    chunk = s.recv(4096)
                    self.assertTrue(chunk, f"connection {i} closed")
                    got += chunk
                self.assertTrue(got.startswith(b"HTTP/1.1 200"), got[:80])
            time.sleep(0.2)
            per_connection = (self.count(r, "live_bytes") - before) / n
        finally:
            for s in idle + warm:
                s.close()
        self.assertLessEqual(per_connection, 1024, f"{per_connection:.0f} B per idle connection")


if __name__ == "__main__":
    unittest.main()
