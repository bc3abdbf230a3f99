#!/usr/bin/env bash
# Builds tests/helm/render against Debian's Go packages (GOPATH mode, no network). Debian ships
# sprig v3 and semver v3 without their /v3 import-path suffix, so a small GOPATH overlay adds it.
# Usage: build_render.sh OUTPUT_BINARY
set -euo pipefail
out=$1
here=$(cd "$(dirname "$0")" && pwd)
overlay=$(mktemp -d)
trap 'rm -rf "$overlay"' EXIT
mkdir -p "$overlay/src/github.com/Masterminds/sprig" "$overlay/src/github.com/Masterminds/semver"
ln -s /usr/share/gocode/src/github.com/Masterminds/sprig "$overlay/src/github.com/Masterminds/sprig/v3"
ln -s /usr/share/gocode/src/github.com/Masterminds/semver "$overlay/src/github.com/Masterminds/semver/v3"
mkdir -p "$overlay/src/podrouter"
cp -r "$here/render" "$overlay/src/podrouter/render"
cd "$overlay/src/podrouter/render"
GO111MODULE=off GOPATH="$overlay:/usr/share/gocode" GOCACHE="${GOCACHE:-$overlay/cache}" \
  GOFLAGS= go build -o "$out" .
