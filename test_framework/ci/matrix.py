"""The CI matrix (mode x shard), built from the nox session list, in the format a CI asks for.

``nox -s ci_matrix -- [--shards SPEC] [--format github|gitlab|cells] [--github-output]
[--check FILE]`` builds one cell per shard of every session tagged ``mission_critical`` in
``nox -l --json`` but the gate (tagged ``gate`` too), and prints it as GitHub Actions'
``include`` list (the default), as the GitLab CI jobs of the matrix (``parallel: matrix`` and a
gate that needs every cell), or as the neutral list of cells ``{session, mode, shard, of}``
any other CI can read (``docs/ci.md``). A job runs a cell as
``nox -s "$SESSION" -- --shard "$SHARD/$OF"``; a last job gates all the cells' ledgers.
Standard library only.
"""

from __future__ import annotations

import argparse
import enum
import json
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from test_framework.ci import renderers
from test_framework.ci.cell import Cell
from test_framework.errors import EXIT_USAGE, ConfigError, HarnessError
from test_framework.modes import ALL_MODES, GATE_TAG, SESSION_TAG, parse_mode
from test_framework.settings_table import SHARDS

MAX_SHARDS = 64
NOX_TIMEOUT_S = 120.0
EXIT_STALE = 1


class Format(enum.StrEnum):
    GITHUB = "github"
    GITLAB = "gitlab"
    CELLS = "cells"


def parse_shards(spec: str) -> tuple[int, dict[str, int]]:
    """``"4"`` -> every mode 4 shards; ``"minimal=4,docker_local=2"`` -> those, others 1.

    Returns the default count and the per-mode counts.
    """
    default, per_mode = 1, {}
    for part in (p.strip() for p in spec.split(",")):
        if not part:
            continue
        name, sep, count_text = part.rpartition("=")
        if sep:
            mode = parse_mode(name, allow_auto=False)
            assert mode is not None
        try:
            count = int(count_text)
        except ValueError:
            raise ConfigError(
                f"--shards {spec!r}: {count_text!r} is not a number: give e.g. 4 or minimal=4"
            ) from None
        if not 1 <= count <= MAX_SHARDS:
            raise ConfigError(f"--shards {spec!r}: {count} shards: give 1 to {MAX_SHARDS}")
        if sep:
            per_mode[name.strip()] = count
        else:
            default = count
    return default, per_mode


def list_sessions(noxfile: Path | None = None) -> list[dict[str, Any]]:
    """``nox -l --json``, run with this interpreter's nox."""
    command = [sys.executable, "-m", "nox", "-l", "--json"]
    if noxfile is not None:
        command += ["-f", str(noxfile)]
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=NOX_TIMEOUT_S, check=False
        )
    except subprocess.TimeoutExpired:
        raise HarnessError(f"`nox -l --json` did not answer in {NOX_TIMEOUT_S:.0f} s") from None
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise HarnessError(f"`nox -l --json` failed ({done.returncode}): {last}")
    return parse_sessions(done.stdout)


def parse_sessions(text: str) -> list[dict[str, Any]]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise HarnessError(f"`nox -l --json` printed no JSON ({exc})") from None
    if not isinstance(data, list) or not all(isinstance(s, dict) for s in data):
        raise HarnessError("`nox -l --json` printed no list of sessions")
    return data


def harness_sessions() -> list[dict[str, Any]]:
    """The mode sessions ``define_sessions()`` makes, as ``nox -l --json`` lists them.

    For ``init``, which writes the noxfile and the CI files together, before nox can list
    anything; tests/ci/test_ci_matrix.py keeps this equal to the real listing.
    """
    return [
        {
            "session": f"{SESSION_TAG}(mode='{mode.value}')",
            "name": SESSION_TAG,
            "tags": [SESSION_TAG, mode.value],
            "call_spec": {"mode": mode.value},
        }
        for mode in ALL_MODES
    ]


