"""Kubernetes objects checked against the API's OpenAPI schemas: validate.cjs (npm's
kubernetes-models, pinned in package-lock.json next to it and installed by scripts/setup).
Unknown fields are not flagged (the published schemas allow them); types, required fields and
enumerations are."""
import json
import os
import shutil
import subprocess

HERE = os.path.dirname(os.path.abspath(__file__))
NODE = shutil.which("node") or "/usr/bin/node"


def problems(objects):
    """One entry per invalid object: {"object": "Kind/name", "errors": [{"path", "reason"}]}."""
    if not os.path.isdir(os.path.join(HERE, "node_modules", "kubernetes-models")):
        raise AssertionError("tests/schema/node_modules is missing: run scripts/setup "
                             "(npm ci --prefix tests/schema)")
    out = subprocess.run([NODE, os.path.join(HERE, "validate.cjs")], input=json.dumps(objects),
                         capture_output=True, text=True, timeout=120)
    if out.returncode not in (0, 1):
        raise AssertionError(f"validate.cjs failed ({out.returncode}): {out.stderr}")
    results = json.loads(out.stdout)
    return [dict(r, index=i) for i, r in enumerate(results) if r is not None]


def assert_valid(test, objects, what):
    """Fails `test` when any of `objects` is invalid, naming `what`, each object, field path and
    reason (and the object itself, for the first few)."""
    found = problems(list(objects))
    if not found:
        return
    lines = [f"{what}: {len(found)} object(s) invalid against the Kubernetes schemas"]
    for p in found:
        for e in p["errors"]:
            lines.append(f"  {p['object']} at {e['path'] or '/'}: {e['reason']}")
    for p in found[:2]:
        lines.append(json.dumps(objects[p["index"]], indent=1)[:3000])
    test.fail("\n".join(lines))
