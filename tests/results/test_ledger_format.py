"""The ledger file: what is written is what is read back, a reader fills what an older or a
shorter ledger leaves out with what it means, and a write is never seen half done."""

from __future__ import annotations

import dataclasses
import json
import locale
from pathlib import Path
from typing import Any

import pytest

from test_framework.results import ledger as ledger_module
from test_framework.results.ledger import (
    CollectionError,
    Deselected,
    Ledger,
    Outcome,
    RunStatus,
    Selection,
    broken_ledger,
    collected_digest,
    invocation_from_environment,
    ledger_path,
    read_ledger,
    skipped_ledger,
    write_ledger,
)
from test_framework.results.ledger import TestRecord as Record
from test_framework.results.matrix import find_ledgers

RECORD = Record(
    nodeid="tests/mission_critical/test_protocol.py::test_calc[é]",
    outcome=Outcome.FAILED,
    markers=("mission_critical", "slow"),
    duration_s=1.23456789,
    skip_reason=None,
    message="assert 3 == 4 …",
    attempts=2,
    transcript="test_calc.json",
    connection_retries=3,
)
# Every field away from its default, so a field lost on the way out or in shows.
FULL = Ledger(
    run_id="20261207-ab12cd",
    mode="staging_fallback",
    status=RunStatus.RAN,
    reason="staging_fallback requested: deployment answered",
    started_at=1_700_000_000.5,
    ended_at=1_700_000_012.25,
    complete=True,
    shard_index=2,
    shard_count=3,
    exit_status=1,
    probes=({"mode": "staging_fallback", "available": True, "reason": "answered"},),
    deployment={"ws_url": "wss://staging.example/ws"},
    collection_errors=(CollectionError("tests/mission_critical/test_x.py", "ImportError: x"),),
    tests=(
        dataclasses.replace(RECORD, duration_s=1.234568),
        Record("tests/mission_critical/test_protocol.py::test_ok", Outcome.PASSED),
        Record(
            "tests/mission_critical/test_protocol.py::test_x", Outcome.SKIPPED, skip_reason="no"
        ),
    ),
    collected_count=7,
    collected_sha256="ab" * 32,
    invocation="nox-1234",
)
# The smallest ledger a reader accepts: what the schema requires.
REQUIRED: dict[str, Any] = {
    "schema": "mission-critical-ledger",
    "version": 1,
    "run_id": "r1",
    "mode": "minimal",
    "status": "ran",
    "started_at": 1_700_000_000,
}

# A selection with every field away from its default.
SELECTION = Selection(
    paths=("tests/mission_critical/test_protocol.py::test_calc", ""),
    suite="tests/mission_critical",
    keyword="calc and not slow",
    markexpr="mission_critical",
    deselect=("tests/mission_critical/test_protocol.py::test_ok",),
    ignore=("tests/mission_critical/legacy",),
    ignore_glob=("*_slow.py",),
    last_failed=True,
    deselected=(
        Deselected("tests/mission_critical/test_protocol.py::test_ok", ("mission_critical",)),
        Deselected("tests/mission_critical/test_protocol.py::test_x"),
    ),
    allowed=True,
)


def test_a_ledger_written_reads_back_equal_field_by_field(tmp_path: Path) -> None:
    path = tmp_path / "reports" / "staging_fallback" / "ledger-shard-2-of-3.json"
    write_ledger(FULL, path)
    assert read_ledger(path) == FULL


def test_the_file_is_indented_json_in_the_documented_field_order(tmp_path: Path) -> None:
    path = tmp_path / "ledger.json"
    write_ledger(FULL, path)
    text = path.read_text("utf-8")
    assert text == json.dumps(FULL.to_json(), indent=2) + "\n"
    assert list(json.loads(text))[:4] == ["schema", "version", "run_id", "invocation"]


def test_a_test_record_is_written_with_every_field_the_format_names() -> None:
    assert RECORD.to_json() == {
        "nodeid": RECORD.nodeid,
        "outcome": "failed",
        "markers": ["mission_critical", "slow"],
        "duration_s": 1.234568,
        "skip_reason": None,
        "message": "assert 3 == 4 …",
        "attempts": 2,
        "retried": True,
        "connection_retries": 3,
        "transcript": "test_calc.json",
    }


