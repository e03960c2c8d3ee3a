#!/usr/bin/env bash
# Builds the images and runs docker/compose.yaml with Docker where it is installed, else
# with podman (driven by the `docker-compose` binary through podman's Docker-compatible
# API). `make compose-up` / `make compose-down` and the container test call this.
#
#   scripts/compose_stack.sh build            # worker and gateway images
#   scripts/compose_stack.sh build-all-in-one # the all-in-one image (after `build`)
#   scripts/compose_stack.sh up               # build, start, wait until both are healthy
#   scripts/compose_stack.sh down             # remove containers and networks
#   scripts/compose_stack.sh compose ARGS...  # any compose command on the same stack
#   scripts/compose_stack.sh engine           # which engine is used: docker or podman
#
# Environment: WORKER_DEVICE (cuda where nvidia-smi sees a GPU, else cpu); COMPOSE_FILES
# (default: compose.yaml, plus compose.cpu.yaml unless WORKER_DEVICE=cuda);
# COMPOSE_PROJECT_NAME; COMPOSE_WAIT_S (default 300); CONTAINER_ENGINE (docker or podman);
# BUILD_CA_BUNDLE; and everything compose.yaml reads (HTTP_PORT, PORT_WHISPERLIVE,
# FASTERWHISPER_MODEL, MODELS_DIR, ...). Without registry access (PYTHON_IMAGE/NODE_IMAGE
# unset and the official images not present), the bases come from
# scripts/container_bases.sh.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
DOCKER_DIR=$REPO/docker
export COMPOSE_PROJECT_NAME=${COMPOSE_PROJECT_NAME:-whisperlive-hybrid}
WAIT_S=${COMPOSE_WAIT_S:-300}
WORKER_IMAGE=whisperlive-hybrid-worker:latest
GATEWAY_IMAGE=whisperlive-hybrid-gateway:latest
ALL_IN_ONE_IMAGE=whisperlive-hybrid:latest
# pip and npm in the builds trust what this host trusts (its bundle holds the CA of a
# TLS-inspecting proxy where there is one): a build secret, not kept in the images.
# BUILD_CA_BUNDLE= (empty) leaves the images' own CA certificates alone.
BUILD_CA_BUNDLE=${BUILD_CA_BUNDLE-${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}}

if [[ -z ${CONTAINER_ENGINE:-} ]]; then
  if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
    CONTAINER_ENGINE=docker
  else
    CONTAINER_ENGINE=podman
  fi
fi
ENGINE=$CONTAINER_ENGINE

# The GPU when the host has an NVIDIA driver, else the CPU (compose.cpu.yaml).
if [[ -z ${WORKER_DEVICE:-} ]]; then
  WORKER_DEVICE=cpu
  if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then WORKER_DEVICE=cuda; fi
fi
export WORKER_DEVICE
if [[ -z ${COMPOSE_FILES:-} ]]; then
  COMPOSE_FILES=$DOCKER_DIR/compose.yaml
  [[ $WORKER_DEVICE == cuda ]] || COMPOSE_FILES+=":$DOCKER_DIR/compose.cpu.yaml"
fi
compose_args=()
IFS=: read -ra files <<<"$COMPOSE_FILES"
for file in "${files[@]}"; do compose_args+=(-f "$file"); done

die() { echo "compose_stack: $*" >&2; exit 1; }

# --- podman: rlimits/runtime that work on restricted hosts, and its Docker API socket ---
if [[ $ENGINE == podman ]]; then
  command -v podman >/dev/null 2>&1 || die "neither a running Docker nor podman found (make install-containers)"
  export CONTAINERS_CONF=${CONTAINERS_CONF:-$DOCKER_DIR/podman/containers.conf}
  RUN_DIR=${XDG_RUNTIME_DIR:-/tmp}/whisperlive-hybrid-podman-$(id -u)
  SOCKET=$RUN_DIR/podman.sock
fi

start_podman_api() {
  mkdir -p "$RUN_DIR"
  if [[ -S $SOCKET ]] && curl -sf --unix-socket "$SOCKET" http://d/_ping >/dev/null 2>&1; then
    return
  fi
  rm -f "$SOCKET"
  # Exits by itself after ten idle minutes; `down` stops it at once.
  nohup podman system service --time=600 "unix://$SOCKET" >"$RUN_DIR/service.log" 2>&1 &
  echo $! >"$RUN_DIR/service.pid"
  for _ in $(seq 50); do
    curl -sf --unix-socket "$SOCKET" http://d/_ping >/dev/null 2>&1 && return
    sleep 0.1
  done
  die "podman API did not start: $(cat "$RUN_DIR/service.log")"
}

compose() {
  if [[ $ENGINE == docker ]]; then
    docker compose "${compose_args[@]}" "$@"
  else
    start_podman_api
    DOCKER_HOST=unix://$SOCKET "${DOCKER_COMPOSE:-$REPO/.venv/bin/docker-compose}" \
      "${compose_args[@]}" "$@"
  fi
}

image_exists() { "$ENGINE" image inspect "$1" >/dev/null 2>&1; }

