"""The exact words of the mode selection: what auto chose and passed over, and which modes a
refusal names, as a user reads them in the run's header or its one-line error."""

from __future__ import annotations

import pytest

from test_framework.errors import ModeBrokenError, ModeUnavailableError
from test_framework.modes import ALL_MODES, Mode
from test_framework.probes.result import ProbeResult
from test_framework.probes.selection import Selection, select_mode


def results(*available: Mode, broken: tuple[Mode, ...] = ()) -> dict[Mode, ProbeResult]:
    return {
        mode: ProbeResult(
            mode,
            mode in available,
            f"{mode} says {'yes' if mode in available else 'no'}",
            1.0,
            broken=mode in broken,
        )
        for mode in ALL_MODES
    }


def test_auto_names_every_mode_it_passed_over_in_order() -> None:
    assert select_mode(None, results(Mode.MINIMAL)) == Selection(
        Mode.MINIMAL,
        "auto chose minimal (minimal says yes); passed over docker_local: docker_local says no;"
        " staging_fallback: staging_fallback says no",
    )
    assert select_mode(None, results(Mode.DOCKER_LOCAL)) == Selection(
        Mode.DOCKER_LOCAL, "auto chose docker_local (docker_local says yes)"
    )


def test_no_mode_can_run_names_each_reason_in_order() -> None:
    with pytest.raises(ModeUnavailableError) as raised:
        select_mode(None, results())
    assert str(raised.value) == (
        "no mode can run here (docker_local: docker_local says no; staging_fallback:"
        " staging_fallback says no; minimal: minimal says no)"
    )


def test_auto_names_every_broken_mode_and_hands_them_on() -> None:
    probes = results(Mode.MINIMAL, broken=(Mode.DOCKER_LOCAL, Mode.STAGING_FALLBACK))
    with pytest.raises(ModeBrokenError) as raised:
        select_mode(None, probes)
    assert str(raised.value) == (
        "docker_local is configured but unhealthy: docker_local says no;"
        " staging_fallback is configured but unhealthy: staging_fallback says no"
        " (fix it or stop configuring it; --mc-mode / TEST_MODE chooses one mode)"
    )
    assert raised.value.modes == ("docker_local", "staging_fallback")


def test_a_requested_broken_mode_is_handed_on_by_name() -> None:
    with pytest.raises(ModeBrokenError) as raised:
        select_mode(Mode.STAGING_FALLBACK, results(broken=(Mode.STAGING_FALLBACK,)))
    assert raised.value.modes == ("staging_fallback",)
    assert str(raised.value) == (
        "mode staging_fallback is configured but unhealthy: staging_fallback says no"
        " (fix that, or stop configuring it)"
    )
