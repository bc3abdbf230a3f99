#!/usr/bin/env python3
"""TCP benchmark: podrouter vs HAProxy (Debian's, `mode tcp`, as configured by default and with
`option splice-auto`) vs a direct connection, against the
same backend pods, interleaved round by round. Prints medians and ratios to HAProxy.

  bulk       iperf3 through each path (Gbit/s) and the proxy's CPU seconds per GB moved
  conn/s     new connections per second (connect, 1-byte echo, close) and CPU µs per connection

Usage: bench/tcp_bench.py [--rounds N] [--seconds S] [--threads T] [--markdown FILE]
Needs the release build (scripts/build), haproxy, iperf3 and dnsmasq (scripts/setup).
Everything binds loopback; every run is bounded by --seconds.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

from benchlib import (BUILD, PODROUTER, cpu_seconds, emit, port_open, rss_kib, start,
                      stop_all, table)
from testbed import Dnsmasq, free_port, wait_for

ECHO = os.path.join(BUILD, "bench", "bench_tcp_echo")
CONN_RATE = os.path.join(BUILD, "bench", "bench_conn_rate")
POD_IP = "127.0.1.1"


def run(rounds, seconds, threads=2):
    """{path: {metric: [values per round]}} for bulk transfer and new connections."""
    for path in (PODROUTER, ECHO, CONN_RATE):
        if not os.path.exists(path):
            sys.exit(f"missing {path}: run scripts/build first")
    for tool in ("haproxy", "iperf3"):
        if not shutil.which(tool) and not os.path.exists(f"/usr/sbin/{tool}"):
            sys.exit(f"missing {tool}: run scripts/setup first")
    tmp = tempfile.mkdtemp(prefix="podrouter-bench-")
    procs = []
    dns = Dnsmasq(tmp, ttl=30)
    try:
        echo_port, iperf_port = free_port(POD_IP), free_port(POD_IP)
        dns.add_headless_service("echo", "tcp", echo_port, {"echo-0": POD_IP})
        dns.add_headless_service("iperf", "tcp", iperf_port, {"iperf-0": POD_IP})
        dns.start()
        procs.append(start([ECHO, POD_IP, str(echo_port)]))
        procs.append(start(["iperf3", "-s", "-B", POD_IP, "-p", str(iperf_port)]))

        pr_echo, pr_iperf, pr_admin = free_port(), free_port(), free_port()
        config = {
            "admin": {"bind": f"127.0.0.1:{pr_admin}"},
            "dns": {"servers": [f"127.0.0.1:{dns.port}"]},
            "services": {
                "echo": {"name": "echo.default.svc.cluster.local", "discovery": "srv",
                         "port_name": "tcp", "replicas": 1},
                "iperf": {"name": "iperf.default.svc.cluster.local", "discovery": "srv",
                          "port_name": "tcp", "replicas": 1},
            },
            "listeners": [
                {"name": "echo", "bind": f"127.0.0.1:{pr_echo}", "service": "echo",
                 "route": {"ordinal": 0}},
                {"name": "iperf", "bind": f"127.0.0.1:{pr_iperf}", "service": "iperf",
                 "route": {"ordinal": 0}},
            ],
        }
        with open(os.path.join(tmp, "podrouter.yaml"), "w") as f:
            json.dump(config, f)
        podrouter = start([PODROUTER, "run", "--config", os.path.join(tmp, "podrouter.yaml"),
                           "--log-level", "warn"], log=os.path.join(tmp, "podrouter.log"))
        procs.append(podrouter)

        haproxies = {}
        for name, tuning in (("haproxy", ("maxconn 8000", "")),
                             ("haproxy-splice", ("maxconn 4000", "  option splice-auto\n"))):
            # With splice-auto HAProxy moves bulk bytes through pipes, which need descriptors:
            # maxconn 4000 leaves it enough (its documentation's advice).
            ports = (free_port(), free_port())
            cfg = os.path.join(tmp, f"{name}.cfg")
            with open(cfg, "w") as f:
                f.write(f"""global
  {tuning[0]}
  nbthread 1
defaults
  mode tcp
{tuning[1]}  timeout connect 1s
  timeout client 300s
  timeout server 300s
