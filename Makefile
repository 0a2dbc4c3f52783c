# Referee developer commands. Only python3 and make are needed; everything else is installed here.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# A CPU build is enough for tests; GPU users: `make install TORCH=torch` picks the default CUDA build.
TORCH  ?= torch==2.13.0
HOST   ?= 127.0.0.1
PORT   ?= 8000

.PHONY: docs docs-serve ui-vendor install install-test install-peers system-deps grader-packages serve test test-peers lint demo demo-agent sandbox-image api-image clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install --quiet -e ".[server,docker]"

# Debian packages the tests use: g++ for C++ submissions, bubblewrap, libseccomp2, python3 and prlimit (util-linux) for
# the local sandbox; postgresql (a real server for the inspector's store tests) and chromium + chromium-driver (the
# inspector's page in a headless browser).
# The code reward's languages beyond Python, C and C++ (Java, JavaScript, Go, Rust), as Debian packages.
LANGUAGE_PACKAGES = default-jdk-headless nodejs golang-go rustc

system-deps: $(BIN)/python
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o DPkg::Lock::Timeout=300 g++ bubblewrap libseccomp2 procps python3 util-linux postgresql chromium chromium-driver $(LANGUAGE_PACKAGES) >/dev/null; \
	else echo "not root or no apt-get: install g++ and bubblewrap yourself if missing"; fi
	@$(MAKE) --no-print-directory grader-packages

# What OpenAI's python graders import (rapidfuzz, numpy), for the sandbox's /usr/bin/python3: under /usr,
# the only part of the host a sandbox sees. Wheels for that interpreter's version, whatever the venv's.
GRADER_PACKAGES ?= /usr/local/lib/referee/python-graders
grader-packages: $(BIN)/python
	@if [ -w "$$(dirname $$(dirname $(GRADER_PACKAGES)))" ] && [ -x /usr/bin/python3 ]; then \
		$(BIN)/pip install --quiet --upgrade --only-binary=:all: --target $(GRADER_PACKAGES) \
			--python-version "$$(/usr/bin/python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')" \
			"rapidfuzz>=3.9" "numpy>=1.24"; \
	else echo "cannot write $(GRADER_PACKAGES): python graders will import the standard library only"; fi

# The inspector's chart library, from the npm registry, into the package (shipped in the wheel; no CDN at run time).
UPLOT ?= 1.6.32
ui-vendor:
	cd $$(mktemp -d) && npm pack --silent uplot@$(UPLOT) && tar xzf uplot-$(UPLOT).tgz && \
		cp package/dist/uPlot.iife.min.js package/dist/uPlot.min.css $(CURDIR)/service/inspector/static/vendor/ && \
		cp package/LICENSE $(CURDIR)/service/inspector/static/vendor/LICENSE-uPlot

install-test: $(BIN)/python system-deps
	$(BIN)/pip install --quiet "$(TORCH)"
	$(BIN)/pip install --quiet -e ".[test]"

# The trainers the adapters are tested against (tests/peers/), pinned, in a venv of their own: their
# config stack (hydra, omegaconf) pins an older ANTLR runtime than math-verify's, and their full
# requirements are CUDA-only (vllm, flash-attn, deepspeed), so they go in with --no-deps plus what
# their reward paths import.
PEER_VENV ?= .venv-peers
PEER_BIN  := $(PEER_VENV)/bin
PEERS     ?= verl==0.9.1 openrlhf==0.11.2
PEER_DEPS ?= "transformers>=5.5,<6" "ray>=2.60" "tensordict>=0.8,<=0.10.0,!=0.9.0" codetiming \
             "hydra-core>=1.3" pylatexenc aiohttp pytest pytest-timeout

$(PEER_BIN)/python:
	$(PYTHON) -m venv $(PEER_VENV)
	$(PEER_BIN)/pip install --quiet --upgrade pip

install-peers: $(PEER_BIN)/python system-deps
	$(PEER_BIN)/pip install --quiet "$(TORCH)"
	$(PEER_BIN)/pip install --quiet -e ".[server]"
	$(PEER_BIN)/pip install --quiet $(PEER_DEPS)
	$(PEER_BIN)/pip install --quiet --no-deps $(PEERS)

test-peers: install-peers
	$(PEER_BIN)/python -m pytest -q tests/peers

serve: install
	$(BIN)/referee serve --host $(HOST) --port $(PORT)

# The habits CI enforces before the tests: lint, formatting, types (import boundaries are a test).
test: install-test lint test-peers
	$(BIN)/python -m pytest -q

# Start the service, train a tiny model with GRPO on CPU (examples/demo.toml), stop the service.
# `make demo DEMO=examples/length_penalty.toml` runs the Kimi length-penalty example instead.
DEMO_PORT ?= 8765
DEMO      ?= examples/demo.toml
demo: $(BIN)/python
	$(BIN)/pip install --quiet "$(TORCH)"
	$(BIN)/pip install --quiet -e ".[server,train]"
	$(BIN)/referee serve --port $(DEMO_PORT) --log-level warning & echo $$! > .demo-server.pid; \
	trap 'kill $$(cat .demo-server.pid); rm -f .demo-server.pid' EXIT; \
	for i in $$(seq 60); do curl -sf http://127.0.0.1:$(DEMO_PORT)/healthz >/dev/null && break; sleep 1; done; \
	REFEREE_URL=http://127.0.0.1:$(DEMO_PORT) $(BIN)/referee train --config $(DEMO)

# The multi-turn agent demo: a tiny model learns to use the calculator tool (examples/agent.toml).
demo-agent:
	$(MAKE) demo DEMO=examples/agent.toml

# The docs site (mkdocs.yml, pages in docs/): built strictly, so a broken link or anchor fails.
docs: $(BIN)/python
	$(BIN)/pip install --quiet -e ".[docs]"
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

docs-serve: $(BIN)/python
	$(BIN)/pip install --quiet -e ".[docs]"
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs serve --dev-addr 127.0.0.1:8001

lint: install-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# The docker backend's image, built offline (debootstrap + docker import); needs root and dockerd.
# Every language of the code reward; `make sandbox-image LANGUAGES=core` keeps Python, C and C++ (1 GB less).
sandbox-image:
	EXTRA_PACKAGES="$(if $(filter core,$(LANGUAGES)),,$(LANGUAGE_PACKAGES))" sandboxes/docker/build_offline.sh referee-sandbox:latest

# The docker-compose images without a registry: a debootstrap base and a wheelhouse from this host's pip.
# With a registry, plain `docker-compose build` uses python:3.11-slim and PyPI instead.
api-image: $(BIN)/python
	docker image inspect referee-base:bookworm >/dev/null 2>&1 || sandboxes/docker/build_offline.sh --base referee-base:bookworm
	rm -rf .wheelhouse && $(BIN)/pip wheel --quiet -w .wheelhouse ".[server,docker]" "setuptools>=77" wheel
	REFEREE_BASE_IMAGE=referee-base:bookworm REFEREE_WHEELHOUSE=.wheelhouse docker-compose build api

clean:
	rm -rf $(VENV) $(PEER_VENV) build *.egg-info .pytest_cache .wheelhouse
