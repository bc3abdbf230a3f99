#!/usr/bin/env python3
"""Memory per idle kept-alive HTTP connection: podrouter's RSS at rest, with N fresh client
connections, and after one request on each (then idle). Loopback only; bounded by N.

Usage: bench/idle_memory.py [--connections N]   (default 8000; needs ulimit -n above 2N)
"""
import argparse
import os
import socket
import sys
import tempfile
import time

from benchlib import ROOT  # noqa: F401  (puts tests/e2e on the path)
from testbed import Dnsmasq, Pod, Podrouter, free_port, rss_kib


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--connections", type=int, default=8000)
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="podrouter-idle-")
    dns = Dnsmasq(tmp, ttl=30)
    port = free_port("127.0.1.1")
    name = dns.add_headless_service("web", "http", port, {"web-0": "127.0.1.1"})
    pod = Pod("web-0", "127.0.1.1", port, mode="http")
    dns.start()
    lport = free_port()
    router = Podrouter(tmp, {
        "dns": {"servers": [f"127.0.0.1:{dns.port}"]},
        "limits": {"max_connections": args.connections + 100},
        "services": {"web": {"name": name, "discovery": "srv", "port_name": "http",
                             "replicas": 1}},
        "listeners": [{"name": "web", "bind": f"127.0.0.1:{lport}", "protocol": "http",
                       "service": "web", "route": {"ordinal": 0}}]})
    socks = []
    try:
        router.start()
        pid = router.proc.pid
        time.sleep(0.5)
        rest = rss_kib(pid)
        for _ in range(args.connections):
            socks.append(socket.create_connection(("127.0.0.1", lport)))
        time.sleep(1)
        fresh = rss_kib(pid)
        for s in socks:
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        for s in socks:
            s.recv(4096)
        time.sleep(1)
        used = rss_kib(pid)
        n = args.connections
        print(f"RSS at rest: {rest} KiB")
        print(f"{n} fresh connections: {fresh} KiB, {(fresh - rest) * 1024 / n:.0f} B each")
        print(f"after one request each, idle: {used} KiB, {(used - rest) * 1024 / n:.0f} B each")
    finally:
        for s in socks:
            s.close()
        router.stop()
        pod.stop()
        dns.stop()


if __name__ == "__main__":
    sys.exit(main())