def build(
    sessions: Sequence[Mapping[str, Any]],
    default_shards: int = 1,
    shards_per_mode: Mapping[str, int] | None = None,
    tag: str = SESSION_TAG,
) -> list[Cell]:
    """The cells, in the session list's order, each mode's shards in order."""
    per_mode = dict(shards_per_mode or {})
    cells: list[Cell] = []
    modes_seen: list[str] = []
    for session in sessions:
        tags = session.get("tags", ())
        if tag not in tags or GATE_TAG in tags:
            continue
        mode = (session.get("call_spec") or {}).get("mode")
        if not isinstance(mode, str):
            raise HarnessError(
                f"nox session {session.get('session')!r} is tagged {tag} but has no mode"
                " parameter: parametrize it over the modes"
            )
        if mode in modes_seen:
            raise HarnessError(f"two nox sessions tagged {tag} run mode {mode}: keep one")
        modes_seen.append(mode)
        count = per_mode.pop(mode, default_shards)
        cells += [Cell(session["session"], mode, index, count) for index in range(1, count + 1)]
    if not cells:
        raise HarnessError(f"`nox -l --json` lists no session tagged {tag}: nothing to run")
    if per_mode:
        raise ConfigError(
            f"--shards names mode(s) with no nox session: {', '.join(sorted(per_mode))}"
        )
    return cells


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        SHARDS.option,
        default=os.environ.get(SHARDS.env, SHARDS.default),
        metavar=SHARDS.metavar,
        help=SHARDS.option_help(),
    )
    p.add_argument(
        "--format",
        type=Format,
        choices=list(Format),
        default=Format.GITHUB,
        help="github: the include list of a GitHub Actions matrix (default); gitlab: the GitLab"
        " CI jobs of the matrix (.gitlab/mission-critical-matrix.yml); cells: the neutral JSON"
        " list of {session, mode, shard, of}",
    )
    p.add_argument(
        "--tag", default=SESSION_TAG, help=f"the nox tag of the mode sessions ({SESSION_TAG})"
    )
    p.add_argument("--noxfile", type=Path, help="the noxfile (default: nox's own lookup)")
    p.add_argument(
        "--sessions",
        type=Path,
        metavar="FILE",
        help="read a saved `nox -l --json` instead of running nox",
    )
    p.add_argument(
        "--github-output",
        action="store_true",
        help="also append matrix=<json> to the file named by GITHUB_OUTPUT (--format github)",
    )
    p.add_argument(
        "--check",
        type=Path,
        metavar="FILE",
        help="print nothing; exit 1 when FILE differs from what this would print (a committed"
        " matrix, e.g. the GitLab one, gone stale)",
    )


def render(cells: Sequence[Cell], form: Format, shards_spec: str) -> str:
    if form is Format.GITLAB:
        return renderers.gitlab(cells, shards_spec)
    if form is Format.CELLS:
        return renderers.cells_json(cells) + "\n"
    return renderers.github_json(cells) + "\n"


def run(args: argparse.Namespace) -> int:
    default, per_mode = parse_shards(args.shards)
    if args.github_output and args.format is not Format.GITHUB:
        raise ConfigError(f"--github-output goes with --format github, not {args.format}")
    if args.sessions is not None:
        try:
            sessions = parse_sessions(args.sessions.read_text("utf-8"))
        except OSError as exc:
            raise HarnessError(f"--sessions {args.sessions}: cannot read ({exc})") from None
    else:
        sessions = list_sessions(args.noxfile)
    text = render(build(sessions, default, per_mode, args.tag), args.format, args.shards)
    if args.check is not None:
        return check(args.check, text, args)
    sys.stdout.write(text)
    if args.github_output:
        target = os.environ.get("GITHUB_OUTPUT")
        if not target:
            raise ConfigError("--github-output: GITHUB_OUTPUT is not set (it is, in Actions)")
        with open(target, "a", encoding="utf-8") as handle:
            handle.write(f"matrix={text}")
    return 0


def check(path: Path, expected: str, args: argparse.Namespace) -> int:
    try:
        found = path.read_text("utf-8")
    except OSError as exc:
        raise ConfigError(f"--check {path}: cannot read ({exc})") from None
    if found == expected:
        print(f"ci_matrix: {path} is the matrix of `nox -l --json` with --shards {args.shards}")
        return 0
    print(
        f"ci_matrix: {path} is stale: it is not the matrix of `nox -l --json` with --shards"
        f" {args.shards}; rewrite it: nox -s ci_matrix -- --format {args.format}"
        f" --shards {args.shards} > {path}",
        file=sys.stderr,
    )
    return EXIT_STALE


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m test_framework.ci.matrix",
        description="Print the CI matrix (mode x shard) from `nox -l --json`.",
    )
    add_arguments(p)
    try:
        return run(p.parse_args(argv))
    except HarnessError as exc:
        print(f"ci_matrix: error: {exc}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    raise SystemExit(main())
