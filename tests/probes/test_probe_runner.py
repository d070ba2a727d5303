"""The probe runner: every mode's probe at once, answers in auto's order, errors not swallowed."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from test_framework.modes import ALL_MODES, Mode
from test_framework.probes import runner
from test_framework.probes.result import ProbeResult
from test_framework.settings import Settings, load_settings


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(tmp_path, environ={})


def test_the_probes_run_at_the_same_time(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each probe waits until all three are running: probed one after another, they would
    # break the barrier instead.
    barrier = threading.Barrier(len(ALL_MODES), timeout=10)

    def meeting(mode: Mode) -> runner.Probe:
        def probe(_: Settings) -> ProbeResult:
            barrier.wait()
            return ProbeResult(mode, True, f"{mode} met the others", 0.0)

        return probe

    monkeypatch.setattr(runner, "PROBES", {mode: meeting(mode) for mode in ALL_MODES})
    results = runner.probe_modes(settings)
    assert list(results) == list(ALL_MODES)
    assert all(result.reason.endswith("met the others") for result in results.values())


def test_an_unexpected_error_in_a_probe_reaches_the_caller(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(_: Settings) -> ProbeResult:
        raise ValueError("a bug in the staging probe")

    probes = dict(runner.PROBES)
    probes[Mode.STAGING_FALLBACK] = broken
    monkeypatch.setattr(runner, "PROBES", probes)
    with pytest.raises(ValueError, match="a bug in the staging probe"):
        runner.probe_modes(settings)


def test_an_os_error_a_probe_did_not_expect_makes_its_mode_unavailable(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing(_: Settings) -> ProbeResult:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(runner, "PROBES", {**runner.PROBES, Mode.DOCKER_LOCAL: failing})
    result = runner.probe_modes(settings, [Mode.DOCKER_LOCAL])[Mode.DOCKER_LOCAL]
    assert not result.available
    assert result.reason == "probe failed: [Errno 13] Permission denied"
