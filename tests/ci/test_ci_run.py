""".ci/run, the CI job, run for real in a copy of the project whose README commands and set-up
scripts only record what they were called with and in which order."""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path
from subprocess import CompletedProcess

from tests.support.environment import run_captured

ROOT = Path(__file__).resolve().parents[2]
RECORD = (
    'echo "{name} DOCKER_HOST=${{DOCKER_HOST-unset}} CI=${{CI-unset}}'
    ' REQUIRED=${{MC_REQUIRED_MODES-unset}}" >> "$CI_RUN_LOG"'
)
README = f"""# project

<!-- main-command -->
```sh
{RECORD.format(name="main")}
```

<!-- test-command -->
```sh
{RECORD.format(name="tests")}
```
"""


def executable(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, "utf-8")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


def run_ci(tmp_path: Path, **extra: str) -> tuple[Path, Path, CompletedProcess[str]]:
    """.ci/run in a stub project; returns the project, the log of calls, and the run."""
    project = tmp_path / "project"
    (project / ".ci").mkdir(parents=True)
    shutil.copy(ROOT / ".ci" / "run", project / ".ci" / "run")
    (project / "README.md").write_text(README, "utf-8")
    for script in ("setup-docker", "setup-staging"):
        executable(project / ".ci" / f"{script}.sh", f'echo {script} >> "$CI_RUN_LOG"\n')
    # The loopback staging deployment: `up --dir DIR` writes DIR/env, `down` does nothing.
    executable(
        project / ".nox" / "tests" / "bin" / "python",
        '#!/bin/sh\n[ "$3" = up ] && : > "$5/env"\n'
        '[ "$2" = test_framework ] && echo "python $*" >> "$CI_RUN_LOG"\nexit 0\n',
    )
    # The nox the main command installed, which runs the two nightly sessions last.
    executable(project / ".venv" / "bin" / "nox", '#!/bin/sh\necho "nox $*" >> "$CI_RUN_LOG"\n')
    tools = tmp_path / "bin"
    executable(tools / "chromium", "#!/bin/sh\nexit 0\n")  # so the job installs nothing
    log = tmp_path / "calls.log"
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DOCKER_HOST", "MC_REQUIRED_MODES", "CI")
    }
    env.update(
        CI_RUN_LOG=str(log),
        CI="true",
        MC_REQUIRED_MODES="minimal",
        PATH=f"{tools}{os.pathsep}{env.get('PATH', '')}",
        **extra,
    )
    done = run_captured(["bash", str(project / ".ci" / "run")], env=env, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    return project, log, done


def test_ci_runs_the_tests_without_docker_then_sets_docker_up_and_runs_the_nightly_sessions_last(
    tmp_path: Path,
) -> None:
    _, log, done = run_ci(tmp_path)
    everything = "DOCKER_HOST=unset CI=true REQUIRED=minimal,docker_local,staging_fallback"
    assert log.read_text("utf-8").splitlines() == [
        # A user's machine: no daemon reachable, no CI or required-mode rule to fail a skip.
        "tests DOCKER_HOST=unix:///nonexistent.sock CI=unset REQUIRED=unset",
        # The committed baseline still lists the suite's mission-critical tests.
        "python -m test_framework baseline --check",
        "setup-docker",
        "setup-staging",
        f"tests {everything}",
        f"main {everything}",
        "nox -s resilience tests_lowest -- -n 2",
    ]
    assert "the project's tests without Docker" in done.stdout
    assert done.stdout.index("without Docker") < done.stdout.index("docker engine, Compose v2")


def test_ci_leaves_the_nightly_sessions_out_and_says_so_when_they_would_start_too_late(
    tmp_path: Path,
) -> None:
    _, log, done = run_ci(tmp_path, CI_NIGHTLY_LATEST_START_S="-1")
    assert "nox -s resilience tests_lowest -- -n 2" not in log.read_text("utf-8")
    assert "nightly sessions NOT run:" in done.stdout
    assert "past their latest start (-1s)" in done.stdout
