#!/usr/bin/env bash
# What a packager types first: a plain Release configure. It must leave warnings as warnings
# (PODROUTER_WERROR off) so another compiler's new or false-positive warning cannot fail their
# build; scripts/build's build-release tree builds the same configuration with -Werror for CI.
set -euo pipefail
src="$1"
tree="$(mktemp -d)"
trap 'rm -rf "$tree"' EXIT
cmake -S "$src" -B "$tree" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
grep -q '^PODROUTER_WERROR:BOOL=OFF$' "$tree/CMakeCache.txt" || {
  echo "a plain Release configure turned warnings into errors" >&2
  exit 1
}
if grep -rq -- '-Werror' "$tree/build.ninja"; then
  echo "-Werror reached a packager's compile lines" >&2
  exit 1
fi
echo "packager defaults: 1 passed, 0 failed"
