"""End-to-end: `workers: N` event loops sharing listeners through SO_REUSEPORT."""
import http.client
import os
import signal
import socket
import threading

from shardmap import owner
from test_http import N_PODS, HttpBed, http_listener
from testbed import free_port, metric, wait_for


def thread_cpu_ticks(pid):
    """{thread name: user+system clock ticks} for podrouter's own threads (a sanitizer may add
    threads of its own)."""
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{tid}/stat") as f:
            stat = f.read()
        name = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        if name == "podrouter" or name.startswith("worker-"):
            out[name] = out.get(name, 0) + int(fields[11]) + int(fields[12])
    return out


def hammer(port, clients, requests, check):
    """`clients` threads, each one kept-alive connection doing `requests` keyed GETs; returns
    the errors seen (check(key, response) returns an error string or None)."""
    errors = []

    def client(c):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        for i in range(requests):
            key = f"c{c}-r{i}"
            conn.request("GET", "/w", headers={"X-K": key})
            r = conn.getresponse()
            r.read()
            problem = check(key, r)
            if problem:
                errors.append(problem)
        conn.close()

    threads = [threading.Thread(target=client, args=(c,)) for c in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return errors


class Workers(HttpBed):
    def test_two_workers_both_serve_and_route_every_request_to_its_owner(self):
        port = free_port()
        r = self.start(http_listener("sharded", port, {"shard_key": {"header": "x-k"}}),
                       workers=2)
        self.assertIn("event=workers count=2", r.logs())
        before = thread_cpu_ticks(r.proc.pid)
        self.assertEqual(sorted(before), ["podrouter", "worker-1"])

        def check(key, resp):
            want = f"mydb-{owner(key, N_PODS)}"
            if resp.status != 200 or resp.getheader("X-Pod") != want:
                return f"{key}: {resp.status} from {resp.getheader('X-Pod')}, want {want}"
            return None

        clients, requests = 24, 150
        self.assertEqual(hammer(port, clients, requests, check), [])
        after = thread_cpu_ticks(r.proc.pid)
        # 24 connections spread by the kernel over two sockets: both loops did work.
        for name in ("podrouter", "worker-1"):
            self.assertGreater(after[name], before[name], f"{name} served nothing: {after}")
        m = r.metrics()
        served = sum(metric(m, "podrouter_http_requests_total", listener="sharded",
                            pod=f"mydb-{i}", code=200) for i in range(N_PODS))
        self.assertEqual(served, clients * requests)  # counters are shared by the workers
        self.assertEqual(metric(m, "podrouter_listener_connections_total", listener="sharded"),
                         clients)

    def test_a_few_long_lived_connections_are_shared_evenly(self):
        """A sidecar's application pools a few connections. SO_REUSEPORT's address hash put two
        of them on one worker in two rounds of three (docs/benchmarks.md); each worker now serves
        as many as the other, connection after connection."""
        port = free_port()
        r = self.start(http_listener("a", port, {"ordinal": 0}), workers=2)
        conns = []
        for n in range(1, 9):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            conn.request("GET", f"/c{n}")
            resp = conn.getresponse()
            resp.read()
            self.assertEqual(resp.status, 200)
            conns.append(conn)
            m = r.metrics()
            split = sorted(metric(m, "podrouter_worker_connections_active", worker=w)
                           for w in (0, 1))
            self.assertEqual(split, [n // 2, n - n // 2], f"after {n} connections: {split}")
        for conn in conns:
            conn.close()
        wait_for(lambda: sum(metric(r.metrics(), "podrouter_worker_connections_active", worker=w)
                             for w in (0, 1)) == 0, what="every connection closed")

    def test_reload_reaches_every_worker_and_drain_waits_for_all(self):
        port, tcp_port = free_port(), free_port()
        listeners = [http_listener("a", port, {"ordinal": 1})]
        r = self.start(*listeners, workers=2)
        listeners = [http_listener("a", port, {"ordinal": 2}),
                     {"name": "t", "bind": f"127.0.0.1:{tcp_port}", "protocol": "tcp",
                      "service": "mydb", "route": {"ordinal": 0}}]
        r.write(self.base_config(self.service(), listeners, workers=2))
        r.signal(signal.SIGHUP)
        wait_for(lambda: "event=reloaded" in r.logs(), what="reload")
        # New connections land on either worker; every one follows the new route.
        for listener_port, pod in [(port, "mydb-2")] * 40 + [(tcp_port, "mydb-0")] * 20:
            conn = http.client.HTTPConnection("127.0.0.1", listener_port, timeout=10)
            conn.request("GET", "/x")
            resp = conn.getresponse()
            resp.read()
            self.assertEqual(resp.getheader("X-Pod"), pod)
            conn.close()

        # A slow request on each worker (connections spread by the kernel) outlives SIGTERM.
        results = []

        def slow():
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            conn.request("GET", "/sleep/700")
            results.append(conn.getresponse().status)

        threads = [threading.Thread(target=slow) for _ in range(16)]
        for t in threads:
            t.start()
        wait_for(lambda: metric(r.metrics(), "podrouter_listener_connections_active",
                                listener="a") == 16, what="16 slow requests in flight")
        r.signal(signal.SIGTERM)
        for t in threads:
            t.join(10)
        self.assertEqual(results, [200] * 16)
        self.assertEqual(r.proc.wait(10), 0)
        logs = r.logs()
        self.assertIn("event=worker_draining worker=1", logs)
        self.assertIn("event=stopped", logs)

    def test_workers_cannot_change_on_reload(self):
        port = free_port()
        listeners = [http_listener("a", port, {"ordinal": 0})]
        r = self.start(*listeners, workers=2)
        r.write(self.base_config(self.service(), listeners, workers=1))
        r.signal(signal.SIGHUP)
        wait_for(lambda: "event=reload_failed" in r.logs(), what="rejected reload")
        self.assertIn("workers cannot change on reload", r.logs())
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", "/still")
        self.assertEqual(conn.getresponse().status, 200)
        conn.close()

    def test_zero_means_one_per_core(self):
        port = free_port()
        r = self.start(http_listener("a", port, {"ordinal": 0}), workers=0)
        self.assertIn(f"event=workers count={os.cpu_count()}", r.logs())
        expected = ["podrouter"] + [f"worker-{i}" for i in range(1, os.cpu_count())]
        self.assertEqual(sorted(thread_cpu_ticks(r.proc.pid)), sorted(expected))

    def test_a_taken_port_fails_the_start_with_no_thread_left(self):
        taken = socket.socket()
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        r = self.router(self.base_config(self.service(),
                                         [http_listener("a", port, {"ordinal": 0})], workers=2),
                        start=False)
        r.expect_exit = True
        r.start(wait_ready=False)
        self.assertEqual(r.proc.wait(10), 1)
        self.assertIn(f"cannot listen on 127.0.0.1:{port}", r.logs())
        taken.close()
