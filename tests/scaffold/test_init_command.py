"""``python -m test_framework init`` in a team's repository: what it writes, what it never does."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from test_framework.scaffold import templates
from test_framework.settings import load_settings
from tests.support.environment import run_captured
from tests.support.workflow_linters import audit, check_schema

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "chat-service"
WRITTEN = (
    "pyproject.toml",
    "noxfile.py",
    "tests/mission_critical/conftest.py",
    "tests/mission_critical/test_mc_example.py",
    ".github/workflows/mission-critical.yml",
)
CHAT_FLAGS = (
    "--factory",
    "chat_service.testing:start",
    "--compose-file",
    "docker/compose.yml",
    "--compose-service",
    "chat",
    "--container-port",
    "8080",
    "--health-path",
    "/healthz",
    "--auth",
    "bearer",
    "--install",
    ".[test]",
)


def init(repo: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    return run_captured(
        [sys.executable, "-m", "test_framework", "init", *flags], cwd=repo, timeout=60
    )


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A git repository holding a project of its own, with a pyproject.toml."""
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "team-service"\nversion = "1"')
    return tmp_path


def snapshot(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and ".git" not in p.relative_to(folder).parts
    }


def test_a_dry_run_prints_every_file_and_writes_none(repo: Path) -> None:
    before = snapshot(repo)
    done = init(repo, "--dry-run", *CHAT_FLAGS)
    assert done.returncode == 0, done.stderr
    assert snapshot(repo) == before
    assert "would append to pyproject.toml:" in done.stdout
    for name in WRITTEN[1:]:
        assert f"would write {name}:" in done.stdout
    assert '  | factory = "chat_service.testing:start"' in done.stdout


def test_init_appends_a_section_that_loads_as_the_settings_it_was_given(repo: Path) -> None:
    done = init(repo, *CHAT_FLAGS, "--ready-message", "hello", "--ws-path", "/chat")
    assert done.returncode == 0, done.stderr
    for name in WRITTEN:
        assert (repo / name).is_file(), name
    text = (repo / "pyproject.toml").read_text()
    assert text.startswith(
        '[project]\nname = "team-service"\nversion = "1"\n\n[tool.test_framework]\n'
    )
    settings = load_settings(repo, environ={})
    assert settings.suite == "tests/mission_critical"
    assert settings.install == (".[test]",)
    service = settings.service
    assert (service.factory, service.compose_file, service.compose_service) == (
        "chat_service.testing:start",
        "docker/compose.yml",
        "chat",
    )
    assert (service.container_port, service.ws_path) == (8080, "/chat")
    assert service.health_path == "/healthz"
    assert (service.auth, service.ready_message) == ("bearer", "hello")


def test_the_noxfile_is_the_harness_helper_and_nothing_else(repo: Path) -> None:
    assert init(repo).returncode == 0
    code = (repo / "noxfile.py").read_text()
    assert "from test_framework.runners.nox_sessions import define_sessions" in code
    assert code.rstrip().endswith("define_sessions()")
    compile(code, "noxfile.py", "exec")


def test_init_never_overwrites_a_file_and_still_writes_the_others(repo: Path) -> None:
    (repo / "noxfile.py").write_text("# ours\n")
    suite = repo / "tests" / "mission_critical"
    suite.mkdir(parents=True)
    (suite / "conftest.py").write_text("# our fixtures\n")
    done = init(repo)
    assert done.returncode == 0, done.stderr
    assert (repo / "noxfile.py").read_text() == "# ours\n"
    assert (suite / "conftest.py").read_text() == "# our fixtures\n"
    assert "exists, not written: noxfile.py" in done.stdout
    assert "exists, not written: tests/mission_critical/conftest.py" in done.stdout
    for line in templates.NOXFILE_LINES:
        assert line in done.stdout
    assert (suite / "test_mc_example.py").is_file()
    assert (repo / ".github/workflows/mission-critical.yml").is_file()


def test_a_second_run_refuses_in_one_line_and_changes_nothing(repo: Path) -> None:
    assert init(repo).returncode == 0
    before = snapshot(repo)
    done = init(repo, "--factory", "other:start")
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0
    assert "already has [tool.test_framework]" in done.stderr
    assert snapshot(repo) == before


def test_a_bad_flag_is_refused_before_anything_is_written(repo: Path) -> None:
    before = snapshot(repo)
    done = init(repo, "--auth", "password")
    assert done.returncode == 2
    assert "auth = 'password' is unknown" in done.stderr
    assert snapshot(repo) == before


