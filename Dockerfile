# The Referee API image (the `api` and `gpu` services of docker-compose.yml).
#   With a registry:  docker build -t referee .          (BASE_IMAGE defaults to python:3.11-slim)
#   Offline:          make api-image                     (a debootstrap base + a wheelhouse, see Makefile)
# Build arguments:
#   BASE_IMAGE  any Debian-based image with python3 (the offline base already has every system package)
#   EXTRAS      pip extras of `referee`: `server` for the API, `server,rm` for the GPU reward model
#   WHEELHOUSE  empty: pip uses its index; a directory in the build context: install only from its wheels
ARG BASE_IMAGE=python:3.11-slim

FROM ${BASE_IMAGE} AS build
ARG EXTRAS=server
ARG WHEELHOUSE=
COPY . /src
RUN python3 -m venv /opt/referee \
 && if [ -n "$WHEELHOUSE" ]; then set -- --no-index --find-links "/src/$WHEELHOUSE"; fi \
 && /opt/referee/bin/pip install --no-cache-dir "$@" "/src[$EXTRAS]"

FROM ${BASE_IMAGE}
# The local sandbox runs submissions with Debian's /usr/bin/python3 and g++ inside bubblewrap, limits
# them with prlimit (util-linux) and sweeps leftovers with ps (procps).
RUN if ! { command -v bwrap && command -v g++ && command -v prlimit && command -v ps && [ -x /usr/bin/python3 ]; } >/dev/null; then \
      apt-get update \
      && apt-get install -y --no-install-recommends bubblewrap g++ libc6-dev python3 util-linux procps \
      && rm -rf /var/lib/apt/lists/*; \
    fi
COPY --from=build /opt/referee /opt/referee
ENV PATH=/opt/referee/bin:$PATH \
    REFEREE_HOST=0.0.0.0 \
    REFEREE_PORT=8000
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python3", "-c", "import os, urllib.request; urllib.request.urlopen(f\"http://127.0.0.1:{os.environ['REFEREE_PORT']}/healthz\", timeout=4)"]
# Root in the container: the local sandbox gives each concurrent run its own unprivileged uid (61000+).
CMD ["referee", "serve"]
