#!/usr/bin/env python3
"""Soak test: steady HTTP (shard keys) and TCP load through podrouter while the cluster around it
churns on a schedule — pods recreated with new IPs, pods leaving DNS and coming back, the DNS
server restarting and stalling, a pod killed mid-stream, config reloads. Then it checks:

  * no request failed whose owner pod was up and unchanged around it (a grace of a DNS refresh
    interval on each side), and no response ever came from a pod other than the key's owner;
  * every body came back intact;
  * podrouter's RSS and open file descriptors are back near their baseline (no leaks);
  * podrouter's request counters agree with what the clients saw.

Usage: tests/soak/soak.py [--duration SECONDS] [--clients N] [--seed N]   (default 300 s)
Loopback only; every loop is bounded by --duration. Exit status 0 when every check holds.
"""
import argparse
import hashlib
import http.client
import json
import os
import random
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
from shardmap import owner  # noqa: E402
from testbed import (Dnsmasq, Pod, Podrouter, free_port, free_port_range, metric,  # noqa: E402
                     rss_kib)

WEB_PODS = 4
ECHO_PODS = 2
GRACE = 3.0  # seconds around a pod change in which its requests may fail


class Timeline:
    """When each pod was down or changing; failures inside those windows are expected."""

    def __init__(self):
        self.lock = threading.Lock()
        self.windows = {}  # pod -> [[start, end or None]]

    def begin(self, pod):
        with self.lock:
            self.windows.setdefault(pod, []).append([time.monotonic(), None])

    def end(self, pod):
        with self.lock:
            self.windows[pod][-1][1] = time.monotonic()

    def disturbed(self, pod, start, end):
        with self.lock:
            for s, e in self.windows.get(pod, []):
                e = e if e is not None else float("inf")
                if s - GRACE <= end and start <= e + GRACE:
                    return True
        return False


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.counts = {}
        self.violations = []
        self.responses = 0
        self.tcp_sessions = 0

    def add(self, key, violation=None):
        with self.lock:
            self.counts[key] = self.counts.get(key, 0) + 1
            if violation:
                self.violations.append(violation)


def fds(pid):
    # Pipes are left out: each worker keeps up to 16 empty ones for splicing TCP (bounded by the
    # pipe pool, and released under a low descriptor limit: tests/e2e/test_tcp.py).
    fd_dir, count = f"/proc/{pid}/fd", 0
    for fd in os.listdir(fd_dir):
        try:
            count += not os.readlink(os.path.join(fd_dir, fd)).startswith("pipe:")
        except FileNotFoundError:
            pass  # closed meanwhile
    return count


