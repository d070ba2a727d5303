"""Splitting the collected tests over N CI jobs, deterministically.

Every shard process collects the same tests and keeps its own part: the split depends only on
the set of node ids (never on collection order, the machine, or the clock), so N processes
agree without talking to each other. With recorded durations the split is greedy
longest-processing-time (each test, longest first, goes to the least loaded shard), so shards
take about the same time; without them every test weighs the same.

Standard library only: the nox and tox runners parse ``--shard`` with it before a session has
installed anything. Below ``runners``, ``pytest_plugin`` and ``ci``, which all use it.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Mapping, Sequence
from pathlib import Path

from test_framework.errors import ConfigError

DEFAULT_WEIGHT_S = 1.0


def parse_shard(text: str) -> tuple[int, int]:
    """``"2/4"`` -> ``(2, 4)``: shard indexes count from 1, as in CI matrices."""
    head, sep, tail = text.strip().partition("/")
    try:
        if not sep:
            raise ValueError
        index, count = int(head), int(tail)
    except ValueError:
        raise ConfigError(f"--shard {text!r} is not of the form i/N: give e.g. 2/4") from None
    if count < 1:
        raise ConfigError(f"--shard {text!r} has N={count}: the number of shards must be 1 or more")
    if not 1 <= index <= count:
        raise ConfigError(f"--shard {text!r} has i={index}: give 1 <= i <= {count}")
    return index, count


def weights(
    nodeids: Sequence[str], durations: Mapping[str, float] | None = None
) -> dict[str, float]:
    """Each test's expected seconds. A test with no recorded duration (a new test) weighs the
    median of the recorded ones, so it neither hides in nor crowds a shard."""
    if not durations:
        return {nodeid: DEFAULT_WEIGHT_S for nodeid in nodeids}
    known = [d for n, d in durations.items() if d >= 0]
    fallback = statistics.median(known) if known else DEFAULT_WEIGHT_S
    return {nodeid: max(durations.get(nodeid, fallback), 0.0) for nodeid in nodeids}


def assign_shards(
    nodeids: Sequence[str], count: int, durations: Mapping[str, float] | None = None
) -> list[list[str]]:
    """All ``count`` shards (index 0 is shard 1), each in sorted node id order."""
    if count < 1:
        raise ConfigError(f"cannot split tests into {count} shards: give 1 or more")
    unique = sorted(set(nodeids))
    weight = weights(unique, durations)
    shards: list[list[str]] = [[] for _ in range(count)]
    loads = [0.0] * count
    # Longest first; equal weights fall back to node id order, so the result is a pure
    # function of the set of ids. Ties in load go to the lowest shard index.
    for nodeid in sorted(unique, key=lambda n: (-weight[n], n)):
        target = min(range(count), key=lambda i: (loads[i], len(shards[i]), i))
        shards[target].append(nodeid)
        loads[target] += weight[nodeid]
    return [sorted(shard) for shard in shards]


def select_shard(
    nodeids: Sequence[str],
    index: int,
    count: int,
    durations: Mapping[str, float] | None = None,
) -> list[str]:
    """The node ids shard ``index`` of ``count`` (1-based) runs, in the order given.

    Keeping the caller's order lets pytest run a shard's tests in collection order.
    """
    if not 1 <= index <= count:
        raise ConfigError(f"shard {index}/{count} does not exist: give 1 <= i <= {count}")
    mine = set(assign_shards(nodeids, count, durations)[index - 1])
    seen: set[str] = set()
    selected: list[str] = []
    for nodeid in nodeids:
        if nodeid in mine and nodeid not in seen:
            seen.add(nodeid)
            selected.append(nodeid)
    return selected


def load_durations(path: Path) -> dict[str, float]:
    """Recorded durations from ``path``: a JSON object ``{nodeid: seconds}``, or a results
    ledger (its tests' ``duration_s``), or a folder of ledgers (the longest run of each test).
    """
    if path.is_dir():
        files = sorted(path.rglob("ledger*.json"))
        if not files:
            raise ConfigError(f"--shard-durations {path}: no ledger*.json in this folder")
        merged: dict[str, float] = {}
        for file in files:
            for nodeid, seconds in load_durations(file).items():
                merged[nodeid] = max(seconds, merged.get(nodeid, 0.0))
        return merged
    try:
        data = json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"--shard-durations {path}: no such file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"--shard-durations {path}: cannot read JSON ({exc})") from None
    if isinstance(data, dict) and isinstance(data.get("tests"), list):
        pairs = [(t.get("nodeid"), t.get("duration_s")) for t in data["tests"]]
    elif isinstance(data, dict):
        pairs = list(data.items())
    else:
        pairs = []
    durations: dict[str, float] = {}
    for nodeid, seconds in pairs:
        if (
            not isinstance(nodeid, str)
            or isinstance(seconds, bool)
            or not isinstance(seconds, int | float)
        ):
            raise ConfigError(
                f"--shard-durations {path}: expected {{nodeid: seconds}} or a ledger,"
                f" found {nodeid!r}: {seconds!r}"
            )
        durations[nodeid] = float(seconds)
    return durations
