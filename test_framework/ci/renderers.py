"""The CI matrix's cells written out for a CI: GitHub's include list, GitLab's jobs, neutral JSON.

Each renderer is a pure function of the cells (``test_framework.ci.matrix``), so every format
holds exactly the same mode x shard cells. Standard library only.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from test_framework.ci.cell import Cell
from test_framework.errors import ConfigError

# The file `ci_matrix --format gitlab` prints and `init --ci gitlab` writes; the jobs' scripts
# are in TEMPLATES, which includes it.
GITLAB_MATRIX_FILE = ".gitlab/mission-critical-matrix.yml"
GITLAB_TEMPLATES_FILE = ".gitlab/mission-critical.yml"
GITLAB_CELL_JOB = "mission-critical cell"
GITLAB_GATE_JOB = "mission-critical gate"
# GitLab's default limit of needs per job (ci_needs_size_limit): the gate needs every cell.
GITLAB_NEEDS_LIMIT = 50


def github(cells: Sequence[Cell]) -> dict[str, list[dict[str, Any]]]:
    """``{"include": [...]}`` for ``strategy.matrix`` (fields the workflow uses)."""
    return {
        "include": [
            {
                "session": cell.session,
                "mode": cell.mode,
                "shard": cell.shard,
                "shards": cell.of,
                "name": cell.name,
                "artifact": f"ledger-{cell.label}",
            }
            for cell in cells
        ]
    }


def github_json(cells: Sequence[Cell]) -> str:
    return json.dumps(github(cells), separators=(",", ":"))


def cells_json(cells: Sequence[Cell]) -> str:
    """The neutral form: ``[{"session", "mode", "shard", "of"}, ...]``, one cell a line."""
    return "[\n" + ",\n".join(json.dumps(cell.to_json()) for cell in cells) + "\n]"


def _quoted(text: str) -> str:
    # A JSON string is a YAML double-quoted scalar: the same quotes and escapes.
    return json.dumps(text)


def _matrix_rows(cells: Sequence[Cell], indent: str) -> list[str]:
    """One ``parallel: matrix`` row per session, its shards as the list of MC_SHARD values."""
    rows: dict[tuple[str, str], list[str]] = {}
    for cell in cells:
        rows.setdefault((cell.session, cell.mode), []).append(f"{cell.shard}/{cell.of}")
    lines = []
    for (session, mode), shards in rows.items():
        lines += [
            f"{indent}- MC_SESSION: {_quoted(session)}",
            f"{indent}  MC_MODE: {_quoted(mode)}",
            f"{indent}  MC_SHARD: [{', '.join(_quoted(s) for s in shards)}]",
        ]
    return lines


def gitlab(cells: Sequence[Cell], shards_spec: str) -> str:
    """``.gitlab/mission-critical-matrix.yml``: the cell job over ``parallel: matrix`` and the
    gate job, which needs exactly those cells and is told their folders."""
    if len(cells) > GITLAB_NEEDS_LIMIT:
        raise ConfigError(
            f"{len(cells)} cells: GitLab lets the gate job need at most {GITLAB_NEEDS_LIMIT}"
            " jobs; give fewer --shards"
        )
    folders = " ".join(cell.label for cell in cells)
    lines = [
        "# The mission-critical matrix: one job per mode x shard, then the gate over all of them.",
        f"# Written by `nox -s ci_matrix -- --format gitlab --shards {shards_spec}` from",
        "# `nox -l --json`. Do not edit it: rewrite it with that command (the gate job fails when",
        f"# it is stale). The jobs' scripts are in {GITLAB_TEMPLATES_FILE}.",
        "",
        f"{GITLAB_CELL_JOB}:",
        "  extends: .mission-critical-cell",
        "  parallel:",
        "    matrix:",
        *_matrix_rows(cells, "      "),
        "",
        f"{GITLAB_GATE_JOB}:",
        "  extends: .mission-critical-gate",
        "  variables:",
        f"    MC_MATRIX_SHARDS: {_quoted(shards_spec)}",
        "    # Each cell's folder under ledgers/: one with no ledger fails the gate.",
        f"    MC_CELLS: {_quoted(folders)}",
        "  needs:",
        f"    - job: {GITLAB_CELL_JOB}",
        "      artifacts: true",
        "      parallel:",
        "        matrix:",
        *_matrix_rows(cells, "          "),
    ]
    return "\n".join(lines) + "\n"
