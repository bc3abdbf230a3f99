#!/usr/bin/env python3
"""HTTP/2 and gRPC benchmark: podrouter vs HAProxy vs NGINX, configured as equals as far as each
allows, and a direct connection to one pod, against the same pods, interleaved round by round, with
h2load (one thread) as the client. Prints medians and ratios to HAProxy.

  podrouter  protocol: http, upstream_protocol: http2, route: {shard_key: {header: x-shard-key}}
  haproxy    bind ... proto h2, server ... proto h2, balance hdr(x-shard-key), hash-type
             consistent, http-reuse always, nbthread N
  nginx      listen ... http2, hash $http_x_shard_key consistent, upstream keepalive,
             worker_processes N. The pods speak only HTTP/2 and NGINX's proxy_pass speaks only
             HTTP/1.1 upstream, so NGINX reaches them with grpc_pass (HTTP/2 upstream, also for
             plain GETs) — which carries ONE stream per upstream connection (no multiplexing): at
             -m 100 it holds about a thousand upstream connections.
  direct     h2load straight at one pod
  (N = --workers, podrouter's `workers: N`)

Pods: three nghttpd (--no-tls, prior knowledge) serving a 9-byte static file; three more nghttpd
answering POST /podrouter.test.Echo/Echo with a fixed gRPC message (a static file: the request's
own bytes) and a `grpc-status: 0` trailer — gRPC-shaped and cheap (nghttpd's --echo-upload goes
through a temporary file per request and manages only ~10,000 requests/s); three
tests/e2e/grpc_pod.py (Python grpcio, /usr/bin/python3). Pods are on 127.0.1.1-3.

Loads (h2load -t1, every request carries the same `x-shard-key`: h2load cannot vary a header, so
each proxy sends every request to one pod):
  m1        GET /small, 10 connections x 1 stream
  m100      GET /small, 10 connections x 100 streams
  grpc      gRPC unary POST /podrouter.test.Echo/Echo (content-type: application/grpc,
            te: trailers, one 5-byte-prefixed 32-byte message), 10 x 10, to the Python pods.
            The Python pods are slow (a few thousand calls/s on these cores): this load
            measures them as much as the proxy
  grpch2    the same gRPC request, 10 x 100, to the nghttpd gRPC-shaped pods: the proxy's gRPC
            cost without the Python pod in the way (h2load counts HTTP status only; the check
            below counts bytes)

Reports requests/s, p50 and p99 latency (from h2load --log-file's per-request times: h2load
itself prints only min/max/mean/sd), the proxy's CPU µs per request (its CPU time over the
requests h2load finished) and its RSS. A response body shorter than expected (for gRPC: a
Trailers-Only error answered with HTTP 200) is reported as a problem, as are failed requests.

  --strace   instead: syscalls per request of the proxy process (`strace -f -c -p PID` during a
             run) for podrouter (and HAProxy, for reference) at -c 10 -m 100 over HTTP/2, and on
             the HTTP/1.1 path of bench/http_bench.py (wrk, 50 kept-alive connections, its
             config). strace slows the proxy many times over: only the counts mean anything.

A contender that does not answer a probe (e.g. a podrouter without HTTP/2) is left out with a note.

Usage: bench/h2_bench.py [--rounds N] [--seconds S] [--quick] [--workers N]
                         [--loads m1,m100,grpc,grpch2] [--paths podrouter,haproxy,nginx,direct]
                         [--podrouter BINARY] [--markdown FILE] [--json FILE]
       bench/h2_bench.py --strace [--seconds S] [--paths podrouter,haproxy]
Needs nghttpd and h2load (nghttp2-server, nghttp2-client), haproxy, nginx, dnsmasq, python3-grpcio,
and for --strace strace and wrk (scripts/setup); the podrouter build for podrouter.
"""
import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import benchlib
from benchlib import cpu_seconds, emit, port_open, rss_kib, start, stop_all, table
from testbed import Dnsmasq, free_port, wait_for
import http_bench
from http_bench import HAPROXY, NGINX, haproxy_maxconn, nginx_conf
import grpc_client

