"""A pytest plugin, loaded with ``-p tests.resilience.password_spy``, that tells a test the secrets
the harness generated for this run: the controller writes the run's test password and JWT secret
to ``MC_SPY_FILE`` (which must be outside the report folder), so the test can look for them in
everything the run wrote."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from test_framework.pytest_plugin.state import STATE


# After test_framework.pytest_plugin.hooks has decided the run's secrets
@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    if hasattr(config, "workerinput"):
        return  # the workers received the controller's secrets
    run = config.stash[STATE].run
    secrets = {"test_password": run.test_password, "jwt_secret": run.jwt_secret}
    Path(os.environ["MC_SPY_FILE"]).write_text(json.dumps(secrets))
