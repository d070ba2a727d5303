"""The coverage gate over real ledger files, through its command-line entry point."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from test_framework.results import gate
from test_framework.results.ledger import CollectionError, Outcome, RunStatus
from tests.support.ledger_samples import ledger, nid, record, write, write_sharded

DOCKER_DOWN = "Docker daemon not reachable at /var/run/docker.sock"


def run_gate(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str, str]:
    code = gate.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(autouse=True)
def no_required_modes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MC_REQUIRED_MODES", "")


def test_all_tests_passing_in_at_least_one_mode_passes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(tmp_path, ledger("docker_local", status=RunStatus.SKIPPED, reason=DOCKER_DOWN))
    write(
        tmp_path,
        ledger(
            "staging_fallback",
            [
                record("test_restart", Outcome.SKIPPED, reason="needs deployment control"),
                record("test_calc"),
            ],
        ),
    )
    write(tmp_path, ledger("minimal", [record("test_restart"), record("test_calc")]))
    code, out, err = run_gate(capsys, tmp_path)
    assert code == 0, out + err
    assert "gate: PASSED" in out
    assert f"docker_local: skipped: {DOCKER_DOWN}" in out
    assert "mission-critical tests: 2, ran in at least one mode: 2, ran nowhere: 0" in out


def test_a_test_skipped_everywhere_fails_the_gate_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(tmp_path, ledger("docker_local", status=RunStatus.SKIPPED, reason=DOCKER_DOWN))
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


def test_a_non_mission_critical_test_skipped_everywhere_is_only_a_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tests = [record("test_calc"), record("test_extra", Outcome.SKIPPED, mc=False, reason="slow")]
    write(tmp_path, ledger("minimal", tests))
    code, out, _ = run_gate(capsys, tmp_path)
    assert code == 0
    assert f"{nid('test_extra')}: ran in no mode (minimal: slow)" in out


def test_a_test_collected_in_one_mode_only_is_not_collected_in_the_other(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(tmp_path, ledger("docker_local", [record("test_calc")]))
    write(tmp_path, ledger("minimal", [record("test_calc"), record("test_only_here")]))
    code, out, _ = run_gate(capsys, tmp_path)
    assert code == 0
    assert f"{nid('test_only_here')}: not collected in docker_local" in out


def test_a_test_missing_from_the_only_mode_that_ran_it_and_skipped_elsewhere_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(tmp_path, ledger("docker_local", [record("test_calc")]))
    write(
        tmp_path,
        ledger("minimal", [record("test_calc"), record("test_x", Outcome.SKIPPED, reason="no")]),
    )
    code, out, _ = run_gate(capsys, tmp_path)
    assert code == 1
    assert (
        f"RAN NOWHERE: {nid('test_x')}: mission-critical, ran in no mode"
        " (docker_local: not collected in docker_local; minimal: no)"
    ) in out


def test_a_failure_in_any_mode_fails_the_gate_even_if_another_mode_passed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(tmp_path, ledger("docker_local", [record("test_calc")]))
    write(
        tmp_path,
        ledger("minimal", [record("test_calc", Outcome.FAILED, reason="assert 3 == 4\nmore")]),
    )
    code, out, _ = run_gate(capsys, tmp_path)
    assert code == 1
    assert f"FAILED: {nid('test_calc')} [minimal]: failed: assert 3 == 4" in out


def test_an_error_in_a_fixture_fails_the_gate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(tmp_path, ledger("minimal", [record("test_calc", Outcome.ERROR, reason="boom")]))
    code, out, _ = run_gate(capsys, tmp_path)
    assert code == 1
    assert f"FAILED: {nid('test_calc')} [minimal]: error: boom" in out


def test_a_collection_error_fails_the_gate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    error = CollectionError(
        "tests/mission_critical/test_broken.py", "ImportError: no module named x"
    )
    write(tmp_path, ledger("minimal", [record("test_calc")], collection_errors=[error]))
    code, out, _ = run_gate(capsys, tmp_path)
    assert code == 1
    assert (
        "COLLECTION ERROR: tests/mission_critical/test_broken.py [minimal]:"
        " ImportError: no module named x"
    ) in out


def test_an_incomplete_ledger_fails_the_gate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, ledger("minimal", [record("test_calc")], complete=False))
    code, out, _ = run_gate(capsys, tmp_path)
    assert code == 1
    assert f"INCOMPLETE: minimal ({path.resolve()}): the run was interrupted" in out


def test_a_run_that_could_not_start_fails_the_gate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(tmp_path, ledger("minimal", [record("test_calc")]))
    write(
        tmp_path,
        ledger("docker_local", status=RunStatus.ERROR, reason="compose up failed: no image"),
    )
    code, out, _ = run_gate(capsys, tmp_path)
    assert code == 1
    assert "RUN ERROR: docker_local" in out
    assert "the run could not start: compose up failed: no image" in out


@pytest.mark.parametrize(("status", "meaning"), [(2, "interrupted"), (3, "internal error")])
def test_a_broken_pytest_exit_status_fails_the_gate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], status: int, meaning: str
) -> None:
    write(tmp_path, ledger("minimal", [record("test_calc")], exit_status=status))
    code, out, _ = run_gate(capsys, tmp_path)
    assert code == 1
    assert f"pytest exited {status} ({meaning})" in out


def test_a_failing_exit_status_without_a_failed_test_fails_the_gate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(tmp_path, ledger("minimal", [record("test_calc")], exit_status=1))
    code, out, _ = run_gate(capsys, tmp_path)
    assert code == 1
    assert "pytest exited 1 (tests failed) but the ledger records no failed test" in out


def test_a_required_mode_that_was_skipped_fails_the_gate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path, ledger("docker_local", status=RunStatus.SKIPPED, reason=DOCKER_DOWN))
    write(tmp_path, ledger("minimal", [record("test_calc")]))
    monkeypatch.setenv("MC_REQUIRED_MODES", "docker_local")
    code, out, _ = run_gate(capsys, tmp_path)
    assert code == 1
    assert (
        f"REQUIRED MODE: docker_local: required, but executed no test: mode skipped: {DOCKER_DOWN}"
    ) in out
    assert "docker_local *" in out


def test_a_required_mode_that_ran_but_skipped_every_test_fails_the_gate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(
        tmp_path,
        ledger("staging_fallback", [record("test_calc", Outcome.SKIPPED, reason="slow")]),
    )
    write(tmp_path, ledger("minimal", [record("test_calc")]))
    code, out, _ = run_gate(capsys, tmp_path, "--required", "staging_fallback,minimal")
    assert code == 1
    assert (
        "REQUIRED MODE: staging_fallback: required, but executed no test:"
        " it ran but executed no test (1 skipped)"
    ) in out
    assert "REQUIRED MODE: minimal" not in out


def test_a_required_mode_without_any_ledger_fails_the_gate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(tmp_path, ledger("minimal", [record("test_calc")]))
    code, out, _ = run_gate(capsys, tmp_path, "--required", "docker_local")
    assert code == 1
    assert "docker_local: required, but executed no test: no ledger for this mode" in out


def test_a_run_in_which_everything_was_skipped_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(tmp_path, ledger("docker_local", status=RunStatus.SKIPPED, reason=DOCKER_DOWN))
    write(tmp_path, ledger("staging_fallback", status=RunStatus.SKIPPED, reason="not configured"))
    write(tmp_path, ledger("minimal", status=RunStatus.SKIPPED, reason="forced off"))
    code, out, _ = run_gate(capsys, tmp_path)
    assert code == 1
    assert "NOTHING RAN: (all): no ledger holds a test marked mission_critical" in out


def test_an_empty_folder_fails_the_gate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_gate(capsys, tmp_path)
    assert code == 1
    assert "NO LEDGERS: (all): no ledger was given: nothing ran" in out


def test_sharded_ledgers_that_agree_pass(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tests = [record(f"test_{i}") for i in range(10)]
    write_sharded(tmp_path, "minimal", tests, 4)
    code, out, _ = run_gate(capsys, tmp_path)
    assert code == 0, out
    assert "ran in at least one mode: 10" in out


def test_a_missing_shard_fails_the_gate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tests = [record(f"test_{i}") for i in range(10)]
    write_sharded(tmp_path, "minimal", tests, 4)
    (tmp_path / "minimal" / "ledger-shard-3-of-4.json").unlink()
    code, out, _ = run_gate(capsys, tmp_path)
    assert code == 1
    assert "SHARDS DISAGREE: minimal: no ledger for shard 3/4" in out


def test_shards_that_collected_different_sets_fail_the_gate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ids = [nid(f"test_{i}") for i in range(4)]
    write(
        tmp_path,
        ledger("minimal", [record("test_0"), record("test_1")], shard=(1, 2), collected=ids),
    )
    write(tmp_path, ledger("minimal", [record("test_2")], shard=(2, 2), collected=ids[:3]))
    code, out, _ = run_gate(capsys, tmp_path)
    assert code == 1
    assert "SHARDS DISAGREE: minimal: shards collected different test sets:" in out
    assert "minimal shard 1/2 collected 4" in out
    assert "minimal shard 2/2 collected 3" in out


def test_a_test_that_no_shard_ran_fails_the_gate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ids = [nid(f"test_{i}") for i in range(4)]
    write(tmp_path, ledger("minimal", [record("test_0")], shard=(1, 2), collected=ids))
    write(tmp_path, ledger("minimal", [record("test_2")], shard=(2, 2), collected=ids))
    code, out, _ = run_gate(capsys, tmp_path)
    assert code == 1
    assert (
        "the shards together recorded 2 tests, but each collected 4: some test ran in no shard"
    ) in out


def test_a_test_in_two_shards_fails_the_gate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ids = [nid("test_0"), nid("test_1")]
    write(tmp_path, ledger("minimal", [record("test_0")], shard=(1, 2), collected=ids))
    write(
        tmp_path,
        ledger("minimal", [record("test_0"), record("test_1")], shard=(2, 2), collected=ids),
    )
    code, out, _ = run_gate(capsys, tmp_path)
    assert code == 1
    assert (
        f"SHARDS DISAGREE: {nid('test_0')} [minimal]: in more than one shard:"
        " minimal shard 1/2, minimal shard 2/2"
    ) in out


def test_stale_ledgers_from_a_different_shard_count_fail_the_gate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tests = [record(f"test_{i}") for i in range(4)]
    write_sharded(tmp_path, "minimal", tests, 2)
    write(tmp_path, ledger("minimal", tests))
    code, out, _ = run_gate(capsys, tmp_path)
    assert code == 1
    assert "ledgers split the mode into different numbers of shards" in out


def test_shard_ledgers_without_the_collected_set_cannot_be_trusted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from dataclasses import replace

    led = ledger("minimal", [record("test_0")], shard=(1, 1))
    write(tmp_path, replace(led, shard_count=2, collected_sha256=None, collected_count=None))
    led2 = ledger("minimal", [record("test_1")], shard=(2, 2))
    write(tmp_path, replace(led2, collected_sha256=None, collected_count=None))
    code, out, _ = run_gate(capsys, tmp_path)
    assert code == 1
    assert "cannot check that the shards agree" in out


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
    write(tmp_path, ledger("docker_local", status=RunStatus.SKIPPED, reason=DOCKER_DOWN))
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


def test_a_mode_that_ran_and_recorded_no_test_fails_the_gate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(tmp_path, ledger("minimal", [record("test_calc")]))
    write(tmp_path, ledger("docker_local", [], exit_status=5))
    code, out, _ = run_gate(capsys, tmp_path)
    assert code == 1
    assert "EMPTY RUN: docker_local: the run recorded no test (pytest exit 5)" in out
