"""The CI matrix from the nox session list, its renderings, and the workflow that runs it."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from test_framework.ci import matrix, renderers
from test_framework.errors import ConfigError, HarnessError
from test_framework.results import gate
from test_framework.results.ledger import RunStatus
from test_framework.sharding import select_shard
from tests.support.environment import run_captured
from tests.support.ledger_samples import ledger, record, write
from tests.support.workflow_linters import audit, check_schema

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / ".github" / "workflows" / "mission-critical.yml"
SHA_PIN = re.compile(r"^[\w.-]+/[\w.-]+@[0-9a-f]{40} # v\d")

SESSIONS = [
    {
        "session": f"mission_critical(mode='{mode}')",
        "name": "mission_critical",
        "tags": ["mission_critical", mode],
        "call_spec": {"mode": mode},
    }
    for mode in ("docker_local", "staging_fallback", "minimal")
] + [{"session": "tests", "name": "tests", "tags": ["checks"], "call_spec": {}}]


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("1", (1, {})),
        ("4", (4, {})),
        ("minimal=4", (1, {"minimal": 4})),
        ("2, minimal=4 ,docker_local=3", (2, {"minimal": 4, "docker_local": 3})),
    ],
)
def test_shard_specs_name_a_count_for_all_or_per_mode(
    spec: str, expected: tuple[int, dict[str, int]]
) -> None:
    assert matrix.parse_shards(spec) == expected


@pytest.mark.parametrize(
    ("spec", "fragment"),
    [
        ("0", "0 shards: give 1 to 64"),
        ("minimal=65", "65 shards"),
        ("minimal=x", "'x' is not a number"),
        ("dockr=2", "unknown mode 'dockr'"),
    ],
)
def test_bad_shard_specs_are_one_line_errors(spec: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        matrix.parse_shards(spec)
    assert fragment in str(info.value)


def test_the_matrix_has_one_cell_per_mode_and_shard() -> None:
    cells = renderers.github(matrix.build(SESSIONS, 1, {"minimal": 3}))["include"]
    assert [(c["mode"], c["shard"], c["shards"]) for c in cells] == [
        ("docker_local", 1, 1),
        ("staging_fallback", 1, 1),
        ("minimal", 1, 3),
        ("minimal", 2, 3),
        ("minimal", 3, 3),
    ]
    assert cells[3] == {
        "session": "mission_critical(mode='minimal')",
        "mode": "minimal",
        "shard": 2,
        "shards": 3,
        "name": "minimal 2/3",
        "artifact": "ledger-minimal-2-of-3",
    }
    assert len({c["artifact"] for c in cells}) == len(cells)


def test_a_noxfile_without_mode_sessions_gives_no_matrix() -> None:
    with pytest.raises(HarnessError, match="lists no session tagged mission_critical"):
        matrix.build(SESSIONS[-1:])
    broken = [{"session": "mc", "tags": ["mission_critical"], "call_spec": {}}]
    with pytest.raises(HarnessError, match="has no mode parameter"):
        matrix.build(broken)
    with pytest.raises(ConfigError, match="no nox session: minimal"):
        matrix.build(SESSIONS[:2], 1, {"minimal": 2})


def test_the_gate_tagged_with_the_modes_is_no_cell_of_the_matrix() -> None:
    gate_session = {"session": "gate", "tags": ["mission_critical", "gate"], "call_spec": {}}

    cells = renderers.github(matrix.build([*SESSIONS, gate_session]))["include"]

    assert [c["session"] for c in cells] == [s["session"] for s in SESSIONS[:3]]


def test_nox_s_ci_matrix_prints_the_matrix_of_this_noxfile() -> None:
    done = run_captured(
        [sys.executable, "-m", "nox", "-s", "ci_matrix", "--", "--shards", "minimal=4"],
        cwd=ROOT,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    line = next(li for li in done.stdout.splitlines() if li.startswith('{"include"'))
    cells = json.loads(line)["include"]
    assert {c["mode"] for c in cells} == {"docker_local", "staging_fallback", "minimal"}
    assert [c["shard"] for c in cells if c["mode"] == "minimal"] == [1, 2, 3, 4]
    listed = subprocess.run(
        [sys.executable, "-m", "nox", "-l", "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    listing = json.loads(listed.stdout)
    sessions = {s["session"] for s in listing}
    assert {c["session"] for c in cells} <= sessions
    # What init builds the GitLab matrix from, before nox can list anything: the same cells.
    assert matrix.build(matrix.harness_sessions()) == matrix.build(listing)


def test_github_output_gets_the_matrix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    saved = tmp_path / "sessions.json"
    saved.write_text(json.dumps(SESSIONS))
    output = tmp_path / "github_output"
    output.write_text("earlier=1\n")
    monkeypatch.setenv("GITHUB_OUTPUT", str(output))
    assert matrix.main(["--sessions", str(saved), "--shards", "2", "--github-output"]) == 0
    printed = capsys.readouterr().out.strip()
    assert output.read_text() == f"earlier=1\nmatrix={printed}\n"
    assert len(json.loads(printed)["include"]) == 6
    monkeypatch.delenv("GITHUB_OUTPUT")
    assert matrix.main(["--sessions", str(saved), "--github-output"]) == 2
    assert "GITHUB_OUTPUT is not set" in capsys.readouterr().err


def test_the_workflow_validates_against_githubs_schema() -> None:
    done = check_schema(WORKFLOW)
    assert done.returncode == 0, done.stdout + done.stderr


def test_zizmor_finds_nothing_in_the_workflow() -> None:
    done = audit(WORKFLOW)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "No findings to report" in done.stdout


def test_the_workflow_runs_the_cells_ci_matrix_builds_and_gates_them_all() -> None:
    text = WORKFLOW.read_text()
    cell_keys = set(renderers.github(matrix.build(SESSIONS))["include"][0])
    assert set(re.findall(r"(?<![\w.])matrix\.(\w+)", text)) == cell_keys
    assert "nox -s ci_matrix -- --shards" in text
    assert 'nox -s "$SESSION" -- --shard "$SHARD"' in text
    assert (
        "CELLS: ${{ join(fromJSON(needs.matrix.outputs.matrix).include.*.artifact, ' ') }}" in text
    )
    assert (
        'python -m test_framework.results.gate $folders --invocation "$MC_INVOCATION_ID" \\'
        " --reports gate-report" in " ".join(text.split())
    )
    assert text.count("MC_INVOCATION_ID: ${{ github.run_id }}") == 2
    assert "pattern: ledger-*" in text
    uses = re.findall(r"uses: (\S+ # \S+)", text)
    assert uses
    assert all(SHA_PIN.match(u) for u in uses), uses


def test_the_cells_artifacts_gated_together_give_the_verdict(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the gate job sees: each cell's reports/ downloaded into ledgers/<artifact>/, and
    each cell's folder made and named to the gate, as the workflow's gate step does."""
    monkeypatch.setenv("MC_REQUIRED_MODES", "minimal")
    monkeypatch.chdir(tmp_path)  # the gate reads the baseline of the project it runs in
    tests = [record(f"test_{i}") for i in range(9)]
    ids = [t.nodeid for t in tests]
    include = renderers.github(matrix.build(SESSIONS, 1, {"minimal": 3}))["include"]
    folders = [tmp_path / "ledgers" / cell["artifact"] for cell in include]

    def gate_job() -> int:
        for folder in folders:
            folder.mkdir(parents=True, exist_ok=True)
        return gate.main([str(folder) for folder in folders])

    for cell in include:
        reports = tmp_path / "ledgers" / cell["artifact"]
        if cell["mode"] != "minimal":
            write(reports, ledger(cell["mode"], status=RunStatus.SKIPPED, reason="not here"))
            continue
        mine = set(select_shard(ids, cell["shard"], cell["shards"]))
        part = [t for t in tests if t.nodeid in mine]
        write(reports, ledger("minimal", part, shard=(cell["shard"], 3), collected=ids))
    assert gate_job() == 0
    assert "ran in at least one mode: 9, ran nowhere: 0" in capsys.readouterr().out
    aside = tmp_path / "aside"
    folders[3].rename(aside)
    assert gate_job() == 1
    out = capsys.readouterr().out
    assert "no ledger for shard 2/3" in out
    assert re.search(r"MISSING LEDGER: \S*ledger-minimal-2-of-3", out), out
    # A cell of one shard that left nothing is caught only because its folder is named.
    shutil.rmtree(folders[3])
    aside.rename(folders[3])
    shutil.rmtree(folders[1])
    assert gate_job() == 1
    out = capsys.readouterr().out
    assert re.search(r"MISSING LEDGER: \S*ledger-staging_fallback-1-of-1", out), out
    assert gate.main([str(tmp_path / "ledgers")]) == 0, "the whole folder cannot tell"


