#!/usr/bin/env bash
# Fill docker/wheels with the service's runtime dependencies as wheels for the image's Python
# (CPython 3.11, glibc/manylinux), so that `docker build` installs them with --no-index and needs
# no network. Runs on the host, which can reach PyPI; the build cannot.
#
#   bash docker/build-wheelhouse.sh           # idempotent: skips when docker/requirements.txt is unchanged
#   FORCE=1 bash docker/build-wheelhouse.sh   # download again
#
# The service itself (services/agent-backend) is not packaged here: the Dockerfile installs it from
# its source, which a `docker build` copies anew, where a wheel made here could be stale.
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(dirname "$HERE")"
WHEELS="$HERE/wheels"
REQUIREMENTS="$HERE/requirements.txt"
log() { printf '[build-wheelhouse %3ss] %s\n' "$SECONDS" "$*" >&2; }

if [ -n "${PYTHON:-}" ]; then
    py="$PYTHON"
elif [ -x "$ROOT/.venv/bin/python" ]; then
    py="$ROOT/.venv/bin/python"
else
    py="python3"
fi
arch="$(uname -m)"
case "$arch" in
    x86_64 | aarch64) ;;
    arm64) arch=aarch64 ;;
    *) log "no manylinux wheels for machine type $arch"; exit 1 ;;
esac

stamp="$WHEELS/.stamp"
want="$(cat "$REQUIREMENTS" | sha256sum | cut -d' ' -f1) cp311 $arch"
if [ "${FORCE:-0}" != 1 ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    log "$WHEELS is up to date ($(ls "$WHEELS"/*.whl | wc -l) wheels); FORCE=1 downloads again"
    exit 0
fi

mkdir -p "$WHEELS"
rm -f "$WHEELS"/*.whl "$stamp"
log "pip download -r docker/requirements.txt for cp311 manylinux $arch with $py"
"$py" -m pip download --quiet --disable-pip-version-check \
    --dest "$WHEELS" --only-binary=:all: \
    --implementation cp --python-version 3.11 --abi cp311 --abi abi3 --abi none \
    --platform "manylinux2014_$arch" --platform "manylinux_2_28_$arch" --platform any \
    -r "$REQUIREMENTS"
printf '%s\n' "$want" >"$stamp"
log "done: $(cd "$WHEELS" && ls ./*.whl | xargs -n1 basename | tr '\n' ' ')"