PODS = {"0": "127.0.1.1", "1": "127.0.1.2", "2": "127.0.1.3"}  # ordinal: ip
SERVICES = ("web", "h2grpc", "grpc")  # static-file nghttpd, fixed-gRPC nghttpd, Python gRPC
NGHTTPD = shutil.which("nghttpd") or "/usr/sbin/nghttpd"
H2LOAD = shutil.which("h2load") or "/usr/bin/h2load"
STRACE = shutil.which("strace") or "/usr/bin/strace"
SHARD_KEY = "user-42"
SMALL = "ok web-0\n"  # each web pod serves "ok web-N\n": 9 bytes
GRPC_PATH = "/podrouter.test.Echo/Echo"
GRPC_MESSAGE = b"0123456789abcdef" * 2
GRPC_FRAME = b"\x00" + len(GRPC_MESSAGE).to_bytes(4, "big") + GRPC_MESSAGE
GRPC_HEADERS = ["-H", "content-type: application/grpc", "-H", "te: trailers"]
LOADS = {  # name: (label, service, path, h2load options, request body, response body bytes)
    "m1": ("h2 GET, 10 conns x 1 stream", "web", "/small", ["-c10", "-m1"], None, len(SMALL)),
    "m100": ("h2 GET, 10 conns x 100 streams", "web", "/small", ["-c10", "-m100"], None,
             len(SMALL)),
    "grpc": ("gRPC unary, Python pods, 10 x 10", "grpc", GRPC_PATH, ["-c10", "-m10"] +
             GRPC_HEADERS, GRPC_FRAME, len(GRPC_FRAME)),
    "grpch2": ("gRPC unary, nghttpd pods (fixed reply), 10 x 100", "h2grpc", GRPC_PATH,
               ["-c10", "-m100"] + GRPC_HEADERS, GRPC_FRAME, len(GRPC_FRAME)),
}
ALL_PATHS = ("podrouter", "haproxy", "nginx", "direct")


def require(*tools):
    missing = [t for t in tools if not t or not os.path.exists(t)]
    if missing:
        sys.exit(f"missing {', '.join(missing)}: run scripts/setup (packages: scripts/packages "
                 "bench) first")


def parse_h2load(text):
    """{rps, done, succeeded, failed, errored, timeout, data} from h2load's summary."""
    m = re.search(r"finished in [\d.]+\w+, ([\d.]+) req/s", text)
    r = re.search(r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, "
                  r"(\d+) failed, (\d+) errored, (\d+) timeout", text)
    d = re.search(r"\((\d+)\) data", text)
    if not (m and r and d):
        raise ValueError("no h2load summary")
    return {"rps": float(m.group(1)), "done": int(r.group(3)), "succeeded": int(r.group(4)),
            "failed": int(r.group(5)), "errored": int(r.group(6)), "timeout": int(r.group(7)),
            "data": int(d.group(1))}


def percentiles(log_path, points=(50, 99)):
    """Latency percentiles in ms from h2load --log-file (start µs, status, duration µs)."""
    times = []
    with open(log_path) as f:
        for line in f:
            parts = line.split("\t")
            if len(parts) >= 3:
                times.append(int(parts[2]))
    if not times:
        return [None for _ in points]
    times.sort()
    return [times[min(len(times) - 1, int(len(times) * p / 100))] / 1000.0 for p in points]


def h2load(url, load, seconds, tmp, extra=()):
    """Runs one h2load for `seconds`; (summary dict, p50 ms, p99 ms, raw output)."""
    _, _, _, options, body, _ = LOADS[load]
    log = os.path.join(tmp, "h2load.log")
    if os.path.exists(log):
        os.unlink(log)
    args = [H2LOAD, "-t1", f"-D{seconds}", f"--log-file={log}", "-H",
            f"x-shard-key: {SHARD_KEY}"] + options + list(extra)
    if body is not None:
        data = os.path.join(tmp, f"{load}.body")
        with open(data, "wb") as f:
            f.write(body)
        args += ["-d", data]
    out = subprocess.run(args + [url], capture_output=True, text=True, timeout=seconds + 60)
    summary = parse_h2load(out.stdout)
    p50, p99 = percentiles(log)
    return summary, p50, p99, out.stdout + out.stderr


