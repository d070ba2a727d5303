"""The decision every runner takes before it installs anything: run, skip (absent) or fail
(broken, or required and unable to run), with the ledger of a mode that does not run.

The probe itself is replaced here by its answer: the probes have tests of their own
(tests/probes); what is under test is what the decision makes of each answer.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pytest

from test_framework.errors import ConfigError
from test_framework.modes import Mode
from test_framework.probes.result import ProbeResult
from test_framework.results.ledger import RunStatus, read_ledger
from test_framework.runners import decision
from test_framework.runners.decision import (
    Action,
    ModeDecision,
    clear_ledgers,
    decide_mode,
    shard_from_args,
)
from test_framework.settings import Settings

AVAILABLE = ProbeResult(Mode.MINIMAL, True, "factory answers", 2.5)
ABSENT = ProbeResult(Mode.DOCKER_LOCAL, False, "no Docker daemon at /nonexistent.sock", 3.25)
BROKEN = ProbeResult(
    Mode.STAGING_FALLBACK, False, "step handshake: connection refused", 4.0, broken=True
)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(root=tmp_path, report_dir=tmp_path / "reports")


def answering(
    monkeypatch: pytest.MonkeyPatch, result: ProbeResult
) -> list[tuple[Settings, list[Mode]]]:
    """Make the probe answer ``result``; the list records what each call was given."""
    asked: list[tuple[Settings, list[Mode]]] = []

    def probe_modes(settings: Settings, modes: Iterable[Mode]) -> dict[Mode, ProbeResult]:
        asked.append((settings, list(modes)))
        return {result.mode: result}

    monkeypatch.setattr(decision, "probe_modes", probe_modes)
    return asked


def test_an_available_mode_runs_and_writes_no_ledger(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked = answering(monkeypatch, AVAILABLE)
    assert decide_mode(settings, Mode.MINIMAL) == ModeDecision(
        Mode.MINIMAL, Action.RUN, "", AVAILABLE
    )
    assert asked == [(settings, [Mode.MINIMAL])]
    assert not (settings.report_dir / "minimal").exists()


def test_an_absent_mode_is_skipped_with_its_reason_and_a_skipped_ledger(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    answering(monkeypatch, ABSENT)
    made = decide_mode(settings, Mode.DOCKER_LOCAL, (2, 3), "nox-5")
    assert made == ModeDecision(
        Mode.DOCKER_LOCAL,
        Action.SKIP,
        "docker_local cannot run here: no Docker daemon at /nonexistent.sock",
        ABSENT,
    )
    led = read_ledger(settings.report_dir / "docker_local" / "ledger-shard-2-of-3.json")
    assert led.mode == "docker_local"
    assert led.status is RunStatus.SKIPPED
    assert led.reason == "no Docker daemon at /nonexistent.sock"
    assert (led.shard_index, led.shard_count, led.invocation) == (2, 3, "nox-5")
    assert led.probes == (ABSENT.to_json(),)


def test_a_broken_mode_fails_naming_the_step_with_an_error_ledger_never_a_skip(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    answering(monkeypatch, BROKEN)
    made = decide_mode(settings, Mode.STAGING_FALLBACK)
    assert made == ModeDecision(
        Mode.STAGING_FALLBACK,
        Action.FAIL,
        "staging_fallback is configured but unhealthy: step handshake: connection refused",
        BROKEN,
    )
    led = read_ledger(settings.report_dir / "staging_fallback" / "ledger.json")
    assert led.mode == "staging_fallback"
    assert led.status is RunStatus.ERROR
    assert led.reason == "configured but unhealthy: step handshake: connection refused"
    assert (led.shard_index, led.shard_count, led.invocation) == (1, 1, None)
    assert led.probes == (BROKEN.to_json(),)


def test_a_required_mode_that_is_absent_fails_and_its_ledger_says_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings(
        root=tmp_path, report_dir=tmp_path / "reports", required_modes=(Mode.DOCKER_LOCAL,)
    )
    answering(monkeypatch, ABSENT)
    made = decide_mode(settings, Mode.DOCKER_LOCAL)
    assert made == ModeDecision(
        Mode.DOCKER_LOCAL,
        Action.FAIL,
        "docker_local is required by MC_REQUIRED_MODES but cannot run:"
        " no Docker daemon at /nonexistent.sock",
        ABSENT,
    )
    led = read_ledger(settings.report_dir / "docker_local" / "ledger.json")
    assert led.status is RunStatus.SKIPPED


def test_an_absent_mode_that_a_command_exists_only_to_run_fails_naming_that_command(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    answering(monkeypatch, ABSENT)
    made = decide_mode(settings, Mode.DOCKER_LOCAL, asked_by="nox -s docker_local")
    assert made == ModeDecision(
        Mode.DOCKER_LOCAL,
        Action.FAIL,
        "docker_local is what nox -s docker_local runs, but it cannot run here:"
        " no Docker daemon at /nonexistent.sock",
        ABSENT,
    )
    led = read_ledger(settings.report_dir / "docker_local" / "ledger.json")
    assert led.status is RunStatus.SKIPPED


def test_the_probe_line_states_mode_status_milliseconds_and_reason() -> None:
    assert ModeDecision(Mode.STAGING_FALLBACK, Action.FAIL, "x", BROKEN).probe_line == (
        "probe staging_fallback: broken in 4.0 ms: step handshake: connection refused"
    )
    assert ModeDecision(Mode.DOCKER_LOCAL, Action.SKIP, "x", ABSENT).probe_line == (
        "probe docker_local: absent in 3.2 ms: no Docker daemon at /nonexistent.sock"
    )


@pytest.mark.parametrize(
    ("args", "shard"),
    [
        ([], (1, 1)),
        (["-x", "--shard", "2/4"], (2, 4)),
        (["--shard=3/5", "-q"], (3, 5)),
        (["--shard", "1/2", "--shard", "2/2"], (1, 2)),
        (["--shard=2/3", "--shard", "1/3"], (2, 3)),
        (["-k", "calc", "--shard"], (1, 1)),
        (["--sharding", "2/2"], (1, 1)),
    ],
)
def test_the_shard_is_the_first_shard_option_passed_on_to_pytest(
    args: list[str], shard: tuple[int, int]
) -> None:
    assert shard_from_args(args) == shard


def test_a_shard_value_with_a_second_equals_sign_is_refused_not_guessed() -> None:
    with pytest.raises(ConfigError, match="is not of the form i/N"):
        shard_from_args(["--shard==2/4"])


def ledger_names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.glob("ledger*.json"))


def test_a_new_unsharded_run_removes_every_earlier_ledger_junit_and_transcript(
    settings: Settings,
) -> None:
    folder = settings.report_dir / "minimal"
    (folder / "transcripts").mkdir(parents=True)
    (folder / "transcripts" / "t.json").write_text("{}")
    names = ("ledger.json", "ledger-shard-1-of-2.json", "ledger-shard-1-of-1.json", "junit.xml")
    for name in (*names, "notes.txt"):
        (folder / name).write_text("{}")
    (settings.report_dir / "docker_local").mkdir()
    (settings.report_dir / "docker_local" / "ledger.json").write_text("{}")
    clear_ledgers(settings, Mode.MINIMAL, (1, 1))
    assert ledger_names(folder) == []
    assert not (folder / "junit.xml").exists()
    assert not (folder / "transcripts").exists()
    assert (folder / "notes.txt").exists()
    # Another mode's results are that mode's run's business.
    assert ledger_names(settings.report_dir / "docker_local") == ["ledger.json"]


def test_a_shard_keeps_its_sibling_shards_of_the_same_split_and_their_transcripts(
    settings: Settings,
) -> None:
    folder = settings.report_dir / "minimal"
    (folder / "transcripts").mkdir(parents=True)
    (folder / "transcripts" / "t.json").write_text("{}")
    for name in (
        "ledger.json",
        "ledger-shard-1-of-4.json",
        "ledger-shard-2-of-4.json",
        "ledger-shard-3-of-4.json",
        "ledger-shard-1-of-2.json",
        "ledger-shard-1-of-14.json",
    ):
        (folder / name).write_text("{}")
    clear_ledgers(settings, Mode.MINIMAL, (2, 4))
    assert ledger_names(folder) == ["ledger-shard-1-of-4.json", "ledger-shard-3-of-4.json"]
    assert (folder / "transcripts" / "t.json").exists()


def test_the_second_of_two_shards_keeps_the_first_and_the_transcripts(settings: Settings) -> None:
    folder = settings.report_dir / "minimal"
    (folder / "transcripts").mkdir(parents=True)
    (folder / "transcripts" / "t.json").write_text("{}")
    for name in ("ledger.json", "ledger-shard-1-of-2.json", "ledger-shard-2-of-2.json"):
        (folder / name).write_text("{}")
    clear_ledgers(settings, Mode.MINIMAL, (2, 2))
    assert ledger_names(folder) == ["ledger-shard-1-of-2.json"]
    assert (folder / "transcripts" / "t.json").exists()


def test_the_mode_folder_is_left_in_place_even_when_nothing_was_there(
    settings: Settings,
) -> None:
    clear_ledgers(settings, Mode.STAGING_FALLBACK, (1, 1))
    folder = settings.report_dir / "staging_fallback"
    assert folder.is_dir()
    assert list(folder.iterdir()) == []


def test_a_new_run_marks_the_report_stale_naming_itself(settings: Settings) -> None:
    index = settings.report_dir / "index.html"
    index.parent.mkdir(parents=True)
    index.write_text("<html><head><title>Report</title></head><body>old</body></html>")
    clear_ledgers(settings, Mode.MINIMAL, (1, 1), label="nox session mission_critical")
    text = index.read_text("utf-8")
    assert "<title>Stale: Report</title>" in text
    assert "nox session mission_critical started at" in text
    assert "writes new minimal results into" in text


def test_a_new_run_by_default_calls_itself_a_new_run(settings: Settings) -> None:
    index = settings.report_dir / "index.html"
    index.parent.mkdir(parents=True)
    index.write_text("<html><head><title>Report</title></head><body>old</body></html>")
    clear_ledgers(settings, Mode.MINIMAL, (1, 1))
    assert "Stale: a new run started at" in index.read_text("utf-8")
