"""``python -m test_framework contract``: the shipped suite against a deployment named by a flag,
run as a user would, in a folder outside the checkout, with the harness installed (editable)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import Any

from tests.support.environment import isolated_environment, run_captured
from tests.support.fake_staging import Behaviour, FakeStaging
from tests.support.projects import install_copy
from tests.support.requirements import require_nginx
from tests.support.staging_deployment import StagingDeployment

EXTRA = 'pip install "mission-critical-harness[contract]"'
ROOT = Path(__file__).resolve().parents[2]


def contract(
    cwd: Path, *args: str, python: str = sys.executable, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    environ = isolated_environment(env)
    # The installed harness, not the checkout on PYTHONPATH: as a user has it.
    if env is None or "PYTHONPATH" not in env:
        del environ["PYTHONPATH"]
    return run_captured(
        [python, "-m", "test_framework", "contract", *args], cwd=cwd, env=environ, timeout=300
    )


def contract_ledger(cwd: Path, mode: str) -> dict[str, Any]:
    """The ledger the contract command wrote for ``mode``, run in ``cwd``."""
    ledger: dict[str, Any] = json.loads(
        (cwd / "reports" / "contract" / mode / "ledger.json").read_text()
    )
    return ledger


def test_the_contract_suite_runs_against_the_reference_service_by_factory_and_the_gate_passes(
    tmp_path: Path,
) -> None:
    run = contract(tmp_path, "--factory", "agent_backend.testing:start_in_process")
    output = run.stdout + run.stderr
    assert run.returncode == 0, output
    assert "probe minimal: available" in output
    assert "gate: PASSED" in output
    assert "ran nowhere: 0" in output
    ledger = contract_ledger(tmp_path, "minimal")
    assert ledger["status"] == "ran"
    names = {Path(test["nodeid"].partition("::")[0]).name for test in ledger["tests"]}
    assert "test_mc_handshake.py" in names
    assert "test_mc_shutdown.py" in names  # deployment control: minimal gives it
    assert len(ledger["tests"]) > 100
    assert {test["outcome"] for test in ledger["tests"]} == {"passed"}
    assert (tmp_path / "reports" / "contract" / "index.html").is_file()


def test_a_url_whose_deployment_answers_the_wrong_nonce_fails_naming_the_step(
    tmp_path: Path,
) -> None:
    credentials = {"STAGING_TEST_USER": "someone", "STAGING_TEST_PASSWORD": "contract-password"}
    with FakeStaging(Behaviour(websocket="wrong-nonce")) as fake:
        run = contract(tmp_path, "--url", fake.ws_url, env=credentials)
    output = run.stdout + run.stderr
    assert run.returncode == 1, output
    assert "staging_fallback is configured but unhealthy: ping failed after" in output
    assert "wrong nonce" in output
    assert "gate: FAILED" in output
    ledger = contract_ledger(tmp_path, "staging_fallback")
    assert ledger["status"] == "error"
    assert ledger["probes"][0]["status"] == "broken"


def test_a_url_alone_leaves_out_the_deployment_control_tests_saying_so_and_the_gate_passes(
    tmp_path: Path,
) -> None:
    """The reference service behind nginx terminating TLS, reached by its wss:// URL."""
    require_nginx()
    with StagingDeployment(tmp_path / "staging") as deployment:
        variables = deployment.variables()
        url = variables.pop("STAGING_WEBSOCKET_URL")
        run = contract(tmp_path, "--url", url, env=variables)
    output = run.stdout + run.stderr
    assert run.returncode == 0, output
    assert "probe staging_fallback: available" in output
    assert "the deployment_control tests are left out" in output
    assert "gate: PASSED" in output
    ledger = contract_ledger(tmp_path, "staging_fallback")
    names = {Path(test["nodeid"].partition("::")[0]).name for test in ledger["tests"]}
    assert "test_mc_handshake.py" in names
    assert "test_mc_shutdown.py" not in names
    assert {test["outcome"] for test in ledger["tests"]} == {"passed"}


def test_a_compose_file_without_a_docker_daemon_is_skipped_with_the_reason_and_never_green(
    tmp_path: Path,
) -> None:
    compose = tmp_path / "compose.yml"
    compose.write_text("services:\n  backend:\n    image: example/backend\n")
    run = contract(
        tmp_path,
        "--compose-file",
        str(compose),
        env={"DOCKER_HOST": "unix:///nonexistent.sock"},
    )
    output = run.stdout + run.stderr
    assert run.returncode == 1, output
    assert "probe docker_local: absent" in output
    assert "Docker daemon not reachable" in output
    assert "\ndocker_local cannot run here: Docker daemon not reachable" in output
    assert "gate: FAILED" in output


