"""examples/node-chat, a Node service with a protocol of its own, through all three modes.

A copy of the example, with this checkout's harness as a wheel, runs ``nox -s mission_critical``
with every mode required: minimal runs ``node server.js`` (the ``command`` kind), docker_local
builds its image on the local base image, and staging_fallback reaches the same server behind
nginx with TLS on loopback (tests/support/staging_deployment.py). The gate must pass.

Where node, npm's ``node_modules``, Docker or nginx is absent the test is skipped with the
reason, and fails instead under ``CI=true`` or when ``MC_REQUIRED_MODES`` names a mode it needs.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import tomllib
from pathlib import Path

from test_framework.probes.docker import probe_docker
from test_framework.settings import load_settings
from tests.support.checkout import clean_copy
from tests.support.dockerd_lock import dockerd_lock
from tests.support.environment import run_captured
from tests.support.nox_project import nox_in
from tests.support.requirements import absent
from tests.support.staging_deployment import Auth, Service, StagingDeployment, find_nginx

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "node-chat"
MODES = ("docker_local", "staging_fallback", "minimal")
BUILD = "import sys; from setuptools import build_meta; print(build_meta.build_wheel(sys.argv[1]))"
NOX_TIMEOUT_S = 900
TEST_NAME = re.compile(r"^async def (test_\w+)", re.M)


def missing_tools() -> str | None:
    """Why the example cannot run in all three modes here, or None when it can."""
    if shutil.which("node") is None:
        return "node is not installed: apt-get install -y nodejs npm"
    if not (EXAMPLE / "node_modules" / "ws").is_dir():
        return "examples/node-chat has no node_modules: run npm ci in examples/node-chat"
    if not (EXAMPLE / "docker" / "node_modules" / "ws").is_dir():
        return (
            "examples/node-chat's image needs docker/node_modules:"
            " run bash examples/node-chat/docker/build-node-modules.sh"
        )
    probe = probe_docker(load_settings(EXAMPLE, environ=dict(os.environ)))
    if not probe.available:
        return f"the example's docker_local mode needs Docker: {probe.reason}"
    if find_nginx() is None:
        return (
            "the example's staging deployment needs nginx:"
            " run .ci/setup-staging.sh (apt-get install -y nginx)"
        )
    return None


def harness_wheels(scratch: Path) -> Path:
    """A folder with this checkout's harness as a wheel, built from a clean copy."""
    source = clean_copy(ROOT, scratch / "harness")
    dist = scratch / "dist"
    dist.mkdir()
    built = run_captured([sys.executable, "-c", BUILD, str(dist)], cwd=source, timeout=180)
    assert built.returncode == 0, built.stderr[-4000:]
    return dist


def node_chat(project: Path) -> Service:
    """The example as its staging deployment runs it: the copy's server.js on a port of its own."""
    return Service(
        "node-chat",
        ("node", str(project / "server.js")),
        env={"NODE_CHAT_PORT": "{port}", "NODE_CHAT_TOKEN": "{secret}"},
        health_path="/healthz",
        ws_path="/chat",
        auth=Auth.BEARER,
    )


def test_the_node_example_passes_the_gate_with_all_three_modes_required(tmp_path: Path) -> None:
    reason = missing_tools()
    if reason is not None:
        absent(reason, *MODES)
    dist = harness_wheels(tmp_path)
    project = clean_copy(EXAMPLE, tmp_path / "node-chat")

    # Shared: a test that stops dockerd (tests/resilience) waits until this run is done.
    with (
        dockerd_lock(shared=True, poll_s=1.0),
        StagingDeployment(tmp_path / "staging", service=node_chat(project)) as deployment,
    ):
        done = nox_in(
            project,
            "-s",
            "mission_critical",
            env={
                **deployment.variables(),
                "MC_REQUIRED_MODES": ",".join(MODES),
                "PIP_FIND_LINKS": str(dist),
                "UV_FIND_LINKS": str(dist),
            },
            timeout=NOX_TIMEOUT_S,
        )
        access = (deployment.ca_bundle.parent / "access.log").read_text()

    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-8000:]
    assert "gate: PASSED" in done.stdout, output[-8000:]
    assert deployment.token not in output
    ledgers = {
        mode: json.loads((project / "reports" / mode / "ledger.json").read_text()) for mode in MODES
    }
    assert len({ledger["invocation"] for ledger in ledgers.values()}) == 1
    suite = (EXAMPLE / "tests" / "mission_critical" / "test_node_chat.py").read_text()
    for mode, ledger in ledgers.items():
        assert ledger["status"] == "ran", (mode, ledger["reason"])
        outcomes = {t["nodeid"]: t["outcome"] for t in ledger["tests"]}
        assert set(outcomes.values()) == {"passed"}, (mode, outcomes)
        names = {nodeid.rsplit("::", 1)[-1].split("[", 1)[0] for nodeid in outcomes}
        assert names == set(TEST_NAME.findall(suite)), (mode, sorted(names))
    # minimal ran the command (one per worker, each logged in the mode's report folder), and
    # staging went through nginx's TLS.
    logs = sorted((project / "reports" / "minimal").glob("service*.log"))
    assert logs
    for log in logs:
        assert "node-chat listening on http://127.0.0.1:" in log.read_text(), log
    assert '"GET /chat" 101' in access
    assert deployment.token not in access


def test_the_adopting_pages_command_section_shows_the_examples_own_settings() -> None:
    page = (ROOT / "docs" / "adopting.md").read_text()
    block = re.search(r"<!-- node-chat-service -->\n```toml\n(.*?)^```", page, re.S | re.M)
    assert block is not None, "docs/adopting.md lost its node-chat settings block"
    shown = tomllib.loads(block.group(1))["tool"]["test_framework"]
    actual = tomllib.loads((EXAMPLE / "pyproject.toml").read_text())["tool"]["test_framework"]
    assert shown["service"] == actual["service"]
    assert {key: actual[key] for key in shown if key != "service"} == {
        key: value for key, value in shown.items() if key != "service"
    }
