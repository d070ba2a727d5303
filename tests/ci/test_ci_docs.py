"""docs/ci.md shows what the harness prints: its GitLab matrix and JSON cells are the real
renderings, and its Buildkite generator turns the real cells into one step per cell and a gate
that depends on all of them."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from test_framework.ci import matrix, renderers
from test_framework.ci.cell import Cell
from tests.support.environment import run_captured

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "ci.md"
SHARDS = "minimal=2"


def cells() -> list[Cell]:
    default, per_mode = matrix.parse_shards(SHARDS)
    return matrix.build(matrix.harness_sessions(), default, per_mode)


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", DOC.read_text("utf-8"), re.DOTALL)


def test_the_docs_gitlab_matrix_is_what_format_gitlab_prints() -> None:
    shown = next(b for b in blocks("yaml") if b.startswith("mission-critical cell:"))
    # The doc leaves out the repeated rows after its last line.
    kept = shown.rsplit("\n", 2)[0]
    assert kept in renderers.gitlab(cells(), SHARDS)


def test_the_docs_json_cells_are_what_format_cells_prints() -> None:
    shown = next(b for b in blocks("json") if b.startswith("[\n"))
    assert shown == renderers.cells_json(cells()) + "\n"


def test_the_buildkite_generator_makes_a_step_per_cell_and_a_gate_after_all(
    tmp_path: Path,
) -> None:
    text = DOC.read_text("utf-8")
    generator = re.search(r"<!-- buildkite-generator -->\n```python\n(.*?)```", text, re.DOTALL)
    assert generator, "docs/ci.md has no Buildkite generator after <!-- buildkite-generator -->"
    script = tmp_path / "mission_critical.py"
    script.write_text(generator.group(1))
    saved = tmp_path / "cells.json"
    saved.write_text(renderers.cells_json(cells()))
    done = run_captured(
        [sys.executable, str(script), str(saved)],
        env={"BUILDKITE_BUILD_ID": "0190b9e0-build", "PATH": "/usr/bin:/bin"},
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    steps = json.loads(done.stdout)["steps"]
    *cell_steps, gate = steps
    assert [(s["env"]["SESSION"], s["env"]["SHARD"]) for s in cell_steps] == [
        (c.session, f"{c.shard}/{c.of}") for c in cells()
    ]
    assert all(s["env"]["MC_INVOCATION_ID"] == "0190b9e0-build" for s in steps)
    assert [s["env"]["MC_REPORT_DIR"] for s in cell_steps] == [
        f"ledgers/{c.label}" for c in cells()
    ]
    assert gate["depends_on"] == [s["key"] for s in cell_steps]
    assert len(set(gate["depends_on"])) == len(cell_steps)
    assert gate["allow_dependency_failure"] is True
    assert gate["env"]["CELLS"].split() == [c.label for c in cells()]
    assert '--invocation "$MC_INVOCATION_ID"' in " ".join(gate["command"])
