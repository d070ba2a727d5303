"""``python -m test_framework init``: adopt the harness in an existing repository.

Writes the ``[tool.test_framework]`` section (appended to ``pyproject.toml``, or a new one), a
``noxfile.py``, ``<suite>/conftest.py`` with one example test, and the GitHub Actions workflow.
It never overwrites a file: one that exists is listed as "exists, not written" (for
``noxfile.py``, with the lines to add to it) and the others are still written. A
``pyproject.toml`` that already has ``[tool.test_framework]`` is refused before anything is
written. Exit status 0 when it wrote (or, with ``--dry-run``, would write) the section; 2 when it
refused. Standard library only: it runs wherever the harness is installed.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import tomllib
from dataclasses import dataclass
from pathlib import Path

from test_framework.errors import ConfigError
from test_framework.scaffold import templates
from test_framework.service import parse_service
from test_framework.settings_table import INSTALL, SUITE

DISTRIBUTION = "mission-critical-harness"
WORKFLOW = Path(".github/workflows/mission-critical.yml")


@dataclass(frozen=True)
class Planned:
    """One file ``init`` writes: its path under the root and its text."""

    path: Path
    text: str
    append: bool = False  # appended to an existing file (pyproject.toml) rather than created


def default_harness() -> str:
    try:
        return f"{DISTRIBUTION}=={importlib.metadata.version(DISTRIBUTION)}"
    except importlib.metadata.PackageNotFoundError:
        # Run from a checkout that is not installed: the name alone, which CI must then resolve.
        return DISTRIBUTION


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--root", type=Path, default=Path(), help="the repository (default: here)")
    p.add_argument("--dry-run", action="store_true", help="print what it would write; write none")
    p.add_argument("--suite", default=SUITE.default, help="the suite's folder")
    p.add_argument(
        "--install",
        action="append",
        metavar="REQUIREMENT",
        help="a requirement line the mode sessions install"
        f' (repeatable; default "{INSTALL.default}")',
    )
    p.add_argument("--factory", default="", help="module:callable that starts it (minimal mode)")
    p.add_argument(
        "--command",
        # Not "command": the command line's own subcommand is args.command.
        dest="service_command",
        default="",
        help="minimal mode: the local command that starts it, e.g. 'node server.js --port {port}'",
    )
    p.add_argument(
        "--command-env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an environment variable for --command or --asgi-app, e.g. PORT={port} (repeatable)",
    )
    p.add_argument(
        "--command-cwd", default="", help="the folder --command runs in (relative to --root)"
    )
    p.add_argument(
        "--asgi-app", default="", help="minimal mode: module:attribute of an ASGI app (uvicorn)"
    )
    p.add_argument("--compose-file", default="", help="its Compose file (docker_local mode)")
    p.add_argument("--compose-service", default="backend", help="the Compose service to test")
    p.add_argument("--container-port", type=int, default=8000, help="its port in the container")
    p.add_argument("--ws-path", default="/ws", help="the WebSocket path")
    p.add_argument("--health-path", default="", help="a GET path answering 2xx (default: none)")
    p.add_argument(
        "--auth",
        default="none",
        help="none, bearer, token_endpoint or module:function (docs/service.md)",
    )
    p.add_argument(
        "--ready-message", default="", help="the type of the first message (default: none)"
    )
    p.add_argument(
        "--harness",
        default=None,
        help=f"the requirement that installs the harness in CI (default: {DISTRIBUTION}==<this>)",
    )


def answers_from(args: argparse.Namespace) -> templates.Answers:
    harness = args.harness or default_harness()
    suite = str(args.suite).strip("/")
    return templates.Answers(
        suite=suite,
        install=tuple(args.install or default_install(args.root, suite, harness)),
        factory=args.factory,
        compose_file=args.compose_file,
        compose_service=args.compose_service,
        container_port=args.container_port,
        ws_path=args.ws_path,
        health_path=args.health_path,
        auth=args.auth,
        ready_message=args.ready_message,
        harness=harness,
        command=args.service_command,
        command_env=tuple(_pair(item) for item in args.command_env),
        command_cwd=args.command_cwd,
        asgi_app=args.asgi_app,
    )


def _pair(item: str) -> tuple[str, str]:
    name, sep, value = item.partition("=")
    if not sep or not name:
        raise ConfigError(f"--command-env {item!r} is not KEY=VALUE: e.g. PORT={{port}}")
    return name, value


def has_python_package(root: Path) -> bool:
    """Whether ``pip install .`` can install the repository: a ``[project]`` table, or a
    ``setup.py``/``setup.cfg``."""
    if (root / "setup.py").is_file() or (root / "setup.cfg").is_file():
        return True
    try:
        data = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        return False
    return "project" in data


def default_install(root: Path, suite: str, harness: str) -> list[str]:
    """``-e .`` for a Python project; in a repository with no Python package (a Node service
    with a folder of Python tests) the harness and the tests' own requirements file, if any."""
    if has_python_package(root):
        return [INSTALL.default]
    install = [harness]
    for requirements in (Path(suite) / "requirements.txt", Path("requirements-test.txt")):
        if (root / requirements).is_file():
            install.append(f"-r {requirements.as_posix()}")
    return install


def plan(root: Path, answers: templates.Answers) -> list[Planned]:
    """The files to write, after checking that the section is new and reads back as settings."""
    pyproject = root / "pyproject.toml"
    existing = pyproject.read_text(encoding="utf-8") if pyproject.exists() else ""
    try:
        tool = tomllib.loads(existing).get("tool", {})
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{pyproject} is not valid TOML ({exc}): fix it, then run init") from None
    if "test_framework" in tool:
        raise ConfigError(
            f"{pyproject} already has [tool.test_framework]: init writes nothing;"
            " edit that section instead"
        )
    section = templates.pyproject_section(answers)
    separator = "" if not existing else ("\n" if existing.endswith("\n") else "\n\n")
    combined = tomllib.loads(existing + separator + section)["tool"]["test_framework"]
    service = combined["service"]
    parse_service(service, Path("--flags"))
    suite = Path(answers.suite)
    if suite.is_absolute() or ".." in suite.parts or not answers.suite:
        raise ConfigError(f"--suite {answers.suite!r} must be a folder inside the repository")
    return [
        Planned(Path("pyproject.toml"), separator + section, append=bool(existing)),
        Planned(Path("noxfile.py"), templates.noxfile()),
        Planned(suite / "conftest.py", templates.conftest()),
        Planned(suite / "test_mc_example.py", templates.example_test()),
        Planned(WORKFLOW, templates.workflow(answers)),
    ]


def run(args: argparse.Namespace) -> int:
    root: Path = args.root.resolve()
    if not root.is_dir():
        raise ConfigError(f"--root {args.root} is not a folder: give the repository's folder")
    for item in plan(root, answers_from(args)):
        target = root / item.path
        if target.exists() and not item.append:
            print(f"exists, not written: {item.path}")
            if item.path == Path("noxfile.py"):
                print("  add these lines to it:")
                for line in templates.NOXFILE_LINES:
                    print(f"    {line}" if line else "")
            continue
        verb = "append to" if item.append else "write"
        if args.dry_run:
            print(f"would {verb} {item.path}:")
            for line in item.text.splitlines():
                print(f"  | {line}")
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        if item.append:
            with target.open("a", encoding="utf-8") as handle:
                handle.write(item.text)
            print(f"appended [tool.test_framework] to {item.path}")
        else:
            target.write_text(item.text, encoding="utf-8")
            print(f"wrote {item.path}")
    if not args.dry_run:
        print("next: nox -s mission_critical   (the harness must be installed next to nox)")
    return 0