def probe(url, load, tmp):
    """True when a handful of requests of `load` succeed with whole bodies."""
    _, _, _, options, body, size = LOADS[load]
    args = [H2LOAD, "-n8", "-c1", "-m1", "-H", f"x-shard-key: {SHARD_KEY}"] + [
        o for o in options if not o.startswith(("-c", "-m"))]
    if body is not None:
        data = os.path.join(tmp, f"{load}.body")
        with open(data, "wb") as f:
            f.write(body)
        args += ["-d", data]
    try:
        out = subprocess.run(args + [url], capture_output=True, text=True, timeout=20)
        s = parse_h2load(out.stdout)
    except (ValueError, subprocess.TimeoutExpired):
        return False
    return s["succeeded"] == 8 and s["data"] >= 8 * size


def grpc_ok(target):
    """A real gRPC client's Echo through `target` comes back OK (catches a Trailers-Only error,
    which h2load counts as a success)."""
    try:
        return grpc_client.run(target, "--timeout", "5", "echo", "probe", "--key", SHARD_KEY,
                               header="x-shard-key", timeout=30) == "probe"
    except (AssertionError, subprocess.TimeoutExpired):
        return False


def tail(path, n=1500):
    try:
        with open(path, errors="replace") as f:
            return f.read()[-n:]
    except OSError:
        return ""


