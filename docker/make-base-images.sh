#!/usr/bin/env bash
# Makes debian:bookworm and debian:bookworm-slim locally, for machines with no container registry
# (Debian's archive only): one mmdebstrap root file system shaped like the official slim image
# (merged /usr, no docs, man pages or locales, no apt lists), imported into podman under both tags.
# Usage: docker/make-base-images.sh [MIRROR]   (default: the machine's own Debian mirror)
set -euo pipefail
mirror=${1:-}
if [ -z "$mirror" ]; then
  mirror=$( (grep -rhoE '(URIs:|^deb)\s+https?://[^ ]*debian/?' /etc/apt/sources.list \
               /etc/apt/sources.list.d/ 2>/dev/null || true) | grep -v security | head -n1 |
             awk '{print $2}')
  mirror=${mirror:-http://deb.debian.org/debian}
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mmdebstrap --variant=minbase --quiet \
  --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
  --aptopt='APT::Install-Recommends "false"' \
  --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/doc/*' \
  --dpkgopt='path-include=/usr/share/doc/*/copyright' \
  --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-exclude=/usr/share/info/*' \
  --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin "$1"/var/log/*' \
  bookworm "$work/base.tar" "$mirror"
podman import --quiet "$work/base.tar" debian:bookworm >/dev/null
podman tag debian:bookworm debian:bookworm-slim
echo "made debian:bookworm and debian:bookworm-slim from $mirror"