class Soak:
    def __init__(self, args):
        self.args = args
        self.rng = random.Random(args.seed)
        self.tmp = tempfile.mkdtemp(prefix="podrouter-soak-")
        self.dns = Dnsmasq(self.tmp)
        self.timeline = Timeline()
        self.stats = Stats()
        self.stop = threading.Event()
        self.pods = {}  # name -> Pod
        self.next_ip = 20

    # --- the cluster ---------------------------------------------------------------------------
    def start_cluster(self):
        self.web_port = free_port("127.0.2.1")
        self.echo_port = free_port("127.0.3.1")
        web = {f"web-{i}": f"127.0.2.{i + 1}" for i in range(WEB_PODS)}
        echo = {f"echo-{i}": f"127.0.3.{i + 1}" for i in range(ECHO_PODS)}
        self.web_name = self.dns.add_headless_service("web", "http", self.web_port, web)
        self.echo_name = self.dns.add_headless_service("echo", "tcp", self.echo_port, echo)
        for pod, ip in web.items():
            self.pods[pod] = Pod(pod, ip, self.web_port, mode="http")
        for pod, ip in echo.items():
            self.pods[pod] = Pod(pod, ip, self.echo_port)
        self.dns.start()
        self.http_port, self.tcp_first = free_port(), free_port_range(ECHO_PODS)
        self.config = {
            "dns": {"servers": [f"127.0.0.1:{self.dns.port}"], "timeout": "300ms",
                    "min_refresh": "100ms", "max_refresh": "1s"},
            "drain_timeout": "5s",
            "timeouts": {"connect": "500ms", "request": "3s"},
            "services": {
                "web": {"name": self.web_name, "discovery": "srv", "port_name": "http",
                        "replicas": WEB_PODS},
                "echo": {"name": self.echo_name, "discovery": "srv", "port_name": "tcp",
                         "replicas": ECHO_PODS},
            },
            "listeners": [
                {"name": "sharded", "bind": f"127.0.0.1:{self.http_port}", "protocol": "http",
                 "service": "web", "route": {"shard_key": {"header": "x-shard-key"}}},
                {"name": "per-pod", "bind": f"127.0.0.1:{self.tcp_first}-"
                 f"{self.tcp_first + ECHO_PODS - 1}", "service": "echo",
                 "route": {"ordinal": "port_offset"}},
            ],
        }
        if os.environ.get("PODROUTER_WORKERS"):
            self.config["workers"] = int(os.environ["PODROUTER_WORKERS"])
        self.router = Podrouter(self.tmp, self.config)
        self.router.start()

    def new_ip(self, svc):
        self.next_ip += 1
        return f"127.0.{2 if svc == 'web' else 3}.{self.next_ip}"

    def service_of(self, pod):
        return (self.web_name, self.web_port, "http") if pod.startswith("web") else \
            (self.echo_name, self.echo_port, "echo")

    def set_dns(self, pod, ip):
        name, _, _ = self.service_of(pod)
        fqdn = f"{pod}.{name}"
        old = self.dns.hosts.get(fqdn, [None])[0]
        if ip is None:
            self.dns.hosts.pop(fqdn, None)
        else:
            self.dns.hosts[fqdn] = [ip]
        ips = [i for i in self.dns.hosts.get(name, []) if i != old]
        self.dns.hosts[name] = ips + ([ip] if ip else [])
        self.dns.reload_hosts()

    # --- chaos ---------------------------------------------------------------------------------
    def recreate_with_new_ip(self, pod):
        name, port, mode = self.service_of(pod)
        self.timeline.begin(pod)
        ip = self.new_ip("web" if pod.startswith("web") else "echo")
        old = self.pods[pod]
        self.pods[pod] = Pod(pod, ip, port, mode=mode)
        self.set_dns(pod, ip)
        time.sleep(0.2)
        old.stop()
        time.sleep(1.5)
        self.timeline.end(pod)
        return f"recreated {pod} at {ip}"

    def leave_and_return(self, pod):
        name, port, mode = self.service_of(pod)
        self.timeline.begin(pod)
        ip = self.pods[pod].ip
        self.set_dns(pod, None)
        self.pods[pod].stop()
        time.sleep(3)
        self.pods[pod] = Pod(pod, ip, port, mode=mode)
        self.set_dns(pod, ip)
        time.sleep(1.5)
        self.timeline.end(pod)
        return f"{pod} left for 3 s"

    def kill_mid_stream(self, pod):
        name, port, mode = self.service_of(pod)
        self.timeline.begin(pod)
        ip = self.pods[pod].ip
        self.pods[pod].stop()  # SIGKILL: open connections are reset mid-body
        time.sleep(0.5)
        self.pods[pod] = Pod(pod, ip, port, mode=mode)
        time.sleep(0.5)
        self.timeline.end(pod)
        return f"killed {pod} mid-stream"

    def restart_dns(self):
        self.dns.restart()
        return "restarted dnsmasq"

    def stall_dns(self):
        self.dns.pause()
        time.sleep(3)
        self.dns.resume()
        return "stalled dnsmasq 3 s"

    def reload(self):
        self.router.signal(signal.SIGHUP)
        return "SIGHUP"

    def chaos(self, deadline):
        actions = [
            lambda: self.recreate_with_new_ip(f"web-{self.rng.randrange(WEB_PODS)}"),
            lambda: self.leave_and_return(f"web-{self.rng.randrange(WEB_PODS)}"),
            self.restart_dns,
            lambda: self.kill_mid_stream(f"echo-{self.rng.randrange(ECHO_PODS)}"),
            self.stall_dns,
            self.reload,
            lambda: self.recreate_with_new_ip(f"echo-{self.rng.randrange(ECHO_PODS)}"),
            lambda: self.kill_mid_stream(f"web-{self.rng.randrange(WEB_PODS)}"),
        ]
        self.events = []
        i = 0
        while time.monotonic() < deadline - 6:
            time.sleep(min(2.0, max(0, deadline - 6 - time.monotonic())))
            if time.monotonic() >= deadline - 6:
                break
            what = actions[i % len(actions)]()
            self.events.append(f"{time.monotonic() - self.t0:6.1f}s {what}")
            print(self.events[-1], file=sys.stderr)
            i += 1

    # --- load ----------------------------------------------------------------------------------
    def http_client(self, seed, deadline):
        rng = random.Random(seed)
        conn = None
        while time.monotonic() < deadline and not self.stop.is_set():
            key = f"user-{rng.randrange(10**9)}"
            expected = f"web-{owner(key, WEB_PODS)}"
            body = rng.randbytes(rng.choice([0, 100, 5000, 70000])) if rng.random() < 0.5 else None
            start = time.monotonic()
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=10)
                if body is None:
                    conn.request("GET", "/item", headers={"X-Shard-Key": key})
                else:
                    conn.request("POST", "/echo", body=body, headers={"X-Shard-Key": key})
                r = conn.getresponse()
                data = r.read()
                status, pod = r.status, r.getheader("X-Pod")
                with self.stats.lock:
                    self.stats.responses += 1
                if r.getheader("Connection", "").lower() == "close":
                    conn.close()
                    conn = None
            except (OSError, http.client.HTTPException) as e:
                status, pod, data = type(e).__name__, None, None
                if conn:
                    conn.close()
                conn = None
            end = time.monotonic()
            ok = status == 200
            violation = None
            if ok and pod != expected:
                violation = f"key {key} owned by {expected} answered by {pod}"
            elif ok and body is not None and hashlib.sha256(data).digest() != \
                    hashlib.sha256(body).digest():
                violation = f"key {key}: echoed body differs ({len(data)} of {len(body)} bytes)"
            elif not ok and not self.timeline.disturbed(expected, start, end):
                violation = f"key {key} owned by {expected} (undisturbed) failed: {status}"
            self.stats.add(("http", status if not ok else 200), violation)
        if conn:
            conn.close()

    def tcp_client(self, seed, deadline):
        rng = random.Random(seed)
        while time.monotonic() < deadline and not self.stop.is_set():
            ordinal = rng.randrange(ECHO_PODS)
            pod = f"echo-{ordinal}"
            payload = rng.randbytes(rng.choice([10, 1000, 100000, 300000]))
            start = time.monotonic()
            outcome, violation = "ok", None
            try:
                with socket.create_connection(("127.0.0.1", self.tcp_first + ordinal),
                                              timeout=10) as s:
                    with self.stats.lock:
                        self.stats.tcp_sessions += 1
                    f = s.makefile("rb")
                    line = f.readline().decode()
                    if not line.startswith(f"pod={pod} "):
                        raise ConnectionError(f"banner {line!r}")
                    sender = threading.Thread(target=lambda: (s.sendall(payload),
                                                              s.shutdown(socket.SHUT_WR)))
                    sender.start()
                    echoed = f.read()
                    sender.join(10)
                    if hashlib.sha256(echoed).digest() != hashlib.sha256(payload).digest():
                        raise ConnectionError(f"echo of {len(echoed)}/{len(payload)} bytes")
            except (OSError, ConnectionError) as e:
                outcome = type(e).__name__
                if "banner 'pod=" in str(e):
                    violation = f"{pod} port answered by another pod: {e}"
                elif not self.timeline.disturbed(pod, start, time.monotonic()):
                    violation = f"{pod} (undisturbed) failed: {e!r}"
            self.stats.add(("tcp", outcome), violation)
            # Paced: each closed session leaves TIME_WAIT sockets behind for a minute, and an
            # unpaced loop would use up the machine's ephemeral ports for whatever runs next.
            time.sleep(0.02)

    # --- the run -------------------------------------------------------------------------------
    def run(self):
        self.start_cluster()
        self.t0 = time.monotonic()
        deadline = self.t0 + self.args.duration
        threads = [threading.Thread(target=self.http_client, args=(i, deadline))
                   for i in range(self.args.clients)]
        threads += [threading.Thread(target=self.tcp_client, args=(100 + i, deadline))
                    for i in range(max(1, self.args.clients // 2))]
        for t in threads:
            t.start()
        time.sleep(min(5, self.args.duration / 6))
        pid = self.router.proc.pid
        with open(f"/proc/{pid}/maps") as f:
            maps = f.read()
            self.sanitized = "libasan" in maps or "libtsan" in maps
        baseline = (rss_kib(pid), fds(pid))
        self.chaos(deadline)
        for t in threads:
            t.join(self.args.duration + 60)
        time.sleep(2)  # sessions finish closing
        end = (rss_kib(pid), fds(pid))
        m = self.router.metrics()
        served = sum(v for k, v in m.items() if k.startswith("podrouter_http_requests_total"))
        accepted = metric(m, "podrouter_listener_connections_total", listener="per-pod")
        return self.report(baseline, end, served, accepted)

    def report(self, baseline, end, served, accepted):
        s = self.stats
        checks = []
        checks.append(("no violations", not s.violations, f"{len(s.violations)} violations"))
        if self.sanitized:
            # ASan keeps freed memory in quarantine and TSan keeps history, so RSS says nothing
            # here; LeakSanitizer checks for leaks when podrouter exits (close() fails on any
            # report).
            checks.append(("RSS back near baseline", True,
                           f"{baseline[0]} KiB -> {end[0]} KiB (sanitizer build: not judged)"))
        else:
            checks.append(("RSS back near baseline", end[0] <= baseline[0] + 4096,
                           f"{baseline[0]} KiB -> {end[0]} KiB"))
        checks.append(("fds back near baseline", end[1] <= baseline[1] + 8,
                       f"{baseline[1]} -> {end[1]}"))
        checks.append(("HTTP counters match the clients", served == s.responses,
                       f"podrouter {served:.0f}, clients {s.responses}"))
        checks.append(("TCP counters match the clients", accepted >= s.tcp_sessions,
                       f"podrouter accepted {accepted:.0f}, clients connected {s.tcp_sessions}"))
        report = {
            "duration_s": self.args.duration,
            "outcomes": {f"{k[0]} {k[1]}": v for k, v in sorted(s.counts.items(), key=str)},
            "http_responses": s.responses,
            "tcp_sessions": s.tcp_sessions,
            "rss_kib": {"baseline": baseline[0], "end": end[0]},
            "fds": {"baseline": baseline[1], "end": end[1]},
            "chaos": self.events,
            "violations": s.violations[:20],
            "checks": {name: {"ok": ok, "detail": detail} for name, ok, detail in checks},
        }
        print(json.dumps(report, indent=1))
        passed = all(ok for _, ok, _ in checks)
        print(f"soak: {'PASS' if passed else 'FAIL'}: " +
              "; ".join(f"{n}: {d}" for n, ok, d in checks))
        return passed

    def close(self):
        self.stop.set()
        status = self.router.stop() if hasattr(self, "router") else 0
        for p in self.pods.values():
            p.stop()
        self.dns.stop()
        logs = self.router.logs() if hasattr(self, "router") else ""
        shutil.rmtree(self.tmp, ignore_errors=True)
        if "Sanitizer" in logs or "runtime error:" in logs:
            print(logs[-5000:], file=sys.stderr)
            return False
        return status == 0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--duration", type=int, default=300)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    if args.duration < 20:
        sys.exit("--duration must be at least 20 s")
    soak = Soak(args)
    try:
        passed = soak.run()
    finally:
        clean = soak.close()
    if not clean:
        print("soak: podrouter did not exit cleanly", file=sys.stderr)
    sys.exit(0 if passed and clean else 1)


if __name__ == "__main__":
    main()
