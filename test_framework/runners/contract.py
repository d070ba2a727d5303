"""``python -m test_framework contract``: the shipped contract suite against a team's own service.

The suite is this repository's mission-critical suite, the tests of docs/protocol.md, shipped in
the harness's wheel as ``test_framework/contract`` (from a checkout, as an editable install, it is
the checkout's ``tests/mission_critical``). The command writes a ``[tool.test_framework]`` of its
own into a temporary folder: the ``agent-events`` preset plus what the flags say, so
``--factory`` runs minimal, ``--compose-file`` docker_local and ``--url`` staging_fallback. Then,
per mode, the same pipeline as a nox mode session: clear the mode's ledgers, probe (absent: skip
with the reason; broken: a failure naming the step), run pytest on the suite in a subprocess,
and finally the gate over this run's ledgers, whose exit status is the command's.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import test_framework
from test_framework.errors import ConfigError
from test_framework.given import OPTION
from test_framework.mode_specs import MODE_SPECS, Extra
from test_framework.modes import ALL_MODES, Mode
from test_framework.results import gate
from test_framework.results.ledger import INVOCATION_ENV
from test_framework.runners.decision import Action
from test_framework.runners.extras import DISTRIBUTION
from test_framework.runners.pipeline import gate_argv, new_invocation, prepare_mode, pytest_argv
from test_framework.service import PRESETS
from test_framework.settings import Settings, check_url, load_settings, writable_report_dir
from test_framework.settings_table import (
    ALLOW_SUBSET,
    CODE_ROOT,
    REPORT_DIR,
    STAGING_PASSWORD,
    STAGING_USER,
    STAGING_WS_URL,
)

PRESET = "agent-events"
assert PRESET in PRESETS
FLAGS = "--factory MODULE:CALLABLE, --compose-file FILE or --url WS_URL"
# The suite imports PyJWT: it makes and inspects tokens on the client side.
CONTRACT_EXTRA = Extra("contract", "jwt", "PyJWT")
# A mode whose deployment cannot be controlled (staging) cannot run these tests.
DEPLOYMENT_CONTROL = "deployment_control"


def suite_folder() -> Path:
    """Where the contract suite is: in the installed wheel, or in the checkout the harness runs
    from (an editable install), which keeps the suite where this repository runs it."""
    package = Path(test_framework.__file__).resolve().parent
    places = (package / "contract", package.parent / "tests" / "mission_critical")
    for place in places:
        if (place / "mc_rules.py").is_file():
            return place
    raise ConfigError(
        f"the contract suite is not installed with the harness (looked in"
        f" {', '.join(map(str, places))}): reinstall {DISTRIBUTION}"
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Run the harness's contract suite (the tests of docs/protocol.md) against your own"
        " deployment of the protocol, in the modes the flags imply, then the gate."
    )
    parser.add_argument(
        "--factory",
        metavar="MODULE:CALLABLE",
        help="minimal mode: your in-process factory, importable here",
    )
    parser.add_argument(
        "--compose-file",
        metavar="FILE",
        type=Path,
        help="docker_local mode: your Docker Compose file",
    )
    parser.add_argument(
        "--compose-service",
        default="backend",
        help="docker_local: the service of the compose file that serves (default: backend)",
    )
    parser.add_argument(
        "--container-port",
        type=int,
        default=8000,
        help="docker_local: the port it listens on in its container (default: 8000)",
    )
    parser.add_argument(
        "--url",
        metavar="WS_URL",
        help="staging_fallback mode: your deployment's WebSocket URL (wss:// or ws://), with"
        f" {STAGING_USER.env} and {STAGING_PASSWORD.env} in the environment",
    )
    parser.add_argument(
        "--report-dir",
        type=Path,
        default=Path("reports") / "contract",
        help="ledgers, JUnit XML and index.html (default: reports/contract;"
        f" {REPORT_DIR.env} wins)",
    )
    parser.add_argument(
        "pytest_args",
        nargs=argparse.REMAINDER,
        metavar="-- PYTEST_ARGS",
        help="passed on to pytest, e.g. -- -k handshake",
    )


def run(args: argparse.Namespace) -> int:
    modes = _asked_modes(args)
    _require_extras(modes)
    suite = suite_folder()
    passed_on = args.pytest_args[1:] if args.pytest_args[:1] == ["--"] else args.pytest_args
    environ = dict(os.environ)
    if args.url:
        environ[STAGING_WS_URL.env] = check_url("--url", args.url, ("wss", "ws"), OPTION)
    invocation = new_invocation("contract")
    with tempfile.TemporaryDirectory(prefix="mc-contract-") as scratch:
        root = Path(scratch)
        (root / "pyproject.toml").write_text(_pyproject(args, suite), "utf-8")
        settings = load_settings(root, environ)
        writable_report_dir(settings)
        for mode in modes:
            _run_mode(settings, mode, modes, suite, passed_on, environ, invocation)
        return _gate(settings, modes, invocation)


def _asked_modes(args: argparse.Namespace) -> list[Mode]:
    asked = {
        Mode.DOCKER_LOCAL: args.compose_file is not None,
        Mode.STAGING_FALLBACK: bool(args.url),
        Mode.MINIMAL: bool(args.factory),
    }
    modes = [mode for mode in ALL_MODES if asked[mode]]
    if not modes:
        raise ConfigError(f"say what to test: give {FLAGS} (one or more)")
    if args.compose_file is not None and not args.compose_file.is_file():
        raise ConfigError(
            f"--compose-file {str(args.compose_file)!r} is not a file: give your Compose file"
        )
    if not 0 < args.container_port < 65536:
        raise ConfigError(f"--container-port {args.container_port} is not a port: give 1 to 65535")
    return modes


def _require_extras(modes: Sequence[Mode]) -> None:
    """Refuse before anything runs when this interpreter lacks what the suite or a mode needs:
    a test that cannot import PyJWT would fail as an error, not say what to install."""
    extras = [CONTRACT_EXTRA]
    for mode in modes:
        extra = MODE_SPECS[mode].extra
        if extra is not None and extra not in extras:
            extras.append(extra)
    names = ",".join(extra.name for extra in extras)
    for extra in extras:
        if importlib.util.find_spec(extra.module) is None:
            raise ConfigError(
                f"the contract run needs {extra.what} (the harness's {extra.name!r} extra), which"
                f' {sys.executable} cannot import: pip install "{DISTRIBUTION}[{names}]"'
            )


def _pyproject(args: argparse.Namespace, suite: Path) -> str:
    """The run's settings: the preset, the flags, the report folder; pytest as the suite needs."""
    service: dict[str, str | int] = {"preset": PRESET}
    if args.factory:
        service["factory"] = args.factory
    if args.compose_file is not None:
        service["compose_file"] = str(args.compose_file.resolve())
        service["compose_service"] = args.compose_service
        service["container_port"] = args.container_port
    report_dir = args.report_dir if args.report_dir.is_absolute() else Path.cwd() / args.report_dir
    lines = [
        "[tool.test_framework]",
        f"report_dir = {_toml(str(report_dir))}",
        f"suite = {_toml(str(suite))}",
        "",
        "[tool.test_framework.service]",
        *(f"{key} = {_toml(value)}" for key, value in service.items()),
        "",
        "[tool.pytest.ini_options]",
        # pytest runs in the temporary folder: the current one stays importable (the factory's
        # module may be there), as it is for `python -m`.
        f"pythonpath = [{_toml(str(Path.cwd()))}]",
        'addopts = ["--strict-markers", "-ra"]',
        "xfail_strict = true",
        'asyncio_mode = "auto"',
        'asyncio_default_fixture_loop_scope = "function"',
        'asyncio_default_test_loop_scope = "function"',
    ]
    return "\n".join(lines) + "\n"


