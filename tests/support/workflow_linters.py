"""The checks a CI or Compose file must pass offline: its published schema (check-jsonschema's
vendored copies of GitHub's workflow, GitLab CI's and the Compose specification's), and for a
GitHub workflow zizmor's audit.

Both tools come with ``pip install -e '.[test]'`` into the interpreter running the tests; a test
that finds one missing fails, naming the install, rather than skipping a check CI relies on.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.environment import run_captured

BIN = Path(sys.executable).parent


def tool(name: str) -> str:
    found = shutil.which(name, path=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    if found is None:
        pytest.fail(f"{name} is missing: pip install -e '.[test]' installs it")
    return found


GITHUB_WORKFLOWS = "vendor.github-workflows"
GITLAB_CI = "vendor.gitlab-ci"
COMPOSE_SPEC = "vendor.compose-spec"


def check_schema(
    workflow: Path, schema: str = GITHUB_WORKFLOWS
) -> subprocess.CompletedProcess[str]:
    """``check-jsonschema`` against a vendored schema (GitHub's workflow schema unless told);
    the caller judges the result."""
    return run_captured(
        [tool("check-jsonschema"), "--builtin-schema", schema, str(workflow)], timeout=120
    )


def audit(workflow: Path) -> subprocess.CompletedProcess[str]:
    """``zizmor`` offline with the strictest persona; the caller judges the result."""
    return run_captured(
        [tool("zizmor"), "--offline", "--persona=auditor", str(workflow)], timeout=120
    )
