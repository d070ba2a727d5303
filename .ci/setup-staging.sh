#!/usr/bin/env bash
# nginx for the loopback staging deployment (tests/support/staging_deployment.py): installed from
# Debian when missing. The package's own service is not started: the deployment runs its own
# `nginx -c <config>` with every path in a private folder.
set -euo pipefail

if command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ]; then
    echo "nginx present: $( (command -v nginx || echo /usr/sbin/nginx) | head -1)"
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "nginx is missing and apt-get is not available: install nginx (1.19.5 or newer)" >&2
    exit 2
fi
sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
    sudo_cmd=(sudo -n)
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
# policy-rc.d may deny starting the packaged service in containers; that is fine here.
"${sudo_cmd[@]}" apt-get install -y -qq nginx >/dev/null
/usr/sbin/nginx -v
