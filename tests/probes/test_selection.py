"""Mode selection from probe results, and the minimal mode's probe."""

from __future__ import annotations

from pathlib import Path

import pytest

from test_framework.errors import ModeBrokenError, ModeUnavailableError
from test_framework.modes import ALL_MODES, Mode, parse_mode, parse_mode_list
from test_framework.probes.minimal import probe_minimal
from test_framework.probes.result import ProbeResult
from test_framework.probes.selection import select_mode
from test_framework.settings import load_settings


def results(*available: Mode) -> dict[Mode, ProbeResult]:
    return {
        mode: ProbeResult(
            mode, mode in available, f"{mode} says {'yes' if mode in available else 'no'}", 1.0
        )
        for mode in ALL_MODES
    }


def test_auto_prefers_docker_when_everything_can_run() -> None:
    assert select_mode(None, results(*ALL_MODES)).mode is Mode.DOCKER_LOCAL


def test_auto_falls_back_to_staging_then_minimal_and_says_what_it_passed_over() -> None:
    selection = select_mode(None, results(Mode.MINIMAL))
    assert selection.mode is Mode.MINIMAL
    assert "docker_local: docker_local says no" in selection.reason
    assert "staging_fallback: staging_fallback says no" in selection.reason
    assert (
        select_mode(None, results(Mode.STAGING_FALLBACK, Mode.MINIMAL)).mode
        is Mode.STAGING_FALLBACK
    )


def test_a_requested_mode_that_cannot_run_is_an_error_naming_the_probe_reason() -> None:
    with pytest.raises(
        ModeUnavailableError, match="docker_local cannot run here: docker_local says no"
    ):
        select_mode(Mode.DOCKER_LOCAL, results(Mode.MINIMAL))


def test_a_requested_mode_that_can_run_is_chosen_with_its_reason() -> None:
    selection = select_mode(Mode.MINIMAL, results(Mode.MINIMAL))
    assert selection == selection.__class__(Mode.MINIMAL, "minimal requested: minimal says yes")


def test_when_no_mode_can_run_auto_says_why_for_each() -> None:
    with pytest.raises(ModeUnavailableError, match="no mode can run here") as raised:
        select_mode(None, results())
    assert all(mode.value in str(raised.value) for mode in ALL_MODES)


def test_auto_refuses_to_run_another_mode_while_a_configured_one_is_broken() -> None:
    probes = results(Mode.DOCKER_LOCAL, Mode.MINIMAL)
    probes[Mode.STAGING_FALLBACK] = ProbeResult(
        Mode.STAGING_FALLBACK, False, "ping failed after 3 ms: wrong nonce", 3.0, broken=True
    )
    with pytest.raises(ModeBrokenError) as raised:
        select_mode(None, probes)
    assert raised.value.modes == ("staging_fallback",)
    assert str(raised.value).startswith(
        "staging_fallback is configured but unhealthy: ping failed after 3 ms: wrong nonce"
    )
    # Asked for by name, another mode runs: the broken one is not this run's business.
    assert select_mode(Mode.MINIMAL, probes).mode is Mode.MINIMAL


def test_a_requested_mode_that_is_broken_is_a_broken_mode_error_not_an_absent_one() -> None:
    probes = results(Mode.MINIMAL)
    probes[Mode.STAGING_FALLBACK] = ProbeResult(
        Mode.STAGING_FALLBACK, False, "ping failed after 3 ms: wrong nonce", 3.0, broken=True
    )
    with pytest.raises(ModeBrokenError, match="staging_fallback is configured but unhealthy"):
        select_mode(Mode.STAGING_FALLBACK, probes)


def test_mode_names_parse_and_auto_means_none() -> None:
    assert parse_mode(" Minimal ") is Mode.MINIMAL
    assert parse_mode("auto") is None
    assert parse_mode_list("minimal,,docker_local,minimal") == (Mode.MINIMAL, Mode.DOCKER_LOCAL)


def test_the_minimal_probe_is_available_with_the_configured_factory(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        "[tool.test_framework.service]\nfactory = 'agent_backend.testing:start_in_process'\n"
    )
    result = probe_minimal(load_settings(tmp_path, environ={}))
    assert result.available
    assert "agent_backend.testing:start_in_process" in result.reason
    assert [step.name for step in result.steps] == ["factory name", "factory", "loopback bind"]


def test_the_minimal_probe_refuses_a_malformed_factory(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        "[tool.test_framework.service]\nfactory = 'no_colon_here'\n", "utf-8"
    )
    result = probe_minimal(load_settings(tmp_path, environ={}))
    assert not result.available
    assert result.broken
    assert "is not 'module:callable'" in result.reason


def test_the_minimal_probe_notes_a_factory_module_this_process_cannot_import(
    tmp_path: Path,
) -> None:
    (tmp_path / "pyproject.toml").write_text(
        "[tool.test_framework.service]\nfactory = 'no_such_module_xyz:start'\n", "utf-8"
    )
    result = probe_minimal(load_settings(tmp_path, environ={}))
    assert result.available
    assert "not importable here" in result.steps[1].detail