def test_a_ledger_is_written_with_its_shard_and_collected_set() -> None:
    data = FULL.to_json()
    assert data["shard"] == {"index": 2, "count": 3}
    assert data["collected"] == {"count": 7, "sha256": "ab" * 32}
    assert data["ended_at"] == 1_700_000_012.25
    assert data["probes"] == [dict(FULL.probes[0])]
    assert data["deployment"] == {"ws_url": "wss://staging.example/ws"}
    unrecorded = Ledger("r", "minimal", RunStatus.RAN, "", 1.0, collected_count=7)
    assert unrecorded.to_json()["collected"] is None


def test_a_ledger_with_only_the_required_fields_reads_as_an_interrupted_unsharded_run() -> None:
    led = Ledger.from_json(dict(REQUIRED))
    assert led == Ledger(
        run_id="r1",
        mode="minimal",
        status=RunStatus.RAN,
        reason="",
        started_at=1_700_000_000.0,
        ended_at=None,
        complete=False,
        shard_index=1,
        shard_count=1,
        exit_status=None,
        probes=(),
        deployment={},
        collection_errors=(),
        tests=(),
        collected_count=None,
        collected_sha256=None,
        invocation=None,
    )
    assert isinstance(led.started_at, float)


def test_a_ledgers_selection_reads_back_equal_field_by_field(tmp_path: Path) -> None:
    path = tmp_path / "ledger.json"
    write_ledger(dataclasses.replace(FULL, selection=SELECTION), path)
    assert read_ledger(path).selection == SELECTION


def test_a_selection_is_written_under_the_names_the_format_documents() -> None:
    assert SELECTION.to_json() == {
        "paths": ["tests/mission_critical/test_protocol.py::test_calc", ""],
        "suite": "tests/mission_critical",
        "keyword": "calc and not slow",
        "markexpr": "mission_critical",
        "deselect": ["tests/mission_critical/test_protocol.py::test_ok"],
        "ignore": ["tests/mission_critical/legacy"],
        "ignore_glob": ["*_slow.py"],
        "last_failed": True,
        "deselected": [
            {
                "nodeid": "tests/mission_critical/test_protocol.py::test_ok",
                "markers": ["mission_critical"],
            },
            {"nodeid": "tests/mission_critical/test_protocol.py::test_x", "markers": []},
        ],
        "allowed": True,
    }


def test_an_empty_selection_object_reads_as_the_whole_suite_with_nothing_left_out() -> None:
    assert Selection.from_json({}) == Selection()
    assert Selection.from_json({"deselected": [{"nodeid": "t::a"}]}).deselected == (
        Deselected("t::a", ()),
    )


def test_an_empty_shard_object_reads_as_shard_one_of_one() -> None:
    led = Ledger.from_json({**REQUIRED, "shard": {}})
    assert (led.shard_index, led.shard_count) == (1, 1)


def test_a_test_record_with_only_its_id_and_outcome_reads_as_one_attempt_and_no_retries() -> None:
    record = Record.from_json({"nodeid": "t::a", "outcome": "skipped"})
    assert record == Record("t::a", Outcome.SKIPPED)
    assert (record.markers, record.duration_s, record.attempts) == ((), 0.0, 1)
    assert (record.connection_retries, record.transcript, record.retried) == (0, None, False)
    assert isinstance(record.duration_s, float)


@pytest.mark.parametrize(
    ("change", "says"),
    [
        (
            {"schema": "something-else"},
            "not a mission-critical-ledger file (schema='something-else')",
        ),
        ({"version": 2}, "ledger version 2; this harness reads 1"),
    ],
)
def test_a_file_of_another_schema_or_version_is_refused_naming_what_it_is(
    change: dict[str, Any], says: str
) -> None:
    with pytest.raises(ValueError, match="^" + "".join(f"[{c}]" for c in says) + "$"):
        Ledger.from_json({**REQUIRED, **change})


def test_the_collected_digest_is_sha256_of_the_sorted_distinct_ids_joined_by_newlines() -> None:
    import hashlib

    expected = hashlib.sha256("t::a\nt::é".encode()).hexdigest()
    assert collected_digest(["t::é", "t::a", "t::a"]) == expected


