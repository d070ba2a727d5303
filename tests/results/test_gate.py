"""The coverage gate over real ledger files, through its command-line entry point."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from test_framework.results import gate
from test_framework.results.ledger import CollectionError, Ledger, Outcome, RunStatus
from tests.support.ledger_samples import ledger, nid, record, sharded, write, write_sharded

DOCKER_DOWN = "Docker daemon not reachable at /var/run/docker.sock"
DOCKER_SKIPPED = ledger("docker_local", status=RunStatus.SKIPPED, reason=DOCKER_DOWN)


def run_gate(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str, str]:
    code = gate.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(autouse=True)
def no_required_modes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MC_REQUIRED_MODES", "")


@dataclass(frozen=True)
class Case:
    """Ledgers in a report folder, the gate run over it, and what it must say."""

    ledgers: tuple[Ledger, ...]
    code: int
    says: tuple[str, ...]
    args: tuple[str, ...] = ()
    does_not_say: tuple[str, ...] = ()


TEN = [record(f"test_{i}") for i in range(10)]
FOUR_IDS = [nid(f"test_{i}") for i in range(4)]
UNCOLLECTED = {"collected_sha256": None, "collected_count": None}

CASES = {
    "all tests passing in at least one mode passes": Case(
        (
            DOCKER_SKIPPED,
            ledger(
                "staging_fallback",
                [
                    record("test_restart", Outcome.SKIPPED, reason="needs deployment control"),
                    record("test_calc"),
                ],
            ),
            ledger("minimal", [record("test_restart"), record("test_calc")]),
        ),
        0,
        (
            "gate: PASSED",
            f"docker_local: skipped: {DOCKER_DOWN}",
            "mission-critical tests: 2, ran in at least one mode: 2, ran nowhere: 0",
        ),
    ),
    "a non mission-critical test skipped everywhere is only a warning": Case(
        (
            ledger(
                "minimal",
                [
                    record("test_calc"),
                    record("test_extra", Outcome.SKIPPED, mc=False, reason="slow"),
                ],
            ),
        ),
        0,
        (f"{nid('test_extra')}: ran in no mode (minimal: slow)",),
    ),
    "a test collected in one mode only is not collected in the other": Case(
        (
            ledger("docker_local", [record("test_calc")]),
            ledger("minimal", [record("test_calc"), record("test_only_here")]),
        ),
        0,
        (f"{nid('test_only_here')}: not collected in docker_local",),
    ),
    "a test missing from the only mode that ran it and skipped elsewhere fails": Case(
        (
            ledger("docker_local", [record("test_calc")]),
            ledger(
                "minimal", [record("test_calc"), record("test_x", Outcome.SKIPPED, reason="no")]
            ),
        ),
        1,
        (
            f"RAN NOWHERE: {nid('test_x')}: mission-critical, ran in no mode"
            " (docker_local: not collected in docker_local; minimal: no)",
        ),
    ),
    "a failure in any mode fails the gate even if another mode passed": Case(
        (
            ledger("docker_local", [record("test_calc")]),
            ledger("minimal", [record("test_calc", Outcome.FAILED, reason="assert 3 == 4\nmore")]),
        ),
        1,
        (f"FAILED: {nid('test_calc')} [minimal]: failed: assert 3 == 4",),
    ),
    "an error in a fixture fails the gate": Case(
        (ledger("minimal", [record("test_calc", Outcome.ERROR, reason="boom")]),),
        1,
        (f"FAILED: {nid('test_calc')} [minimal]: error: boom",),
    ),
    "a collection error fails the gate": Case(
        (
            ledger(
                "minimal",
                [record("test_calc")],
                collection_errors=[
                    CollectionError(
                        "tests/mission_critical/test_broken.py", "ImportError: no module named x"
                    )
                ],
            ),
        ),
        1,
        (
            "COLLECTION ERROR: tests/mission_critical/test_broken.py [minimal]:"
            " ImportError: no module named x",
        ),
    ),
    "a run that could not start fails the gate": Case(
        (
            ledger("minimal", [record("test_calc")]),
            ledger("docker_local", status=RunStatus.ERROR, reason="compose up failed: no image"),
        ),
        1,
        ("RUN ERROR: docker_local", "the run could not start: compose up failed: no image"),
    ),
    "an interrupted pytest fails the gate": Case(
        (ledger("minimal", [record("test_calc")], exit_status=2),),
        1,
        ("pytest exited 2 (interrupted)",),
    ),
    "a pytest that crashed fails the gate": Case(
        (ledger("minimal", [record("test_calc")], exit_status=3),),
        1,
        ("pytest exited 3 (internal error)",),
    ),
    "a failing exit status without a failed test fails the gate": Case(
        (ledger("minimal", [record("test_calc")], exit_status=1),),
        1,
        ("pytest exited 1 (tests failed) but the ledger records no failed test",),
    ),
    "a mode that ran and recorded no test fails the gate": Case(
        (ledger("minimal", [record("test_calc")]), ledger("docker_local", [], exit_status=5)),
        1,
        ("EMPTY RUN: docker_local: the run recorded no test (pytest exit 5)",),
    ),
    "a required mode that ran but skipped every test fails the gate": Case(
        (
            ledger("staging_fallback", [record("test_calc", Outcome.SKIPPED, reason="slow")]),
            ledger("minimal", [record("test_calc")]),
        ),
        1,
        (
            "REQUIRED MODE: staging_fallback: required, but executed no test:"
            " it ran but executed no test (1 skipped)",
        ),
        args=("--required", "staging_fallback,minimal"),
        does_not_say=("REQUIRED MODE: minimal",),
    ),
    "a required mode without any ledger fails the gate": Case(
        (ledger("minimal", [record("test_calc")]),),
        1,
        ("docker_local: required, but executed no test: no ledger for this mode",),
        args=("--required", "docker_local"),
    ),
    "a run in which everything was skipped fails": Case(
        (
            DOCKER_SKIPPED,
            ledger("staging_fallback", status=RunStatus.SKIPPED, reason="not configured"),
            ledger("minimal", status=RunStatus.SKIPPED, reason="forced off"),
        ),
        1,
        ("NOTHING RAN: (all): no ledger holds a test marked mission_critical",),
    ),
    "an empty folder fails the gate": Case(
        (), 1, ("NO LEDGERS: (all): no ledger was given: nothing ran",)
    ),
    "sharded ledgers that agree pass": Case(
        tuple(sharded("minimal", TEN, 4)), 0, ("ran in at least one mode: 10",)
    ),
    "shards that collected different sets fail the gate": Case(
        (
            ledger(
                "minimal", [record("test_0"), record("test_1")], shard=(1, 2), collected=FOUR_IDS
            ),
            ledger("minimal", [record("test_2")], shard=(2, 2), collected=FOUR_IDS[:3]),
        ),
        1,
        (
            "SHARDS DISAGREE: minimal: shards collected different test sets:",
            "minimal shard 1/2 collected 4",
            "minimal shard 2/2 collected 3",
        ),
    ),
    "a test that no shard ran fails the gate": Case(
        (
            ledger("minimal", [record("test_0")], shard=(1, 2), collected=FOUR_IDS),
            ledger("minimal", [record("test_2")], shard=(2, 2), collected=FOUR_IDS),
        ),
        1,
        ("the shards together recorded 2 tests, but each collected 4: some test ran in no shard",),
    ),
    "a test in two shards fails the gate": Case(
        (
            ledger("minimal", [record("test_0")], shard=(1, 2), collected=FOUR_IDS[:2]),
            ledger(
                "minimal",
                [record("test_0"), record("test_1")],
                shard=(2, 2),
                collected=FOUR_IDS[:2],
            ),
        ),
        1,
        (
            f"SHARDS DISAGREE: {nid('test_0')} [minimal]: in more than one shard:"
            " minimal shard 1/2, minimal shard 2/2",
        ),
    ),
    "stale ledgers from a different shard count fail the gate": Case(
        (*sharded("minimal", TEN[:4], 2), ledger("minimal", TEN[:4])),
        1,
        ("ledgers split the mode into different numbers of shards",),
    ),
    "shard ledgers without the collected set cannot be trusted": Case(
        (
            replace(ledger("minimal", [record("test_0")]), shard_count=2, **UNCOLLECTED),
            replace(ledger("minimal", [record("test_1")], shard=(2, 2)), **UNCOLLECTED),
        ),
        1,
        ("cannot check that the shards agree",),
    ),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_the_gate_over_these_ledgers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], case: Case
) -> None:
    for led in case.ledgers:
        write(tmp_path, led)
    code, out, err = run_gate(capsys, tmp_path, *case.args)
    assert code == case.code, out + err
    for fragment in case.says:
        assert fragment in out
    for fragment in case.does_not_say:
        assert fragment not in out


def test_a_test_skipped_everywhere_fails_the_gate_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(tmp_path, DOCKER_SKIPPED)
    write(
        tmp_path,
        ledger(
            "minimal",
            [
                record("test_calc"),
                record("test_restart", Outcome.SKIPPED, reason="needs deployment control"),
            ],
        ),
    )
    code, out, _ = run_gate(capsys, tmp_path)
    assert code == 1
    line = next(li for li in out.splitlines() if li.startswith("  RAN NOWHERE"))
    assert nid("test_restart") in line
    assert "docker_local: mode skipped;" in line
    assert "minimal: needs deployment control" in line
    assert nid("test_calc") not in out.split("gate: FAILED")[1]


def test_an_incomplete_ledger_fails_the_gate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, ledger("minimal", [record("test_calc")], complete=False))
    code, out, _ = run_gate(capsys, tmp_path)
    assert code == 1
    assert f"INCOMPLETE: minimal ({path.resolve()}): the run was interrupted" in out


def test_a_required_mode_that_was_skipped_fails_the_gate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path, DOCKER_SKIPPED)
    write(tmp_path, ledger("minimal", [record("test_calc")]))
    monkeypatch.setenv("MC_REQUIRED_MODES", "docker_local")
    code, out, _ = run_gate(capsys, tmp_path)
    assert code == 1
    assert (
        f"REQUIRED MODE: docker_local: required, but executed no test: mode skipped: {DOCKER_DOWN}"
    ) in out
    assert "docker_local *" in out


def test_a_missing_shard_fails_the_gate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tests = [record(f"test_{i}") for i in range(10)]
    write_sharded(tmp_path, "minimal", tests, 4)
    (tmp_path / "minimal" / "ledger-shard-3-of-4.json").unlink()
    code, out, _ = run_gate(capsys, tmp_path)
    assert code == 1
    assert "SHARDS DISAGREE: minimal: no ledger for shard 3/4" in out


def test_a_missing_path_is_a_usage_error_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_gate(capsys, tmp_path / "nowhere")
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1
    assert "no such file or folder" in err


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ("{not json", "cannot read the ledger"),
        ("[1, 2]", "a JSON object is expected"),
        ('{"schema": "other"}', "not a valid ledger"),
        ('{"schema": "mission-critical-ledger", "version": 99}', "this harness reads 1"),
        ('{"schema": "mission-critical-ledger", "version": 1}', "not a valid ledger (KeyError"),
    ],
)
def test_an_unreadable_ledger_is_a_usage_error_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, fragment: str
) -> None:
    (tmp_path / "ledger.json").write_text(content)
    code, _, err = run_gate(capsys, tmp_path)
    assert code == 2
    assert err.count("\n") == 1
    assert fragment in err
    assert "Traceback" not in err


def test_a_bad_required_mode_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(tmp_path, ledger("minimal", [record("test_calc")]))
    code, _, err = run_gate(capsys, tmp_path, "--required", "dockr")
    assert code == 2
    assert "unknown mode 'dockr'" in err


def test_the_summary_table_counts_each_mode(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(tmp_path, DOCKER_SKIPPED)
    write(
        tmp_path,
        ledger(
            "minimal",
            [
                record("test_a"),
                record("test_b"),
                record("test_c", Outcome.FAILED, reason="no"),
                record("test_d", Outcome.SKIPPED, reason="needs control"),
            ],
        ),
    )
    _, out, _ = run_gate(capsys, tmp_path)
    lines = out.splitlines()
    assert lines[0].split() == [
        "mode",
        "run",
        "passed",
        "failed",
        "errors",
        "skipped",
        "not",
        "coll.",
    ]
    assert lines[2].split() == ["docker_local", "skipped", "0", "0", "0", "0", "-"]
    assert lines[3].split() == ["minimal", "ran", "2", "1", "0", "1", "0"]


def test_the_same_ledgers_give_the_same_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(tmp_path, ledger("minimal", [record("test_a"), record("test_b", Outcome.FAILED)]))
    first = run_gate(capsys, tmp_path)
    second = run_gate(capsys, tmp_path)
    assert first == second


def test_a_folder_marked_gate_skip_is_left_out_unless_given_itself(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(tmp_path, ledger("minimal", [record("test_calc")]))
    monitor = tmp_path / "monitor"
    write(monitor / "latest", ledger("minimal", [record("test_calc", Outcome.FAILED)]))
    (monitor / ".gate-skip").touch()
    code, out, _ = run_gate(capsys, tmp_path)
    assert code == 0, out
    code, out, _ = run_gate(capsys, monitor)
    assert code == 1
    assert f"FAILED: {nid('test_calc')} [minimal]" in out


def test_a_mode_folder_given_that_holds_no_ledger_fails_the_gate_and_keeps_its_row(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(tmp_path, ledger("minimal", [record("test_calc")]))
    (tmp_path / "docker_local").mkdir()
    code, out, _ = run_gate(capsys, tmp_path / "minimal", tmp_path / "docker_local")
    assert code == 1
    assert f"MISSING LEDGER: docker_local: {tmp_path / 'docker_local'} holds no ledger" in out
    assert "docker_local: missing: no ledger for this mode" in out


def test_an_empty_ledger_file_fails_the_gate_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(tmp_path, ledger("minimal", [record("test_calc")]))
    empty = tmp_path / "docker_local" / "ledger.json"
    empty.parent.mkdir()
    empty.write_text("")
    code, out, _ = run_gate(capsys, tmp_path)
    assert code == 1
    assert f"MISSING LEDGER: {empty}: the ledger is empty" in out


def test_with_an_invocation_a_ledger_an_earlier_run_left_is_stale_and_not_judged(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(tmp_path, replace(ledger("minimal", [record("test_calc")]), invocation="this-run"))
    old = write(
        tmp_path,
        replace(ledger("docker_local", [record("test_calc")]), invocation="an-earlier-run"),
    )
    assert run_gate(capsys, tmp_path)[0] == 0
    code, out, _ = run_gate(capsys, tmp_path, "--invocation", "this-run")
    assert code == 1
    line = next(li for li in out.splitlines() if li.startswith("  STALE LEDGER"))
    assert f"docker_local ({old}): written by an earlier run (run run-docker_local-1" in line
    assert "invocation an-earlier-run), not by this one (this-run)" in line
    # Its results are not shown as this run's: the mode has no ledger left to judge.
    assert "docker_local: missing: no ledger for this mode" in out
