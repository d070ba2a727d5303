"""Ledgers written for the gate and report tests: real files in the real format."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path

from test_framework.results.ledger import (
    CollectionError,
    Ledger,
    Outcome,
    RunStatus,
    TestRecord,
    collected_digest,
    ledger_path,
    write_ledger,
)
from test_framework.sharding import select_shard

MC = ("mission_critical",)
FILE = "tests/mission_critical/test_protocol.py"


def nid(name: str) -> str:
    return f"{FILE}::{name}"


def record(
    name: str,
    outcome: Outcome = Outcome.PASSED,
    *,
    mc: bool = True,
    reason: str | None = None,
    transcript: str | None = None,
    attempts: int = 1,
) -> TestRecord:
    return TestRecord(
        nodeid=nid(name),
        outcome=outcome,
        markers=MC if mc else (),
        duration_s=0.25,
        skip_reason=reason if outcome is Outcome.SKIPPED else None,
        message=reason if outcome is not Outcome.SKIPPED else None,
        attempts=attempts,
        transcript=transcript,
    )


def ledger(
    mode: str,
    tests: Sequence[TestRecord] = (),
    *,
    status: RunStatus = RunStatus.RAN,
    reason: str = "",
    complete: bool = True,
    shard: tuple[int, int] = (1, 1),
    collected: Iterable[str] | None = None,
    collection_errors: Sequence[CollectionError] = (),
    exit_status: int | None = None,
) -> Ledger:
    ids = [t.nodeid for t in tests] if collected is None else list(collected)
    failed = any(t.outcome in (Outcome.FAILED, Outcome.ERROR) for t in tests)
    return Ledger(
        run_id=f"run-{mode}-{shard[0]}",
        mode=mode,
        status=status,
        reason=reason or (f"{mode} requested" if status is RunStatus.RAN else "cannot run"),
        started_at=1_700_000_000.0,
        ended_at=1_700_000_010.0 if complete else None,
        complete=complete,
        shard_index=shard[0],
        shard_count=shard[1],
        exit_status=exit_status
        if exit_status is not None
        else (None if status is not RunStatus.RAN else int(failed)),
        probes=(
            {
                "mode": mode,
                "available": status is RunStatus.RAN,
                "reason": reason or "probe said so",
                "elapsed_ms": 1.5,
                "details": {},
                "steps": [],
            },
        ),
        deployment={"ws_url": "ws://127.0.0.1:5000/ws"} if status is RunStatus.RAN else {},
        collection_errors=tuple(collection_errors),
        tests=tuple(tests),
        collected_count=len(set(ids)) if status is RunStatus.RAN else None,
        collected_sha256=collected_digest(ids) if status is RunStatus.RAN else None,
    )


def write(report_dir: Path, led: Ledger) -> Path:
    path = ledger_path(report_dir, led.mode, led.shard_index, led.shard_count)
    write_ledger(led, path)
    return path


def sharded(mode: str, tests: Sequence[TestRecord], count: int) -> list[Ledger]:
    """What ``count`` shard processes of one mode write: each its part, all the whole set."""
    ids = [t.nodeid for t in tests]
    ledgers = []
    for index in range(1, count + 1):
        mine = set(select_shard(ids, index, count))
        part = [t for t in tests if t.nodeid in mine]
        ledgers.append(ledger(mode, part, shard=(index, count), collected=ids))
    return ledgers


def write_sharded(report_dir: Path, mode: str, tests: Sequence[TestRecord], count: int) -> None:
    for led in sharded(mode, tests, count):
        write(report_dir, led)


def write_transcript(
    report_dir: Path, mode: str, name: str, entries: list[dict[str, object]]
) -> str:
    path = report_dir / mode / "transcripts" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"entries": entries}), "utf-8")
    return name


def frame(
    source: str, direction: str, data: object, kind: str = "text", t: float = 0.0
) -> dict[str, object]:
    return {
        "t": 1_700_000_000.0 + t,
        "source": source,
        "dir": direction,
        "kind": kind,
        "data": data,
    }
