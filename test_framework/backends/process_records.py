"""Which local service process groups the harness started, so that one left behind is ended.

Each started group gets a small JSON record in ``<report_dir>/minimal/processes/`` (its group,
its marker, its owner's pid and start time), removed when the group is stopped. The watchdog
normally ends a group whose owner died; a record that outlives its owner (the watchdog was
killed too, or the machine does not have ``/proc``) is ended by the next run of the mode and by
``python -m test_framework cleanup``, only while a process of the group still carries the
record's marker. Standard library only.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from test_framework.backends.watchdog import end_group, group_members

FOLDER = "processes"
# A group found left behind is not waited on long: its owner is gone, nobody reads its answers.
LEFTOVER_GRACE_S = 2.0


@dataclass(frozen=True)
class ProcessRecord:
    run_id: str
    worker_id: str
    pid: int
    pgid: int
    marker: str
    owner_pid: int
    started_at: float
    command: str
    log: str

    @property
    def file_name(self) -> str:
        return f"{self.marker}.json"


def records_dir(report_dir: Path) -> Path:
    return report_dir / "minimal" / FOLDER


def write_record(report_dir: Path, record: ProcessRecord) -> Path:
    folder = records_dir(report_dir)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / record.file_name
    path.write_text(json.dumps(asdict(record)), "utf-8")
    return path


def remove_record(report_dir: Path, record: ProcessRecord) -> None:
    (records_dir(report_dir) / record.file_name).unlink(missing_ok=True)


def read_records(report_dir: Path) -> list[ProcessRecord]:
    folder = records_dir(report_dir)
    if not folder.is_dir():
        return []
    records: list[ProcessRecord] = []
    for path in sorted(folder.glob("*.json")):
        try:
            records.append(ProcessRecord(**json.loads(path.read_text("utf-8"))))
        except (OSError, ValueError, TypeError):
            continue  # half-written by a run killed meanwhile; it names nothing reliable
    return records


def owner_alive(record: ProcessRecord) -> bool:
    try:
        os.kill(record.owner_pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # somebody's process: not ours to judge
    return True


def end_leftovers(report_dir: Path, *, run_prefix: str = "", every: bool = False) -> list[str]:
    """End the groups whose owner is gone (with ``run_prefix``, every group of that run and its
    private deployments, owner or not; with ``every``, all recorded). One line per group ended."""
    lines: list[str] = []
    for record in read_records(report_dir):
        if every:
            pass
        elif run_prefix:
            if not record.run_id.startswith(run_prefix):
                continue
        elif owner_alive(record):
            continue
        if group_members(record.pgid, record.marker):
            how = end_group(record.pgid, record.marker, LEFTOVER_GRACE_S)
            lines.append(
                f"{how} process group {record.pgid} ({record.command}) of run {record.run_id}"
            )
        with contextlib.suppress(OSError):
            remove_record(report_dir, record)
    return lines