# The base images: given, official (pulled or present), or the local stand-ins.
resolve_bases() {
  if [[ -n ${PYTHON_IMAGE:-} && -n ${NODE_IMAGE:-} ]]; then return; fi
  local python=python:3.11-slim-bookworm node=node:22-bookworm-slim
  if { image_exists "$python" || "$ENGINE" pull -q "$python" >/dev/null 2>&1; } \
    && { image_exists "$node" || "$ENGINE" pull -q "$node" >/dev/null 2>&1; }; then
    PYTHON_IMAGE=${PYTHON_IMAGE:-$python} NODE_IMAGE=${NODE_IMAGE:-$node}
  else
    echo "official base images unavailable; using local ones (scripts/container_bases.sh)" >&2
    local bases line
    bases=$(CONTAINER_ENGINE=$ENGINE "$REPO/scripts/container_bases.sh")
    while read -r line; do
      case $line in
        PYTHON_IMAGE=*) PYTHON_IMAGE=${PYTHON_IMAGE:-${line#PYTHON_IMAGE=}} ;;
        NODE_IMAGE=*) NODE_IMAGE=${NODE_IMAGE:-${line#NODE_IMAGE=}} ;;
      esac
    done <<<"$bases"
  fi
  export PYTHON_IMAGE NODE_IMAGE
}

# build_image DOCKERFILE TAG [BUILD ARGS...]: the build's output goes to a log, whose end
# is shown when the build fails.
build_image() {
  local dockerfile=$1 tag=$2
  shift 2
  local args=(build -f "$DOCKER_DIR/$dockerfile" -t "$tag" "$@") log
  [[ -n $BUILD_CA_BUNDLE && -f $BUILD_CA_BUNDLE ]] && args+=(--secret "id=ca_bundle,src=$BUILD_CA_BUNDLE")
  # Podman writes OCI images by default, which have no HEALTHCHECK.
  [[ $ENGINE == podman ]] && args+=(--format docker)
  log=$(mktemp "${TMPDIR:-/tmp}/build-${tag%%:*}.XXXXXX")
  if ! "$ENGINE" "${args[@]}" "$REPO" >"$log" 2>&1; then
    tail -n 60 "$log" >&2
    rm -f "$log"
    die "building $tag ($dockerfile) failed (the end of its log is above)"
  fi
  rm -f "$log"
}

# Both images at once: the worker's pip and the gateway's npm and apt mostly wait on the
# network, so they overlap well even on two cores.
build() {
  resolve_bases
  build_image worker.Dockerfile "$WORKER_IMAGE" --build-arg "PYTHON_IMAGE=$PYTHON_IMAGE" \
    --build-arg "DEVICE=$WORKER_DEVICE" --build-arg "BACKEND=${WORKER_BACKEND:-faster_whisper}" &
  local worker=$!
  build_image gateway.Dockerfile "$GATEWAY_IMAGE" --build-arg "NODE_IMAGE=$NODE_IMAGE" || {
    wait "$worker" || true
    exit 1
  }
  wait "$worker"
}

build_all_in_one() {
  build_image all-in-one.Dockerfile "$ALL_IN_ONE_IMAGE" \
    --build-arg "WORKER_IMAGE=$WORKER_IMAGE" --build-arg "GATEWAY_IMAGE=$GATEWAY_IMAGE"
}

# Podman runs health checks from systemd timers; without systemd nobody runs them, so
# `healthy` would never come. Run each container's own check (`podman healthcheck run`,
# which records the result as the timer would) until every one passed.
drive_health_checks() {
  local deadline=$((SECONDS + WAIT_S)) id status
  while ((SECONDS < deadline)); do
    for id in $(podman ps -q --filter "label=com.docker.compose.project=$COMPOSE_PROJECT_NAME"); do
      status=$(podman inspect --format '{{.State.Health.Status}}' "$id" 2>/dev/null || true)
      if [[ -n $status && $status != healthy ]]; then
        podman healthcheck run "$id" >/dev/null 2>&1 || true
      fi
    done
    # Stop once compose's own wait is over (every service healthy, or it gave up).
    # Containers that compose has not created yet (the gateway waits for the worker) are
    # picked up on a later round.
    kill -0 "$1" 2>/dev/null || return 0
    sleep 2
  done
}

# Every container of the stack runs and passed its health check. Compose's own verdict is
# not enough: `up --wait` exits 0 when a dependency never became healthy (the gateway is
# then left created, not started).
all_healthy() {
  local ids id state
  ids=$(compose ps -a -q) || return 1
  [[ -n $ids ]] || return 1
  for id in $ids; do
    state=$("$ENGINE" inspect --format '{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{else}}healthy{{end}}' "$id") || return 1
    [[ $state == "running healthy" ]] || return 1
  done
}

up() {
  build
  if [[ $ENGINE == docker ]]; then
    compose up -d --no-build --wait --wait-timeout "$WAIT_S" || true
  else
    compose up -d --no-build --wait --wait-timeout "$WAIT_S" &
    local up_pid=$!
    drive_health_checks "$up_pid"
    wait "$up_pid" || true
  fi
  if ! all_healthy; then
    compose ps -a >&2 || true
    compose logs --no-color --tail 60 >&2 || true
    die "the stack did not become healthy within ${WAIT_S}s (status and logs above)"
  fi
  compose ps
}

down() {
  compose down --remove-orphans "$@"
  if [[ $ENGINE == podman && -f $RUN_DIR/service.pid ]]; then
    kill "$(cat "$RUN_DIR/service.pid")" 2>/dev/null || true
    rm -f "$RUN_DIR/service.pid" "$SOCKET"
  fi
}

case ${1:-} in
  build) build ;;
  build-all-in-one) build_all_in_one ;;
  up) up ;;
  down) shift; down "$@" ;;
  compose) shift; compose "$@" ;;
  engine) echo "$ENGINE" ;;
  *) die "usage: $0 build|build-all-in-one|up|down|compose ARGS...|engine" ;;
esac