@contextlib.contextmanager
def targets(workers=1, want=ALL_PATHS, podrouter_bin=None, services=SERVICES, max_conns=8000):
    """Starts the pods, dnsmasq and the proxies in `want`; yields (tmp dir, {path: ({service: base
    URL}, pid or None)}, notes) with only the paths that answered their probes; stops them all."""
    podrouter_bin = podrouter_bin or benchlib.PODROUTER
    require(NGHTTPD, H2LOAD, grpc_client.PYTHON, *(
        [HAPROXY] if "haproxy" in want else []), *([NGINX] if "nginx" in want else []))
    tmp = tempfile.mkdtemp(prefix="podrouter-bench-h2-")
    procs, grpc_pods, notes = [], [], []
    dns = Dnsmasq(tmp, ttl=30)
    try:
        ports = {svc: free_port(PODS["0"]) for svc in services}
        fixed = os.path.join(tmp, "h2grpc")  # POST /podrouter.test.Echo/Echo: GRPC_FRAME
        os.makedirs(os.path.join(fixed, GRPC_PATH.split("/")[1]))
        with open(os.path.join(fixed, GRPC_PATH.lstrip("/")), "wb") as f:
            f.write(GRPC_FRAME)
        for ordinal, ip in PODS.items():
            if "web" in services:
                root = os.path.join(tmp, f"web-{ordinal}")
                os.mkdir(root)
                with open(os.path.join(root, "small"), "w") as f:
                    f.write(f"ok web-{ordinal}\n")
                procs.append(start([NGHTTPD, "--no-tls", "-a", ip, "-d", root,
                                    str(ports["web"])], log=os.path.join(tmp, "nghttpd.log")))
            if "h2grpc" in services:
                procs.append(start([NGHTTPD, "--no-tls", "-a", ip, "-d", fixed, "--trailer",
                                    "grpc-status: 0", str(ports["h2grpc"])],
                                   log=os.path.join(tmp, "nghttpd.log")))
            if "grpc" in services:
                grpc_pods.append(grpc_client.GrpcPod(f"grpc-{ordinal}", ip, ports["grpc"],
                                                     grace=1))
        for svc in services:
            dns.add_headless_service(svc, svc, ports[svc],
                                     {f"{svc}-{o}": ip for o, ip in PODS.items()})
        dns.start()
        for svc in services:
            for ip in PODS.values():
                wait_for(lambda: port_open(ports[svc], ip), what=f"{svc} pod on {ip}")

        paths = {"direct": ({svc: f"http://{PODS['0']}:{ports[svc]}" for svc in services},
                            None)}
        if "podrouter" in want:
            if not os.path.exists(podrouter_bin):
                notes.append(f"podrouter: missing {podrouter_bin} (scripts/build)")
            else:
                listen = {svc: free_port() for svc in services}
                config = {
                    "workers": workers,
                    "admin": {"bind": f"127.0.0.1:{free_port()}"},
                    "limits": {"max_connections": max_conns},
                    "dns": {"servers": [f"127.0.0.1:{dns.port}"]},
                    "services": {svc: {"name": f"{svc}.default.svc.cluster.local",
                                       "discovery": "srv", "port_name": svc, "replicas": 3}
                                 for svc in services},
                    "listeners": [{"name": svc, "bind": f"127.0.0.1:{listen[svc]}",
                                   "protocol": "http", "upstream_protocol": "http2",
                                   "service": svc,
                                   "route": {"shard_key": {"header": "x-shard-key"}}}
                                  for svc in services],
                }
                with open(os.path.join(tmp, "podrouter.yaml"), "w") as f:
                    json.dump(config, f)
                try:
                    podrouter = start([podrouter_bin, "run", "--config",
                                       os.path.join(tmp, "podrouter.yaml"), "--log-level",
                                       "warn"], log=os.path.join(tmp, "podrouter.log"))
                    procs.append(podrouter)
                    paths["podrouter"] = ({svc: f"http://127.0.0.1:{listen[svc]}"
                                           for svc in services}, podrouter)
                except OSError as e:  # e.g. the binary is being linked right now
                    notes.append(f"podrouter: cannot start {podrouter_bin}: {e}")

        if "haproxy" in want:
            listen = {svc: free_port() for svc in services}
            cfg = [f"""global
  maxconn {haproxy_maxconn(max_conns)}
  ulimit-n {benchlib.fd_limit(2 * max_conns + 300)}
  nbthread {workers}
defaults
  mode http
  option http-keep-alive
  http-reuse always
  timeout connect 1s
  timeout client 30s
  timeout server 30s
"""]
            for svc in services:
                cfg.append(f"""frontend {svc}
  bind 127.0.0.1:{listen[svc]} proto h2
  default_backend {svc}
backend {svc}
  balance hdr(x-shard-key)
  hash-type consistent
""" + "".join(f"  server {svc}-{o} {ip}:{ports[svc]} proto h2\n" for o, ip in PODS.items()))
            with open(os.path.join(tmp, "haproxy.cfg"), "w") as f:
                f.write("".join(cfg))
            haproxy = start([HAPROXY, "-f", os.path.join(tmp, "haproxy.cfg")],
                            log=os.path.join(tmp, "haproxy.log"))
            procs.append(haproxy)
            paths["haproxy"] = ({svc: f"http://127.0.0.1:{listen[svc]}" for svc in services},
                                haproxy)

        if "nginx" in want:
            listen = {svc: free_port() for svc in services}
            body = []
            for svc in services:
                servers = "".join(f"    server {ip}:{ports[svc]};\n" for ip in PODS.values())
                # keepalive covers -m 100 x 10 streams: grpc_pass holds one stream per upstream
                # connection, and a smaller cache would open and close connections per request.
                body.append(f"""  upstream {svc} {{
    hash $http_x_shard_key consistent;
{servers}    keepalive 1024;
    keepalive_requests 1000000;
  }}
  server {{
    listen 127.0.0.1:{listen[svc]} http2{" reuseport" if workers > 1 else ""};
    location / {{ grpc_pass grpc://{svc}; }}
  }}""")
            with open(os.path.join(tmp, "nginx.conf"), "w") as f:
                f.write(nginx_conf(tmp, "\n".join(body), workers, 2 * max_conns))
            nginx = start([NGINX, "-c", os.path.join(tmp, "nginx.conf")],
                          log=os.path.join(tmp, "nginx.log"))
            procs.append(nginx)
            paths["nginx"] = ({svc: f"http://127.0.0.1:{listen[svc]}" for svc in services},
                              nginx)

        for name, (urls, proc) in list(paths.items()):
            if proc is None:
                continue
            port = int(urls[services[0]].rsplit(":", 1)[1])
            try:
                wait_for(lambda: proc.poll() is not None or port_open(port), what=f"{name}")
            except AssertionError:
                pass
        time.sleep(0.5)  # podrouter's first resolution

        answered = {}
        for name, (urls, proc) in paths.items():
            if proc is not None and proc.poll() is not None:
                notes.append(f"{name}: exited with {proc.returncode}: "
                             f"{tail(os.path.join(tmp, name + '.log'), 600).strip()}")
                continue
            bad = [load for load in LOADS if LOADS[load][1] in services
                   and not probe(urls[LOADS[load][1]] + LOADS[load][2], load, tmp)]
            if "grpc" in services and not grpc_ok(urls["grpc"].split("//", 1)[1]):
                bad.append("grpc (grpc client)")
            if bad:
                notes.append(f"{name}: left out, no good answer to {', '.join(bad)}: "
                             + tail(os.path.join(tmp, name + ".log"), 600).strip())
                continue
            answered[name] = (urls, proc.pid if proc else None)
        yield tmp, answered, notes
    finally:
        stop_all(procs)
        for pod in grpc_pods:
            pod.stop(timeout=5)
        dns.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def run(rounds, seconds, workers=1, loads=tuple(LOADS), want=ALL_PATHS, podrouter_bin=None):
    """Runs the loads through every path that answered; returns ({path: {metric: [values per
    round]}} with an empty entry for each path left out, notes)."""
    services = tuple(s for s in SERVICES if any(LOADS[l][1] == s for l in loads))
    with targets(workers, want, podrouter_bin, services) as (tmp, paths, notes):
        results = {n: {} for n in want}
        idle = {n: rss_kib(pid) for n, (_, pid) in paths.items() if pid}
        order = [n for n in want if n in paths]
        for r in range(rounds):
            order = order[1:] + order[:1]  # rotate so no path always runs first
            for name in order:
                urls, pid = paths[name]
                for load in loads:
                    _, svc, path, _, _, size = LOADS[load]
                    cpu0 = cpu_seconds(pid) if pid else 0
                    try:
                        s, p50, p99, raw = h2load(urls[svc] + path, load, seconds, tmp)
                    except (ValueError, subprocess.TimeoutExpired) as e:
                        notes.append(f"{name} {load} round {r + 1}: h2load failed ({e})")
                        continue
                    res = results[name]
                    res.setdefault(f"{load}_rps", []).append(s["rps"])
                    if p50 is not None:
                        res.setdefault(f"{load}_p50", []).append(p50)
                        res.setdefault(f"{load}_p99", []).append(p99)
                    if pid and s["done"]:
                        used = cpu_seconds(pid) - cpu0
                        res.setdefault(f"{load}_cpu", []).append(used / s["done"] * 1e6)
                        res.setdefault(f"{load}_rss", []).append(rss_kib(pid))
                    if s["failed"] or s["errored"] or s["timeout"]:
                        notes.append(f"{name} {load} round {r + 1}: {s['failed']} failed, "
                                     f"{s['errored']} errored, {s['timeout']} timed out of "
                                     f"{s['done']}")
                    if s["data"] < s["succeeded"] * size:
                        notes.append(f"{name} {load} round {r + 1}: {s['data']} body bytes for "
                                     f"{s['succeeded']} responses of {size}")
            print(f"h2 (workers {workers}) round {r + 1}/{rounds} done", file=sys.stderr)
        for name, rss in idle.items():
            results[name]["idle_rss"] = [rss]
        return results, notes


