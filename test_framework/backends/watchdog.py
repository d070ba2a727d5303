"""Ends a service's process group when the process that started it is gone, however it went.

The harness starts each local service in a process group of its own, and beside it this file as
a script (``python -I -S watchdog.py PGID MARKER GRACE``) whose standard input is a pipe only the
harness's process holds. When that process ends without stopping the service (a crash,
SIGKILL), the kernel closes the pipe, the read below returns nothing, and the watchdog ends the
group: SIGTERM, then SIGKILL after ``GRACE`` seconds. A clean stop ends the group itself and then
writes ``GROUP_ENDED`` to the pipe: the watchdog exits at once, without looking at the group.
A group is only ever signalled while a process in it carries ``MARKER`` in its environment, so
a process group id the system has reused for somebody else is left alone.

Why not the kernel's parent-death signal: it reaches only the direct child, and a service
started through ``npm start`` or a shell has grandchildren that outlive it; it also fires when
the *thread* that started the child ends, not the process. See docs/service.md.

Standard library only, and importable: the harness and ``cleanup`` end groups with these same
functions.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from pathlib import Path

MARKER_ENV = "MC_SERVICE_MARKER"
# What the harness writes once it has ended the group itself; end of file without it means the
# harness is gone.
GROUP_ENDED = b"ended\n"
_PROC = Path("/proc")
_POLL_S = 0.01


def group_members(pgid: int, marker: str) -> list[int]:
    """The live processes of group ``pgid`` that carry ``marker``; on a system without
    ``/proc``, the group's leader when it is alive (its marker cannot be read there)."""
    try:
        os.killpg(pgid, 0)
        ours_to_signal = True
    except ProcessLookupError:
        return []  # an empty group: one system call instead of a read of every process
    except PermissionError:
        ours_to_signal = False  # somebody else's processes are in it; their markers say more
    if not _PROC.is_dir():
        return [pgid] if ours_to_signal else []
    wanted = f"{MARKER_ENV}={marker}".encode()
    members: list[int] = []
    for entry in _PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_bytes()
            # pid (comm) state ppid pgrp ...: comm may hold spaces and parentheses.
            fields = stat[stat.rindex(b")") + 2 :].split()
            if int(fields[2]) != pgid or fields[0] == b"Z":
                continue
            if wanted in (entry / "environ").read_bytes().split(b"\0"):
                members.append(int(entry.name))
        except (OSError, ValueError, IndexError):
            continue  # gone meanwhile, or not ours to read
    return members


def end_group(pgid: int, marker: str, grace_s: float) -> str:
    """SIGTERM to the group, SIGKILL after ``grace_s`` if any of it is left. Returns what was
    done: ``"gone"`` (nothing of ours there), ``"stopped"`` or ``"killed"``."""
    if not group_members(pgid, marker):
        return "gone"
    _signal(pgid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        if not group_members(pgid, marker):
            return "stopped"
        time.sleep(_POLL_S)
    _signal(pgid, signal.SIGKILL)
    return "killed"


def _signal(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):  # gone meanwhile
        os.killpg(pgid, signum)


def main(argv: list[str]) -> int:
    pgid, marker, grace = int(argv[1]), argv[2], float(argv[3])
    # Ctrl-C in a terminal reaches every process of the foreground group: this one must wait
    # for the harness to stop the service, or for the harness to be gone.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    said = b""
    while chunk := os.read(sys.stdin.fileno(), 64):
        said += chunk
        if said.startswith(GROUP_ENDED):
            return 0
    end_group(pgid, marker, grace)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
