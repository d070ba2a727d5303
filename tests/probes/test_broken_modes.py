"""A mode someone configured that fails its probe fails the run; nox run as a subprocess against
a real loopback deployment that answers pings with the wrong nonce."""

from __future__ import annotations

import json
from pathlib import Path

from tests.runners.test_noxfile import nox
from tests.support.fake_staging import Behaviour, FakeStaging


def broken_staging(url: str, report_dir: Path) -> dict[str, str]:
    return {
        "STAGING_WEBSOCKET_URL": url,
        "STAGING_TEST_USER": "someone",
        "STAGING_TEST_PASSWORD": "broken-modes-password",
        "MC_REPORT_DIR": str(report_dir),
        "FORCE_DOCKER_UNAVAILABLE": "true",
    }


def test_nox_staging_fails_naming_the_step_when_the_configured_deployment_is_broken(
    tmp_path: Path,
) -> None:
    with FakeStaging(Behaviour(websocket="wrong-nonce")) as fake:
        run = nox("-s", "staging", env=broken_staging(fake.ws_url, tmp_path))
    output = run.stdout + run.stderr
    assert run.returncode != 0, output
    assert "staging_fallback is configured but unhealthy: ping failed after" in output
    assert "wrong nonce" in output
    assert "Session staging skipped" not in output


def test_the_gate_fails_a_mission_critical_run_whose_configured_staging_is_broken(
    tmp_path: Path,
) -> None:
    with FakeStaging(Behaviour(websocket="wrong-nonce")) as fake:
        run = nox(
            "-s",
            "mission_critical(mode='staging_fallback')",
            env=broken_staging(fake.ws_url, tmp_path),
        )
    output = run.stdout + run.stderr
    assert run.returncode != 0, output
    assert "gate: FAILED" in output
    assert "the run could not start: configured but unhealthy: ping failed after" in output
    ledger = json.loads((tmp_path / "staging_fallback" / "ledger.json").read_text())
    assert ledger["status"] == "error"
    assert ledger["probes"][0]["status"] == "broken"