listen echo
  bind 127.0.0.1:{ports[0]}
  server echo-0 {POD_IP}:{echo_port}
listen iperf
  bind 127.0.0.1:{ports[1]}
  server iperf-0 {POD_IP}:{iperf_port}
""")
            proc = start(["haproxy", "-f", cfg], log=os.path.join(tmp, f"{name}.log"))
            procs.append(proc)
            haproxies[name] = (ports, proc)
        for p in (pr_echo, pr_iperf) + tuple(q for ports, _ in haproxies.values() for q in ports):
            wait_for(lambda: port_open(p), what=f"port {p}")
        wait_for(lambda: port_open(echo_port, POD_IP) and port_open(iperf_port, POD_IP),
                 what="backends")
        time.sleep(0.5)  # podrouter's first resolution

        paths = {
            "direct": (POD_IP, echo_port, iperf_port, None),
            "podrouter": ("127.0.0.1", pr_echo, pr_iperf, podrouter.pid),
            **{name: ("127.0.0.1", ports[0], ports[1], proc.pid)
               for name, (ports, proc) in haproxies.items()},
        }
        results = {name: {"gbps": [], "cpu_per_gb": [], "conns": [], "cpu_per_conn": [],
                          "failed": 0} for name in paths}
        idle_rss = {n: rss_kib(p[3]) for n, p in paths.items() if p[3]}
        order = list(paths)
        for r in range(rounds):
            order = order[1:] + order[:1]  # rotate so no path always runs first
            for name in order:
                ip, echo, iperf, pid = paths[name]
                cpu0 = cpu_seconds(pid) if pid else 0
                out = subprocess.run(["iperf3", "-c", ip, "-p", str(iperf), "-t",
                                      str(seconds), "-J"], capture_output=True, text=True,
                                     timeout=seconds + 30)
                report = json.loads(out.stdout)
                bits = report["end"]["sum_received"]["bits_per_second"]
                moved = report["end"]["sum_received"]["bytes"]
                results[name]["gbps"].append(bits / 1e9)
                if pid:
                    results[name]["cpu_per_gb"].append((cpu_seconds(pid) - cpu0) / (moved / 1e9))
                cpu0 = cpu_seconds(pid) if pid else 0
                out = subprocess.run([CONN_RATE, ip, str(echo), str(seconds),
                                      str(threads)], capture_output=True, text=True,
                                     timeout=seconds + 30)
                rate, failed = out.stdout.split()
                results[name]["conns"].append(float(rate))
                results[name]["failed"] += int(failed)
                if pid:
                    used = cpu_seconds(pid) - cpu0
                    results[name]["cpu_per_conn"].append(used / (float(rate) * seconds) * 1e6)
            print(f"tcp round {r + 1}/{rounds} done", file=sys.stderr)
        for name, rss in idle_rss.items():
            results[name]["idle_rss"] = [rss]
        return results
    finally:
        stop_all(procs)
        dns.stop()
        shutil.rmtree(tmp, ignore_errors=True)


ROWS = [("bulk Gbit/s (iperf3)", "gbps", "{:.2f}"),
        ("CPU s per GB moved", "cpu_per_gb", "{:.3f}"),
        ("new connections/s", "conns", "{:.0f}"),
        ("CPU µs per connection", "cpu_per_conn", "{:.1f}"),
        ("idle RSS (KiB)", "idle_rss", "{:.0f}")]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--threads", type=int, default=2, help="conn/s client threads")
    ap.add_argument("--markdown", help="also write the table as Markdown to this file")
    args = ap.parse_args()
    results = run(args.rounds, args.seconds, args.threads)
    lines = [table(f"TCP benchmark: {args.rounds} interleaved rounds of {args.seconds:g}s, "
                   f"medians; {os.cpu_count()} cores shared by client, proxy and pod",
                   list(results), ROWS, results, baseline=["haproxy", "haproxy-splice"])]
    lines.append("")
    lines.append("failed connections: " + ", ".join(
        f"{n} {results[n]['failed']}" for n in results))
    lines.append("raw: " + json.dumps(results))
    emit("\n".join(lines), args.markdown)



if __name__ == "__main__":
    main()
