#!/usr/bin/env python3
"""The whole benchmark in one command: podrouter vs HAProxy vs NGINX (configured as equals: same
worker count, keep-alive to the pods, consistent hashing on the same header) and a direct
connection, against the same pods, on loopback, with interleaved rounds and medians.

  1. HTTP, workers 1: small responses on 50 kept-alive connections, a new connection per request,
     64 KiB responses, and one connection with one request at a time — the latency one hop adds
     over direct (bench/http_bench.py)
  2. HTTP, workers 2: the small loads again, every proxy with two workers
  3. TCP: bulk transfer (iperf3) and new connections/s, against HAProxy `mode tcp`
     (bench/tcp_bench.py)
  4. 10,000 idle kept-alive connections: memory per connection (bench/idle_bench.py)
  5. Google Benchmark micro-benchmarks of the pickers and the HTTP front end (build/bench/micro_bench)
  6. HTTP/2 (h2load -m 1 and -m 100) and gRPC unary through each proxy, HTTP/2 to the pods
     (bench/h2_bench.py)

Prints the tables, writes them into docs/benchmarks.md (between the bench:results markers) with
the raw numbers in docs/benchmarks.json, and plots requests/s and p99 per proxy to
docs/benchmarks.png (gnuplot).

Usage: bench/run.py [--rounds N] [--seconds S] [--quick] [--no-h2] [--no-docs] [--from-json]
  --quick       2 rounds of 2 s, to check that everything runs (about 4 minutes)
  --no-h2       without the HTTP/2 and gRPC benchmark (about 1 minute of --quick)
  --from-json   rewrite the docs and the plot from docs/benchmarks.json without measuring
Needs the release build and the bench tools: scripts/setup.
"""
import argparse
import datetime
import json
import os
import platform
import subprocess
import sys

import h2_bench
import http_bench
import idle_bench
import tcp_bench
from benchlib import BUILD, ROOT, median, table

DOCS = os.path.join(ROOT, "docs")
PATHS = ["podrouter", "haproxy", "nginx", "direct"]
BEGIN, END = "<!-- bench:results:begin -->", "<!-- bench:results:end -->"


def merge(into, results, prefix=""):
    for name, metrics in results.items():
        for key, values in metrics.items():
            into.setdefault(name, {})[prefix + key] = values


def micro():
    """Google Benchmark's table for the pickers and the HTTP front end."""
    binary = os.path.join(BUILD, "bench", "micro_bench")
    if not os.path.exists(binary):
        return "(micro_bench not built)"
    out = subprocess.run([binary, "--benchmark_min_time=0.2"], capture_output=True, text=True,
                         timeout=600)
    lines = [l for l in out.stdout.splitlines() if l.startswith(("BM_", "---", "Benchmark"))]
    return "\n".join(lines)


def plot(results, png):
    """Requests/s and p99 per proxy and load, side by side."""
    loads = [("small", "small kept-alive"), ("close", "new conn/request"), ("64k", "64 KiB"),
             ("c1", "1 conn, 1 at a time"),
             ("w2_small", "small, 2 workers"), ("w2_close", "new conn, 2 workers"),
             ("h2_m1", "HTTP/2, 1 stream/conn"), ("h2_m100", "HTTP/2, 100 streams/conn"),
             ("h2_grpch2", "gRPC unary")]
    data = png + ".dat"
    with open(data, "w") as f:
        for metric in ("rps", "p99"):
            f.write("load " + " ".join(PATHS) + "\n")  # each block's column titles
            for key, label in loads:
                row = [median(results.get(p, {}).get(f"{key}_{metric}", [])) or float("nan")
                       for p in PATHS]
                f.write(f'"{label}" ' + " ".join(f"{v:.4g}" for v in row) + "\n")
            f.write("\n\n")
    script = f"""
set terminal pngcairo size 1500,560 font ",10"
set output "{png}"
set multiplot layout 1,2
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set xtics rotate by -25 scale 0 offset -3,0
set key top right
set grid ytics
set yrange [0:*]
set title "requests/s (median)"
plot for [i=2:5] "{data}" index 0 using i:xtic(1) title columnheader(i)
set title "p99 latency, ms (median)"
set logscale y
set yrange [*:*]
plot for [i=2:5] "{data}" index 1 using i:xtic(1) title columnheader(i)
unset multiplot
"""
    subprocess.run(["gnuplot"], input=script, text=True, check=True)
    os.unlink(data)


