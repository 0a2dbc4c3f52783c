#!/usr/bin/env bash
# Build the sandbox image without a registry: debootstrap a minimal Debian with python3 and g++,
# then `docker import` it. The same content as the Dockerfile next to this script.
#   sandboxes/docker/build_offline.sh [IMAGE] [SUITE]
set -euo pipefail
image=${1:-referee-sandbox:latest}
suite=${2:-bookworm}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
cache=${REFEREE_ROOTFS_CACHE:-/var/cache/referee}
tarball="$cache/sandbox-rootfs-$suite.tar"

if ! command -v debootstrap >/dev/null; then
  echo "debootstrap is missing: apt-get install debootstrap" >&2
  exit 1
fi
mkdir -p "$cache"
if [ ! -s "$tarball" ]; then
  rootfs=$(mktemp -d)
  trap 'rm -rf "$rootfs"' EXIT
  debootstrap --variant=minbase --include=python3,g++,libc6-dev,util-linux,procps \
    "$suite" "$rootfs" "$mirror"
  chroot "$rootfs" apt-get clean
  rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin
  mkdir -p "$rootfs/box" && chmod 1777 "$rootfs/box"
  tar -C "$rootfs" -cf "$tarball.partial" .
  mv "$tarball.partial" "$tarball"
fi
docker import --change 'WORKDIR /box' --change 'USER 65534:65534' --change 'CMD ["sleep", "infinity"]' \
  "$tarball" "$image"
echo "built $image from $tarball"
