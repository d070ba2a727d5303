"""Skip a test whose tool is missing, with the reason, unless CI said that mode must run."""

from __future__ import annotations

import os
from typing import NoReturn

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


def on_ci() -> bool:
    """Whether ``CI`` says this is a CI run: ``true``, ``1``..., not empty, ``0`` or ``false``."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def absent(reason: str, *modes: str) -> NoReturn:
    """Skip for ``reason``; fail instead under ``CI=true`` or when ``MC_REQUIRED_MODES`` names
    one of ``modes``: there the infrastructure is part of the job, and a skip would hide it."""
    required = {part.strip() for part in os.environ.get("MC_REQUIRED_MODES", "").split(",")}
    named = sorted(required.intersection(modes))
    if on_ci():
        pytest.fail(f"CI=true but {reason}")
    if named:
        pytest.fail(f"MC_REQUIRED_MODES names {', '.join(named)} but {reason}")
    pytest.skip(reason)