def report(results, idle, args, micro_text, date):
    http_rows = http_bench.rows()
    tcp_rows = [(label, key, fmt) for label, key, fmt in tcp_bench.ROWS if key != "idle_rss"]
    idle_rows = [("idle RSS at rest KiB", "idle_rss", "{:.0f}"),
                 ("10,000 idle kept-alive conns: RSS KiB", "idle10k_kib", "{:.0f}"),
                 ("10,000 idle kept-alive conns: bytes per conn", "idle10k_per_conn", "{:.0f}")]
    w2_rows = []
    for load in ("small", "close"):
        label = http_bench.LOADS[load][0]
        w2_rows += [(f"{label}: requests/s, workers 1", f"{load}_rps", "{:.0f}"),
                    (f"{label}: requests/s, workers 2", f"w2_{load}_rps", "{:.0f}"),
                    (f"{label}: p99 ms, workers 2", f"w2_{load}_p99", "{:.3f}"),
                    (f"{label}: CPU µs/request, workers 2", f"w2_{load}_cpu", "{:.1f}")]
    setting = (f"{args.rounds} interleaved rounds of {args.seconds:g} s, medians; "
               f"{os.cpu_count()} cores shared by the load generator, the proxy and the pods")
    parts = [
        table(f"**HTTP and memory** ({setting}; wrk -t1; workers 1)", PATHS,
              http_rows + idle_rows, results),
        table("**Latency one hop adds** (wrk -t1 -c1: one connection, one request at a time; "
              "the difference to direct, per interleaved round, then the median)", PATHS,
              http_bench.added_rows(), results),
        table(f"**Two workers** (same loads; HAProxy nbthread 2, NGINX worker_processes 2)",
              PATHS, w2_rows, results),
        table("**TCP** (iperf3 bulk; new connections/s with a 1-byte echo; HAProxy `mode tcp`, "
              "as configured by default and with `option splice-auto`)",
              PATHS + ["haproxy-splice"], tcp_rows, results,
              baseline=["haproxy", "haproxy-splice"]),
    ]
    notes = [f"HAProxy held {idle['haproxy']['connections']} idle connections: it needs two "
             "descriptors per connection and this machine's limit is "
             f"{os.sysconf('SC_OPEN_MAX')}."] if idle.get("haproxy", {}).get(
                 "connections", 10000) < 10000 else []
    if any(k.startswith("h2_") for r in results.values() for k in r):
        parts.append(table(
            "**HTTP/2 and gRPC** (h2load -t1, one fixed shard key; HTTP/2 to the pods — NGINX "
            "through grpc_pass, one stream per upstream connection; gRPC to Python pods, which "
            "are slow; bench/h2_bench.py)", PATHS,
            h2_bench.rows(prefix="h2_") + [("idle RSS KiB", "h2_idle_rss", "{:.0f}")], results))
    text = "\n\n".join(parts)
    if notes:
        text += "\n\n" + "\n".join(notes)
    text += ("\n\n**Micro-benchmarks** (build/bench/micro_bench)\n\n```\n" + micro_text + "\n```")
    stamp = (f"Run {date} on {platform.machine()}, {os.cpu_count()} cores, "
             f"kernel {platform.release()}; `bench/run.py --rounds {args.rounds} --seconds "
             f"{args.seconds:g}`.")
    return stamp + "\n\n" + text


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--connections", type=int, default=10000)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--no-h2", dest="h2", action="store_false",
                    help="leave out bench/h2_bench.py (HTTP/2, gRPC)")
    ap.add_argument("--no-docs", action="store_true", help="print only; leave docs/ alone")
    ap.add_argument("--from-json", action="store_true")
    args = ap.parse_args()
    if args.quick:
        args.rounds, args.seconds = 2, 2
    if args.from_json:
        with open(os.path.join(DOCS, "benchmarks.json")) as f:
            saved = json.load(f)
        args.rounds, args.seconds = saved["rounds"], saved["seconds"]
        text = report(saved["results"], saved["idle"], args, saved["micro"], saved["date"])
        write_docs(text + "\n\n" + saved["problems"], saved["results"])
        return

    results = {}
    http1, notes1 = http_bench.run(args.rounds, args.seconds, workers=1)
    merge(results, http1)
    http2, notes2 = http_bench.run(args.rounds, args.seconds, workers=2, loads=("small", "close"))
    merge(results, http2, "w2_")
    merge(results, tcp_bench.run(args.rounds, min(args.seconds, 3)))
    idle = idle_bench.run(args.connections)
    for name, r in idle.items():
        results[name]["idle10k_kib"] = [r["idle_kib"]]
        results[name]["idle10k_per_conn"] = [r["per_conn_b"]]
    notes_h2 = []
    if args.h2:
        h2, notes_h2 = h2_bench.run(args.rounds, args.seconds)
        merge(results, h2, "h2_")
    micro_text, date = micro(), str(datetime.date.today())
    text = report(results, idle, args, micro_text, date)
    problems = "\n".join(notes1 + notes2) or "Every HTTP response was 2xx; wrk saw no socket errors."
    if args.h2:
        problems += "\n\n" + ("\n".join(notes_h2) or
                              "HTTP/2 and gRPC: every request succeeded with a whole body.")
    text += "\n\n" + problems
    print(text)
    if args.no_docs:
        return
    with open(os.path.join(DOCS, "benchmarks.json"), "w") as f:
        json.dump({"rounds": args.rounds, "seconds": args.seconds, "date": date,
                   "results": results, "idle": idle, "micro": micro_text, "problems": problems},
                  f, indent=1)
    write_docs(text, results)


def write_docs(text, results):
    """The plot, and the results section of docs/benchmarks.md."""
    plot(results, os.path.join(DOCS, "benchmarks.png"))
    path = os.path.join(DOCS, "benchmarks.md")
    with open(path) as f:
        doc = f.read()
    if BEGIN not in doc:
        sys.exit(f"{path} has no {BEGIN} marker")
    head, rest = doc.split(BEGIN, 1)
    tail = rest.split(END, 1)[1]
    with open(path, "w") as f:
        f.write(head + BEGIN + "\n" + text + "\n" + END + tail)
    print(f"\nwrote {path}, docs/benchmarks.png and docs/benchmarks.json", file=sys.stderr)


if __name__ == "__main__":
    main()
