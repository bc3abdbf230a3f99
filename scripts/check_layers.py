#!/usr/bin/env python3
"""The module check: every folder of podrouter's sources is a library, and an #include may only
reach a module that this one depends on (the table below, lowest first). Modules marked pure may
not reach the event loop or DNS library (libuv, c-ares), directly or through the headers they
include. Includes that climb out of the tree (`../`) are refused. Prints the include graph between
modules, as found in the sources (tracked and new files alike), and exits 1 on any include that
runs the wrong way. Usage: scripts/check_layers.py   (from anywhere; scripts/lint runs it)"""
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# module: the modules it may include (the one-way dependencies of the STYLE guide).
ALLOWED = {
    "base": set(),
    "config": {"base"},
    "metrics": set(),
    "inject": set(),
    "dns": {"base", "config"},
    "http": {"base"},
    "http2": {"base", "http"},
    "discovery": {"base", "config", "metrics", "dns"},
    "routing": {"base", "config", "metrics", "discovery", "http"},
    "dataplane": {"base", "config", "metrics", "dns", "discovery", "http", "http2", "routing"},
    "app": {"base", "config", "metrics", "dns", "discovery", "http", "http2", "routing",
            "dataplane", "inject", "webhook"},
    "webhook": {"base", "config", "http", "inject"},
}
# Modules with no I/O of their own: no libuv or c-ares anywhere below them.
PURE = {"base", "config", "metrics", "inject", "http", "http2", "routing"}
LOOP_HEADERS = {"uv.h", "ares.h"}
INCLUDE = re.compile(r'^\s*#\s*include\s*(["<])([^">]+)[">]', re.M)


def sources():
    out = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard",
                          "*.cc", "*.h"], cwd=ROOT, capture_output=True, text=True, check=True)
    return sorted(set(p for p in out.stdout.split() if os.path.exists(os.path.join(ROOT, p))))


def main():
    files = sources()
    includes = {}  # path -> [(quote, target)]
    for path in files:
        with open(os.path.join(ROOT, path)) as f:
            includes[path] = INCLUDE.findall(f.read())
    graph = {m: set() for m in ALLOWED}
    errors = []
    for path in files:
        module = path.split("/")[0]
        if module not in ALLOWED:
            continue  # tests, bench: they may use any module
        for _, target in includes[path]:
            if ".." in target.split("/"):
                errors.append(f"{path}: includes {target}: name headers from the tree's root")
                continue
            top = target.split("/")[0] if "/" in target else None
            if top not in ALLOWED or top == module:
                continue  # a system or third-party header, or this module's own
            graph[module].add(top)
            if top not in ALLOWED[module]:
                errors.append(f"{path}: includes {top}/, but {module}/ may only include "
                              f"{', '.join(sorted(ALLOWED[module])) or 'nothing of ours'}")

    # Pure modules: follow project includes down to any libuv or c-ares header.
    def loop_path(path, seen):
        for _, target in includes.get(path, []):
            if target in LOOP_HEADERS:
                return [target]
            if target in includes and target not in seen:
                seen.add(target)
                below = loop_path(target, seen)
                if below:
                    return [target] + below
        return None

    for path in files:
        if path.split("/")[0] in PURE:
            chain = loop_path(path, {path})
            if chain:
                errors.append(f"{path}: reaches the event loop through {' -> '.join(chain)}, but "
                              f"{path.split('/')[0]}/ is pure")

    print("module include graph (module -> modules it includes):")
    for module in ALLOWED:
        pure = " (pure: no libuv, no c-ares)" if module in PURE else ""
        print(f"  {module:10} -> {', '.join(sorted(graph[module])) or '-'}{pure}")
    for e in errors:
        print(e, file=sys.stderr)
    if errors:
        print(f"module check: {len(errors)} include(s) running the wrong way", file=sys.stderr)
        return 1
    print("module check: every include runs one way")
    return 0


if __name__ == "__main__":
    sys.exit(main())
