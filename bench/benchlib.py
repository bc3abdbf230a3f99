"""Shared pieces of the benchmark scripts: process CPU and memory readings, helper processes,
medians and the Markdown table."""
import os
import resource
import socket
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))
BUILD = os.path.join(ROOT, "build")
PODROUTER = os.path.join(BUILD, "app", "podrouter")


def raise_fd_limit(want=65536):
    """Lifts this process's descriptor limit (inherited by every proxy it starts) towards `want`:
    10,000 idle connections need 20,000+ descriptors in a proxy. Raising the hard limit needs
    root; otherwise the soft limit goes up to the hard one."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, want), max(hard, want)))
    except (ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


raise_fd_limit()


def fd_limit(want):
    """`want` descriptors, or as many as this process (and so the proxies it starts) may have."""
    return min(want, resource.getrlimit(resource.RLIMIT_NOFILE)[1])


def process_tree(pid):
    """pid and its children (nginx and haproxy do their work in child processes)."""
    pids = [pid]
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            pids += [int(p) for p in f.read().split()]
    except OSError:
        pass
    return pids


def cpu_seconds(pid):
    """User + system CPU seconds of pid and its children so far."""
    total = 0.0
    for p in process_tree(pid):
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except OSError:
            pass
    return total


def rss_kib(pid):
    total = 0
    for p in process_tree(pid):
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


def start(args, log=None):
    """Starts a helper; its output goes to `log` (kept for a post-mortem) or nowhere."""
    out = open(log, "ab") if log else subprocess.DEVNULL
    return subprocess.Popen(args, stdout=out, stderr=out)


def port_open(port, ip="127.0.0.1"):
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex((ip, port)) == 0


def stop_all(procs):
    for p in procs:
        p.terminate()
    for p in procs:
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()


def median(values):
    return statistics.median(values) if values else None


def load_rows(labels, loads, prefix=""):
    """The table rows every request load reports: (row label, result key, format) for requests/s,
    p50, p99, CPU per request and RSS of each load in `loads`; `labels`: load -> its label."""
    out = []
    for load in loads:
        label = labels[load]
        out += [(f"{label}: requests/s", f"{prefix}{load}_rps", "{:.0f}"),
                (f"{label}: p50 ms", f"{prefix}{load}_p50", "{:.3f}"),
                (f"{label}: p99 ms", f"{prefix}{load}_p99", "{:.3f}"),
                (f"{label}: CPU µs/request", f"{prefix}{load}_cpu", "{:.1f}"),
                (f"{label}: RSS under load KiB", f"{prefix}{load}_rss", "{:.0f}")]
    return out


def table(title, paths, rows, results, baseline="haproxy", subject="podrouter"):
    """Markdown table: one row per metric, one column per path, then subject / baseline for each
    baseline (`baseline`: one path's name or a list of them)."""
    baselines = [baseline] if isinstance(baseline, str) else list(baseline)
    lines = [title, "", "| metric | " + " | ".join(paths) + "".join(
        f" | {subject} / {b}" for b in baselines) + " |",
             "|---|" + "---|" * (len(paths) + len(baselines))]
    for label, key, fmt in rows:
        cells = []
        for name in paths:
            v = median(results.get(name, {}).get(key, []))
            cells.append(fmt.format(v) if v is not None else "–")
        s = median(results[subject].get(key, []))
        for name in baselines:
            b = median(results.get(name, {}).get(key, []))
            cells.append(f"{s / b:.2f}" if s is not None and b else "–")
        lines.append(f"| {label} | {' | '.join(cells)} |")
    return "\n".join(lines)


def emit(text, markdown_path=None):
    """Prints the report, and writes it to `markdown_path` too when given."""
    print(text)
    if markdown_path:
        with open(markdown_path, "w") as f:
            f.write(text + "\n")
