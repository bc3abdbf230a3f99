#!/usr/bin/env python3
"""Prints one `module.Class` per end-to-end test class, one per line: every unittest.TestCase
subclass with tests that a test_*.py module here defines (found by importing the modules, as
unittest's own loader does, so inherited, imported-base and generated tests all count). CMake
makes a ctest entry of each, so a new class runs without being listed by hand. `--skip
module.Class` leaves a class out (ctest runs it in a setting of its own)."""
import argparse
import importlib
import inspect
import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--skip", action="append", default=[])
    args = ap.parse_args()
    sys.path.insert(0, HERE)
    loader = unittest.TestLoader()
    for name in sorted(os.listdir(HERE)):
        if not (name.startswith("test_") and name.endswith(".py")):
            continue
        module = importlib.import_module(name[:-3])
        for cls_name, cls in inspect.getmembers(module, inspect.isclass):
            case = f"{module.__name__}.{cls_name}"
            if (issubclass(cls, unittest.TestCase) and cls.__module__ == module.__name__
                    and loader.getTestCaseNames(cls) and case not in args.skip):
                print(case)


if __name__ == "__main__":
    main()
