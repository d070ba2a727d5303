"""The mode table: one record for every mode, and each record's names resolve to what they say."""

from __future__ import annotations

import inspect
import tomllib
from pathlib import Path

import pytest

from test_framework.backends.base import ControllableBackend, EarlyStartBackend
from test_framework.mode_specs import DEFAULT_PROFILES, MODE_SPECS, ModeSpec
from test_framework.modes import ALL_MODES, Mode
from test_framework.probes import runner
from test_framework.probes.result import ProbeResult
from test_framework.service import StartKind
from test_framework.settings import load_settings

ROOT = Path(__file__).resolve().parents[2]


def test_every_mode_has_exactly_one_record_and_the_record_names_its_mode() -> None:
    assert list(MODE_SPECS) == list(ALL_MODES)
    assert [spec.mode for spec in MODE_SPECS.values()] == list(Mode)


@pytest.mark.parametrize("mode", ALL_MODES)
def test_a_records_probe_resolves_to_the_probe_the_runner_uses(mode: Mode) -> None:
    probe = MODE_SPECS[mode].probe_function()
    assert inspect.isfunction(probe)
    assert probe.__module__.startswith("test_framework.probes.")
    assert runner.PROBES[mode] is probe


@pytest.mark.parametrize("mode", ALL_MODES)
def test_a_records_probe_answers_for_its_own_mode(mode: Mode, tmp_path: Path) -> None:
    # Nothing configured (and Docker forced away): each probe answers at once, for its mode.
    settings = load_settings(tmp_path, environ={"FORCE_DOCKER_UNAVAILABLE": "true"})
    result = MODE_SPECS[mode].probe_function()(settings)
    assert isinstance(result, ProbeResult)
    assert result.mode is mode
    assert not result.available


def backend_classes(spec: ModeSpec) -> list[type]:
    starts: list[StartKind | None] = [None, *StartKind]
    return [spec.backend_class(start) for start in starts]


@pytest.mark.parametrize("mode", ALL_MODES)
def test_a_records_backends_resolve_to_backend_classes(mode: Mode) -> None:
    for cls in backend_classes(MODE_SPECS[mode]):
        assert inspect.isclass(cls)
        assert cls.__module__.startswith("test_framework.backends.")
        assert all(callable(getattr(cls, name, None)) for name in ("start", "stop", "end_run"))


@pytest.mark.parametrize("mode", ALL_MODES)
def test_a_mode_is_controllable_exactly_when_its_backends_can_be_controlled(mode: Mode) -> None:
    spec = MODE_SPECS[mode]
    assert {issubclass(cls, ControllableBackend) for cls in backend_classes(spec)} == {
        spec.controllable
    }


@pytest.mark.parametrize("mode", ALL_MODES)
def test_a_record_starts_early_only_those_kinds_whose_backend_can_begin(mode: Mode) -> None:
    spec = MODE_SPECS[mode]
    for kind in StartKind:
        assert issubclass(spec.backend_class(kind), EarlyStartBackend) == (
            kind in spec.early_start
        ), kind


def test_minimal_starts_a_factory_in_process_and_a_command_or_app_as_a_local_service() -> None:
    spec = MODE_SPECS[Mode.MINIMAL]
    assert spec.backend_class(StartKind.FACTORY).__name__ == "InProcessBackend"
    assert spec.backend_class(StartKind.COMMAND).__name__ == "LocalServiceBackend"
    assert spec.backend_class(StartKind.ASGI_APP).__name__ == "LocalServiceBackend"


@pytest.mark.parametrize("mode", ALL_MODES)
def test_a_records_extra_is_an_extra_of_the_harness(mode: Mode) -> None:
    extra = MODE_SPECS[mode].extra
    if extra is None:
        return
    project = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]
    requirements = project["optional-dependencies"][extra.name]
    assert any(r.split(">")[0].split("=")[0].strip() == extra.module for r in requirements)


@pytest.mark.parametrize("mode", ALL_MODES)
def test_a_records_profile_is_for_its_mode_and_the_settings_default(
    mode: Mode, tmp_path: Path
) -> None:
    profile = MODE_SPECS[mode].profile
    assert profile.mode is mode
    assert DEFAULT_PROFILES[mode] is profile
    assert load_settings(tmp_path, environ={}).profile(mode) == profile
