"""End-to-end: the steady-state request path allocates nothing, counted by an LD_PRELOAD malloc
counter (tests/alloc/alloc_counter.c) inside the real binary."""
import http.client
import os
import random
import signal
import time
import unittest

from shardmap import owner
from test_http import N_PODS, HttpBed, http_listener
from testbed import free_port, wait_for

COUNTER = os.environ.get("ALLOC_COUNTER", "")


class Allocations(HttpBed):
    def count(self, r):
        """podrouter's allocations so far (the counter writes them on SIGUSR2)."""
        path = os.path.join(self.tmp, "allocs")
        if os.path.exists(path):
            os.unlink(path)
        r.signal(signal.SIGUSR2)
        wait_for(lambda: os.path.exists(path) and open(path).read().endswith("\n"),
                 what="allocation count")
        with open(path) as f:
            return int(f.read())

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

    def measure(self, path="/a", body=None):
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


if __name__ == "__main__":
    unittest.main()
