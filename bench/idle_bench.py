#!/usr/bin/env python3
"""Memory per idle kept-alive HTTP connection, podrouter vs HAProxy vs NGINX (configured as in
http_bench.py): each proxy's RSS at rest, then with N client connections that have each made one
request and stay open, idle. Loopback only; bounded by N.

Usage: bench/idle_bench.py [--connections N] [--json FILE]   (default 10000)
"""
import argparse
import json
import socket
import sys
import time

from benchlib import fd_limit, rss_kib
from http_bench import haproxy_maxconn, targets

REQUEST = b"GET /small HTTP/1.1\r\nHost: x\r\nX-Shard-Key: k%d\r\n\r\n"


def hold(url, n):
    """Opens n connections to `url`, makes one request on each; returns the open sockets."""
    host, port = url.split("//")[1].split(":")
    socks = []
    for i in range(n):
        s = socket.create_connection((host, int(port)), timeout=10)
        s.sendall(REQUEST % i)
        socks.append(s)
    for s in socks:
        got = b""
        while b"\r\n\r\n" not in got or not got.endswith(b"\n"):
            chunk = s.recv(4096)
            if not chunk:
                raise AssertionError(f"{url} closed a connection: {got!r}")
            got += chunk
        if not got.startswith(b"HTTP/1.1 200"):
            raise AssertionError(f"{url} answered {got[:80]!r}")
    return socks


def run(connections, workers=1):
    """{proxy: {"connections", "rest_kib", "idle_kib", "per_conn_b"}} for `connections` idle
    connections (fewer for HAProxy when the descriptor limit caps its maxconn)."""
    if fd_limit(connections + 200) < connections + 200:
        sys.exit(f"{connections} connections need {connections + 200} descriptors")
    out = {}
    with targets(workers, max_conns=connections + 100) as (_, paths):
        for name, (url, pid) in paths.items():
            if not pid:
                continue
            n = haproxy_maxconn(connections + 100) - 100 if name == "haproxy" else connections
            time.sleep(0.5)
            rest = rss_kib(pid)
            socks = hold(url, n)
            time.sleep(1)
            idle = rss_kib(pid)
            for s in socks:
                s.close()
            out[name] = {"connections": n, "rest_kib": rest, "idle_kib": idle,
                         "per_conn_b": (idle - rest) * 1024 / n}
            print(f"idle: {name} done", file=sys.stderr)
            time.sleep(1)  # the proxy notices the closes before the next one is measured
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--connections", type=int, default=10000)
    ap.add_argument("--json", help="write the results to this file")
    args = ap.parse_args()
    results = run(args.connections)
    for name, r in results.items():
        print(f"{name}: RSS at rest {r['rest_kib']} KiB, with {r['connections']} idle connections "
              f"{r['idle_kib']} KiB: {r['per_conn_b']:.0f} B each")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f)


if __name__ == "__main__":
    main()
