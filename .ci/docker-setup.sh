#!/usr/bin/env bash
# Make Docker usable for the docker-backend and compose tests: install the engine and docker-compose,
# start dockerd if it is not running, and build the sandbox image offline if it is missing. Idempotent; safe to re-run.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
if ! command -v dockerd >/dev/null || ! command -v debootstrap >/dev/null || ! command -v docker-compose >/dev/null; then
  apt-get update -qq
  apt-get install -y -qq -o DPkg::Lock::Timeout=300 docker.io docker-compose debootstrap >/dev/null
fi
if ! docker info >/dev/null 2>&1; then
  nohup dockerd >/var/log/referee-dockerd.log 2>&1 &
  for _ in $(seq 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
fi
if ! docker info >/dev/null 2>&1; then
  echo "!!! dockerd did not start: the docker backend tests will be skipped (see /var/log/referee-dockerd.log)" >&2
  tail -20 /var/log/referee-dockerd.log >&2 || true
  exit 0
fi
if ! docker image inspect referee-sandbox:latest >/dev/null 2>&1; then
  "$(dirname "$0")/../sandboxes/docker/build_offline.sh" referee-sandbox:latest
fi
docker image ls referee-sandbox