def rows(loads=tuple(LOADS), prefix=""):
    return benchlib.load_rows({k: v[0] for k, v in LOADS.items()}, loads, prefix)


# ---- --strace: syscalls per request ----

def traced(pid, seconds, tmp, run_load):
    """Runs `run_load()` (returns the requests it completed) with `strace -f -c` attached to pid
    and its children;
    (syscalls per request, {syscall: calls per request} for the busiest, requests)."""
    out = os.path.join(tmp, f"strace-{pid}.txt")
    attach = [a for p in benchlib.process_tree(pid) for a in ("-p", str(p))]  # NGINX's workers
    tracer = subprocess.Popen([STRACE, "-f", "-c", "-o", out] + attach,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        def attached():
            with open(f"/proc/{pid}/status") as f:
                return any(l.startswith("TracerPid:") and l.split()[1] != "0" for l in f)
        wait_for(attached, timeout=10, what="strace to attach")
        time.sleep(0.2)  # the other threads
        requests = run_load()
    finally:
        tracer.send_signal(signal.SIGINT)
        try:
            tracer.wait(15)
        except subprocess.TimeoutExpired:
            tracer.kill()
            tracer.wait(5)
    calls, total = {}, None
    with open(out) as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 5 and parts[-1] == "total":
                total = int(parts[3])
            elif len(parts) >= 5 and parts[0][0].isdigit() and parts[3].isdigit():
                calls[parts[-1]] = int(parts[3])
    if not requests or total is None:
        return None, {}, requests
    top = dict(sorted(((k, v / requests) for k, v in calls.items()), key=lambda kv: -kv[1])[:6])
    return total / requests, top, requests


def strace_report(seconds, want, podrouter_bin=None):
    require(STRACE, shutil.which("wrk") or "/usr/bin/wrk")
    want = [p for p in want if p != "direct"]
    lines, h2, h1 = [], {}, {}
    with targets(1, want, podrouter_bin, services=("web",)) as (tmp, paths, notes):
        lines += notes
        for name in want:
            if name not in paths:
                continue
            urls, pid = paths[name]

            def load():
                s, _, _, _ = h2load(urls["web"] + "/small", "m100", seconds, tmp)
                return s["done"]
            h2[name] = traced(pid, seconds, tmp, load)
    if podrouter_bin:
        http_bench.PODROUTER = podrouter_bin
    with http_bench.targets(1) as (tmp, paths):
        lua = os.path.join(tmp, "small.lua")
        with open(lua, "w") as f:
            f.write(http_bench.LUA % "")
        for name in want:
            url, pid = paths[name]

            def load():
                out = subprocess.run(["wrk", "-t1", "-c50", f"-d{seconds}s", "--latency", "-s",
                                      lua, url + "/small"], capture_output=True, text=True,
                                     timeout=seconds + 60)
                return http_bench.parse_wrk(out.stdout)[3]
            h1[name] = traced(pid, seconds, tmp, load)

    def cell(r):
        if not r or r[0] is None:
            return "–"
        per, top, requests = r
        return (f"{per:.2f} ({requests} requests; "
                + ", ".join(f"{k} {v:.2f}" for k, v in top.items()) + ")")
    lines = [f"Syscalls per request of the proxy process (strace -f -c, {seconds:g} s runs; "
             "under strace throughput means nothing, counts do)", "",
             "| proxy | HTTP/2, h2load -c 10 -m 100 | HTTP/1.1, wrk 50 kept-alive conns |",
             "|---|---|---|"] + [f"| {n} | {cell(h2.get(n))} | {cell(h1.get(n))} |"
                                 for n in want] + ([""] + lines if lines else [])
    return "\n".join(lines), {"h2": h2, "h1": h1}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--quick", action="store_true", help="2 rounds of 2 s")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--loads", default=",".join(LOADS))
    ap.add_argument("--paths", default=None, help="default: podrouter,haproxy,nginx,direct "
                    "(--strace: podrouter,haproxy)")
    ap.add_argument("--podrouter", default=None, help=f"binary (default {benchlib.PODROUTER})")
    ap.add_argument("--strace", action="store_true", help="count syscalls per request instead")
    ap.add_argument("--markdown", help="also write the table as Markdown to this file")
    ap.add_argument("--json", help="write the raw results to this file")
    args = ap.parse_args()
    if args.quick:
        args.rounds, args.seconds = 2, 2
    if args.strace:
        want = (args.paths or "podrouter,haproxy").split(",")
        text, raw = strace_report(args.seconds, want, args.podrouter)
        emit(text, args.markdown)
        if args.json:
            with open(args.json, "w") as f:
                json.dump(raw, f)
        return
    loads = args.loads.split(",")
    for load in loads:
        if load not in LOADS:
            sys.exit(f"unknown load {load!r} ({', '.join(LOADS)})")
    want = tuple((args.paths or ",".join(ALL_PATHS)).split(","))
    results, notes = run(args.rounds, args.seconds, args.workers, loads, want, args.podrouter)
    for name in ("podrouter", "haproxy"):  # table() divides podrouter by haproxy
        results.setdefault(name, {})
    text = table(f"HTTP/2 and gRPC benchmark: {args.rounds} interleaved rounds of "
                 f"{args.seconds:g}s, medians; workers {args.workers}; h2load -t1; "
                 f"{os.cpu_count()} cores shared by h2load, proxy and pods",
                 [n for n in want], rows(loads) + [("idle RSS KiB", "idle_rss", "{:.0f}")],
                 results)
    text += "\n\n" + ("\n".join(notes) if notes else
                      "every request succeeded with a whole body")
    emit(text, args.markdown)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"results": results, "notes": notes}, f)


if __name__ == "__main__":
    main()
