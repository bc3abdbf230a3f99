#!/usr/bin/env python3
"""HTTP benchmark: podrouter vs HAProxy vs NGINX, configured as equals, and a direct connection to
one pod, against the same three pods, interleaved round by round. Prints medians and ratios to
HAProxy.

  podrouter  route: {shard_key: {header: x-shard-key}}, pooled keep-alive to the pods
  haproxy    balance hdr(x-shard-key), hash-type consistent, http-reuse always, nbthread N
  nginx      hash $http_x_shard_key consistent, upstream keepalive, worker_processes N
  direct     wrk straight at one pod
  (N = --workers, podrouter's `workers: N`)

Loads (wrk, 1 thread, a random shard key per request): small responses on 50 kept-alive
connections; small responses with a new connection per request (Connection: close, 50
connections); 64 KiB responses on 10 kept-alive connections. Reports requests/s, p50 and p99
latency, the proxy's CPU µs per request (its own CPU time over the requests it served) and its RSS.

Usage: bench/http_bench.py [--rounds N] [--seconds S] [--workers N] [--loads small,close,64k]
                           [--markdown FILE] [--json FILE]
Needs the release build (scripts/build), haproxy, nginx, wrk and dnsmasq (scripts/setup).
"""
import argparse
import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

from benchlib import (PODROUTER, cpu_seconds, emit, fd_limit, load_rows, port_open, rss_kib, start,
                      stop_all, table)
from testbed import Dnsmasq, free_port, wait_for

PODS = {"web-0": "127.0.1.1", "web-1": "127.0.1.2", "web-2": "127.0.1.3"}
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"

# A random shard key per request; CLOSE adds Connection: close (a new connection per request).
LUA = """
math.randomseed(os.time())
request = function()
  return wrk.format(nil, nil, {["X-Shard-Key"] = "user-" .. math.random(1, 1000000)%s})
end
"""
LOADS = {  # name: (label, path, connections, lua extra headers)
    "small": ("small, 50 kept-alive conns", "/small", 50, ""),
    "close": ("small, new conn per request", "/small", 50, ', ["Connection"] = "close"'),
    "64k": ("64 KiB, 10 kept-alive conns", "/big", 10, ""),
    # The latency one hop adds: one connection, one request at a time (wrk -c1).
    "c1": ("1 conn, one request at a time", "/small", 1, ""),
}


def nginx_conf(tmp, body, workers=1, connections=8000):
    return f"""worker_processes {workers};
worker_rlimit_nofile {fd_limit(2 * connections + 100)};
daemon off;
pid {tmp}/nginx-{abs(hash(body))}.pid;
error_log stderr error;
events {{ worker_connections {connections}; }}
http {{
  access_log off;
  client_body_temp_path {tmp};
  proxy_temp_path {tmp};
  fastcgi_temp_path {tmp};
  uwsgi_temp_path {tmp};
  scgi_temp_path {tmp};
  keepalive_requests 1000000;
{body}
}}
"""


def parse_wrk(text):
    """(requests/s, p50 ms, p99 ms, total requests, non-2xx) from wrk --latency output."""
    def ms(value, unit):
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
    p50 = re.search(r"50%\s+([\d.]+)(us|ms|s)", text)
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", text)
    total = int(re.search(r"(\d+) requests in", text).group(1))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    errors = re.search(r"Socket errors: (.*)", text)
    return (rps, ms(*p50.groups()), ms(*p99.groups()), total,
            int(bad.group(1)) if bad else 0, errors.group(1) if errors else "")


