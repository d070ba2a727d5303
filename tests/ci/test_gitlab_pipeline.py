"""The GitLab CI pipeline `init --ci gitlab` writes: valid offline, its gate needing exactly the
matrix's cells, and run locally job by job as GitLab would run it.

The local pipeline runs each cell job's script in a team's project (a two-test suite, minimal
mode split in two shards; docker_local and staging_fallback absent, as on a runner without
Docker or staging variables), keeps each job's ``artifacts: paths`` as GitLab does (also when the
job failed: ``when: always``), starts the gate job from a clean checkout with the artifacts of
the jobs it needs, and runs its script. ``before_script`` (installing nox and the harness) is the
one step replaced: this interpreter has both.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from test_framework.ci import matrix, renderers
from test_framework.ci.cell import Cell
from test_framework.scaffold import command, templates
from tests.support import gitlab_pipeline
from tests.support.nox_project import SUITE, make_team_project, nox_in
from tests.support.projects import run_init, team_repository
from tests.support.workflow_linters import GITLAB_CI, check_schema

PIPELINE_ID = "4242"
SHARDS = "minimal=2"
CELL_JOB = renderers.GITLAB_CELL_JOB
GATE_JOB = renderers.GITLAB_GATE_JOB
WRITTEN = (".gitlab-ci.yml", renderers.GITLAB_TEMPLATES_FILE, renderers.GITLAB_MATRIX_FILE)


init = run_init


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return team_repository(tmp_path)


def cell_names(config: dict[str, Any]) -> list[str]:
    return list(gitlab_pipeline.expand(CELL_JOB, gitlab_pipeline.jobs(config)[CELL_JOB]))


def expected_names(cells: list[Cell]) -> list[str]:
    return [f"{CELL_JOB}: [{c.session}, {c.mode}, {c.shard}/{c.of}]" for c in cells]


# -- offline ---------------------------------------------------------------------------------


@pytest.mark.parametrize("shards", ["1", "minimal=3", "2,docker_local=3"])
def test_init_ci_gitlab_writes_files_that_pass_gitlabs_schema_merged_and_alone(
    repo: Path, tmp_path: Path, shards: str
) -> None:
    done = init(repo, "--ci", "gitlab", "--shards", shards)
    assert done.returncode == 0, done.stderr
    for name in WRITTEN:
        assert f"wrote {name}" in done.stdout
        alone = check_schema(repo / name, GITLAB_CI)
        assert alone.returncode == 0, alone.stdout + alone.stderr
    assert not (repo / ".github").exists()
    # The schema skips hidden jobs (.mission-critical-cell): the jobs as GitLab runs them.
    merged = gitlab_pipeline.write_merged(repo, tmp_path / "merged.json")
    checked = check_schema(merged, GITLAB_CI)
    assert checked.returncode == 0, checked.stdout + checked.stderr


@pytest.mark.parametrize("shards", ["1", "minimal=3", "2,docker_local=3"])
def test_the_gate_job_needs_exactly_the_cells_of_the_matrix(repo: Path, shards: str) -> None:
    assert init(repo, "--ci", "gitlab", "--shards", shards).returncode == 0
    config = gitlab_pipeline.load(repo)
    gate = gitlab_pipeline.jobs(config)[GATE_JOB]
    default, per_mode = matrix.parse_shards(shards)
    cells = matrix.build(matrix.harness_sessions(), default, per_mode)

    assert cell_names(config) == expected_names(cells)
    assert gitlab_pipeline.needed(gate) == expected_names(cells)
    assert all(need["artifacts"] is True for need in gate["needs"])
    assert gate["when"] == "always"
    assert gate["variables"]["MC_CELLS"].split() == [c.label for c in cells]
    cell = gitlab_pipeline.jobs(config)[CELL_JOB]
    assert cell["artifacts"]["when"] == "always"
    assert cell["variables"]["MC_INVOCATION_ID"] == "$CI_PIPELINE_ID"
    assert gate["variables"]["MC_INVOCATION_ID"] == "$CI_PIPELINE_ID"
    assert '--invocation "$MC_INVOCATION_ID"' in " ".join(gate["script"])


def test_a_new_shard_count_from_ci_matrix_moves_the_gitlab_cells_and_the_github_ones_alike(
    tmp_path: Path,
) -> None:
    """Changing the shards is rewriting the matrix file from `nox -l --json`: GitLab's cells,
    its gate's needs and GitHub's include list follow together."""
    team = make_team_project(tmp_path / "team")
    planned = plan_gitlab(SHARDS)
    for item in planned:
        (team / item.path).parent.mkdir(parents=True, exist_ok=True)
        (team / item.path).write_text(item.text)
    for shards, count in (("minimal=3", 3), ("4", 4)):
        gitlab = nox_in(team, "-s", "ci_matrix", "--", "--format", "gitlab", "--shards", shards)
        assert gitlab.returncode == 0, gitlab.stderr
        (team / renderers.GITLAB_MATRIX_FILE).write_text(gitlab.stdout)
        github = nox_in(team, "-s", "ci_matrix", "--", "--shards", shards)
        assert github.returncode == 0, github.stderr
        include = json.loads(github.stdout)["include"]

        config = gitlab_pipeline.load(team)
        gate = gitlab_pipeline.jobs(config)[GATE_JOB]
        from_github = [
            f"{CELL_JOB}: [{c['session']}, {c['mode']}, {c['shard']}/{c['shards']}]"
            for c in include
        ]
        assert cell_names(config) == gitlab_pipeline.needed(gate) == from_github
        assert sum(1 for c in include if c["mode"] == "minimal") == count
        assert gate["variables"]["MC_MATRIX_SHARDS"] == shards


def test_init_beside_an_existing_gitlab_ci_prints_the_include_and_writes_the_rest(
    repo: Path,
) -> None:
    ours = "stages: [build, test]\n\nbuild:\n  stage: build\n  script: [make]\n"
    (repo / ".gitlab-ci.yml").write_text(ours)
    done = init(repo, "--ci", "gitlab", "--ci", "github")
    assert done.returncode == 0, done.stderr
    assert (repo / ".gitlab-ci.yml").read_text() == ours
    assert (
        "exists, not written: .gitlab-ci.yml\n  add these lines to it:\n"
        "    include:\n      - local: .gitlab/mission-critical.yml\n"
    ) in done.stdout
    for name in (*WRITTEN[1:], ".github/workflows/mission-critical.yml"):
        assert (repo / name).is_file(), name
    # Once the include is added, the team's jobs and the harness's make one valid pipeline.
    with (repo / ".gitlab-ci.yml").open("a") as handle:
        handle.write("\n" + "\n".join(templates.GITLAB_INCLUDE_LINES) + "\n")
    config = gitlab_pipeline.load(repo)
    assert {"build", CELL_JOB, GATE_JOB} <= set(gitlab_pipeline.jobs(config))
    merged = gitlab_pipeline.write_merged(repo, repo / "merged.json")
    assert check_schema(merged, GITLAB_CI).returncode == 0


# -- the pipeline, run locally ---------------------------------------------------------------


def plan_gitlab(shards: str) -> list[command.Planned]:
    p = argparse.ArgumentParser()
    command.add_arguments(p)
    args = p.parse_args(["--ci", "gitlab", "--shards", shards, "--harness", "harness"])
    return command.plan_ci(command.answers_from(args), args.ci, args.shards)


def _expand(value: str, env: dict[str, str]) -> str:
    """GitLab's expansion of $NAME and ${NAME} in a variable's value."""
    return re.sub(r"\$\{?(\w+)\}?", lambda m: env.get(m.group(1), ""), value)


@dataclass
class Pipeline:
    """The team's project with the GitLab files, and each job's kept artifacts."""

    root: Path
    store: Path
    config: dict[str, Any]

    def environment(
        self, job: dict[str, Any], extra: dict[str, str], pipeline: str
    ) -> dict[str, str]:
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("STAGING_", "MC_", "PYTEST_", "NOX_", "CI"))
            and key not in {"TEST_MODE", "USE_STAGING_FALLBACK", "VIRTUAL_ENV"}
        }
        env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
        env["DOCKER_HOST"] = "unix:///nonexistent.sock"  # a runner without Docker
        # The sessions' environments made with uv (a runner with `nox[uv]`), to keep this fast;
        # the jobs' commands are the same.
        env["NOX_DEFAULT_VENV_BACKEND"] = "uv"
        env.update({"CI": "true", "GITLAB_CI": "true", "CI_PIPELINE_ID": pipeline})
        for name, value in {**job.get("variables", {}), **extra}.items():
            env[name] = _expand(str(value), env)
        return env

    def run_job(
        self, name: str, job: dict[str, Any], extra: dict[str, str], pipeline: str = PIPELINE_ID
    ) -> subprocess.CompletedProcess[str]:
        script = "\n".join(["set -e", *job["script"]])
        done = subprocess.run(
            ["bash", "-c", script],
            cwd=self.root,
            env=self.environment(job, extra, pipeline),
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        kept = self.store / name
        shutil.rmtree(kept, ignore_errors=True)
        kept.mkdir(parents=True)
        for path in job["artifacts"]["paths"]:
            source = self.root / path
            if source.exists():
                shutil.copytree(source, kept / path, dirs_exist_ok=True)
                shutil.rmtree(source)  # the next job starts from a clean checkout
        return done

    def run_cells(self, pipeline: str = PIPELINE_ID, only: str = "") -> dict[str, int]:
        cell = gitlab_pipeline.jobs(self.config)[CELL_JOB]
        statuses = {}
        for name, variables in gitlab_pipeline.expand(CELL_JOB, cell).items():
            if only in name:
                done = self.run_job(name, cell, variables, pipeline)
                assert done.returncode == 0, done.stdout + done.stderr
                statuses[name] = done.returncode
        return statuses

    def run_gate(self, missing: str = "") -> subprocess.CompletedProcess[str]:
        gate = gitlab_pipeline.jobs(self.config)[GATE_JOB]
        for leftover in ("ledgers", "gate-report"):
            shutil.rmtree(self.root / leftover, ignore_errors=True)
        for name in gitlab_pipeline.needed(gate):
            if missing and missing in name:
                continue
            shutil.copytree(self.store / name, self.root, dirs_exist_ok=True)
        done = subprocess.run(
            ["bash", "-c", "\n".join(["set -e", *gate["script"]])],
            cwd=self.root,
            env=self.environment(gate, {}, PIPELINE_ID),
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        return done


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> Pipeline:
    root = make_team_project(tmp_path_factory.mktemp("gitlab") / "team")
    second = SUITE.replace("test_a_ping_is_answered", "test_another_ping_is_answered")
    (root / "checks" / "critical" / "test_team_more.py").write_text(second, "utf-8")
    for item in plan_gitlab(SHARDS):
        (root / item.path).parent.mkdir(parents=True, exist_ok=True)
        (root / item.path).write_text(item.text, "utf-8")
    found = Pipeline(root, tmp_path_factory.mktemp("artifacts"), gitlab_pipeline.load(root))
    found.run_cells()
    return found


def cell_of(mode: str, shard: str) -> str:
    return f"{CELL_JOB}: [mission_critical(mode='{mode}'), {mode}, {shard}]"


def test_every_cell_keeps_its_ledger_under_its_own_folder_with_the_pipelines_id(
    pipeline: Pipeline,
) -> None:
    for name, folder, ledger_name in (
        (cell_of("minimal", "1/2"), "minimal-1-of-2", "ledger-shard-1-of-2.json"),
        (cell_of("minimal", "2/2"), "minimal-2-of-2", "ledger-shard-2-of-2.json"),
        (cell_of("staging_fallback", "1/1"), "staging_fallback-1-of-1", "ledger.json"),
        (cell_of("docker_local", "1/1"), "docker_local-1-of-1", "ledger.json"),
    ):
        mode = folder.rsplit("-", 3)[0]
        path = pipeline.store / name / "ledgers" / folder / mode / ledger_name
        data = json.loads(path.read_text())
        assert data["invocation"] == PIPELINE_ID, path
        assert data["status"] == ("ran" if mode == "minimal" else "skipped"), path


def test_the_gate_job_over_all_the_cells_passes_and_finds_the_matrix_current(
    pipeline: Pipeline,
) -> None:
    done = pipeline.run_gate()
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "gate: PASSED" in output
    assert "ran in at least one mode: 2, ran nowhere: 0" in output
    assert f"{renderers.GITLAB_MATRIX_FILE} is the matrix of `nox -l --json`" in output
    assert (pipeline.root / "gate-report" / "index.html").is_file()


@pytest.mark.parametrize(
    ("missing", "rules"),
    [
        (cell_of("minimal", "2/2"), ("SHARDS DISAGREE", "MISSING LEDGER")),
        (cell_of("staging_fallback", "1/1"), ("MISSING LEDGER",)),
    ],
)
def test_a_cell_whose_artifacts_are_missing_fails_the_gate_job(
    pipeline: Pipeline, missing: str, rules: tuple[str, ...]
) -> None:
    done = pipeline.run_gate(missing=missing)
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    assert "gate: FAILED" in output
    for rule in rules:
        assert re.search(rf"^\s*{rule}\b", output, re.MULTILINE), (rule, output)


def test_a_cell_of_another_pipeline_fails_the_gate_job_as_stale(pipeline: Pipeline) -> None:
    staging = cell_of("staging_fallback", "1/1")
    kept = pipeline.store / staging
    saved = pipeline.store.parent / "saved-staging"
    shutil.copytree(kept, saved, dirs_exist_ok=True)
    try:
        pipeline.run_cells(pipeline="9999", only=staging)
        done = pipeline.run_gate()
    finally:
        shutil.rmtree(kept)
        shutil.copytree(saved, kept)
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    assert re.search(r"^\s*STALE LEDGER\b", output, re.MULTILINE), output
    assert "invocation 9999" in output


def test_a_hand_edited_matrix_fails_the_gate_job_naming_the_command_that_rewrites_it(
    pipeline: Pipeline,
) -> None:
    path = pipeline.root / renderers.GITLAB_MATRIX_FILE
    text = path.read_text()
    path.write_text(text.replace("# The mission-critical matrix", "# Our matrix"))
    try:
        done = pipeline.run_gate()
    finally:
        path.write_text(text)
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    assert "gate: PASSED" in output
    assert f"{renderers.GITLAB_MATRIX_FILE} is stale" in output
    assert f"nox -s ci_matrix -- --format gitlab --shards {SHARDS} >" in output
