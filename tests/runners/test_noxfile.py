"""The noxfile's sessions, skip and summary behaviour, through nox run as a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.support.environment import run_captured

ROOT = Path(__file__).resolve().parents[2]


def nox(
    *args: str, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    full_env = {
        k: v for k, v in os.environ.items() if not k.startswith(("STAGING_", "MC_", "TEST_MODE"))
    }
    full_env.update(env or {})
    return run_captured(
        [sys.executable, "-m", "nox", "--no-color", *args], cwd=ROOT, env=full_env, timeout=timeout
    )


def test_nox_lists_one_mission_critical_session_per_mode_with_tags() -> None:
    listed = nox("-l", "--json")
    assert listed.returncode == 0, listed.stderr
    sessions = {s["session"]: s["tags"] for s in json.loads(listed.stdout)}
    for mode in ("docker_local", "staging_fallback", "minimal"):
        assert sessions[f"mission_critical(mode='{mode}')"] == ["mission_critical", mode]
    assert sessions["tests"] == ["checks"]
    # The staging and gate sessions run when asked for, not by default.
    text = nox("-l").stdout
    assert "- staging" in text
    assert "- gate" in text


def test_a_mode_that_cannot_run_is_skipped_with_the_probe_reason_and_the_gate_fails(
    tmp_path: Path,
) -> None:
    run = nox(
        "-s",
        "mission_critical(mode='docker_local')",
        env={"FORCE_DOCKER_UNAVAILABLE": "true", "MC_REPORT_DIR": str(tmp_path)},
    )
    output = run.stdout + run.stderr
    assert "Skipped" in output or "skipped" in output
    assert "unavailable (forced)" in output
    # Nothing ran anywhere: the gate that follows must not call that a pass.
    assert run.returncode != 0, output
    assert "gate: FAILED" in output
    ledger = json.loads((tmp_path / "docker_local" / "ledger.json").read_text())
    assert ledger["status"] == "skipped"
    assert "forced" in ledger["reason"]


def test_the_reason_a_mode_is_skipped_is_printed_where_decided_and_in_the_gate_summary_only(
    tmp_path: Path,
) -> None:
    socket_path = tmp_path / "no-daemon-here.sock"
    run = nox(
        "-s",
        "mission_critical(mode='docker_local')",
        env={"DOCKER_HOST": f"unix://{socket_path}", "MC_REPORT_DIR": str(tmp_path / "out")},
    )
    output = run.stdout + run.stderr
    reason = next(line for line in output.splitlines() if line.startswith("docker_local: skipped"))
    reason = reason.removeprefix("docker_local: skipped: ")
    assert str(socket_path) in reason
    assert output.count(reason) == 2, output
    assert "probe docker_local: absent in " in output
    # A user's machine is not this repository's CI: no pointer to its scripts.
    assert ".ci/" not in output
    assert "start the Docker daemon" in reason


def test_a_required_mode_that_cannot_run_fails_instead_of_skipping(tmp_path: Path) -> None:
    run = nox(
        "-s",
        "mission_critical(mode='docker_local')",
        env={
            "FORCE_DOCKER_UNAVAILABLE": "true",
            "MC_REQUIRED_MODES": "docker_local",
            "MC_REPORT_DIR": str(tmp_path),
        },
    )
    output = run.stdout + run.stderr
    assert run.returncode != 0
    assert "docker_local is required by MC_REQUIRED_MODES but cannot run" in output


def test_nox_s_staging_with_nothing_configured_fails_naming_the_variable_to_set(
    tmp_path: Path,
) -> None:
    # The session exists only to test staging: asked for by name, absent is a failure.
    run = nox("-s", "staging", env={"MC_REPORT_DIR": str(tmp_path)})
    output = run.stdout + run.stderr
    assert run.returncode == 1, output
    assert (
        "Session staging aborted: staging_fallback is what nox -s staging runs, but it cannot"
        " run here: not configured: set STAGING_WEBSOCKET_URL"
    ) in output
    assert "Traceback" not in output


def test_the_staging_mode_session_skips_an_absent_staging_with_the_variable_to_set(
    tmp_path: Path,
) -> None:
    run = nox(
        "-s", "mission_critical(mode='staging_fallback')", env={"MC_REPORT_DIR": str(tmp_path)}
    )
    output = run.stdout + run.stderr
    assert "Session mission_critical(mode='staging_fallback') skipped" in output
    assert "not configured: set STAGING_WEBSOCKET_URL" in output
    # Skipped is not a pass: required, the same run fails.
    required = nox(
        "-s",
        "mission_critical(mode='staging_fallback')",
        env={"MC_REPORT_DIR": str(tmp_path), "MC_REQUIRED_MODES": "staging_fallback"},
    )
    assert required.returncode != 0
    assert "staging_fallback is required by MC_REQUIRED_MODES" in required.stdout + required.stderr


def test_a_configuration_error_is_one_line_without_a_traceback(tmp_path: Path) -> None:
    run = nox(
        "-s",
        "staging",
        env={"MC_REPORT_DIR": str(tmp_path), "STAGING_WEBSOCKET_URL": "http://x/ws"},
    )
    output = run.stdout + run.stderr
    assert run.returncode != 0
    assert "STAGING_WEBSOCKET_URL='http://x/ws' (environment) has scheme 'http'" in output
    assert "Traceback" not in output


def test_the_minimal_session_runs_the_suite_and_the_gate_passes(tmp_path: Path) -> None:
    run = nox(
        "-s", "mission_critical(mode='minimal')", env={"MC_REPORT_DIR": str(tmp_path)}, timeout=600
    )
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-4000:]
    ledger = json.loads((tmp_path / "minimal" / "ledger.json").read_text())
    outcomes = {t["outcome"] for t in ledger["tests"]}
    assert len(ledger["tests"]) >= 60
    assert outcomes <= {"passed", "skipped"}


def test_a_settings_error_is_printed_once_per_nox_run_naming_where_it_came_from(
    tmp_path: Path,
) -> None:
    run = nox(
        "-s", "mission_critical", env={"MC_REPORT_DIR": str(tmp_path), "MC_CONNECT_TIMEOUT_S": "0"}
    )
    output = run.stdout + run.stderr
    assert run.returncode != 0
    message = "MC_CONNECT_TIMEOUT_S='0' (environment) must be more than 0 seconds"
    assert output.count(message) == 1, output
    first = "mission_critical(mode='docker_local')"
    assert output.count(f"the settings are wrong: see session {first} above") == 2, output
    assert "Traceback" not in output


def test_a_report_folder_that_cannot_be_created_fails_the_session_in_one_line() -> None:
    run = nox("-s", "mission_critical(mode='minimal')", env={"MC_REPORT_DIR": "/proc/nope"})
    output = run.stdout + run.stderr
    assert run.returncode != 0
    assert (
        "MC_REPORT_DIR='/proc/nope' (environment): cannot create the report folder '/proc/nope'"
        " (No such file or directory): choose a writable folder" in output
    ), output
    assert "Traceback" not in output