def haproxy_maxconn(want):
    """HAProxy insists on two descriptors per connection (maxsock), so a descriptor limit it
    cannot raise caps its maxconn."""
    return min(want, (fd_limit(2 * want + 300) - 300) // 2)


@contextlib.contextmanager
def targets(workers=1, max_conns=8000):
    """Starts three nginx pods, dnsmasq and the three proxies, configured as equals with
    `workers` each; yields (tmp dir, {path: (base URL, proxy pid or None)}) and stops them all."""
    if not os.path.exists(PODROUTER):
        sys.exit(f"missing {PODROUTER}: run scripts/build first")
    for tool in (NGINX, HAPROXY, shutil.which("wrk")):
        if not tool or not os.path.exists(tool):
            sys.exit("missing nginx, haproxy or wrk: run scripts/setup first")
    tmp = tempfile.mkdtemp(prefix="podrouter-bench-http-")
    procs = []
    dns = Dnsmasq(tmp, ttl=30)
    try:
        pod_port = free_port("127.0.1.1")
        with open(os.path.join(tmp, "big"), "wb") as f:
            f.write(os.urandom(64 * 1024))
        servers = "\n".join(f"""  server {{
    listen {ip}:{pod_port} reuseport;
    location /small {{ add_header X-Pod {pod}; return 200 "ok {pod}\\n"; }}
    location /big {{ alias {tmp}/big; }}
  }}""" for pod, ip in PODS.items())
        with open(os.path.join(tmp, "pods.conf"), "w") as f:
            f.write(nginx_conf(tmp, servers, connections=max_conns))
        procs.append(start([NGINX, "-c", os.path.join(tmp, "pods.conf")],
                           log=os.path.join(tmp, "pods.log")))
        dns.add_headless_service("web", "http", pod_port, PODS)
        dns.start()

        pr_port, pr_admin, ha_port, ng_port = free_port(), free_port(), free_port(), free_port()
        config = {
            "workers": workers,
            "admin": {"bind": f"127.0.0.1:{pr_admin}"},
            "limits": {"max_connections": max_conns},
            "dns": {"servers": [f"127.0.0.1:{dns.port}"]},
            "services": {"web": {"name": "web.default.svc.cluster.local", "discovery": "srv",
                                 "port_name": "http", "replicas": 3}},
            "listeners": [{"name": "sharded", "bind": f"127.0.0.1:{pr_port}", "protocol": "http",
                           "service": "web",
                           "route": {"shard_key": {"header": "x-shard-key"}}}],
        }
        with open(os.path.join(tmp, "podrouter.yaml"), "w") as f:
            json.dump(config, f)
        podrouter = start([PODROUTER, "run", "--config", os.path.join(tmp, "podrouter.yaml"),
                           "--log-level", "warn"], log=os.path.join(tmp, "podrouter.log"))
        procs.append(podrouter)

        backends = "\n".join(f"  server {pod} {ip}:{pod_port}" for pod, ip in PODS.items())
        with open(os.path.join(tmp, "haproxy.cfg"), "w") as f:
            f.write(f"""global
  maxconn {haproxy_maxconn(max_conns)}
  ulimit-n {fd_limit(2 * max_conns + 300)}
  nbthread {workers}
defaults
  mode http
  option http-keep-alive
  http-reuse always
  timeout connect 1s
  timeout client 30s
  timeout server 30s
frontend f
  bind 127.0.0.1:{ha_port}
  default_backend pods
backend pods
  balance hdr(x-shard-key)
  hash-type consistent
{backends}
""")
        haproxy = start([HAPROXY, "-f", os.path.join(tmp, "haproxy.cfg")],
                        log=os.path.join(tmp, "haproxy.log"))
        procs.append(haproxy)

        upstream = "\n".join(f"    server {ip}:{pod_port};" for ip in PODS.values())
        with open(os.path.join(tmp, "proxy.conf"), "w") as f:
            f.write(nginx_conf(tmp, f"""  upstream pods {{
    hash $http_x_shard_key consistent;
{upstream}
    keepalive 64;
  }}
  server {{
    listen 127.0.0.1:{ng_port}{" reuseport" if workers > 1 else ""};
    location / {{
      proxy_pass http://pods;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }}
  }}""", workers, 2 * max_conns))
        nginx = start([NGINX, "-c", os.path.join(tmp, "proxy.conf")],
                      log=os.path.join(tmp, "nginx.log"))
        procs.append(nginx)

        for p in (pr_port, ha_port, ng_port):
            wait_for(lambda: port_open(p), what=f"port {p}")
        wait_for(lambda: port_open(pod_port, "127.0.1.1"), what="pods")
        time.sleep(0.5)

        paths = {
            "direct": (f"http://127.0.1.1:{pod_port}", None),
            "podrouter": (f"http://127.0.0.1:{pr_port}", podrouter.pid),
            "haproxy": (f"http://127.0.0.1:{ha_port}", haproxy.pid),
            "nginx": (f"http://127.0.0.1:{ng_port}", nginx.pid),
        }
        yield tmp, paths
    finally:
        stop_all(procs)
        dns.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def run(rounds, seconds, workers=1, loads=("small", "close", "64k", "c1")):
    """Runs the loads through every path; returns {path: {metric: [values per round]}} and notes."""
    with targets(workers) as (tmp, paths):
        for load in loads:
            with open(os.path.join(tmp, f"{load}.lua"), "w") as f:
                f.write(LUA % LOADS[load][3])
        results = {n: {} for n in paths}
        idle = {n: rss_kib(pid) for n, (_, pid) in paths.items() if pid}
        notes = []
        order = list(paths)
        for r in range(rounds):
            order = order[1:] + order[:1]  # rotate so no path always runs first
            for name in order:
                url, pid = paths[name]
                for load in loads:
                    _, path, conns, _ = LOADS[load]
                    cpu0 = cpu_seconds(pid) if pid else 0
                    out = subprocess.run(
                        ["wrk", "-t1", f"-c{conns}", f"-d{seconds}s", "--latency", "-s",
                         os.path.join(tmp, f"{load}.lua"), url + path],
                        capture_output=True, text=True, timeout=seconds + 60)
                    try:
                        rps, p50, p99, total, bad, errors = parse_wrk(out.stdout)
                    except AttributeError:
                        sys.exit(f"wrk against {name} {url + path} failed:\n{out.stdout}"
                                 f"{out.stderr}\n" + "".join(
                                     open(os.path.join(tmp, f)).read()[-2000:]
                                     for f in os.listdir(tmp) if f.endswith(".log")))
                    res = results[name]
                    res.setdefault(f"{load}_rps", []).append(rps)
                    res.setdefault(f"{load}_p50", []).append(p50)
                    res.setdefault(f"{load}_p99", []).append(p99)
                    if pid:
                        used = cpu_seconds(pid) - cpu0
                        res.setdefault(f"{load}_cpu", []).append(used / total * 1e6)
                        res.setdefault(f"{load}_rss", []).append(rss_kib(pid))
                    if bad or errors:
                        notes.append(f"{name} {load} round {r + 1}: non-2xx {bad} {errors}")
            print(f"http (workers {workers}) round {r + 1}/{rounds} done", file=sys.stderr)
        for name, rss in idle.items():
            results[name]["idle_rss"] = [rss]
        added_over_direct(results, loads)
        return results, notes


def added_over_direct(results, loads):
    """For each load and path, the latency it adds over the direct path, round by round (the
    rounds interleave, so each difference compares neighbours in time): `<load>_p50_added` and
    `<load>_p99_added`, in µs."""
    direct = results.get("direct", {})
    for name, res in results.items():
        for load in loads:
            for q in ("p50", "p99"):
                mine, base = res.get(f"{load}_{q}", []), direct.get(f"{load}_{q}", [])
                if mine and len(mine) == len(base):
                    res[f"{load}_{q}_added"] = [(a - b) * 1000 for a, b in zip(mine, base)]


def added_rows(loads=("c1",)):
    """Table rows of the latency added over direct, µs."""
    out = []
    for load in loads:
        label = LOADS[load][0]
        out += [(f"{label}: p50 added over direct µs", f"{load}_p50_added", "{:+.1f}"),
                (f"{label}: p99 added over direct µs", f"{load}_p99_added", "{:+.1f}")]
    return out


def rows(loads=("small", "close", "64k", "c1")):
    return load_rows({k: v[0] for k, v in LOADS.items()}, loads)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--loads", default="small,close,64k,c1")
    ap.add_argument("--markdown", help="also write the table as Markdown to this file")
    ap.add_argument("--json", help="write the raw results to this file")
    args = ap.parse_args()
    loads = args.loads.split(",")
    results, notes = run(args.rounds, args.seconds, args.workers, loads)
    text = table(f"HTTP benchmark: {args.rounds} interleaved rounds of {args.seconds:g}s, "
                 f"medians; workers {args.workers}; wrk -t1; {os.cpu_count()} cores shared by "
                 "wrk, proxy and pods", list(results), rows(loads) + added_rows(loads) + [
                     ("idle RSS KiB", "idle_rss", "{:.0f}")], results)
    text += "\n\n" + ("\n".join(notes) if notes else "every response was 2xx; no socket errors")
    emit(text, args.markdown)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"results": results, "notes": notes}, f)


if __name__ == "__main__":
    main()
