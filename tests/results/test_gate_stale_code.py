"""The gate's STALE CODE rule: a ledger records the code it tested (the checkout's git commit and
the digest of its uncommitted changes, and the project's installed copy), and the gate fails it
when that is not the code of the checkout the gate runs in."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from test_framework.results import gate
from test_framework.results.code import CodeRecord, fingerprint, record
from test_framework.results.ledger import ledger_path, write_ledger
from tests.support.environment import isolated_environment, run_captured
from tests.support.ledger_samples import ledger
from tests.support.ledger_samples import record as sample_record
from tests.support.projects import install_copy

ROOT = Path(__file__).resolve().parents[2]


def git(folder: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "user.name=mc", "-c", "user.email=mc@example.invalid", *args],
        cwd=folder,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def checkout(folder: Path) -> Path:
    """A git checkout with one committed module and an ignored report folder."""
    folder.mkdir(parents=True)
    (folder / "service.py").write_text("ANSWER = 42\n")
    (folder / ".gitignore").write_text("reports/\n")
    git(folder, "init", "-q")
    git(folder, "add", "-A")
    git(folder, "commit", "-q", "-m", "first")
    return folder


def write_run(reports: Path, code: CodeRecord) -> None:
    led = dataclasses.replace(ledger("minimal", [sample_record("t")]), code=code)
    write_ledger(led, ledger_path(reports, "minimal"))


def gate_in(
    folder: Path, reports: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> tuple[int, str]:
    monkeypatch.chdir(folder)
    monkeypatch.delenv("MC_REQUIRED_MODES", raising=False)
    status = gate.main([str(reports / "minimal")])
    return status, capsys.readouterr().out


def test_rule_stale_code_passes_a_ledger_of_the_working_tree_and_fails_it_once_a_file_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = checkout(tmp_path / "repo")
    reports = repo / "reports"
    write_run(reports, record(repo, check_install=True))

    status, out = gate_in(repo, reports, monkeypatch, capsys)
    assert status == 0, out
    assert "gate: PASSED" in out

    (repo / "service.py").write_text("ANSWER = 41\n")
    status, out = gate_in(repo, reports, monkeypatch, capsys)
    assert status == 1, out
    commit = git(repo, "rev-parse", "HEAD")
    assert (
        f"STALE CODE: minimal ({reports / 'minimal' / 'ledger.json'}): it tested git:{commit},"
        in out
    )
    assert f"is git:{commit}+dirty:" in out
    assert "the code changed after the run, or the ledger comes from another checkout" in out

    (repo / "service.py").write_text("ANSWER = 42\n")
    status, out = gate_in(repo, reports, monkeypatch, capsys)
    assert status == 0, out


def test_rule_stale_code_tells_two_different_uncommitted_changes_apart(tmp_path: Path) -> None:
    repo = checkout(tmp_path / "repo")
    clean = fingerprint(repo)
    (repo / "service.py").write_text("ANSWER = 41\n")
    one = fingerprint(repo)
    (repo / "service.py").write_text("ANSWER = 40\n")
    other = fingerprint(repo)
    assert clean.source == f"git:{git(repo, 'rev-parse', 'HEAD')}"
    assert len({clean.source, one.source, other.source}) == 3
    # Untracked files (reports, a CI job's artifacts) are not the code.
    (repo / "reports").mkdir()
    (repo / "reports" / "ledger.json").write_text("{}")
    (repo / "notes.txt").write_text("untracked")
    assert fingerprint(repo).source == other.source


def test_rule_stale_code_fails_a_ledger_written_from_another_checkout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    here = checkout(tmp_path / "here")
    there = tmp_path / "there"
    git(tmp_path, "clone", "-q", str(here), str(there))
    (there / "service.py").write_text("ANSWER = 43\n")
    git(there, "commit", "-q", "-am", "elsewhere")
    reports = here / "reports"
    write_run(reports, record(there, check_install=True))

    status, out = gate_in(here, reports, monkeypatch, capsys)
    assert status == 1, out
    assert f"it tested git:{git(there, 'rev-parse', 'HEAD')} in {there}," in out
    assert f"but the working tree here ({here}) is git:{git(here, 'rev-parse', 'HEAD')}:" in out


def test_rule_stale_code_fails_a_minimal_run_against_an_installed_copy_that_is_not_the_tree(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A real non-editable install (into a folder of its own), then a change to the tree."""
    repo = checkout(tmp_path / "repo")
    package = repo / "src" / "tinypkg"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("ANSWER = 42\n")
    (repo / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools>=69"]\nbuild-backend = "setuptools.build_meta"\n'
        '\n[project]\nname = "tinypkg"\nversion = "1.2.3"\n'
    )
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "a package")
    site = tmp_path / "site"
    install_copy(repo, site)
    (package / "__init__.py").write_text("ANSWER = 41\n")  # the bug, after the install
    git(repo, "commit", "-q", "-am", "a bug")
    script = (
        "import json, sys; from pathlib import Path;"
        " from test_framework.results.code import record;"
        " print(json.dumps(record(Path(sys.argv[1]), check_install=True).to_json()))"
    )
    done = run_captured(
        [sys.executable, "-c", script, str(repo)],
        cwd=tmp_path,
        env=isolated_environment({"PYTHONPATH": f"{site}{os.pathsep}{ROOT}"}),
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    code = CodeRecord.from_json(json.loads(done.stdout))
    assert (code.project, code.version, code.editable) == ("tinypkg", "1.2.3", False)
    assert (
        code.stale_install
        == "its installed copy differs from the working tree in tinypkg/__init__.py"
    )

    reports = repo / "reports"
    write_run(reports, code)
    status, out = gate_in(repo, reports, monkeypatch, capsys)
    assert status == 1, out
    assert "STALE CODE: minimal (" in out
    assert (
        "the suite ran against tinypkg 1.2.3 as installed in its environment, not the"
        " working tree: its installed copy differs from the working tree in tinypkg/__init__.py;"
    ) in out


def test_rule_stale_code_tells_how_to_fix_a_run_against_an_installed_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    reports = tmp_path / "reports"
    stale = "its installed copy differs from the working tree in tinypkg/__init__.py"
    code = CodeRecord(None, None, "not a git checkout", "tinypkg", "1.2.3", False, stale)
    write_run(reports, code)
    status, out = gate_in(tmp_path, reports, monkeypatch, capsys)
    assert status == 1, out
    assert (
        "the suite ran against tinypkg 1.2.3 as installed in its environment, not the working"
        f" tree: {stale}; rerun the mode (the mode sessions reinstall it), or install it editable"
    ) in out


def test_rule_stale_code_names_the_folder_an_install_came_from_when_it_is_not_the_project(
    tmp_path: Path,
) -> None:
    repo = checkout(tmp_path / "repo")
    (repo / "pyproject.toml").write_text('[project]\nname = "mission-critical-harness"\n')
    # This interpreter has the harness installed editable from the checkout these tests run in.
    code = record(repo, check_install=True)
    assert code.project == "mission-critical-harness"
    assert code.stale_install is not None
    assert code.stale_install.startswith("it is installed (")
    assert code.stale_install.endswith(f", not from {repo}")


def test_rule_stale_code_only_warns_where_a_fingerprint_cannot_be_taken(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = checkout(tmp_path / "repo")
    outside = tmp_path / "outside"
    outside.mkdir()
    reports = outside / "reports"
    write_run(reports, record(repo, check_install=False))
    status, out = gate_in(outside, reports, monkeypatch, capsys)
    assert status == 0, out
    assert f"the ledgers' code is not compared with this folder's: {outside} is not in a git" in out

    write_run(reports, record(outside, check_install=False))
    status, out = gate_in(outside, reports, monkeypatch, capsys)
    assert status == 0, out
    assert f"minimal: the code it tested is not known: {outside} is not in a git checkout" in out


def test_rule_stale_code_leaves_alone_a_ledger_that_records_no_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = checkout(tmp_path / "repo")
    reports = repo / "reports"
    write_ledger(ledger("minimal", [sample_record("t")]), ledger_path(reports, "minimal"))
    (repo / "service.py").write_text("ANSWER = 41\n")
    status, out = gate_in(repo, reports, monkeypatch, capsys)
    assert status == 0, out
    assert "STALE CODE" not in out
    assert "warnings" not in out, out
