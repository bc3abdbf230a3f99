#!/usr/bin/env python3
"""The module check: every folder of podrouter's sources is a library, and an #include may only
reach a module that this one depends on (the table below, lowest first). Prints the include graph
between modules, as found in the sources, and exits 1 on any include that runs the wrong way.
Usage: scripts/check_layers.py   (from anywhere; scripts/lint runs it)"""
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# module: the modules it may include (the one-way dependencies of the STYLE guide).
ALLOWED = {
    "base": set(),
    "config": set(),
    "metrics": set(),
    "inject": set(),
    "dns": {"base", "config"},
    "http": {"base"},
    "discovery": {"base", "config", "metrics", "dns"},
    "routing": {"base", "config", "metrics", "dns", "discovery", "http"},
    "dataplane": {"base", "config", "metrics", "dns", "discovery", "http", "routing"},
    "app": {"base", "config", "metrics", "dns", "discovery", "http", "routing", "dataplane",
            "inject"},
}
# Quoted or angled: `#include <dataplane/x.h>` must not slip past the check either.
INCLUDE = re.compile(r'^\s*#\s*include\s*["<]([a-z_]+)/[^">]+[">]', re.M)


def main():
    files = subprocess.run(["git", "ls-files", "*.cc", "*.h"], cwd=ROOT, capture_output=True,
                           text=True, check=True).stdout.split()
    graph = {m: set() for m in ALLOWED}
    errors = []
    for path in files:
        module = path.split("/")[0]
        if module not in ALLOWED:
            continue  # tests, bench: they may use any module
        with open(os.path.join(ROOT, path)) as f:
            text = f.read()
        for target in INCLUDE.findall(text):
            if target == module or target not in ALLOWED and target != "tests":
                continue  # a system or third-party header (<uv.h>, <prometheus/...>)
            graph[module].add(target)
            if target not in ALLOWED[module]:
                errors.append(f"{path}: includes {target}/, but {module}/ may only include "
                              f"{', '.join(sorted(ALLOWED[module])) or 'nothing of ours'}")
    print("module include graph (module -> modules it includes):")
    for module in ALLOWED:
        print(f"  {module:10} -> {', '.join(sorted(graph[module])) or '-'}")
    for e in errors:
        print(e, file=sys.stderr)
    if errors:
        print(f"module check: {len(errors)} include(s) running the wrong way", file=sys.stderr)
        return 1
    print("module check: every include runs one way")
    return 0


if __name__ == "__main__":
    sys.exit(main())
