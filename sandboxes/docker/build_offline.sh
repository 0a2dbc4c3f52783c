#!/usr/bin/env bash
# Build Referee's images without a registry: debootstrap a minimal Debian, then `docker import` it.
#   sandboxes/docker/build_offline.sh [IMAGE] [SUITE]          the sandbox image (same content as the
#                                                               Dockerfile next to this script)
#   sandboxes/docker/build_offline.sh --base [IMAGE] [SUITE]   a base for the API image (the top-level
#                                                               Dockerfile's BASE_IMAGE): adds python3-venv
#                                                               and bubblewrap, keeps root as the user
set -euo pipefail
flavor=sandbox
packages=python3,g++,libc6-dev,util-linux,procps
# The sandbox image also has the code reward's other languages (Java, JavaScript, Go, Rust: ~1 GB);
# EXTRA_PACKAGES="" leaves them out, EXTRA_PACKAGES="..." picks others (also for --base).
extra=${EXTRA_PACKAGES-default-jdk-headless nodejs golang-go rustc}
if [ "${1:-}" = --base ]; then
  shift
  flavor=base
  packages=$packages,python3-venv,bubblewrap,ca-certificates
  extra=${EXTRA_PACKAGES:-}
fi
image=${1:-referee-$flavor:latest}
suite=${2:-bookworm}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
cache=${REFEREE_ROOTFS_CACHE:-/var/cache/referee}
tarball="$cache/$flavor-rootfs-$suite.tar"
if [ -n "$extra" ]; then
  packages=$packages,$(echo $extra | tr ' ' ',')
  tarball="$cache/$flavor-rootfs-$suite-$(echo "$extra" | md5sum | cut -c1-8).tar"
fi

if ! command -v debootstrap >/dev/null; then
  echo "debootstrap is missing: apt-get install debootstrap" >&2
  exit 1
fi
mkdir -p "$cache"
if [ ! -s "$tarball" ]; then
  rootfs=$(mktemp -d)
  trap 'rm -rf "$rootfs"' EXIT
  debootstrap --variant=minbase --include="$packages" "$suite" "$rootfs" "$mirror"
  chroot "$rootfs" apt-get clean
  rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin
  mkdir -p "$rootfs/box" && chmod 1777 "$rootfs/box"
  tar -C "$rootfs" -cf "$tarball.partial" .
  mv "$tarball.partial" "$tarball"
fi
if [ "$flavor" = sandbox ]; then
  docker import --change 'WORKDIR /box' --change 'USER 65534:65534' --change 'CMD ["sleep", "infinity"]' \
    "$tarball" "$image"
else
  docker import --change 'ENV LANG=C.UTF-8' --change 'CMD ["bash"]' "$tarball" "$image"
fi
echo "built $image from $tarball"
