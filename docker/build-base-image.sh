#!/usr/bin/env bash
# Build the local base image `local/python-base:bookworm` from Debian packages, for machines whose
# Docker engine can reach no container registry. Idempotent: does nothing when the image exists.
#
#   bash docker/build-base-image.sh            # build when absent
#   FORCE=1 bash docker/build-base-image.sh    # rebuild
#
# Then build with `MC_BASE_IMAGE=local/python-base:bookworm` (the harness picks it on its own when
# the default base image is not present locally and this one is).
set -euo pipefail

IMAGE="${BASE_IMAGE_TAG:-local/python-base:bookworm}"
SUITE="${DEBIAN_SUITE:-bookworm}"
MIRROR="${DEBIAN_MIRROR:-}"   # empty: debootstrap's default mirror
log() { printf '[build-base-image %3ss] %s\n' "$SECONDS" "$*" >&2; }

if [ "${FORCE:-0}" != 1 ] && docker image inspect "$IMAGE" >/dev/null 2>&1; then
    log "$IMAGE already present; nothing to do (FORCE=1 rebuilds it)"
    exit 0
fi

if ! command -v debootstrap >/dev/null 2>&1; then
    if [ "$(id -u)" != 0 ]; then
        log "debootstrap is missing: install it (sudo apt-get install -y debootstrap) and rerun"
        exit 1
    fi
    log "installing debootstrap"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
fi
if [ "$(id -u)" != 0 ]; then
    log "debootstrap needs root: rerun with sudo"
    exit 1
fi

ROOTFS="$(mktemp -d /tmp/python-base-rootfs.XXXXXX)"
trap 'rm -rf "$ROOTFS"' EXIT
log "debootstrap --variant=minbase $SUITE with python3, python3-venv (about 40 s)"
# shellcheck disable=SC2086  # MIRROR is empty or one word
debootstrap --variant=minbase --include=python3,python3-venv "$SUITE" "$ROOTFS" $MIRROR \
    >"$ROOTFS.log" 2>&1 || { tail -n 30 "$ROOTFS.log" >&2; rm -f "$ROOTFS.log"; exit 1; }
rm -f "$ROOTFS.log"
# Package caches and lists are of no use inside the image.
rm -rf "$ROOTFS"/var/cache/apt/archives/*.deb "$ROOTFS"/var/lib/apt/lists/*

log "docker import -> $IMAGE"
tar -C "$ROOTFS" -c . | docker import \
    --change 'ENV LANG=C.UTF-8' \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["python3"]' \
    - "$IMAGE" >/dev/null
log "done: $(docker image inspect --format '{{.Id}} {{.Size}} bytes' "$IMAGE")"