def _toml(value: str | int) -> str:
    # A JSON string is a TOML basic string.
    return json.dumps(value)


def _run_mode(
    settings: Settings,
    mode: Mode,
    modes: Sequence[Mode],
    suite: Path,
    passed_on: Sequence[str],
    environ: Mapping[str, str],
    invocation: str,
) -> None:
    decision = prepare_mode(settings, mode, (1, 1), invocation, "contract")
    print(decision.probe_line, flush=True)
    if decision.action is not Action.RUN:
        # Its ledger says why; the gate fails the run for a broken or required mode.
        print(decision.message, flush=True)
        return
    config = ["-c", str(settings.pyproject), "--rootdir", str(settings.root)]
    command = pytest_argv(
        [sys.executable, "-m", "pytest"], settings, mode, str(suite), options=config
    )
    controllable = any(MODE_SPECS[asked].controllable for asked in modes)
    if not controllable:
        print(
            f"staging_fallback alone: the {DEPLOYMENT_CONTROL} tests are left out (staging gives"
            " no control of the deployment); add --factory or --compose-file to run them",
            flush=True,
        )
        command += ["-m", f"not {DEPLOYMENT_CONTROL}"]
    # The code under test is the folder the command runs in (the factory's module is imported
    # from there, or installed from it), not the temporary project: its ledger records that.
    env = {**environ, INVOCATION_ENV: invocation, CODE_ROOT.env: str(Path.cwd())}
    if not controllable:
        # A subset the command chose and said so above: the gate names it, and under CI
        # does not fail it for being one.
        env[ALLOW_SUBSET.env] = "true"
    subprocess.run([*command, *passed_on], cwd=settings.root, env=env, check=False)


def _gate(settings: Settings, modes: Sequence[Mode], invocation: str) -> int:
    required = ",".join(mode.value for mode in settings.required_modes)
    folders = [mode.value for mode in modes]
    words = gate_argv(settings.report_dir, folders, invocation, required=required)
    print(flush=True)
    return gate.run(gate.parser().parse_args(words))
