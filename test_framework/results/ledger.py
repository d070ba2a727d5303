"""The results ledger: what one run of the suite in one mode (and shard) did, test by test.

The plugin writes one ledger per mode per shard; the noxfile writes one for a mode it skipped;
the gate and the reports read them. Standard library only: the gate runs before, and outside,
any session's environment. The format is described in ``docs/ledger.md``.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import json
import os
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from test_framework.client.redaction import redact
from test_framework.results.code import CodeRecord
from test_framework.settings_table import INVOCATION_ID

SCHEMA = "mission-critical-ledger"
VERSION = 1
MISSION_CRITICAL = "mission_critical"
# Set by whatever runs several modes as one whole (the noxfile: one id per `nox` command), so
# the gate can tell this run's ledgers from those an earlier run left.
INVOCATION_ENV = INVOCATION_ID.env


class Outcome(enum.StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    ERROR = "error"
    SKIPPED = "skipped"
    XFAILED = "xfailed"
    XPASSED = "xpassed"
    # In no ledger written by a run: the gate's word for a test that another mode (or shard
    # set) collected and this one did not.
    NOT_COLLECTED = "not_collected"

    @property
    def executed(self) -> bool:
        """The test ran against the deployment (whatever its verdict)."""
        return self not in (Outcome.SKIPPED, Outcome.NOT_COLLECTED)


class RunStatus(enum.StrEnum):
    RAN = "ran"
    SKIPPED = "skipped"  # the mode could not run here; ``reason`` says why
    ERROR = "error"  # the run could not start or collect


@dataclass(frozen=True)
class TestRecord:
    nodeid: str
    outcome: Outcome
    markers: tuple[str, ...] = ()
    duration_s: float = 0.0
    skip_reason: str | None = None
    message: str | None = None
    attempts: int = 1
    transcript: str | None = None
    # Connections or HTTP requests the client tried again within the test (any attempt).
    connection_retries: int = 0

    @property
    def mission_critical(self) -> bool:
        return MISSION_CRITICAL in self.markers

    @property
    def retried(self) -> bool:
        return self.attempts > 1 or self.connection_retries > 0

    def to_json(self) -> dict[str, Any]:
        return {
            "nodeid": self.nodeid,
            "outcome": self.outcome.value,
            "markers": list(self.markers),
            "duration_s": round(self.duration_s, 6),
            "skip_reason": self.skip_reason,
            "message": self.message,
            "attempts": self.attempts,
            "retried": self.retried,
            "connection_retries": self.connection_retries,
            "transcript": self.transcript,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TestRecord:
        return cls(
            nodeid=str(data["nodeid"]),
            outcome=Outcome(data["outcome"]),
            markers=tuple(data.get("markers", ())),
            duration_s=float(data.get("duration_s", 0.0)),
            skip_reason=data.get("skip_reason"),
            message=data.get("message"),
            attempts=int(data.get("attempts", 1)),
            transcript=data.get("transcript"),
            connection_retries=int(data.get("connection_retries", 0)),
        )


def collected_digest(nodeids: Iterable[str]) -> str:
    """SHA-256 of the sorted, distinct node ids joined by newlines: every shard of a mode
    records it for the whole collected set, so the gate can tell whether they agree."""
    text = "\n".join(sorted(set(nodeids)))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class CollectionError:
    nodeid: str
    message: str


@dataclass(frozen=True)
class Ledger:
    run_id: str
    mode: str
    status: RunStatus
    reason: str  # why this mode was chosen, or why it was skipped
    started_at: float
    ended_at: float | None = None
    complete: bool = False  # False: interrupted or still running; the gate says so
    shard_index: int = 1
    shard_count: int = 1
    exit_status: int | None = None
    probes: tuple[dict[str, Any], ...] = ()
    deployment: dict[str, Any] = field(default_factory=dict)
    collection_errors: tuple[CollectionError, ...] = ()
    tests: tuple[TestRecord, ...] = ()
    # The whole set the run collected before the shard split (after -k/-m): its size and
    # ``collected_digest``. ``tests`` holds only this shard's part of it. None: not recorded.
    collected_count: int | None = None
    collected_sha256: str | None = None
    # The id of the command that ran this mode with others (``MC_INVOCATION_ID``), or None.
    invocation: str | None = None
    # What code the run tested (``test_framework.results.code``); None: not recorded (a mode
    # that did not run, or a ledger older than the field).
    code: CodeRecord | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "version": VERSION,
            "run_id": self.run_id,
            "invocation": self.invocation,
            "mode": self.mode,
            "status": self.status.value,
            "reason": self.reason,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "complete": self.complete,
            "shard": {"index": self.shard_index, "count": self.shard_count},
            "collected": (
                None
                if self.collected_sha256 is None
                else {"count": self.collected_count, "sha256": self.collected_sha256}
            ),
            "exit_status": self.exit_status,
            "code": None if self.code is None else self.code.to_json(),
            "probes": list(self.probes),
            "deployment": self.deployment,
            "collection_errors": [
                {"nodeid": e.nodeid, "message": e.message} for e in self.collection_errors
            ],
            "tests": [t.to_json() for t in self.tests],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Ledger:
        if data.get("schema") != SCHEMA:
            raise ValueError(f"not a {SCHEMA} file (schema={data.get('schema')!r})")
        if data.get("version") != VERSION:
            raise ValueError(
                f"ledger version {data.get('version')!r}; this harness reads {VERSION}"
            )
        shard = data.get("shard", {})
        collected = data.get("collected") or {}
        return cls(
            run_id=str(data["run_id"]),
            mode=str(data["mode"]),
            status=RunStatus(data["status"]),
            reason=str(data.get("reason", "")),
            started_at=float(data["started_at"]),
            ended_at=data.get("ended_at"),
            complete=bool(data.get("complete", False)),
            shard_index=int(shard.get("index", 1)),
            shard_count=int(shard.get("count", 1)),
            exit_status=data.get("exit_status"),
            probes=tuple(data.get("probes", ())),
            deployment=dict(data.get("deployment", {})),
            collection_errors=tuple(
                CollectionError(str(e["nodeid"]), str(e["message"]))
                for e in data.get("collection_errors", ())
            ),
            tests=tuple(TestRecord.from_json(t) for t in data.get("tests", ())),
            collected_count=collected.get("count"),
            collected_sha256=collected.get("sha256"),
            invocation=data.get("invocation"),
            code=CodeRecord.from_json(data["code"]) if data.get("code") else None,
        )


def skipped_ledger(
    mode: str,
    reason: str,
    probes: Iterable[dict[str, Any]] = (),
    shard: tuple[int, int] = (1, 1),
    invocation: str | None = None,
) -> Ledger:
    """The ledger of a mode that could not run here: no tests, and why."""
    now = time.time()
    return Ledger(
        run_id="not-started",
        mode=mode,
        status=RunStatus.SKIPPED,
        reason=reason,
        started_at=now,
        ended_at=now,
        complete=True,
        shard_index=shard[0],
        shard_count=shard[1],
        probes=tuple(probes),
        invocation=invocation,
    )


def broken_ledger(
    mode: str,
    reason: str,
    probes: Iterable[dict[str, Any]] = (),
    shard: tuple[int, int] = (1, 1),
    invocation: str | None = None,
) -> Ledger:
    """The ledger of a mode that was configured but failed its probe: an error, never a skip."""
    ledger = skipped_ledger(mode, reason, probes, shard, invocation)
    return dataclasses.replace(ledger, status=RunStatus.ERROR)


def invocation_from_environment() -> str | None:
    """``MC_INVOCATION_ID``, the id of the command this run is part of, if one set it."""
    return os.environ.get(INVOCATION_ENV) or None


def ledger_path(report_dir: Path, mode: str, shard_index: int = 1, shard_count: int = 1) -> Path:
    name = (
        "ledger.json" if shard_count == 1 else f"ledger-shard-{shard_index}-of-{shard_count}.json"
    )
    return report_dir / mode / name


def write_ledger(ledger: Ledger, path: Path) -> None:
    """Write atomically, so a reader never sees half a file (the run may be interrupted)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".ledger-", suffix=".json")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        # Every string redacted, whoever made it: reports and the gate's output come from here.
        json.dump(redact(ledger.to_json()), handle, indent=2, sort_keys=False)
        handle.write("\n")
    os.replace(tmp, path)


def read_ledger(path: Path) -> Ledger:
    return Ledger.from_json(json.loads(path.read_text("utf-8")))