def test_without_a_deployment_flag_the_command_refuses_naming_the_flags(tmp_path: Path) -> None:
    run = contract(tmp_path)
    assert run.returncode == 2, run.stdout + run.stderr
    assert run.stderr.count("\n") == 1, run.stderr
    for flag in ("--factory", "--compose-file", "--url"):
        assert flag in run.stderr
    assert not (tmp_path / "reports").exists()


def test_a_url_of_the_wrong_scheme_is_refused_naming_the_option(tmp_path: Path) -> None:
    run = contract(tmp_path, "--url", "https://staging.example.com/ws")
    assert run.returncode == 2, run.stdout + run.stderr
    assert run.stderr == (
        "error: --url='https://staging.example.com/ws' (option) has scheme 'https':"
        " use wss:// or ws://, e.g. wss://host[:port]/path\n"
    )
    assert not (tmp_path / "reports").exists()


def test_without_pyjwt_the_command_refuses_naming_the_extra(tmp_path: Path) -> None:
    """An interpreter where PyJWT is not installed: a virtualenv whose site-packages holds all of
    this one's but PyJWT."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    target = Path(
        subprocess.run(
            [python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    for entry in Path(sysconfig.get_path("purelib")).iterdir():
        if entry.name == "jwt" or entry.name.lower().startswith("pyjwt-"):
            continue
        (target / entry.name).symlink_to(entry)
    harness = run_captured(
        [python, "-c", "import test_framework"], cwd=tmp_path, env={}, timeout=30
    )
    assert harness.returncode == 0, harness.stderr
    missing = run_captured([python, "-c", "import jwt"], cwd=tmp_path, env={}, timeout=30)
    assert "No module named 'jwt'" in missing.stderr

    run = contract(tmp_path, "--factory", "agent_backend.testing:start_in_process", python=python)
    assert run.returncode == 2, run.stdout + run.stderr
    assert run.stderr.count("\n") == 1, run.stderr
    assert EXTRA in run.stderr
    assert "Traceback" not in run.stderr
    assert not (tmp_path / "reports").exists()


def test_a_bug_seeded_after_a_first_run_in_a_service_installed_as_a_copy_fails_the_second(
    tmp_path: Path,
) -> None:
    """The reference service as a team's project in a src layout, installed (not editable) into
    a folder on PYTHONPATH: the contract command imports that copy, which a seeded bug in the
    working tree leaves behind; its ledger says so, and the gate fails as STALE CODE."""
    team = tmp_path / "team"
    shutil.copytree(
        ROOT / "services" / "agent-backend" / "agent_backend",
        team / "src" / "agent_backend",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    pyproject = (ROOT / "services" / "agent-backend" / "pyproject.toml").read_text()
    (team / "pyproject.toml").write_text(
        pyproject.replace(
            "[tool.setuptools.packages.find]\n",
            '[tool.setuptools.packages.find]\nwhere = ["src"]\n',
        )
    )
    site = tmp_path / "site"
    install_copy(team, site)
    # The service's installed copy first on the path; the harness is this interpreter's. The
    # subset (-k) is asked for, so the gate allows it also when this suite runs under CI.
    path = {"PYTHONPATH": str(site), "MC_ALLOW_SUBSET": "true"}
    args = ("--factory", "agent_backend.testing:start_in_process", "--", "-k", "connection_ready")

    first = contract(team, *args, env=path)
    output = first.stdout + first.stderr
    assert first.returncode == 0, output
    assert "gate: PASSED" in output

    messages = team / "src" / "agent_backend" / "messages.py"
    messages.write_text(messages.read_text().replace('"connection_ready"', '"connection_redy"'))
    second = contract(team, *args, env=path)
    output = second.stdout + second.stderr
    assert second.returncode == 1, output
    assert "STALE CODE: minimal (" in output, output
    assert (
        "the suite ran against agent-backend 0.1.0 as installed in its environment, not the"
        " working tree: its installed copy differs from the working tree in"
        " agent_backend/messages.py"
    ) in output
    assert "gate: FAILED" in output
