"""Real nox runs in a small project that uses the harness (tests/support/nox_project.py):
reused environments, and the gate over the modes a nox run judged."""

from __future__ import annotations

import json
import os
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.nox_project import (
    ROOT,
    LoopbackStaging,
    make_project,
    make_service_project,
    nox_in,
    seed_bug,
)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return make_project(tmp_path / "project")


@pytest.fixture
def staging(tmp_path: Path) -> Iterator[LoopbackStaging]:
    with LoopbackStaging(tmp_path / "backend.log") as deployment:
        yield deployment


def ledger(project: Path, mode: str) -> dict[str, object]:
    data: dict[str, object] = json.loads((project / "reports" / mode / "ledger.json").read_text())
    return data


def test_nox_reuse_runs_a_mode_whose_earlier_run_installed_nothing_with_its_own_pytest(
    project: Path, tmp_path: Path, staging: LoopbackStaging
) -> None:
    # A pytest earlier on PATH than anything else, as a system-wide one would be.
    outside = tmp_path / "bin"
    outside.mkdir()
    witness = tmp_path / "outside-pytest-ran"
    (outside / "pytest").write_text(f'#!/bin/sh\necho "$@" > {witness}\nexit 0\n')
    (outside / "pytest").chmod(0o755)
    path = {"PATH": f"{outside}{os.pathsep}{os.environ['PATH']}"}

    # Nothing configured: the session fails at its probe, after nox made its environment.
    absent = nox_in(project, "-s", "staging", env=path)
    assert absent.returncode == 1, absent.stdout + absent.stderr
    assert "cannot run here: not configured" in absent.stderr
    assert (project / ".nox" / "staging").is_dir()

    reused = nox_in(project, "-R", "-s", "staging", env={**path, **staging.variables()})
    output = reused.stdout + reused.stderr
    assert reused.returncode == 0, output
    assert not witness.exists(), output
    assert "installing the harness" in output
    ran = ledger(project, "staging_fallback")
    assert ran["status"] == "ran"
    assert [t["outcome"] for t in ran["tests"]] == ["passed"]  # type: ignore[index, union-attr]


def test_a_mode_whose_session_crashed_fails_the_gate_and_leaves_nothing_of_the_earlier_run(
    project: Path, staging: LoopbackStaging
) -> None:
    sessions = (
        "-s",
        "mission_critical(mode='staging_fallback')",
        "mission_critical(mode='minimal')",
    )
    first = nox_in(project, *sessions, env=staging.variables())
    assert first.returncode == 0, first.stdout + first.stderr
    minimal = project / "reports" / "minimal"
    assert (minimal / "junit.xml").is_file()
    assert any((minimal / "transcripts").iterdir())

    crashed = nox_in(project, *sessions, env={**staging.variables(), "CRASH_IN_MODE": "minimal"})
    output = crashed.stdout + crashed.stderr
    assert crashed.returncode != 0, output
    assert "this session crashes before the harness writes a ledger" in output
    assert "gate: FAILED" in output
    assert "MISSING LEDGER: minimal: " in output
    # The mode keeps its row in the table, as missing.
    assert re.search(r"^minimal\s+missing\s", output, re.MULTILINE), output
    assert not (minimal / "transcripts").exists()
    junit = ET.parse(minimal / "junit.xml").getroot()
    properties = {p.get("name"): p.get("value") for p in junit.iter("property")}
    assert properties["status"] == "missing"
    assert ledger(project, "staging_fallback")["status"] == "ran"


def test_nox_reuse_tests_the_working_tree_after_a_bug_is_seeded_in_a_service_installed_as_a_copy(
    tmp_path: Path,
) -> None:
    """``-R`` skips every session.install: the service (".", not editable) is reinstalled from
    the working tree anyway, without its dependencies, and the seeded bug fails the run."""
    project = make_service_project(tmp_path / "team", f"-e {ROOT}")
    session = ("-s", "mission_critical(mode='minimal')")
    first = nox_in(project, *session)
    output = first.stdout + first.stderr
    assert first.returncode == 0, output
    assert "gate: PASSED" in output

    seed_bug(project)
    reused = nox_in(project, "-R", *session)
    output = reused.stdout + reused.stderr
    assert reused.returncode != 0, output
    assert "reinstalling . from the working tree" in output
    assert "test_the_service_greets_every_connection [minimal]: failed" in output
    assert "gate: FAILED" in output
    code = ledger(project, "minimal")["code"]
    assert isinstance(code, dict)
    assert (code["project"], code["version"], code["editable"]) == ("greeter", "1.0.0", False)
    assert code["stale_install"] is None