def test_a_ledger_path_names_the_mode_folder_and_the_shard() -> None:
    assert ledger_path(Path("r"), "minimal") == Path("r/minimal/ledger.json")
    assert ledger_path(Path("r"), "minimal", 1, 1) == Path("r/minimal/ledger.json")
    assert ledger_path(Path("r"), "minimal", 2, 4) == Path("r/minimal/ledger-shard-2-of-4.json")
    assert ledger_path(Path("r"), "minimal", 1, 2) == Path("r/minimal/ledger-shard-1-of-2.json")
    assert ledger_path(Path("r"), "minimal", shard_count=3) == Path(
        "r/minimal/ledger-shard-1-of-3.json"
    )


def test_an_interrupted_write_leaves_the_earlier_ledger_whole_and_no_ledger_the_gate_reads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = ledger_path(tmp_path, "minimal")
    write_ledger(FULL, path)
    before = path.read_bytes()

    def dies_half_way(data: object, handle: Any, **kwargs: object) -> None:
        handle.write('{"schema": "mission-critical-ledger", ')
        raise KeyboardInterrupt

    monkeypatch.setattr(ledger_module.json, "dump", dies_half_way)
    with pytest.raises(KeyboardInterrupt):
        write_ledger(skipped_ledger("minimal", "later"), path)
    assert path.read_bytes() == before
    # The half-written file is beside the ledger, named so no reader takes it for one.
    (partial,) = path.parent.glob(".ledger-*.json")
    assert partial.read_text("utf-8").startswith('{"schema"')
    assert find_ledgers([tmp_path]) == [path]


def test_a_skipped_ledger_says_why_and_that_nothing_ran(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ledger_module.time, "time", lambda: 1_700_000_123.0)
    probe = {"mode": "docker_local", "available": False, "reason": "no daemon"}
    led = skipped_ledger("docker_local", "no daemon", [probe], (3, 4), "nox-9")
    assert led == Ledger(
        run_id="not-started",
        mode="docker_local",
        status=RunStatus.SKIPPED,
        reason="no daemon",
        started_at=1_700_000_123.0,
        ended_at=1_700_000_123.0,
        complete=True,
        shard_index=3,
        shard_count=4,
        exit_status=None,
        probes=(probe,),
        invocation="nox-9",
    )


def test_a_skipped_ledger_by_default_is_unsharded_with_no_probes_and_no_invocation() -> None:
    led = skipped_ledger("minimal", "absent")
    assert (led.shard_index, led.shard_count, led.probes, led.invocation) == (1, 1, (), None)
    assert led.tests == ()
    assert led.complete


def test_a_broken_ledger_is_an_error_never_a_skip(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ledger_module.time, "time", lambda: 1_700_000_123.0)
    probe = {"mode": "staging_fallback", "available": False, "reason": "refused"}
    why = "configured but unhealthy: refused"
    led = broken_ledger("staging_fallback", why, [probe], (2, 2), "n")
    assert led == Ledger(
        run_id="not-started",
        mode="staging_fallback",
        status=RunStatus.ERROR,
        reason=why,
        started_at=1_700_000_123.0,
        ended_at=1_700_000_123.0,
        complete=True,
        shard_index=2,
        shard_count=2,
        probes=(probe,),
        invocation="n",
    )
    default = broken_ledger("minimal", "broken")
    assert (default.shard_index, default.shard_count, default.probes) == (1, 1, ())
    assert default.invocation is None


@pytest.mark.parametrize(("value", "expected"), [("nox-77", "nox-77"), ("", None)])
def test_the_invocation_comes_from_the_environment_and_empty_means_none(
    monkeypatch: pytest.MonkeyPatch, value: str, expected: str | None
) -> None:
    monkeypatch.setenv("MC_INVOCATION_ID", value)
    assert invocation_from_environment() == expected


def test_no_invocation_in_the_environment_is_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MC_INVOCATION_ID", raising=False)
    assert invocation_from_environment() is None


def test_a_ledger_with_raw_utf8_text_reads_whatever_the_locale(tmp_path: Path) -> None:
    path = tmp_path / "ledger.json"
    path.write_bytes(json.dumps({**REQUIRED, "reason": "café …"}, ensure_ascii=False).encode())
    before = locale.setlocale(locale.LC_CTYPE)
    locale.setlocale(locale.LC_CTYPE, "C")
    try:
        assert read_ledger(path).reason == "café …"
    finally:
        locale.setlocale(locale.LC_CTYPE, before)
