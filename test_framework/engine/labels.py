"""The labels that mark this harness's Docker resources, and who owns them.

Every container, network and volume of a run carries them (the compose files set them from the
``MC_*`` variables in ``compose_variables``). Cleanup finds resources by these labels only, so it
never touches anything else on the machine. Standard library only.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from pathlib import Path

PROJECT = "mission-critical.project"
RUN_ID = "mission-critical.run-id"
OWNER_PID = "mission-critical.owner-pid"
OWNER_HOST = "mission-critical.owner-host"
OWNER_START = "mission-critical.owner-start"
PROJECT_VALUE = "mission-critical-harness"

PROJECT_FILTER = f"{PROJECT}={PROJECT_VALUE}"


def project_name(run_id: str) -> str:
    """The Compose project of a run: unique per run, lower case as Compose requires."""
    return f"mc-{run_id}".lower()


def _stat(pid: int) -> list[str]:
    """``/proc/<pid>/stat`` after the command name: state is [0], starttime [19]; [] elsewhere."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text("ascii")
    except OSError:
        return []
    return stat.rpartition(")")[2].split()


def process_start(pid: int) -> str:
    """The process's start time in clock ticks since boot (Linux), or "0" where unknown.

    With the pid it tells a live owner from a new process that reused a dead owner's pid.
    """
    fields = _stat(pid)
    return fields[19] if len(fields) > 19 else "0"


def compose_variables(run_id: str, owner_pid: int) -> dict[str, str]:
    """The variables the compose files interpolate into their labels."""
    return {
        "MC_RUN_ID": run_id,
        "MC_OWNER_PID": str(owner_pid),
        "MC_OWNER_HOST": socket.gethostname(),
        "MC_OWNER_START": process_start(owner_pid),
    }


def owner_gone(labels: Mapping[str, str]) -> bool:
    """Whether the process that owns a labelled resource is certainly gone.

    Unknown owners (another host, pid 0 for a stack started by hand) are never "gone": only an
    explicit ``cleanup --run-id`` removes those.
    """
    if labels.get(OWNER_HOST) != socket.gethostname():
        return False
    try:
        pid = int(labels.get(OWNER_PID, "0"))
    except ValueError:
        return False
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        pass  # alive, owned by another user
    fields = _stat(pid)
    if fields and fields[0] in ("Z", "X"):  # dead, not yet reaped by its parent
        return True
    started = labels.get(OWNER_START, "0")
    now = fields[19] if len(fields) > 19 else "0"
    return started not in ("", "0") and now != "0" and now != started