def test_without_a_pyproject_init_writes_a_new_one(tmp_path: Path) -> None:
    done = init(tmp_path, "--suite", "tests/mc", "--install", "-e .", "--install", "pytest-cov")
    assert done.returncode == 0, done.stderr
    settings = load_settings(tmp_path, environ={})
    assert (settings.suite, settings.install) == ("tests/mc", ("-e .", "pytest-cov"))
    assert (tmp_path / "tests/mc/test_mc_example.py").is_file()


def test_the_written_workflow_passes_githubs_schema_and_zizmor(repo: Path) -> None:
    assert init(repo, *CHAT_FLAGS).returncode == 0
    workflow = repo / ".github/workflows/mission-critical.yml"
    schema = check_schema(workflow)
    assert schema.returncode == 0, schema.stdout + schema.stderr
    audited = audit(workflow)
    assert audited.returncode == 0, audited.stdout + audited.stderr
    assert "No findings to report" in audited.stdout


def test_the_written_workflow_pins_the_same_actions_and_nox_as_the_harnesss_own() -> None:
    ours = (ROOT / ".github/workflows/mission-critical.yml").read_text()
    for pin in (templates.CHECKOUT, templates.SETUP_PYTHON, templates.UPLOAD, templates.DOWNLOAD):
        assert f"uses: {pin}\n" in ours, pin
    assert re.search(rf'NOX_VERSION: "{re.escape(templates.NOX_VERSION)}"', ours)


def test_the_example_test_passes_in_minimal_mode_against_a_service_that_is_not_ours(
    repo: Path,
) -> None:
    assert init(repo, *CHAT_FLAGS).returncode == 0
    env = {
        **os.environ,
        "PYTHONPATH": str(EXAMPLE),
        "TEST_MODE": "minimal",
        "MC_REPORT_DIR": str(repo / "reports"),
    }
    done = run_captured(
        [sys.executable, "-m", "pytest", "tests/mission_critical", "-p", "no:cacheprovider"],
        cwd=repo,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout


def test_a_repository_with_no_python_package_gets_a_command_service_and_the_harness_to_install(
    tmp_path: Path,
) -> None:
    # A Node-style repository: a package.json, a folder of Python tests, no Python package.
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / "package.json").write_text('{"name": "chat", "scripts": {"start": "node ."}}')
    (tmp_path / "service").mkdir()
    (tmp_path / "tests" / "mission_critical").mkdir(parents=True)
    (tmp_path / "tests" / "mission_critical" / "requirements.txt").write_text("PyJWT\n")
    flags = ["--command", f"{sys.executable} -m chat_service", "--command-cwd", "service"]
    flags += ["--command-env", "CHAT_PORT={port}", "--command-env", "MC_TEST_TOKEN={test_token}"]
    flags += ["--health-path", "/healthz", "--auth", "bearer", "--harness", "harness==1.0"]
    done = init(tmp_path, *flags)
    assert done.returncode == 0, done.stderr
    service = load_settings(tmp_path, environ={}).service
    assert service.command == (sys.executable, "-m", "chat_service")
    assert service.command_env == (("CHAT_PORT", "{port}"), ("MC_TEST_TOKEN", "{test_token}"))
    assert service.command_cwd == "service"
    assert load_settings(tmp_path, environ={}).install == (
        "harness==1.0",
        "-r tests/mission_critical/requirements.txt",
    )
    # The example test init wrote passes against the command it was given.
    env = {**os.environ, "PYTHONPATH": f"{EXAMPLE}{os.pathsep}{ROOT}", "TEST_MODE": "minimal"}
    done = run_captured(
        [sys.executable, "-m", "pytest", "tests/mission_critical", "-p", "no:cacheprovider"],
        cwd=tmp_path,
        env={**env, "MC_REPORT_DIR": str(tmp_path / "reports")},
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout


def test_an_asgi_app_flag_writes_the_asgi_kind(repo: Path) -> None:
    done = init(repo, "--asgi-app", "team.main:app", "--command-env", "TOKEN={test_token}")
    assert done.returncode == 0, done.stderr
    service = load_settings(repo, environ={}).service
    assert (service.asgi_app, service.command_env) == (
        "team.main:app",
        (("TOKEN", "{test_token}"),),
    )
    assert load_settings(repo, environ={}).install == ("-e .",)  # the repository's own package


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--command-env", "PORT"], "--command-env 'PORT' is not KEY=VALUE"),
        (["--command", "node s.js --port {prot}"], "unknown placeholder {prot}"),
        (["--command", "node s.js", "--asgi-app", "m:app"], "sets command and asgi_app"),
    ],
)
def test_a_bad_service_flag_is_refused_in_one_line(
    repo: Path, flags: list[str], message: str
) -> None:
    before = snapshot(repo)
    done = init(repo, *flags)
    assert done.returncode == 2, done.stderr
    assert message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert snapshot(repo) == before
