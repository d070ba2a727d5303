"""A small project that uses this harness, in a temporary folder, for real nox runs.

It holds this repository's noxfile, ``pyproject.toml``, ``test_framework`` and ``services/``
(agent_backend), and a one-test mission-critical suite, so a nox run there builds its own
environments (under the project's ``.nox``) and exercises exactly what a user's project would,
in seconds rather than the minutes the real suite takes. A conftest makes pytest fail to start
in the mode named by ``CRASH_IN_MODE``, before the harness writes any ledger: a mode session
that crashes.

``LoopbackStaging`` is a staging deployment the harness can reach: ``agent_backend`` serving
plain ``ws://`` on 127.0.0.1, in its own process.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from tests.support.background import Background

ROOT = Path(__file__).resolve().parents[2]
COPIED = ("noxfile.py", "pyproject.toml", "README.md", "test_framework", "services")
START_TIMEOUT_S = 20.0

SUITE = """\
import pytest

pytestmark = pytest.mark.mission_critical


async def test_a_ping_is_answered_with_its_nonce(mc_connect):
    client = await mc_connect()
    pong = await client.ping(7)
    assert pong["nonce"] == 7
"""

CRASHING_CONFTEST = """\
import os
import sys

if os.environ.get("CRASH_IN_MODE") in sys.argv:
    raise RuntimeError("this session crashes before the harness writes a ledger")
