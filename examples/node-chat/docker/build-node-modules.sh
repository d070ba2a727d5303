#!/usr/bin/env bash
# Fill docker/node_modules with the service's dependencies from package-lock.json (`npm ci
# --omit=dev`), so that `docker build` copies them in and needs no network: npm's registry is
# reachable from the host, not from a build. ws is plain JavaScript, so a copy made on the host
# runs in the image whatever its libc.
#
#   bash docker/build-node-modules.sh           # idempotent: skips when package-lock.json is unchanged
#   FORCE=1 bash docker/build-node-modules.sh   # install again
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(dirname "$HERE")"
OUT="$HERE/node_modules"
log() { printf '[build-node-modules %3ss] %s\n' "$SECONDS" "$*" >&2; }

command -v npm >/dev/null 2>&1 || { log "npm is not on PATH: install Node.js (apt-get install -y nodejs npm)"; exit 1; }
stamp="$OUT/.stamp"
want="$(cat "$ROOT/package.json" "$ROOT/package-lock.json" | sha256sum | cut -d' ' -f1)"
if [ "${FORCE:-0}" != 1 ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    log "$OUT is up to date; FORCE=1 installs again"
    exit 0
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp "$ROOT/package.json" "$ROOT/package-lock.json" "$work/"
log "npm ci --omit=dev from package-lock.json"
(cd "$work" && npm ci --omit=dev --no-audit --no-fund --loglevel=error)
rm -rf "$OUT"
mv "$work/node_modules" "$OUT"
printf '%s\n' "$want" >"$stamp"
log "done: $(ls "$OUT" | tr '\n' ' ')"
