"""Skip a test whose tool is missing, with the reason, unless CI said that mode must run."""

from __future__ import annotations

import os

import pytest

from tests.support.staging_deployment import find_nginx


def staging_required() -> bool:
    required = os.environ.get("MC_REQUIRED_MODES", "")
    return "staging_fallback" in {part.strip() for part in required.split(",")}


def require_nginx() -> str:
    """The nginx binary; skip without it, or fail when ``MC_REQUIRED_MODES`` names staging."""
    nginx = find_nginx()
    if nginx is not None:
        return nginx
    reason = "nginx is not installed: run .ci/setup-staging.sh (apt-get install -y nginx)"
    if staging_required():
        pytest.fail(f"MC_REQUIRED_MODES names staging_fallback but {reason}")
    pytest.skip(reason)