"""


def make_project(directory: Path) -> Path:
    """Copy the harness into ``directory`` with the one-test suite; return the folder."""
    directory.mkdir(parents=True, exist_ok=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
    for name in COPIED:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, directory / name, ignore=ignore)
        else:
            shutil.copy2(source, directory / name)
    # The copy's suite is one test of its own, not this repository's: its committed baseline
    # (of this repository's 151 tests) does not apply, so the copy configures none.
    pyproject = directory / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text("utf-8").replace('baseline = "tests/mission_critical/BASELINE"\n', ""),
        "utf-8",
    )
    suite = directory / "tests" / "mission_critical"
    suite.mkdir(parents=True)
    (suite / "test_tiny.py").write_text(SUITE, "utf-8")
    (suite / "conftest.py").write_text(CRASHING_CONFTEST, "utf-8")
    return directory


def nox_in(
    project: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """``python -m nox`` in ``project``, with none of this process's harness settings."""
    inherited = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("STAGING_", "MC_", "PYTEST_", "NOX_"))
        and key not in {"TEST_MODE", "USE_STAGING_FALLBACK", "CRASH_IN_MODE", "VIRTUAL_ENV"}
    }
    return subprocess.run(
        [sys.executable, "-m", "nox", "--no-color", *args],
        cwd=project,
        env={**inherited, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class LoopbackStaging(Background["LoopbackStaging"]):
    """``agent_backend`` on ``ws://127.0.0.1:<port>/ws``, started and stopped by ``with``."""

    def __init__(self, log: Path) -> None:
        self.log = log
        self.password = secrets.token_urlsafe(18)
        self.port = 0
        self._process: subprocess.Popen[bytes] | None = None

    def variables(self) -> dict[str, str]:
        return {
            "STAGING_WEBSOCKET_URL": f"ws://127.0.0.1:{self.port}/ws",
            "STAGING_TEST_USER": "mc-staging",
            "STAGING_TEST_PASSWORD": self.password,
        }

    def start(self) -> LoopbackStaging:
        self.port = _free_port()
        env = {
            **os.environ,
            "AGENT_JWT_SECRET": secrets.token_urlsafe(32),
            "AGENT_TEST_PASSWORD": self.password,
            "AGENT_ENV": "test",
            "PYTHONPATH": str(ROOT / "services" / "agent-backend"),
        }
        argv = [sys.executable, "-m", "agent_backend", "--host", "127.0.0.1"]
        with self.log.open("wb") as log:
            self._process = subprocess.Popen(
                [*argv, "--port", str(self.port)], env=env, stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=1):
                    return self
            except (urllib.error.URLError, ConnectionError):
                if self._process.poll() is not None:
                    break
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"agent_backend did not start: see {self.log}")

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()


TEAM_NOXFILE = """\
from test_framework.runners.nox_sessions import define_sessions

define_sessions()
"""


def make_team_project(directory: Path) -> Path:
    """A project of a team that installs the harness rather than holding it: the two-line
    noxfile, a suite of its own in ``checks/critical``, and an ``install`` list naming the
    harness and the reference service by path; nox's own interpreter (this one) has the harness.
    """
    suite = directory / "checks" / "critical"
    suite.mkdir(parents=True)
    (suite / "test_team.py").write_text(SUITE, "utf-8")
    service = ROOT / "services" / "agent-backend"
    (directory / "noxfile.py").write_text(TEAM_NOXFILE, "utf-8")
    (directory / "pyproject.toml").write_text(
        f"""\
[tool.test_framework]
suite = "checks/critical"
install = ["-e {service}", "-e {ROOT}"]

[tool.test_framework.service]
preset = "agent-events"
factory = "agent_backend.testing:start_in_process"

[tool.pytest.ini_options]
asyncio_mode = "auto"
asyncio_default_fixture_loop_scope = "function"
""",
        "utf-8",
    )
    return directory


# A service of a team's own, in a src layout: installed as a copy (".[test]"-like), nothing of it
# is importable from the project's folder, so a suite that ran against a stale copy would pass.
GREETING_SERVICE = '''\
"""Writes GREETING to every connection, then hangs up."""

import asyncio

GREETING = b"hello\\n"


class Service:
    def __init__(self, server):
        self._server = server

    @property
    def port(self):
        return self._server.sockets[0].getsockname()[1]

    async def close(self):
        self._server.close()
        await self._server.wait_closed()

    async def shutdown(self):
        await self.close()


async def start(*, host, port, test_password, jwt_secret):
    async def greet(reader, writer):
        writer.write(GREETING)
        await writer.drain()
        writer.close()

    return Service(await asyncio.start_server(greet, host, port))
'''

GREETING_SUITE = """\
import socket
from urllib.parse import urlsplit

import pytest

pytestmark = pytest.mark.mission_critical


def test_the_service_greets_every_connection(mc_endpoints):
    url = urlsplit(mc_endpoints.ws_url)
    with socket.create_connection((url.hostname, url.port), timeout=5) as sock:
        assert sock.makefile("rb").readline() == b"hello\\n"
"""


def make_service_project(directory: Path, harness: str, noxfile: str = TEAM_NOXFILE) -> Path:
    """A team's project whose service ``greeter`` (src/greeter) is installed as a copy, next to
    the harness (``harness``: a requirement line); its one mission-critical test checks the
    greeting. ``seed_bug`` changes the greeting in the working tree."""
    package = directory / "src" / "greeter"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(GREETING_SERVICE, "utf-8")
    suite = directory / "mc"
    suite.mkdir()
    (suite / "test_greeting.py").write_text(GREETING_SUITE, "utf-8")
    (directory / "noxfile.py").write_text(noxfile, "utf-8")
    (directory / "pyproject.toml").write_text(
        f"""\
[build-system]
requires = ["setuptools>=69"]
build-backend = "setuptools.build_meta"

[project]
name = "greeter"
version = "1.0.0"

[tool.setuptools.packages.find]
where = ["src"]

[tool.test_framework]
suite = "mc"
install = [{harness!r}, "."]

[tool.test_framework.service]
factory = "greeter:start"

[tool.test_framework.profiles.minimal]
workers = 0

[tool.pytest.ini_options]
asyncio_default_fixture_loop_scope = "function"
""",
        "utf-8",
    )
    return directory


def seed_bug(project: Path) -> None:
    """The greeting changes in the working tree, as a developer's edit would."""
    source = project / "src" / "greeter" / "__init__.py"
    source.write_text(source.read_text("utf-8").replace('b"hello', 'b"HELLO'), "utf-8")