@pytest.mark.parametrize("spec", ["1", "3", "minimal=2,docker_local=3"])
def test_every_format_holds_the_same_cells(spec: str) -> None:
    default, per_mode = matrix.parse_shards(spec)
    cells = matrix.build(SESSIONS, default, per_mode)
    keys = [(c.session, c.mode, c.shard, c.of) for c in cells]
    include = renderers.github(cells)["include"]
    assert [(c["session"], c["mode"], c["shard"], c["shards"]) for c in include] == keys
    neutral = json.loads(renderers.cells_json(cells))
    assert [tuple(c.values()) for c in neutral] == keys
    assert all(list(c) == ["session", "mode", "shard", "of"] for c in neutral)


def test_the_neutral_cells_are_printed_by_format_cells(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    saved = tmp_path / "sessions.json"
    saved.write_text(json.dumps(SESSIONS))
    assert matrix.main(["--sessions", str(saved), "--shards", "minimal=2", "--format=cells"]) == 0
    cells = json.loads(capsys.readouterr().out)
    assert cells[-2:] == [
        {"session": "mission_critical(mode='minimal')", "mode": "minimal", "shard": 1, "of": 2},
        {"session": "mission_critical(mode='minimal')", "mode": "minimal", "shard": 2, "of": 2},
    ]
    assert matrix.main(["--sessions", str(saved), "--format", "cells", "--github-output"]) == 2
    assert "--github-output goes with --format github" in capsys.readouterr().err


def test_check_tells_a_current_matrix_file_from_a_stale_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    saved = tmp_path / "sessions.json"
    saved.write_text(json.dumps(SESSIONS))
    written = tmp_path / "matrix.yml"
    base = ["--sessions", str(saved), "--format", "gitlab"]
    assert matrix.main([*base, "--shards", "minimal=2"]) == 0
    written.write_text(capsys.readouterr().out)

    assert matrix.main([*base, "--shards", "minimal=2", "--check", str(written)]) == 0
    assert capsys.readouterr().out.startswith(f"ci_matrix: {written} is the matrix")
    assert matrix.main([*base, "--shards", "minimal=3", "--check", str(written)]) == 1
    err = capsys.readouterr().err
    assert "is stale" in err
    assert f"nox -s ci_matrix -- --format gitlab --shards minimal=3 > {written}" in err
    written.write_text(written.read_text().replace('"2/2"', '"2/3"'))
    assert matrix.main([*base, "--shards", "minimal=2", "--check", str(written)]) == 1


def test_gitlab_refuses_a_matrix_its_gate_job_could_not_need() -> None:
    cells = matrix.build(SESSIONS, 17)
    with pytest.raises(ConfigError, match="51 cells: GitLab lets the gate job need at most 50"):
        renderers.gitlab(cells, "17")
