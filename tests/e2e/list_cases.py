#!/usr/bin/env python3
"""Prints one `module.Class` per end-to-end test class (a class of a test_*.py module here that
has test_ methods of its own or from a base class in the same module), one per line: CMake makes
a ctest entry of each, so a new class runs without being listed by hand. Modules named on the
command line are left out (those ctest runs in a setting of their own)."""
import ast
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def cases(path):
    tree = ast.parse(open(path).read(), path)
    classes = {c.name: c for c in tree.body if isinstance(c, ast.ClassDef)}

    def tests(cls, seen=()):
        own = any(isinstance(f, ast.FunctionDef) and f.name.startswith("test_") for f in cls.body)
        bases = [b.id for b in cls.bases if isinstance(b, ast.Name) and b.id in classes]
        return own or any(tests(classes[b], seen + (cls.name,)) for b in bases if b not in seen)

    return [name for name, cls in classes.items() if tests(cls)]


def main():
    skip = set(sys.argv[1:])
    for name in sorted(os.listdir(HERE)):
        module = name[:-3]
        if not (name.startswith("test_") and name.endswith(".py")) or module in skip:
            continue
        for cls in cases(os.path.join(HERE, name)):
            print(f"{module}.{cls}")


if __name__ == "__main__":
    main()
